//! Git awareness on real repositories made with libgit2: commit tags per
//! chunk, `--since`, ingest at a revision from git objects, clones.

use std::path::Path;

use codexos_rag::{IngestOptions, SearchFilter, SearchMode};
use git2::{Repository, Signature, Time};
use tokio_util::sync::CancellationToken;

use crate::{embedder, Home};

const OLD: i64 = 1_577_836_800; // 2020-01-01
const NEW: i64 = 1_704_067_200; // 2024-01-01

fn write(root: &Path, path: &str, text: &str) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
    std::fs::write(full, text).expect("write");
}

/// Stages everything and commits at `time`; returns the commit id.
fn commit(repo: &Repository, message: &str, time: i64) -> String {
    let mut index = repo.index().expect("index");
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .expect("add");
    index.write().expect("write index");
    let tree = repo
        .find_tree(index.write_tree().expect("tree"))
        .expect("find tree");
    let author = Signature::new("Ada", "ada@example.com", &Time::new(time, 0)).expect("sig");
    let parents: Vec<git2::Commit<'_>> = repo
        .head()
        .ok()
        .and_then(|head| head.peel_to_commit().ok())
        .into_iter()
        .collect();
    let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
    repo.commit(Some("HEAD"), &author, &author, message, &tree, &parents)
        .expect("commit")
        .to_string()
}

/// A repository with two commits and an uncommitted file:
/// - 2020: `src/lib.rs` (fn alpha) and `docs/guide.md` (Install);
/// - 2024: `src/beta.rs` (fn beta) and a new guide section (Upgrade);
/// - not committed: `src/gamma.rs`.
fn repository() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = Repository::init(dir.path()).expect("init");
    write(
        dir.path(),
        "src/lib.rs",
        "/// Computes the alpha checksum of a frame.\npub fn alpha_checksum(frame: &[u8]) -> u32 {\n    frame.iter().map(|&b| u32::from(b)).sum()\n}\n",
    );
    write(
        dir.path(),
        "docs/guide.md",
        "# Install\n\nRun the installer with --prefix to choose the folder.\n",
    );
    let first = commit(&repo, "first", OLD);
    write(
        dir.path(),
        "src/beta.rs",
        "/// Retries a flaky request with exponential backoff.\npub fn beta_backoff(attempt: u32) -> u64 {\n    100 * 2u64.pow(attempt)\n}\n",
    );
    write(
        dir.path(),
        "docs/guide.md",
        &format!(
            "# Install\n\nRun the installer with --prefix to choose the folder.\n{}\n# Upgrade\n\nStop the daemon before replacing the binary during an upgrade.\n",
            "\n".repeat(3)
        ),
    );
    let second = commit(&repo, "second", NEW);
    write(
        dir.path(),
        "src/gamma.rs",
        "/// Gamma correction of a pixel value.\npub fn gamma_correct(value: f32) -> f32 {\n    value.powf(2.2)\n}\n",
    );
    (dir, first, second)
}

