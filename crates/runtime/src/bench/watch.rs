//! `codexos bench watch`: how long after a file is written it can be found.
//! A copy of a folder is ingested into a scratch data home and watched, as
//! `ingest --watch` and the app do; then files are written one at a time
//! (new files and edits of existing ones, each with a word found nowhere
//! else) and full-text search is polled every 5 ms until the file comes up.
//! The latency is from the write to the first search that finds it:
//! debounce (250 ms), re-ingest of the changed file, embedding, storing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::{Error, IngestProgress, Result, Runtime, SearchMode, SearchRequest};

/// What `bench watch` measured.
#[derive(Debug, Clone, Serialize)]
pub struct WatchBench {
    /// Files in the watched copy.
    pub files: u32,
    /// Writes timed.
    pub writes: u32,
    /// Median write-to-searchable latency, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile, milliseconds.
    pub p95_ms: f64,
    /// Slowest, milliseconds.
    pub max_ms: f64,
    /// The watcher's debounce, milliseconds (part of every figure).
    pub debounce_ms: u64,
}

/// Copies `from` into `to` (files and folders; links and special files are
/// left out, as ingest leaves them out).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<u32> {
    std::fs::create_dir_all(to)?;
    let mut files = 0;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            files += copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
            files += 1;
        }
    }
    Ok(files)
}

/// The `index`th write: even ones add a note, odd ones append `word` to
/// an existing markdown or text file of the copy.
fn next_write(
    index: u32,
    existing: &[PathBuf],
    tree: &Path,
    word: &str,
) -> std::io::Result<(PathBuf, String)> {
    match existing.get(index as usize / 2 % existing.len().max(1)) {
        Some(path) if index % 2 == 1 => {
            let mut text = std::fs::read_to_string(path)?;
            text.push_str("\n\nEdited: ");
            text.push_str(word);
            text.push_str(".\n");
            Ok((path.clone(), text))
        }
        _ => Ok((
            tree.join(format!("note-{index}.md")),
            format!("# Note {index}\n\nA note about {word}.\n"),
        )),
    }
}

impl Runtime {
    /// Watches a copy of `folder` and times `writes` writes from the write
    /// to the moment search finds the file.
    pub async fn bench_watch(
        &self,
        folder: &Path,
        writes: u32,
        cancel: &CancellationToken,
    ) -> Result<WatchBench> {
        let scratch = tempfile::tempdir().map_err(|source| Error::Home {
            path: std::env::temp_dir(),
            source,
        })?;
        let failed = |message: String| Error::BenchFailed {
            bench: "watch".into(),
            message,
        };
        let tree = scratch.path().join("tree");
        let files = copy_tree(folder, &tree).map_err(|error| {
            failed(format!(
                "cannot copy `{}` into a scratch folder: {error}",
                folder.display()
            ))
        })?;
        let runtime = self.sibling(&scratch.path().join("home"))?;
        let (passes, mut finished) = tokio::sync::mpsc::unbounded_channel();
        let stop = cancel.child_token();
        let watching = {
            let runtime = Arc::clone(&runtime);
            let tree = tree.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let report = move |event: IngestProgress| {
                    if matches!(event, IngestProgress::Finished { .. }) {
                        // The receiver outlives the watch; a closed one means the bench ended.
                        passes.send(()).ok();
                    }
                };
                runtime.watch(&tree, Some("watch"), &report, &stop).await
            })
        };
        // The first pass ingests the whole copy; writes start after it.
        finished
            .recv()
            .await
            .ok_or_else(|| failed("the watch ended before its first ingest".into()))?;
        let existing: Vec<PathBuf> = std::fs::read_dir(&tree)
            .map_err(|error| failed(format!("cannot list `{}`: {error}", tree.display())))?
            .filter_map(std::result::Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "md" || extension == "txt")
            })
            .collect();
        let mut latencies = Vec::new();
        let request = SearchRequest::new(5, SearchMode::Bm25, Some("watch"));
        for index in 0..writes {
            let word = format!("zqxwatch{index}mark{}", std::process::id());
            let (path, text) = next_write(index, &existing, &tree, &word)
                .map_err(|error| failed(format!("cannot read `{}`: {error}", tree.display())))?;
            let relative = path
                .strip_prefix(&tree)
                .map(|relative| relative.to_string_lossy().into_owned())
                .unwrap_or_default();
            let started = Instant::now();
            std::fs::write(&path, text)
                .map_err(|error| failed(format!("cannot write `{}`: {error}", path.display())))?;
            loop {
                if cancel.is_cancelled() {
                    return Err(Error::Rag(codexos_rag::Error::Cancelled));
                }
                let hits = runtime.search(&word, &request).await?;
                if hits.iter().any(|hit| hit.path == relative) {
                    break;
                }
                if started.elapsed() > Duration::from_mins(1) {
                    return Err(failed(format!(
                        "`{relative}` was not searchable 60 s after it was written"
                    )));
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            // Let the watcher settle, so one write's batch is not the next's.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        stop.cancel();
        match watching.await {
            Ok(result) => result?,
            Err(error) => return Err(Error::task(error)),
        }
        let max_ms = latencies.iter().copied().fold(0.0, f64::max);
        Ok(WatchBench {
            files,
            writes,
            p50_ms: super::percentile(&mut latencies, 0.5),
            p95_ms: super::percentile(&mut latencies, 0.95),
            max_ms,
            debounce_ms: 250,
        })
    }
}
