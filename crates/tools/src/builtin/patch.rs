//! `fs.patch`: applies a unified diff (as `git diff` or `diff -u` write
//! it). Every hunk must match the file exactly (at its line or shifted);
//! if any does not, nothing is written and the error names the file and the
//! hunk, so the model can re-read the file and try again.

use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use super::fs::{existing, writable, write_file};
use crate::{Error, Result};

/// Arguments of `fs.patch`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchArgs {
    /// A unified diff: `--- a/path`, `+++ b/path`, then `@@ -l,n +l,n @@` hunks.
    diff: String,
}

#[derive(Debug, Default, PartialEq)]
struct Hunk {
    old_start: usize,
    old: Vec<String>,
    new: Vec<String>,
}

#[derive(Debug, Default, PartialEq)]
struct FilePatch {
    old_path: Option<String>,
    new_path: Option<String>,
    hunks: Vec<Hunk>,
}

fn strip_prefix(path: &str) -> Option<String> {
    let path = path.split('\t').next().unwrap_or(path).trim();
    if path == "/dev/null" {
        return None;
    }
    Some(
        path.strip_prefix("a/")
            .or_else(|| path.strip_prefix("b/"))
            .unwrap_or(path)
            .to_owned(),
    )
}

fn parse_start(range: &str) -> Option<usize> {
    range
        .trim_start_matches(['-', '+'])
        .split(',')
        .next()?
        .parse()
        .ok()
}

fn parse(diff: &str) -> std::result::Result<Vec<FilePatch>, String> {
    let mut files: Vec<FilePatch> = Vec::new();
    let mut lines = diff.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(old) = line.strip_prefix("--- ") {
            let Some(new) = lines.next().and_then(|next| next.strip_prefix("+++ ")) else {
                return Err(format!("`--- {old}` is not followed by a `+++` line"));
            };
            files.push(FilePatch {
                old_path: strip_prefix(old),
                new_path: strip_prefix(new),
                hunks: Vec::new(),
            });
        } else if let Some(header) = line.strip_prefix("@@ ") {
            let file = files
                .last_mut()
                .ok_or("a hunk comes before any `---`/`+++` file header")?;
            let mut ranges = header.split_whitespace();
            let old_start = ranges
                .next()
                .and_then(parse_start)
                .ok_or_else(|| format!("bad hunk header `@@ {header}`"))?;
            let mut hunk = Hunk {
                old_start,
                ..Hunk::default()
            };
            while let Some(next) = lines.peek() {
                if next.starts_with("@@ ") || next.starts_with("--- ") || next.starts_with("diff ")
                {
                    break;
                }
                let body = lines.next().unwrap_or_default();
                if let Some(text) = body.strip_prefix('+') {
                    hunk.new.push(text.to_owned());
                } else if let Some(text) = body.strip_prefix('-') {
                    hunk.old.push(text.to_owned());
                } else if let Some(text) = body.strip_prefix(' ') {
                    hunk.old.push(text.to_owned());
                    hunk.new.push(text.to_owned());
                } else if body.is_empty() {
                    // Some tools drop the space of an empty context line.
                    hunk.old.push(String::new());
                    hunk.new.push(String::new());
                } else if !body.starts_with('\\') {
                    return Err(format!("unexpected line in a hunk: `{body}`"));
                }
            }
            file.hunks.push(hunk);
        }
    }
    if files.is_empty() {
        return Err("no `---`/`+++` file header found; send a unified diff".to_owned());
    }
    Ok(files)
}

/// Applies hunks to `lines`; the first hunk that does not match is an error.
fn apply_hunks(lines: &[String], hunks: &[Hunk]) -> std::result::Result<Vec<String>, usize> {
    let mut result = Vec::new();
    let mut position = 0;
    for (index, hunk) in hunks.iter().enumerate() {
        let expected = hunk.old_start.saturating_sub(1).max(position);
        let matches = |at: usize| {
            at + hunk.old.len() <= lines.len() && lines[at..at + hunk.old.len()] == hunk.old[..]
        };
        let found = if hunk.old.is_empty() {
            Some(expected.min(lines.len()))
        } else {
            (0..=lines.len())
                .flat_map(|offset| [expected.checked_add(offset), expected.checked_sub(offset)])
                .flatten()
                .filter(|at| *at >= position)
                .take(2 * lines.len() + 2)
                .find(|at| matches(*at))
        };
        let at = found.ok_or(index + 1)?;
        result.extend_from_slice(&lines[position..at]);
        result.extend(hunk.new.iter().cloned());
        position = at + hunk.old.len();
    }
    result.extend_from_slice(&lines[position.min(lines.len())..]);
    Ok(result)
}

