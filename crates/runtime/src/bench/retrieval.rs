//! `codexos bench retrieval`: recall@5, MRR and nDCG@10 of every search mode
//! on an evaluation set of questions with the files that answer them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use codexos_rag::{Hit, Reranker, SearchFilter, SearchMode};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::percentile;
use crate::{Error, Result, Runtime};

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

impl EvalSet {
    /// Reads an evaluation set from a JSON file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Home {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|error| Error::InvalidEvalSet {
            path: path.to_path_buf(),
            message: error.to_string(),
        })
    }
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
}
