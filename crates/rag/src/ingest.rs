//! Folder ingest: walk, read, chunk, embed, store — incrementally.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use codexos_store::{FileRecord, Store};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::chunk::Kind;
use crate::git::{ChunkTag, GitTree};
use crate::index::{Index, Row};
use crate::{embed_blocking, Embedder, Error, Result};

/// Chunks embedded and stored per batch: large enough to keep ONNX Runtime
/// busy, small enough that progress moves and a crash loses little.
const FLUSH_CHUNKS: usize = 256;

/// Tunables of an ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Files larger than this are skipped with a reason.
    pub max_file_bytes: u64,
    /// Index the tree of this commit (a full id from
    /// [`crate::resolve_revision`]) from git objects instead of the working
    /// tree. The project name should say which revision it holds.
    pub revision: Option<String>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            max_file_bytes: 4 * 1024 * 1024,
            revision: None,
        }
    }
}

/// A file left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct SkippedFile {
    /// Path relative to the folder.
    pub path: String,
    /// Why it was skipped.
    pub reason: String,
}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct IngestReport {
    /// Project name.
    pub project: String,
    /// Absolute folder path.
    pub root: String,
    /// The commit indexed, for an ingest at a revision.
    pub revision: Option<String>,
    /// Whether chunks carry commit tags (the folder is in a git work tree).
    pub git: bool,
    /// Files found by the walk (after `.gitignore`).
    pub files_seen: u32,
    /// Files (re)indexed in this run.
    pub files_indexed: u32,
    /// Files unchanged since the last ingest.
    pub files_unchanged: u32,
    /// Files gone since the last ingest, whose chunks were removed.
    pub files_removed: u32,
    /// Chunks written in this run.
    pub chunks_added: u32,
    /// Of those, chunks whose embedding was reused from an identical chunk
    /// already stored (same text, path and heading), so not computed again.
    pub chunks_reused: u32,
    /// Chunks stored for the project after the run.
    pub chunks_total: u32,
    /// Files left out, with reasons.
    pub skipped: Vec<SkippedFile>,
    /// Wall time in milliseconds.
    pub elapsed_ms: u32,
    /// Where the time went.
    pub timings: IngestTimings,
}

/// Milliseconds spent in each stage of an ingest (they add up to a little
/// less than the wall time: the walk and bookkeeping are not counted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct IngestTimings {
    /// Reading, hashing, parsing and chunking files.
    pub read_ms: u32,
    /// Computing embeddings.
    pub embed_ms: u32,
    /// Writing chunks to LanceDB and the ledger to SQLite, and compaction.
    pub store_ms: u32,
}

fn add_elapsed(total: &mut u32, since: Instant) {
    *total = total.saturating_add(since.elapsed().as_millis() as u32);
}

/// Progress of an ingest, for a CLI bar or the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum IngestEvent {
    /// Files sent to a team server, which ingests them once they are all
    /// there: `done` of `total` files; `path` was the last.
    Uploading {
        /// Files sent (or found unchanged there).
        done: u32,
        /// Files to send or check.
        total: u32,
        /// Last file sent.
        path: String,
    },
    /// The walk finished: `total` files will be looked at.
    Scanned {
        /// Project name.
        project: String,
        /// Files found.
        total: u32,
    },
    /// A file was left out.
    Skipped {
        /// The file and the reason.
        file: SkippedFile,
    },
    /// `done` of `total` files handled; `path` was the last.
    Progress {
        /// Files handled.
        done: u32,
        /// Files in all.
        total: u32,
        /// Last file handled.
        path: String,
    },
    /// The ingest is complete.
    Finished {
        /// The summary.
        report: IngestReport,
    },
}

struct PendingFile {
    record: FileRecord,
    kind: Kind,
    language: Option<&'static str>,
    chunks: Vec<crate::Chunk>,
    tags: Vec<ChunkTag>,
}

/// What an ingest reads: files on disk, or blobs of a git revision.
enum Entry {
    Disk(PathBuf),
    Blob {
        path: String,
        id: git2::Oid,
        size: usize,
    },
}

/// The state of one run, so helper steps need few arguments.
struct Run<'a> {
    store: &'a Store,
    index: &'a Index,
    embedder: &'a Arc<Embedder>,
    project: &'a str,
    /// The repository, when the folder is in one. Behind a mutex because
    /// libgit2 handles are not `Sync` and the run is held across awaits.
    git: Option<std::sync::Mutex<GitTree>>,
    progress: &'a (dyn Fn(IngestEvent) + Send + Sync),
    report: IngestReport,
    pending: Vec<PendingFile>,
    pending_chunks: usize,
    done: u32,
    total: u32,
}

