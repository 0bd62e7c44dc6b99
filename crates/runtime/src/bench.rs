//! `codexos bench …`: commands that measure and print figures (never timed
//! assertions in tests).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use codexos_rag::{Hit, Index, Reranker, Row, SearchFilter, SearchMode};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::{Error, Home, IngestReport, Result, Runtime};

/// Figures of one ingest into a scratch data home.
#[derive(Debug, Clone, Serialize)]
pub struct IngestBench {
    /// Files indexed.
    pub files: u32,
    /// Chunks stored.
    pub chunks: u32,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Files per second.
    pub files_per_second: f64,
    /// Chunks per second, end to end.
    pub chunks_per_second: f64,
    /// Embeddings per second while embedding.
    pub embeddings_per_second: f64,
    /// Share of the wall time reading, hashing, parsing and chunking.
    pub read_share: f64,
    /// Share of the wall time computing embeddings.
    pub embed_share: f64,
    /// Share of the wall time writing to LanceDB and SQLite.
    pub store_share: f64,
    /// Peak resident memory of this process, in MiB (Linux only).
    pub peak_rss_mib: Option<f64>,
    /// The ingest report itself.
    pub report: IngestReport,
}

fn per_second(count: u32, milliseconds: u32) -> f64 {
    if milliseconds == 0 {
        0.0
    } else {
        f64::from(count) * 1000.0 / f64::from(milliseconds)
    }
}

/// Peak resident set size from `/proc/self/status` (`VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

impl Runtime {
    /// Ingests `folder` into a fresh scratch data home (sharing this home's
    /// models and config) and reports throughput and where the time went.
    pub async fn bench_ingest(
        &self,
        folder: &Path,
        cancel: &CancellationToken,
    ) -> Result<IngestBench> {
        let scratch = std::env::temp_dir().join(format!("codexos-bench-{}", std::process::id()));
        let outcome = self.bench_ingest_in(&scratch, folder, cancel).await;
        if let Err(error) = std::fs::remove_dir_all(&scratch) {
            tracing::warn!(%error, path = %scratch.display(), "could not remove the bench's scratch home");
        }
        outcome
    }

    /// A runtime on another data home that shares this one's models and
    /// settings (the benches' scratch homes).
    fn sibling(&self, root: &Path) -> Result<Arc<Runtime>> {
        let home = Home::new(root.to_path_buf(), Some(self.home.models().to_path_buf()));
        home.prepare()?;
        let config = toml::to_string(&self.config).map_err(|error| Error::Config {
            path: home.config(),
            message: error.to_string(),
            line: None,
        })?;
        std::fs::write(home.config(), config).map_err(|source| Error::Home {
            path: home.config(),
            source,
        })?;
        Runtime::open(home)
    }

    async fn bench_ingest_in(
        &self,
        scratch: &Path,
        folder: &Path,
        cancel: &CancellationToken,
    ) -> Result<IngestBench> {
        let runtime = self.sibling(scratch)?;
        let report = runtime
            .ingest(folder, Some("bench"), &|_| {}, cancel)
            .await?;
        let wall = report.elapsed_ms.max(1);
        let share = |part: u32| f64::from(part) / f64::from(wall);
        Ok(IngestBench {
            files: report.files_indexed,
            chunks: report.chunks_total,
            seconds: f64::from(report.elapsed_ms) / 1000.0,
            files_per_second: per_second(report.files_indexed, wall),
            chunks_per_second: per_second(report.chunks_total, wall),
            embeddings_per_second: per_second(report.chunks_added, report.timings.embed_ms),
            read_share: share(report.timings.read_ms),
            embed_share: share(report.timings.embed_ms),
            store_share: share(report.timings.store_ms),
            peak_rss_mib: peak_rss_mib(),
            report,
        })
    }
}

/// An evaluation set: questions with the files that answer them.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalSet {
    /// Name, for reports and the cache folder.
    pub name: String,
    /// The documents searched.
    pub corpus: EvalCorpus,
    /// The questions.
    pub questions: Vec<EvalQuestion>,
}

/// Where an evaluation corpus is.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalCorpus {
    /// Folder holding the files.
    pub path: PathBuf,
    /// How to get it, for the error when it is missing.
    #[serde(default)]
    pub install: Option<String>,
    /// The files of the folder that make up the corpus (all when empty).
    #[serde(default)]
    pub files: Vec<String>,
}

/// One question and the files (relative to the corpus) that answer it.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalQuestion {
    /// The question.
    pub question: String,
    /// Relevant files.
    pub expected: Vec<String>,
}

