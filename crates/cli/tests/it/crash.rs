use std::time::{Duration, Instant};

use crate::Cli;

/// A folder large enough for several embedding batches.
fn many_files(files: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for index in 0..files {
        let body = (0..12)
            .map(|line| {
                format!(
                    "Note {index} line {line}: the quick brown fox {index} jumps over lazy dogs."
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(
            dir.path().join(format!("note-{index:03}.md")),
            format!("# Note {index}\n\nuniqtoken{index}x\n\n{body}"),
        )
        .expect("write");
    }
    dir
}

#[test]
fn a_killed_ingest_resumes_without_duplicates_or_losses() {
    let cli = Cli::new();
    let corpus = many_files(700);
    let folder = corpus.path().to_str().expect("path");
    let mut child = cli
        .command(&["ingest", folder, "--project", "notes"])
        .spawn()
        .expect("spawn");

    // Kill -9 once at least one batch is committed, mid-ingest.
    let started = Instant::now();
    loop {
        let projects = cli.json(&["projects"]);
        if projects[0]["files"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_mins(3),
            "no batch was committed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let before = cli.json(&["projects"])[0]["files"].as_u64().expect("files");
    assert!(
        before < 700,
        "the ingest finished before it could be killed"
    );

    let report = cli.json(&["ingest", folder, "--project", "notes"]);
    assert_eq!(report["files_seen"], 700);
    assert_eq!(report["files_unchanged"].as_u64(), Some(before), "{report}");
    assert_eq!(
        report["files_indexed"].as_u64(),
        Some(700 - before),
        "{report}"
    );
    let projects = cli.json(&["projects"]);
    assert_eq!(projects[0]["files"], 700);
    assert_eq!(
        projects[0]["chunks"], report["chunks_total"],
        "ledger and table agree"
    );

    for index in [0, 350, 699] {
        let hits = cli.json(&[
            "search",
            &format!("uniqtoken{index}x"),
            "-k",
            "5",
            "--mode",
            "bm25",
        ]);
        let matching = hits
            .as_array()
            .expect("hits")
            .iter()
            .filter(|hit| {
                hit["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(&format!("uniqtoken{index}x"))
            })
            .count();
        assert_eq!(matching, 1, "note {index} stored exactly once: {hits}");
    }
}
