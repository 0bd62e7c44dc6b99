//! The reranking stage: handcrafted scoring by default, a remote rerank API
//! (Cohere's `/v1/rerank` format) when configured, or a local ONNX
//! cross-encoder through fastembed when its files are present.
//!
//! A reranker that fails (network down, bad key, model error) never fails
//! the search: the handcrafted order is used and the reason logged.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fastembed::{
    RerankInitOptionsUserDefined, TextRerank, TokenizerFiles, UserDefinedRerankingModel,
};
use serde::{Deserialize, Serialize};

use crate::search::{handcrafted, sort};
use crate::{Error, Hit, Result};

/// Characters of each chunk sent to a model reranker.
const DOCUMENT_CHARS: usize = 2_000;

/// How search results are reordered after retrieval.
#[derive(Clone, Default)]
pub enum Reranker {
    /// Retrieval order.
    None,
    /// Identifier, path, heading and recency signals on top of the
    /// retrieval score.
    #[default]
    Handcrafted,
    /// A Cohere-format rerank API.
    Remote(RemoteReranker),
    /// A local ONNX cross-encoder.
    CrossEncoder(Arc<CrossEncoder>),
}

impl std::fmt::Debug for Reranker {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.name())
    }
}

impl Reranker {
    /// Short name, as reported by `codexos doctor` and the benches.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Handcrafted => "handcrafted",
            Self::Remote(_) => "remote",
            Self::CrossEncoder(_) => "cross-encoder",
        }
    }

    /// Reorders `hits` (best first). Model rerankers fall back to the
    /// handcrafted order when they fail.
    pub async fn rerank(&self, query: &str, hits: &mut [Hit]) {
        if hits.is_empty() {
            return;
        }
        let scores = match self {
            Self::None => return,
            Self::Handcrafted => {
                handcrafted(query, hits);
                return;
            }
            Self::Remote(remote) => remote.scores(query, hits).await,
            Self::CrossEncoder(model) => {
                let model = Arc::clone(model);
                let query = query.to_owned();
                let documents = documents(hits);
                tokio::task::spawn_blocking(move || model.scores(&query, &documents))
                    .await
                    .unwrap_or_else(|error| {
                        Err(Error::Task {
                            message: error.to_string(),
                        })
                    })
            }
        };
        match scores {
            Ok(scores) => {
                for (hit, score) in hits.iter_mut().zip(scores) {
                    hit.score = score;
                }
                sort(hits);
            }
            Err(error) => {
                tracing::warn!(reranker = self.name(), %error, "reranking failed; using handcrafted scoring");
                handcrafted(query, hits);
            }
        }
    }
}

/// The text a model reranker judges: where the chunk is, then its text.
fn documents(hits: &[Hit]) -> Vec<String> {
    hits.iter()
        .map(|hit| {
            let mut text = match &hit.heading {
                Some(heading) => format!("{}\n{heading}\n{}", hit.path, hit.text),
                None => format!("{}\n{}", hit.path, hit.text),
            };
            if text.len() > DOCUMENT_CHARS {
                let mut cut = DOCUMENT_CHARS;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            text
        })
        .collect()
}

/// A rerank API speaking Cohere's format: `POST {base}/v1/rerank` with
/// `{model, query, documents, top_n}` and a bearer key, answering
/// `{results: [{index, relevance_score}]}`.
#[derive(Clone)]
pub struct RemoteReranker {
    /// Base URL, e.g. `https://api.cohere.com`.
    pub base_url: String,
    /// Model name, e.g. `rerank-v3.5`.
    pub model: String,
    /// API key (from the vault; never logged).
    pub key: secrecy::SecretString,
    /// Per-request timeout.
    pub timeout: Duration,
}

#[derive(Serialize)]
struct RerankRequest<'a> {
    model: &'a str,
    query: &'a str,
    documents: Vec<String>,
    top_n: usize,
}

#[derive(Deserialize)]
struct RerankResponse {
    results: Vec<RerankResult>,
}

#[derive(Deserialize)]
struct RerankResult {
    index: usize,
    relevance_score: f32,
}

