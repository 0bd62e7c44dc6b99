use crate::{assert_success, corpus, Cli};

#[test]
fn ingest_then_search_returns_cited_hits_and_reingest_duplicates_nothing() {
    let cli = Cli::new();
    let corpus = corpus();
    let folder = corpus.path().to_str().expect("utf-8 path");
    let report = cli.json(&["ingest", folder, "--project", "lumen"]);
    assert_eq!(report["project"], "lumen");
    assert_eq!(report["files_indexed"], 5);
    assert_eq!(report["skipped"][0]["path"], "docs/logo.png");
    let total = report["chunks_total"].as_u64().expect("chunks");

    let hits = cli.json(&[
        "search",
        "default port of the server",
        "-k",
        "4",
        "--project",
        "lumen",
    ]);
    let hits = hits.as_array().expect("an array of hits");
    assert_eq!(hits.len(), 4);
    for hit in hits {
        for field in ["path", "start_line", "end_line", "score", "text", "project"] {
            assert!(!hit[field].is_null(), "hit lacks {field}: {hit}");
        }
        assert!(
            !hit["path"].as_str().expect("path").starts_with('/'),
            "paths are relative"
        );
    }
    assert!(
        hits.iter()
            .any(|hit| hit["path"] == "docs/configuration.md"),
        "{hits:#?}"
    );

    for mode in ["dense", "bm25", "hybrid"] {
        let hits = cli.json(&["search", "DocsHandler", "-k", "3", "--mode", mode]);
        assert!(
            hits.as_array().is_some_and(|hits| !hits.is_empty()),
            "{mode}: {hits}"
        );
    }
    let bad_mode = cli.run(&["search", "x", "--mode", "fuzzy"]);
    assert_eq!(bad_mode.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&bad_mode.stderr).contains("use dense, bm25 or hybrid"));

    let again = cli.json(&["ingest", folder, "--project", "lumen"]);
    assert_eq!(again["chunks_added"], 0);
    assert_eq!(again["files_unchanged"], 5);
    assert_eq!(again["chunks_total"].as_u64(), Some(total));

    let human = cli.run(&["ingest", folder, "--project", "lumen"]);
    assert_success(&human, &["ingest"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("skipped docs/logo.png: binary file"),
        "{text}"
    );
    assert!(text.contains("5 unchanged"), "{text}");

    let projects = cli.json(&["projects"]);
    assert_eq!(projects[0]["name"], "lumen");
    assert_eq!(projects[0]["chunks"].as_u64(), Some(total));
}

#[test]
fn the_default_project_name_is_the_folder_name() {
    let cli = Cli::new();
    let parent = tempfile::tempdir().expect("temp dir");
    let folder = parent.path().join("my-notes");
    std::fs::create_dir(&folder).expect("mkdir");
    std::fs::write(folder.join("a.md"), "# Notes\n\nBuy milk.\n").expect("write");
    let report = cli.json(&["ingest", folder.to_str().expect("path")]);
    assert_eq!(report["project"], "my-notes");
}

#[test]
fn bench_ingest_prints_throughput_and_leaves_the_home_untouched() {
    let cli = Cli::new();
    let corpus = corpus();
    let bench = cli.json(&["bench", "ingest", corpus.path().to_str().expect("path")]);
    assert_eq!(bench["files"], 5, "{bench}");
    assert!(
        bench["chunks_per_second"].as_f64().unwrap_or(0.0) > 0.0,
        "{bench}"
    );
    let shares: f64 = ["read_share", "embed_share", "store_share"]
        .iter()
        .map(|key| bench[key].as_f64().unwrap_or(-1.0))
        .sum();
    assert!(shares > 0.0 && shares <= 1.0, "{bench}");
    // The scratch home is gone and this home holds no project.
    assert_eq!(cli.json(&["projects"]), serde_json::json!([]));
}

#[test]
fn changing_the_embedding_model_clears_old_vectors_and_asks_for_an_ingest() {
    let cli = Cli::new();
    let corpus = crate::corpus();
    let folder = corpus.path().to_str().expect("path");
    cli.json(&["ingest", folder, "--project", "lumen"]);
    // The same model under another name stands in for a different model.
    let other = tempfile::tempdir().expect("temp dir");
    let copy = other.path().join("other-embedder");
    std::fs::create_dir(&copy).expect("mkdir");
    for entry in std::fs::read_dir(cli.models.join("all-minilm-l6-v2")).expect("models") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), copy.join(entry.file_name())).expect("copy");
    }
    std::fs::write(
        cli.home.path().join("config.toml"),
        format!("[models]\nembedding = \"{}\"\n", copy.display()),
    )
    .expect("config");
    let line = crate::error_line(&cli.run(&["search", "port", "--project", "lumen"]));
    assert!(
        line.contains("nothing indexed") && line.contains("ingest"),
        "{line}"
    );
    let report = cli.json(&["ingest", folder, "--project", "lumen"]);
    assert_eq!(report["files_unchanged"], 0, "every file is embedded again");
    let hits = cli.json(&["search", "default port", "--project", "lumen"]);
    assert!(!hits.as_array().expect("hits").is_empty());
}

