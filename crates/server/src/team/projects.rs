//! A workspace's projects over the API: a folder's files uploaded into the
//! workspace's home on the server (zip batches; a client sends only what
//! changed, by the manifest of what is there), indexed there with progress
//! streamed back, listed, previewed and removed.
//!
//! Uploaded files live in `uploads/PROJECT/` of the workspace's home. A
//! project ingested on the server from one of its own folders (`codexos
//! ingest` there) is not written to over the API.

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::path::{Component, Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use codexos_runtime::{IngestProgress, Runtime};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Digest as _;
use tokio_util::sync::CancellationToken;

use super::api::{ApiResult, Caller, Workspace};
use super::roles::WORKSPACE;
use super::{lock, stream, ApiError, Team};

/// Largest file an upload takes, whatever the workspace's ingest limit.
const MOST_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Files in one upload batch, at most.
const MOST_BATCH_FILES: usize = 1_000;

/// Room kept in an upload request for the zip's headers of one file.
const ZIP_OVERHEAD: u64 = 64 * 1024;

/// A file of an uploaded project, as the server holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceFile {
    /// Path under the project's folder, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

/// What an uploaded project holds, and what an upload may send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceManifest {
    /// Its files (none for a project not uploaded yet).
    pub files: Vec<SourceFile>,
    /// Larger files are refused (the workspace's ingest limit, or what
    /// one upload request holds, whichever is smaller).
    pub max_file_bytes: u64,
    /// Largest upload request, in bytes; a batch also unpacks to at most
    /// this many bytes.
    pub max_upload_bytes: u64,
    /// Files in one upload request, at most.
    pub max_batch_files: u32,
}

/// What an upload wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Uploaded {
    /// Files written.
    pub written: u32,
    /// Their bytes.
    pub bytes: u64,
}

/// Files to remove from an uploaded project.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoveBody {
    /// Paths under the project's folder.
    paths: Vec<String>,
}

/// One file of a project.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewQuery {
    /// Path under the project's folder.
    path: String,
}

/// The folder of an uploaded project.
fn folder(ws: &Workspace, project: &str) -> PathBuf {
    ws.runtime.home().root().join("uploads").join(project)
}

/// `project`'s folder for an upload: refused when the project is indexed
/// from another folder of the server.
fn upload_folder(ws: &Workspace, project: &str) -> ApiResult<PathBuf> {
    let folder = folder(ws, project);
    // One row, not every project's counts: this runs for every batch.
    if let Some(known) = ws.runtime.store().project(project)? {
        let ours = std::fs::canonicalize(&folder).ok();
        if ours.as_deref() != Some(known.root.as_path()) {
            return Err(ApiError::conflict(format!(
                "the project `{project}` is indexed from {} on the server, not from uploads — upload under another name, or remove it first",
                known.root.display()
            )));
        }
    }
    Ok(folder)
}

/// A relative `/`-separated path with plain parts only, as a path.
fn relative(path: &str) -> ApiResult<PathBuf> {
    let candidate = FsPath::new(path);
    let plain = !path.is_empty()
        && path.len() <= 1024
        && !path.contains('\\')
        && !path.contains('\0')
        && candidate
            .components()
            .all(|part| matches!(part, Component::Normal(_)));
    if plain {
        Ok(candidate.to_path_buf())
    } else {
        Err(ApiError::invalid(format!(
            "`{path}` is not a relative path inside the project (no `..`, no leading `/`)"
        )))
    }
}

fn io_error(what: &str, path: &FsPath, error: &std::io::Error) -> ApiError {
    tracing::error!(%error, path = %path.display(), "{what}");
    ApiError::internal(format!("could not {what} {}: {error}", path.display()))
}

/// The largest file an upload takes: the workspace's ingest limit, or what
/// one request holds.
fn max_file_bytes(runtime: &Runtime, max_upload: u64) -> u64 {
    runtime
        .config()
        .ingest
        .max_file_bytes
        .min(MOST_FILE_BYTES)
        .min(max_upload.saturating_sub(ZIP_OVERHEAD))
}

/// Keeps other changes of a project out while one runs (an ingest, an
/// upload, a removal): released when dropped.
struct Claim {
    team: Arc<Team>,
    key: (String, String),
}

impl Claim {
    /// The project for an upload or a removal.
    fn take(team: &Arc<Team>, ws: &Workspace, project: &str) -> ApiResult<Self> {
        Self::taken(team, ws, project, None)
    }

    /// The project for an ingest that `cancel` stops.
    fn for_ingest(
        team: &Arc<Team>,
        ws: &Workspace,
        project: &str,
        cancel: CancellationToken,
    ) -> ApiResult<Self> {
        Self::taken(team, ws, project, Some(cancel))
    }

