//! The workspace the app works in: this machine's data home, or a team
//! server's workspace. While a server's workspace is open, the canvas, the
//! run history and inspector and the versions panel call the server instead
//! of the local runtime, with the same types: runs execute there and stream
//! back, and the server's roles decide what is allowed (the window disables
//! what the role does not allow; the server refuses it anyway).

#![allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use codexos_runtime::{
    DeletedFlow, ErrorCode, Flow, FlowEntry, FlowVersion, RunDetail, RunEvent, RunOutcome,
};
use codexos_server::team::client::{TeamClient, WorkspaceAsker};
use serde::Serialize;
use serde_json::Value;
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::{send, IpcError};
use crate::flows::FlowSaved;
use crate::AppState;

/// A server's workspace, open in the app.
#[derive(Clone)]
pub(crate) struct Remote {
    pub(crate) client: TeamClient,
    pub(crate) workspace: String,
}

/// Where the app works now, as the window shows it.
#[derive(Debug, Clone, Default, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct OpenWorkspace {
    /// The server (`None`: this machine's data home).
    pub server: Option<String>,
    /// The account signed in there.
    pub account: Option<String>,
    /// The server's workspace.
    pub workspace: Option<String>,
    /// The role there.
    pub role: Option<String>,
    /// What the role allows: `view`, `run`, `approve`, `edit`, … (the
    /// server's table; everything on this machine).
    pub permissions: Vec<String>,
}

impl AppState {
    /// The server's workspace open, if one is.
    pub(crate) fn remote(&self) -> Option<Remote> {
        let (client, workspace) = self.signed().opened()?;
        Some(Remote { client, workspace })
    }
}

/// Opens a workspace of a team server signed in to (`server`; the one the
/// Team panel shows when `None`), or (`workspace` `None`) this machine's
/// data home again. The canvas, runs and versions follow it.
#[tauri::command]
#[specta::specta]
pub async fn workspace_open(
    state: State<'_, AppState>,
    server: Option<String>,
    workspace: Option<String>,
) -> Result<OpenWorkspace, IpcError> {
    let Some(name) = workspace else {
        state.signed().open(None);
        return Ok(OpenWorkspace::default());
    };
    let client = match &server {
        Some(server) => state.signed().client(server),
        None => state.team(),
    };
    let Some(client) = client else {
        return Err(IpcError {
            code: ErrorCode::Refused,
            message: format!(
                "not signed in to {} — sign in from the Team panel first",
                server.as_deref().unwrap_or("a team server")
            ),
            details: None,
        });
    };
    let open = view(&client, &name).await?;
    // Opened only under the session whose role was just read: signed out
    // or in again meanwhile, nothing opens.
    let mut signed = state.signed();
    let same = signed
        .client(client.server())
        .is_some_and(|current| current.same_session(&client));
    if !same || !signed.open(Some((client.server(), &name))) {
        return Err(IpcError {
            code: ErrorCode::Refused,
            message: format!(
                "signed out of {} or in again meanwhile — open the workspace again",
                client.server()
            ),
            details: None,
        });
    }
    Ok(open)
}

/// The projects of the server's workspace open (ingested there); none
/// while this machine's home is open.
#[tauri::command]
#[specta::specta]
pub async fn workspace_projects(
    state: State<'_, AppState>,
) -> Result<Vec<codexos_runtime::ProjectSummary>, IpcError> {
    match state.remote() {
        Some(remote) => Ok(remote.client.projects(&remote.workspace).await?),
        None => Ok(Vec::new()),
    }
}

/// The models the open server workspace answers with (`codexos`, its
/// policy, first); none while this machine's home is open.
#[tauri::command]
#[specta::specta]
pub async fn workspace_models(state: State<'_, AppState>) -> Result<Vec<String>, IpcError> {
    match state.remote() {
        Some(remote) => Ok(remote.client.models(&remote.workspace).await?),
        None => Ok(Vec::new()),
    }
}

/// Where the app works now (the window asks after a sign-in or out: both
/// bring it back to this machine).
#[tauri::command]
#[specta::specta]
pub async fn workspace_current(state: State<'_, AppState>) -> Result<OpenWorkspace, IpcError> {
    let Some(remote) = state.remote() else {
        return Ok(OpenWorkspace::default());
    };
    let viewed = view(&remote.client, &remote.workspace).await;
    if viewed.is_err() {
        // The server no longer takes this session there: back here.
        state.signed().open(None);
    }
    viewed
}

/// A server's workspace with the role the session holds there now.
async fn view(client: &TeamClient, name: &str) -> Result<OpenWorkspace, IpcError> {
    let session = client.session().await?;
    let Some(membership) = session
        .memberships
        .iter()
        .find(|membership| membership.workspace == name && membership.flow.is_none())
    else {
        return Err(IpcError {
            code: ErrorCode::NotFound,
            message: format!(
                "{} has no workspace `{name}` for {} — ask its owner to add you",
                session.server, session.account
            ),
            details: None,
        });
    };
    Ok(OpenWorkspace {
        server: Some(session.server.clone()),
        account: Some(session.account.clone()),
        workspace: Some(name.to_owned()),
        role: Some(membership.role.clone()),
        permissions: membership.permissions.clone(),
    })
}