impl Run<'_> {
    fn skip(&mut self, path: String, reason: String) {
        let file = SkippedFile { path, reason };
        (self.progress)(IngestEvent::Skipped { file: file.clone() });
        self.report.skipped.push(file);
        self.advance(None);
    }

    fn advance(&mut self, path: Option<&str>) {
        self.done += 1;
        (self.progress)(IngestEvent::Progress {
            done: self.done,
            total: self.total,
            path: path.unwrap_or_default().to_owned(),
        });
    }

    /// Embeds and stores the pending files, then records them in the ledger:
    /// the ledger is written last, so a crash in between only means the files
    /// are indexed again next time, never lost or doubled.
    async fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let files = std::mem::take(&mut self.pending);
        self.pending_chunks = 0;
        let texts: Vec<String> = files
            .iter()
            .flat_map(|file| {
                file.chunks.iter().map(|chunk| match &chunk.heading {
                    Some(heading) => format!("{}\n{heading}\n{}", file.record.path, chunk.text),
                    None => format!("{}\n{}", file.record.path, chunk.text),
                })
            })
            .collect();
        let hashes: Vec<String> = texts
            .iter()
            .map(|text| hex::encode(Sha256::digest(text.as_bytes())))
            .collect();
        let vectors = self.vectors(&texts, &hashes).await?;
        let mut rows = Vec::new();
        let mut position = 0;
        for file in &files {
            for (chunk, tag) in file.chunks.iter().zip(&file.tags) {
                rows.push(Row {
                    project: self.project.to_owned(),
                    path: file.record.path.clone(),
                    start_line: chunk.start_line,
                    end_line: chunk.end_line,
                    heading: chunk.heading.clone(),
                    page: chunk.page,
                    kind: file.kind.as_str(),
                    language: file.language,
                    file_hash: file.record.hash.clone(),
                    chunk_hash: hashes[position].clone(),
                    commit: tag.commit.clone(),
                    author_time: tag.author_time,
                    text: chunk.text.clone(),
                    vector: vectors[position].clone(),
                });
                position += 1;
            }
        }
        let paths: Vec<String> = files.iter().map(|file| file.record.path.clone()).collect();
        self.report.chunks_added += rows.len() as u32;
        let storing = Instant::now();
        self.index
            .replace_files(self.project, &paths, &rows)
            .await?;
        let records: Vec<FileRecord> = files.into_iter().map(|file| file.record).collect();
        self.store.record_files(self.project, &records)?;
        add_elapsed(&mut self.report.timings.store_ms, storing);
        for path in &paths {
            self.report.files_indexed += 1;
            self.advance(Some(path));
        }
        Ok(())
    }

    /// One vector per text: reused from identical chunks already stored (or
    /// repeated in this batch), computed for the rest.
    async fn vectors(&mut self, texts: &[String], hashes: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut known = self.index.vectors_by_hash(hashes).await?;
        let mut missing: Vec<usize> = Vec::new();
        let mut queued = HashSet::new();
        for (position, hash) in hashes.iter().enumerate() {
            if !known.contains_key(hash) && queued.insert(hash.as_str()) {
                missing.push(position);
            }
        }
        self.report.chunks_reused += (hashes.len() - missing.len()) as u32;
        if !missing.is_empty() {
            let inputs: Vec<String> = missing.iter().map(|&at| texts[at].clone()).collect();
            let embedding = Instant::now();
            let computed = embed_blocking(self.embedder, inputs).await?;
            add_elapsed(&mut self.report.timings.embed_ms, embedding);
            if computed.len() != missing.len() {
                return Err(Error::Embed {
                    message: "fewer vectors than chunks".into(),
                });
            }
            for (at, vector) in missing.into_iter().zip(computed) {
                known.insert(hashes[at].clone(), vector);
            }
        }
        hashes
            .iter()
            .map(|hash| {
                known.get(hash).cloned().ok_or_else(|| Error::Embed {
                    message: "a chunk was left without a vector".into(),
                })
            })
            .collect()
    }
}

/// The repository handle; a panic elsewhere leaves it usable.
fn lock(git: &std::sync::Mutex<GitTree>) -> std::sync::MutexGuard<'_, GitTree> {
    git.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Relative, `/`-separated form of `path` under `root`.
