//! Tauri commands of the flow canvas: the flow library, save with version
//! history, the live check, runs with their event stream, run history and
//! the recorded events for the replay timeline.
#![expect(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use codexos_runtime::{
    DeletedFlow, Flow, FlowEntry, FlowProblem, FlowRunOptions, FlowVersion, ReplayReport,
    RunComparison, RunDetail, RunEvent, RunOutcome, RunSummary,
};
use serde::Serialize;
use serde_json::Value;
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::{send, IpcError};
use crate::AppState;

/// A saved flow.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FlowSaved {
    /// Its file.
    pub path: String,
    /// The version that holds it.
    pub version: u32,
    /// What the check finds in it.
    pub problems: Vec<FlowProblem>,
}

/// The flows folder's files (the examples are installed on first use).
#[tauri::command]
#[specta::specta]
pub async fn flow_library(state: State<'_, AppState>) -> Result<Vec<FlowEntry>, IpcError> {
    if let Some(remote) = state.remote() {
        return remote.library().await;
    }
    Ok(state.runtime()?.flow_library()?)
}

/// Checks a flow as edited (the canvas calls it on every change).
#[tauri::command]
#[specta::specta]
pub async fn flow_check(
    state: State<'_, AppState>,
    flow: Flow,
) -> Result<Vec<FlowProblem>, IpcError> {
    if let Some(remote) = state.remote() {
        return remote.check(&flow).await;
    }
    let runtime = state.runtime()?;
    let base = runtime.home().flows();
    Ok(runtime.check_flow(&flow, Some(&base)))
}

/// Saves a flow to the flows folder, recording a version when it changed.
#[tauri::command]
#[specta::specta]
pub async fn flow_save(state: State<'_, AppState>, flow: Flow) -> Result<FlowSaved, IpcError> {
    if let Some(remote) = state.remote() {
        return remote.save(&flow).await;
    }
    let runtime = state.runtime()?;
    let (path, version) = runtime.save_flow(&flow)?;
    let problems = runtime.check_flow(&flow, path.parent());
    Ok(FlowSaved {
        path: path.to_string_lossy().into_owned(),
        version,
        problems,
    })
}

/// The JSON Schema of flow files (the inspector's forms are generated from
/// it), as JSON text.
#[tauri::command]
#[specta::specta]
pub fn flow_schema() -> String {
    codexos_runtime::flow_schema().to_string()
}

/// Creates a flow in the flows folder: blank, or a copy of the library flow
/// `from` (new from an example, duplicate).
#[tauri::command]
#[specta::specta]
pub async fn flow_create(
    state: State<'_, AppState>,
    name: String,
    from: Option<String>,
) -> Result<FlowEntry, IpcError> {
    if let Some(remote) = state.remote() {
        return remote.create(&name, from.as_deref()).await;
    }
    Ok(state.runtime()?.create_flow(&name, from.as_deref())?)
}

/// Renames a library flow (its file and the name inside it).
#[tauri::command]
#[specta::specta]
pub fn flow_rename(
    state: State<'_, AppState>,
    from: String,
    to: String,
) -> Result<FlowEntry, IpcError> {
    if state.remote().is_some() {
        return Err(crate::remote::only_here(
            "Renaming (duplicate it under the new name, then delete it)",
        ));
    }
    Ok(state.runtime()?.rename_flow(&from, &to)?)
}

/// Moves a library flow to the trash (undo: `flow_restore`).
#[tauri::command]
#[specta::specta]
pub async fn flow_delete(
    state: State<'_, AppState>,
    name: String,
) -> Result<DeletedFlow, IpcError> {
    if let Some(remote) = state.remote() {
        return remote.delete(&name).await;
    }
    Ok(state.runtime()?.delete_flow(&name)?)
}

/// Brings a deleted flow back from the trash.
#[tauri::command]
#[specta::specta]
pub async fn flow_restore(
    state: State<'_, AppState>,
    trash: String,
) -> Result<FlowEntry, IpcError> {
    if let Some(remote) = state.remote() {
        return remote.restore(&trash).await;
    }
    Ok(state.runtime()?.restore_flow(&trash)?)
}

/// Flows whose file was deleted outside the app (their history kept).
#[tauri::command]
#[specta::specta]
pub fn flows_missing(
    state: State<'_, AppState>,
) -> Result<Vec<codexos_runtime::MissingFlow>, IpcError> {
    // A server's flows are not files on this machine.
    if state.remote().is_some() {
        return Ok(Vec::new());
    }
    Ok(state.runtime()?.missing_flows()?)
}

