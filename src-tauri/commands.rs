//! The Tauri commands: typed input → runtime → typed output or [`IpcError`].
#![expect(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use codexos_runtime::{
    Answer, AskEvent, AskOptions, ErrorCode, FilePreview, IngestProgress, IngestReport,
    ProjectFile, ProjectSummary, Runtime, SearchHit, SearchRequest, WatchEvent, WatchInfo,
};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tauri_specta::Event as _;
use tokio_util::sync::CancellationToken;

use crate::AppState;

/// An error as the UI sees it.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct IpcError {
    /// Stable code.
    pub code: ErrorCode,
    /// One-line message naming the problem and the fix.
    pub message: String,
    /// The chain of causes, when there is more to say.
    pub details: Option<String>,
}

impl From<&codexos_runtime::Error> for IpcError {
    fn from(error: &codexos_runtime::Error) -> Self {
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        Self {
            code: error.code(),
            message: error.to_string(),
            details: (!causes.is_empty()).then(|| causes.join("\n")),
        }
    }
}

impl IpcError {
    /// An internal failure outside the runtime (a task that panicked).
    #[must_use]
    pub fn internal(message: &str) -> Self {
        Self {
            code: ErrorCode::Internal,
            message: message.to_owned(),
            details: None,
        }
    }
}

impl From<codexos_runtime::Error> for IpcError {
    fn from(error: codexos_runtime::Error) -> Self {
        Self::from(&error)
    }
}

/// In-flight requests that the UI can cancel, by the id it chose.
#[derive(Default)]
pub struct Requests(Mutex<HashMap<String, CancellationToken>>);

impl Requests {
    pub(crate) fn start(&self, id: &str) -> CancellationToken {
        let token = CancellationToken::new();
        self.lock().insert(id.to_owned(), token.clone());
        token
    }

    pub(crate) fn finish(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl AppState {
    pub(crate) fn runtime(&self) -> Result<Arc<Runtime>, IpcError> {
        self.runtime.clone()
    }
}

pub(crate) fn send<T: tauri::ipc::IpcResponse>(channel: &Channel<T>, event: T) {
    if let Err(error) = channel.send(event) {
        tracing::debug!(%error, "the window stopped listening");
    }
}

/// A watched project was re-indexed after a change on disk.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct ProjectUpdated {
    /// What the re-index did.
    pub report: IngestReport,
}

/// A project's folder is no longer watched (unwatched, or the watch failed).
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct WatchStopped {
    /// Project name.
    pub project: String,
    /// Why, when it failed.
    pub error: Option<IpcError>,
}

/// Tells the window about a background watch of a freshly ingested folder.
fn keep_watching(app: &AppHandle, runtime: &Arc<Runtime>, report: &IngestReport) {
    let app = app.clone();
    runtime.keep_watching(report, move |event| {
        let sent = match event {
            WatchEvent::Updated(report) => ProjectUpdated { report }.emit(&app),
            WatchEvent::Stopped { project, error } => WatchStopped {
                project,
                error: error.as_ref().map(IpcError::from),
            }
            .emit(&app),
        };
        if let Err(error) = sent {
            tracing::debug!(%error, "no window to tell about a watch");
        }
    });
}

/// Folders being watched.
#[tauri::command]
#[specta::specta]
pub fn watches(state: State<'_, AppState>) -> Result<Vec<WatchInfo>, IpcError> {
    Ok(state.runtime()?.watched())
}

/// Stops watching a project's folder; `false` when it was not watched.
#[tauri::command]
#[specta::specta]
pub fn unwatch(state: State<'_, AppState>, project: String) -> Result<bool, IpcError> {
    Ok(state.runtime()?.unwatch(&project))
}

/// Removes a project (chunks, vectors, file ledger, watch; not the folder);
/// returns the chunks deleted.
#[tauri::command]
#[specta::specta]
pub async fn project_remove(state: State<'_, AppState>, name: String) -> Result<u32, IpcError> {
    let chunks = state.runtime()?.remove_project(&name).await?;
    Ok(u32::try_from(chunks).unwrap_or(u32::MAX))
}

/// The newest lines of the app's log that pass the filters (Settings → Logs).
#[tauri::command]
#[specta::specta]
pub fn logs(
    state: State<'_, AppState>,
    query: codexos_runtime::logging::LogQuery,
) -> Result<Vec<codexos_runtime::logging::LogLine>, IpcError> {
    Ok(codexos_runtime::logging::read_log(
        state.runtime()?.home(),
        "desktop",
        &query,
    )?)
}

/// What the app shows about its data home.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AppInfo {
    /// Data home folder.
    pub home: String,
    /// Models folder.
    pub models: String,
    /// Default chat model.
    pub chat_model: String,
    /// Version of the app.
    pub version: String,
}

