//! Single files dropped onto the app (or given to `codexos ingest --files`):
//! each is checked with the same loader the ingest uses, copied into the
//! data home's `files/` folder, and that folder ingested as the project
//! [`FILES_PROJECT`]. A file that cannot be read as text (a binary, a
//! malformed PDF, one over the size limit) is refused with its reason and
//! nothing of it is kept.

use std::path::{Path, PathBuf};

use codexos_rag::{IngestEvent, IngestReport};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::{Error, Result, Runtime};

/// The project single dropped files go into.
pub const FILES_PROJECT: &str = "files";

/// A dropped file that was not ingested, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct RefusedFile {
    /// The path as given.
    pub path: String,
    /// Why, in words.
    pub reason: String,
}

/// What became of dropped files.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
pub struct DroppedFiles {
    /// The names they have in the `files` project (a name already taken by
    /// another file gets ` (2)`, ` (3)` … before its extension).
    pub added: Vec<String>,
    /// Those refused, with the reason.
    pub refused: Vec<RefusedFile>,
    /// The ingest of the `files` project.
    pub report: IngestReport,
}

/// `name (2).ext`, `name (3).ext` … for the `n`th copy.
fn numbered(name: &str, n: u32) -> String {
    match name.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => format!("{stem} ({n}).{extension}"),
        _ => format!("{name} ({n})"),
    }
}

/// Where `name` with `bytes` goes in `folder`: its own name when free or
/// holding the same bytes already (a file dropped twice), else the first
/// free numbered name.
fn destination(folder: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let mut n = 1;
    loop {
        let candidate = folder.join(if n == 1 {
            name.to_owned()
        } else {
            numbered(name, n)
        });
        match std::fs::read(&candidate) {
            Ok(existing) if existing == bytes => return candidate,
            Ok(_) => n += 1,
            Err(_) => return candidate,
        }
    }
}

/// Why `path` cannot be ingested, or its bytes.
fn check(path: &Path, limit: u64) -> std::result::Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            "it does not exist".to_owned()
        } else {
            error.to_string()
        }
    })?;
    if meta.is_dir() {
        return Err("it is a folder (ingest it as a project)".to_owned());
    }
    if !meta.is_file() {
        return Err("it is not a regular file (a pipe, socket or device)".to_owned());
    }
    if path
        .file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with('.'))
    {
        return Err("hidden files (names starting with `.`) are not ingested".to_owned());
    }
    if meta.len() > limit {
        return Err(format!(
            "{:.1} MB, over the {:.1} MB limit (`ingest.max_file_bytes` in config.toml)",
            meta.len() as f64 / 1e6,
            limit as f64 / 1e6
        ));
    }
    let bytes = std::fs::read(path).map_err(|error| error.to_string())?;
    let name = path.to_string_lossy();
    let kind = codexos_rag::Kind::for_path(&name);
    let language = codexos_rag::language_for_path(&name);
    match codexos_rag::load(kind, language, &bytes) {
        Ok(chunks) if chunks.is_empty() => Err("it has no text".to_owned()),
        Ok(_) => Ok(bytes),
        Err(reason) => Err(reason),
    }
}

/// Removes the copies a failed drop made.
fn remove_all(files: &[PathBuf]) {
    for file in files {
        if let Err(error) = std::fs::remove_file(file) {
            tracing::warn!(%error, file = %file.display(), "cannot remove a dropped file's copy");
        }
    }
}

/// What a dropped path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum PathKind {
    /// A folder: ingested as its own project.
    Folder,
    /// A file: a model (.gguf) is imported, anything else goes to `files`.
    File,
    /// Gone, or unreadable.
    Missing,
}

/// What `path` is, for sorting a drop (folders, files, gone).
#[must_use]
pub fn path_kind(path: &Path) -> PathKind {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => PathKind::Folder,
        Ok(_) => PathKind::File,
        Err(_) => PathKind::Missing,
    }
}

