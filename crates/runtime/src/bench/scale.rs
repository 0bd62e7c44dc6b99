//! `codexos bench search --corpus DIR --eval SET…`: search over real
//! embedded chunks at growing table sizes.
//!
//! The corpus and the evaluation sets' corpora are ingested once into a
//! cached bench home (the vectors stay there; later runs only re-check the
//! files). For each size a scratch table is filled from that cache: every
//! chunk of the evaluation corpora, then corpus chunks up to the size. The
//! held-out questions of the sets are the queries: the ANN index is scored
//! against an exact scan (recall@10), each kind of search is timed (p50,
//! p95), and hybrid search over the whole table — every other chunk a
//! distractor — is scored on the file that answers each question.

use std::path::{Path, PathBuf};
use std::time::Instant;

use codexos_rag::{Hit, Index, IngestEvent, SearchFilter};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::retrieval::{stage_corpus, EvalSet, Split};
use super::search::{SearchFigures, Timings};
use crate::{default_project_name, Error, Result, Runtime};

/// The project that holds the first bulk corpus folder in the bench home
/// (the next ones are `corpus-2`, `corpus-3` …).
const CORPUS_PROJECT: &str = "corpus";
/// Chunks retrieved per question before collapsing to files.
const HITS: usize = 30;

/// Figures at one table size.
#[derive(Debug, Clone, Serialize)]
pub struct ScalePoint {
    /// Chunks in the table.
    pub chunks: usize,
    /// Seconds to copy the cached rows into the scratch table.
    pub load_seconds: f64,
    /// Seconds to build the full-text and (past the threshold) ANN indices.
    pub index_seconds: f64,
    /// Whether the ANN index serves vector queries at this size.
    pub ann_index: bool,
    /// Recall and latencies.
    #[serde(flatten)]
    pub figures: SearchFigures,
    /// Held-out questions whose first file (hybrid + rerank, whole table) answers them.
    pub recall_at_1: f64,
    /// Mean reciprocal rank of the first answering file within the top five.
    pub mrr_at_5: f64,
}

/// What `codexos bench search --corpus` prints.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleBench {
    /// The bulk corpus folders.
    pub corpus: Vec<String>,
    /// Chunks of the bulk corpus in the cache.
    pub corpus_chunks: usize,
    /// Chunks of the evaluation corpora (in every table).
    pub eval_chunks: usize,
    /// Evaluation sets whose held-out questions are the queries.
    pub eval_sets: Vec<String>,
    /// Queries (held-out questions).
    pub queries: usize,
    /// Seconds the (incremental) ingest took in this run.
    pub ingest_seconds: f64,
    /// The cached bench home.
    pub home: String,
    /// One entry per size, smallest first.
    pub sizes: Vec<ScalePoint>,
}

/// A held-out question, the project that answers it, and its query vector.
struct Query {
    project: String,
    text: String,
    expected: Vec<String>,
    vector: Vec<f32>,
}

