//! Commands of Settings → Vault: thin calls into the runtime's vault. Values
//! go to the window only through `vault_reveal`, which the user asks for
//! one secret at a time.
#![expect(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use codexos_runtime::{Error, Rotation, VaultMode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tauri::State;

use crate::commands::IpcError;
use crate::AppState;

/// What Settings → Vault shows (never a value).
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct VaultView {
    /// `keychain` (a random key in the OS keychain) or `passphrase`.
    pub mode: String,
    /// Passphrase mode, not unlocked in this session yet.
    pub locked: bool,
    /// Id of the current master key (changes on every rotation).
    pub key_id: Option<String>,
    /// Secret names, sorted.
    pub secrets: Vec<String>,
}

/// What a rotation did.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct VaultRotated {
    /// Secrets whose data keys were re-wrapped.
    pub resealed: u32,
    /// Id of the new master key.
    pub key_id: String,
    /// Set when the old keychain entry could not be removed.
    pub warning: Option<String>,
}

fn mode_name(mode: VaultMode) -> String {
    match mode {
        VaultMode::Keychain => "keychain".to_owned(),
        VaultMode::Passphrase => "passphrase".to_owned(),
    }
}

/// The vault's mode, lock state and secret names.
#[tauri::command]
#[specta::specta]
pub fn vault_view(state: State<'_, AppState>) -> Result<VaultView, IpcError> {
    let runtime = state.runtime()?;
    let status = runtime.vault().status().map_err(Error::from)?;
    Ok(VaultView {
        mode: mode_name(status.mode),
        locked: status.locked,
        key_id: status.key_id,
        // The store lists them sorted.
        secrets: runtime.secret_names()?,
    })
}

/// Unlocks a passphrase-mode vault for this session.
#[tauri::command]
#[specta::specta]
pub fn vault_unlock(state: State<'_, AppState>, passphrase: String) -> Result<(), IpcError> {
    Ok(state
        .runtime()?
        .vault()
        .unlock(&SecretString::from(passphrase))
        .map_err(Error::from)?)
}

/// Deletes a secret.
#[tauri::command]
#[specta::specta]
pub fn vault_remove(state: State<'_, AppState>, name: String) -> Result<(), IpcError> {
    Ok(state.runtime()?.remove_secret(&name)?)
}

/// One secret's value, for the user who clicked Reveal.
#[tauri::command]
#[specta::specta]
pub fn vault_reveal(state: State<'_, AppState>, name: String) -> Result<String, IpcError> {
    let value = state.runtime()?.secret(&name)?;
    tracing::info!(secret = %name, "a secret was revealed in the app");
    Ok(value.expose_secret().to_owned())
}

/// A new master key: a keychain key, or one derived from `passphrase`.
#[tauri::command]
#[specta::specta]
pub fn vault_rotate(
    state: State<'_, AppState>,
    passphrase: Option<String>,
) -> Result<VaultRotated, IpcError> {
    let to = match passphrase {
        Some(passphrase) => Rotation::Passphrase(SecretString::from(passphrase)),
        None => Rotation::Keychain,
    };
    let report = state.runtime()?.vault().rotate(to).map_err(Error::from)?;
    Ok(VaultRotated {
        resealed: u32::try_from(report.resealed).unwrap_or(u32::MAX),
        key_id: report.key_id,
        warning: report.warning,
    })
}
