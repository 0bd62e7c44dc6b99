//! Evals in the app: datasets of the data home, a run added to one from the
//! run inspector, an eval started with progress, and the stored reports —
//! the same runtime calls as `codexos eval`, `evals …` and `datasets …`;
//! while a server's workspace is open, its datasets and evals there.

#![allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use std::path::{Path, PathBuf};
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
pub async fn datasets(state: State<'_, AppState>) -> Result<Vec<DatasetInfo>, IpcError> {
    if let Some(remote) = state.remote() {
        return Ok(remote.client.datasets(&remote.workspace).await?);
    }
    Ok(state.runtime()?.datasets()?)
}

/// One dataset's cases.
#[tauri::command]
#[specta::specta]
pub async fn dataset(state: State<'_, AppState>, name: String) -> Result<DatasetView, IpcError> {
    if let Some(remote) = state.remote() {
        return Ok(remote.client.dataset(&remote.workspace, &name).await?);
    }
    Ok(state.runtime()?.dataset(&name)?)
}

/// Adds a stored run to a dataset (created when missing): its input, and
/// its output as `expected` unless `expected` (JSON) is given.
#[tauri::command]
#[specta::specta]
pub async fn dataset_add_run(
    state: State<'_, AppState>,
    run_id: String,
    dataset: String,
    expected: Option<String>,
) -> Result<EvalCase, IpcError> {
    if let Some(remote) = state.remote() {
        let case = remote
            .client
            .add_run_to_dataset(&remote.workspace, &dataset, &run_id, expected.as_deref())
            .await?;
        return Ok(case);
    }
    Ok(state
        .runtime()?
        .add_run_to_dataset(&run_id, &dataset, expected.as_deref())?)
}

/// Copies a JSONL or CSV file into the data home as a dataset.
#[tauri::command]
#[specta::specta]
pub async fn dataset_import(
    state: State<'_, AppState>,
    path: String,
    name: Option<String>,
) -> Result<Vec<DatasetInfo>, IpcError> {
    let name = name.filter(|name| !name.trim().is_empty());
    if let Some(remote) = state.remote() {
        let file = PathBuf::from(path.trim());
        let (stem, format, text) = dataset_file(&file)?;
        let name = name.unwrap_or(stem);
        let client = &remote.client;
        client
            .create_dataset(&remote.workspace, name.trim(), format, &text)
            .await?;
        return Ok(client.datasets(&remote.workspace).await?);
    }
    let runtime = state.runtime()?;
    runtime.import_dataset(&PathBuf::from(path.trim()), name.as_deref())?;
    Ok(runtime.datasets()?)
}

/// Deletes a dataset of the data home.
#[tauri::command]
#[specta::specta]
pub async fn dataset_delete(
    state: State<'_, AppState>,
    name: String,
) -> Result<Vec<DatasetInfo>, IpcError> {
    if let Some(remote) = state.remote() {
        remote
            .client
            .delete_dataset(&remote.workspace, &name)
            .await?;
        return Ok(remote.client.datasets(&remote.workspace).await?);
    }
    let runtime = state.runtime()?;
    runtime.delete_dataset(&name)?;
    Ok(runtime.datasets()?)
}

/// The newest evals, of one flow when given.
#[tauri::command]
#[specta::specta]
pub async fn evals(
    state: State<'_, AppState>,
    flow: Option<String>,
) -> Result<Vec<EvalSummary>, IpcError> {
    if let Some(remote) = state.remote() {
        let listed = remote.client.evals(&remote.workspace, flow.as_deref());
        return Ok(listed.await?);
    }
    Ok(state.runtime()?.evals(flow.as_deref(), 200)?)
}

/// A stored eval's report.
#[tauri::command]
#[specta::specta]
pub async fn eval_report(state: State<'_, AppState>, id: String) -> Result<EvalReport, IpcError> {
    if let Some(remote) = state.remote() {
        return Ok(remote.client.eval_report(&remote.workspace, &id).await?);
    }
    Ok(state.runtime()?.eval_report(&id)?)
}

/// Writes a stored eval as a baseline file (with its runs' recorded calls)
/// for `codexos eval --baseline FILE` or the CI check.
#[tauri::command]
#[specta::specta]
pub async fn eval_export(
    state: State<'_, AppState>,
    id: String,
    path: String,
) -> Result<String, IpcError> {
    let path = PathBuf::from(path.trim());
    if let Some(remote) = state.remote() {
        let report = remote.client.eval_baseline(&remote.workspace, &id).await?;
        write_baseline(&path, &report)?;
        return Ok(path.to_string_lossy().into_owned());
    }
    state.runtime()?.export_eval_file(&id, &path)?;
    Ok(path.to_string_lossy().into_owned())
}

/// Deletes a stored eval (its runs stay).
#[tauri::command]
#[specta::specta]
pub async fn eval_delete(
    state: State<'_, AppState>,
    id: String,
) -> Result<Vec<EvalSummary>, IpcError> {
    if let Some(remote) = state.remote() {
        remote.client.delete_eval(&remote.workspace, &id).await?;
        return Ok(remote.client.evals(&remote.workspace, None).await?);
    }
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
    if let Some(remote) = state.remote() {
        let cancel = state.requests.start(&request_id);
        let report = remote_eval(&remote, request, &on_progress, &cancel).await;
        state.requests.finish(&request_id);
        return report;
    }
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

/// A dataset file of this machine for a server: its name (the file's
/// stem), format and text.
fn dataset_file(file: &Path) -> Result<(String, &'static str, String), IpcError> {
    let format = match file.extension().and_then(|extension| extension.to_str()) {
        Some(extension) if extension.eq_ignore_ascii_case("csv") => "csv",
        Some(extension) if extension.eq_ignore_ascii_case("jsonl") => "jsonl",
        _ => {
            return Err(invalid(format!(
                "{} is not a dataset file: give a .jsonl (one case per line) or .csv file",
                file.display()
            )))
        }
    };
    let text = std::fs::read_to_string(file)
        .map_err(|error| invalid(format!("cannot read {}: {error}", file.display())))?;
    let stem = file
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((stem, format, text))
}

/// Writes a server's baseline to `path` (whole or not at all).
fn write_baseline(path: &Path, report: &serde_json::Value) -> Result<(), IpcError> {
    let failed =
        |error: std::io::Error| invalid(format!("cannot write {}: {error}", path.display()));
    let text = serde_json::to_string_pretty(report)
        .map_err(|error| IpcError::internal(&error.to_string()))?;
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, text).map_err(failed)?;
    std::fs::rename(&partial, path).map_err(failed)
}

/// An eval of the server's workspace: the flow picked is one of its flows
/// (by its address or name), the runs made there.
async fn remote_eval(
    remote: &crate::remote::Remote,
    request: EvalRequest,
    on_progress: &Channel<EvalProgress>,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<EvalReport, IpcError> {
    let flows = remote.library().await?;
    let flow = flows
        .iter()
        .find(|entry| entry.path == request.flow)
        .map_or(request.flow.clone(), |entry| entry.name.clone());
    let eval = codexos_server::team::client::RemoteEval {
        dataset: request.dataset,
        repeat: request.repeat.clamp(1, 100),
        baseline: request.baseline.filter(|id| !id.is_empty()),
        replay: request.replay,
        scorers: request.scorers,
        thresholds: request.thresholds,
        project: request.project,
    };
    let progress = |progress: EvalProgress| {
        on_progress.send(progress).ok();
    };
    Ok(remote
        .client
        .run_eval(&remote.workspace, &flow, &eval, &progress, cancel)
        .await?)
}
