//! Settings → Audit: the append-only, hash-chained log of every change and
//! every secret use, through the same runtime calls as `codexos audit …`.

#![allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use codexos_runtime::audit::{AuditCheck, AuditEntry};
use tauri::State;

use crate::commands::IpcError;
use crate::AppState;

/// The newest entries first: those whose action is `action` or under it,
/// whose target or detail holds `search`; at most `limit`.
#[tauri::command]
#[specta::specta]
pub fn audit_entries(
    state: State<'_, AppState>,
    action: String,
    search: String,
    limit: u32,
) -> Result<Vec<AuditEntry>, IpcError> {
    Ok(state.runtime()?.audit_entries(&action, &search, limit)?)
}

/// Checks every link of the chain (and that `head`, recorded earlier, is
/// still in it) off the main thread: it reads the whole log.
#[tauri::command]
#[specta::specta]
pub async fn audit_verify(
    state: State<'_, AppState>,
    head: Option<String>,
) -> Result<AuditCheck, IpcError> {
    let runtime = state.runtime()?;
    let check = tokio::task::spawn_blocking(move || runtime.audit_verify(head.as_deref()))
        .await
        .map_err(|error| IpcError::internal(&error.to_string()))?;
    Ok(check?)
}
