//! The team panel: the app as a client of a `codexos server` — sign in,
//! workspaces and roles, flows with their lineage, runs followed live,
//! forks, share links, shared runs opened read-only, sign-in through the
//! server's OIDC provider, and the workspace's triggers and webhooks.

#![allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use codexos_runtime::{ErrorCode, RunEvent};
use codexos_server::team::client::{
    self, Automation, ClientError, MadeWithSecret, OidcSecret, OidcSignIn, OpenedLink,
    RemoteDelivery, RemoteFlow, SharedLink, TeamClient, TeamSession,
};
use tauri::ipc::Channel;
use tauri::State;
use tokio_util::sync::CancellationToken;

use crate::commands::{send, IpcError};
use crate::sessions::Signed;
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
            }
            | ClientError::Local { .. } => ErrorCode::InvalidInput,
            ClientError::Unreachable { .. } => ErrorCode::Provider,
            ClientError::Cancelled { .. } => ErrorCode::Cancelled,
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
    /// The sessions, the server shown and the workspace open.
    pub(crate) fn signed(&self) -> std::sync::MutexGuard<'_, Signed<TeamClient>> {
        self.team
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The team server the Team panel shows.
    pub(crate) fn team(&self) -> Option<TeamClient> {
        self.signed().shown()
    }
}

fn signed_in(state: &AppState) -> Result<TeamClient, IpcError> {
    state.team().ok_or_else(|| IpcError {
        code: ErrorCode::Refused,
        message: "not signed in to a team server — sign in from the Team panel".to_owned(),
        details: None,
    })
}

