use codexos_rag::{SearchFilter, SearchMode};

use crate::Home;

async fn bm25(home: &Home, query: &str) -> Vec<codexos_rag::Hit> {
    crate::search(home, query, 5, &SearchFilter::default(), SearchMode::Bm25).await
}

#[tokio::test(flavor = "multi_thread")]
async fn pdf_json_and_html_are_loaded_with_pages_paths_and_headings() {
    let home = Home::new().await;
    let folder = tempfile::tempdir().expect("temp dir");
    codexos_test_support::copy_tree(&codexos_test_support::formats_fixture(), folder.path());
    std::fs::write(
        folder.path().join("broken.pdf"),
        b"%PDF-1.7\nthis is not a pdf",
    )
    .expect("write");
    let (report, _) = home.ingest(folder.path(), "formats").await;
    assert_eq!(report.files_indexed, 3, "{report:#?}");
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].path, "broken.pdf");
    assert!(
        report.skipped[0].reason.starts_with("PDF could not be"),
        "{:?}",
        report.skipped
    );

    let pdf = bm25(&home, "rotate logs gzip").await;
    let top = pdf.first().expect("a pdf hit");
    assert_eq!(
        (top.path.as_str(), top.kind.as_str(), top.page),
        ("manual.pdf", "pdf", Some(2)),
        "{pdf:#?}"
    );

    let json = bm25(&home, "9443").await;
    let top = json.first().expect("a json hit");
    assert_eq!(
        (top.path.as_str(), top.heading.as_deref()),
        ("settings.json", Some("server"))
    );
    assert_eq!((top.start_line, top.end_line), (3, 7));

    let html = bm25(&home, "systemctl start").await;
    let top = html.first().expect("an html hit");
    assert_eq!(
        (top.path.as_str(), top.heading.as_deref()),
        ("guide.html", Some("Guide > Linux"))
    );
    for noise in [
        "tracking script",
        "Navigation menu entry",
        "Copyright footer",
    ] {
        let hits = bm25(&home, noise).await;
        assert!(
            hits.iter().all(|hit| !hit.text.contains(noise)),
            "{noise} was indexed"
        );
    }
}
