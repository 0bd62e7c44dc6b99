//! A workspace's datasets and evals over the API: datasets listed, read,
//! created from JSONL or CSV text, grown from a stored run and deleted; a
//! flow evaluated over a dataset with its progress streamed back (the
//! client leaving cancels it); stored reports read, exported as a baseline
//! and deleted.
//!
//! Datasets and baselines are named, never paths: the engine also takes a
//! file of its machine for either, which a client must not reach.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use codexos_runtime::{
    valid_dataset_name, DatasetInfo, DatasetView, EvalCase, EvalOptions, EvalProgress, EvalReport,
    EvalSummary,
};
use serde::Deserialize;

use super::api::{
    effective_role, library_flow, refuse_unless, run_options, ApiResult, Caller, Workspace,
};
use super::roles::{Permission, WORKSPACE};
use super::{stream, ApiError, Team};

/// Evals listed at most.
const LISTED: u32 = 200;

/// 400 unless `name` names a dataset (not a path).
fn dataset_name(name: &str) -> ApiResult<&str> {
    if valid_dataset_name(name) {
        Ok(name)
    } else {
        Err(ApiError::invalid(format!(
            "`{name}` is not a dataset name: letters, digits, `-`, `_` and `.` (not first), at most 80 — a server's datasets are named, not paths"
        )))
    }
}

/// `name` when it is one of the workspace's datasets — never a file the
/// engine would find elsewhere by that name — else 400 or 404.
fn workspace_dataset<'a>(ws: &Workspace, name: &'a str) -> ApiResult<&'a str> {
    dataset_name(name)?;
    if ws.runtime.home_dataset_path(name).is_none() {
        return Err(ApiError::not_found(format!(
            "the workspace has no dataset `{name}` — create it (Evals → Import, or POST …/datasets)"
        )));
    }
    Ok(name)
}

/// A dataset as a client sees it: its name, not the server's path.
fn named(mut info: DatasetInfo) -> DatasetInfo {
    info.path.clone_from(&info.name);
    info
}

/// A new dataset's file.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatasetBody {
    /// Its name (letters, digits, `-`, `_`, `.`).
    name: String,
    /// `jsonl` (one case per line) or `csv` (a header row).
    format: String,
    /// The file's text.
    text: String,
}

/// A stored run added to a dataset.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseBody {
    /// The run.
    run: String,
    /// The expected output as JSON (or plain text); the run's output when
    /// absent.
    #[serde(default)]
    expected: Option<String>,
}

/// An eval of a flow.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct EvalBody {
    /// The workspace's dataset to run over.
    dataset: String,
    /// Runs per case (default 1, at most 100).
    #[serde(default)]
    repeat: Option<u32>,
    /// An eval of the workspace to compare with (its id or a unique prefix).
    #[serde(default)]
    baseline: Option<String>,
    /// Answer every call from the baseline's recording (no model, no key).
    #[serde(default)]
    replay: bool,
    /// Scorer specs (`exact`, `contains:field`, `judge:RUBRIC` …).
    #[serde(default)]
    scorers: Vec<String>,
    /// `METRIC=VALUE` limits of the verdict.
    #[serde(default)]
    thresholds: Vec<String>,
    /// The project the runs work on.
    #[serde(default)]
    project: Option<String>,
}

/// `?flow=` of the evals listed.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct EvalsQuery {
    /// Only this flow's evals.
    flow: Option<String>,
}

/// `GET …/datasets`.
async fn datasets(Extension(ws): Extension<Workspace>) -> ApiResult<Json<Vec<DatasetInfo>>> {
    Ok(Json(
        ws.runtime.datasets()?.into_iter().map(named).collect(),
    ))
}