fn relative(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|component| component.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Lists the files under `root` that an ingest reads, honouring
/// `.gitignore`, `.ignore` and hidden files; unreadable entries and links
/// come back as skips.
#[must_use]
pub fn walk(root: &Path) -> (Vec<PathBuf>, Vec<SkippedFile>) {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(true)
        .git_ignore(true)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(std::cmp::Ord::cmp)
        .build();
    for entry in walker {
        match entry {
            Ok(entry) if entry.file_type().is_some_and(|kind| kind.is_file()) => {
                files.push(entry.into_path());
            }
            Ok(entry) if entry.path_is_symlink() => skipped.push(SkippedFile {
                path: relative(root, entry.path()),
                reason: "symbolic link, not followed (links can leave the folder or loop)".into(),
            }),
            Ok(_) => {}
            Err(error) => skipped.push(SkippedFile {
                path: error_path(&error).map_or_else(String::new, |path| relative(root, &path)),
                reason: format!("unreadable: {error}"),
            }),
        }
    }
    (files, skipped)
}

fn error_path(error: &ignore::Error) -> Option<PathBuf> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

/// A file's bytes and modification time (Unix seconds), or why it is skipped.
type Read = std::result::Result<(Vec<u8>, Option<i64>), String>;

/// Seconds since the Unix epoch of a modification time.
fn unix_seconds(time: std::io::Result<std::time::SystemTime>) -> Option<i64> {
    time.ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|since| since.as_secs() as i64)
}

/// Reads a file within the size limit, with its modification time, or says
/// why it is skipped. A file that changes while it is read is read again;
/// one that keeps changing is skipped (the next save brings it in).
fn read_bytes(path: &Path, max_bytes: u64) -> Read {
    read_stable(path, max_bytes, |path| std::fs::read(path))
}

