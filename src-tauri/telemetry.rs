//! Settings → Telemetry: the OpenTelemetry endpoints runs are exported to,
//! through the same runtime calls as `codexos otel …`. The app sends runs in
//! the background while it is open (`codexos_runtime::spawn_exporter`).

#![allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use codexos_runtime::{ExportReport, OtlpConfig, OtlpStatus};
use tauri::State;

use crate::commands::IpcError;
use crate::AppState;

/// Every endpoint with what it has been sent, its backlog and last error.
#[tauri::command]
#[specta::specta]
pub fn otlp_status(state: State<'_, AppState>) -> Result<Vec<OtlpStatus>, IpcError> {
    Ok(state.runtime()?.otlp_status()?)
}

/// Adds an endpoint after an empty export answered (unless `unchecked`);
/// `past_runs` sends the runs stored so far too.
#[tauri::command]
#[specta::specta]
pub async fn otlp_add(
    state: State<'_, AppState>,
    endpoint: OtlpConfig,
    past_runs: bool,
    unchecked: bool,
) -> Result<Vec<OtlpStatus>, IpcError> {
    let runtime = state.runtime()?;
    runtime.add_otlp(endpoint, past_runs, unchecked).await?;
    Ok(runtime.otlp_status()?)
}

/// Removes an endpoint (nothing more is sent to it).
#[tauri::command]
#[specta::specta]
pub fn otlp_remove(state: State<'_, AppState>, name: String) -> Result<Vec<OtlpStatus>, IpcError> {
    let runtime = state.runtime()?;
    runtime.remove_otlp(&name)?;
    Ok(runtime.otlp_status()?)
}

/// Sends an empty export to a configured endpoint.
#[tauri::command]
#[specta::specta]
pub async fn otlp_test(state: State<'_, AppState>, name: String) -> Result<(), IpcError> {
    Ok(state.runtime()?.test_otlp_named(&name).await?)
}

/// Sends every waiting run now.
#[tauri::command]
#[specta::specta]
pub async fn otlp_flush(state: State<'_, AppState>) -> Result<Vec<ExportReport>, IpcError> {
    Ok(state.runtime()?.export_runs(None).await?)
}
