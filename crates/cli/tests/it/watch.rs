use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{corpus, Cli};

/// Reads NDJSON reports printed by `ingest --watch --json`.
struct Reports(mpsc::Receiver<serde_json::Value>);

impl Reports {
    fn next(&self) -> serde_json::Value {
        self.0
            .recv_timeout(Duration::from_mins(1))
            .expect("a report within a minute")
    }
}

#[test]
fn watch_reindexes_edits_and_deletions_as_they_happen() {
    let cli = Cli::new();
    let corpus = corpus();
    let folder = corpus.path().to_str().expect("path");
    let mut child = cli
        .command(&["ingest", folder, "--project", "lumen", "--watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(report) = serde_json::from_str(&line) {
                if sender.send(report).is_err() {
                    break;
                }
            }
        }
    });
    let reports = Reports(receiver);

    let first = reports.next();
    assert_eq!(first["files_indexed"], 5, "{first}");

    let config = corpus.path().join("docs/configuration.md");
    let text = std::fs::read_to_string(&config).expect("read");
    std::fs::write(
        &config,
        format!("{text}\n## Admin\n\nThe admin console listens on port 9911.\n"),
    )
    .expect("edit");
    let edited = Instant::now();
    let second = reports.next();
    assert_eq!(
        (
            second["files_indexed"].as_u64(),
            second["files_unchanged"].as_u64()
        ),
        (Some(1), Some(4)),
        "{second}"
    );
    eprintln!("edit re-indexed {:?} after the write", edited.elapsed());
    let hits = cli.json(&["search", "admin console 9911", "-k", "1", "--mode", "bm25"]);
    assert_eq!(hits[0]["path"], "docs/configuration.md", "{hits}");

    std::fs::remove_file(corpus.path().join("docs/troubleshooting.md")).expect("delete");
    let third = reports.next();
    assert_eq!(third["files_removed"], 1, "{third}");

    child.kill().expect("stop the watcher");
    child.wait().expect("reap");
}