#[test]
fn models_are_listed_and_gguf_metadata_is_shown_without_loading() {
    let cli = Cli::new();
    let models = cli.json(&["models", "list"]);
    let chat = models
        .as_array()
        .expect("list")
        .iter()
        .find(|model| model["name"] == "SmolLM2-135M-Instruct.Q4_1.gguf")
        .expect("the default chat model is listed");
    assert_eq!(chat["kind"], "chat");
    assert_eq!(chat["installed"], true);
    assert_eq!(chat["default"], true);
    let info = cli.json(&["models", "info", "SmolLM2-135M-Instruct.Q4_1"]);
    assert_eq!(info["architecture"], "llama");
    assert_eq!(info["quantization"], "Q4_1");
    assert_eq!(info["context_length"], 8192);
    assert_eq!(
        info["supports_tools"], true,
        "ChatML: the built-in tools template stands in"
    );
    let not_a_model = cli.home.path().join("config.toml");
    let line =
        crate::error_line(&cli.run(&["models", "info", not_a_model.to_str().expect("path")]));
    assert!(line.contains("is not a GGUF model file"), "{line}");
}

#[test]
fn a_gguf_is_imported_checked_and_removed_unless_in_use() {
    let mut cli = Cli::new();
    let shared = cli.models.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    let own_models = tempfile::tempdir().expect("temp dir");
    cli.models = own_models.path().to_path_buf();
    let source = shared.to_str().expect("path");
    let imported = cli.json(&["models", "import", source]);
    assert_eq!(imported["architecture"], "llama");
    assert!(own_models
        .path()
        .join("SmolLM2-135M-Instruct.Q4_1.gguf")
        .is_file());
    assert!(std::fs::read_dir(own_models.path())
        .expect("list")
        .all(|entry| !entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .ends_with(".partial")));
    let line = crate::error_line(&cli.run(&["models", "import", source]));
    assert!(line.contains("already exists"), "{line}");
    let text = cli.home.path().join("config.toml");
    let line = crate::error_line(&cli.run(&["models", "import", text.to_str().expect("path")]));
    assert!(line.contains("not a GGUF model"), "{line}");
    let line = crate::error_line(&cli.run(&["models", "rm", "SmolLM2-135M-Instruct.Q4_1"]));
    assert!(line.contains("in use"), "{line}");

    let elsewhere = tempfile::tempdir().expect("temp dir");
    let copy = elsewhere.path().join("spare.gguf");
    std::fs::copy(&shared, &copy).expect("copy");
    cli.json(&["models", "import", copy.to_str().expect("path")]);
    cli.json(&["models", "rm", "spare"]);
    assert!(!own_models.path().join("spare.gguf").exists());
    let line = crate::error_line(&cli.run(&["models", "rm", "spare"]));
    assert!(line.contains("not installed — nothing to remove"), "{line}");
    let listed = cli.json(&["models", "list"]);
    assert!(listed
        .as_array()
        .expect("list")
        .iter()
        .all(|model| model["name"] != "spare.gguf"));
}

#[test]
fn bench_search_on_a_real_corpus_measures_each_size_with_held_out_questions() {
    let cli = Cli::new();
    let corpus = corpus();
    let answers = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        answers.path().join("tea.md"),
        "# Brewing green tea\n\nSteep green tea leaves in water at 80 °C for two minutes.\n",
    )
    .expect("write");
    std::fs::write(
        answers.path().join("bicycle.md"),
        "# Fixing a flat bicycle tyre\n\nTake the wheel off, find the puncture and patch the inner tube.\n",
    )
    .expect("write");
    let set = answers.path().join("set.json");
    let question = |text: &str, file: &str, split: &str| serde_json::json!({"question": text, "expected": [file], "split": split});
    let eval = serde_json::json!({
        "name": "chores",
        "corpus": {"path": answers.path(), "files": ["tea.md", "bicycle.md"]},
        "questions": [
            question("how long should green tea steep", "tea.md", "held-out"),
            question("repairing a punctured bike tire", "bicycle.md", "held-out"),
            question("a tuning question is not a query", "tea.md", "tuning"),
        ],
    });
    std::fs::write(&set, eval.to_string()).expect("write set");
    let args = [
        "bench",
        "search",
        "--corpus",
        corpus.path().to_str().expect("path"),
        "--eval",
        set.to_str().expect("path"),
        "--sizes",
        "1,1000000",
    ];
    let bench = cli.json(&args);
    assert!(bench["setup"]["cpu"].is_string(), "{bench}");
    assert_eq!(bench["queries"], 2, "held-out questions only: {bench}");
    let eval_chunks = bench["eval_chunks"].as_u64().expect("eval chunks");
    let corpus_chunks = bench["corpus_chunks"].as_u64().expect("corpus chunks");
    assert!(eval_chunks >= 2 && corpus_chunks >= 5, "{bench}");
    let sizes = bench["sizes"].as_array().expect("sizes");
    // Sizes are capped to [the answers alone, everything cached].
    let chunks: Vec<u64> = sizes
        .iter()
        .filter_map(|size| size["chunks"].as_u64())
        .collect();
    assert_eq!(
        chunks,
        [eval_chunks, eval_chunks + corpus_chunks],
        "{bench}"
    );
    for size in sizes {
        // The vector search users get is the exact scan under the threshold.
        assert_eq!(size["ann_index"], false, "{size}");
        assert!((size["ann_recall_at_10"].as_f64().expect("recall") - 1.0).abs() < 1e-9);
        // Positive control: both answers are found first, distractors or not.
        assert!(
            (size["recall_at_1"].as_f64().expect("recall@1") - 1.0).abs() < 1e-9,
            "{size}"
        );
        assert!(size["hybrid_ms"][0].as_f64().expect("p50") > 0.0, "{size}");
    }
    // The cache is the bench's own home: this home holds no project.
    assert_eq!(cli.json(&["projects"]), serde_json::json!([]));
    let again = cli.run(&args[..]);
    assert_success(&again, &["bench", "search"]);
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("2 held-out questions as queries"), "{text}");
    assert!(
        text.contains("machine: "),
        "every figure travels with its setup: {text}"
    );
}