    fn taken(
        team: &Arc<Team>,
        ws: &Workspace,
        project: &str,
        cancel: Option<CancellationToken>,
    ) -> ApiResult<Self> {
        let key = (ws.name.clone(), project.to_owned());
        let mut held = lock(&team.ingests);
        if let std::collections::hash_map::Entry::Vacant(entry) = held.entry(key.clone()) {
            entry.insert(cancel);
            Ok(Self {
                team: Arc::clone(team),
                key,
            })
        } else {
            Err(ApiError::conflict(format!(
                "`{project}` is being ingested, uploaded to or removed — try again when that ends"
            )))
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        lock(&self.team.ingests).remove(&self.key);
    }
}

/// `GET …/projects/{project}/sources`: the manifest.
pub(crate) async fn sources(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Path((_, project)): Path<(String, String)>,
) -> ApiResult<Json<SourceManifest>> {
    let root = upload_folder(&ws, &project)?;
    let files = tokio::task::spawn_blocking(move || manifest(&root))
        .await
        .map_err(|error| ApiError::internal(error.to_string()))??;
    let max_upload = team.options.limits.max_upload as u64;
    Ok(Json(SourceManifest {
        files,
        max_file_bytes: max_file_bytes(&ws.runtime, max_upload),
        max_upload_bytes: max_upload,
        max_batch_files: MOST_BATCH_FILES as u32,
    }))
}

fn manifest(root: &FsPath) -> ApiResult<Vec<SourceFile>> {
    if !root.exists() {
        return Ok(Vec::new());
    }
    let mut paths = Vec::new();
    every_file(root, &mut paths)?;
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path).map_err(|error| io_error("read", &path, &error))?;
        files.push(SourceFile {
            path: slash_path(root, &path),
            size: bytes.len() as u64,
            sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        });
    }
    Ok(files)
}

/// `path` under `root` as a project names it: `/`-separated.
pub(crate) fn slash_path(root: &FsPath, path: &FsPath) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every file under `folder` (links are not followed: uploads write none).
fn every_file(folder: &FsPath, into: &mut Vec<PathBuf>) -> ApiResult<()> {
    let entries = std::fs::read_dir(folder).map_err(|error| io_error("read", folder, &error))?;
    for entry in entries {
        let entry = entry.map_err(|error| io_error("read", folder, &error))?;
        let kind = entry
            .file_type()
            .map_err(|error| io_error("read", &entry.path(), &error))?;
        if kind.is_dir() {
            every_file(&entry.path(), into)?;
        } else if kind.is_file() {
            into.push(entry.path());
        }
    }
    Ok(())
}

/// Records a change in the workspace's audit log.
fn audited(ws: &Workspace, action: &str, project: &str, detail: &Value) {
    if let Err(error) = ws
        .runtime
        .store()
        .audit(action, project, &detail.to_string())
    {
        tracing::error!(action, project, %error, "a change could not be recorded in the audit log");
    }
}

/// `POST …/projects/{project}/sources`: a zip of files to add or replace.
/// Every entry is checked, then unpacked into a staging folder; only when
/// all of it unpacked are the files moved into place (each whole), so a
/// refused batch writes nothing and an ingest never reads half a file.
pub(crate) async fn upload(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Path((_, project)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Uploaded>)> {
    let root = upload_folder(&ws, &project)?;
    let _claim = Claim::take(&team, &ws, &project)?;
    let max_upload = team.options.limits.max_upload as u64;
    let limits = (max_file_bytes(&ws.runtime, max_upload), max_upload);
    let uploaded = tokio::task::spawn_blocking(move || unpack(&root, &body, limits))
        .await
        .map_err(|error| ApiError::internal(error.to_string()))??;
    audited(
        &ws,
        "project.upload",
        &project,
        &json!({ "files": uploaded.written, "bytes": uploaded.bytes }),
    );
    Ok((StatusCode::CREATED, Json(uploaded)))
}

/// The entries of a batch, checked: names, kinds, declared sizes, and no
/// file where another entry or the project has a folder (or the reverse).
fn checked_entries(
    archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
    root: &FsPath,
    (most, total): (u64, u64),
) -> ApiResult<Vec<(usize, PathBuf)>> {
    let not_zip = |error: zip::result::ZipError| {
        ApiError::invalid(format!(
            "the body is not a zip archive of the project's files: {error}"
        ))
    };
    if archive.len() > MOST_BATCH_FILES {
        return Err(ApiError::invalid(format!(
            "{} entries in one upload: send at most {MOST_BATCH_FILES} per request",
            archive.len()
        )));
    }
    let mut entries = Vec::new();
    let mut declared = 0_u64;
    let mut files = HashSet::new();
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(not_zip)?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().map_err(not_zip)?.into_owned();
        if entry.is_symlink() {
            return Err(ApiError::invalid(format!(
                "`{name}` is a symbolic link: upload files only"
            )));
        }
        let path = relative(&name)?;
        if entry.size() > most {
            return Err(ApiError::invalid(format!(
                "`{name}` is {} bytes; this workspace takes files up to {most} bytes",
                entry.size()
            )));
        }
        declared = declared.saturating_add(entry.size());
        if declared > total {
            return Err(ApiError::invalid(format!(
                "this batch unpacks to more than {total} bytes: send fewer files per request"
            )));
        }
        if root.join(&path).is_dir() {
            return Err(ApiError::conflict(format!(
                "`{name}` is a folder in the project: remove it before uploading a file there"
            )));
        }
        files.insert(path.clone());
        entries.push((index, path));
    }
    for (_, path) in &entries {
        for folder in path
            .ancestors()
            .skip(1)
            .filter(|folder| !folder.as_os_str().is_empty())
        {
            if files.contains(folder) || root.join(folder).is_file() {
                return Err(ApiError::conflict(format!(
                    "`{}` is a file, and `{}` would put a folder there",
                    folder.display(),
                    path.display()
                )));
            }
        }
    }
    Ok(entries)
}

