//! `codexos bench embed`: embedding throughput by batch size and batching,
//! side by side with the Python pipeline on the same model and texts.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::{Error, Result, Runtime};

/// The Python peer of the embedding benchmark, shipped inside the binary.
const PYTHON_PEER: &str = include_str!("../../../../bench/embed_python.py");

/// One measured embedding configuration.
#[derive(Debug, Clone, Serialize)]
pub struct EmbedRun {
    /// Who ran it: `codexos` or `python`.
    pub pipeline: String,
    /// How the cores were used: `workers` (one single-thread session per
    /// core, interleaved shares — codexos's setting, and Python in as many
    /// processes) or `session` (one session with a thread per core).
    pub parallelism: String,
    /// Texts per ONNX Runtime call.
    pub batch: usize,
    /// Whether batches group texts of similar length.
    pub by_length: bool,
    /// Embeddings per second.
    pub per_second: f64,
}

/// What `codexos bench embed` prints.
#[derive(Debug, Clone, Serialize)]
pub struct EmbedBench {
    /// Model folder.
    pub model: String,
    /// Texts embedded per run.
    pub texts: usize,
    /// Mean characters per text.
    pub mean_chars: f64,
    /// Cores used: codexos runs this many one-thread workers; Python runs
    /// one session with this many intra-op threads and, separately, this many
    /// one-thread processes.
    pub threads: usize,
    /// Every run.
    pub runs: Vec<EmbedRun>,
    /// codexos at its best setting ÷ Python at its best (batch and
    /// parallelism each side's own best).
    pub ratio_best_vs_python: Option<f64>,
    /// codexos batch-32 (grouped by length) ÷ codexos batch-1, when both
    /// were measured.
    pub batch_speedup: Option<f64>,
}

/// Chunk texts of a folder, as ingest embeds them, up to `limit`.
fn sample_texts(folder: &Path, limit: usize) -> Vec<String> {
    let mut files = Vec::new();
    for entry in ignore::WalkBuilder::new(folder)
        .sort_by_file_name(std::cmp::Ord::cmp)
        .build()
        .filter_map(std::result::Result::ok)
    {
        if entry.file_type().is_some_and(|kind| kind.is_file()) {
            files.push(entry.into_path());
        }
    }
    let mut texts = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(folder)
            .unwrap_or(&file)
            .to_string_lossy()
            .into_owned();
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        let kind = codexos_rag::Kind::for_path(&relative);
        let language = codexos_rag::language_for_path(&relative);
        let Ok(chunks) = codexos_rag::load(kind, language, &bytes) else {
            continue;
        };
        for chunk in chunks {
            texts.push(match &chunk.heading {
                Some(heading) => format!("{relative}\n{heading}\n{}", chunk.text),
                None => format!("{relative}\n{}", chunk.text),
            });
            if texts.len() == limit {
                return texts;
            }
        }
    }
    texts
}

