//! Search modes: dense (vectors), BM25 (full text) and hybrid — both lists
//! fused by reciprocal rank — each optionally followed by a reranking stage
//! ([`crate::Reranker`]), under filters on project, path glob, kind,
//! language and change time.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::index::quote;
use crate::rerank::Reranker;
use crate::{embed_blocking, Embedder, Error, Hit, Index, Result};

/// Which chunks a search may return.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SearchFilter {
    /// Only this project (a `name@commit` project holds a revision).
    pub project: Option<String>,
    /// Only paths matching this glob (`src/**/*.rs`, `*.md`; `*` also
    /// crosses `/`).
    pub path: Option<String>,
    /// Only this kind: `markdown`, `code`, `pdf`, `json`, `html`, `text`.
    pub kind: Option<String>,
    /// Only this language: `rust`, `python`, `typescript`, `go` …
    pub language: Option<String>,
    /// Only chunks whose lines changed at or after this time (Unix seconds).
    #[specta(type = Option<f64>)]
    pub since: Option<i64>,
}

/// A path glob as a SQL `LIKE` pattern (`\` escapes literal `%` and `_`).
fn like_pattern(glob: &str) -> String {
    let mut pattern = String::new();
    let mut characters = glob.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '*' => {
                while characters.peek() == Some(&'*') {
                    characters.next();
                }
                pattern.push('%');
            }
            '?' => pattern.push('_'),
            '%' | '_' | '\\' => {
                pattern.push('\\');
                pattern.push(character);
            }
            other => pattern.push(other),
        }
    }
    pattern
}

impl SearchFilter {
    /// Only chunks of `project`.
    #[must_use]
    pub fn project(name: &str) -> Self {
        Self {
            project: Some(name.to_owned()),
            ..Self::default()
        }
    }

    /// The filter as a LanceDB SQL predicate (`None` when it keeps everything).
    pub(crate) fn predicate(&self) -> Option<String> {
        let mut clauses = Vec::new();
        if let Some(project) = &self.project {
            clauses.push(format!("project = {}", quote(project)));
        }
        if let Some(glob) = &self.path {
            // A glob without a folder part matches the file name anywhere.
            let glob = if glob.contains('/') || glob.starts_with('*') {
                glob.clone()
            } else {
                format!("*{glob}")
            };
            clauses.push(format!("path LIKE {}", quote(&like_pattern(&glob))));
        }
        if let Some(kind) = &self.kind {
            clauses.push(format!("kind = {}", quote(&kind.to_lowercase())));
        }
        if let Some(language) = &self.language {
            clauses.push(format!("language = {}", quote(&language.to_lowercase())));
        }
        if let Some(since) = self.since {
            clauses.push(format!("author_time >= {since}"));
        }
        (!clauses.is_empty()).then(|| clauses.join(" AND "))
    }
}

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

/// The `k` best chunks for `query` in the given mode, under `filter`, then
/// reordered by `reranker` (which sees a wider candidate list).
pub async fn search(
    index: &Index,
    embedder: &Arc<Embedder>,
    query: &str,
    k: usize,
    filter: &SearchFilter,
    mode: SearchMode,
    reranker: &Reranker,
) -> Result<Vec<Hit>> {
    let k = k.max(1);
    let wide = if matches!(reranker, Reranker::None) {
        k
    } else {
        k * OVERSAMPLE
    };
    let predicate = filter.predicate();
    let predicate = predicate.as_deref();
    let mut hits = match mode {
        SearchMode::Dense => dense(index, embedder, query, wide, predicate).await?,
        SearchMode::Bm25 => index.full_text(query, wide, predicate).await?,
        SearchMode::Hybrid => {
            let lists = k * OVERSAMPLE;
            let (vectors, words) = tokio::join!(
                dense(index, embedder, query, lists, predicate),
                index.full_text(query, lists, predicate)
            );
            fuse(&[vectors?, words?])
        }
    };
    reranker.rerank(query, &mut hits).await;
    hits.truncate(k);
    Ok(hits)
}

async fn dense(
    index: &Index,
    embedder: &Arc<Embedder>,
    query: &str,
    k: usize,
    predicate: Option<&str>,
) -> Result<Vec<Hit>> {
    let vector = embed_blocking(embedder, vec![query.to_owned()])
        .await?
        .pop()
        .ok_or_else(|| Error::Embed {
            message: "no vector returned for the query".into(),
        })?;
    index.nearest(&vector, k, predicate).await
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

pub(crate) fn sort(hits: &mut [Hit]) {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.path.cmp(&b.path))
            .then_with(|| a.start_line.cmp(&b.start_line))
    });
}