fn unpack(root: &FsPath, body: &[u8], (most, total): (u64, u64)) -> ApiResult<Uploaded> {
    let not_zip = |error: zip::result::ZipError| {
        ApiError::invalid(format!(
            "the body is not a zip archive of the project's files: {error}"
        ))
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(body)).map_err(not_zip)?;
    let entries = checked_entries(&mut archive, root, (most, total))?;
    // Staged beside the projects (a name no project can take), then moved:
    // nothing lands unless every entry unpacked.
    let uploads = root.parent().unwrap_or(root);
    std::fs::create_dir_all(uploads).map_err(|error| io_error("create", uploads, &error))?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(uploads)
        .map_err(|error| io_error("create a folder in", uploads, &error))?;
    let mut staged = Vec::new();
    let mut unpacked = 0_u64;
    for (number, (index, path)) in entries.into_iter().enumerate() {
        let mut entry = archive.by_index(index).map_err(not_zip)?;
        let mut bytes = Vec::new();
        // The declared size may lie: read one byte past the limit at most.
        entry
            .by_ref()
            .take(most + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| ApiError::invalid(format!("`{}`: {error}", path.display())))?;
        unpacked += bytes.len() as u64;
        if bytes.len() as u64 > most || unpacked > total {
            return Err(ApiError::invalid(format!(
                "`{}` unpacks to more than it says (over this workspace's limits): nothing was written",
                path.display()
            )));
        }
        let file = staging.path().join(number.to_string());
        let mut written =
            std::fs::File::create(&file).map_err(|error| io_error("write", &file, &error))?;
        written
            .write_all(&bytes)
            .and_then(|()| written.sync_data())
            .map_err(|error| io_error("write", &file, &error))?;
        staged.push((file, path));
    }
    for (file, path) in &staged {
        let target = root.join(path);
        let parent = target.parent().unwrap_or(root);
        std::fs::create_dir_all(parent).map_err(|error| io_error("create", parent, &error))?;
        std::fs::rename(file, &target).map_err(|error| io_error("write", &target, &error))?;
    }
    Ok(Uploaded {
        written: u32::try_from(staged.len()).unwrap_or(u32::MAX),
        bytes: unpacked,
    })
}

/// `POST …/projects/{project}/sources/remove`: removes uploaded files.
pub(crate) async fn remove_sources(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Path((_, project)): Path<(String, String)>,
    Json(body): Json<RemoveBody>,
) -> ApiResult<Json<Value>> {
    let root = upload_folder(&ws, &project)?;
    let _claim = Claim::take(&team, &ws, &project)?;
    let paths = body
        .paths
        .iter()
        .map(|path| relative(path))
        .collect::<ApiResult<Vec<_>>>()?;
    let mut removed = 0_u32;
    for path in paths {
        let target = root.join(&path);
        match std::fs::remove_file(&target) {
            Ok(()) => removed += 1,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error("remove", &target, &error)),
        }
        // Folders left empty go too (never the project's own).
        let mut folder = target.parent();
        while let Some(current) = folder.filter(|current| *current != root) {
            if std::fs::remove_dir(current).is_err() {
                break;
            }
            folder = current.parent();
        }
    }
    if removed > 0 {
        audited(
            &ws,
            "project.unupload",
            &project,
            &json!({ "files": removed }),
        );
    }
    Ok(Json(json!({ "removed": removed })))
}