/// Writes a missing flow's newest saved version back to the flows folder.
#[tauri::command]
#[specta::specta]
pub async fn flow_restore_missing(
    state: State<'_, AppState>,
    name: String,
) -> Result<FlowEntry, IpcError> {
    if let Some(remote) = state.remote() {
        return remote.restore(&name).await;
    }
    Ok(state.runtime()?.restore_missing_flow(&name)?)
}

/// Saves and runs a flow, streaming its events.
#[tauri::command]
#[specta::specta]
pub async fn flow_run(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    request_id: String,
    flow: Flow,
    input: String,
    project: Option<String>,
    on_event: Channel<RunEvent>,
) -> Result<RunOutcome, IpcError> {
    let input = json(&input, "the run's input")?;
    if let Some(remote) = state.remote() {
        return remote
            .run(&state, &request_id, &flow, input, on_event)
            .await;
    }
    let runtime = state.runtime()?;
    let (path, _) = runtime.save_flow(&flow)?;
    let cancel = state.requests.start(&request_id);
    let mut options = live(on_event, project);
    options.approver = Some(crate::tools::DialogApprover::for_window(app, &state));
    options.root = tools_root(&runtime, options.project.as_ref());
    let outcome = runtime.run_flow_file(&path, input, options, cancel).await;
    state.requests.finish(&request_id);
    Ok(outcome?)
}

/// Where tools work for a run started from the app: the project's folder
/// (`None`: the runtime finds it), or with no project the flows folder —
/// never whatever folder the app happened to be started from.
pub(crate) fn tools_root(
    runtime: &codexos_runtime::Runtime,
    project: Option<&String>,
) -> Option<PathBuf> {
    project.is_none().then(|| runtime.home().flows())
}

/// JSON text from the UI (a typed `serde_json::Value` parameter cannot be
/// exported to TypeScript).
fn json(text: &str, what: &str) -> Result<Value, IpcError> {
    serde_json::from_str(text).map_err(|error| IpcError {
        code: codexos_runtime::ErrorCode::InvalidInput,
        message: format!("{what} is not valid JSON: {error}"),
        details: None,
    })
}

fn live(channel: Channel<RunEvent>, project: Option<String>) -> FlowRunOptions {
    FlowRunOptions {
        on_event: Some(Arc::new(move |event: &RunEvent| {
            send(&channel, event.clone());
        })),
        project,
        root: None::<PathBuf>,
        answers: BTreeMap::new(),
        approver: None,
        budget: None,
        trace_parent: None,
        replay: None,
    }
}

/// Continues a paused or interrupted run; `answer` answers the waiting
/// human node (`{"approved": true}` or a value).
#[tauri::command]
#[specta::specta]
pub async fn run_resume(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    request_id: String,
    run_id: String,
    answer: Option<String>,
    on_event: Channel<RunEvent>,
) -> Result<RunOutcome, IpcError> {
    let answer = answer.map(|text| json(&text, "the answer")).transpose()?;
    if let Some(remote) = state.remote() {
        return remote
            .resume(&state, &request_id, &run_id, answer, on_event)
            .await;
    }
    let runtime = state.runtime()?;
    let mut options = live(on_event, None);
    options.approver = Some(crate::tools::DialogApprover::for_window(app, &state));
    let cancel = state.requests.start(&request_id);
    let outcome = runtime.resume_run(&run_id, answer, options, cancel).await;
    state.requests.finish(&request_id);
    Ok(outcome?)
}

/// The newest runs (of one flow).
#[tauri::command]
#[specta::specta]
pub async fn runs(
    state: State<'_, AppState>,
    flow: Option<String>,
) -> Result<Vec<RunSummary>, IpcError> {
    if let Some(remote) = state.remote() {
        return remote.runs(flow.as_deref()).await;
    }
    Ok(state.runtime()?.runs(flow.as_deref(), 50)?)
}

/// A run with its stored events (the replay timeline steps through them).
#[tauri::command]
#[specta::specta]
pub async fn run_detail(state: State<'_, AppState>, run_id: String) -> Result<RunDetail, IpcError> {
    if let Some(remote) = state.remote() {
        return remote.run_detail(&run_id).await;
    }
    Ok(state.runtime()?.run_detail(&run_id)?)
}