#[tokio::test(flavor = "multi_thread")]
async fn chunks_carry_the_commit_that_last_changed_them() {
    let home = Home::new().await;
    let (repo, first, second) = repository();
    let (report, _) = home.ingest(repo.path(), "repo").await;
    assert!(report.git);
    let all = crate::search(
        &home,
        "function",
        50,
        &SearchFilter::project("repo"),
        SearchMode::Bm25,
    )
    .await;
    let dense = crate::search(
        &home,
        "code",
        50,
        &SearchFilter::project("repo"),
        SearchMode::Dense,
    )
    .await;
    let tag = |path: &str, needle: &str| {
        all.iter()
            .chain(&dense)
            .find(|hit| hit.path == path && hit.text.contains(needle))
            .map_or_else(
                || panic!("no chunk of {path} with {needle}"),
                |hit| (hit.commit.clone(), hit.author_time),
            )
    };
    assert_eq!(
        tag("src/lib.rs", "alpha_checksum"),
        (Some(first.clone()), Some(OLD))
    );
    assert_eq!(
        tag("src/beta.rs", "beta_backoff"),
        (Some(second.clone()), Some(NEW))
    );
    assert_eq!(
        tag("docs/guide.md", "Stop the daemon"),
        (Some(second.clone()), Some(NEW))
    );
    assert_eq!(
        tag("docs/guide.md", "--prefix"),
        (Some(first.clone()), Some(OLD))
    );
    let (gamma_commit, time) = tag("src/gamma.rs", "gamma_correct");
    assert_eq!(gamma_commit, None, "uncommitted lines have no commit");
    assert!(
        time.is_some_and(|time| time > NEW),
        "uncommitted lines are dated by mtime"
    );

    // --since keeps only what changed after the date.
    let recent = SearchFilter {
        project: Some("repo".into()),
        since: Some(NEW - 86_400),
        ..SearchFilter::default()
    };
    for mode in [SearchMode::Dense, SearchMode::Bm25, SearchMode::Hybrid] {
        let hits = crate::search(
            &home,
            "checksum backoff gamma install upgrade",
            20,
            &recent,
            mode,
        )
        .await;
        let paths: Vec<&str> = hits.iter().map(|hit| hit.path.as_str()).collect();
        assert!(!paths.contains(&"src/lib.rs"), "{mode:?}: {paths:?}");
        assert!(paths.contains(&"src/beta.rs"), "{mode:?}: {paths:?}");
        assert!(hits.iter().all(|hit| hit.author_time >= Some(NEW - 86_400)));
    }

    // Committing the new file re-tags its chunks on the next ingest, and the
    // vectors are reused (same text), not computed again.
    let repository = Repository::open(repo.path()).expect("open");
    let third = commit(&repository, "third", NEW + 100);
    let (again, _) = home.ingest(repo.path(), "repo").await;
    assert_eq!(again.files_indexed, 1, "only the committed file: {again:?}");
    assert_eq!(again.chunks_reused, again.chunks_added);
    let hits = crate::search(
        &home,
        "gamma_correct",
        5,
        &SearchFilter::project("repo"),
        SearchMode::Bm25,
    )
    .await;
    assert_eq!(hits[0].commit.as_deref(), Some(third.as_str()));
    assert_eq!(hits[0].author_time, Some(NEW + 100));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revision_is_indexed_from_git_objects_and_searched_apart() {
    let home = Home::new().await;
    let (repo, first, _) = repository();
    home.ingest(repo.path(), "repo").await;
    let commit = codexos_rag::resolve_revision(repo.path(), "HEAD~1").expect("resolve");
    assert_eq!(commit, first);
    // The working tree changes after the commit: the revision must not see it.
    write(repo.path(), "src/lib.rs", "pub fn rewritten() {}\n");
    let project = format!("repo@{}", &first[..12]);
    let report = codexos_rag::ingest(
        &home.store,
        &home.index,
        &embedder(),
        repo.path(),
        &project,
        &IngestOptions {
            revision: Some(first.clone()),
            ..IngestOptions::default()
        },
        &|_| {},
        &CancellationToken::new(),
    )
    .await
    .expect("ingest at a revision");
    assert_eq!(report.revision.as_deref(), Some(first.as_str()));
    assert_eq!(
        report.files_seen, 2,
        "the tree at the first commit: {report:?}"
    );
    assert!(
        report.chunks_reused > 0,
        "unchanged chunks reuse vectors: {report:?}"
    );
    let hits = crate::search(
        &home,
        "alpha checksum backoff upgrade gamma",
        20,
        &SearchFilter::project(&project),
        SearchMode::Hybrid,
    )
    .await;
    let paths: Vec<&str> = hits.iter().map(|hit| hit.path.as_str()).collect();
    assert!(paths.contains(&"src/lib.rs"), "{paths:?}");
    assert!(
        !paths.contains(&"src/beta.rs") && !paths.contains(&"src/gamma.rs"),
        "{paths:?}"
    );
    assert!(hits
        .iter()
        .all(|hit| !hit.text.contains("Stop the daemon") && !hit.text.contains("rewritten")));
    assert!(hits
        .iter()
        .all(|hit| hit.commit.as_deref() == Some(first.as_str())));

    let unknown =
        codexos_rag::resolve_revision(repo.path(), "no-such-branch").expect_err("unknown");
    assert!(
        unknown
            .to_string()
            .contains("unknown revision `no-such-branch`"),
        "{unknown}"
    );
    let plain = tempfile::tempdir().expect("temp dir");
    let error = codexos_rag::resolve_revision(plain.path(), "HEAD").expect_err("not a repo");
    assert!(
        error.to_string().contains("not inside a git repository"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn repositories_clone_from_a_url_and_a_failed_clone_leaves_nothing() {
    let (repo, _, second) = repository();
    let target = tempfile::tempdir().expect("temp dir");
    let into = target.path().join("copy");
    let url = format!("file://{}", repo.path().display());
    let mut seen = 0;
    codexos_rag::clone_repository(&url, &into, &mut |done, _| seen = seen.max(done))
        .expect("clone");
    assert!(seen > 0, "progress was reported");
    assert!(into.join("src/beta.rs").is_file());
    assert!(!into.join("src/gamma.rs").exists(), "only committed files");
    assert_eq!(
        codexos_rag::resolve_revision(&into, "HEAD").expect("head"),
        second
    );
    let bad = target.path().join("bad");
    let error = codexos_rag::clone_repository("file:///nonexistent/repo", &bad, &mut |_, _| {})
        .expect_err("no such repository");
    assert!(error.to_string().contains("cannot clone"), "{error}");
    assert!(!bad.exists(), "a failed clone is removed");
}

#[tokio::test(flavor = "multi_thread")]
async fn code_is_chunked_by_symbol_and_filtered_by_language_kind_and_path() {
    let home = Home::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let body = "        let total = total + 1;\n".repeat(40);
    write(
        dir.path(),
        "src/server.rs",
        &format!("pub struct Server;\n\nimpl Server {{\n    pub fn bind(&self) {{\n{body}    }}\n\n    pub fn shutdown_gracefully(&self) {{\n{body}    }}\n}}\n"),
    );
    write(
        dir.path(),
        "app/server.py",
        "class Server:\n    def shutdown_gracefully(self):\n        pass\n",
    );
    write(
        dir.path(),
        "docs/server.md",
        "# Shutdown\n\nThe server shuts down gracefully on SIGTERM.\n",
    );
    home.ingest(dir.path(), "code").await;
    let filter = |language: Option<&str>, kind: Option<&str>, path: Option<&str>| SearchFilter {
        project: Some("code".into()),
        language: language.map(str::to_owned),
        kind: kind.map(str::to_owned),
        path: path.map(str::to_owned),
        since: None,
    };
    let rust = crate::search(
        &home,
        "shutdown gracefully",
        10,
        &filter(Some("rust"), None, None),
        SearchMode::Hybrid,
    )
    .await;
    assert!(!rust.is_empty());
    assert!(
        rust.iter()
            .all(|hit| hit.language.as_deref() == Some("rust")),
        "{rust:#?}"
    );
    assert!(
        rust.iter()
            .any(|hit| hit.heading.as_deref() == Some("Server::shutdown_gracefully")),
        "{:?}",
        rust.iter().map(|hit| &hit.heading).collect::<Vec<_>>()
    );
    let python = crate::search(
        &home,
        "shutdown gracefully",
        10,
        &filter(Some("python"), None, None),
        SearchMode::Bm25,
    )
    .await;
    assert_eq!(
        python.first().and_then(|hit| hit.heading.as_deref()),
        Some("Server")
    );
    let docs = crate::search(
        &home,
        "shutdown gracefully",
        10,
        &filter(None, Some("markdown"), None),
        SearchMode::Dense,
    )
    .await;
    assert!(!docs.is_empty() && docs.iter().all(|hit| hit.kind == "markdown"));
    let globbed = crate::search(
        &home,
        "shutdown gracefully",
        10,
        &filter(None, None, Some("app/*.py")),
        SearchMode::Hybrid,
    )
    .await;
    assert!(!globbed.is_empty() && globbed.iter().all(|hit| hit.path == "app/server.py"));
}
