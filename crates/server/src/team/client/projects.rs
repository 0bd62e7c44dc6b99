//! A server workspace's projects from the app: a folder of this machine
//! uploaded there (only the files that changed since the last upload, in
//! zip batches under the server's limit; files gone here are removed there)
//! and indexed there with its progress streamed back; indexed files listed
//! and previewed; a project removed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use codexos_runtime::{
    FilePreview, IngestProgress, IngestReport, ProjectFile, SearchHit, SearchRequest, SkippedFile,
};
use serde_json::{json, Value};
use sha2::Digest as _;
use tokio_util::sync::CancellationToken;

use super::canvas::{at, segment};
use super::{answer, ClientError, Result, TeamClient};
use crate::team::projects::{SourceManifest, Uploaded};

/// Room kept in a batch for each file's zip headers, besides its name.
const ENTRY_OVERHEAD: u64 = 128;

/// Paths per removal request (well under the server's body limit).
const REMOVALS_PER_REQUEST: usize = 500;

/// A project name the server takes for `folder`: its name with anything
/// but letters, digits, `-`, `_` and `.` made `-`, at most 64 characters.
#[must_use]
pub fn project_name_for(folder: &Path) -> String {
    let raw = folder
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    name.truncate(64);
    if name.is_empty() {
        // Nothing plain left (a name in another script): one of its own.
        let digest = hex::encode(sha2::Sha256::digest(raw.as_bytes()));
        format!("project-{}", &digest[..8])
    } else {
        name
    }
}

/// A file of the folder to upload: where it is, its name in the project,
/// its size and SHA-256 (its bytes are read again when its batch goes).
struct Local {
    path: PathBuf,
    name: String,
    size: u64,
    digest: String,
}

/// The folder's files as the server would index them, hashed (one at a
/// time: the folder is never held in memory), with what was left out —
/// larger than the server takes, a name it cannot take, gone or unreadable.
fn read_folder(root: &Path, max_file_bytes: u64) -> (Vec<Local>, Vec<SkippedFile>) {
    let (paths, mut skipped) = codexos_runtime::walk_folder(root);
    let mut files = Vec::new();
    for path in paths {
        let name = crate::team::projects::slash_path(root, &path);
        let mut skip = |reason: String| {
            skipped.push(SkippedFile {
                path: name.clone(),
                reason,
            });
        };
        if name.contains('\\') {
            skip("a `\\` in its name: a server's project names files with `/` only".to_owned());
            continue;
        }
        let read = std::fs::metadata(&path).and_then(|metadata| {
            if metadata.len() > max_file_bytes {
                Ok(None)
            } else {
                std::fs::read(&path).map(Some)
            }
        });
        match read {
            Ok(Some(bytes)) => files.push(Local {
                size: bytes.len() as u64,
                digest: hex::encode(sha2::Sha256::digest(&bytes)),
                path,
                name,
            }),
            Ok(None) => skip(format!(
                "larger than the {max_file_bytes} bytes the server takes"
            )),
            Err(error) => skip(format!("unreadable: {error}")),
        }
    }
    (files, skipped)
}

fn local_error(path: &Path, message: &str) -> ClientError {
    ClientError::Local {
        message: format!("could not read {}: {message}", path.display()),
    }
}

/// A zip of `files` (where each is, its name), read now.
fn zipped(files: &[(PathBuf, String)]) -> std::io::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    for (path, name) in files {
        let bytes = std::fs::read(path)?;
        writer
            .start_file(name.as_str(), options)
            .map_err(std::io::Error::other)?;
        writer.write_all(&bytes)?;
    }
    Ok(writer.finish().map_err(std::io::Error::other)?.into_inner())
}

impl TeamClient {
    /// The workspace's projects searched with the engine's filters (mode,
    /// project, path glob, kind, language, changed-since, revision and
    /// reranker).
    pub async fn search(
        &self,
        workspace: &str,
        query: &str,
        request: &SearchRequest,
    ) -> Result<Vec<SearchHit>> {
        let body = json!({
            "query": query,
            "k": request.k,
            "mode": request.mode,
            "project": request.filter.project,
            "path": request.filter.path,
            "kind": request.filter.kind,
            "language": request.filter.language,
            "since": request.filter.since,
            "rev": request.rev,
            "rerank": request.rerank,
        });
        self.fetch(
            reqwest::Method::POST,
            &at(workspace, &["search"]),
            Some(body),
        )
        .await
    }

    /// A project's indexed files on the server.
    pub async fn project_files(&self, workspace: &str, project: &str) -> Result<Vec<ProjectFile>> {
        let path = at(workspace, &["projects", project, "files"]);
        self.fetch(reqwest::Method::GET, &path, None).await
    }

    /// The text of one of a project's files on the server.
    pub async fn file_preview(
        &self,
        workspace: &str,
        project: &str,
        file: &str,
    ) -> Result<FilePreview> {
        let path = format!(
            "{}?path={}",
            at(workspace, &["projects", project, "preview"]),
            segment(file)
        );
        self.fetch(reqwest::Method::GET, &path, None).await
    }

    /// Removes a project on the server (its index and uploaded files): the
    /// chunks it had.
    pub async fn remove_project(&self, workspace: &str, project: &str) -> Result<u32> {
        let path = at(workspace, &["projects", project]);
        let removed: Value = self.fetch(reqwest::Method::DELETE, &path, None).await?;
        Ok(removed["chunks"]
            .as_u64()
            .map_or(0, |chunks| u32::try_from(chunks).unwrap_or(u32::MAX)))
    }