/// Retrieval quality of one search configuration.
#[derive(Debug, Clone, Serialize)]
pub struct ModeScore {
    /// `dense`, `bm25`, `hybrid` or `hybrid+rerank`.
    pub mode: String,
    /// Reranker used.
    pub reranker: String,
    /// Mean share of the relevant files found in the top five files.
    pub recall_at_5: f64,
    /// Mean reciprocal rank of the first relevant file.
    pub mrr: f64,
    /// Mean nDCG over the top ten files (binary relevance).
    pub ndcg_at_10: f64,
    /// Median search latency in milliseconds.
    pub p50_ms: f64,
}

/// What `codexos bench retrieval` prints.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalBench {
    /// Evaluation set name.
    pub name: String,
    /// Questions asked.
    pub questions: usize,
    /// Files and chunks in the corpus.
    pub files: u32,
    /// Chunks indexed.
    pub chunks: u32,
    /// Seconds the (incremental) ingest took in this run.
    pub ingest_seconds: f64,
    /// The cached bench home (ingest is incremental across runs).
    pub home: String,
    /// One row per mode.
    pub modes: Vec<ModeScore>,
    /// Per question: the rank (1-based) of the first relevant file in each
    /// mode, in the order of `modes` (`None`: not in the results).
    pub questions_detail: Vec<QuestionDetail>,
}

/// How one question fared in each mode.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionDetail {
    /// The question.
    pub question: String,
    /// First relevant rank per mode.
    pub first_relevant: Vec<Option<usize>>,
    /// The top three files of the last mode.
    pub top_files: Vec<String>,
}

/// Chunks fetched per question before collapsing to files.
const EVAL_CHUNKS: usize = 30;

/// Files in first-seen order of a ranked chunk list.
fn ranked_files(hits: &[Hit]) -> Vec<&str> {
    let mut files: Vec<&str> = Vec::new();
    for hit in hits {
        if !files.contains(&hit.path.as_str()) {
            files.push(&hit.path);
        }
    }
    files
}

/// recall@5, reciprocal rank and nDCG@10 of one ranking.
fn score_ranking(files: &[&str], expected: &[String]) -> (f64, f64, f64) {
    let relevant = |file: &str| expected.iter().any(|wanted| wanted == file);
    let found_in_5 = files.iter().take(5).filter(|file| relevant(file)).count();
    let recall = found_in_5 as f64 / expected.len().max(1) as f64;
    let reciprocal = files
        .iter()
        .position(|file| relevant(file))
        .map_or(0.0, |rank| 1.0 / (rank as f64 + 1.0));
    let dcg: f64 = files
        .iter()
        .take(10)
        .enumerate()
        .filter(|(_, file)| relevant(file))
        .map(|(rank, _)| 1.0 / (rank as f64 + 2.0).log2())
        .sum();
    let ideal: f64 = (0..expected.len().min(10))
        .map(|rank| 1.0 / (rank as f64 + 2.0).log2())
        .sum();
    (
        recall,
        reciprocal,
        if ideal > 0.0 { dcg / ideal } else { 0.0 },
    )
}

fn percentile(samples: &mut [f64], share: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    let at = ((samples.len() - 1) as f64 * share).round() as usize;
    samples[at]
}