impl Runtime {
    /// Ingests the `corpus` folders and the evaluation sets' corpora into
    /// the cached bench home, then measures search at each of `sizes` chunks
    /// (sizes past what the cache holds are capped, and measured once).
    pub async fn bench_search_scale(
        &self,
        corpus: &[PathBuf],
        evals: &[EvalSet],
        sizes: &[usize],
        progress: &(dyn Fn(IngestEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<ScaleBench> {
        if let Some(missing) = corpus.iter().find(|folder| !folder.is_dir()) {
            return Err(Error::BenchFailed {
                bench: "search".into(),
                message: format!(
                    "corpus folder `{}` does not exist — pass folders that do to --corpus (`make bench` uses the Rust 1.95.0 docs, which `scripts/setup.sh bench` installs)",
                    missing.display()
                ),
            });
        }
        // Every folder is checked before the (long) first ingest starts.
        if let Some(eval) = evals.iter().find(|eval| !eval.corpus.path.is_dir()) {
            return Err(Error::BenchCorpusMissing {
                path: eval.corpus.path.clone(),
                install: eval.corpus.install.clone().unwrap_or_default(),
            });
        }
        let root = self.home.root().join("bench").join("search-real");
        let runtime = self.sibling(&root.join("home"))?;
        let started = Instant::now();
        let fillers: Vec<String> = (1..=corpus.len())
            .map(|number| match number {
                1 => CORPUS_PROJECT.to_owned(),
                _ => format!("{CORPUS_PROJECT}-{number}"),
            })
            .collect();
        for (folder, project) in corpus.iter().zip(&fillers) {
            runtime
                .ingest(folder, Some(project), progress, cancel)
                .await?;
        }
        let mut projects = Vec::new();
        for eval in evals {
            let source = &eval.corpus.path;
            let project = format!("eval-{}", default_project_name(Path::new(&eval.name)));
            let staged = root.join(&project);
            stage_corpus(source, &eval.corpus.files, &staged)?;
            runtime
                .ingest(&staged, Some(&project), progress, cancel)
                .await?;
            projects.push(project);
        }
        let ingest_seconds = started.elapsed().as_secs_f64();
        let cache = runtime.index().await?;
        let mut corpus_chunks = 0;
        for project in &fillers {
            corpus_chunks += cache.count(Some(project)).await?;
        }
        let eval_filter = format!(
            "project IN ({})",
            projects
                .iter()
                .map(|project| format!("'{project}'"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut eval_chunks = 0;
        for project in &projects {
            eval_chunks += cache.count(Some(project)).await?;
        }
        let queries = runtime.held_out_queries(evals, &projects).await?;
        let mut points = Vec::new();
        let mut sizes: Vec<usize> = sizes
            .iter()
            .map(|&size| size.clamp(eval_chunks, eval_chunks + corpus_chunks))
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        let scratch = root.join("scratch");
        for size in sizes {
            let mut sources = vec![(eval_filter.clone(), eval_chunks)];
            let mut wanted = size - eval_chunks;
            for project in &fillers {
                sources.push((format!("project = '{project}'"), wanted));
                wanted = wanted.saturating_sub(cache.count(Some(project)).await?);
            }
            let outcome = runtime
                .measure_size(cache, &sources, &scratch, &queries, cancel)
                .await;
            if let Err(error) = std::fs::remove_dir_all(&scratch) {
                tracing::warn!(%error, path = %scratch.display(), "could not remove the bench's scratch table");
            }
            points.push(outcome?);
        }
        Ok(ScaleBench {
            corpus: corpus
                .iter()
                .map(|folder| folder.display().to_string())
                .collect(),
            corpus_chunks,
            eval_chunks,
            eval_sets: evals.iter().map(|eval| eval.name.clone()).collect(),
            queries: queries.len(),
            ingest_seconds,
            home: root.display().to_string(),
            sizes: points,
        })
    }

    /// The held-out questions of `evals` (answered in `projects`), embedded.
    async fn held_out_queries(&self, evals: &[EvalSet], projects: &[String]) -> Result<Vec<Query>> {
        let mut queries: Vec<Query> = evals
            .iter()
            .zip(projects)
            .flat_map(|(eval, project)| {
                eval.questions
                    .iter()
                    .filter(|question| question.split == Split::HeldOut)
                    .map(|question| Query {
                        project: project.clone(),
                        text: question.question.clone(),
                        expected: question.expected.clone(),
                        vector: Vec::new(),
                    })
            })
            .collect();
        if queries.is_empty() {
            return Err(Error::BenchFailed {
                bench: "search".into(),
                message: "the evaluation sets have no held-out questions to use as queries — mark some `\"split\": \"held-out\"`".into(),
            });
        }
        let embedder = self.embedder().await?;
        let texts: Vec<String> = queries.iter().map(|query| query.text.clone()).collect();
        let vectors = tokio::task::spawn_blocking(move || embedder.embed(&texts))
            .await
            .map_err(|error| Error::BenchFailed {
                bench: "search".into(),
                message: format!("embedding the queries: {error}"),
            })??;
        for (query, vector) in queries.iter_mut().zip(vectors) {
            query.vector = vector;
        }
        Ok(queries)
    }

    /// Fills a scratch table at `scratch` from the cache (up to so many
    /// chunks per predicate), builds its indices as ingest does, and measures it.
    async fn measure_size(
        &self,
        cache: &Index,
        sources: &[(String, usize)],
        scratch: &Path,
        queries: &[Query],
        cancel: &CancellationToken,
    ) -> Result<ScalePoint> {
        if scratch.exists() {
            std::fs::remove_dir_all(scratch).map_err(|source| Error::Home {
                path: scratch.to_path_buf(),
                source,
            })?;
        }
        let table = Index::open(scratch).await?;
        let loading = Instant::now();
        for (predicate, limit) in sources {
            cache.copy_into(&table, predicate, *limit).await?;
        }
        let load_seconds = loading.elapsed().as_secs_f64();
        let indexing = Instant::now();
        table.compact().await?;
        let index_seconds = indexing.elapsed().as_secs_f64();
        let mut point = self.measure(&table, queries, cancel).await?;
        point.load_seconds = load_seconds;
        point.index_seconds = index_seconds;
        Ok(point)
    }

    /// Times every kind of search on `table` and scores the answers.
    async fn measure(
        &self,
        table: &Index,
        queries: &[Query],
        cancel: &CancellationToken,
    ) -> Result<ScalePoint> {
        let embedder = self.embedder().await?;
        let everything = SearchFilter::default();
        let mut timings = Timings::default();
        let (mut first, mut reciprocal) = (0.0, 0.0);
        // One untimed round warms the caches a first query would pay for.
        if let Some(query) = queries.first() {
            table.nearest(&query.vector, 10, None).await?;
            table.full_text(&query.text, 10, None).await?;
        }
        for query in queries {
            if cancel.is_cancelled() {
                return Err(codexos_rag::Error::Cancelled.into());
            }
            let hits = timings
                .query(
                    table,
                    &embedder,
                    (&query.vector, &query.text),
                    HITS,
                    &everything,
                )
                .await?;
            if let Some(rank) = first_answer(&hits, query) {
                first += f64::from(u8::from(rank == 1));
                if rank <= 5 {
                    reciprocal += 1.0 / rank as f64;
                }
            }
        }
        let count = queries.len().max(1) as f64;
        Ok(ScalePoint {
            chunks: table.count(None).await?,
            load_seconds: 0.0,
            index_seconds: 0.0,
            ann_index: table.has_vector_index(),
            figures: timings.figures(),
            recall_at_1: first / count,
            mrr_at_5: reciprocal / count,
        })
    }
}

/// The rank (1-based, by file) of the first file of the question's project
/// that answers it; files of other projects count as wrong files.
fn first_answer(hits: &[Hit], query: &Query) -> Option<usize> {
    let mut files: Vec<(&str, &str)> = Vec::new();
    for hit in hits {
        let file = (hit.project.as_str(), hit.path.as_str());
        if !files.contains(&file) {
            files.push(file);
        }
    }
    files
        .iter()
        .position(|(project, path)| {
            *project == query.project && query.expected.iter().any(|wanted| wanted == path)
        })
        .map(|rank| rank + 1)
}