/// Keeps a new session; the one it replaces on that server is ended there
/// (in the background: a server that does not answer only logs it).
fn adopt(state: &AppState, session: &TeamSession, client: TeamClient) {
    let replaced = state.signed().sign_in(&session.server, client);
    if let Some(old) = replaced {
        tauri::async_runtime::spawn(async move {
            if let Err(error) = old.sign_out().await {
                tracing::warn!(server = old.server(), %error, "the replaced session was not ended");
            }
        });
    }
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
    adopt(&state, &session, client);
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

/// Every session, as each server has it now (one that does not answer is
/// left out and logged): the header's switcher lists their workspaces.
#[tauri::command]
#[specta::specta]
pub async fn team_sessions(state: State<'_, AppState>) -> Result<Vec<TeamSession>, IpcError> {
    let clients = state.signed().all();
    let answers = futures::future::join_all(clients.iter().map(TeamClient::session)).await;
    Ok(answers
        .into_iter()
        .zip(&clients)
        .filter_map(|(answer, client)| {
            answer
                .inspect_err(|error| {
                    tracing::warn!(server = client.server(), %error, "a team server did not answer");
                })
                .ok()
        })
        .collect())
}

/// Shows another server signed in to in the Team panel: its session.
#[tauri::command]
#[specta::specta]
pub async fn team_show(
    state: State<'_, AppState>,
    server: String,
) -> Result<TeamSession, IpcError> {
    let Some(client) = state.signed().client(&server) else {
        return Err(IpcError {
            code: ErrorCode::NotFound,
            message: format!("not signed in to {server} — sign in to it first"),
            details: None,
        });
    };
    // Shown only once it answers: the panel and the backend stay on the
    // same server either way.
    let session = client.session().await?;
    state.signed().show(&server);
    Ok(session)
}

/// Signs out of the server the Team panel shows (the server ends the
/// session); the others stay signed in.
#[tauri::command]
#[specta::specta]
pub async fn team_sign_out(state: State<'_, AppState>) -> Result<(), IpcError> {
    let shown = state.team();
    if let Some(client) = shown {
        state.signed().sign_out(client.server());
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

/// Opens a share link: a run, read-only (no sign-in needed), or a flow to
/// run or fork.
#[tauri::command]
#[specta::specta]
pub async fn team_open_link(server: String, link: String) -> Result<OpenedLink, IpcError> {
    Ok(client::open_link(&server, &link).await?)
}

/// The session on the link's server (signed in there, not necessarily the
/// one the panel shows).
fn signed_in_at(state: &AppState, server: &str) -> Result<TeamClient, IpcError> {
    let server = client::normalize(server);
    state.signed().client(&server).ok_or_else(|| IpcError {
        code: ErrorCode::Refused,
        message: format!("sign in to {server} to use this link"),
        details: None,
    })
}

/// Runs the flow of a run link and streams its events when the account
/// may follow them there (a member of the link's workspace): the status it
/// ended or paused with, or `started` when its events are not yours to see.
#[tauri::command]
#[specta::specta]
pub async fn team_link_run(
    state: State<'_, AppState>,
    server: String,
    link: String,
    on_event: Channel<RunEvent>,
) -> Result<String, IpcError> {
    let client = signed_in_at(&state, &server)?;
    let opened = client::open_link(&server, &link).await?;
    let run = client.run_link(&link, serde_json::json!({})).await?;
    match client
        .follow(&opened.workspace, &run, &|event| send(&on_event, event))
        .await
    {
        Err(ClientError::Refused { status: 404, .. }) => Ok("started".to_owned()),
        followed => Ok(followed?),
    }
}

/// Forks the flow of a fork link into `workspace` of the link's server:
/// the copy's name.
#[tauri::command]
#[specta::specta]
pub async fn team_link_fork(
    state: State<'_, AppState>,
    server: String,
    link: String,
    workspace: String,
    name: Option<String>,
) -> Result<String, IpcError> {
    Ok(signed_in_at(&state, &server)?
        .fork_link(&link, &workspace, name.as_deref())
        .await?)
}

/// A sign-in through the server's OIDC provider, waiting for the browser.
pub(crate) struct PendingOidc {
    started: OidcSignIn,
    secret: Option<OidcSecret>,
    cancel: CancellationToken,
}

fn pending_oidc(state: &AppState) -> std::sync::MutexGuard<'_, Option<PendingOidc>> {
    state
        .oidc
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts a sign-in through the server's OIDC provider: opens its page in
/// the system browser and answers the URL (to open by hand) and the code
/// that page will show. Then `team_oidc_finish` waits for it.
#[tauri::command]
#[specta::specta]
pub fn team_oidc_start(state: State<'_, AppState>, server: String) -> OidcSignIn {
    let (started, secret) = TeamClient::start_oidc(&server);
    if let Some(previous) = pending_oidc(&state).replace(PendingOidc {
        started: started.clone(),
        secret: Some(secret),
        cancel: CancellationToken::new(),
    }) {
        previous.cancel.cancel();
    }
    // The URL is the server's own sign-in page (http or https only); when
    // no browser opens, the panel shows it to open by hand.
    if started.url.starts_with("http://") || started.url.starts_with("https://") {
        if let Err(error) = open::that_detached(&started.url) {
            tracing::warn!(%error, "no browser opened for the sign-in");
        }
    }
    started
}

/// Waits (up to 5 minutes) for the sign-in started by `team_oidc_start`
/// to be finished and confirmed in the browser, then signs the app in.
#[tauri::command]
#[specta::specta]
pub async fn team_oidc_finish(state: State<'_, AppState>) -> Result<TeamSession, IpcError> {
    let (started, secret, cancel) = {
        let mut pending = pending_oidc(&state);
        let Some(waiting) = pending.as_mut() else {
            return Err(IpcError {
                code: ErrorCode::InvalidInput,
                message: "no sign-in is under way — start one".to_owned(),
                details: None,
            });
        };
        let Some(secret) = waiting.secret.take() else {
            return Err(IpcError {
                code: ErrorCode::InvalidInput,
                message: "this sign-in is already being waited for".to_owned(),
                details: None,
            });
        };
        (waiting.started.clone(), secret, waiting.cancel.clone())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(5);
    let finished = TeamClient::finish_oidc(&started, &secret, deadline, &cancel).await;
    // Only this sign-in: a newer one started meanwhile stays.
    let mut pending = pending_oidc(&state);
    if pending
        .as_ref()
        .is_some_and(|waiting| waiting.started == started)
    {
        pending.take();
    }
    drop(pending);
    let (client, session) = finished?;
    adopt(&state, &session, client);
    Ok(session)
}

/// Gives up a sign-in under way.
#[tauri::command]
#[specta::specta]
pub fn team_oidc_cancel(state: State<'_, AppState>) {
    if let Some(pending) = pending_oidc(&state).take() {
        pending.cancel.cancel();
    }
}

/// A workspace's triggers, and its outgoing webhooks for admins.
#[tauri::command]
#[specta::specta]
pub async fn team_automation(
    state: State<'_, AppState>,
    workspace: String,
) -> Result<Automation, IpcError> {
    Ok(signed_in(&state)?.automation(&workspace).await?)
}

/// Adds a trigger: `webhook`, or `cron` with a schedule.
#[tauri::command]
#[specta::specta]
pub async fn team_add_trigger(
    state: State<'_, AppState>,
    workspace: String,
    kind: String,
    flow: String,
    schedule: Option<String>,
) -> Result<MadeWithSecret, IpcError> {
    Ok(signed_in(&state)?
        .add_trigger(&workspace, &kind, &flow, schedule.as_deref())
        .await?)
}

/// Adds an outgoing webhook for `events` (all when empty).
#[tauri::command]
#[specta::specta]
pub async fn team_add_webhook(
    state: State<'_, AppState>,
    workspace: String,
    url: String,
    events: Vec<String>,
) -> Result<MadeWithSecret, IpcError> {
    Ok(signed_in(&state)?
        .add_webhook(&workspace, &url, &events)
        .await?)
}

/// Removes a `trigger` or `webhook`.
#[tauri::command]
#[specta::specta]
pub async fn team_remove_automation(
    state: State<'_, AppState>,
    workspace: String,
    what: String,
    id: String,
) -> Result<(), IpcError> {
    Ok(signed_in(&state)?
        .remove_automation(&workspace, &what, &id)
        .await?)
}

/// An outgoing webhook's newest deliveries.
#[tauri::command]
#[specta::specta]
pub async fn team_deliveries(
    state: State<'_, AppState>,
    workspace: String,
    hook: String,
) -> Result<Vec<RemoteDelivery>, IpcError> {
    Ok(signed_in(&state)?.deliveries(&workspace, &hook).await?)
}