impl Runtime {
    /// Runs an evaluation set: ingests its corpus into a cached bench home
    /// (incremental across runs), then scores every search mode.
    pub async fn bench_retrieval(
        &self,
        eval: &EvalSet,
        corpus: Option<&Path>,
        reranker: crate::RerankChoice,
        cancel: &CancellationToken,
    ) -> Result<RetrievalBench> {
        let source = corpus.map_or_else(|| eval.corpus.path.clone(), Path::to_path_buf);
        if !source.is_dir() {
            return Err(Error::BenchCorpusMissing {
                path: source,
                install: eval.corpus.install.clone().unwrap_or_default(),
            });
        }
        let root = self.home.root().join("bench").join(format!(
            "retrieval-{}",
            crate::default_project_name(Path::new(&eval.name))
        ));
        let staged = root.join("corpus");
        stage_corpus(&source, &eval.corpus.files, &staged)?;
        let runtime = self.sibling(&root.join("home"))?;
        let report = runtime
            .ingest(&staged, Some("eval"), &|_| {}, cancel)
            .await?;
        let embedder = runtime.embedder().await?;
        let index = runtime.index().await?;
        let chosen = match runtime.reranker(reranker, SearchMode::Hybrid).await? {
            Reranker::None => Reranker::Handcrafted,
            other => other,
        };
        let configurations = [
            ("dense", SearchMode::Dense, Reranker::None),
            ("bm25", SearchMode::Bm25, Reranker::None),
            ("hybrid", SearchMode::Hybrid, Reranker::None),
            ("hybrid+rerank", SearchMode::Hybrid, chosen),
        ];
        let filter = SearchFilter::project("eval");
        let mut modes = Vec::new();
        let mut details: Vec<QuestionDetail> = eval
            .questions
            .iter()
            .map(|question| QuestionDetail {
                question: question.question.clone(),
                first_relevant: Vec::new(),
                top_files: Vec::new(),
            })
            .collect();
        for (name, mode, reranker) in configurations {
            let (mut recall, mut mrr, mut ndcg) = (0.0, 0.0, 0.0);
            let mut latencies = Vec::new();
            for (question, detail) in eval.questions.iter().zip(details.iter_mut()) {
                if cancel.is_cancelled() {
                    return Err(codexos_rag::Error::Cancelled.into());
                }
                let started = Instant::now();
                let hits = codexos_rag::search(
                    index,
                    &embedder,
                    &question.question,
                    EVAL_CHUNKS,
                    &filter,
                    mode,
                    &reranker,
                )
                .await?;
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                let files = ranked_files(&hits);
                let (r, m, n) = score_ranking(&files, &question.expected);
                detail.first_relevant.push(
                    files
                        .iter()
                        .position(|file| question.expected.iter().any(|wanted| wanted == file))
                        .map(|rank| rank + 1),
                );
                detail.top_files = files
                    .iter()
                    .take(3)
                    .map(|file| (*file).to_owned())
                    .collect();
                recall += r;
                mrr += m;
                ndcg += n;
            }
            let count = eval.questions.len().max(1) as f64;
            modes.push(ModeScore {
                mode: name.to_owned(),
                reranker: reranker.name().to_owned(),
                recall_at_5: recall / count,
                mrr: mrr / count,
                ndcg_at_10: ndcg / count,
                p50_ms: percentile(&mut latencies, 0.5),
            });
        }
        Ok(RetrievalBench {
            name: eval.name.clone(),
            questions: eval.questions.len(),
            files: report.files_seen,
            chunks: report.chunks_total,
            ingest_seconds: f64::from(report.elapsed_ms) / 1000.0,
            home: root.display().to_string(),
            modes,
            questions_detail: details,
        })
    }
}

/// Copies the corpus files (all, or the listed ones) into `staged`, leaving
/// unchanged copies alone and removing files no longer listed.
fn stage_corpus(source: &Path, files: &[String], staged: &Path) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Home { path, source }
    };
    std::fs::create_dir_all(staged).map_err(io(staged))?;
    let names: Vec<String> = if files.is_empty() {
        std::fs::read_dir(source)
            .map_err(io(source))?
            .filter_map(std::result::Result::ok)
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect()
    } else {
        files.to_vec()
    };
    for name in &names {
        let from = source.join(name);
        let to = staged.join(name);
        let same = std::fs::metadata(&to)
            .ok()
            .zip(std::fs::metadata(&from).ok())
            .is_some_and(|(have, want)| have.len() == want.len());
        if !same {
            std::fs::copy(&from, &to).map_err(io(&from))?;
        }
    }
    for entry in std::fs::read_dir(staged)
        .map_err(io(staged))?
        .filter_map(std::result::Result::ok)
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !names.contains(&name) {
            std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
        }
    }
    Ok(())
}

/// What `codexos bench search` prints.
#[derive(Debug, Clone, Serialize)]
pub struct SearchBench {
    /// Chunks in the table.
    pub chunks: usize,
    /// Queries timed.
    pub queries: usize,
    /// Seconds to load the rows.
    pub load_seconds: f64,
    /// Seconds to build the full-text and ANN indices.
    pub index_seconds: f64,
    /// Whether the ANN index was built (past the threshold).
    pub ann_index: bool,
    /// recall@10 of the ANN index against exact search.
    pub ann_recall_at_10: f64,
    /// Latency percentiles in milliseconds: `(p50, p95)`.
    pub exact_ms: (f64, f64),
    /// Vector search through the ANN index.
    pub ann_ms: (f64, f64),
    /// BM25 full-text search.
    pub bm25_ms: (f64, f64),
    /// Hybrid search with the handcrafted reranker, query embedding included.
    pub hybrid_ms: (f64, f64),
}

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

fn normalise(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    for x in vector.iter_mut() {
        *x /= norm;
    }
}