/// Refusal for what the app does only on this machine's data home.
pub(crate) fn only_here(what: &str) -> IpcError {
    IpcError {
        code: ErrorCode::InvalidInput,
        message: format!(
            "{what} works on this machine only — switch the workspace to “This machine” in the header, or use `codexos` on the server"
        ),
        details: None,
    }
}

impl Remote {
    pub(crate) async fn library(&self) -> Result<Vec<FlowEntry>, IpcError> {
        Ok(self.client.flow_entries(&self.workspace).await?)
    }

    pub(crate) async fn check(
        &self,
        flow: &Flow,
    ) -> Result<Vec<codexos_runtime::FlowProblem>, IpcError> {
        Ok(self.client.check_flow(&self.workspace, flow).await?)
    }

    pub(crate) async fn save(&self, flow: &Flow) -> Result<FlowSaved, IpcError> {
        let saved = self.client.save_flow(&self.workspace, flow).await?;
        Ok(FlowSaved {
            path: self.client.flow_address(&self.workspace, &flow.name),
            version: saved.version,
            problems: saved.problems,
        })
    }

    /// A new flow: blank, or a copy of `from`.
    pub(crate) async fn create(
        &self,
        name: &str,
        from: Option<&str>,
    ) -> Result<FlowEntry, IpcError> {
        Ok(self.client.create_flow(&self.workspace, name, from).await?)
    }

    /// Deletes a flow on the server; its history stays there, and
    /// [`Self::restore`] writes its newest version back.
    pub(crate) async fn delete(&self, name: &str) -> Result<DeletedFlow, IpcError> {
        self.client.delete_flow(&self.workspace, name).await?;
        Ok(DeletedFlow {
            name: name.to_owned(),
            trash: name.to_owned(),
        })
    }

    pub(crate) async fn versions(&self, name: &str) -> Result<Vec<FlowVersion>, IpcError> {
        Ok(self.client.versions_kept(&self.workspace, name).await?)
    }

    pub(crate) async fn diff(&self, name: &str, from: u32, to: u32) -> Result<String, IpcError> {
        Ok(self
            .client
            .flow_diff(&self.workspace, name, from, to)
            .await?)
    }

    pub(crate) async fn rollback(&self, name: &str, version: u32) -> Result<FlowEntry, IpcError> {
        Ok(self
            .client
            .rollback_flow(&self.workspace, name, version)
            .await?)
    }

    pub(crate) async fn restore(&self, name: &str) -> Result<FlowEntry, IpcError> {
        Ok(self.client.restore_flow(&self.workspace, name).await?)
    }

    pub(crate) async fn runs(
        &self,
        flow: Option<&str>,
    ) -> Result<Vec<codexos_runtime::RunSummary>, IpcError> {
        Ok(self.client.runs(&self.workspace, flow).await?)
    }

    pub(crate) async fn run_detail(&self, run: &str) -> Result<RunDetail, IpcError> {
        Ok(self.client.run_detail(&self.workspace, run).await?)
    }

    /// Runs the server's version of a flow there and streams its events
    /// back. The window saves first when the role may edit; a flow that
    /// differs from the server's (changed there since it was opened) is
    /// not run: the canvas reloads it.
    pub(crate) async fn run(
        &self,
        state: &AppState,
        request_id: &str,
        flow: &Flow,
        input: Value,
        on_event: Channel<RunEvent>,
    ) -> Result<RunOutcome, IpcError> {
        let started = self.client.start_run_of(&self.workspace, flow, input);
        self.start_and_follow(state, request_id, started, on_event)
            .await
    }

    /// Starts a run on the server with `start` (the request counts from
    /// before it, so a Stop pressed meanwhile cancels the run once it has
    /// an id) and follows it to its end or pause.
    async fn start_and_follow(
        &self,
        state: &AppState,
        request_id: &str,
        start: impl std::future::Future<Output = codexos_server::team::client::Result<String>>,
        on_event: Channel<RunEvent>,
    ) -> Result<RunOutcome, IpcError> {
        let cancel = state.requests.start(request_id);
        match start.await {
            Ok(run) => {
                self.follow(state, request_id, &cancel, &run, None, on_event)
                    .await
            }
            Err(error) => {
                state.requests.finish(request_id);
                Err(error.into())
            }
        }
    }