/// [`read_bytes`] with the read itself supplied (tests simulate writers).
fn read_stable(
    path: &Path,
    max_bytes: u64,
    read: impl Fn(&Path) -> std::io::Result<Vec<u8>>,
) -> Read {
    const ATTEMPTS: usize = 3;
    for _ in 0..ATTEMPTS {
        let before = std::fs::metadata(path).map_err(|error| format!("unreadable: {error}"))?;
        if before.len() > max_bytes {
            return Err(format!(
                "too large: {:.1} MiB, over the {:.1} MiB limit (raise `ingest.max_file_bytes` in config.toml)",
                before.len() as f64 / 1_048_576.0,
                max_bytes as f64 / 1_048_576.0
            ));
        }
        let bytes = read(path).map_err(|error| format!("unreadable: {error}"))?;
        let after = std::fs::metadata(path).map_err(|error| format!("unreadable: {error}"))?;
        let stable = after.len() == bytes.len() as u64
            && before.len() == after.len()
            && before.modified().ok() == after.modified().ok();
        if stable {
            return Ok((bytes, unix_seconds(after.modified())));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err("kept changing while being read; it is indexed again on its next save".into())
}

impl Run<'_> {
    /// Looks at one file: skipped, unchanged, or queued for embedding.
    /// Returns whether the file is still present and readable (so its chunks
    /// stay).
    fn consider(
        &mut self,
        relative_path: String,
        read: Read,
        known: &HashMap<String, String>,
    ) -> bool {
        let (bytes, modified) = match read {
            Ok(read) => read,
            Err(reason) => {
                self.skip(relative_path, reason);
                return false;
            }
        };
        let mut hash = hex::encode(Sha256::digest(&bytes));
        if let Some(git) = &self.git {
            hash.push(':');
            hash.push_str(lock(git).state(&relative_path, &bytes));
        }
        if known.get(&relative_path) == Some(&hash) {
            self.report.files_unchanged += 1;
            self.advance(Some(&relative_path));
            return true;
        }
        let kind = Kind::for_path(&relative_path);
        let language = crate::code::language_for_path(&relative_path);
        let chunks = match crate::formats::load(kind, language, &bytes) {
            Ok(chunks) => chunks,
            Err(reason) => {
                self.skip(relative_path, reason);
                return false;
            }
        };
        let tags = match &self.git {
            Some(git) => lock(git).tags(&relative_path, &bytes, kind, &chunks, modified),
            None => vec![
                ChunkTag {
                    commit: None,
                    author_time: modified,
                };
                chunks.len()
            ],
        };
        let size = bytes.len() as u64;
        self.pending_chunks += chunks.len();
        self.pending.push(PendingFile {
            record: FileRecord {
                path: relative_path,
                hash,
                size,
                chunks: chunks.len() as u32,
            },
            kind,
            language,
            chunks,
            tags,
        });
        true
    }

    /// Reads an entry's bytes (and modification time, for files on disk).
    fn read(&self, root: &Path, entry: &Entry, max_bytes: u64) -> (String, Read) {
        match entry {
            Entry::Disk(path) => (relative(root, path), read_bytes(path, max_bytes)),
            Entry::Blob { path, id, size } => {
                let read = if *size as u64 > max_bytes {
                    Err(format!(
                        "too large: {:.1} MiB, over the {:.1} MiB limit (raise `ingest.max_file_bytes` in config.toml)",
                        *size as f64 / 1_048_576.0,
                        max_bytes as f64 / 1_048_576.0
                    ))
                } else {
                    self.git
                        .as_ref()
                        .map(|git| lock(git).blob(*id))
                        .transpose()
                        .map_err(|error| error.to_string())
                        .and_then(|bytes| bytes.ok_or_else(|| "no repository".to_owned()))
                        .map(|bytes| (bytes, None))
                };
                (path.clone(), read)
            }
        }
    }
}

/// The absolute form of a folder to ingest, or why it cannot be ingested.
pub fn ingest_root(root: &Path) -> Result<PathBuf> {
    let canonical = std::fs::canonicalize(root).map_err(|error| Error::NotAFolder {
        path: root.to_path_buf(),
        reason: if error.kind() == std::io::ErrorKind::NotFound {
            "it does not exist".into()
        } else {
            error.to_string()
        },
    })?;
    if canonical.is_dir() {
        Ok(canonical)
    } else {
        Err(Error::NotAFolder {
            path: canonical,
            reason: "it is a file, not a folder".into(),
        })
    }
}

/// The tree at the revision, as entries to read.
fn revision_entries(git: &GitTree) -> Result<Vec<Entry>> {
    Ok(git
        .revision_files()?
        .into_iter()
        .map(|(path, id, size)| Entry::Blob { path, id, size })
        .collect())
}

/// The folder's files, walked on the blocking pool.
async fn folder_entries(root: &Path) -> Result<(Vec<Entry>, Vec<SkippedFile>)> {
    let walk_root = root.to_path_buf();
    let (files, skips) = tokio::task::spawn_blocking(move || walk(&walk_root))
        .await
        .map_err(|error| Error::Task {
            message: error.to_string(),
        })?;
    Ok((files.into_iter().map(Entry::Disk).collect(), skips))
}

/// Ingests `root` as project `project`; see the crate docs.
#[expect(
    clippy::too_many_arguments,
    reason = "each is a distinct collaborator; a struct would only rename them"
)]
pub async fn ingest(
    store: &Store,
    index: &Index,
    embedder: &Arc<Embedder>,
    root: &Path,
    project: &str,
    options: &IngestOptions,
    progress: &(dyn Fn(IngestEvent) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<IngestReport> {
    let started = Instant::now();
    let root = ingest_root(root)?;
    let git = match &options.revision {
        Some(revision) => Some(GitTree::at_revision(&root, revision)?),
        None => GitTree::discover(&root),
    };
    // (No `&GitTree` may live across an await: libgit2 handles are not Sync.)
    let listed = match (&git, &options.revision) {
        (Some(git), Some(_)) => Some(revision_entries(git)?),
        _ => None,
    };
    let (files, walk_skips) = match listed {
        Some(entries) => (entries, Vec::new()),
        None => folder_entries(&root).await?,
    };
    store.upsert_project(project, &root)?;
    let known: HashMap<String, String> = store.file_hashes(project)?;
    let total = (files.len() + walk_skips.len()) as u32;
    progress(IngestEvent::Scanned {
        project: project.to_owned(),
        total,
    });
    let mut run = Run {
        store,
        index,
        embedder,
        project,
        report: IngestReport {
            project: project.to_owned(),
            root: root.to_string_lossy().into_owned(),
            revision: options.revision.clone(),
            git: git.is_some(),
            files_seen: files.len() as u32,
            files_indexed: 0,
            files_unchanged: 0,
            files_removed: 0,
            chunks_added: 0,
            chunks_reused: 0,
            chunks_total: 0,
            skipped: Vec::new(),
            elapsed_ms: 0,
            timings: IngestTimings::default(),
        },
        git: git.map(std::sync::Mutex::new),
        progress,
        pending: Vec::new(),
        pending_chunks: 0,
        done: 0,
        total,
    };
    for skip in walk_skips {
        run.skip(skip.path, skip.reason);
    }
    // Files read successfully this run; anything else the ledger knows is gone.
    let mut present = HashSet::new();
    for entry in &files {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let reading = Instant::now();
        let (relative_path, read) = run.read(&root, entry, options.max_file_bytes);
        if run.consider(relative_path.clone(), read, &known) {
            present.insert(relative_path);
        }
        add_elapsed(&mut run.report.timings.read_ms, reading);
        if run.pending_chunks >= FLUSH_CHUNKS {
            run.flush().await?;
        }
    }
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    run.flush().await?;
    // A file that was deleted, or became unreadable or too large, loses its old
    // chunks, so results never cite content that is no longer there.
    let removed: Vec<String> = known
        .keys()
        .filter(|path| !present.contains(path.as_str()))
        .cloned()
        .collect();
    let storing = Instant::now();
    if !removed.is_empty() {
        index.delete_files(project, &removed).await?;
        store.remove_files(project, &removed)?;
    }
    run.report.files_removed = removed.len() as u32;
    if run.report.files_indexed > 0 || !removed.is_empty() {
        index.compact().await?;
    }
    add_elapsed(&mut run.report.timings.store_ms, storing);
    run.report.chunks_total = index.count(Some(project)).await? as u32;
    run.report.elapsed_ms = started.elapsed().as_millis() as u32;
    store.upsert_project(project, &root)?;
    progress(IngestEvent::Finished {
        report: run.report.clone(),
    });
    Ok(run.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_files_are_refused_before_reading() {
        let dir = tempfile::tempdir().expect("temp dir");
        let large = dir.path().join("c.txt");
        std::fs::write(&large, "x".repeat(200)).expect("write");
        assert!(read_bytes(&large, 100)
            .expect_err("large")
            .starts_with("too large"));
        assert_eq!(read_bytes(&large, 1000).expect("ok").0.len(), 200);
        assert!(read_bytes(&dir.path().join("gone"), 1000)
            .expect_err("missing")
            .starts_with("unreadable"));
    }

    #[test]
    fn a_file_that_changes_while_read_is_read_again_or_skipped_never_torn() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("growing.log");
        std::fs::write(&path, "start\n").expect("write");
        let append = |path: &Path| {
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .expect("open");
            file.write_all(b"more\n").expect("append");
        };
        // A writer that appends during every read: skipped with a reason.
        let always = read_stable(&path, 1024, |path| {
            let bytes = std::fs::read(path);
            append(path);
            bytes
        });
        let reason = always.expect_err("never stable");
        assert!(reason.contains("kept changing"), "{reason}");
        // A writer that appends during the first read only: read again, and
        // what comes back is the file as it is now, whole.
        let calls = std::cell::Cell::new(0);
        let (bytes, _) = read_stable(&path, 1024, |path| {
            let bytes = std::fs::read(path);
            calls.set(calls.get() + 1);
            if calls.get() == 1 {
                append(path);
            }
            bytes
        })
        .expect("stable on the second read");
        assert_eq!(calls.get(), 2);
        assert_eq!(bytes, std::fs::read(&path).expect("read"));
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_and_loops_are_reported_not_followed() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("keep.md"), "x").expect("write");
        std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).expect("link");
        std::os::unix::fs::symlink("b.txt", dir.path().join("a.txt")).expect("link");
        std::os::unix::fs::symlink("a.txt", dir.path().join("b.txt")).expect("link");
        let (files, skipped) = walk(dir.path());
        assert_eq!(files.len(), 1);
        let mut names: Vec<&str> = skipped.iter().map(|skip| skip.path.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, vec!["a.txt", "b.txt", "loop"]);
        assert!(skipped
            .iter()
            .all(|skip| skip.reason.starts_with("symbolic link")));
    }

    #[test]
    fn walk_honours_gitignore_without_a_repository() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(".gitignore"), "ignored/\n*.log\n").expect("write");
        std::fs::create_dir(dir.path().join("ignored")).expect("mkdir");
        std::fs::write(dir.path().join("ignored/x.md"), "x").expect("write");
        std::fs::write(dir.path().join("keep.md"), "x").expect("write");
        std::fs::write(dir.path().join("debug.log"), "x").expect("write");
        let (files, skipped) = walk(dir.path());
        let names: Vec<String> = files
            .iter()
            .map(|file| relative(dir.path(), file))
            .collect();
        assert_eq!(names, vec!["keep.md".to_owned()]);
        assert!(skipped.is_empty());
    }
}