impl RemoteReranker {
    /// Scores every hit through the API (hits it leaves out score lowest).
    pub async fn scores(&self, query: &str, hits: &[Hit]) -> Result<Vec<f32>> {
        use secrecy::ExposeSecret;
        let url = format!("{}/v1/rerank", self.base_url.trim_end_matches('/'));
        let remote = |message: String| Error::Rerank {
            url: url.clone(),
            message,
        };
        let response = codexos_net::send(
            http_client()
                .map_err(remote)?
                .post(&url)
                .timeout(self.timeout)
                .bearer_auth(self.key.expose_secret())
                .json(&RerankRequest {
                    model: &self.model,
                    query,
                    documents: documents(hits),
                    top_n: hits.len(),
                }),
        )
        .await
        .map_err(|error| remote(codexos_net::explain(&error)))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let body: String = body.chars().take(200).collect();
            return Err(remote(format!("HTTP {status}: {body}")));
        }
        let parsed: RerankResponse = response
            .json()
            .await
            .map_err(|error| remote(format!("unexpected response: {}", error.without_url())))?;
        let mut scores = vec![f32::NEG_INFINITY; hits.len()];
        for result in parsed.results {
            if let Some(slot) = scores.get_mut(result.index) {
                *slot = result.relevance_score;
            }
        }
        Ok(scores)
    }
}

/// One HTTP client for every rerank request: its connection pool and TLS
/// setup are kept between searches. It passes the offline gate.
fn http_client() -> std::result::Result<&'static reqwest::Client, String> {
    static CLIENT: std::sync::OnceLock<std::result::Result<reqwest::Client, String>> =
        std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            codexos_net::client()
                .build()
                .map_err(|error| format!("cannot build an HTTP client: {error}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A local cross-encoder (ONNX, e.g. `bge-reranker-base` or
/// `ms-marco-MiniLM-L-6-v2` exported with its tokenizer files).
pub struct CrossEncoder {
    model: Mutex<TextRerank>,
}

impl CrossEncoder {
    /// Files a cross-encoder folder must hold.
    pub const FILES: [&'static str; 5] = [
        "model.onnx",
        "tokenizer.json",
        "config.json",
        "special_tokens_map.json",
        "tokenizer_config.json",
    ];

    /// Whether `directory` holds a cross-encoder's files.
    #[must_use]
    pub fn present(directory: &Path) -> bool {
        Self::FILES
            .iter()
            .all(|file| directory.join(file).is_file())
    }

    /// Loads the cross-encoder in `directory` on the ONNX Runtime library
    /// `runtime_library` (blocking).
    pub fn load(directory: &Path, runtime_library: &Path) -> Result<Self> {
        let read = |name: &str| -> Result<Vec<u8>> {
            let path: PathBuf = directory.join(name);
            std::fs::read(&path).map_err(|source| Error::ModelFile { path, source })
        };
        let onnx = read("model.onnx")?;
        let tokenizer_files = TokenizerFiles {
            tokenizer_file: read("tokenizer.json")?,
            config_file: read("config.json")?,
            special_tokens_map_file: read("special_tokens_map.json")?,
            tokenizer_config_file: read("tokenizer_config.json")?,
        };
        let environment = crate::embed::environment(runtime_library)?;
        let mut options = RerankInitOptionsUserDefined::default();
        options.environment = Some(environment);
        options.max_length = 512;
        let model = TextRerank::try_new_from_user_defined(
            UserDefinedRerankingModel::new(onnx, tokenizer_files),
            options,
        )
        .map_err(|error| Error::ModelLoad {
            path: directory.to_path_buf(),
            message: error.to_string(),
        })?;
        Ok(Self {
            model: Mutex::new(model),
        })
    }

    /// Relevance of each document to the query, in document order.
    pub fn scores(&self, query: &str, documents: &[String]) -> Result<Vec<f32>> {
        let mut model = self
            .model
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let documents: Vec<&str> = documents.iter().map(String::as_str).collect();
        let results = model
            .rerank(query, documents.as_slice(), false, Some(16))
            .map_err(|error| Error::Embed {
                message: format!("cross-encoder failed: {error}"),
            })?;
        let mut scores = vec![f32::NEG_INFINITY; documents.len()];
        for result in results {
            if let Some(slot) = scores.get_mut(result.index) {
                *slot = result.score;
            }
        }
        Ok(scores)
    }
}
