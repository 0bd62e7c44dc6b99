//! Tools in the app: Settings → Tools, and `ask` approvals as a dialog.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use codexos_runtime::{Approval, ApprovalRequest, Approver, ToolEffects, ToolsOverview};
use serde::Serialize;
use tauri::{AppHandle, State};
use tauri_specta::Event as _;
use tokio::sync::oneshot;

use crate::{AppState, IpcError};

/// How long a dialog waits for the user before the call is refused.
const ANSWER_TIME: Duration = Duration::from_mins(5);

/// A tool call waiting for the user's answer.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct ToolApprovalRequested {
    /// Answer with `tool_approval(id, …)`.
    pub id: String,
    /// Tool.
    pub tool: String,
    /// What it does.
    pub description: String,
    /// What it can do.
    pub effects: ToolEffects,
    /// The arguments, as JSON text (secret references unresolved).
    pub arguments: String,
    /// Why the arguments may come from untrusted content (retrieved text,
    /// tool output), when they may: shown as a warning.
    pub untrusted: Option<String>,
    /// Who asks: `conversation:ID` for an agent turn of a chat (the chat
    /// shows it in place when that conversation is open), none for a run.
    pub origin: Option<String>,
}

/// A call no longer waiting for its answer (answered, timed out, or its
/// run or turn ended): the window takes its question away.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct ToolApprovalClosed {
    /// The request's id.
    pub id: String,
}

/// Takes a request out of the waiting ones however its wait ends (the
/// future may be dropped when its run is cancelled) and tells the window.
struct Waiting {
    app: AppHandle,
    approvals: Arc<Approvals>,
    id: String,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.approvals.lock().remove(&self.id);
        let closed = ToolApprovalClosed {
            id: self.id.clone(),
        };
        if let Err(error) = closed.emit(&self.app) {
            tracing::debug!(%error, "no window to take an approval back from");
        }
    }
}

/// Calls waiting for an answer, by id.
#[derive(Default)]
pub struct Approvals(Mutex<HashMap<String, oneshot::Sender<bool>>>);

impl Approvals {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<bool>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Asks in the app's window.
pub struct DialogApprover {
    app: AppHandle,
    approvals: Arc<Approvals>,
    origin: Option<String>,
}

impl DialogApprover {
    pub(crate) fn for_window(app: AppHandle, state: &AppState) -> Arc<dyn Approver> {
        Arc::new(Self {
            app,
            approvals: Arc::clone(&state.approvals),
            origin: None,
        })
    }

