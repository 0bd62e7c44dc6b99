//! Search requests (filters, revisions, reranker choice), ingest at a git
//! revision, and ingest from a clone URL.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use codexos_rag::{
    CrossEncoder, Hit, IngestEvent, IngestReport, RemoteReranker, Reranker, SearchFilter,
    SearchMode,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::{default_project_name, Error, Result, Runtime};

/// Which reranking stage a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "kebab-case")]
pub enum RerankChoice {
    /// Hybrid searches use the configured reranker (`[search] reranker`);
    /// dense and BM25 searches are left in retrieval order, for comparison.
    #[default]
    Auto,
    /// Retrieval order.
    None,
    /// Handcrafted scoring (identifiers, path, headings, recency).
    Handcrafted,
    /// The configured Cohere-format rerank API.
    Remote,
    /// The local ONNX cross-encoder in the models folder.
    CrossEncoder,
}

impl FromStr for RerankChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Self::Auto),
            "none" => Ok(Self::None),
            "handcrafted" => Ok(Self::Handcrafted),
            "remote" => Ok(Self::Remote),
            "cross-encoder" => Ok(Self::CrossEncoder),
            other => Err(format!(
                "unknown reranker `{other}`: use auto, none, handcrafted, remote or cross-encoder"
            )),
        }
    }
}

/// Everything about a search but the query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// Results wanted.
    pub k: u32,
    /// Retrieval mode.
    pub mode: SearchMode,
    /// Filters: project, path glob, kind, language, changed-since.
    pub filter: SearchFilter,
    /// Search the project as of this git revision (it must have been
    /// ingested with `--rev`).
    pub rev: Option<String>,
    /// Reranking stage.
    pub rerank: RerankChoice,
}

impl SearchRequest {
    /// `k` results in `mode`, optionally in one project, with defaults else.
    #[must_use]
    pub fn new(k: u32, mode: SearchMode, project: Option<&str>) -> Self {
        Self {
            k,
            mode,
            filter: SearchFilter {
                project: project.map(str::to_owned),
                ..SearchFilter::default()
            },
            ..Self::default()
        }
    }
}

/// [`parse_since`] against the current time.
pub fn since(text: &str) -> Result<i64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    parse_since(text, now)
}

/// Parses `--since`: a date (`2024-05-01`), a date and time (RFC 3339), or an
/// age (`90m`, `12h`, `30d`, `8w`), into Unix seconds.
pub fn parse_since(text: &str, now: i64) -> Result<i64> {
    let text = text.trim();
    let invalid = || Error::InvalidSince {
        text: text.to_owned(),
    };
    if let Ok(moment) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(moment.timestamp());
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|moment| moment.and_utc().timestamp())
            .ok_or_else(invalid);
    }
    let unit = text.chars().last().ok_or_else(invalid)?;
    let amount: i64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| invalid())?;
    let seconds = match unit {
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return Err(invalid()),
    };
    Ok(now - amount * seconds)
}

/// The project name that holds `project` at commit `commit`.
#[must_use]
pub fn revision_project(project: &str, commit: &str) -> String {
    format!("{project}@{}", &commit[..commit.len().min(12)])
}

/// Whether `source` names a repository to clone rather than a folder.
#[must_use]
pub fn is_clone_url(source: &str) -> bool {
    source.contains("://") || (source.starts_with("git@") && source.contains(':'))
}

