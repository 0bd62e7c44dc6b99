//! Evals in the app: datasets of the data home, a run added to one from the
//! run inspector, an eval started with progress, and the stored reports —
//! the same runtime calls as `codexos eval`, `evals …` and `datasets …`.

#![allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use std::path::PathBuf;
use std::sync::Arc;

use codexos_runtime::{
    DatasetInfo, DatasetView, EvalCase, EvalOptions, EvalProgress, EvalReport, EvalSummary,
};
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::IpcError;
use crate::AppState;

fn invalid(message: String) -> IpcError {
    IpcError {
        code: codexos_runtime::ErrorCode::InvalidInput,
        message,
        details: None,
    }
}

/// The data home's datasets.
#[tauri::command]
#[specta::specta]
pub fn datasets(state: State<'_, AppState>) -> Result<Vec<DatasetInfo>, IpcError> {
    Ok(state.runtime()?.datasets()?)
}

/// One dataset's cases.
#[tauri::command]
#[specta::specta]
pub fn dataset(state: State<'_, AppState>, name: String) -> Result<DatasetView, IpcError> {
    Ok(state.runtime()?.dataset(&name)?)
}

/// Adds a stored run to a dataset (created when missing): its input, and
/// its output as `expected` unless `expected` (JSON) is given.
#[tauri::command]
#[specta::specta]
pub fn dataset_add_run(
    state: State<'_, AppState>,
    run_id: String,
    dataset: String,
    expected: Option<String>,
) -> Result<EvalCase, IpcError> {
    Ok(state
        .runtime()?
        .add_run_to_dataset(&run_id, &dataset, expected.as_deref())?)
}

/// Copies a JSONL or CSV file into the data home as a dataset.
#[tauri::command]
#[specta::specta]
pub fn dataset_import(
    state: State<'_, AppState>,
    path: String,
    name: Option<String>,
) -> Result<Vec<DatasetInfo>, IpcError> {
    let runtime = state.runtime()?;
    let name = name.filter(|name| !name.trim().is_empty());
    runtime.import_dataset(&PathBuf::from(path.trim()), name.as_deref())?;
    Ok(runtime.datasets()?)
}

/// Deletes a dataset of the data home.
#[tauri::command]
#[specta::specta]
pub fn dataset_delete(
    state: State<'_, AppState>,
    name: String,
) -> Result<Vec<DatasetInfo>, IpcError> {
    let runtime = state.runtime()?;
    runtime.delete_dataset(&name)?;
    Ok(runtime.datasets()?)
}

/// The newest evals, of one flow when given.
#[tauri::command]
#[specta::specta]
pub fn evals(
    state: State<'_, AppState>,
    flow: Option<String>,
) -> Result<Vec<EvalSummary>, IpcError> {
    Ok(state.runtime()?.evals(flow.as_deref(), 200)?)
}

/// A stored eval's report.
#[tauri::command]
#[specta::specta]
pub fn eval_report(state: State<'_, AppState>, id: String) -> Result<EvalReport, IpcError> {
    Ok(state.runtime()?.eval_report(&id)?)
}

/// Writes a stored eval as a baseline file (with its runs' recorded calls)
/// for `codexos eval --baseline FILE` or the CI check.
#[tauri::command]
#[specta::specta]
pub fn eval_export(
    state: State<'_, AppState>,
    id: String,
    path: String,
) -> Result<String, IpcError> {
    let path = PathBuf::from(path.trim());
    state.runtime()?.export_eval_file(&id, &path)?;
    Ok(path.to_string_lossy().into_owned())
}

/// Deletes a stored eval (its runs stay).
#[tauri::command]
#[specta::specta]
pub fn eval_delete(state: State<'_, AppState>, id: String) -> Result<Vec<EvalSummary>, IpcError> {
    let runtime = state.runtime()?;
    runtime.delete_eval(&id)?;
    Ok(runtime.evals(None, 200)?)
}

/// What the app's eval form sends.
#[derive(Debug, Clone, serde::Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct EvalRequest {
    /// The flow file (from the flow library).
    pub flow: String,
    /// A dataset name or file.
    pub dataset: String,
    /// Runs per case.
    pub repeat: u32,
    /// An eval id to compare with.
    pub baseline: Option<String>,
    /// Answer every call from the baseline's recording.
    pub replay: bool,
    /// Scorer specs, one per entry.
    pub scorers: Vec<String>,
    /// `METRIC=VALUE` limits.
    pub thresholds: Vec<String>,
    /// Project the runs work on.
    pub project: Option<String>,
}

/// Runs an eval, telling `on_progress` after every run.
#[tauri::command]
#[specta::specta]
pub async fn eval_run(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    request_id: String,
    request: EvalRequest,
    on_progress: Channel<EvalProgress>,
) -> Result<EvalReport, IpcError> {
    let runtime = state.runtime()?;
    let (scorers, limits) = codexos_runtime::eval_specs(&request.scorers, &request.thresholds)
        .map_err(|error| invalid(error.to_string()))?;
    let root = crate::flows::tools_root(&runtime, request.project.as_ref());
    let options = EvalOptions {
        dataset: request.dataset,
        repeat: request.repeat.clamp(1, 100),
        baseline: request.baseline.filter(|id| !id.is_empty()),
        replay: request.replay,
        scorers,
        limits,
        project: request.project,
        root,
        approver: Some(crate::tools::DialogApprover::for_window(app, &state)),
        on_progress: Some(Arc::new(move |progress: &EvalProgress| {
            on_progress.send(progress.clone()).ok();
        })),
    };
    let cancel = state.requests.start(&request_id);
    let report = runtime
        .eval_flow(&PathBuf::from(request.flow), options, cancel)
        .await;
    state.requests.finish(&request_id);
    Ok(report?.without_calls())
}
