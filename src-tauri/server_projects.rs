//! The projects panel while a server's workspace is open: a folder of this
//! machine (or a cloned git URL) uploaded there and indexed there, its
//! indexed files listed and previewed, a project removed — the same types
//! as on this machine.

#![allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use codexos_runtime::{ErrorCode, FilePreview, IngestProgress, IngestReport, ProjectFile};
use codexos_server::team::client::project_name_for;
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::{send, IpcError};
use crate::remote::Remote;
use crate::AppState;

pub(crate) fn open(state: &AppState) -> Result<Remote, IpcError> {
    state.remote().ok_or_else(|| IpcError {
        code: ErrorCode::InvalidInput,
        message: "no server's workspace is open — pick one in the header's switcher".to_owned(),
        details: None,
    })
}

/// Uploads a folder (or a git URL, cloned here first) into a project of the
/// open server workspace — only the files that changed since the last
/// upload — and ingests it there, streaming the upload's and the ingest's
/// progress. Without `path`, ingests the project's uploaded files again.
#[tauri::command]
#[specta::specta]
pub async fn workspace_ingest(
    state: State<'_, AppState>,
    request_id: String,
    path: Option<String>,
    project: Option<String>,
    on_event: Channel<IngestProgress>,
) -> Result<IngestReport, IpcError> {
    let remote = open(&state)?;
    let cancel = state.requests.start(&request_id);
    let progress = |event| send(&on_event, event);
    let ingested = async {
        if let Some(path) = path {
            let runtime = state.runtime()?;
            let folder = runtime.source_folder(&path, &|_, _| {}).await?;
            let name = project.unwrap_or_else(|| project_name_for(&folder));
            Ok(remote
                .client
                .upload_and_ingest(&remote.workspace, &folder, &name, &progress, &cancel)
                .await?)
        } else {
            let name = project.ok_or_else(|| IpcError {
                code: ErrorCode::InvalidInput,
                message: "name the project to ingest again, or give a folder".to_owned(),
                details: None,
            })?;
            Ok(remote
                .client
                .ingest_uploaded(&remote.workspace, &name, &progress, &cancel)
                .await?)
        }
    }
    .await;
    state.requests.finish(&request_id);
    ingested
}

/// The indexed files of a project of the open server workspace.
#[tauri::command]
#[specta::specta]
pub async fn workspace_project_files(
    state: State<'_, AppState>,
    project: String,
) -> Result<Vec<ProjectFile>, IpcError> {
    let remote = open(&state)?;
    Ok(remote
        .client
        .project_files(&remote.workspace, &project)
        .await?)
}

/// The text of a file of a project of the open server workspace.
#[tauri::command]
#[specta::specta]
pub async fn workspace_file_preview(
    state: State<'_, AppState>,
    project: String,
    path: String,
) -> Result<FilePreview, IpcError> {
    let remote = open(&state)?;
    Ok(remote
        .client
        .file_preview(&remote.workspace, &project, &path)
        .await?)
}

/// Removes a project of the open server workspace (its index and uploaded
/// files there); returns the chunks deleted.
#[tauri::command]
#[specta::specta]
pub async fn workspace_project_remove(
    state: State<'_, AppState>,
    name: String,
) -> Result<u32, IpcError> {
    let remote = open(&state)?;
    Ok(remote
        .client
        .remove_project(&remote.workspace, &name)
        .await?)
}