/// `GET …/datasets/{dataset}`: its cases.
async fn dataset(
    Extension(ws): Extension<Workspace>,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<Json<DatasetView>> {
    let mut view = ws.runtime.dataset(workspace_dataset(&ws, &name)?)?;
    view.path.clone_from(&view.name);
    Ok(Json(view))
}

/// `POST …/datasets`: a new dataset from a file's text (checked as the
/// engine reads it; a name taken is refused).
async fn create_dataset(
    Extension(ws): Extension<Workspace>,
    Json(body): Json<DatasetBody>,
) -> ApiResult<(StatusCode, Json<DatasetInfo>)> {
    let name = dataset_name(&body.name)?.to_owned();
    if !matches!(body.format.as_str(), "jsonl" | "csv") {
        return Err(ApiError::invalid(format!(
            "format `{}`: use jsonl or csv",
            body.format
        )));
    }
    let runtime = Arc::clone(&ws.runtime);
    let made = tokio::task::spawn_blocking(move || {
        let folder = tempfile::tempdir().map_err(|error| {
            ApiError::internal(format!("cannot make a temporary folder: {error}"))
        })?;
        let file = folder.path().join(format!("{name}.{}", body.format));
        std::fs::write(&file, body.text)
            .map_err(|error| ApiError::internal(format!("cannot write the dataset: {error}")))?;
        Ok::<_, ApiError>(runtime.import_dataset(&file, Some(&name))?)
    })
    .await
    .map_err(|error| ApiError::internal(error.to_string()))??;
    Ok((StatusCode::CREATED, Json(named(made))))
}

/// `DELETE …/datasets/{dataset}`.
async fn delete_dataset(
    Extension(ws): Extension<Workspace>,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    ws.runtime.delete_dataset(workspace_dataset(&ws, &name)?)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/datasets/{dataset}/runs`: a stored run as a case (the dataset
/// made when missing).
async fn add_run(
    Extension(ws): Extension<Workspace>,
    Path((_, name)): Path<(String, String)>,
    Json(body): Json<CaseBody>,
) -> ApiResult<(StatusCode, Json<EvalCase>)> {
    let case =
        ws.runtime
            .add_run_to_dataset(&body.run, dataset_name(&name)?, body.expected.as_deref())?;
    Ok((StatusCode::CREATED, Json(case)))
}

/// `GET …/evals`: the newest first.
async fn evals(
    Extension(ws): Extension<Workspace>,
    Query(query): Query<EvalsQuery>,
) -> ApiResult<Json<Vec<EvalSummary>>> {
    Ok(Json(ws.runtime.evals(query.flow.as_deref(), LISTED)?))
}

/// `GET …/evals/{eval}`: its report (the calls stay with its runs).
async fn report(
    Extension(ws): Extension<Workspace>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<EvalReport>> {
    Ok(Json(ws.runtime.eval_report(&id)?.without_calls()))
}

/// `GET …/evals/{eval}/baseline`: the report with its runs' recorded
/// calls, as a baseline file holds it (`codexos eval --baseline FILE`).
async fn baseline(
    Extension(ws): Extension<Workspace>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<EvalReport>> {
    Ok(Json(ws.runtime.eval_export(&id)?))
}

/// `DELETE …/evals/{eval}` (its runs stay): an edit of its flow, so a
/// grant on that flow holds.
async fn delete_eval(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let report = ws.runtime.eval_report(&id)?;
    let flow = report.flow;
    let role = effective_role(&team, &caller.account, &ws.name, Some(&flow))?
        .ok_or_else(|| ApiError::not_found(format!("no workspace `{}`", ws.name)))?;
    refuse_unless(&caller, &ws.name, Some(&flow), role, Permission::Edit)?;
    ws.runtime.delete_eval(&report.id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/flows/{flow}/evals`: the flow run over the dataset, each run
/// as the caller; `progress` after every run, then `done` with the report
/// or `error`. The client leaving cancels the eval.
async fn run_eval(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Path((_, flow)): Path<(String, String)>,
    Json(body): Json<EvalBody>,
) -> ApiResult<Response> {
    let path = library_flow(&ws, &flow)?;
    workspace_dataset(&ws, &body.dataset)?;
    // A baseline is one of the workspace's evals, by its whole id (which
    // names no file the engine could read instead).
    let baseline = match body.baseline.filter(|id| !id.trim().is_empty()) {
        Some(id) => {
            if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(ApiError::invalid(format!(
                    "baseline `{id}`: give one of the workspace's evals by id — a server's baselines are its evals, not files"
                )));
            }
            Some(ws.runtime.eval_report(&id)?.id)
        }
        None => None,
    };
    let (scorers, limits) = codexos_runtime::eval_specs(&body.scorers, &body.thresholds)
        .map_err(|error| ApiError::invalid(error.to_string()))?;
    // Where its runs' tools work, as a run's: the project's, else `work/`.
    let root = run_options(&ws, body.project.clone())?.root;
    let runtime = Arc::clone(&ws.runtime);
    let cancel = team.shutdown.child_token();
    let guard = cancel.clone().drop_guard();
    Ok(stream::spawned(
        Some(guard),
        caller.actor(),
        move |events| async move {
            let options = EvalOptions {
                dataset: body.dataset,
                repeat: body.repeat.unwrap_or(1).clamp(1, 100),
                baseline,
                replay: body.replay,
                scorers,
                limits,
                project: body.project,
                root,
                approver: None,
                on_progress: Some(Arc::new(move |progress: &EvalProgress| {
                    events.send("progress", progress);
                })),
            };
            let report = runtime.eval_flow(&path, options, cancel).await;
            stream::ending(report.map(|report| report.without_calls()))
        },
    ))
}

/// The routes of datasets and evals (a dataset's text may be as large as an
/// upload).
pub(crate) fn routes(max_upload: usize) -> Router<Arc<Team>> {
    let w = |tail: &str| format!("{WORKSPACE}{tail}");
    Router::new()
        .route(
            &w("/datasets"),
            get(datasets)
                .post(create_dataset)
                .layer(DefaultBodyLimit::max(max_upload)),
        )
        .route(
            &w("/datasets/{dataset}"),
            get(dataset).delete(delete_dataset),
        )
        .route(&w("/datasets/{dataset}/runs"), post(add_run))
        .route(&w("/evals"), get(evals))
        .route(&w("/evals/{eval}"), get(report).delete(delete_eval))
        .route(&w("/evals/{eval}/baseline"), get(baseline))
        .route(&w("/flows/{flow}/evals"), post(run_eval))
}
