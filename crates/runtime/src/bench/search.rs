//! `codexos bench search`: latency at scale and the ANN index's recall,
//! on synthetic chunks in a scratch index.

use std::path::Path;
use std::time::Instant;

use codexos_rag::{Hit, Index, Reranker, Row, SearchFilter, SearchMode};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::percentile;
use crate::{Result, Runtime};

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
    /// Recall and latencies.
    #[serde(flatten)]
    pub figures: SearchFigures,
}

/// The figures both search benches report for a table.
#[derive(Debug, Clone, Serialize)]
pub struct SearchFigures {
    /// recall@10 of the vector search users get against an exact scan.
    pub ann_recall_at_10: f64,
    /// Latency percentiles in milliseconds `(p50, p95)`: exact vector scan.
    pub exact_ms: (f64, f64),
    /// Vector search as users get it (ANN past the threshold).
    pub ann_ms: (f64, f64),
    /// BM25 full text.
    pub bm25_ms: (f64, f64),
    /// Hybrid search with the handcrafted reranker, query embedding included.
    pub hybrid_ms: (f64, f64),
}

/// Latency samples of each kind of search and the ANN index's recall,
/// gathered one query at a time.
#[derive(Default)]
pub(super) struct Timings {
    exact: Vec<f64>,
    ann: Vec<f64>,
    bm25: Vec<f64>,
    hybrid: Vec<f64>,
    recall: f64,
}

fn milliseconds(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

impl Timings {
    /// Times an exact scan and the vector search users get for `vector`
    /// (scoring the second against the first), BM25 and hybrid search
    /// (`k` hits under `filter`, query embedding included) for `text`;
    /// returns the hybrid hits.
    pub(super) async fn query(
        &mut self,
        index: &Index,
        embedder: &std::sync::Arc<codexos_rag::Embedder>,
        (vector, text): (&[f32], &str),
        k: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<Hit>> {
        let started = Instant::now();
        let truth = index.nearest_exact(vector, 10).await?;
        self.exact.push(milliseconds(started));
        let started = Instant::now();
        let found = index.nearest(vector, 10, None).await?;
        self.ann.push(milliseconds(started));
        let truth = ids(&truth);
        self.recall += ids(&found).iter().filter(|id| truth.contains(id)).count() as f64
            / truth.len().max(1) as f64;
        let started = Instant::now();
        index.full_text(text, 10, None).await?;
        self.bm25.push(milliseconds(started));
        let started = Instant::now();
        let hits = codexos_rag::search(
            index,
            embedder,
            text,
            k,
            filter,
            SearchMode::Hybrid,
            &Reranker::Handcrafted,
        )
        .await?;
        self.hybrid.push(milliseconds(started));
        Ok(hits)
    }

    /// p50/p95 of each kind and the mean recall over the queries timed.
    pub(super) fn figures(mut self) -> SearchFigures {
        let queries = self.exact.len().max(1) as f64;
        SearchFigures {
            ann_recall_at_10: self.recall / queries,
            exact_ms: spread(&mut self.exact),
            ann_ms: spread(&mut self.ann),
            bm25_ms: spread(&mut self.bm25),
            hybrid_ms: spread(&mut self.hybrid),
        }
    }
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

fn ids(hits: &[Hit]) -> Vec<(String, String, u32)> {
    hits.iter()
        .map(|hit| (hit.project.clone(), hit.path.clone(), hit.start_line))
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
        let mut timings = Timings::default();
        for query in 0..queries {
            if cancel.is_cancelled() {
                return Err(codexos_rag::Error::Cancelled.into());
            }
            let topic = corpus.random.below(corpus.centres.len());
            let vector = corpus.vector_near(topic);
            let words = &corpus.topic_words[topic];
            let text = format!(
                "{} {} {}",
                words[query % 12],
                words[(query + 5) % 12],
                words[(query + 7) % 12]
            );
            timings
                .query(&index, &embedder, (&vector, &text), 10, &filter)
                .await?;
        }
        Ok(SearchBench {
            chunks,
            queries,
            load_seconds,
            index_seconds,
            ann_index: index.has_vector_index(),
            figures: timings.figures(),
        })
    }
}
