//! Search modes: dense (vectors), BM25 (full text) and hybrid — both lists
//! fused by reciprocal rank, then reranked by handcrafted signals.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{embed_blocking, Embedder, Error, Hit, Index, Result};

/// Reciprocal-rank-fusion constant: damps the head of each list (the usual 60).
const RRF_K: f32 = 60.0;
/// Each list is asked for this many times `k` candidates before fusion.
const OVERSAMPLE: usize = 4;

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Embedding similarity only; `score` is cosine similarity.
    Dense,
    /// BM25 full text only; `score` is the BM25 score.
    Bm25,
    /// Both, fused by reciprocal rank and reranked; `score` is the fused score.
    #[default]
    Hybrid,
}

impl FromStr for SearchMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "dense" => Ok(Self::Dense),
            "bm25" => Ok(Self::Bm25),
            "hybrid" => Ok(Self::Hybrid),
            other => Err(format!(
                "unknown search mode `{other}`: use dense, bm25 or hybrid"
            )),
        }
    }
}

/// The `k` best chunks for `query` in the given mode.
pub async fn search(
    index: &Index,
    embedder: &Arc<Embedder>,
    query: &str,
    k: usize,
    project: Option<&str>,
    mode: SearchMode,
) -> Result<Vec<Hit>> {
    let k = k.max(1);
    match mode {
        SearchMode::Dense => dense(index, embedder, query, k, project).await,
        SearchMode::Bm25 => index.full_text(query, k, project).await,
        SearchMode::Hybrid => {
            let wide = k * OVERSAMPLE;
            let (vectors, words) = tokio::join!(
                dense(index, embedder, query, wide, project),
                index.full_text(query, wide, project)
            );
            let mut fused = fuse(&[vectors?, words?]);
            rerank(query, &mut fused);
            fused.truncate(k);
            Ok(fused)
        }
    }
}

async fn dense(
    index: &Index,
    embedder: &Arc<Embedder>,
    query: &str,
    k: usize,
    project: Option<&str>,
) -> Result<Vec<Hit>> {
    let vector = embed_blocking(embedder, vec![query.to_owned()])
        .await?
        .pop()
        .ok_or_else(|| Error::Embed {
            message: "no vector returned for the query".into(),
        })?;
    index.nearest(&vector, k, project).await
}

/// Reciprocal rank fusion: each list adds `1 / (RRF_K + rank)` to a chunk.
fn fuse(lists: &[Vec<Hit>]) -> Vec<Hit> {
    let mut by_chunk: HashMap<(String, String, u32), Hit> = HashMap::new();
    for list in lists {
        for (rank, hit) in list.iter().enumerate() {
            let contribution = 1.0 / (RRF_K + rank as f32 + 1.0);
            by_chunk
                .entry((hit.project.clone(), hit.path.clone(), hit.start_line))
                .and_modify(|existing| existing.score += contribution)
                .or_insert_with(|| Hit {
                    score: contribution,
                    ..hit.clone()
                });
        }
    }
    let mut fused: Vec<Hit> = by_chunk.into_values().collect();
    sort(&mut fused);
    fused
}

fn sort(hits: &mut [Hit]) {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.path.cmp(&b.path))
            .then_with(|| a.start_line.cmp(&b.start_line))
    });
}

/// Query terms worth matching: lower-cased words of three or more characters.
fn terms(query: &str) -> Vec<String> {
    query
        .split(|character: char| !(character.is_alphanumeric() || character == '_'))
        .filter(|word| word.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect()
}

/// Words that look like code identifiers (`spawn_blocking`, `DEFAULT_PORT`,
/// `TextEmbedding`): an exact occurrence is strong evidence.
fn identifiers(query: &str) -> Vec<&str> {
    query
        .split(|character: char| !(character.is_alphanumeric() || character == '_'))
        .filter(|word| {
            word.contains('_')
                || (word.chars().skip(1).any(char::is_uppercase)
                    && word.chars().any(char::is_lowercase))
        })
        .collect()
}

/// Handcrafted reranking of fused results: boosts chunks that contain the
/// query's identifiers verbatim, whose path or heading mentions query terms.
/// Boosts multiply the fused score, so retrieval order still dominates.
fn rerank(query: &str, hits: &mut [Hit]) {
    let terms = terms(query);
    let identifiers = identifiers(query);
    for hit in hits.iter_mut() {
        let mut boost = 1.0;
        if identifiers
            .iter()
            .any(|identifier| hit.text.contains(identifier))
        {
            boost += 0.5;
        }
        let path = hit.path.to_lowercase();
        if terms.iter().any(|term| path.contains(term.as_str())) {
            boost += 0.2;
        }
        if let Some(heading) = &hit.heading {
            let heading = heading.to_lowercase();
            if terms.iter().any(|term| heading.contains(term.as_str())) {
                boost += 0.2;
            }
        }
        hit.score *= boost;
    }
    sort(hits);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(path: &str, start_line: u32, text: &str) -> Hit {
        Hit {
            project: "p".into(),
            path: path.into(),
            start_line,
            end_line: start_line + 1,
            heading: None,
            page: None,
            kind: "text".into(),
            score: 0.0,
            text: text.into(),
        }
    }

    #[test]
    fn fusion_rewards_chunks_found_by_both_lists() {
        let dense = vec![hit("a", 1, ""), hit("b", 1, ""), hit("c", 1, "")];
        let bm25 = vec![hit("c", 1, ""), hit("d", 1, "")];
        let fused = fuse(&[dense, bm25]);
        let order: Vec<&str> = fused.iter().map(|hit| hit.path.as_str()).collect();
        assert_eq!(order, vec!["c", "a", "b", "d"]);
        assert!((fused[0].score - (1.0 / 63.0 + 1.0 / 61.0)).abs() < 1e-6);
    }

    #[test]
    fn identifiers_are_recognised() {
        assert_eq!(
            identifiers("what does spawn_blocking or TextEmbedding do, and port?"),
            vec!["spawn_blocking", "TextEmbedding"]
        );
        assert_eq!(
            terms("How is the DEFAULT_PORT set?"),
            vec!["how", "the", "default_port", "set"]
        );
    }

    #[test]
    fn reranking_lifts_exact_identifier_and_path_matches() {
        let mut hits = vec![
            Hit {
                score: 0.030,
                ..hit("docs/intro.md", 1, "ports in general")
            },
            Hit {
                score: 0.025,
                ..hit("src/server.py", 1, "DEFAULT_PORT = 8420")
            },
        ];
        rerank("where is DEFAULT_PORT defined in the server", &mut hits);
        assert_eq!(hits[0].path, "src/server.py");
    }

    #[test]
    fn modes_parse() {
        assert_eq!("bm25".parse::<SearchMode>(), Ok(SearchMode::Bm25));
        assert!("fuzzy".parse::<SearchMode>().is_err());
    }
}
