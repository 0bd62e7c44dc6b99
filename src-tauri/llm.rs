//! Commands of Settings → Providers / Models and the chat panel's model
//! picker: thin calls into the runtime's router and model manager.
#![expect(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use codexos_runtime::models::ModelEntry;
use codexos_runtime::{
    AttemptRecord, Completion, GgufInfo, ProviderConfig, ProviderInfo, PullEvent, Pulled,
};
use secrecy::SecretString;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::{send, IpcError};
use crate::AppState;

/// Everything Settings → Providers / Models shows.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct LlmSettings {
    /// The policy, in order.
    pub providers: Vec<ProviderInfo>,
    /// Whether remote providers are refused.
    pub offline: bool,
    /// Models in the catalog and the models folder.
    pub models: Vec<ModelEntry>,
    /// Names of the secrets in the vault (never their values).
    pub secrets: Vec<String>,
    /// The newest router attempts.
    pub attempts: Vec<AttemptRecord>,
    /// Every `[[providers]]` entry, in the policy or not.
    pub configured: Vec<ProviderConfig>,
}

/// The providers, models, secrets and recent attempts.
#[tauri::command]
#[specta::specta]
pub fn llm_settings(state: State<'_, AppState>) -> Result<LlmSettings, IpcError> {
    let runtime = state.runtime()?;
    Ok(LlmSettings {
        providers: runtime.providers()?,
        offline: runtime.offline(),
        models: runtime.models(),
        secrets: runtime.secret_names()?,
        attempts: runtime.recent_attempts(30)?,
        configured: runtime.configured_providers(),
    })
}

/// Sets the provider order (written to config.toml).
#[tauri::command]
#[specta::specta]
pub fn set_policy(state: State<'_, AppState>, order: Vec<String>) -> Result<(), IpcError> {
    Ok(state.runtime()?.set_policy(order)?)
}

/// Turns offline mode on or off for this session.
#[tauri::command]
#[specta::specta]
pub fn set_offline(state: State<'_, AppState>, offline: bool) -> Result<bool, IpcError> {
    let runtime = state.runtime()?;
    runtime.set_offline(offline);
    Ok(runtime.offline())
}

/// Stores a provider key in the vault (it is never sent back to the window).
#[tauri::command]
#[specta::specta]
pub fn store_secret(
    state: State<'_, AppState>,
    name: String,
    value: String,
) -> Result<(), IpcError> {
    Ok(state
        .runtime()?
        .set_secret(&name, &SecretString::from(value))?)
}

/// Sends one short request to a provider alone.
#[tauri::command]
#[specta::specta]
pub async fn test_provider(
    state: State<'_, AppState>,
    name: String,
) -> Result<Completion, IpcError> {
    let cancel = tokio_util::sync::CancellationToken::new();
    Ok(state.runtime()?.test_provider(&name, &cancel).await?)
}

/// Adds a remote provider (config.toml and the end of the policy); its
/// key, when given, is stored in the vault first under `provider.key`.
#[tauri::command]
#[specta::specta]
pub fn provider_add(
    state: State<'_, AppState>,
    provider: ProviderConfig,
    key_value: Option<String>,
) -> Result<(), IpcError> {
    let key_value = key_value
        .filter(|value| !value.is_empty())
        .map(SecretString::from);
    Ok(state
        .runtime()?
        .add_provider(provider, key_value.as_ref())?)
}

/// Removes a provider from config.toml and the policy (its key stays in the
/// vault).
#[tauri::command]
#[specta::specta]
pub fn provider_remove(state: State<'_, AppState>, name: String) -> Result<(), IpcError> {
    Ok(state.runtime()?.remove_provider(&name)?)
}

/// Downloads a catalog model or a .gguf URL, streaming progress.
#[tauri::command]
#[specta::specta]
pub async fn pull_model(
    state: State<'_, AppState>,
    request_id: String,
    name: String,
    on_event: Channel<PullEvent>,
) -> Result<Pulled, IpcError> {
    let runtime = state.runtime()?;
    let cancel = state.requests.start(&request_id);
    let pulled = runtime
        .pull_model(&name, None, &|event| send(&on_event, event), &cancel)
        .await;
    state.requests.finish(&request_id);
    Ok(pulled?)
}

/// Copies a dropped or chosen .gguf file into the models folder.
#[tauri::command]
#[specta::specta]
pub async fn import_model(state: State<'_, AppState>, path: String) -> Result<GgufInfo, IpcError> {
    let runtime = state.runtime()?;
    let imported =
        tokio::task::spawn_blocking(move || runtime.import_model(path.as_ref(), &|_, _| {}))
            .await
            .map_err(|error| IpcError::internal(&error.to_string()))?;
    Ok(imported?)
}

/// Deletes a model that is not in use.
#[tauri::command]
#[specta::specta]
pub fn remove_model(state: State<'_, AppState>, name: String) -> Result<(), IpcError> {
    state.runtime()?.remove_model(&name)?;
    Ok(())
}
