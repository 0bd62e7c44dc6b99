//! Sentence embeddings with fastembed over ONNX Runtime loaded at run time.
//!
//! ONNX Runtime is not linked at build time (`ort` `load-dynamic`): the library
//! path is given explicitly and loaded once per process, so a missing or wrong
//! library is an [`Error::Runtime`](crate::Error::Runtime) instead of a panic on
//! first use.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use fastembed::{
    InitOptionsUserDefined, Pooling, QuantizationMode, TextEmbedding, TokenizerFiles,
    UserDefinedEmbeddingModel,
};

use crate::{Error, Result};

/// Dimensions of the default model (all-MiniLM-L6-v2).
pub const DIMENSIONS: usize = 384;
/// Tokens per input: MiniLM was trained on 256 word pieces; longer text is cut.
const MAX_TOKENS: usize = 256;
/// Texts per ONNX Runtime call during ingest. Measured with `codexos bench
/// embed` on a 2-core AVX2 machine (int8 MiniLM, ~1,200-character chunks):
/// throughput *falls* as batches grow (35 → 21 embeddings/s from batch 1 to
/// 32, even with batches grouped by length), so one text per call it is;
/// `[ingest] embed_batch` changes it for hardware where batching pays.
pub const BATCH: usize = 1;

/// Where the embedding model and ONNX Runtime are.
#[derive(Debug, Clone)]
pub struct EmbedderFiles {
    /// Folder with `model.onnx`, `tokenizer.json`, `config.json`,
    /// `special_tokens_map.json` and `tokenizer_config.json`.
    pub model_dir: PathBuf,
    /// The ONNX Runtime shared library.
    pub runtime_library: PathBuf,
    /// Parallel workers, each an ONNX Runtime session with one thread;
    /// `None` uses one per core. (Measured: two one-thread sessions beat one
    /// two-thread session, which scales 1.7× rather than 2×.)
    pub threads: Option<usize>,
    /// Texts per ONNX Runtime call (one when `None`).
    pub batch: Option<usize>,
}

/// A loaded embedding model: one session per worker, each single-threaded,
/// embedding its share of a request in parallel with the others.
pub struct Embedder {
    workers: Vec<Mutex<TextEmbedding>>,
    batch: usize,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Embedder").finish_non_exhaustive()
    }
}

/// The process-wide ONNX Runtime environment (ort allows one per process).
pub(crate) fn environment(library: &Path) -> Result<ort::environment::Environment> {
    static ENVIRONMENT: OnceLock<std::result::Result<ort::environment::Environment, String>> =
        OnceLock::new();
    let outcome = ENVIRONMENT.get_or_init(|| {
        if !library.is_file() {
            return Err(format!("`{}` does not exist", library.display()));
        }
        let builder = ort::init_from(library).map_err(|error| error.to_string())?;
        builder
            .with_name("codexos")
            .build()
            .map_err(|error| error.to_string())
    });
    outcome.clone().map_err(|message| Error::Runtime {
        path: library.to_path_buf(),
        message,
    })
}

fn read(path: PathBuf) -> Result<Vec<u8>> {
    std::fs::read(&path).map_err(|source| Error::ModelFile { path, source })
}

