//! The team panel: the app as a client of a `codexos server` — sign in,
//! workspaces and roles, flows with their lineage, runs followed live,
//! forks, share links, and shared runs opened read-only.

#![allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use codexos_runtime::{ErrorCode, RunEvent};
use codexos_server::team::client::{
    self, ClientError, RemoteFlow, SharedLink, SharedRun, TeamClient, TeamSession,
};
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::{send, IpcError};
use crate::AppState;

impl From<ClientError> for IpcError {
    fn from(error: ClientError) -> Self {
        let code = match &error {
            ClientError::Refused {
                status: 401 | 403, ..
            } => ErrorCode::Refused,
            ClientError::Refused { status: 404, .. } => ErrorCode::NotFound,
            ClientError::Refused {
                status: 400 | 409 | 413 | 422,
                ..
            } => ErrorCode::InvalidInput,
            ClientError::Unreachable { .. } => ErrorCode::Provider,
            _ => ErrorCode::Internal,
        };
        Self {
            code,
            message: error.to_string(),
            details: None,
        }
    }
}

impl AppState {
    /// The team server signed in to.
    pub(crate) fn team(&self) -> Option<TeamClient> {
        self.team
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_team(&self, client: Option<TeamClient>) {
        *self
            .team
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = client;
    }
}

fn signed_in(state: &AppState) -> Result<TeamClient, IpcError> {
    state.team().ok_or_else(|| IpcError {
        code: ErrorCode::Refused,
        message: "not signed in to a team server — sign in from the Team panel".to_owned(),
        details: None,
    })
}

/// Signs in to a team server (the password is sent once, never kept).
#[tauri::command]
#[specta::specta]
pub async fn team_sign_in(
    state: State<'_, AppState>,
    server: String,
    account: String,
    password: String,
) -> Result<TeamSession, IpcError> {
    let (client, session) = TeamClient::sign_in(&server, &account, &password).await?;
    state.set_team(Some(client));
    Ok(session)
}

/// The session as the server has it now (roles change).
#[tauri::command]
#[specta::specta]
pub async fn team_session(state: State<'_, AppState>) -> Result<Option<TeamSession>, IpcError> {
    match state.team() {
        Some(client) => Ok(Some(client.session().await?)),
        None => Ok(None),
    }
}

/// Signs out (the server ends the session).
#[tauri::command]
#[specta::specta]
pub async fn team_sign_out(state: State<'_, AppState>) -> Result<(), IpcError> {
    if let Some(client) = state.team() {
        state.set_team(None);
        client.sign_out().await?;
    }
    Ok(())
}

/// A workspace's flows, with their lineage.
#[tauri::command]
#[specta::specta]
pub async fn team_flows(
    state: State<'_, AppState>,
    workspace: String,
) -> Result<Vec<RemoteFlow>, IpcError> {
    Ok(signed_in(&state)?.flows(&workspace).await?)
}

/// Runs a flow on the server and streams its events; the status it ended
/// (or paused) with.
#[tauri::command]
#[specta::specta]
pub async fn team_run(
    state: State<'_, AppState>,
    workspace: String,
    flow: String,
    on_event: Channel<RunEvent>,
) -> Result<String, IpcError> {
    let client = signed_in(&state)?;
    let run = client
        .start_run(&workspace, &flow, serde_json::json!({}))
        .await?;
    Ok(client
        .follow(&workspace, &run, &|event| send(&on_event, event))
        .await?)
}

/// Forks a flow into another workspace.
#[tauri::command]
#[specta::specta]
pub async fn team_fork(
    state: State<'_, AppState>,
    workspace: String,
    flow: String,
    destination: String,
    name: Option<String>,
) -> Result<(), IpcError> {
    Ok(signed_in(&state)?
        .fork(&workspace, &flow, &destination, name.as_deref())
        .await?)
}

/// Makes a share link: `view` a run, or `run` / `fork` a flow.
#[tauri::command]
#[specta::specta]
pub async fn team_share(
    state: State<'_, AppState>,
    workspace: String,
    kind: String,
    target: String,
) -> Result<SharedLink, IpcError> {
    Ok(signed_in(&state)?.share(&workspace, &kind, &target).await?)
}

/// Opens a view link: the run, read-only (no sign-in needed).
#[tauri::command]
#[specta::specta]
pub async fn team_open_shared(server: String, link: String) -> Result<SharedRun, IpcError> {
    Ok(client::open_shared(&server, &link).await?)
}