impl Runtime {
    /// The `k` chunks most relevant to `query` under `request`.
    pub async fn search(&self, query: &str, request: &SearchRequest) -> Result<Vec<Hit>> {
        let mut filter = request.filter.clone();
        if let Some(rev) = &request.rev {
            let name = filter.project.clone().ok_or(Error::RevisionNeedsProject)?;
            let project = self.require_project(&name)?;
            let commit = codexos_rag::resolve_revision(&project.root, rev)?;
            let indexed = revision_project(&name, &commit);
            if self.store.project(&indexed)?.is_none() {
                return Err(Error::RevisionNotIndexed {
                    project: name,
                    rev: rev.clone(),
                    root: project.root,
                });
            }
            filter.project = Some(indexed);
        }
        // Opening the index first applies a pending clear (embedding model
        // changed), so the emptiness check below sees it.
        let index = self.index().await?;
        self.require_indexed(filter.project.as_deref())?;
        let reranker = self.reranker(request.rerank, request.mode).await?;
        let embedder = self.embedder().await?;
        Ok(codexos_rag::search(
            index,
            &embedder,
            query,
            request.k as usize,
            &filter,
            request.mode,
            &reranker,
        )
        .await?)
    }

    /// Says why a search would come back empty instead of showing nothing.
    fn require_indexed(&self, project: Option<&str>) -> Result<()> {
        let projects = match project {
            Some(name) => vec![self.require_project(name)?],
            None => self.store.projects()?,
        };
        let Some(first) = projects.first() else {
            return Err(Error::NothingIngested);
        };
        for candidate in &projects {
            if self.store.project_totals(&candidate.name)?.1 > 0 {
                return Ok(());
            }
        }
        Err(Error::EmptyProject {
            name: first.name.clone(),
            root: first.root.clone(),
        })
    }

    /// The reranker for a choice: `auto` follows `[search] reranker` for
    /// hybrid searches. An explicit model reranker that is not set up is an
    /// error; the automatic choice falls back to handcrafted scoring.
    pub async fn reranker(&self, choice: RerankChoice, mode: SearchMode) -> Result<Reranker> {
        let settings = &self.config.search;
        let choice = match choice {
            RerankChoice::Auto if mode != SearchMode::Hybrid => return Ok(Reranker::None),
            RerankChoice::Auto => settings.reranker,
            explicit => explicit,
        };
        match choice {
            RerankChoice::None => Ok(Reranker::None),
            RerankChoice::Handcrafted => Ok(Reranker::Handcrafted),
            RerankChoice::Auto => Ok(self
                .cross_encoder()
                .await
                .ok()
                .map(Reranker::CrossEncoder)
                .or_else(|| self.remote_reranker().ok().map(Reranker::Remote))
                .unwrap_or(Reranker::Handcrafted)),
            RerankChoice::Remote => Ok(Reranker::Remote(self.remote_reranker()?)),
            RerankChoice::CrossEncoder => Ok(Reranker::CrossEncoder(self.cross_encoder().await?)),
        }
    }

    fn remote_reranker(&self) -> Result<RemoteReranker> {
        let settings = &self.config.search;
        let url = settings
            .remote_url
            .clone()
            .ok_or(Error::RerankerNotConfigured {
                what: "remote",
                fix: "set `[search] remote_url` (and `remote_model`) in config.toml, and store the key with `codexos vault set cohere`",
            })?;
        let key = self.secret_for(&settings.remote_key, "reranker").map_err(|_| Error::RerankerNotConfigured {
            what: "remote",
            fix: "store the API key in the vault: `codexos vault set cohere` (or the name in `[search] remote_key`)",
        })?;
        Ok(RemoteReranker {
            base_url: url,
            model: settings.remote_model.clone(),
            key,
            timeout: Duration::from_secs(settings.remote_timeout_secs),
        })
    }

    async fn cross_encoder(&self) -> Result<Arc<CrossEncoder>> {
        let model = self
            .cross_encoder
            .get_or_try_init(|| async {
                let directory = crate::models::resolve(&self.home, &self.config.search.cross_encoder);
                if !CrossEncoder::present(&directory) {
                    return Err(Error::RerankerNotConfigured {
                        what: "cross-encoder",
                        fix: "put an ONNX cross-encoder (model.onnx, tokenizer.json, config.json, special_tokens_map.json, tokenizer_config.json) in the models folder under the name in `[search] cross_encoder` (default `reranker`)",
                    });
                }
                let library = crate::models::onnx_runtime(&self.home);
                tokio::task::spawn_blocking(move || CrossEncoder::load(&directory, &library))
                    .await
                    .map_err(Error::task)?
                    .map(Arc::new)
                    .map_err(Error::from)
            })
            .await?;
        Ok(Arc::clone(model))
    }