    /// Asks in the conversation `id` when it is open (else in the dialog).
    pub(crate) fn for_conversation(
        app: AppHandle,
        state: &AppState,
        id: &str,
    ) -> Arc<dyn Approver> {
        Arc::new(Self {
            app,
            approvals: Arc::clone(&state.approvals),
            origin: Some(format!("conversation:{id}")),
        })
    }
}

#[async_trait::async_trait]
impl Approver for DialogApprover {
    async fn approve(&self, request: &ApprovalRequest) -> Approval {
        let id = uuid::Uuid::new_v4().to_string();
        let (answer, answered) = oneshot::channel();
        self.approvals.lock().insert(id.clone(), answer);
        let _waiting = Waiting {
            app: self.app.clone(),
            approvals: Arc::clone(&self.approvals),
            id: id.clone(),
        };
        let shown = ToolApprovalRequested {
            id: id.clone(),
            tool: request.tool.clone(),
            description: request.description.clone(),
            effects: request.effects,
            arguments: serde_json::to_string_pretty(&request.arguments).unwrap_or_default(),
            untrusted: request.untrusted.clone(),
            origin: self.origin.clone(),
        };
        if let Err(error) = shown.emit(&self.app) {
            return Approval::Deny(format!("no window to ask in: {error}"));
        }
        match tokio::time::timeout(ANSWER_TIME, answered).await {
            Ok(Ok(true)) => Approval::Approve,
            Ok(Ok(false)) => Approval::Deny("declined in the app".to_owned()),
            Ok(Err(_)) => Approval::Deny("the request was dropped".to_owned()),
            Err(_) => Approval::Deny("no answer in the app within 5 minutes".to_owned()),
        }
    }
}

/// Answers a [`ToolApprovalRequested`].
#[tauri::command]
#[specta::specta]
pub async fn tool_approval(
    state: State<'_, AppState>,
    id: String,
    approved: bool,
) -> Result<(), IpcError> {
    let waiting = state.approvals.lock().remove(&id);
    match waiting {
        // The call may have been cancelled meanwhile; nothing to tell then.
        Some(answer) => {
            answer.send(approved).ok();
            Ok(())
        }
        None => Err(IpcError {
            code: codexos_runtime::ErrorCode::NotFound,
            message: "this approval is no longer waiting (it timed out or its run ended)"
                .to_owned(),
            details: None,
        }),
    }
}

/// One rule of `[tools.permissions]`.
#[derive(Debug, Clone, serde::Serialize, specta::Type)]
pub struct PermissionRule {
    /// A tool name or glob.
    pub rule: String,
    /// Its level.
    pub permission: codexos_runtime::Permission,
}

/// The permission rules in force (config.toml's `[tools.permissions]`).
#[allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]
#[tauri::command]
#[specta::specta]
pub fn tool_permissions(state: State<'_, AppState>) -> Result<Vec<PermissionRule>, IpcError> {
    refuse_on_server(&state, "Tool permission rules")?;
    Ok(state
        .runtime()?
        .tool_permissions()
        .into_iter()
        .map(|(rule, permission)| PermissionRule { rule, permission })
        .collect())
}

/// Sets the rule for a tool name or glob, or removes it (`None`).
#[allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]
#[tauri::command]
#[specta::specta]
pub fn tool_permission_set(
    state: State<'_, AppState>,
    rule: String,
    permission: Option<codexos_runtime::Permission>,
) -> Result<(), IpcError> {
    refuse_on_server(&state, "Tool permission rules")?;
    Ok(state.runtime()?.set_tool_permission(&rule, permission)?)
}

/// Every tool source and tool (a project's `tools/` included when given)
/// — the server's workspace's while one is open.
#[tauri::command]
#[specta::specta]
pub async fn tools_overview(
    state: State<'_, AppState>,
    project: Option<String>,
) -> Result<ToolsOverview, IpcError> {
    if let Some(remote) = state.remote() {
        return Ok(remote.client.tools(&remote.workspace).await?);
    }
    let runtime = state.runtime()?;
    let root = project
        .map(|name| runtime.project_root(&name))
        .transpose()?;
    Ok(runtime.tools_overview(root.as_deref()).await?)
}

/// A tool source to add from Settings → Tools.
#[derive(Debug, Clone, serde::Deserialize, specta::Type)]
#[serde(tag = "kind")]
pub enum NewToolSource {
    /// An `OpenAPI` 3 spec: one tool per operation.
    #[serde(rename = "openapi")]
    OpenApi {
        /// Name (prefix of its tools).
        name: String,
        /// A file path or an http(s) URL, JSON or YAML.
        spec: String,
        /// Base URL of the calls (default: the spec's first server).
        base_url: Option<String>,
        /// Vault secret sent as `Authorization: Bearer …`.
        bearer: Option<String>,
    },
    /// An MCP server: a command line (stdio) or a URL (streamable HTTP).
    #[serde(rename = "mcp")]
    Mcp {
        /// Name (prefix of its tools).
        name: String,
        /// Program and arguments, as typed in a shell.
        command: Option<String>,
        /// Streamable-HTTP URL.
        url: Option<String>,
        /// `KEY=VALUE` or `KEY=vault:SECRET` lines for a stdio server.
        env: Vec<String>,
        /// Vault secret sent as `Authorization: Bearer …` to an HTTP server.
        bearer: Option<String>,
    },
}

fn given(value: Option<String>) -> Option<String> {
    value
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// Adds an `OpenAPI` spec or MCP server: checked first (the spec read and
/// its operations made into tools, the server started and its tools
/// listed), written to config.toml only when it works. Answers its tools.
#[tauri::command]
#[specta::specta]
pub async fn tool_source_add(
    state: State<'_, AppState>,
    source: NewToolSource,
) -> Result<Vec<String>, IpcError> {
    refuse_on_server(&state, "Tool sources")?;
    let runtime = state.runtime()?;
    let tools = match source {
        NewToolSource::OpenApi {
            name,
            spec,
            base_url,
            bearer,
        } => {
            runtime
                .add_openapi(codexos_runtime::ApiConfig {
                    name: name.trim().to_owned(),
                    spec: spec.trim().to_owned(),
                    base_url: given(base_url),
                    auth: given(bearer).map(|secret| codexos_runtime::Auth::Bearer { secret }),
                    permission: None,
                    timeout: None,
                })
                .await?
        }
        NewToolSource::Mcp {
            name,
            command,
            url,
            env,
            bearer,
        } => {
            let command = given(command)
                .map(|line| codexos_runtime::mcp_command(&line))
                .transpose()?;
            runtime
                .add_mcp(codexos_runtime::McpServerConfig {
                    name: name.trim().to_owned(),
                    command,
                    url: given(url),
                    env: codexos_runtime::mcp_env(&env)?,
                    bearer: given(bearer),
                    timeout: None,
                    permission: None,
                })
                .await?
        }
    };
    Ok(tools)
}

/// Removes an `OpenAPI` spec or MCP server (config.toml, its tools, its
/// process).
#[tauri::command]
#[specta::specta]
pub async fn tool_source_remove(state: State<'_, AppState>, name: String) -> Result<(), IpcError> {
    refuse_on_server(&state, "Tool sources")?;
    Ok(state.runtime()?.remove_tool_source(&name).await?)
}

/// What is set on a server's machine, not from the app (its config.toml:
/// tool sources — an MCP server there is a program it starts — and
/// permission rules; its models): refused while a server's workspace is
/// open.
pub(crate) fn refuse_on_server(state: &AppState, what: &str) -> Result<(), IpcError> {
    if state.remote().is_some() {
        return Err(crate::remote::only_here(&format!(
            "{what} (a server's are set on its machine: its workspace's config.toml, `codexos models …`)"
        )));
    }
    Ok(())
}
