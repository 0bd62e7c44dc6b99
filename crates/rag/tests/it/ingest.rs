use std::collections::BTreeSet;

use codexos_rag::{IngestEvent, SearchFilter, SearchMode};

use crate::{corpus, Home};

#[tokio::test(flavor = "multi_thread")]
async fn ingest_indexes_text_and_reports_every_skipped_file() {
    let home = Home::new().await;
    let corpus = corpus();
    let (report, events) = home.ingest(corpus.path(), "lumen").await;

    assert_eq!(report.files_indexed, 5, "{report:#?}");
    let skipped: BTreeSet<(&str, &str)> = report
        .skipped
        .iter()
        .map(|file| {
            (
                file.path.as_str(),
                file.reason.split(':').next().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        skipped,
        BTreeSet::from([
            ("docs/logo.png", "binary file"),
            ("huge.txt", "too large"),
            ("latin1.txt", "not UTF-8 text"),
        ])
    );
    assert!(report.chunks_total >= 5);
    assert_eq!(report.chunks_added, report.chunks_total);
    assert_eq!(
        home.index.count(Some("lumen")).await.expect("count") as u32,
        report.chunks_total
    );

    // Progress is complete and ends with the report.
    assert!(
        matches!(events.first(), Some(IngestEvent::Scanned { total: 8, .. })),
        "{events:?}"
    );
    let last_progress = events.iter().rev().find_map(|event| match event {
        IngestEvent::Progress { done, total, .. } => Some((*done, *total)),
        _ => None,
    });
    assert_eq!(last_progress, Some((8, 8)));
    assert!(matches!(events.last(), Some(IngestEvent::Finished { .. })));
}

#[tokio::test(flavor = "multi_thread")]
async fn reingest_skips_unchanged_replaces_changed_and_drops_deleted_files() {
    let home = Home::new().await;
    let corpus = corpus();
    let (first, _) = home.ingest(corpus.path(), "lumen").await;

    let (again, _) = home.ingest(corpus.path(), "lumen").await;
    assert_eq!(
        (
            again.files_indexed,
            again.files_unchanged,
            again.chunks_added
        ),
        (0, 5, 0)
    );
    assert_eq!(again.chunks_total, first.chunks_total, "nothing duplicated");

    let readme = corpus.path().join("README.md");
    let text = std::fs::read_to_string(&readme).expect("read");
    std::fs::write(
        &readme,
        format!("{text}\n## Support\n\nAsk on the forum.\n"),
    )
    .expect("write");
    std::fs::remove_file(corpus.path().join("docs/troubleshooting.md")).expect("delete");
    let (changed, _) = home.ingest(corpus.path(), "lumen").await;
    assert_eq!(
        (changed.files_indexed, changed.files_removed),
        (1, 1),
        "{changed:#?}"
    );
    let (files, chunks) = home.store.project_totals("lumen").expect("totals");
    assert_eq!(files, 4);
    assert_eq!(
        chunks as u32, changed.chunks_total,
        "ledger and index agree"
    );

    // Both indexes forget the deleted file: vectors and the BM25 index.
    let mut hits = Vec::new();
    for mode in [SearchMode::Dense, SearchMode::Bm25] {
        hits.extend(
            crate::search(
                &home,
                "address already in use",
                10,
                &SearchFilter::project("lumen"),
                mode,
            )
            .await,
        );
    }
    assert!(
        hits.iter().all(|hit| hit.path != "docs/troubleshooting.md"),
        "deleted file still found"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_folder_is_an_error_and_stored_chunks_stay() {
    let home = Home::new().await;
    let corpus = corpus();
    let (first, _) = home.ingest(corpus.path(), "lumen").await;
    let error = codexos_rag::ingest(
        &home.store,
        &home.index,
        &crate::embedder(),
        &corpus.path().join("nope"),
        "lumen",
        &codexos_rag::IngestOptions::default(),
        &|_| {},
        &tokio_util::sync::CancellationToken::new(),
    )
    .await
    .expect_err("missing folder");
    assert!(error.to_string().contains("nope"), "{error}");
    assert_eq!(
        home.index.count(Some("lumen")).await.expect("count") as u32,
        first.chunks_total
    );
}