/// Words that look like code identifiers (`spawn_blocking`, `DEFAULT_PORT`,
/// `TextEmbedding`, `re.search`, `SIGTERM` — but not short acronyms such as
/// `API` or `URL`): an exact occurrence is strong evidence. Plain words are not: in natural-language questions they match
/// paths and headings of the wrong files as often as the right ones.
fn identifiers(query: &str) -> Vec<&str> {
    query
        .split(|character: char| !(character.is_alphanumeric() || matches!(character, '_' | '.')))
        // `.tar.gz`, `.env`: file extensions, not identifiers.
        .filter(|word| !word.starts_with('.'))
        .map(|word| word.trim_end_matches('.'))
        .filter(|word| {
            let letters = word.chars().filter(|c| c.is_alphabetic()).count();
            word.contains('_')
                || (word.contains('.') && letters >= 2 && !word.ends_with('.'))
                || (word.chars().skip(1).any(char::is_uppercase)
                    && word.chars().any(char::is_lowercase))
                || (letters >= 5 && word.chars().all(|c| c.is_uppercase() || c.is_ascii_digit()))
        })
        .collect()
}

/// Lower-case alphanumeric tokens of a path or heading.
fn tokens(text: &str) -> Vec<String> {
    text.split(|character: char| !character.is_alphanumeric())
        .filter(|token| !token.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Handcrafted reranking on top of the retrieval score:
/// - identifiers of the query found verbatim in the chunk (up to +0.5), or
///   naming its file or heading (+0.2);
/// - recency: up to +0.1 for lines changed today, halving every 30 days,
///   so among otherwise equal candidates the current code wins.
///
/// Boosts multiply the retrieval score, so retrieval order still dominates.
pub(crate) fn handcrafted(query: &str, hits: &mut [Hit]) {
    let identifiers = identifiers(query);
    let lowered: Vec<String> = identifiers.iter().map(|word| word.to_lowercase()).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64);
    for hit in hits.iter_mut() {
        let mut boost = 1.0;
        if !identifiers.is_empty() {
            let found = identifiers
                .iter()
                .filter(|identifier| hit.text.contains(*identifier))
                .count();
            boost += 0.5 * found as f32 / identifiers.len() as f32;
            let mut labels = tokens(&hit.path);
            labels.extend(hit.heading.as_deref().map(tokens).unwrap_or_default());
            let named = lowered.iter().any(|identifier| {
                identifier
                    .rsplit('.')
                    .next()
                    .is_some_and(|last| labels.iter().any(|label| label == last))
                    || hit
                        .heading
                        .as_deref()
                        .is_some_and(|heading| heading.to_lowercase().contains(identifier.as_str()))
            });
            if named {
                boost += 0.2;
            }
        }
        if let Some(time) = hit.author_time {
            let age_days = (now - time).max(0) as f32 / 86_400.0;
            boost += 0.1 * 0.5_f32.powf(age_days / 30.0);
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
            language: None,
            commit: None,
            author_time: None,
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
            identifiers("Is re.search or Popen.communicate safe on SIGTERM? Yes."),
            vec!["re.search", "Popen.communicate", "SIGTERM"]
        );
        assert!(identifiers("How is the port set with the API? I do not know.").is_empty());
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
        handcrafted("where is DEFAULT_PORT defined in the server", &mut hits);
        assert_eq!(hits[0].path, "src/server.py");
    }

    #[test]
    fn filters_become_one_predicate_with_globs_as_like_patterns() {
        assert_eq!(SearchFilter::default().predicate(), None);
        let filter = SearchFilter {
            project: Some("it's".into()),
            path: Some("src/**/*_test.rs".into()),
            kind: Some("Code".into()),
            language: Some("rust".into()),
            since: Some(1_700_000_000),
        };
        assert_eq!(
            filter.predicate().as_deref(),
            Some(
                "project = 'it''s' AND path LIKE 'src/%/%\\_test.rs' AND kind = 'code' \
                 AND language = 'rust' AND author_time >= 1700000000"
            )
        );
        let name_only = SearchFilter {
            path: Some("*.md".into()),
            ..SearchFilter::default()
        };
        assert_eq!(name_only.predicate().as_deref(), Some("path LIKE '%.md'"));
        let bare = SearchFilter {
            path: Some("README.md".into()),
            ..SearchFilter::default()
        };
        assert_eq!(bare.predicate().as_deref(), Some("path LIKE '%README.md'"));
    }

    #[test]
    fn modes_parse() {
        assert_eq!("bm25".parse::<SearchMode>(), Ok(SearchMode::Bm25));
        assert!("fuzzy".parse::<SearchMode>().is_err());
    }
}