/// `POST …/projects/{project}/ingest`: indexes the uploaded files (only
/// what changed since the last ingest), streaming `progress` events, then
/// `done` with the report or `error`. The ingest goes on when the client
/// goes away (until the server stops); meanwhile another ingest, upload or
/// removal of the project is refused.
pub(crate) async fn ingest(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Path((_, project)): Path<(String, String)>,
) -> ApiResult<Response> {
    let root = upload_folder(&ws, &project)?;
    if !root.is_dir() {
        return Err(ApiError::not_found(format!(
            "the project `{project}` has no uploaded files — upload its files first"
        )));
    }
    let cancel = team.shutdown.child_token();
    let claim = Claim::for_ingest(&team, &ws, &project, cancel.clone())?;
    let runtime = Arc::clone(&ws.runtime);
    Ok(stream::spawned(
        None,
        caller.actor(),
        move |events| async move {
            let _claim = claim;
            let progress = |event: IngestProgress| events.send("progress", &event);
            stream::ending(
                runtime
                    .ingest(&root, Some(&project), &progress, &cancel)
                    .await,
            )
        },
    ))
}

/// `POST …/projects/{project}/ingest/cancel`: stops the project's ingest
/// (what it indexed stays; the next ingest does the rest); 409 when none
/// runs.
pub(crate) async fn cancel_ingest(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Path((_, project)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let key = (ws.name.clone(), project.clone());
    match lock(&team.ingests).get(&key) {
        Some(Some(cancel)) => {
            cancel.cancel();
            Ok(StatusCode::ACCEPTED)
        }
        _ => Err(ApiError::conflict(format!(
            "no ingest of `{project}` is running"
        ))),
    }
}

/// `GET …/projects/{project}/files`: the indexed files.
pub(crate) async fn files(
    Extension(ws): Extension<Workspace>,
    Path((_, project)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(ws.runtime.project_files(&project)?)))
}

/// `GET …/projects/{project}/preview?path=`: a file's text.
pub(crate) async fn preview(
    Extension(ws): Extension<Workspace>,
    Path((_, project)): Path<(String, String)>,
    Query(query): Query<PreviewQuery>,
) -> ApiResult<Json<Value>> {
    relative(&query.path)?;
    // Only what was indexed: not the other files of a server's folder.
    let runtime = Arc::clone(&ws.runtime);
    let preview = tokio::task::spawn_blocking(move || {
        let indexed = runtime
            .project_files(&project)?
            .iter()
            .any(|file| file.path == query.path);
        if indexed {
            runtime.file_preview(&project, &query.path).map(Some)
        } else {
            Ok(None)
        }
    })
    .await
    .map_err(|error| ApiError::internal(error.to_string()))??;
    preview.map(|preview| Json(json!(preview))).ok_or_else(|| {
        ApiError::not_found("no such indexed file in this project — the file list shows them")
    })
}

/// `DELETE …/projects/{project}`: removes the project's index and, for an
/// uploaded one, its files.
pub(crate) async fn remove(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Path((_, project)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    // A project indexed from a server folder is the server admin's.
    let uploads = upload_folder(&ws, &project)?;
    let _claim = Claim::take(&team, &ws, &project)?;
    let indexed = ws.runtime.store().project(&project)?.is_some();
    let chunks = if indexed {
        ws.runtime.remove_project(&project).await?
    } else {
        0
    };
    let had_files = uploads.is_dir();
    if had_files {
        std::fs::remove_dir_all(&uploads).map_err(|error| io_error("remove", &uploads, &error))?;
        audited(&ws, "project.unupload", &project, &json!({ "all": true }));
    }
    if !indexed && !had_files {
        return Err(ApiError::not_found(format!(
            "no project `{project}` in this workspace"
        )));
    }
    Ok(Json(json!({ "chunks": chunks, "files": had_files })))
}

/// The routes of a workspace's projects (an upload takes `max_upload`
/// bytes).
pub(crate) fn routes(max_upload: usize) -> Router<Arc<Team>> {
    let w = |tail: &str| format!("{WORKSPACE}/projects/{{project}}{tail}");
    Router::new()
        .route(&w(""), delete(remove))
        .route(&w("/files"), get(files))
        .route(&w("/preview"), get(preview))
        .route(
            &w("/sources"),
            get(sources)
                .post(upload)
                .layer(DefaultBodyLimit::max(max_upload)),
        )
        .route(&w("/sources/remove"), post(remove_sources))
        .route(&w("/ingest"), post(ingest))
        .route(&w("/ingest/cancel"), post(cancel_ingest))
}

/// Projects being ingested (with what stops the ingest), uploaded to or
/// removed, by workspace.
pub(crate) type Ingests =
    std::sync::Mutex<std::collections::HashMap<(String, String), Option<CancellationToken>>>;
