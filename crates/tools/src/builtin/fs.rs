//! File tools, confined to the project folder.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::tool::OUTPUT_LIMIT;
use crate::{Error, Result};

/// Most entries `fs.list` answers.
const LIST_LIMIT: usize = 500;
/// Largest file `fs.search` looks into.
const SEARCH_FILE_LIMIT: u64 = 4 << 20;

fn dot() -> String {
    ".".to_owned()
}

/// Arguments of `fs.read`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadArgs {
    /// Path relative to the project root.
    path: String,
    /// First line to return (1-based).
    #[serde(default)]
    from_line: Option<usize>,
    /// Number of lines to return.
    #[serde(default)]
    lines: Option<usize>,
}

/// Arguments of `fs.list`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListArgs {
    /// Folder relative to the project root (`.` for the root).
    #[serde(default = "dot")]
    path: String,
}

/// Arguments of `fs.search`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchArgs {
    /// Text to find (a regular expression when `regex` is true).
    pattern: String,
    /// Folder to search, relative to the project root.
    #[serde(default = "dot")]
    path: String,
    /// Treat `pattern` as a regular expression.
    #[serde(default)]
    regex: bool,
    /// Most matching lines to return (default 100).
    #[serde(default)]
    max_results: Option<usize>,
}

/// Arguments of `fs.write`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriteArgs {
    /// Path relative to the project root; missing folders are created.
    path: String,
    /// The file's new content.
    content: String,
}

/// The project root, resolved.
pub(crate) fn project(tool: &str, root: &Path) -> Result<PathBuf> {
    root.canonicalize().map_err(|error| {
        Error::failed(
            tool,
            format!(
                "the project folder `{}` is unreadable: {error}",
                root.display()
            ),
        )
    })
}

fn outside(tool: &str, relative: &str) -> Error {
    Error::failed(
        tool,
        format!("`{relative}` is outside the project folder; tools only see the project"),
    )
}

/// An existing path under the project (symlinks resolved, and refused when
/// they lead out).
pub(crate) fn existing(tool: &str, root: &Path, relative: &str) -> Result<PathBuf> {
    let root = project(tool, root)?;
    let path = root
        .join(relative)
        .canonicalize()
        .map_err(|error| Error::failed(tool, format!("`{relative}`: {error}")))?;
    if path.starts_with(&root) {
        Ok(path)
    } else {
        Err(outside(tool, relative))
    }
}

/// A path the tools may write: under the project (after resolving the
/// existing part and any symlink at the end), not in `.git`.
pub(crate) fn writable(tool: &str, root: &Path, relative: &str) -> Result<PathBuf> {
    let root = project(tool, root)?;
    let relative_path = Path::new(relative);
    if relative_path.is_absolute()
        || relative_path
            .components()
            .any(|component| matches!(component, Component::ParentDir))
    {
        return Err(outside(tool, relative));
    }
    let mut existing = root.join(relative_path);
    let mut rest = Vec::new();
    while !existing.exists() && existing.symlink_metadata().is_err() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            _ => return Err(outside(tool, relative)),
        }
    }
    let mut resolved = existing
        .canonicalize()
        .map_err(|_| outside(tool, relative))?;
    for name in rest.iter().rev() {
        resolved.push(name);
    }
    if !resolved.starts_with(&root) {
        return Err(outside(tool, relative));
    }
    if resolved
        .strip_prefix(&root)
        .is_ok_and(|inner| inner.starts_with(".git"))
    {
        return Err(Error::failed(
            tool,
            format!("`{relative}` is inside `.git`; use the git tools"),
        ));
    }
    Ok(resolved)
}