impl Runtime {
    /// Ingests single files into the project [`FILES_PROJECT`]: each
    /// checked (readable as text, code, Markdown, JSON, HTML or PDF, within
    /// `ingest.max_file_bytes`), copied into the data home's `files/`, then
    /// the folder ingested (unchanged files are skipped as usual). Fails,
    /// keeping nothing, when no file can be ingested.
    pub async fn ingest_files(
        &self,
        paths: &[PathBuf],
        progress: &(dyn Fn(IngestEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<DroppedFiles> {
        let folder = self.home.dropped_files();
        if let Some(project) = self.store.project(FILES_PROJECT)? {
            let ours = std::fs::canonicalize(&folder).unwrap_or_else(|_| folder.clone());
            if project.root != ours {
                return Err(Error::FilesProjectTaken { root: project.root });
            }
        }
        let limit = self.config.ingest.max_file_bytes;
        let given = paths.to_vec();
        // Reading and checking files is blocking work.
        let (accepted, refused) = tokio::task::spawn_blocking(move || {
            let mut accepted = Vec::new();
            let mut refused = Vec::new();
            for path in &given {
                let shown = path.to_string_lossy().into_owned();
                let name = path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned());
                match (name, check(path, limit)) {
                    (Some(name), Ok(bytes)) => accepted.push((name, bytes)),
                    (None, _) => refused.push(RefusedFile {
                        path: shown,
                        reason: "it names no file".to_owned(),
                    }),
                    (_, Err(reason)) => refused.push(RefusedFile {
                        path: shown,
                        reason,
                    }),
                }
            }
            (accepted, refused)
        })
        .await
        .map_err(Error::task)?;
        if accepted.is_empty() {
            let reasons = refused
                .iter()
                .map(|file| format!("{}: {}", file.path, file.reason))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::NothingIngestible {
                reasons: if reasons.is_empty() {
                    "no file was given".to_owned()
                } else {
                    reasons
                },
            });
        }
        let mut added = Vec::new();
        // The copies this call made (not those that were there already with
        // the same bytes): taken back out if the ingest fails.
        let mut fresh = Vec::new();
        for (name, bytes) in accepted {
            let target = destination(&folder, &name, &bytes);
            let name = target
                .file_name()
                .map_or(name, |name| name.to_string_lossy().into_owned());
            if !target.exists() {
                fresh.push(target.clone());
            }
            if let Err(error) = crate::flows::write_in_place(&folder, &name, &bytes) {
                remove_all(&fresh);
                return Err(error);
            }
            added.push(name);
        }
        let report = match self
            .ingest(&folder, Some(FILES_PROJECT), progress, cancel)
            .await
        {
            Ok(report) => report,
            Err(error) => {
                remove_all(&fresh);
                return Err(error);
            }
        };
        Ok(DroppedFiles {
            added,
            refused,
            report,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_numbered_before_the_extension() {
        assert_eq!(numbered("notes.md", 2), "notes (2).md");
        assert_eq!(numbered("Makefile", 3), "Makefile (3)");
        assert_eq!(numbered(".env", 2), ".env (2)");
    }

    #[test]
    fn the_same_file_dropped_twice_keeps_its_name_and_another_gets_a_number() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("a.md"), "one").expect("write");
        assert_eq!(
            destination(dir.path(), "a.md", b"one"),
            dir.path().join("a.md")
        );
        assert_eq!(
            destination(dir.path(), "a.md", b"two"),
            dir.path().join("a (2).md")
        );
        assert_eq!(
            destination(dir.path(), "b.md", b"two"),
            dir.path().join("b.md")
        );
    }

    #[test]
    fn binaries_folders_and_oversized_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().expect("dir");
        let binary = dir.path().join("image.png");
        std::fs::write(&binary, [0x89, b'P', b'N', b'G', 0, 0, 1, 2]).expect("write");
        assert_eq!(check(&binary, 1 << 20), Err("binary file".to_owned()));
        let text = dir.path().join("notes.md");
        std::fs::write(&text, "# Notes\n\nHello.\n").expect("write");
        assert!(check(&text, 1 << 20).is_ok(), "positive control");
        assert!(check(&text, 4).expect_err("too big").contains("over the"));
        assert!(check(dir.path(), 1 << 20)
            .expect_err("folder")
            .contains("folder"));
        let pdf = dir.path().join("broken.pdf");
        std::fs::write(&pdf, "%PDF-1.4 not really").expect("write");
        assert!(check(&pdf, 1 << 20).expect_err("bad PDF").contains("PDF"));
    }
}