impl Embedder {
    /// Loads the model (blocking; ~0.5 s).
    pub fn load(files: &EmbedderFiles) -> Result<Self> {
        let directory = &files.model_dir;
        // Read the files first so a missing one is named before ORT is touched.
        let onnx = read(directory.join("model.onnx"))?;
        let tokenizer_files = TokenizerFiles {
            tokenizer_file: read(directory.join("tokenizer.json"))?,
            config_file: read(directory.join("config.json"))?,
            special_tokens_map_file: read(directory.join("special_tokens_map.json"))?,
            tokenizer_config_file: read(directory.join("tokenizer_config.json"))?,
        };
        let environment = environment(&files.runtime_library)?;
        let count = files
            .threads
            .unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            })
            .max(1);
        let mut workers = Vec::with_capacity(count);
        for _ in 0..count {
            let model = UserDefinedEmbeddingModel::new(onnx.clone(), tokenizer_files.clone())
                .with_pooling(Pooling::Mean)
                .with_quantization(QuantizationMode::None);
            let options = InitOptionsUserDefined::new()
                .with_environment(environment.clone())
                .with_max_length(MAX_TOKENS)
                .with_intra_threads(1);
            let model =
                TextEmbedding::try_new_from_user_defined(model, options).map_err(|error| {
                    Error::ModelLoad {
                        path: directory.clone(),
                        message: error.to_string(),
                    }
                })?;
            workers.push(Mutex::new(model));
        }
        Ok(Self {
            workers,
            batch: files.batch.unwrap_or(BATCH).max(1),
        })
    }

    /// Parallel workers.
    #[must_use]
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Embeds texts into L2-normalised vectors of [`DIMENSIONS`] (blocking).
    ///
    /// Texts are spread over the workers and batched by length: a batch is
    /// padded to its longest text, so grouping similar lengths wastes little
    /// compute on padding.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.embed_with(texts, self.batch, true)
    }

    /// Embeds with an explicit batch size, with or without grouping texts of
    /// similar length (the benchmarks compare both). Vectors come back in
    /// the order of `texts`.
    pub fn embed_with(
        &self,
        texts: &[String],
        batch: usize,
        by_length: bool,
    ) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let mut order: Vec<usize> = (0..texts.len()).collect();
        if by_length {
            order.sort_by_key(|&at| texts[at].len());
        }
        let sorted: Vec<&String> = order.iter().map(|&at| &texts[at]).collect();
        let vectors = self.embed_in_parallel(&sorted, batch)?;
        let mut placed: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for (at, vector) in order.into_iter().zip(vectors) {
            placed[at] = vector;
        }
        Ok(placed)
    }
}

impl Embedder {
    /// Embeds `texts` (in order) on every worker: interleaved shares keep
    /// each worker's texts of similar length together and the loads even.
    fn embed_in_parallel(&self, texts: &[&String], batch: usize) -> Result<Vec<Vec<f32>>> {
        let count = self.workers.len().min(texts.len()).max(1);
        if count == 1 {
            // One text (a query) or one worker: no thread to hand it to.
            return embed_share(&self.workers[0], texts, batch);
        }
        let shares: Vec<Vec<&String>> = (0..count)
            .map(|worker| texts.iter().skip(worker).step_by(count).copied().collect())
            .collect();
        let results: Vec<Result<Vec<Vec<f32>>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = shares
                .iter()
                .zip(&self.workers)
                .map(|(share, worker)| scope.spawn(move || embed_share(worker, share, batch)))
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|_| {
                        Err(Error::Embed {
                            message: "an embedding worker panicked".into(),
                        })
                    })
                })
                .collect()
        });
        let mut per_worker = Vec::with_capacity(count);
        for result in results {
            per_worker.push(result?.into_iter());
        }
        let mut vectors = Vec::with_capacity(texts.len());
        for position in 0..texts.len() {
            vectors.push(
                per_worker[position % count]
                    .next()
                    .ok_or_else(|| Error::Embed {
                        message: "fewer vectors than texts".into(),
                    })?,
            );
        }
        Ok(vectors)
    }
}

/// Embeds one worker's share, in order.
fn embed_share(
    worker: &Mutex<TextEmbedding>,
    texts: &[&String],
    batch: usize,
) -> Result<Vec<Vec<f32>>> {
    let mut model = worker
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let vectors = model
        .embed(texts, Some(batch.max(1)))
        .map_err(|error| Error::Embed {
            message: error.to_string(),
        })?;
    if let Some(vector) = vectors.iter().find(|vector| vector.len() != DIMENSIONS) {
        return Err(Error::Embed {
            message: format!(
                "the model returned {}-dimensional vectors, expected {DIMENSIONS}",
                vector.len()
            ),
        });
    }
    Ok(vectors)
}