    /// Ingests the tree of `folder`'s git repository at revision `rev`, from
    /// git objects, as project `name@<commit>`.
    pub async fn ingest_revision(
        &self,
        folder: &Path,
        project: Option<&str>,
        rev: &str,
        progress: &(dyn Fn(IngestEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<IngestReport> {
        self.ingest_at(folder, project, Some(rev), progress, cancel)
            .await
    }

    /// The folder to ingest for `source`: a path as given, or for a clone URL
    /// the working tree of its clone (made, or reused, first).
    pub async fn source_folder(
        &self,
        source: &str,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<PathBuf> {
        if is_clone_url(source) {
            self.clone_repository(source, progress).await
        } else {
            Ok(PathBuf::from(source))
        }
    }

    /// Clones `url` into the data home's `repos/` folder (or reuses an
    /// earlier clone of it) and returns the working tree to ingest.
    pub async fn clone_repository(
        &self,
        url: &str,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<PathBuf> {
        let name = url
            .trim_end_matches('/')
            .rsplit(['/', ':'])
            .next()
            .unwrap_or("repository")
            .trim_end_matches(".git");
        let name =
            default_project_name(Path::new(if name.is_empty() { "repository" } else { name }));
        // Two repositories with the same name from different places get
        // different folders; the same URL reuses its earlier clone.
        let repos = self.home.root().join("repos");
        let mut into = repos.join(&name);
        let mut suffix = 1;
        while into.exists() {
            if codexos_rag::origin_url(&into).as_deref() == Some(url) {
                tracing::info!(url, path = %into.display(), "reusing an earlier clone");
                return Ok(into);
            }
            suffix += 1;
            into = repos.join(format!("{name}-{suffix}"));
        }
        std::fs::create_dir_all(self.home.root().join("repos")).map_err(|source| Error::Home {
            path: self.home.root().join("repos"),
            source,
        })?;
        let url = url.to_owned();
        let target = into.clone();
        // libgit2 reports progress from its own thread of control; forward
        // through a channel so the callback need not be 'static.
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        let clone = tokio::task::spawn_blocking(move || {
            codexos_rag::clone_repository(&url, &target, &mut |done, total| {
                let _ = sender.send((done, total));
            })
        });
        while let Some((done, total)) = receiver.recv().await {
            progress(done, total);
        }
        clone.await.map_err(Error::task)??;
        Ok(into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_dates_times_and_ages() {
        let now = 1_700_000_000;
        assert_eq!(parse_since("2024-01-02", now).ok(), Some(1_704_153_600));
        assert_eq!(
            parse_since("2024-01-02T00:00:10+00:00", now).ok(),
            Some(1_704_153_610)
        );
        assert_eq!(parse_since("30d", now).ok(), Some(now - 30 * 86_400));
        assert_eq!(parse_since("2w", now).ok(), Some(now - 2 * 604_800));
        assert!(parse_since("yesterday", now).is_err());
        assert!(parse_since("", now).is_err());
    }

    #[test]
    fn revision_projects_and_clone_urls() {
        assert_eq!(
            revision_project("app", "0123456789abcdef0123"),
            "app@0123456789ab"
        );
        assert!(is_clone_url("https://github.com/a/b.git"));
        assert!(is_clone_url("file:///tmp/repo"));
        assert!(is_clone_url("git@github.com:a/b.git"));
        assert!(!is_clone_url("./docs"));
        assert_eq!("cross-encoder".parse(), Ok(RerankChoice::CrossEncoder));
    }
}
