use codexos_rag::{SearchFilter, SearchMode};

use crate::{corpus, embedder, Home};

#[tokio::test(flavor = "multi_thread")]
async fn search_finds_the_passage_that_answers() {
    let home = Home::new().await;
    let corpus = corpus();
    home.ingest(corpus.path(), "lumen").await;
    let hits = crate::search(
        &home,
        "which TCP port does the server listen on by default",
        3,
        &SearchFilter::default(),
        SearchMode::Hybrid,
    )
    .await;
    assert_eq!(hits.len(), 3);
    assert!(
        hits.iter()
            .any(|hit| hit.path == "docs/configuration.md" && hit.text.contains("8420")),
        "{hits:#?}"
    );
    assert!(
        hits.windows(2).all(|pair| pair[0].score >= pair[1].score),
        "sorted by score"
    );
    let top = &hits[0];
    assert!(top.start_line >= 1 && top.end_line >= top.start_line);
    assert_eq!(top.project, "lumen");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_project_filter_keeps_projects_apart() {
    let home = Home::new().await;
    let corpus = corpus();
    home.ingest(corpus.path(), "lumen").await;
    let other = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        other.path().join("notes.md"),
        "# Ports\n\nThe database listens on port 5432.\n",
    )
    .expect("write");
    home.ingest(other.path(), "other").await;

    for mode in [SearchMode::Dense, SearchMode::Bm25, SearchMode::Hybrid] {
        let hits = crate::search(&home, "port", 10, &SearchFilter::project("other"), mode).await;
        assert!(!hits.is_empty(), "{mode:?}");
        assert!(hits.iter().all(|hit| hit.project == "other"), "{mode:?}");
        let all = crate::search(&home, "port", 20, &SearchFilter::default(), mode).await;
        assert!(all.iter().any(|hit| hit.project == "lumen"), "{mode:?}");
        assert!(all.iter().any(|hit| hit.project == "other"), "{mode:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_are_normalised_and_semantic() {
    let vectors = embedder()
        .embed(&[
            "The cat sits on the mat.".to_owned(),
            "A kitten is resting on a rug.".to_owned(),
            "Quarterly tax filing deadlines".to_owned(),
        ])
        .expect("embed");
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!((dot(&vectors[0], &vectors[0]) - 1.0).abs() < 1e-3);
    let related = dot(&vectors[0], &vectors[1]);
    let unrelated = dot(&vectors[0], &vectors[2]);
    assert!(
        related > 0.5 && unrelated < 0.2,
        "related {related}, unrelated {unrelated}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bm25_and_hybrid_find_exact_identifiers() {
    let home = Home::new().await;
    let corpus = corpus();
    home.ingest(corpus.path(), "lumen").await;
    let bm25 = crate::search(
        &home,
        "DocsHandler",
        3,
        &SearchFilter::default(),
        SearchMode::Bm25,
    )
    .await;
    assert_eq!(
        bm25.first().map(|hit| hit.path.as_str()),
        Some("src/server.py"),
        "{bm25:#?}"
    );
    assert!(bm25[0].score > 0.0);
    let hybrid = crate::search(
        &home,
        "where is cache_seconds set",
        3,
        &SearchFilter::default(),
        SearchMode::Hybrid,
    )
    .await;
    assert_eq!(
        hybrid.first().map(|hit| hit.path.as_str()),
        Some("src/server.py"),
        "{hybrid:#?}"
    );
    assert!(hybrid.windows(2).all(|pair| pair[0].score >= pair[1].score));
}