#[test]
fn a_removed_project_leaves_no_chunk_behind_and_reingests_whole() {
    let cli = Cli::new();
    let corpus = corpus();
    let folder = corpus.path().to_str().expect("utf-8 path");
    let kept = cli.json(&["ingest", folder, "--project", "kept"]);
    let gone = cli.json(&["ingest", folder, "--project", "gone"]);
    // Positive control: both are searchable before the removal.
    let before = cli.json(&["search", "default port", "-k", "50"]);
    let projects_of = |hits: &serde_json::Value| -> Vec<String> {
        hits.as_array()
            .expect("hits")
            .iter()
            .map(|hit| hit["project"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(
        projects_of(&before).contains(&"gone".to_owned()),
        "{before}"
    );

    let removed = cli.json(&["projects", "rm", "gone"]);
    assert_eq!(removed["chunks"], gone["chunks_total"]);
    let listed = cli.json(&["projects"]);
    let names: Vec<&str> = listed
        .as_array()
        .expect("projects")
        .iter()
        .filter_map(|project| project["name"].as_str())
        .collect();
    assert_eq!(names, ["kept"]);
    assert_eq!(listed[0]["chunks"], kept["chunks_total"]);
    for mode in ["dense", "bm25", "hybrid"] {
        let after = cli.json(&["search", "default port", "-k", "50", "--mode", mode]);
        let projects = projects_of(&after);
        assert!(
            !projects.is_empty(),
            "{mode}: the other project still answers"
        );
        assert!(
            projects.iter().all(|project| project == "kept"),
            "{mode}: {after}"
        );
    }
    // Removing it again says it is unknown; its folder was not touched.
    let again = cli.run(&["projects", "rm", "gone"]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("gone"));
    assert!(corpus.path().join("docs/configuration.md").exists());
    // Ingested again, it is indexed whole (its ledger went with it).
    let back = cli.json(&["ingest", folder, "--project", "gone"]);
    assert_eq!(back["files_indexed"], 5);
    assert_eq!(back["chunks_total"], gone["chunks_total"]);
}

#[test]
fn single_files_go_into_the_files_project_and_a_binary_is_refused_with_its_reason() {
    let cli = Cli::new();
    let formats = codexos_test_support::formats_fixture();
    let corpus = corpus();
    let pdf = formats.join("manual.pdf");
    let markdown = corpus.path().join("README.md");
    let logo = corpus.path().join("docs/logo.png");
    let output = cli.run(&[
        "--json",
        "ingest",
        "--files",
        pdf.to_str().expect("utf-8"),
        markdown.to_str().expect("utf-8"),
        logo.to_str().expect("utf-8"),
    ]);
    assert_success(&output, &["ingest", "--files"]);
    let dropped: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        dropped["added"],
        serde_json::json!(["manual.pdf", "README.md"])
    );
    assert_eq!(dropped["refused"][0]["reason"], "binary file", "{dropped}");
    assert_eq!(dropped["report"]["project"], "files");
    assert_eq!(dropped["report"]["files_indexed"], 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refused") && stderr.contains("logo.png: binary file"),
        "{stderr}"
    );
    // The copies are searchable under `files`; the refused one was not kept.
    let hits = cli.json(&["search", "Lumen", "--project", "files", "-k", "3"]);
    assert!(
        hits.as_array()
            .expect("hits")
            .iter()
            .any(|hit| hit["path"] == "README.md"),
        "{hits}"
    );
    let kept: Vec<String> = std::fs::read_dir(cli.home.path().join("files"))
        .expect("files folder")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(!kept.iter().any(|name| name.contains("logo")), "{kept:?}");
    // Only a binary: nothing ingested, and the error says why and what works.
    let refused = cli.run(&["ingest", "--files", logo.to_str().expect("utf-8")]);
    let line = crate::error_line(&refused);
    assert!(
        line.contains("nothing was ingested")
            && line.contains("logo.png: binary file")
            && line.contains("Markdown, JSON, HTML and PDF"),
        "{line}"
    );
}
