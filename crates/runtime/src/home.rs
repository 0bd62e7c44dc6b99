//! The data home: where one CodexOS installation keeps everything it stores.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Environment variable naming the data home.
pub const HOME_VAR: &str = "CODEXOS_HOME";
/// Environment variable naming a shared models folder.
pub const MODELS_VAR: &str = "CODEXOS_MODELS";

/// Paths of one data home. Two homes share nothing but, optionally, a
/// read-only models folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
    models: PathBuf,
    /// Where the metadata lives when not in `codexos.sqlite` (a team
    /// server's workspace on PostgreSQL).
    metadata: Option<codexos_store::Location>,
}

/// Numbers this process's write probes (see [`Home::prepare`]).
static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Home {
    /// The home from `CODEXOS_HOME` (else the OS data folder) and models from
    /// `CODEXOS_MODELS` (else `<home>/models`).
    pub fn from_env() -> Result<Self> {
        let root = match std::env::var_os(HOME_VAR).filter(|value| !value.is_empty()) {
            Some(root) => PathBuf::from(root),
            None => default_root()?,
        };
        let models = std::env::var_os(MODELS_VAR)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from);
        Ok(Self::new(root, models))
    }

    /// A home at `root`, with models in `models` or `<root>/models`.
    #[must_use]
    pub fn new(root: PathBuf, models: Option<PathBuf>) -> Self {
        let models = models.unwrap_or_else(|| root.join("models"));
        Self {
            root,
            models,
            metadata: None,
        }
    }

    /// The same home with its metadata kept at `location` (a schema of a
    /// PostgreSQL database) instead of `codexos.sqlite`; vectors and files
    /// stay in the folder.
    #[must_use]
    pub fn with_metadata(mut self, location: codexos_store::Location) -> Self {
        self.metadata = Some(location);
        self
    }

    /// Where the metadata store lives.
    #[must_use]
    pub fn metadata(&self) -> codexos_store::Location {
        self.metadata
            .clone()
            .unwrap_or_else(|| codexos_store::Location::Sqlite(self.database()))
    }

    /// Creates the folders and checks that the home is writable.
    pub fn prepare(&self) -> Result<()> {
        for directory in [self.root.clone(), self.logs(), self.models.clone()] {
            std::fs::create_dir_all(&directory).map_err(|source| Error::Home {
                path: directory.clone(),
                source,
            })?;
        }
        // A probe of its own: another CodexOS process (the app and the CLI,
        // two commands) may be checking the same home at the same moment.
        let probe = self.root.join(format!(
            ".write-test-{}-{}",
            std::process::id(),
            PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::write(&probe, b"ok")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|source| Error::Home {
                path: self.root.clone(),
                source,
            })
    }

    /// The home folder.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The models folder.
    #[must_use]
    pub fn models(&self) -> &Path {
        &self.models
    }

    /// The SQLite metadata database.
    #[must_use]
    pub fn database(&self) -> PathBuf {
        self.root.join("codexos.sqlite")
    }

    /// The LanceDB folder.
    #[must_use]
    pub fn lancedb(&self) -> PathBuf {
        self.root.join("lancedb")
    }

    /// The logs folder.
    #[must_use]
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// The flow files the app edits.
    #[must_use]
    pub fn flows(&self) -> PathBuf {
        self.root.join("flows")
    }

    /// Files the app exports (conversations as Markdown).
    #[must_use]
    pub fn exports(&self) -> PathBuf {
        self.root.join("exports")
    }

    /// Single files dropped onto the app (or given to `ingest --files`):
    /// copies, ingested as the project [`crate::FILES_PROJECT`].
    #[must_use]
    pub fn dropped_files(&self) -> PathBuf {
        self.root.join("files")
    }

    /// User tools (`tools/<name>/tool.toml`), trusted and watched.
    #[must_use]
    pub fn tools(&self) -> PathBuf {
        self.root.join("tools")
    }

    /// The configuration file.
    #[must_use]
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
}

fn default_root() -> Result<PathBuf> {
    directories::BaseDirs::new()
        .map(|dirs| dirs.data_dir().join("codexos"))
        .ok_or(Error::NoDataDir)
}

#[cfg(test)]
mod tests {
    use super::Home;

    #[test]
    fn homes_prepared_at_the_same_moment_do_not_trip_over_each_other() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("home");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let home = Home::new(root.clone(), None);
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        home.prepare().expect("prepared");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("no panic");
        }
        // Positive control: the home exists, and no probe is left behind.
        let left: Vec<_> = std::fs::read_dir(&root)
            .expect("home")
            .flatten()
            .filter(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".write-test")
            })
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
