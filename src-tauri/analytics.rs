//! The analytics dashboard's commands: figures over a date range, and the
//! runs behind a figure. Both read SQLite off the main thread (the first
//! query of a home rolls up every stored span) — or, while a server's
//! workspace is open, ask the server for that workspace's.

use codexos_runtime::{Dashboard, DashboardQuery, RunSummary};
use tauri::State;

use crate::commands::IpcError;
use crate::AppState;

/// Runs, failures, tokens, cost, latency percentiles and fallback rate over
/// a date range, day by day and by a dimension.
#[tauri::command]
#[specta::specta]
pub async fn analytics_dashboard(
    state: State<'_, AppState>,
    query: DashboardQuery,
) -> Result<Dashboard, IpcError> {
    if let Some(remote) = state.remote() {
        return Ok(remote.client.dashboard(&remote.workspace, &query).await?);
    }
    let runtime = state.runtime()?;
    let dashboard = tokio::task::spawn_blocking(move || runtime.dashboard(&query))
        .await
        .map_err(|error| IpcError::internal(&error.to_string()))?;
    Ok(dashboard?)
}

/// The runs behind a figure: those with a span in the range where `by`
/// (`all` or a dimension) is `value`, newest first.
#[tauri::command]
#[specta::specta]
pub async fn analytics_runs(
    state: State<'_, AppState>,
    by: String,
    value: String,
    from: Option<String>,
    to: Option<String>,
) -> Result<Vec<RunSummary>, IpcError> {
    if let Some(remote) = state.remote() {
        let runs = remote
            .client
            .figure_runs(
                &remote.workspace,
                &by,
                &value,
                from.as_deref(),
                to.as_deref(),
            )
            .await?;
        return Ok(runs);
    }
    let runtime = state.runtime()?;
    let runs = tokio::task::spawn_blocking(move || {
        runtime.figure_runs(&by, &value, from.as_deref(), to.as_deref(), 200)
    })
    .await
    .map_err(|error| IpcError::internal(&error.to_string()))?;
    Ok(runs?)
}
