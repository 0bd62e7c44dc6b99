//! A project's file tree and file previews for the app.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{Error, Result, Runtime};

/// Largest preview, in bytes; longer files are cut and marked truncated.
const PREVIEW_BYTES: usize = 256 * 1024;

/// An indexed file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ProjectFile {
    /// Path relative to the project root.
    pub path: String,
    /// Size in bytes.
    pub size: f64,
    /// Chunks stored for it.
    pub chunks: u32,
}

/// The text of a file, as far as it can be shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct FilePreview {
    /// Path relative to the project root.
    pub path: String,
    /// The text (for PDFs: the extracted text, page by page).
    pub text: String,
    /// Whether the text was cut at the preview limit.
    pub truncated: bool,
}

impl Runtime {
    /// The indexed files of a project.
    pub fn project_files(&self, project: &str) -> Result<Vec<ProjectFile>> {
        self.require_project(project)?;
        Ok(self
            .store
            .project_files(project)?
            .into_iter()
            .map(|file| ProjectFile {
                path: file.path,
                size: file.size as f64,
                chunks: file.chunks,
            })
            .collect())
    }

    /// Reads a file of a project for preview. The path must stay inside the
    /// project's folder (no `..`, no symlink out of it).
    pub fn file_preview(&self, project: &str, path: &str) -> Result<FilePreview> {
        let root = self.require_project(project)?.root;
        let outside = || Error::PathOutsideProject {
            path: path.to_owned(),
            project: project.to_owned(),
        };
        let root = std::fs::canonicalize(&root).map_err(|source| Error::Home {
            path: root.clone(),
            source,
        })?;
        let full: PathBuf = std::fs::canonicalize(root.join(path)).map_err(|_| outside())?;
        if !full.starts_with(&root) {
            return Err(outside());
        }
        let bytes = std::fs::read(&full).map_err(|source| Error::Home {
            path: full.clone(),
            source,
        })?;
        let kind = codexos_rag::Kind::for_path(path);
        let text = if kind == codexos_rag::Kind::Pdf {
            codexos_rag::load(kind, None, &bytes).map_or_else(
                |reason| format!("(no preview: {reason})"),
                |chunks| {
                    chunks
                        .iter()
                        .map(|chunk| {
                            format!("— page {} —\n{}", chunk.page.unwrap_or(0), chunk.text)
                        })
                        .collect::<Vec<_>>()
                        .join("\n\n")
                },
            )
        } else {
            match std::str::from_utf8(&bytes) {
                Ok(text) => text.to_owned(),
                Err(_) => "(no preview: not UTF-8 text)".to_owned(),
            }
        };
        let truncated = text.len() > PREVIEW_BYTES;
        let mut text = text;
        if truncated {
            let mut cut = PREVIEW_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        Ok(FilePreview {
            path: path.to_owned(),
            text,
            truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{Error, Home, Runtime};

    #[test]
    fn previews_stay_inside_the_project_folder() {
        let home = tempfile::tempdir().expect("temp dir");
        let runtime = Runtime::open(Home::new(home.path().join("home"), None)).expect("runtime");
        let outside = tempfile::tempdir().expect("temp dir");
        std::fs::write(outside.path().join("secret.txt"), "private").expect("write");
        let project = tempfile::tempdir().expect("temp dir");
        std::fs::write(project.path().join("a.md"), "# A\nhello\n").expect("write");
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            project.path().join("link.txt"),
        )
        .expect("symlink");
        runtime
            .store
            .upsert_project("p", project.path())
            .expect("project");

        let preview = runtime.file_preview("p", "a.md").expect("preview");
        assert_eq!(
            (preview.text.as_str(), preview.truncated),
            ("# A\nhello\n", false)
        );
        let escape = format!(
            "../{}/secret.txt",
            outside
                .path()
                .file_name()
                .and_then(|n| n.to_str())
                .expect("name")
        );
        for path in [escape.as_str(), "link.txt", "/etc/passwd"] {
            let error = runtime.file_preview("p", path).expect_err(path);
            assert!(
                matches!(error, Error::PathOutsideProject { .. }),
                "{path}: {error}"
            );
        }
        assert!(matches!(
            runtime.file_preview("nope", "a.md"),
            Err(Error::UnknownProject { .. })
        ));
    }
}