pub(crate) fn apply(tool: &str, root: &Path, args: &PatchArgs) -> Result<Value> {
    let files = parse(&args.diff).map_err(|problem| Error::InvalidArguments {
        tool: tool.to_owned(),
        problems: format!("$.diff: {problem}"),
    })?;
    // Everything is computed first; nothing is written unless every hunk applies.
    let mut writes = Vec::new();
    let mut deletes = Vec::new();
    for file in &files {
        let (lines, had_newline) = match &file.old_path {
            Some(old) => {
                let path = existing(tool, root, old)?;
                let text = std::fs::read_to_string(&path).map_err(|error| {
                    Error::failed(tool, format!("cannot read `{old}`: {error}"))
                })?;
                (
                    text.lines().map(str::to_owned).collect::<Vec<_>>(),
                    text.ends_with('\n') || text.is_empty(),
                )
            }
            None => (Vec::new(), true),
        };
        let name = file
            .new_path
            .as_ref()
            .or(file.old_path.as_ref())
            .cloned()
            .unwrap_or_default();
        let patched = apply_hunks(&lines, &file.hunks).map_err(|hunk| {
            Error::failed(
                tool,
                format!("conflict: hunk {hunk} of `{name}` does not match the file; nothing was changed — read the file again and send a new diff"),
            )
        })?;
        match &file.new_path {
            Some(new) => {
                let path = writable(tool, root, new)?;
                if file.old_path.is_none() && path.exists() {
                    return Err(Error::failed(
                        tool,
                        format!("conflict: the diff creates `{new}`, which already exists; nothing was changed"),
                    ));
                }
                let mut text = patched.join("\n");
                if had_newline && !patched.is_empty() {
                    text.push('\n');
                }
                writes.push((new.clone(), path, text));
            }
            None => deletes.push(writable(tool, root, &name)?),
        }
    }
    for (_, path, text) in &writes {
        write_file(tool, path, text.as_bytes())?;
    }
    for path in &deletes {
        std::fs::remove_file(path).map_err(|error| {
            Error::failed(tool, format!("cannot delete `{}`: {error}", path.display()))
        })?;
    }
    Ok(json!({
        "changed": writes.iter().map(|(name, _, _)| name.clone()).collect::<Vec<_>>(),
        "deleted": deletes.len(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(root: &Path, diff: &str) -> Result<Value> {
        apply(
            "fs.patch",
            root,
            &PatchArgs {
                diff: diff.to_owned(),
            },
        )
    }

    #[test]
    fn applies_shifted_hunks_and_refuses_conflicts_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a.txt"), "zero\none\ntwo\nthree\n").expect("write");
        std::fs::write(dir.path().join("b.txt"), "keep\n").expect("write");
        let diff = "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+fresh\n";
        let done = patch(dir.path(), diff).expect("applies");
        assert_eq!(done["changed"], json!(["a.txt", "new.txt"]));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.txt")).expect("read"),
            "zero\none\nTWO\nthree\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("new.txt")).expect("read"),
            "fresh\n"
        );
        let conflict = "--- a/b.txt\n+++ b/b.txt\n@@ -1 +1 @@\n-keep\n+changed\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-absent\n+x\n";
        let refused = patch(dir.path(), conflict);
        assert!(refused.is_err_and(|error| error.to_string().contains("hunk 1 of `a.txt`")));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("b.txt")).expect("read"),
            "keep\n"
        );
        assert!(patch(dir.path(), "not a diff").is_err());
        let escape = "--- /dev/null\n+++ b/../escape.txt\n@@ -0,0 +1 @@\n+x\n";
        assert!(patch(dir.path(), escape).is_err());
    }
}
