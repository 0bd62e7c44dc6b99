//! The agent editor: published agents, publishing from the form, and which
//! flows pin which version — thin commands over the runtime.

#![allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use codexos_runtime::{AgentPin, AgentSpec, AgentVersion, FlowEntry};
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
