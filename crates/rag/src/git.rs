//! Git awareness: which commit last changed each chunk, trees at a revision,
//! and clones.
//!
//! Blame runs on the file's bytes as read (libgit2's blame-buffer), so lines
//! edited but not committed are recognised as such, and a chunk is tagged
//! with the newest commit among its lines. Ingest at a revision reads blobs
//! straight from the object database: the working tree is never touched.

use std::path::{Path, PathBuf};

use git2::{BlameOptions, ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use crate::chunk::{Chunk, Kind};
use crate::{Error, Result};

/// Commit tag of one chunk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ChunkTag {
    /// Newest commit among the chunk's lines; `None` when a line is uncommitted.
    pub commit: Option<String>,
    /// That commit's author time, or the file's modification time for
    /// uncommitted lines (Unix seconds).
    pub author_time: Option<i64>,
}

/// The git repository a folder (or a revision of it) lives in.
pub(crate) struct GitTree {
    repo: Repository,
    /// The ingested folder relative to the work tree, `/`-separated, with a
    /// trailing `/` (empty at the top).
    prefix: String,
    /// HEAD's tree, read once per ingest (`None` before the first commit).
    head_tree: Option<Oid>,
    /// The revision ingested, when not the working tree.
    revision: Option<Oid>,
}

fn git_error(action: &'static str) -> impl FnOnce(git2::Error) -> Error {
    move |error| Error::Git {
        action,
        message: error.message().to_owned(),
    }
}

/// Resolves `rev` (a branch, tag, `HEAD~3`, a commit id) in the repository
/// that holds `root`, to a full commit id.
pub fn resolve_revision(root: &Path, rev: &str) -> Result<String> {
    let repo = Repository::discover(root).map_err(|_| Error::NotARepository {
        path: root.to_path_buf(),
    })?;
    let commit = repo
        .revparse_single(rev)
        .and_then(|object| object.peel_to_commit())
        .map_err(|error| Error::UnknownRevision {
            rev: rev.to_owned(),
            message: error.message().to_owned(),
        })?;
    Ok(commit.id().to_string())
}