/// Synthetic embeddings with the local structure of real ones: topics (unit
/// centres) and chunks scattered around them at cosine ≈ 0.7.
struct Corpus {
    random: Random,
    centres: Vec<Vec<f32>>,
    topic_words: Vec<Vec<String>>,
}

impl Corpus {
    fn new(topics: usize) -> Self {
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        let dimensions = codexos_rag::DIMENSIONS;
        let centres = (0..topics)
            .map(|_| {
                let mut centre: Vec<f32> = (0..dimensions).map(|_| random.normal()).collect();
                normalise(&mut centre);
                centre
            })
            .collect();
        let topic_words = (0..topics)
            .map(|topic| (0..12).map(|word| format!("t{topic}w{word}")).collect())
            .collect();
        Self {
            random,
            centres,
            topic_words,
        }
    }

    fn vector_near(&mut self, topic: usize) -> Vec<f32> {
        let spread = 1.0 / (codexos_rag::DIMENSIONS as f32).sqrt();
        let mut vector: Vec<f32> = self.centres[topic]
            .iter()
            .map(|x| x + spread * self.random.normal())
            .collect();
        normalise(&mut vector);
        vector
    }

    fn row(&mut self, number: usize) -> Row {
        let topic = self.random.below(self.centres.len());
        let words: Vec<String> = (0..40)
            .map(|_| {
                if self.random.below(3) == 0 {
                    self.topic_words[topic][self.random.below(12)].clone()
                } else {
                    format!("g{}", self.random.below(20_000))
                }
            })
            .collect();
        Row {
            project: "bench".into(),
            path: format!("synthetic/file{}.txt", number / 20),
            start_line: (number % 20) as u32 * 40 + 1,
            end_line: (number % 20) as u32 * 40 + 40,
            heading: None,
            page: None,
            kind: "text",
            language: None,
            file_hash: String::new(),
            chunk_hash: format!("{number}"),
            commit: None,
            author_time: None,
            text: words.join(" "),
            vector: self.vector_near(topic),
        }
    }
}

fn ids(hits: &[Hit]) -> Vec<(String, u32)> {
    hits.iter()
        .map(|hit| (hit.path.clone(), hit.start_line))
        .collect()
}

fn spread(samples: &mut [f64]) -> (f64, f64) {
    (percentile(samples, 0.5), percentile(samples, 0.95))
}

impl Runtime {
    /// Loads `chunks` synthetic chunks into a scratch index, builds its
    /// indices as ingest would, then times `queries` searches of each kind
    /// and measures the ANN index's recall@10 against exact search.
    pub async fn bench_search(
        &self,
        chunks: usize,
        queries: usize,
        cancel: &CancellationToken,
    ) -> Result<SearchBench> {
        let scratch =
            std::env::temp_dir().join(format!("codexos-bench-search-{}", std::process::id()));
        let outcome = self
            .bench_search_in(&scratch, chunks, queries, cancel)
            .await;
        if let Err(error) = std::fs::remove_dir_all(&scratch) {
            tracing::warn!(%error, path = %scratch.display(), "could not remove the bench's scratch index");
        }
        outcome
    }

