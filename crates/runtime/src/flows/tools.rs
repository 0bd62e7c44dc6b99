//! The read-only built-in tools flows and agents can call: `fs.read`,
//! `fs.list` and `git.diff`, confined to the run's folder (the project's
//! root, or the current folder). Tools that write or run code come with the
//! tool registry and its sandbox.

use std::path::{Path, PathBuf};

use codexos_flow::ports::ToolSpec;
use serde_json::{json, Value};

/// Largest file `fs.read` returns whole; longer ones are cut, with a note.
const READ_LIMIT: usize = 64 * 1024;
/// Largest diff `git.diff` returns.
const DIFF_LIMIT: usize = 128 * 1024;

/// The built-in tools' names.
pub(crate) const NAMES: [&str; 3] = ["fs.read", "fs.list", "git.diff"];

/// A built-in tool's description.
pub(crate) fn spec(name: &str) -> Option<ToolSpec> {
    let (description, parameters) = match name {
        "fs.read" => (
            "Reads a text file of the project.",
            json!({"type": "object", "properties": {"path": {"type": "string", "description": "path relative to the project root"}}, "required": ["path"]}),
        ),
        "fs.list" => (
            "Lists the files of a project folder (recursively, at most 500).",
            json!({"type": "object", "properties": {"path": {"type": "string", "description": "folder relative to the project root; `.` for the root"}}, "required": ["path"]}),
        ),
        "git.diff" => (
            "Shows the project's uncommitted changes as a unified diff, or the changes between a revision and the working tree.",
            json!({"type": "object", "properties": {"rev": {"type": "string", "description": "compare against this revision (default HEAD)"}}}),
        ),
        _ => return None,
    };
    Some(ToolSpec {
        name: name.to_owned(),
        description: description.to_owned(),
        parameters,
    })
}

/// Runs a built-in tool in `root`.
pub(crate) fn call(root: &Path, name: &str, arguments: &Value) -> Result<Value, String> {
    let text = |key: &str| arguments.get(key).and_then(Value::as_str);
    match name {
        "fs.read" => {
            let path = inside(root, text("path").ok_or("`path` is required")?)?;
            let bytes = std::fs::read(&path)
                .map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
            let mut content =
                String::from_utf8_lossy(&bytes[..bytes.len().min(READ_LIMIT)]).into_owned();
            if bytes.len() > READ_LIMIT {
                content.push_str(
                    "
… (cut at 64 KiB of ",
                );
                content.push_str(&bytes.len().to_string());
                content.push_str(" bytes)");
            }
            Ok(Value::String(content))
        }
        "fs.list" => {
            let folder = inside(root, text("path").unwrap_or("."))?;
            let mut files = Vec::new();
            for entry in ignore::WalkBuilder::new(&folder).build().flatten() {
                if entry.file_type().is_some_and(|kind| kind.is_file()) {
                    if let Ok(relative) = entry.path().strip_prefix(root) {
                        files.push(Value::String(relative.to_string_lossy().into_owned()));
                    }
                }
                if files.len() >= 500 {
                    break;
                }
            }
            Ok(Value::Array(files))
        }
        "git.diff" => diff(root, text("rev")),
        other => Err(format!(
            "no built-in tool `{other}` — the built-ins are {}",
            NAMES.join(", ")
        )),
    }
}

/// `relative` under `root`, refusing anything that leaves it.
fn inside(root: &Path, relative: &str) -> Result<PathBuf, String> {
    let root = root.canonicalize().map_err(|error| {
        format!(
            "the run's folder `{}` is unreadable: {error}",
            root.display()
        )
    })?;
    let path = root
        .join(relative)
        .canonicalize()
        .map_err(|error| format!("`{relative}`: {error}"))?;
    if path.starts_with(&root) {
        Ok(path)
    } else {
        Err(format!(
            "`{relative}` is outside the project folder; tools only see the project"
        ))
    }
}

fn diff(root: &Path, rev: Option<&str>) -> Result<Value, String> {
    let repository = git2::Repository::discover(root).map_err(|error| {
        format!(
            "`{}` is not in a git repository: {}",
            root.display(),
            error.message()
        )
    })?;
    let tree = repository
        .revparse_single(rev.unwrap_or("HEAD"))
        .and_then(|object| object.peel_to_tree())
        .map_err(|error| {
            format!(
                "unknown revision `{}`: {}",
                rev.unwrap_or("HEAD"),
                error.message()
            )
        })?;
    let mut options = git2::DiffOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .show_untracked_content(true);
    let changes = repository
        .diff_tree_to_workdir_with_index(Some(&tree), Some(&mut options))
        .map_err(|error| format!("cannot diff: {}", error.message()))?;
    let mut text = String::new();
    changes
        .print(git2::DiffFormat::Patch, |_, _, line| {
            if matches!(line.origin(), '+' | '-' | ' ') {
                text.push(line.origin());
            }
            text.push_str(&String::from_utf8_lossy(line.content()));
            text.len() < DIFF_LIMIT
        })
        .or_else(|error| {
            if text.len() >= DIFF_LIMIT {
                Ok(())
            } else {
                Err(format!("cannot diff: {}", error.message()))
            }
        })?;
    if text.len() >= DIFF_LIMIT {
        text.push_str("\n… (diff cut)");
    }
    Ok(Value::String(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_folder_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a.txt"), "hello").expect("write");
        assert_eq!(
            call(dir.path(), "fs.read", &json!({"path": "a.txt"})),
            Ok(json!("hello"))
        );
        let outside = call(dir.path(), "fs.read", &json!({"path": "../../etc/passwd"}));
        assert!(outside
            .is_err_and(|message| message.contains("outside") || message.contains("No such")));
        assert_eq!(
            call(dir.path(), "fs.list", &json!({"path": "."})),
            Ok(json!(["a.txt"]))
        );
    }
}
