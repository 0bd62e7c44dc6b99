//! Git tools on the project's repository (libgit2; no `git` program needed).

use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::tool::OUTPUT_LIMIT;
use crate::{Error, Result};

/// Arguments of `git.status` (none).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusArgs {}

/// Arguments of `git.diff`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiffArgs {
    /// Compare the working tree against this revision (default `HEAD`).
    #[serde(default)]
    rev: Option<String>,
    /// Only this path (a file or folder relative to the project root).
    #[serde(default)]
    path: Option<String>,
}

/// Arguments of `git.log`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogArgs {
    /// Most commits to list (default 20).
    #[serde(default)]
    max: Option<usize>,
    /// Only commits that touched this path.
    #[serde(default)]
    path: Option<String>,
}

/// Arguments of `git.commit`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommitArgs {
    /// Commit message.
    message: String,
    /// Paths to commit (added or removed as they are now); every change to
    /// tracked files when absent.
    #[serde(default)]
    paths: Option<Vec<String>>,
}

fn repository(tool: &str, root: &Path) -> Result<git2::Repository> {
    git2::Repository::discover(root).map_err(|error| {
        Error::failed(
            tool,
            format!(
                "`{}` is not in a git repository: {}",
                root.display(),
                error.message()
            ),
        )
    })
}

fn git_error(tool: &str, what: &str) -> impl Fn(git2::Error) -> Error {
    let tool = tool.to_owned();
    let what = what.to_owned();
    move |error| Error::failed(&tool, format!("{what}: {}", error.message()))
}

pub(crate) fn status(tool: &str, root: &Path) -> Result<Value> {
    let repository = repository(tool, root)?;
    let mut options = git2::StatusOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true);
    let statuses = repository
        .statuses(Some(&mut options))
        .map_err(git_error(tool, "cannot read the status"))?;
    let mut entries = Vec::new();
    for entry in statuses.iter() {
        let flags = entry.status();
        let state = if flags.is_wt_new() {
            "untracked"
        } else if flags.is_index_new() {
            "added"
        } else if flags.is_wt_deleted() || flags.is_index_deleted() {
            "deleted"
        } else if flags.is_wt_renamed() || flags.is_index_renamed() {
            "renamed"
        } else if flags.is_conflicted() {
            "conflicted"
        } else if flags.is_ignored() {
            continue;
        } else {
            "modified"
        };
        let staged = flags.intersects(
            git2::Status::INDEX_NEW
                | git2::Status::INDEX_MODIFIED
                | git2::Status::INDEX_DELETED
                | git2::Status::INDEX_RENAMED,
        );
        entries.push(json!({
            "path": entry.path().unwrap_or_default(),
            "state": state,
            "staged": staged,
        }));
    }
    let branch = repository
        .head()
        .ok()
        .and_then(|head| head.shorthand().ok().map(str::to_owned));
    Ok(json!({"branch": branch, "changes": entries}))
}

pub(crate) fn diff(tool: &str, root: &Path, args: &DiffArgs) -> Result<Value> {
    let repository = repository(tool, root)?;
    let rev = args.rev.as_deref().unwrap_or("HEAD");
    let tree = repository
        .revparse_single(rev)
        .and_then(|object| object.peel_to_tree())
        .map_err(git_error(tool, &format!("unknown revision `{rev}`")))?;
    let mut options = git2::DiffOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .show_untracked_content(true);
    if let Some(path) = &args.path {
        options.pathspec(path);
    }
    let changes = repository
        .diff_tree_to_workdir_with_index(Some(&tree), Some(&mut options))
        .map_err(git_error(tool, "cannot diff"))?;
    let mut text = String::new();
    let printed = changes.print(git2::DiffFormat::Patch, |_, _, line| {
        if matches!(line.origin(), '+' | '-' | ' ') {
            text.push(line.origin());
        }
        text.push_str(&String::from_utf8_lossy(line.content()));
        text.len() < OUTPUT_LIMIT
    });
    if text.len() >= OUTPUT_LIMIT {
        text.push_str("\n… (diff cut; ask for one path)");
    } else {
        printed.map_err(git_error(tool, "cannot diff"))?;
    }
    Ok(Value::String(text))
}

pub(crate) fn log(tool: &str, root: &Path, args: &LogArgs) -> Result<Value> {
    let repository = repository(tool, root)?;
    let mut walk = repository
        .revwalk()
        .map_err(git_error(tool, "cannot walk history"))?;
    if walk.push_head().is_err() {
        return Ok(json!([]));
    }
    let max = args.max.unwrap_or(20).clamp(1, 500);
    let mut commits = Vec::new();
    for id in walk.flatten() {
        let Ok(commit) = repository.find_commit(id) else {
            continue;
        };
        if let Some(path) = &args.path {
            let touched = commit.tree().ok().is_some_and(|tree| {
                let parent = commit.parent(0).ok().and_then(|parent| parent.tree().ok());
                let mut options = git2::DiffOptions::new();
                options.pathspec(path);
                repository
                    .diff_tree_to_tree(parent.as_ref(), Some(&tree), Some(&mut options))
                    .is_ok_and(|diff| diff.deltas().len() > 0)
            });
            if !touched {
                continue;
            }
        }
        commits.push(json!({
            "id": id.to_string(),
            "author": commit.author().name().unwrap_or_default(),
            "time": commit.time().seconds(),
            "summary": commit.summary().unwrap_or_default(),
        }));
        if commits.len() >= max {
            break;
        }
    }
    Ok(Value::Array(commits))
}

pub(crate) fn commit(tool: &str, root: &Path, args: &CommitArgs) -> Result<Value> {
    let repository = repository(tool, root)?;
    let workdir = repository
        .workdir()
        .ok_or_else(|| Error::failed(tool, "the repository is bare"))?
        .to_path_buf();
    let mut index = repository
        .index()
        .map_err(git_error(tool, "cannot open the index"))?;
    match &args.paths {
        Some(paths) => {
            for path in paths {
                super::fs::writable(tool, root, path)?;
                let relative = Path::new(path);
                if workdir.join(relative).exists() {
                    index.add_path(relative)
                } else {
                    index.remove_path(relative)
                }
                .map_err(git_error(tool, &format!("cannot stage `{path}`")))?;
            }
        }
        None => index
            .update_all(["*"], None)
            .map_err(git_error(tool, "cannot stage the changes"))?,
    }
    index
        .write()
        .map_err(git_error(tool, "cannot write the index"))?;
    let tree_id = index
        .write_tree()
        .map_err(git_error(tool, "cannot write the tree"))?;
    let tree = repository
        .find_tree(tree_id)
        .map_err(git_error(tool, "cannot read the tree"))?;
    let parent = repository
        .head()
        .ok()
        .and_then(|head| head.peel_to_commit().ok());
    if parent
        .as_ref()
        .is_some_and(|parent| parent.tree_id() == tree_id)
    {
        return Err(Error::failed(
            tool,
            "nothing to commit: the staged tree equals HEAD",
        ));
    }
    let signature = repository
        .signature()
        .or_else(|_| git2::Signature::now("CodexOS", "codexos@localhost"))
        .map_err(git_error(tool, "cannot make a signature"))?;
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let id = repository
        .commit(
            Some("HEAD"),
            &signature,
            &signature,
            &args.message,
            &tree,
            &parents,
        )
        .map_err(git_error(tool, "cannot commit"))?;
    Ok(json!({"id": id.to_string(), "summary": args.message.lines().next().unwrap_or_default()}))
}