    /// Uploads `folder` of this machine as `project` of the workspace —
    /// only the files whose contents differ from what the server holds;
    /// files it holds that are gone here are removed there — then ingests
    /// it there, streaming `Uploading` and then the server's ingest events.
    /// The report lists what was left out here and there. Cancelling stops
    /// the upload between batches; an ingest already started finishes on
    /// the server.
    pub async fn upload_and_ingest(
        &self,
        workspace: &str,
        folder: &Path,
        project: &str,
        progress: &(dyn Fn(IngestProgress) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<IngestReport> {
        if !folder.is_dir() {
            return Err(local_error(
                folder,
                "it is not a folder (drop a folder to upload it)",
            ));
        }
        let sources = at(workspace, &["projects", project, "sources"]);
        let manifest: SourceManifest = self.fetch(reqwest::Method::GET, &sources, None).await?;
        let held: BTreeMap<String, String> = manifest
            .files
            .into_iter()
            .map(|file| (file.path, file.sha256))
            .collect();
        let root = folder.to_path_buf();
        let most = manifest.max_file_bytes;
        let (files, skipped) = tokio::task::spawn_blocking(move || read_folder(&root, most))
            .await
            .map_err(|error| local_error(folder, &error.to_string()))?;
        let here: BTreeSet<String> = files.iter().map(|file| file.name.clone()).collect();
        let total = u32::try_from(files.len()).unwrap_or(u32::MAX);
        let mut done = 0_u32;
        let mut changed = Vec::new();
        for file in files {
            if held.get(&file.name) == Some(&file.digest) {
                done += 1;
            } else {
                changed.push(file);
            }
        }
        let sent = |done: u32, batch: &[Local]| {
            progress(IngestProgress::Uploading {
                done,
                total,
                path: batch
                    .last()
                    .map(|file| file.name.clone())
                    .unwrap_or_default(),
            });
        };
        sent(done, &[]);
        let budget = manifest.max_upload_bytes.saturating_mul(9) / 10;
        let most_files = manifest.max_batch_files.max(1) as usize;
        let mut batch: Vec<Local> = Vec::new();
        let mut size = 0_u64;
        for file in changed {
            // Zip headers hold the name twice.
            let cost = file.size + ENTRY_OVERHEAD + 2 * file.name.len() as u64;
            if !batch.is_empty() && (size + cost > budget || batch.len() >= most_files) {
                done += self.send_batch(&sources, &batch, cancel).await?;
                sent(done, &batch);
                batch.clear();
                size = 0;
            }
            size += cost;
            batch.push(file);
        }
        if !batch.is_empty() {
            done += self.send_batch(&sources, &batch, cancel).await?;
            sent(done, &batch);
        }
        let gone: Vec<&String> = held.keys().filter(|path| !here.contains(*path)).collect();
        let remove = at(workspace, &["projects", project, "sources", "remove"]);
        for paths in gone.chunks(REMOVALS_PER_REQUEST) {
            self.done(
                reqwest::Method::POST,
                &remove,
                Some(json!({ "paths": paths })),
            )
            .await?;
        }
        if cancel.is_cancelled() {
            return Err(self.cancelled());
        }
        let mut report = self
            .ingest_uploaded(workspace, project, progress, cancel)
            .await?;
        report.skipped.extend(skipped);
        Ok(report)
    }

    /// Sends one zip batch: the files written.
    async fn send_batch(
        &self,
        sources: &str,
        batch: &[Local],
        cancel: &CancellationToken,
    ) -> Result<u32> {
        if cancel.is_cancelled() {
            return Err(self.cancelled());
        }
        let files: Vec<(PathBuf, String)> = batch
            .iter()
            .map(|file| (file.path.clone(), file.name.clone()))
            .collect();
        let body = tokio::task::spawn_blocking(move || zipped(&files))
            .await
            .map_err(|error| local_error(Path::new(""), &error.to_string()))?
            .map_err(|error| {
                local_error(
                    batch
                        .first()
                        .map_or(Path::new(""), |file| file.path.as_path()),
                    &error.to_string(),
                )
            })?;
        let request = self
            .request(reqwest::Method::POST, sources)
            .header(reqwest::header::CONTENT_TYPE, "application/zip")
            .body(body);
        let uploaded: Uploaded =
            super::json_of(&self.server, answer(&self.server, request).await?).await?;
        Ok(uploaded.written)
    }

    /// Ingests a project's uploaded files on the server, streaming its
    /// progress; `cancel` stops it there too (what it indexed stays).
    pub async fn ingest_uploaded(
        &self,
        workspace: &str,
        project: &str,
        progress: &(dyn Fn(IngestProgress) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<IngestReport> {
        let path = at(workspace, &["projects", project, "ingest"]);
        let response = self.call(reqwest::Method::POST, &path, None).await?;
        let read = self.progress_then(response, progress, "the ingest failed on the server");
        let ended = tokio::select! {
            ended = read => ended?,
            () = cancel.cancelled() => {
                // Stopped there too (it would go on without the client);
                // already ended is fine.
                let stop = at(workspace, &["projects", project, "ingest", "cancel"]);
                self.done(reqwest::Method::POST, &stop, None).await.ok();
                return Err(self.cancelled());
            }
        };
        ended.ok_or_else(|| {
            self.cut_short("the ingest (it goes on there; list the projects to see it)")
        })
    }
}
