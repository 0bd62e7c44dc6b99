//! A workspace's agents and tools over the API: the published agent
//! versions, publishing a new one, which flows pin which version (and
//! moving a flow to another), and the tools an agent may be given.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use codexos_runtime::{AgentPin, AgentSpec, AgentVersion, FlowEntry, ToolsOverview};
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{launch, run_options, ApiResult, Caller, Workspace};
use super::roles::WORKSPACE;
use super::Team;

/// A flow's agent nodes moved to a published version.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RepinBody {
    /// The agent's name.
    agent: String,
    /// The published version to use.
    version: String,
}

/// A turn of an agent conversation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TurnBody {
    /// The task: the message, after the conversation so far.
    task: String,
    /// The published version (default: the newest).
    #[serde(default)]
    version: Option<String>,
    /// The project whose folder its tools work in (default: the
    /// workspace's `work/` folder).
    #[serde(default)]
    project: Option<String>,
}

/// `GET …/agents`: every published version, by name then version.
pub(crate) async fn agents(
    Extension(ws): Extension<Workspace>,
) -> ApiResult<Json<Vec<AgentVersion>>> {
    Ok(Json(ws.runtime.agents()?))
}

/// `POST …/agents`: publishes an agent as a new immutable version (the
/// same checks as on a machine: semver, tools that exist there, a version
/// not taken).
pub(crate) async fn publish(
    Extension(ws): Extension<Workspace>,
    Json(spec): Json<AgentSpec>,
) -> ApiResult<(StatusCode, Json<AgentVersion>)> {
    Ok((
        StatusCode::CREATED,
        Json(ws.runtime.publish_agent_spec(&spec)?),
    ))
}

/// `GET …/agents/pins`: the agent nodes of the workspace's flows and the
/// versions they pin.
pub(crate) async fn pins(Extension(ws): Extension<Workspace>) -> ApiResult<Json<Vec<AgentPin>>> {
    Ok(Json(ws.runtime.agent_pins()?))
}

/// `POST …/flows/{flow}/repin`: moves the flow's nodes using an agent to
/// one of its published versions (a new version of the flow is saved).
pub(crate) async fn repin(
    Extension(ws): Extension<Workspace>,
    Path((_, flow)): Path<(String, String)>,
    Json(body): Json<RepinBody>,
) -> ApiResult<Json<FlowEntry>> {
    let mut entry = ws.runtime.repin_agent(&flow, &body.agent, &body.version)?;
    // A server path means nothing to the client.
    entry.path = flow;
    Ok(Json(entry))
}

/// `POST …/agents/{agent}/turns`: a turn of an agent conversation, run as
/// a run of the workspace (one agent node given the task) as the caller:
/// 202 with its id, then followed, cancelled and inspected like any run.
/// Tools that would ask first are refused (no one to ask on a server).
pub(crate) async fn turn(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Path((_, agent)): Path<(String, String)>,
    Json(body): Json<TurnBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let reference = match &body.version {
        Some(version) => format!("{agent}@{version}"),
        None => agent,
    };
    let published = ws.runtime.agent(&reference)?;
    let flow =
        codexos_runtime::agent_turn_flow(&format!("{}@{}", published.name, published.version))?;
    let name = flow.name.clone();
    let runtime = Arc::clone(&ws.runtime);
    let input = json!({ "task": body.task });
    let options = run_options(&ws, body.project)?;
    launch(
        &team,
        &caller,
        (ws.name.as_str(), name.as_str()),
        options,
        None,
        move |options, cancel| async move {
            runtime
                .run_flow(flow, None, None, input, options, cancel)
                .await
        },
    )
    .await
}

/// `GET …/tools`: the workspace's tool sources and tools, with the
/// permission each runs at.
/// The server's configured specs and commands (paths, command lines) are
/// left out: the sources' states and the tools are what a client uses.
pub(crate) async fn tools(Extension(ws): Extension<Workspace>) -> ApiResult<Json<ToolsOverview>> {
    let mut overview = ws.runtime.tools_overview(None).await?;
    overview.configured.clear();
    // A tools folder is named by where it is in the workspace's home, not
    // by the server's path.
    let home = format!("folder:{}/", ws.runtime.home().root().display());
    let relative = |name: &mut String| {
        if let Some(rest) = name.strip_prefix(&home) {
            *name = format!("folder:{rest}");
        }
    };
    for source in &mut overview.sources {
        relative(&mut source.name);
    }
    for tool in &mut overview.tools {
        relative(&mut tool.source);
    }
    Ok(Json(overview))
}

/// The routes of agents and tools.
pub(crate) fn routes() -> Router<Arc<Team>> {
    let w = |tail: &str| format!("{WORKSPACE}{tail}");
    Router::new()
        .route(&w("/agents"), get(agents).post(publish))
        .route(&w("/agents/pins"), get(pins))
        .route(&w("/agents/{agent}/turns"), post(turn))
        .route(&w("/flows/{flow}/repin"), post(repin))
        .route(&w("/tools"), get(tools))
}