    async fn bench_search_in(
        &self,
        scratch: &Path,
        chunks: usize,
        queries: usize,
        cancel: &CancellationToken,
    ) -> Result<SearchBench> {
        let index = Index::open(scratch).await?;
        let mut corpus = Corpus::new((chunks / 100).max(1));
        let loading = Instant::now();
        let mut batch = Vec::new();
        for number in 0..chunks {
            batch.push(corpus.row(number));
            if batch.len() == 10_000 || number + 1 == chunks {
                if cancel.is_cancelled() {
                    return Err(codexos_rag::Error::Cancelled.into());
                }
                index.append(&batch).await?;
                batch.clear();
            }
        }
        let load_seconds = loading.elapsed().as_secs_f64();
        let indexing = Instant::now();
        index.compact().await?;
        let index_seconds = indexing.elapsed().as_secs_f64();
        let embedder = self.embedder().await?;
        let filter = SearchFilter::project("bench");
        let (mut exact, mut ann, mut bm25, mut hybrid) = (vec![], vec![], vec![], vec![]);
        let mut recall = 0.0;
        for query in 0..queries {
            if cancel.is_cancelled() {
                return Err(codexos_rag::Error::Cancelled.into());
            }
            let topic = corpus.random.below(corpus.centres.len());
            let vector = corpus.vector_near(topic);
            let started = Instant::now();
            let truth = index.nearest_exact(&vector, 10).await?;
            exact.push(started.elapsed().as_secs_f64() * 1000.0);
            let started = Instant::now();
            let found = index.nearest(&vector, 10, None).await?;
            ann.push(started.elapsed().as_secs_f64() * 1000.0);
            let truth = ids(&truth);
            recall += ids(&found).iter().filter(|id| truth.contains(id)).count() as f64
                / truth.len().max(1) as f64;
            let words = &corpus.topic_words[topic];
            let text = format!(
                "{} {} {}",
                words[query % 12],
                words[(query + 5) % 12],
                words[(query + 7) % 12]
            );
            let started = Instant::now();
            index.full_text(&text, 10, None).await?;
            bm25.push(started.elapsed().as_secs_f64() * 1000.0);
            let started = Instant::now();
            codexos_rag::search(
                &index,
                &embedder,
                &text,
                10,
                &filter,
                SearchMode::Hybrid,
                &Reranker::Handcrafted,
            )
            .await?;
            hybrid.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(SearchBench {
            chunks,
            queries,
            load_seconds,
            index_seconds,
            ann_index: index.has_vector_index(),
            ann_recall_at_10: recall / queries.max(1) as f64,
            exact_ms: spread(&mut exact),
            ann_ms: spread(&mut ann),
            bm25_ms: spread(&mut bm25),
            hybrid_ms: spread(&mut hybrid),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_scores_follow_their_definitions() {
        let expected = vec!["b".to_owned()];
        assert_eq!(
            score_ranking(&["a", "b", "c"], &expected),
            (1.0, 0.5, 1.0 / 3f64.log2())
        );
        assert_eq!(score_ranking(&["a", "c"], &expected), (0.0, 0.0, 0.0));
        let two = vec!["a".to_owned(), "z".to_owned()];
        let (recall, mrr, ndcg) = score_ranking(&["a", "b"], &two);
        assert!((recall - 0.5).abs() < 1e-9 && (mrr - 1.0).abs() < 1e-9);
        assert!((ndcg - 1.0 / (1.0 + 1.0 / 3f64.log2())).abs() < 1e-9);
    }

    #[test]
    fn percentiles_pick_sorted_samples() {
        let mut samples = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert!((percentile(&mut samples, 0.5) - 3.0).abs() < 1e-9);
        assert!((percentile(&mut samples, 0.95) - 5.0).abs() < 1e-9);
    }
}

/// The Python peer of the embedding benchmark, shipped inside the binary.
const PYTHON_PEER: &str = include_str!("../../../bench/embed_python.py");

/// One measured embedding configuration.
#[derive(Debug, Clone, Serialize)]
pub struct EmbedRun {
    /// Who ran it: `codexos` or `python`.
    pub pipeline: String,
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
    /// Cores used: codexos runs this many one-thread workers, Python one
    /// session with this many intra-op threads.
    pub threads: usize,
    /// Every run.
    pub runs: Vec<EmbedRun>,
    /// codexos batch-32 grouped by length ÷ Python batch-32.
    pub ratio_vs_python: Option<f64>,
    /// codexos at its best batch setting ÷ Python at its best.
    pub ratio_best_vs_python: Option<f64>,
    /// codexos batch-32 ÷ codexos batch-1.
    pub batch_speedup: f64,
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
            runs.extend(python_peer(python, &model_dir, threads, &sample, &sizes).await?);
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
        let ours = rate("codexos", 32, true).unwrap_or_default();
        let ratio_best = best("codexos")
            .zip(best("python"))
            .map(|(ours, theirs)| ours / theirs);
        Ok(EmbedBench {
            ratio_best_vs_python: ratio_best,
            model: model_dir.display().to_string(),
            texts: sample.len(),
            mean_chars: sample.iter().map(String::len).sum::<usize>() as f64 / sample.len() as f64,
            threads,
            ratio_vs_python: rate("python", 32, false).map(|theirs| ours / theirs),
            batch_speedup: ours / rate("codexos", 1, false).unwrap_or(f64::MAX),
            runs,
        })
    }
}

/// What the Python peer prints: embeddings/s per batch size.
#[derive(Deserialize)]
struct Peer {
    batch: std::collections::BTreeMap<String, f64>,
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
    Ok(peer
        .batch
        .into_iter()
        .filter_map(|(batch, per_second)| {
            Some(EmbedRun {
                pipeline: "python".into(),
                batch: batch.parse().ok()?,
                by_length: false,
                per_second,
            })
        })
        .collect())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("codexos-bench-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| Error::Home {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}