/// The data home and defaults.
#[tauri::command]
#[specta::specta]
pub fn app_info(state: State<'_, AppState>) -> Result<AppInfo, IpcError> {
    let runtime = state.runtime()?;
    Ok(AppInfo {
        home: runtime.home().root().to_string_lossy().into_owned(),
        models: runtime.home().models().to_string_lossy().into_owned(),
        chat_model: runtime.config().models.chat.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// When the process started, for [`ui_painted`].
pub(crate) static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// The window painted its first frame (the UI calls this once, after its
/// first render). Logged with the time since the process started; with
/// `CODEXOS_EXIT_WHEN_PAINTED=1` (the start-up benchmark) it also prints
/// `painted MS` and ends the app.
#[tauri::command]
#[specta::specta]
pub fn ui_painted(app: AppHandle) {
    let elapsed = STARTED
        .get()
        .map_or(0, |started| started.elapsed().as_millis() as u64);
    tracing::info!(elapsed_ms = elapsed, "first window frame painted");
    if std::env::var_os("CODEXOS_EXIT_WHEN_PAINTED").is_some() {
        #[allow(
            clippy::print_stdout,
            reason = "the start-up benchmark reads this line from the app's stdout"
        )]
        {
            println!("painted {elapsed}");
        }
        app.exit(0);
    }
}

/// Ingested projects.
#[tauri::command]
#[specta::specta]
pub fn projects(state: State<'_, AppState>) -> Result<Vec<ProjectSummary>, IpcError> {
    Ok(state.runtime()?.projects()?)
}

/// Ingests a folder (dropped or typed) or a git URL (cloned into the data
/// home first), streaming progress, then keeps watching it for changes.
#[tauri::command]
#[specta::specta]
pub async fn ingest(
    app: AppHandle,
    state: State<'_, AppState>,
    request_id: String,
    path: String,
    project: Option<String>,
    on_event: Channel<IngestProgress>,
) -> Result<IngestReport, IpcError> {
    let runtime = state.runtime()?;
    let folder = runtime.source_folder(&path, &|_, _| {}).await?;
    let cancel = state.requests.start(&request_id);
    let report = runtime
        .ingest(
            &folder,
            project.as_deref(),
            &|event| send(&on_event, event),
            &cancel,
        )
        .await;
    state.requests.finish(&request_id);
    let report = report?;
    keep_watching(&app, &runtime, &report);
    Ok(report)
}

/// The kinds of dropped paths, in order, so the window sends folders,
/// files and models each their own way.
#[tauri::command]
#[specta::specta]
pub fn path_kinds(paths: Vec<String>) -> Vec<codexos_runtime::PathKind> {
    paths
        .iter()
        .map(|path| codexos_runtime::path_kind(path.as_ref()))
        .collect()
}

/// Ingests dropped single files into the project `files`, streaming
/// progress; refused files come back with their reasons.
#[tauri::command]
#[specta::specta]
pub async fn ingest_files(
    state: State<'_, AppState>,
    request_id: String,
    paths: Vec<String>,
    on_event: Channel<IngestProgress>,
) -> Result<codexos_runtime::DroppedFiles, IpcError> {
    let runtime = state.runtime()?;
    let paths: Vec<std::path::PathBuf> = paths.into_iter().map(Into::into).collect();
    let cancel = state.requests.start(&request_id);
    let dropped = runtime
        .ingest_files(&paths, &|event| send(&on_event, event), &cancel)
        .await;
    state.requests.finish(&request_id);
    Ok(dropped?)
}

/// The indexed files of a project.
#[tauri::command]
#[specta::specta]
pub fn project_files(
    state: State<'_, AppState>,
    project: String,
) -> Result<Vec<ProjectFile>, IpcError> {
    Ok(state.runtime()?.project_files(&project)?)
}

/// The text of a project's file, for preview.
#[tauri::command]
#[specta::specta]
pub fn file_preview(
    state: State<'_, AppState>,
    project: String,
    path: String,
) -> Result<FilePreview, IpcError> {
    Ok(state.runtime()?.file_preview(&project, &path)?)
}

/// Searches the ingested projects: mode, filters (project, path glob,
/// kind, language, changed-since), revision and reranker in `request` —
/// the server's workspace's projects while one is open.
#[tauri::command]
#[specta::specta]
pub async fn search(
    state: State<'_, AppState>,
    query: String,
    request: SearchRequest,
) -> Result<Vec<SearchHit>, IpcError> {
    if let Some(remote) = state.remote() {
        return Ok(remote
            .client
            .search(&remote.workspace, &query, &request)
            .await?);
    }
    Ok(state.runtime()?.search(&query, &request).await?)
}

/// Answers a question, streaming tokens and the retrieved excerpts.
#[tauri::command]
#[specta::specta]
pub async fn ask(
    state: State<'_, AppState>,
    request_id: String,
    question: String,
    project: Option<String>,
    model: Option<String>,
    on_event: Channel<AskEvent>,
) -> Result<Answer, IpcError> {
    let runtime = state.runtime()?;
    let cancel = state.requests.start(&request_id);
    let options = AskOptions {
        project,
        model,
        ..AskOptions::default()
    };
    let answer = runtime
        .ask(
            &question,
            &options,
            &|event| send(&on_event, event),
            &cancel,
        )
        .await;
    state.requests.finish(&request_id);
    Ok(answer?)
}

/// Cancels a running ingest or ask; `false` when it already ended.
#[tauri::command]
#[specta::specta]
pub fn cancel(state: State<'_, AppState>, request_id: String) -> bool {
    let token = state.requests.lock().get(&request_id).cloned();
    token.is_some_and(|token| {
        token.cancel();
        true
    })
}
