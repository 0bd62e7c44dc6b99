//! `--rev`, `--since`, filters and clone URLs through the binary, on a git
//! repository made with the git command line.

use std::path::Path;
use std::process::Command;

use crate::{error_line, Cli};

fn git(dir: &Path, args: &[&str], date: &str) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=Ada",
            "-c",
            "user.email=ada@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

#[test]
fn revisions_since_and_filters_work_from_the_command_line() {
    let cli = Cli::new();
    let repo = tempfile::tempdir().expect("temp dir");
    let root = repo.path();
    git(root, &["init", "-q", "-b", "main"], "2020-01-01T00:00:00Z");
    std::fs::write(
        root.join("notes.md"),
        "# Release\n\nThe release train leaves on Fridays.\n",
    )
    .expect("write");
    git(root, &["add", "."], "2020-01-01T00:00:00Z");
    git(
        root,
        &["commit", "-q", "-m", "first"],
        "2020-01-01T00:00:00Z",
    );
    git(root, &["tag", "v1"], "2020-01-01T00:00:00Z");
    std::fs::write(
        root.join("notes.md"),
        "# Release\n\nThe release train leaves on Tuesdays since the reorganisation.\n",
    )
    .expect("write");
    git(
        root,
        &["commit", "-q", "-am", "second"],
        "2024-06-01T00:00:00Z",
    );
    let folder = root.to_str().expect("path");

    cli.json(&["ingest", folder, "--project", "notes"]);
    let report = cli.json(&["ingest", folder, "--project", "notes", "--rev", "v1"]);
    let project = report["project"].as_str().expect("project");
    assert!(project.starts_with("notes@"), "{project}");
    let now = cli.json(&[
        "search",
        "when does the release train leave",
        "--project",
        "notes",
    ]);
    assert!(
        now[0]["text"].as_str().expect("text").contains("Tuesdays"),
        "{now:#}"
    );
    let then = cli.json(&[
        "search",
        "when does the release train leave",
        "--project",
        "notes",
        "--rev",
        "v1",
    ]);
    assert!(
        then[0]["text"].as_str().expect("text").contains("Fridays"),
        "{then:#}"
    );
    assert_eq!(then[0]["project"], project);

    let recent = cli.json(&[
        "search",
        "release train",
        "--project",
        "notes",
        "--since",
        "2024-01-01",
    ]);
    assert!(!recent.as_array().expect("hits").is_empty());
    let none = cli.json(&[
        "search",
        "release train",
        "--project",
        "notes",
        "--since",
        "2025-01-01",
        "--kind",
        "markdown",
    ]);
    assert!(none.as_array().expect("hits").is_empty(), "{none:#}");

    let line = error_line(&cli.run(&["search", "x", "--project", "notes", "--rev", "main"]));
    assert!(
        line.contains("has not been ingested at revision") && line.contains("--rev main"),
        "{line}"
    );
    let line = error_line(&cli.run(&["ingest", folder, "--rev", "no-such-tag"]));
    assert!(line.contains("unknown revision `no-such-tag`"), "{line}");
    let line = error_line(&cli.run(&["search", "x", "--since", "last tuesday"]));
    assert!(
        line.contains("cannot read `last tuesday` as a time"),
        "{line}"
    );
}

#[test]
fn clone_urls_reuse_their_clone_and_keep_namesakes_apart() {
    let cli = Cli::new();
    let repo = tempfile::tempdir().expect("temp dir");
    let root = repo.path();
    git(root, &["init", "-q", "-b", "main"], "2020-01-01T00:00:00Z");
    std::fs::write(root.join("notes.md"), "# Notes\n\nThe first repository.\n").expect("write");
    git(root, &["add", "."], "2020-01-01T00:00:00Z");
    git(
        root,
        &["commit", "-q", "-m", "first"],
        "2020-01-01T00:00:00Z",
    );
    let folder = root.to_str().expect("path");
    let url = format!("file://{folder}");
    let cloned = cli.json(&["ingest", &url, "--project", "cloned"]);
    assert!(
        cloned["root"].as_str().expect("root").contains("repos"),
        "cloned into the data home: {cloned:#}"
    );
    assert_eq!(cloned["files_indexed"], 1);
    // The same URL again reuses the clone; another repository of the same
    // name gets its own folder.
    let again = cli.json(&["ingest", &url, "--project", "cloned"]);
    assert_eq!(again["root"], cloned["root"]);
    let other_parent = tempfile::tempdir().expect("temp dir");
    let other = other_parent.path().join(root.file_name().expect("name"));
    std::fs::create_dir(&other).expect("mkdir");
    git(
        &other,
        &["init", "-q", "-b", "main"],
        "2021-01-01T00:00:00Z",
    );
    std::fs::write(
        other.join("other.md"),
        "# Other\n\nA different repository.\n",
    )
    .expect("write");
    git(&other, &["add", "."], "2021-01-01T00:00:00Z");
    git(
        &other,
        &["commit", "-q", "-m", "other"],
        "2021-01-01T00:00:00Z",
    );
    let other_url = format!("file://{}", other.display());
    let second = cli.json(&["ingest", &other_url, "--project", "other"]);
    assert_ne!(second["root"], cloned["root"], "{second:#}");
    assert_eq!(second["files_indexed"], 1);
}