    /// A new run on the server from the state before `node` ran in `run`,
    /// with `edits`, streamed back.
    pub(crate) async fn fork_run(
        &self,
        state: &AppState,
        request_id: &str,
        run: &str,
        node: &str,
        edits: std::collections::BTreeMap<String, Value>,
        on_event: Channel<RunEvent>,
    ) -> Result<RunOutcome, IpcError> {
        let started = self.client.fork_run(&self.workspace, run, node, edits);
        self.start_and_follow(state, request_id, started, on_event)
            .await
    }

    /// A run replayed on the server from its recording, or (`live`) run
    /// again there — streamed back — and checked against the recording.
    pub(crate) async fn replay(
        &self,
        state: &AppState,
        request_id: &str,
        run: &str,
        model: Option<&str>,
        live: bool,
        on_event: Channel<RunEvent>,
    ) -> Result<codexos_runtime::ReplayReport, IpcError> {
        if !live {
            return Ok(self.client.replay(&self.workspace, run).await?);
        }
        let started = self.client.rerun(&self.workspace, run, model);
        let again = self
            .start_and_follow(state, request_id, started, on_event)
            .await?;
        Ok(self
            .client
            .rerun_report(&self.workspace, run, &again.run_id)
            .await?)
    }

    pub(crate) async fn compare(
        &self,
        a: &str,
        b: &str,
    ) -> Result<codexos_runtime::RunComparison, IpcError> {
        Ok(self.client.compare_runs(&self.workspace, a, b).await?)
    }

    /// Continues a paused or interrupted run on the server, streaming what
    /// is new.
    pub(crate) async fn resume(
        &self,
        state: &AppState,
        request_id: &str,
        run: &str,
        answer: Option<Value>,
        on_event: Channel<RunEvent>,
    ) -> Result<RunOutcome, IpcError> {
        let cancel = state.requests.start(request_id);
        let resumed = async {
            let seen = self
                .run_detail(run)
                .await?
                .events
                .last()
                .map(|event| event.seq);
            self.client.resume(&self.workspace, run, answer).await?;
            Ok::<_, IpcError>(seen)
        }
        .await;
        match resumed {
            Ok(seen) => {
                self.follow(state, request_id, &cancel, run, seen, on_event)
                    .await
            }
            Err(error) => {
                state.requests.finish(request_id);
                Err(error)
            }
        }
    }

    /// Follows a run until it ends or pauses. Stopping the request (now,
    /// or before the run had started) cancels the run on the server, whose
    /// end still streams back; a cancel the server refused is reported.
    async fn follow(
        &self,
        state: &AppState,
        request_id: &str,
        cancel: &tokio_util::sync::CancellationToken,
        run: &str,
        after: Option<u64>,
        on_event: Channel<RunEvent>,
    ) -> Result<RunOutcome, IpcError> {
        let outcome = self
            .client
            .follow_to_outcome(&self.workspace, run, after, cancel, &|event| {
                send(&on_event, event);
            })
            .await;
        state.requests.finish(request_id);
        Ok(outcome?)
    }
}

impl Remote {
    /// What asks this workspace for the chat (the runtime refuses a turn
    /// of a conversation from the other side).
    pub(crate) fn asker(self) -> WorkspaceAsker {
        WorkspaceAsker {
            client: self.client,
            workspace: self.workspace,
        }
    }
}

/// A conversation kept here whose asks, chat turns or agent turns go to the
/// server's workspace: an ask's project, or the agent (its newest version
/// unless one is named), checked there.
pub(crate) async fn new_conversation(
    runtime: &codexos_runtime::Runtime,
    remote: &Remote,
    mode: codexos_runtime::ConversationMode,
    target: Option<String>,
) -> Result<codexos_runtime::ConversationSummary, IpcError> {
    let target = match (mode, target) {
        (codexos_runtime::ConversationMode::Ask, Some(name)) => {
            remote
                .client
                .require_project(&remote.workspace, &name)
                .await?;
            Some(name)
        }
        (codexos_runtime::ConversationMode::Agent, Some(reference)) => {
            Some(agent_there(remote, &reference).await?)
        }
        _ => None,
    };
    Ok(runtime.new_remote_conversation(&remote.clone().asker(), mode, target.as_deref())?)
}

/// `name@version` of the workspace's agent `reference` (`name`: its newest
/// version), or why there is none.
async fn agent_there(remote: &Remote, reference: &str) -> Result<String, IpcError> {
    let (name, version) = reference
        .split_once('@')
        .map_or((reference, None), |(name, version)| (name, Some(version)));
    let published = remote.client.agents(&remote.workspace).await?;
    // Listed by name then version: the last of a name is its newest.
    let found = published
        .iter()
        .rfind(|agent| agent.name == name && version.is_none_or(|version| agent.version == version))
        .ok_or_else(|| IpcError {
            code: ErrorCode::NotFound,
            message: format!(
                "{} has no agent `{reference}` — publish it there in the Agents panel",
                remote.workspace
            ),
            details: None,
        })?;
    Ok(format!("{}@{}", found.name, found.version))
}