impl Runtime {
    /// Embedding throughput of codexos (batch 1, batch 32 in input order,
    /// batch 32 grouped by length) and, given a Python with onnxruntime and
    /// tokenizers, of the Python pipeline on the same model, texts and
    /// thread count.
    pub async fn bench_embed(
        &self,
        folder: &Path,
        texts: usize,
        threads: usize,
        batches: &[usize],
        model: Option<&Path>,
        python: Option<&Path>,
    ) -> Result<EmbedBench> {
        let folder = folder.to_path_buf();
        let sample = tokio::task::spawn_blocking(move || sample_texts(&folder, texts))
            .await
            .map_err(Error::task)?;
        if sample.is_empty() {
            return Err(Error::BenchCorpusMissing {
                path: PathBuf::from("(no text found in the folder)"),
                install: "pick a folder with source or documents".into(),
            });
        }
        let mut files = self.embedder_files();
        if let Some(model) = model {
            files.model_dir = model.to_path_buf();
        }
        files.threads = Some(threads);
        files.batch = None;
        let model_dir = files.model_dir.clone();
        let texts_owned = sample.clone();
        let sizes: Vec<usize> = batches.iter().copied().filter(|&size| size > 0).collect();
        let configurations: Vec<(usize, bool)> = sizes
            .iter()
            .flat_map(|&size| {
                if size == 1 {
                    vec![(1, false)]
                } else {
                    vec![(size, false), (size, true)]
                }
            })
            .collect();
        let runs = tokio::task::spawn_blocking(move || -> Result<Vec<EmbedRun>> {
            let embedder = codexos_rag::Embedder::load(&files)?;
            embedder.embed_with(&texts_owned[..8.min(texts_owned.len())], 8, false)?;
            let mut runs = Vec::new();
            for (batch, by_length) in configurations {
                let started = Instant::now();
                embedder.embed_with(&texts_owned, batch, by_length)?;
                runs.push(EmbedRun {
                    pipeline: "codexos".into(),
                    parallelism: "workers".into(),
                    batch,
                    by_length,
                    per_second: texts_owned.len() as f64 / started.elapsed().as_secs_f64(),
                });
            }
            Ok(runs)
        })
        .await
        .map_err(Error::task)??;
        let mut runs = runs;
        if let Some(python) = python {
            let mut peer = python_peer(python, &model_dir, threads, &sample, &sizes).await?;
            peer.sort_by(|a, b| (&a.parallelism, a.batch).cmp(&(&b.parallelism, b.batch)));
            runs.extend(peer);
        }
        let rate = |pipeline: &str, batch: usize, by_length: bool| {
            runs.iter()
                .find(|run| {
                    run.pipeline == pipeline && run.batch == batch && run.by_length == by_length
                })
                .map(|run| run.per_second)
        };
        // Compared at each side's best setting, and at batch 32.
        let best = |pipeline: &str| {
            runs.iter()
                .filter(|run| run.pipeline == pipeline)
                .map(|run| run.per_second)
                .fold(None, |best: Option<f64>, rate| {
                    Some(best.map_or(rate, |b| b.max(rate)))
                })
        };
        let ratio_best = best("codexos")
            .zip(best("python"))
            .map(|(ours, theirs)| ours / theirs);
        Ok(EmbedBench {
            ratio_best_vs_python: ratio_best,
            model: model_dir.display().to_string(),
            texts: sample.len(),
            mean_chars: sample.iter().map(String::len).sum::<usize>() as f64 / sample.len() as f64,
            threads,
            batch_speedup: rate("codexos", 32, true)
                .zip(rate("codexos", 1, false))
                .map(|(large, single)| large / single),
            runs,
        })
    }
}

/// What the Python peer prints: embeddings/s per batch size, in one
/// multi-threaded session and in one-thread processes.
#[derive(Deserialize)]
struct Peer {
    batch: std::collections::BTreeMap<String, f64>,
    parallel: std::collections::BTreeMap<String, f64>,
}

/// Runs the Python peer on the same texts and parses its rates.
async fn python_peer(
    python: &Path,
    model: &Path,
    threads: usize,
    texts: &[String],
    batches: &[usize],
) -> Result<Vec<EmbedRun>> {
    let scratch = tempfile_dir()?;
    let script = scratch.join("embed_python.py");
    let inputs = scratch.join("texts.json");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Home { path, source }
    };
    std::fs::write(&script, PYTHON_PEER).map_err(io(&script))?;
    let json = serde_json::to_string(texts).map_err(|error| Error::Task {
        message: error.to_string(),
    })?;
    std::fs::write(&inputs, json).map_err(io(&inputs))?;
    let output = tokio::process::Command::new(python)
        .arg(&script)
        .arg(model)
        .arg(threads.to_string())
        .arg(&inputs)
        .args(batches.iter().map(ToString::to_string))
        .output()
        .await
        .map_err(io(python))?;
    let _ = std::fs::remove_dir_all(&scratch);
    if !output.status.success() {
        return Err(Error::PythonPeer {
            message: String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("no output")
                .to_owned(),
        });
    }
    let peer: Peer = serde_json::from_slice(&output.stdout).map_err(|error| Error::PythonPeer {
        message: format!("unreadable output: {error}"),
    })?;
    let runs = |rates: std::collections::BTreeMap<String, f64>, parallelism: &str| {
        rates
            .into_iter()
            .filter_map(|(batch, per_second)| {
                Some(EmbedRun {
                    pipeline: "python".into(),
                    parallelism: parallelism.to_owned(),
                    batch: batch.parse().ok()?,
                    by_length: false,
                    per_second,
                })
            })
            .collect::<Vec<_>>()
    };
    let mut all = runs(peer.batch, "session");
    all.extend(runs(peer.parallel, "workers"));
    Ok(all)
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("codexos-bench-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| Error::Home {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}
