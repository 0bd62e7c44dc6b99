//! A stored run done again on the server: replayed from its recording,
//! re-run live, forked from a node, compared with another run. The new
//! runs start and stream as any other (`launch`), under the caller's role
//! on the run's flow.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use codexos_runtime::{FlowRunOptions, RunDetail};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::api::{launch, refuse_unless, run_options, ApiResult, Caller, Workspace};
use super::roles::Permission;
use super::{ApiError, Team};

/// How a stored run continues here (a resume, re-run or fork): in the
/// folder of its project when its input names one of the workspace's
/// projects (the runtime takes the project from the input), else in the
/// workspace's work folder — never the server's own directory, whatever
/// the input holds.
pub(crate) fn continued(ws: &Workspace, detail: &RunDetail) -> ApiResult<FlowRunOptions> {
    let named = detail.input.get("project").and_then(Value::as_str);
    let known = match named {
        Some(name) => ws
            .runtime
            .projects()?
            .iter()
            .any(|project| project.name == name),
        None => false,
    };
    if known {
        Ok(FlowRunOptions::default())
    } else {
        run_options(ws, None)
    }
}

/// Replays a run from its recording — no model, no network, nothing
/// stored — and compares it with the recording node by node.
pub(crate) async fn replay(
    Extension(ws): Extension<Workspace>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let report = ws
        .runtime
        .replay_run(&id, None, CancellationToken::new())
        .await?;
    Ok(Json(json!(report)))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RerunRequest {
    /// Run every model node on this model instead (default: as recorded);
    /// needs `edit` on the flow.
    #[serde(default)]
    model: Option<String>,
}

/// Runs a stored run's flow again live, with its input, project and human
/// answers: a new run (compare it with `GET …/runs/{run}/diff/{other}`).
pub(crate) async fn rerun(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
    body: Option<Json<RerunRequest>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let model = body.and_then(|Json(body)| body.model);
    let detail = ws.runtime.run_detail(&id)?;
    // Another model changes what the flow does (and where its data goes):
    // an edit of the flow, not just a run.
    if model.is_some() {
        refuse_unless(
            &caller,
            &ws.name,
            Some(&detail.summary.flow),
            ws.role,
            Permission::Edit,
        )?;
    }
    let runtime = Arc::clone(&ws.runtime);
    again(
        &team,
        &ws,
        &caller,
        &detail,
        move |options, cancel| async move {
            runtime
                .diff_run(&id, model.as_deref(), options, cancel)
                .await
                .map(|report| report.outcome)
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RunForkRequest {
    /// The node to start again from: the new run starts from the state
    /// just before it ran.
    node: String,
    /// State key → value, applied before it runs again.
    #[serde(default)]
    #[schema(value_type = Object)]
    edits: BTreeMap<String, Value>,
}

/// A new run from the state just before `node` ran in a stored run, with
/// the edits applied.
pub(crate) async fn fork(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
    Json(body): Json<RunForkRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let detail = ws.runtime.run_detail(&id)?;
    if !detail.flow.nodes.iter().any(|node| node.id == body.node) {
        return Err(ApiError::invalid(format!(
            "flow `{}` has no node `{}` to fork run {id} from",
            detail.summary.flow, body.node
        )));
    }
    let runtime = Arc::clone(&ws.runtime);
    again(
        &team,
        &ws,
        &caller,
        &detail,
        move |options, cancel| async move {
            runtime
                .fork_run(&id, &body.node, body.edits, options, cancel)
                .await
        },
    )
    .await
}

/// Starts `work` as a new run of a stored run's flow, working where that
/// run continues ([`continued`]).
async fn again<F, Fut>(
    team: &Arc<Team>,
    ws: &Workspace,
    caller: &Caller,
    detail: &RunDetail,
    work: F,
) -> ApiResult<(StatusCode, Json<Value>)>
where
    F: FnOnce(FlowRunOptions, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = codexos_runtime::Result<codexos_runtime::RunOutcome>>
        + Send
        + 'static,
{
    let what = (ws.name.as_str(), detail.summary.flow.as_str());
    launch(team, caller, what, continued(ws, detail)?, None, work).await
}

/// Two runs side by side, node by node: any two runs of the workspace (a
/// member may view every run there: a grant narrows to viewer at most).
pub(crate) async fn compare(
    Extension(ws): Extension<Workspace>,
    Path((_, id, other)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    off_thread(&ws, move |runtime| runtime.compare_runs(&id, &other)).await
}

/// A later run (`other`, e.g. a re-run) checked against a run's recording
/// node by node: what a live re-run reports.
pub(crate) async fn diff(
    Extension(ws): Extension<Workspace>,
    Path((_, id, other)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    off_thread(&ws, move |runtime| runtime.rerun_report(&id, &other)).await
}

/// A read of two stored runs, off the async threads (large runs take a
/// while to read), answered as JSON.
async fn off_thread<T: serde::Serialize + Send + 'static>(
    ws: &Workspace,
    read: impl FnOnce(&codexos_runtime::Runtime) -> codexos_runtime::Result<T> + Send + 'static,
) -> ApiResult<Json<Value>> {
    let runtime = Arc::clone(&ws.runtime);
    let answer = tokio::task::spawn_blocking(move || read(&runtime))
        .await
        .map_err(|error| ApiError::internal(error.to_string()))??;
    Ok(Json(json!(answer)))
}
