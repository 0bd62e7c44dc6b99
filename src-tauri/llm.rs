//! Commands of Settings → Providers / Models and the chat panel's model
//! picker: thin calls into the runtime's router and model manager.
#![expect(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use codexos_runtime::{Completion, GgufInfo, LlmSettings, ProviderConfig, PullEvent, Pulled};
use secrecy::SecretString;
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::{send, IpcError};
use crate::AppState;

/// This machine's providers, models, secrets and recent attempts.
#[tauri::command]
#[specta::specta]
pub fn llm_settings(state: State<'_, AppState>) -> Result<LlmSettings, IpcError> {
    Ok(state.runtime()?.llm_settings(true)?)
}

/// The same of the server's workspace open (its secret names when the role
/// may list them). Settings' changes go there while it is open.
#[tauri::command]
#[specta::specta]
pub async fn workspace_llm_settings(state: State<'_, AppState>) -> Result<LlmSettings, IpcError> {
    let remote = crate::server_projects::open(&state)?;
    let mut settings = remote.client.llm_settings(&remote.workspace).await?;
    if let Ok(names) = remote.client.secret_names(&remote.workspace).await {
        settings.secrets = names;
    }
    Ok(settings)
}

/// Sets the provider order (written to config.toml) — the server's
/// workspace's while one is open, as every change below.
#[tauri::command]
#[specta::specta]
pub async fn set_policy(state: State<'_, AppState>, order: Vec<String>) -> Result<(), IpcError> {
    if let Some(remote) = state.remote() {
        return Ok(remote.client.set_policy(&remote.workspace, &order).await?);
    }
    Ok(state.runtime()?.set_policy(order)?)
}

/// Turns offline mode on or off for this session.
#[tauri::command]
#[specta::specta]
pub fn set_offline(state: State<'_, AppState>, offline: bool) -> Result<bool, IpcError> {
    if state.remote().is_some() {
        return Err(crate::remote::only_here(
            "Offline mode (a server's is `offline = true` in its config.toml)",
        ));
    }
    let runtime = state.runtime()?;
    runtime.set_offline(offline);
    Ok(runtime.offline())
}

/// Stores a provider key in the vault (it is never sent back to the window).
#[tauri::command]
#[specta::specta]
pub async fn store_secret(
    state: State<'_, AppState>,
    name: String,
    value: String,
) -> Result<(), IpcError> {
    if let Some(remote) = state.remote() {
        let client = &remote.client;
        return Ok(client.set_secret(&remote.workspace, &name, &value).await?);
    }
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
    if let Some(remote) = state.remote() {
        return Ok(remote
            .client
            .test_provider(&remote.workspace, &name)
            .await?);
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    Ok(state.runtime()?.test_provider(&name, &cancel).await?)
}

/// Adds a remote provider (config.toml and the end of the policy); its
/// key, when given, is stored in the vault first under `provider.key`.
#[tauri::command]
#[specta::specta]
pub async fn provider_add(
    state: State<'_, AppState>,
    provider: ProviderConfig,
    key_value: Option<String>,
) -> Result<(), IpcError> {
    if let Some(remote) = state.remote() {
        let key_value = key_value.filter(|value| !value.is_empty());
        let client = &remote.client;
        return Ok(client
            .add_provider(&remote.workspace, &provider, key_value.as_deref())
            .await?);
    }
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
pub async fn provider_remove(state: State<'_, AppState>, name: String) -> Result<(), IpcError> {
    if let Some(remote) = state.remote() {
        return Ok(remote
            .client
            .remove_provider(&remote.workspace, &name)
            .await?);
    }
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
    crate::tools::refuse_on_server(&state, "Installing and removing models")?;
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
    crate::tools::refuse_on_server(&state, "Installing and removing models")?;
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
    crate::tools::refuse_on_server(&state, "Installing and removing models")?;
    state.runtime()?.remove_model(&name)?;
    Ok(())
}