/// Two stored runs side by side, node by node, with the first node where
/// they part ways (any two runs: other flow versions, models or inputs).
#[tauri::command]
#[specta::specta]
pub async fn run_compare(
    state: State<'_, AppState>,
    a: String,
    b: String,
) -> Result<RunComparison, IpcError> {
    if let Some(remote) = state.remote() {
        return remote.compare(&a, &b).await;
    }
    // Off the main thread: two large runs take a while to read.
    let runtime = state.runtime()?;
    let comparison = tokio::task::spawn_blocking(move || runtime.compare_runs(&a, &b))
        .await
        .map_err(|error| IpcError::internal(&error.to_string()))?;
    Ok(comparison?)
}

/// Re-executes a stored run: from its recording (offline, no model and no
/// network; `live` false) or live, optionally on another `model`, and
/// compares it with the recording node by node.
#[tauri::command]
#[specta::specta]
pub async fn run_replay(
    state: State<'_, AppState>,
    request_id: String,
    run_id: String,
    live: bool,
    model: Option<String>,
    on_event: Channel<RunEvent>,
) -> Result<ReplayReport, IpcError> {
    if let Some(remote) = state.remote() {
        return remote
            .replay(
                &state,
                &request_id,
                &run_id,
                model.as_deref(),
                live,
                on_event,
            )
            .await;
    }
    let runtime = state.runtime()?;
    let cancel = state.requests.start(&request_id);
    let sink: Arc<dyn Fn(&RunEvent) + Send + Sync> = Arc::new(move |event: &RunEvent| {
        send(&on_event, event.clone());
    });
    let report = if live {
        runtime
            .diff_run(
                &run_id,
                model.as_deref(),
                FlowRunOptions {
                    on_event: Some(sink),
                    ..FlowRunOptions::default()
                },
                cancel,
            )
            .await
    } else {
        runtime.replay_run(&run_id, Some(sink), cancel).await
    };
    state.requests.finish(&request_id);
    Ok(report?)
}

/// A new run from the state just before `node` ran in a stored run, with
/// `edits` (a JSON object of state key → value) applied.
#[tauri::command]
#[specta::specta]
pub async fn run_fork(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    request_id: String,
    run_id: String,
    node: String,
    edits: String,
    on_event: Channel<RunEvent>,
) -> Result<RunOutcome, IpcError> {
    let edits: BTreeMap<String, Value> = match json(&edits, "the state edits")? {
        Value::Object(map) => map.into_iter().collect(),
        _ => {
            return Err(IpcError {
                code: codexos_runtime::ErrorCode::InvalidInput,
                message: "the state edits must be a JSON object of state key → value".into(),
                details: None,
            })
        }
    };
    if let Some(remote) = state.remote() {
        return remote
            .fork_run(&state, &request_id, &run_id, &node, edits, on_event)
            .await;
    }
    let runtime = state.runtime()?;
    let mut options = live(on_event, None);
    options.approver = Some(crate::tools::DialogApprover::for_window(app, &state));
    let cancel = state.requests.start(&request_id);
    let outcome = runtime
        .fork_run(&run_id, &node, edits, options, cancel)
        .await;
    state.requests.finish(&request_id);
    Ok(outcome?)
}

/// A flow's saved versions, oldest first (empty for a flow never saved or run).
#[tauri::command]
#[specta::specta]
pub async fn flow_versions(
    state: State<'_, AppState>,
    name: String,
) -> Result<Vec<FlowVersion>, IpcError> {
    if let Some(remote) = state.remote() {
        return remote.versions(&name).await;
    }
    Ok(state.runtime()?.flow_versions(&name)?)
}

/// A unified diff of two versions of a flow's file.
#[tauri::command]
#[specta::specta]
pub async fn flow_diff(
    state: State<'_, AppState>,
    name: String,
    from: u32,
    to: u32,
) -> Result<String, IpcError> {
    if let Some(remote) = state.remote() {
        return remote.diff(&name, from, to).await;
    }
    Ok(state.runtime()?.flow_diff(&name, from, Some(to))?)
}

/// Writes an old version back to the flow's file, recorded as the newest
/// version; returns the flow as now on disk.
#[tauri::command]
#[specta::specta]
pub async fn flow_rollback(
    state: State<'_, AppState>,
    name: String,
    version: u32,
) -> Result<FlowEntry, IpcError> {
    if let Some(remote) = state.remote() {
        return remote.rollback(&name, version).await;
    }
    Ok(state.runtime()?.rollback_library_flow(&name, version)?)
}
