//! The agent editor: published agents, publishing from the form, and which
//! flows pin which version — thin commands over the runtime, and the same
//! over the open server workspace (`workspace_…`).

#![allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use codexos_runtime::{AgentPin, AgentSpec, AgentVersion, FlowEntry, ToolsOverview};
use tauri::State;

use crate::commands::IpcError;
use crate::AppState;

/// Every published agent version, by name then version (newest last).
#[tauri::command]
#[specta::specta]
pub fn agents(state: State<'_, AppState>) -> Result<Vec<AgentVersion>, IpcError> {
    Ok(state.runtime()?.agents()?)
}

/// Publishes an agent from the editor's fields as a new immutable version.
#[tauri::command]
#[specta::specta]
pub fn agent_publish(
    state: State<'_, AppState>,
    spec: AgentSpec,
) -> Result<AgentVersion, IpcError> {
    Ok(state.runtime()?.publish_agent_spec(&spec)?)
}

/// The agent nodes of the flows in the flows folder and the versions they pin.
#[tauri::command]
#[specta::specta]
pub fn agent_pins(state: State<'_, AppState>) -> Result<Vec<AgentPin>, IpcError> {
    Ok(state.runtime()?.agent_pins()?)
}

/// Moves a flow's nodes using `agent` to its published `version`.
#[tauri::command]
#[specta::specta]
pub fn agent_repin(
    state: State<'_, AppState>,
    flow: String,
    agent: String,
    version: String,
) -> Result<FlowEntry, IpcError> {
    Ok(state.runtime()?.repin_agent(&flow, &agent, &version)?)
}

/// The open server workspace, for the Agents panel's calls there.
fn server(state: &AppState) -> Result<crate::remote::Remote, IpcError> {
    crate::server_projects::open(state)
}

/// Every published agent version of the open server workspace.
#[tauri::command]
#[specta::specta]
pub async fn workspace_agents(state: State<'_, AppState>) -> Result<Vec<AgentVersion>, IpcError> {
    let remote = server(&state)?;
    Ok(remote.client.agents(&remote.workspace).await?)
}

/// Publishes an agent in the open server workspace.
#[tauri::command]
#[specta::specta]
pub async fn workspace_agent_publish(
    state: State<'_, AppState>,
    spec: AgentSpec,
) -> Result<AgentVersion, IpcError> {
    let remote = server(&state)?;
    Ok(remote
        .client
        .publish_agent(&remote.workspace, &spec)
        .await?)
}

/// The agent pins of the open server workspace's flows.
#[tauri::command]
#[specta::specta]
pub async fn workspace_agent_pins(state: State<'_, AppState>) -> Result<Vec<AgentPin>, IpcError> {
    let remote = server(&state)?;
    Ok(remote.client.agent_pins(&remote.workspace).await?)
}

/// Moves a server flow's nodes using `agent` to its published `version`.
#[tauri::command]
#[specta::specta]
pub async fn workspace_agent_repin(
    state: State<'_, AppState>,
    flow: String,
    agent: String,
    version: String,
) -> Result<FlowEntry, IpcError> {
    let remote = server(&state)?;
    Ok(remote
        .client
        .repin_agent(&remote.workspace, &flow, &agent, &version)
        .await?)
}

/// The tools of the open server workspace (what its agents may be given).
#[tauri::command]
#[specta::specta]
pub async fn workspace_tools(state: State<'_, AppState>) -> Result<ToolsOverview, IpcError> {
    let remote = server(&state)?;
    Ok(remote.client.tools(&remote.workspace).await?)
}
