//! Watching a folder: file-system events (notify), filtered and debounced
//! into batches that the caller turns into incremental ingests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

/// A live watch of one folder. Dropping it stops watching.
pub struct FolderWatcher {
    root: PathBuf,
    excluded: Vec<PathBuf>,
    // Kept alive for as long as the watch lasts.
    _watcher: RecommendedWatcher,
    events: mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
}

impl std::fmt::Debug for FolderWatcher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("FolderWatcher")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl FolderWatcher {
    /// Starts watching `root` recursively. Changes under `excluded` (the data
    /// home, should it sit inside the folder) are ignored, as are hidden
    /// files and folders such as `.git/` — except git's HEAD and its log,
    /// which move on every commit, checkout and reset.
    pub fn start(root: &Path, excluded: Vec<PathBuf>) -> Result<Self> {
        let watch_error = |error: notify::Error| Error::Watch {
            path: root.to_path_buf(),
            message: error.to_string(),
        };
        let (sender, events) = mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |event| {
            // The receiver is gone only when the watch is being dropped.
            if sender.send(event).is_err() {
                tracing::debug!("watch event after the watch ended");
            }
        })
        .map_err(watch_error)?;
        watcher
            .watch(root, RecursiveMode::Recursive)
            .map_err(watch_error)?;
        Ok(Self {
            root: root.to_path_buf(),
            excluded,
            _watcher: watcher,
            events,
        })
    }

    fn relevant(&self, path: &Path) -> bool {
        if self
            .excluded
            .iter()
            .any(|excluded| path.starts_with(excluded))
        {
            return false;
        }
        let relative = path.strip_prefix(&self.root).unwrap_or(path);
        // A commit, checkout or reset moves HEAD: chunks' commit tags change
        // even when no file does, so that is a change too.
        if relative == Path::new(".git/HEAD") || relative == Path::new(".git/logs/HEAD") {
            return true;
        }
        !relative
            .components()
            .any(|component| component.as_os_str().to_string_lossy().starts_with('.'))
    }

    /// Waits for the next burst of relevant changes and returns the changed
    /// paths once `quiet` has passed without another; `None` when cancelled.
    pub async fn next_batch(
        &mut self,
        quiet: Duration,
        cancel: &CancellationToken,
    ) -> Result<Option<BTreeSet<PathBuf>>> {
        let mut changed = BTreeSet::new();
        loop {
            let next = if changed.is_empty() {
                tokio::select! {
                    () = cancel.cancelled() => return Ok(None),
                    event = self.events.recv() => event,
                }
            } else {
                tokio::select! {
                    () = cancel.cancelled() => return Ok(None),
                    event = self.events.recv() => event,
                    () = tokio::time::sleep(quiet) => return Ok(Some(changed)),
                }
            };
            let Some(event) = next else {
                return Err(Error::Watch {
                    path: self.root.clone(),
                    message: "the file watcher stopped".into(),
                });
            };
            match event {
                Ok(event) if !matches!(event.kind, EventKind::Access(_)) => {
                    changed.extend(event.paths.into_iter().filter(|path| self.relevant(path)));
                }
                Ok(_) => {}
                // Overflowed queues and similar: rescan to be safe.
                Err(error) => {
                    tracing::warn!(%error, "file watcher error; rescanning");
                    changed.insert(self.root.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn edits_arrive_as_one_debounced_batch_and_hidden_paths_are_ignored() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        std::fs::create_dir(root.join(".git")).expect("mkdir");
        let mut watcher = FolderWatcher::start(&root, Vec::new()).expect("watch");
        assert!(
            watcher.relevant(&root.join(".git/logs/HEAD")),
            "commits count"
        );
        assert!(!watcher.relevant(&root.join(".git/objects/ab/cdef")));
        let cancel = CancellationToken::new();
        std::fs::write(root.join(".git/index"), "x").expect("write");
        std::fs::write(root.join("a.md"), "one").expect("write");
        std::fs::write(root.join("a.md"), "two").expect("write");
        std::fs::write(root.join("b.md"), "three").expect("write");
        let batch = tokio::time::timeout(
            Duration::from_secs(20),
            watcher.next_batch(Duration::from_millis(300), &cancel),
        )
        .await
        .expect("a batch arrives")
        .expect("no watch error")
        .expect("not cancelled");
        assert!(
            batch.contains(&root.join("a.md")) && batch.contains(&root.join("b.md")),
            "{batch:?}"
        );
        assert!(
            batch
                .iter()
                .all(|path| !path.starts_with(root.join(".git"))),
            "{batch:?}"
        );
        cancel.cancel();
        assert!(watcher
            .next_batch(Duration::from_millis(300), &cancel)
            .await
            .expect("ok")
            .is_none());
    }
}
