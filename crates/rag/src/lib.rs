//! `codexos-rag`: the retrieval engine.
//!
//! Walks a folder (honouring `.gitignore`) or a git revision, loads markdown,
//! code (tree-sitter, by symbol), PDF (per page), JSON (by object path), HTML
//! (main text) and plain text into line-addressed chunks tagged with the
//! commit that last changed them, embeds them with fastembed (all-MiniLM-L6-v2 over ONNX Runtime) and
//! stores them in LanceDB; searches by vector similarity, BM25 full text, or
//! both fused and reranked ([`SearchMode`]). Re-ingest is
//! incremental: a per-file ledger in `codexos-store` skips unchanged files,
//! replaces changed ones and drops deleted ones.
//!
//! Sits below `codexos-runtime`, above `codexos-store`; the only crate that
//! touches LanceDB or ONNX Runtime.
//!
//! ```no_run
//! # async fn demo(store: &codexos_store::Store, files: codexos_rag::EmbedderFiles) -> codexos_rag::Result<()> {
//! use std::sync::Arc;
//! let embedder = Arc::new(codexos_rag::Embedder::load(&files)?);
//! let index = codexos_rag::Index::open(std::path::Path::new("/tmp/home/lancedb")).await?;
//! let cancel = tokio_util::sync::CancellationToken::new();
//! let options = codexos_rag::IngestOptions::default();
//! codexos_rag::ingest(store, &index, &embedder, std::path::Path::new("docs"), "docs", &options, &|_| {}, &cancel).await?;
//! let filter = codexos_rag::SearchFilter::project("docs");
//! let reranker = codexos_rag::Reranker::Handcrafted;
//! let hits = codexos_rag::search(&index, &embedder, "how do I install?", 5, &filter, codexos_rag::SearchMode::Hybrid, &reranker).await?;
//! # Ok(()) }
//! ```

mod chunk;
mod code;
mod embed;
mod formats;
mod git;
mod index;
mod ingest;
mod rerank;
mod search;
mod watch;

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use chunk::{chunk, Chunk, Kind};
pub use code::language_for_path;
pub use embed::{Embedder, EmbedderFiles, DIMENSIONS};
pub use formats::load;
pub use git::{clone_repository, origin_url, resolve_revision};
pub use index::{Index, Row};
pub use ingest::{
    ingest, ingest_root, walk, IngestEvent, IngestOptions, IngestReport, IngestTimings, SkippedFile,
};
pub use rerank::{CrossEncoder, RemoteReranker, Reranker};
pub use search::{search, SearchFilter, SearchMode};
pub use watch::FolderWatcher;

/// Errors of the retrieval engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The folder to ingest is missing or not a folder.
    #[error("cannot ingest `{path}`: {reason} — pass an existing folder")]
    NotAFolder {
        /// The path given.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// A model file could not be read.
    #[error("cannot read embedding model file `{path}`: {source} — install the default model with `codexos models pull minilm`, or check `[models] embedding` and CODEXOS_MODELS")]
    ModelFile {
        /// The file.
        path: PathBuf,
        /// I/O error.
        #[source]
        source: std::io::Error,
    },
    /// ONNX Runtime could not be loaded.
    #[error("cannot load ONNX Runtime from `{path}`: {message} — run `codexos models pull onnxruntime`, or check ORT_DYLIB_PATH and CODEXOS_MODELS")]
    Runtime {
        /// Library path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The embedding model files are present but do not load.
    #[error("cannot load the model in `{path}`: {message} — the files may be corrupt; `codexos doctor` verifies their checksums")]
    ModelLoad {
        /// Model folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Inference failed.
    #[error("embedding failed: {message}")]
    Embed {
        /// What went wrong.
        message: String,
    },
    /// LanceDB failed.
    #[error("vector store error while {action}: {source}")]
    Index {
        /// What the index was doing.
        action: &'static str,
        /// LanceDB's error.
        #[source]
        source: lancedb::Error,
    },
    /// Building a record batch failed.
    #[error("cannot build a chunk batch: {source}")]
    Arrow {
        /// Arrow's error.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// The stored table lacks an expected column.
    #[error("the chunk table has no usable `{column}` column — it was written by another version; delete the `lancedb` folder of the data home and ingest again")]
    Schema {
        /// Missing column.
        column: &'static str,
    },
    /// The folder cannot be watched.
    #[error("cannot watch `{path}` for changes: {message} — on Linux, raise fs.inotify.max_user_watches if the folder is large")]
    Watch {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A background task died.
    #[error("a background task failed: {message}")]
    Task {
        /// Panic or cancellation message.
        message: String,
    },
    /// A git operation failed.
    #[error("git error while {action}: {message}")]
    Git {
        /// What was being done.
        action: &'static str,
        /// libgit2's message.
        message: String,
    },
    /// `--rev` was given for a folder outside any git repository.
    #[error("`{path}` is not inside a git repository, so it has no revisions — drop `--rev`, or run `git init` there")]
    NotARepository {
        /// The folder.
        path: PathBuf,
    },
    /// The revision does not name a commit.
    #[error("unknown revision `{rev}`: {message} — use a branch, a tag or a commit id (`git log --oneline` lists them)")]
    UnknownRevision {
        /// As given.
        rev: String,
        /// libgit2's message.
        message: String,
    },
    /// Cloning failed (a partial clone is removed).
    #[error("cannot clone `{url}`: {message} — check the URL and the network (offline mode refuses clones)")]
    Clone {
        /// The URL.
        url: String,
        /// libgit2's message.
        message: String,
    },
    /// The rerank API failed (search falls back to handcrafted scoring).
    #[error("rerank API `{url}` failed: {message}")]
    Rerank {
        /// Endpoint.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The operation was cancelled; what was stored before stays consistent.
    #[error("cancelled")]
    Cancelled,
    /// The metadata store failed.
    #[error(transparent)]
    Store(#[from] codexos_store::Error),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Hit {
    /// Project the chunk belongs to.
    pub project: String,
    /// Path relative to the project root.
    pub path: String,
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, inclusive.
    pub end_line: u32,
    /// Heading or JSON path, if any.
    pub heading: Option<String>,
    /// PDF page, if any (lines then count within the page).
    pub page: Option<u32>,
    /// `markdown`, `code`, `pdf`, `json`, `html` or `text`.
    pub kind: String,
    /// Programming language of a code chunk.
    pub language: Option<String>,
    /// Commit that last changed the chunk's lines (git trees only).
    pub commit: Option<String>,
    /// When the lines were last changed, Unix seconds (author time, or the
    /// file's modification time for uncommitted lines).
    #[specta(type = Option<f64>)]
    pub author_time: Option<i64>,
    /// Relevance: cosine similarity in dense mode, BM25 score in bm25 mode,
    /// fused and reranked score in hybrid mode. Higher is better.
    pub score: f32,
    /// The chunk text.
    pub text: String,
}

/// Runs embedding on the blocking pool so async tasks keep running.
pub(crate) async fn embed_blocking(
    embedder: &Arc<Embedder>,
    texts: Vec<String>,
) -> Result<Vec<Vec<f32>>> {
    let embedder = Arc::clone(embedder);
    tokio::task::spawn_blocking(move || embedder.embed(&texts))
        .await
        .map_err(|error| Error::Task {
            message: error.to_string(),
        })?
}
