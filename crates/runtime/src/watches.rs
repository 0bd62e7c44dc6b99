//! Folders kept under watch in the background (the app watches every folder
//! it ingests): one [`Runtime::watch`] task per project, replaceable and
//! stoppable.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::{Error, IngestProgress, IngestReport, Runtime};

/// What a background watch reports.
#[derive(Debug)]
pub enum WatchEvent {
    /// The folder changed and was re-indexed.
    Updated(IngestReport),
    /// The watch ended: unwatched or replaced (`error` is `None`), or failed.
    Stopped {
        /// Project name.
        project: String,
        /// Why it failed, if it did.
        error: Option<Error>,
    },
}

/// A folder under watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct WatchInfo {
    /// Project name.
    pub project: String,
    /// The folder.
    pub root: String,
}

struct Watch {
    id: u64,
    root: String,
    cancel: CancellationToken,
}

/// The registry of background watches of one runtime.
#[derive(Default)]
pub(crate) struct Watches {
    active: Mutex<HashMap<String, Watch>>,
    next_id: AtomicU64,
}

impl Watches {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Watch>> {
        self.active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Runtime {
    /// Keeps watching the folder of a finished ingest in a background task,
    /// replacing any earlier watch of the same project. Must be called from
    /// within a tokio runtime.
    pub fn keep_watching(
        self: &Arc<Self>,
        report: &IngestReport,
        on_event: impl Fn(WatchEvent) + Send + Sync + 'static,
    ) {
        let cancel = CancellationToken::new();
        let id = self.watches.next_id.fetch_add(1, Ordering::Relaxed);
        let watch = Watch {
            id,
            root: report.root.clone(),
            cancel: cancel.clone(),
        };
        if let Some(previous) = self.watches.lock().insert(report.project.clone(), watch) {
            previous.cancel.cancel();
        }
        let runtime = Arc::clone(self);
        let project = report.project.clone();
        let root = PathBuf::from(&report.root);
        tokio::spawn(async move {
            let updates = |event: IngestProgress| {
                if let IngestProgress::Finished { report } = event {
                    on_event(WatchEvent::Updated(report));
                }
            };
            let error = runtime
                .watch(&root, Some(&project), &updates, &cancel)
                .await
                .err();
            if let Some(error) = &error {
                tracing::warn!(project, %error, "watch stopped");
            }
            {
                let mut watches = runtime.watches.lock();
                // Forget the entry only if it is still this watch, not a newer one.
                if watches.get(&project).is_some_and(|watch| watch.id == id) {
                    watches.remove(&project);
                }
            }
            on_event(WatchEvent::Stopped { project, error });
        });
    }

    /// Folders under watch, by project name.
    #[must_use]
    pub fn watched(&self) -> Vec<WatchInfo> {
        let mut list: Vec<WatchInfo> = self
            .watches
            .lock()
            .iter()
            .map(|(project, watch)| WatchInfo {
                project: project.clone(),
                root: watch.root.clone(),
            })
            .collect();
        list.sort_by(|a, b| a.project.cmp(&b.project));
        list
    }

    /// Stops watching a project's folder; `false` when it was not watched.
    pub fn unwatch(&self, project: &str) -> bool {
        let watch = self.watches.lock().remove(project);
        watch.is_some_and(|watch| {
            watch.cancel.cancel();
            true
        })
    }
}
