//! Integration tests of the retrieval engine on the real components: fastembed
//! over ONNX Runtime with the MiniLM model, LanceDB and SQLite.
//!
//! Needs the default models: `CODEXOS_MODELS` must name the folder that
//! `scripts/fetch-models.sh` filled (`make test` sets it).

mod formats;
mod git;
mod ingest;
mod rerank;
mod search;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use codexos_rag::{Embedder, EmbedderFiles, Index, IngestEvent, IngestOptions, IngestReport};
use codexos_store::Store;
use tokio_util::sync::CancellationToken;

/// One embedder for the whole test binary (loading takes ~0.5 s).
pub(crate) fn embedder() -> Arc<Embedder> {
    static EMBEDDER: OnceLock<Arc<Embedder>> = OnceLock::new();
    Arc::clone(EMBEDDER.get_or_init(|| {
        let models = codexos_test_support::models_dir();
        Arc::new(
            Embedder::load(&EmbedderFiles {
                model_dir: models.join("all-minilm-l6-v2"),
                runtime_library: models.join("onnxruntime/libonnxruntime.so.1.31.1"),
                threads: None,
                batch: None,
            })
            .expect("the embedding model loads"),
        )
    }))
}

/// Searches `home` like the app does: hybrid results reranked by the
/// handcrafted stage, dense and BM25 left in retrieval order.
pub(crate) async fn search(
    home: &Home,
    query: &str,
    k: usize,
    filter: &codexos_rag::SearchFilter,
    mode: codexos_rag::SearchMode,
) -> Vec<codexos_rag::Hit> {
    let reranker = if mode == codexos_rag::SearchMode::Hybrid {
        codexos_rag::Reranker::Handcrafted
    } else {
        codexos_rag::Reranker::None
    };
    codexos_rag::search(&home.index, &embedder(), query, k, filter, mode, &reranker)
        .await
        .expect("search")
}

/// A writable copy of the fixture corpus plus the files that must be left
/// out: ignored by `.gitignore`, binary, too large, not UTF-8.
pub(crate) fn corpus() -> tempfile::TempDir {
    let dir = codexos_test_support::corpus();
    std::fs::create_dir_all(dir.path().join("build")).expect("mkdir");
    std::fs::write(dir.path().join("build/output.md"), "ignored build output\n").expect("write");
    std::fs::write(dir.path().join("debug.log"), "ignored log\n").expect("write");
    std::fs::write(dir.path().join("huge.txt"), "x".repeat(5 * 1024 * 1024)).expect("write");
    std::fs::write(dir.path().join("latin1.txt"), b"caf\xe9 au lait\n").expect("write");
    dir
}

/// A data home: SQLite store and LanceDB index in a temp folder.
pub(crate) struct Home {
    _dir: tempfile::TempDir,
    pub(crate) store: Store,
    pub(crate) index: Index,
}

impl Home {
    pub(crate) async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("codexos.sqlite")).expect("store");
        let index = Index::open(&dir.path().join("lancedb"))
            .await
            .expect("index");
        Self {
            _dir: dir,
            store,
            index,
        }
    }

    pub(crate) async fn ingest(
        &self,
        folder: &Path,
        project: &str,
    ) -> (IngestReport, Vec<IngestEvent>) {
        let events = std::sync::Mutex::new(Vec::new());
        let report = codexos_rag::ingest(
            &self.store,
            &self.index,
            &embedder(),
            folder,
            project,
            &IngestOptions::default(),
            &|event| events.lock().expect("lock").push(event),
            &CancellationToken::new(),
        )
        .await
        .expect("ingest succeeds");
        (report, events.into_inner().expect("events"))
    }
}
