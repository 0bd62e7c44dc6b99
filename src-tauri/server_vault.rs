//! Settings → Vault while a server's workspace is open: that workspace's
//! secrets beside this machine's — names listed, values set or removed
//! there, never sent back (not even to reveal).

#![allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use secrecy::{ExposeSecret as _, SecretString};
use tauri::State;

use crate::commands::IpcError;
use crate::AppState;

/// The secret names of the open server workspace's vault; `None` while
/// this machine's home is open.
#[tauri::command]
#[specta::specta]
pub async fn workspace_vault(state: State<'_, AppState>) -> Result<Option<Vec<String>>, IpcError> {
    match state.remote() {
        Some(remote) => Ok(Some(remote.client.secret_names(&remote.workspace).await?)),
        None => Ok(None),
    }
}

/// Stores a secret in the open server workspace's vault.
#[tauri::command]
#[specta::specta]
pub async fn workspace_secret_set(
    state: State<'_, AppState>,
    name: String,
    value: String,
) -> Result<(), IpcError> {
    let remote = crate::server_projects::open(&state)?;
    // Held as a secret until it is sent (never logged).
    let value = SecretString::from(value);
    Ok(remote
        .client
        .set_secret(&remote.workspace, &name, value.expose_secret())
        .await?)
}

/// Removes a secret from the open server workspace's vault.
#[tauri::command]
#[specta::specta]
pub async fn workspace_secret_remove(
    state: State<'_, AppState>,
    name: String,
) -> Result<(), IpcError> {
    let remote = crate::server_projects::open(&state)?;
    Ok(remote
        .client
        .remove_secret(&remote.workspace, &name)
        .await?)
}