fn read_text(tool: &str, path: &Path, relative: &str) -> Result<String> {
    let bytes = std::fs::read(path)
        .map_err(|error| Error::failed(tool, format!("cannot read `{relative}`: {error}")))?;
    if bytes.iter().take(8192).any(|byte| *byte == 0) {
        return Err(Error::failed(
            tool,
            format!("`{relative}` is a binary file ({} bytes)", bytes.len()),
        ));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

pub(crate) fn read(tool: &str, root: &Path, args: &ReadArgs) -> Result<Value> {
    let path = existing(tool, root, &args.path)?;
    if path.is_dir() {
        return Err(Error::failed(
            tool,
            format!("`{}` is a folder; use fs.list", args.path),
        ));
    }
    let text = read_text(tool, &path, &args.path)?;
    if args.from_line.is_none() && args.lines.is_none() {
        return Ok(Value::String(text));
    }
    let from = args.from_line.unwrap_or(1).max(1);
    let selected: Vec<&str> = text
        .lines()
        .skip(from - 1)
        .take(args.lines.unwrap_or(usize::MAX))
        .collect();
    Ok(Value::String(selected.join("\n")))
}

fn relative_to(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

pub(crate) fn list(tool: &str, root: &Path, args: &ListArgs) -> Result<Value> {
    let folder = existing(tool, root, &args.path)?;
    let root = project(tool, root)?;
    let mut files = Vec::new();
    let mut more = false;
    for entry in ignore::WalkBuilder::new(&folder)
        .hidden(false)
        .filter_entry(|entry| entry.file_name() != ".git")
        .sort_by_file_name(std::cmp::Ord::cmp)
        .build()
        .flatten()
    {
        if entry.file_type().is_some_and(|kind| kind.is_file()) {
            if files.len() == LIST_LIMIT {
                more = true;
                break;
            }
            files.push(Value::String(relative_to(&root, entry.path())));
        }
    }
    if more {
        files.push(Value::String(format!(
            "… (more than {LIST_LIMIT} files; list a subfolder)"
        )));
    }
    Ok(Value::Array(files))
}

pub(crate) fn search(tool: &str, root: &Path, args: &SearchArgs) -> Result<Value> {
    let folder = existing(tool, root, &args.path)?;
    let root = project(tool, root)?;
    let pattern = if args.regex {
        args.pattern.clone()
    } else {
        regex::escape(&args.pattern)
    };
    let matcher = regex::Regex::new(&pattern).map_err(|error| Error::InvalidArguments {
        tool: tool.to_owned(),
        problems: format!("$.pattern: not a valid regular expression: {error}"),
    })?;
    let limit = args.max_results.unwrap_or(100).clamp(1, 1000);
    let mut found = String::new();
    let mut count = 0;
    'files: for entry in ignore::WalkBuilder::new(&folder)
        .sort_by_file_name(std::cmp::Ord::cmp)
        .build()
        .flatten()
    {
        let is_small_file = entry.file_type().is_some_and(|kind| kind.is_file())
            && entry
                .metadata()
                .is_ok_and(|metadata| metadata.len() <= SEARCH_FILE_LIMIT);
        if !is_small_file {
            continue;
        }
        let Ok(bytes) = std::fs::read(entry.path()) else {
            continue;
        };
        if bytes.iter().take(8192).any(|byte| *byte == 0) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for (number, line) in text.lines().enumerate() {
            if matcher.is_match(line) {
                let shown: String = line.chars().take(300).collect();
                writeln!(
                    found,
                    "{}:{}: {}",
                    relative_to(&root, entry.path()),
                    number + 1,
                    shown.trim_end()
                )
                .ok();
                count += 1;
                if count >= limit || found.len() > OUTPUT_LIMIT {
                    found.push_str("… (more matches; narrow the search)\n");
                    break 'files;
                }
            }
        }
    }
    if count == 0 {
        found = format!("no match for `{}`", args.pattern);
    }
    Ok(Value::String(found))
}

/// Writes `content` to `path` atomically (a sibling temporary file renamed
/// over it), creating missing folders.
pub(crate) fn write_file(tool: &str, path: &Path, content: &[u8]) -> Result<()> {
    let failed = |error: std::io::Error| {
        Error::failed(tool, format!("cannot write `{}`: {error}", path.display()))
    };
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(failed)?;
    let mut file = tempfile::NamedTempFile::new_in(parent).map_err(failed)?;
    file.write_all(content).map_err(failed)?;
    if let Ok(metadata) = std::fs::metadata(path) {
        file.as_file()
            .set_permissions(metadata.permissions())
            .map_err(failed)?;
    }
    file.persist(path).map_err(|error| failed(error.error))?;
    Ok(())
}

pub(crate) fn write(tool: &str, root: &Path, args: &WriteArgs) -> Result<Value> {
    let path = writable(tool, root, &args.path)?;
    if path.is_dir() {
        return Err(Error::failed(tool, format!("`{}` is a folder", args.path)));
    }
    let existed = path.exists();
    write_file(tool, &path, args.content.as_bytes())?;
    Ok(json!({
        "path": args.path,
        "bytes": args.content.len(),
        "created": !existed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_symlinks_out_of_the_project_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outside_dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(outside_dir.path().join("secret"), "s3cret").expect("write");
        std::os::unix::fs::symlink(outside_dir.path().join("secret"), dir.path().join("link"))
            .expect("symlink");
        std::os::unix::fs::symlink(outside_dir.path(), dir.path().join("out")).expect("symlink");
        let read = |path: &str| {
            read(
                "fs.read",
                dir.path(),
                &ReadArgs {
                    path: path.into(),
                    from_line: None,
                    lines: None,
                },
            )
        };
        assert!(read("link").is_err_and(|error| error.to_string().contains("outside")));
        assert!(read("../x").is_err());
        for target in [
            "link",
            "out/new.txt",
            "../escape.txt",
            "/etc/passwd",
            ".git/config",
        ] {
            let written = write(
                "fs.write",
                dir.path(),
                &WriteArgs {
                    path: target.into(),
                    content: "x".into(),
                },
            );
            assert!(written.is_err(), "{target} must be refused");
        }
        assert_eq!(
            std::fs::read_to_string(outside_dir.path().join("secret")).expect("read"),
            "s3cret"
        );
        let made = write(
            "fs.write",
            dir.path(),
            &WriteArgs {
                path: "src/new.txt".into(),
                content: "one\ntwo\n".into(),
            },
        )
        .expect("write inside");
        assert_eq!(made["created"], true);
        let found = search(
            "fs.search",
            dir.path(),
            &SearchArgs {
                pattern: "tw.".into(),
                path: ".".into(),
                regex: true,
                max_results: None,
            },
        )
        .expect("search");
        assert_eq!(found, json!("src/new.txt:2: two\n"));
    }
}