/// Clones `url` into `into` (a new folder), reporting `(received, total)`
/// objects as it goes. A partial clone is removed on failure.
pub fn clone_repository(
    url: &str,
    into: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<()> {
    codexos_net::check(&format!("cloning `{url}`")).map_err(|refused| Error::Clone {
        url: url.to_owned(),
        message: refused.to_string(),
    })?;
    let mut callbacks = git2::RemoteCallbacks::new();
    callbacks.transfer_progress(|stats| {
        progress(stats.received_objects(), stats.total_objects());
        true
    });
    let mut fetch = git2::FetchOptions::new();
    fetch.remote_callbacks(callbacks);
    let result = git2::build::RepoBuilder::new()
        .fetch_options(fetch)
        .clone(url, into);
    match result {
        Ok(_) => Ok(()),
        Err(error) => {
            // Best effort: a half-written clone must not pass for a good one.
            let _ = std::fs::remove_dir_all(into);
            Err(Error::Clone {
                url: url.to_owned(),
                message: error.message().to_owned(),
            })
        }
    }
}

/// The URL of the `origin` remote of the repository at `path`, if any.
#[must_use]
pub fn origin_url(path: &Path) -> Option<String> {
    let repo = Repository::open(path).ok()?;
    let remote = repo.find_remote("origin").ok()?;
    remote.url().ok().map(str::to_owned)
}

impl GitTree {
    /// The repository holding `root`, if it is inside a git work tree.
    pub(crate) fn discover(root: &Path) -> Option<Self> {
        let repo = Repository::discover(root).ok()?;
        let workdir = std::fs::canonicalize(repo.workdir()?).ok()?;
        let inside = root.strip_prefix(&workdir).ok()?;
        let mut prefix = inside
            .components()
            .map(|component| component.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if !prefix.is_empty() {
            prefix.push('/');
        }
        let head_tree = repo
            .head()
            .and_then(|head| head.peel_to_tree())
            .ok()
            .map(|tree| tree.id());
        Some(Self {
            repo,
            prefix,
            head_tree,
            revision: None,
        })
    }

    /// The repository holding `root`, read at commit `revision` (a full id
    /// from [`resolve_revision`]).
    pub(crate) fn at_revision(root: &Path, revision: &str) -> Result<Self> {
        let mut tree = Self::discover(root).ok_or_else(|| Error::NotARepository {
            path: root.to_path_buf(),
        })?;
        tree.revision = Some(
            Oid::from_str(revision).map_err(|error| Error::UnknownRevision {
                rev: revision.to_owned(),
                message: error.message().to_owned(),
            })?,
        );
        Ok(tree)
    }

    /// Files of the ingested folder at the revision: `(relative path, blob id,
    /// size)`, hidden paths left out as in a folder walk, sorted by path.
    pub(crate) fn revision_files(&self) -> Result<Vec<(String, Oid, usize)>> {
        let revision = self.revision.ok_or(Error::Git {
            action: "listing a revision",
            message: "no revision was given".into(),
        })?;
        let tree = self
            .repo
            .find_commit(revision)
            .and_then(|commit| commit.tree())
            .map_err(git_error("reading the revision's tree"))?;
        // Sizes come from object headers: blobs are read once, when ingested.
        let odb = self
            .repo
            .odb()
            .map_err(git_error("opening the object database"))?;
        let mut files = Vec::new();
        tree.walk(TreeWalkMode::PreOrder, |directory, entry| {
            let name = entry.name().unwrap_or_default();
            if name.starts_with('.') {
                return TreeWalkResult::Skip;
            }
            let full = format!("{directory}{name}");
            if entry.kind() == Some(ObjectType::Blob) {
                if let Some(relative) = full.strip_prefix(&self.prefix) {
                    let size = odb.read_header(entry.id()).map_or(0, |(size, _)| size);
                    files.push((relative.to_owned(), entry.id(), size));
                }
            }
            TreeWalkResult::Ok
        })
        .map_err(git_error("walking the revision's tree"))?;
        files.sort();
        Ok(files)
    }

    /// The bytes of a blob.
    pub(crate) fn blob(&self, id: Oid) -> Result<Vec<u8>> {
        self.repo
            .find_blob(id)
            .map(|blob| blob.content().to_vec())
            .map_err(git_error("reading a file from the revision"))
    }

    /// `"clean"` when the file's bytes are what HEAD holds, else `"dirty"`:
    /// part of the ledger key, so a commit of an edited file re-tags its chunks.
    pub(crate) fn state(&self, relative: &str, bytes: &[u8]) -> &'static str {
        if self.revision.is_some() {
            return "rev";
        }
        let committed = self
            .head_tree
            .and_then(|tree| self.repo.find_tree(tree).ok())
            .and_then(|tree| {
                tree.get_path(Path::new(&format!("{}{relative}", self.prefix)))
                    .ok()
            })
            .map(|entry| entry.id());
        match (committed, Oid::hash_object(ObjectType::Blob, bytes)) {
            (Some(committed), Ok(current)) if committed == current => "clean",
            _ => "dirty",
        }
    }

    /// The commit tag of each chunk of a file. Files git does not know yet
    /// are all uncommitted; whole-file kinds (PDF, HTML, whose chunk lines
    /// are not source lines) take the file's newest commit.
    pub(crate) fn tags(
        &self,
        relative: &str,
        bytes: &[u8],
        kind: Kind,
        chunks: &[Chunk],
        modified: Option<i64>,
    ) -> Vec<ChunkTag> {
        let uncommitted = ChunkTag {
            commit: None,
            author_time: modified,
        };
        let path = PathBuf::from(format!("{}{relative}", self.prefix));
        let mut options = BlameOptions::new();
        if let Some(revision) = self.revision {
            options.newest_commit(revision);
        }
        let Ok(blame) = self.repo.blame_file(&path, Some(&mut options)) else {
            return vec![uncommitted; chunks.len()];
        };
        // The working tree may differ from HEAD: blame the bytes as read.
        let buffer_blame;
        let blame = if self.revision.is_none() {
            match blame.blame_buffer(bytes) {
                Ok(blamed) => {
                    buffer_blame = blamed;
                    &buffer_blame
                }
                Err(_) => return vec![uncommitted; chunks.len()],
            }
        } else {
            &blame
        };
        // Blank lines say nothing about content: adding one must not re-date
        // the chunk around it.
        let blank: Vec<bool> = bytes
            .split(|&byte| byte == b'\n')
            .map(|line| line.iter().all(u8::is_ascii_whitespace))
            .collect();
        let newest = |lines: std::ops::RangeInclusive<usize>| -> ChunkTag {
            let mut best: Option<(i64, Oid)> = None;
            for line in lines {
                if blank.get(line.wrapping_sub(1)).copied().unwrap_or(false) {
                    continue;
                }
                let Some(hunk) = blame.get_line(line) else {
                    continue;
                };
                let id = hunk.final_commit_id();
                if id.is_zero() {
                    return uncommitted.clone();
                }
                let time = hunk
                    .final_signature()
                    .map_or(0, |signature| signature.when().seconds());
                if best.is_none_or(|(best_time, _)| time > best_time) {
                    best = Some((time, id));
                }
            }
            best.map_or_else(
                || uncommitted.clone(),
                |(time, id)| ChunkTag {
                    commit: Some(id.to_string()),
                    author_time: Some(time),
                },
            )
        };
        let line_count = blank.len();
        if matches!(kind, Kind::Pdf | Kind::Html) {
            let tag = newest(1..=line_count);
            return vec![tag; chunks.len()];
        }
        chunks
            .iter()
            .map(|chunk| newest(chunk.start_line as usize..=chunk.end_line as usize))
            .collect()
    }
}
