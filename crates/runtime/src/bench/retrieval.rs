//! `codexos bench retrieval`: recall@1, recall@5, MRR@5, MRR and nDCG@10 of
//! every search mode on an evaluation set of questions with the files that
//! answer them — reported separately for the tuning split (questions that
//! may have been looked at while tuning ranking) and the held-out split
//! (never used for tuning: the figures that judge a change).

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
    /// Reads an evaluation set from a JSON file (`~/` in the corpus path is
    /// the home folder).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Home {
            path: path.to_path_buf(),
            source,
        })?;
        let mut set: Self = serde_json::from_str(&text).map_err(|error| Error::InvalidEvalSet {
            path: path.to_path_buf(),
            message: error.to_string(),
        })?;
        if let Ok(rest) = set.corpus.path.strip_prefix("~") {
            if let Some(home) = std::env::var_os("HOME") {
                set.corpus.path = PathBuf::from(home).join(rest);
            }
        }
        Ok(set)
    }
}

/// Which part of an evaluation set a question belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    /// May have been looked at while tuning ranking.
    #[default]
    Tuning,
    /// Never used for tuning: judges every change.
    HeldOut,
}

impl Split {
    /// Its name in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Tuning => "tuning",
            Self::HeldOut => "held-out",
        }
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
    /// Tuning or held-out (default: tuning).
    #[serde(default)]
    pub split: Split,
}

/// Retrieval quality of one search configuration on one split.
#[derive(Debug, Clone, Serialize)]
pub struct ModeScore {
    /// `dense`, `bm25`, `hybrid` or `hybrid+rerank`.
    pub mode: String,
    /// Reranker used.
    pub reranker: String,
    /// `tuning` or `held-out`.
    pub split: Split,
    /// Questions of the split.
    pub questions: usize,
    /// Share of questions whose first file is relevant.
    pub recall_at_1: f64,
    /// Mean share of the relevant files found in the top five files.
    pub recall_at_5: f64,
    /// Mean reciprocal rank of the first relevant file within the top five.
    pub mrr_at_5: f64,
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
    /// Its split.
    pub split: Split,
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
                split: question.split,
                first_relevant: Vec::new(),
                top_files: Vec::new(),
            })
            .collect();
        for (name, mode, reranker) in configurations {
            // Per split: recall@1, recall@5, MRR@5, MRR, nDCG@10, count.
            let mut sums = [[0.0_f64; 6]; 2];
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
                let first = files
                    .iter()
                    .position(|file| question.expected.iter().any(|wanted| wanted == file))
                    .map(|rank| rank + 1);
                detail.first_relevant.push(first);
                let row = &mut sums[usize::from(question.split == Split::HeldOut)];
                row[0] += f64::from(u8::from(first == Some(1)));
                row[1] += r;
                row[2] += first
                    .filter(|&rank| rank <= 5)
                    .map_or(0.0, |rank| 1.0 / rank as f64);
                row[3] += m;
                row[4] += n;
                row[5] += 1.0;
                detail.top_files = files
                    .iter()
                    .take(3)
                    .map(|file| (*file).to_owned())
                    .collect();
            }
            let p50_ms = percentile(&mut latencies, 0.5);
            modes.extend(split_scores(name, reranker.name(), &sums, p50_ms));
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

/// One row per split that has questions, from the per-split sums of
/// recall@1, recall@5, MRR@5, MRR, nDCG@10 and the question count.
fn split_scores(mode: &str, reranker: &str, sums: &[[f64; 6]; 2], p50_ms: f64) -> Vec<ModeScore> {
    [Split::Tuning, Split::HeldOut]
        .into_iter()
        .zip(sums)
        .filter(|(_, row)| row[5] > 0.0)
        .map(|(split, row)| ModeScore {
            mode: mode.to_owned(),
            reranker: reranker.to_owned(),
            split,
            questions: row[5] as usize,
            recall_at_1: row[0] / row[5],
            recall_at_5: row[1] / row[5],
            mrr_at_5: row[2] / row[5],
            mrr: row[3] / row[5],
            ndcg_at_10: row[4] / row[5],
            p50_ms,
        })
        .collect()
}

/// Copies the corpus files (all, or the listed ones) into `staged`, leaving
/// unchanged copies alone and removing files no longer listed.
pub(super) fn stage_corpus(source: &Path, files: &[String], staged: &Path) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Home { path, source }
    };
    std::fs::create_dir_all(staged).map_err(io(staged))?;
    let names: Vec<String> = if files.is_empty() {
        let mut names = Vec::new();
        list_files(source, source, &mut names).map_err(io(source))?;
        names
    } else {
        files.to_vec()
    };
    for name in &names {
        let from = source.join(name);
        let to = staged.join(name);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let same = std::fs::metadata(&to)
            .ok()
            .zip(std::fs::metadata(&from).ok())
            .is_some_and(|(have, want)| have.len() == want.len());
        if !same {
            std::fs::copy(&from, &to).map_err(io(&from))?;
        }
    }
    let mut present = Vec::new();
    list_files(staged, staged, &mut present).map_err(io(staged))?;
    let wanted: std::collections::HashSet<&String> = names.iter().collect();
    for name in present.iter().filter(|name| !wanted.contains(name)) {
        let path = staged.join(name);
        std::fs::remove_file(&path).map_err(io(&path))?;
    }
    Ok(())
}

/// Every regular file under `folder`, as paths relative to `root` (`/`).
fn list_files(root: &Path, folder: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            list_files(root, &entry.path(), out)?;
        } else if kind.is_file() {
            let path = entry.path();
            let relative = path.strip_prefix(root).unwrap_or(&path);
            out.push(relative.to_string_lossy().replace('\\', "/"));
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
