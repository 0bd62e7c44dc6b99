//! `codexos-runtime`: the one place that builds the concrete engine parts and
//! wires them together for the shells (the `codexos` CLI and the desktop app).
//!
//! A [`Runtime`] owns one data home ([`Home`]): its config, its SQLite store,
//! its LanceDB index, the embedding model and the loaded chat model (both
//! loaded lazily, then kept). Long operations take a progress callback and a
//! cancellation token, so the CLI and the app render the same typed events.
//!
//! ```no_run
//! # async fn demo() -> codexos_runtime::Result<()> {
//! use codexos_runtime::{AskOptions, Home, Runtime};
//! let runtime = Runtime::open(Home::from_env()?)?;
//! let cancel = tokio_util::sync::CancellationToken::new();
//! runtime.ingest("docs".as_ref(), None, &|_| {}, &cancel).await?;
//! let answer = runtime.ask("How do I install it?", &AskOptions::default(), &|_| {}, &cancel).await?;
//! println!("{}", answer.text);
//! # Ok(()) }
//! ```

mod analytics;
mod ask;
mod bench;
mod bundles;
mod chat;
mod config;
mod conversations;
mod doctor;
mod dropped;
mod error;
mod eval;
mod exchanges;
mod files;
mod flows;
mod home;
pub mod logging;
pub mod models;
mod pull;
mod retrieval;
mod telemetry;
mod tools;
mod watches;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use codexos_rag::{Embedder, EmbedderFiles, Index, IngestEvent, IngestOptions};
use codexos_store::{Project, Store};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

pub use analytics::{Breakdown, Dashboard, DashboardQuery, DayFigures, Figures, ValueDays};
pub use ask::{Answer, AskEvent, AskOptions, Citation};
pub use bench::{
    AnalyticsBench, BatchRun, BenchSetup, ChainRun, CompareBench, DurableRun, EmbedBench, EmbedRun,
    EvalSet, FlowBench, IngestBench, LangGraphChain, LangGraphDurable, LangGraphRun, LlamaBenchRun,
    LlmBench, LlmBenchOptions, LlmRun, ModeScore, OtelBench, RetrievalBench, ScaleBench,
    ScalePoint, SearchBench, SearchFigures, Split, WatchBench,
};
pub use bundles::{
    signer_from_file, BundleCheck, BundleContents, BundleImport, BundleImported, SIGNING_SECRET,
};
pub use chat::{provider_key_name, ChatOptions, LlmSettings, LOCAL};
pub use codexos_bundle::{Signer, TrustList, MAX_BUNDLE_BYTES};
pub use codexos_eval::scorer::clip;
pub use codexos_eval::{
    junit as eval_junit, markdown as eval_markdown, parse_specs as eval_specs,
    CaseResult as EvalCaseResult, EvalCase, EvalMode, EvalReport, Limit as EvalLimit, Scorer,
};
pub use codexos_flow::exec::EventSink;
pub use codexos_flow::ports::AgentSpec;
pub use codexos_flow::{
    check::Problem as FlowProblem, check::Severity as FlowSeverity, parse as parse_flow, Budget,
    BudgetAction, EventKind as FlowEventKind, Flow, ForkOrigin, RunEvent, RunOutcome, RunStatus,
};
pub use codexos_llm::{
    Attempt, ChatEvent, ChatMessage, Completion, Error as LlmError, EventStream, Failure,
    FinishReason, GgufInfo, Outcome, ProviderInfo, ProviderKind, Role, ToolCall, ToolChoice,
    ToolSpec,
};
pub use codexos_otel::Protocol as OtlpProtocol;
pub use codexos_rag::{
    walk as walk_folder, Hit as SearchHit, IngestEvent as IngestProgress, IngestReport,
    SearchFilter, SearchMode, SkippedFile,
};
pub use codexos_store::evals::EvalSummary;
pub use codexos_store::AttemptRecord;
pub use codexos_store::ConversationSummary;
pub use codexos_store::{FlowVersion, RunSummary};
pub use codexos_tools::folder::EnvValue;
pub use codexos_tools::mcp::ServerConfig as McpServerConfig;
pub use codexos_tools::openapi::{ApiConfig, Auth};
pub use codexos_tools::{
    Approval, ApprovalRequest, Approver, Effects as ToolEffects, Error as ToolError, Permission,
    PreApproved, Refuse, SourceInfo as ToolSource, SourceState as ToolSourceState,
};
pub use codexos_vault::export::MAX_EXPORT_BYTES as VAULT_EXPORT_MAX_BYTES;
pub use codexos_vault::{
    Error as VaultError, ImportReport, Mode as VaultMode, RotateReport, Rotation,
    Status as VaultStatus, Vault,
};
pub use config::{
    Config, IngestConfig, LlmConfig, ModelsConfig, OtlpConfig, ProviderConfig, SearchConfig,
};
pub use conversations::{
    agent_turn_flow, conversation_markdown, remote_side, Conversation, ConversationMessage,
    ConversationMode, MessageMeta, RemoteAsker, ToolStep, Turn, TurnEvent, TurnStats, TurnStatus,
    REMOTE_TARGET, UNTITLED,
};
pub use doctor::{Check, CheckStatus};
pub use dropped::{path_kind, DroppedFiles, PathKind, RefusedFile, FILES_PROJECT};
pub use error::{Error, ErrorCode, Result};
pub use eval::{
    valid_name as valid_dataset_name, DatasetInfo, DatasetView, EvalOptions, EvalProgress,
};

/// The audit log's entries and checks.
pub mod audit {
    pub use codexos_store::audit::{AuditActor, AuditBreak, AuditCheck, AuditEntry};
}
pub use files::{FilePreview, ProjectFile};
pub use flows::agents::AgentPin;
pub use flows::{
    agent_schema, agent_template, blank_flow, flow_change, flow_schema, read_flow, versions_diff,
    AgentVersion, CallTrace, DeletedFlow, FlowEntry, FlowRunOptions, MissingFlow, NodeComparison,
    NodeDiff, NodeSide, ReplayReport, RunComparison, RunDetail, RunSide, ToolSide, Usage,
};
pub use home::{Home, HOME_VAR, MODELS_VAR};
pub use pull::{PullEvent, Pulled};
pub use retrieval::{
    is_clone_url, parse_since, revision_project, since, RerankChoice, SearchRequest,
};
pub use telemetry::{spawn_exporter, ExportReport, OtlpStatus};
pub use tools::{
    hits_json, mcp_command, mcp_env, ConfiguredSource, ToolAccess, ToolRow, ToolsConfig,
    ToolsOverview,
};
pub use watches::{WatchEvent, WatchInfo};

/// Prepares the process for local inference: applies the data home's
/// `llm.wait_policy` to llama.cpp's OpenMP threads, which can only happen at
/// process start (this may re-execute the program, see
/// [`codexos_llm::apply_wait_policy`]). Call it first thing in `main`, before
/// any thread starts; an unreadable home or config means the default policy.
pub fn prepare_process() {
    let policy = Home::from_env()
        .ok()
        .and_then(|home| std::fs::read_to_string(home.config()).ok())
        .and_then(|text| toml::from_str::<Config>(&text).ok())
        .map_or(codexos_llm::WaitPolicy::Passive, |config| {
            config.llm.wait_policy
        });
    codexos_llm::apply_wait_policy(policy);
}

/// Whether `name` can name a flow, tool source or provider: letters,
/// digits, `-`, `_` and the characters in `also`, starting with a letter or
/// digit, and nothing that looks like a pasted key (names land in config
/// files and listings).
pub(crate) fn plain_name(name: &str, also: &[char]) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || also.contains(&c))
        && !codexos_tools::looks_like_key(name)
}

/// The engine of one data home. Cheap to share behind an `Arc`.
pub struct Runtime {
    home: Home,
    config: Config,
    store: Arc<Store>,
    vault: Vault,
    embedder: tokio::sync::OnceCell<Arc<Embedder>>,
    index: tokio::sync::OnceCell<Index>,
    /// The local cross-encoder, loaded on first use.
    cross_encoder: tokio::sync::OnceCell<Arc<codexos_rag::CrossEncoder>>,
    /// The local chat model, kept loaded between requests.
    local: Arc<chat::LocalModels>,
    /// The LLM router of the policy, built on first use and rebuilt when
    /// the policy changes.
    router: std::sync::Mutex<Option<Arc<codexos_llm::Router>>>,
    /// Provider order (`llm.policy`), changeable from the app.
    policy: std::sync::Mutex<Vec<String>>,
    /// The `[[providers]]` configured now (added and removed from the app
    /// or `providers add/rm` since open).
    providers: std::sync::Mutex<Vec<config::ProviderConfig>>,
    /// The `[[otlp]]` endpoints configured now (added and removed from the
    /// app or `codexos otel add/rm` since open).
    otlp: std::sync::Mutex<Vec<config::OtlpConfig>>,
    /// config.toml's modification time when `otlp` was last read from it.
    otlp_config_seen: std::sync::Mutex<Option<std::time::SystemTime>>,
    /// `--offline`: refuse remote providers whatever the config says.
    offline: AtomicBool,
    /// Served to others (a team server's workspace): datasets and
    /// baselines are the home's, by name — never a file of the process's
    /// folder.
    by_name_only: AtomicBool,
    /// Folders watched in the background.
    watches: watches::Watches,
    /// The tool registry and its background sources.
    tools: tools::ToolHost,
    /// `[tools.permissions]` as last read, with the config file's mtime then:
    /// changed from the app, `tools permit` or an editor, it is read again.
    permissions: std::sync::Mutex<tools::PermissionCache>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Runtime")
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

/// Summary of a project for listings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, specta::Type)]
pub struct ProjectSummary {
    /// Project name.
    pub name: String,
    /// Ingested folder.
    pub root: String,
    /// Files indexed.
    pub files: u32,
    /// Chunks stored.
    pub chunks: u32,
    /// Unix seconds of the last ingest.
    pub updated_at: f64,
}

impl Runtime {
    /// The metadata store (for a team server's run claims).
    #[must_use]
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Opens (creating as needed) the data home: folders, config, database.
    pub fn open(home: Home) -> Result<Arc<Self>> {
        home.prepare()?;
        let config = Config::load_or_create(&home.config())?;
        let store = Arc::new(Store::open_location(&home.metadata(), config.durability)?);
        let vault = Vault::new(Arc::clone(&store))?;
        let local = Arc::new(chat::LocalModels::new(
            home.clone(),
            Arc::clone(&store),
            &config,
        ));
        let policy = config.llm.policy.clone();
        let permissions = tools::PermissionCache::new(&home.config(), &config);
        let tool_sources = config.tools.clone();
        let providers = config.providers.clone();
        let otlp = config.otlp.clone();
        let otlp_seen = std::fs::metadata(home.config())
            .and_then(|meta| meta.modified())
            .ok();
        // Before anything can connect: the gate is process-wide.
        codexos_net::set_offline(config.offline || config.llm.offline);
        let runtime = Arc::new_cyclic(|runtime| Self {
            home,
            config,
            store,
            vault,
            embedder: tokio::sync::OnceCell::new(),
            index: tokio::sync::OnceCell::new(),
            cross_encoder: tokio::sync::OnceCell::new(),
            local,
            router: std::sync::Mutex::new(None),
            policy: std::sync::Mutex::new(policy),
            providers: std::sync::Mutex::new(providers),
            otlp: std::sync::Mutex::new(otlp),
            otlp_config_seen: std::sync::Mutex::new(otlp_seen),
            permissions: std::sync::Mutex::new(permissions),
            offline: AtomicBool::new(false),
            by_name_only: AtomicBool::new(false),
            watches: watches::Watches::default(),
            tools: tools::ToolHost::new(runtime.clone(), &tool_sources),
        });
        // Endpoints added to config.toml by hand start from now.
        runtime.track_otlp()?;
        Ok(runtime)
    }

    /// The data home.
    #[must_use]
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// The loaded configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The price table: `[[prices]]` from config.toml, then the shipped one.
    #[must_use]
    pub fn price_table(&self) -> codexos_llm::PriceTable {
        codexos_llm::PriceTable::new(&self.config.prices)
    }

    /// The vault: status, unlock, rotation, export and import.
    #[must_use]
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Records a change in the audit log (by this process's actor). A change
    /// that cannot be recorded (the disk is full) is made all the same and
    /// logged as an error; secret uses are stricter (see the vault).
    #[allow(clippy::needless_pass_by_value)] // callers build the detail in place
    pub(crate) fn audited(&self, action: &str, target: &str, detail: serde_json::Value) {
        if let Err(error) = self.store.audit(action, target, &detail.to_string()) {
            tracing::error!(action, target, %error, "a change could not be recorded in the audit log");
        }
    }

    /// A URL as the audit log keeps it: no user name, password, query or
    /// fragment (they may carry a credential; the log cannot be purged).
    pub(crate) fn audit_url(url: &str) -> String {
        match reqwest::Url::parse(url) {
            Ok(mut parsed) => {
                let _ = parsed.set_username("");
                let _ = parsed.set_password(None);
                parsed.set_query(None);
                parsed.set_fragment(None);
                parsed.to_string()
            }
            Err(_) => "(not a URL)".to_owned(),
        }
    }

    /// Names who acts from this process in the audit log: `origin` is the
    /// program (`app`, `cli`, `mcp`); the person is the OS user.
    pub fn set_audit_origin(&self, origin: &str) {
        self.store
            .set_audit_actor(codexos_store::audit::AuditActor {
                origin: origin.to_owned(),
                ..codexos_store::audit::AuditActor::default()
            });
    }

    /// The audit log's newest entries first: those whose action is `action`
    /// or under it (`secret` takes `secret.use`), whose target or detail
    /// holds `text`; at most `limit`.
    pub fn audit_entries(
        &self,
        action: &str,
        text: &str,
        limit: u32,
    ) -> Result<Vec<codexos_store::audit::AuditEntry>> {
        Ok(self.store.audit_entries(action, text, limit)?)
    }

    /// Checks the audit log's whole chain, and that `head` (a hash recorded
    /// earlier) is still in it.
    pub fn audit_verify(&self, head: Option<&str>) -> Result<codexos_store::audit::AuditCheck> {
        let mut check = self.store.audit_verify()?;
        if let (Some(head), None) = (head.map(str::trim), &check.broken) {
            check.given_head_at = self.store.audit_seq_of(&head.to_ascii_lowercase())?;
            if check.given_head_at.is_none() {
                // Position 0: the log as a whole, not one entry.
                check.broken = Some(codexos_store::audit::AuditBreak {
                    seq: 0,
                    reason: format!(
                        "the head {head} recorded earlier is not in the log: it was cut or rewritten after that point"
                    ),
                });
            }
        }
        Ok(check)
    }

    /// Stores a secret in the vault, encrypted.
    pub fn set_secret(&self, name: &str, value: &SecretString) -> Result<()> {
        Ok(self.vault.set(name, value)?)
    }

    /// Decrypts a secret to show it to the person who asked (`vault get`,
    /// the vault's Reveal): recorded as a `reveal` use.
    pub fn secret(&self, name: &str) -> Result<SecretString> {
        self.secret_for(name, "reveal")
    }

    /// Decrypts a secret for `purpose` (recorded with the use).
    pub fn secret_for(&self, name: &str, purpose: &str) -> Result<SecretString> {
        Ok(self.vault.get_for(name, purpose)?)
    }

    /// Names of the stored secrets.
    pub fn secret_names(&self) -> Result<Vec<String>> {
        Ok(self.vault.list()?)
    }

    /// Deletes a secret; an error when there is none.
    pub fn remove_secret(&self, name: &str) -> Result<()> {
        if self.vault.remove(name)? {
            Ok(())
        } else {
            Err(VaultError::NotFound {
                name: name.to_owned(),
            }
            .into())
        }
    }

    fn embedder_files(&self) -> EmbedderFiles {
        EmbedderFiles {
            model_dir: models::resolve(&self.home, &self.config.models.embedding),
            runtime_library: models::onnx_runtime(&self.home),
            threads: self.config.ingest.embed_threads,
            batch: self.config.ingest.embed_batch,
        }
    }

    async fn embedder(&self) -> Result<Arc<Embedder>> {
        let embedder = self
            .embedder
            .get_or_try_init(|| async {
                let files = self.embedder_files();
                let store = Arc::clone(&self.store);
                let home = self.home.clone();
                tokio::task::spawn_blocking(move || -> Result<Arc<Embedder>> {
                    models::verify(&store, &home, &files.model_dir)?;
                    models::verify(&store, &home, &files.runtime_library)?;
                    Ok(Arc::new(Embedder::load(&files)?))
                })
                .await
                .map_err(Error::task)?
            })
            .await?;
        Ok(Arc::clone(embedder))
    }

    /// Identity of the embedding model: its folder's name and the size of
    /// its model file (moving the models folder changes neither).
    fn embedding_model_id(&self) -> String {
        let folder = self.embedder_files().model_dir;
        let size = std::fs::metadata(folder.join("model.onnx")).map_or(0, |meta| meta.len());
        let name = folder
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("{name}#{size}")
    }

    async fn index(&self) -> Result<&Index> {
        self.index
            .get_or_try_init(|| async {
                let index = Index::open(&self.home.lancedb()).await?;
                // Vectors of two models are not comparable: a new embedding
                // model means every chunk is embedded again.
                let model = self.embedding_model_id();
                let recorded = self.store.meta("embedding_model")?;
                if recorded
                    .as_deref()
                    .is_some_and(|recorded| recorded != model)
                    && index.count(None).await? > 0
                {
                    tracing::warn!(
                        from = recorded.as_deref().unwrap_or_default(),
                        to = %model,
                        "the embedding model changed: chunks cleared, ingest your folders again"
                    );
                    index.clear().await?;
                    self.store.clear_file_ledger()?;
                }
                if recorded.as_deref() != Some(model.as_str()) {
                    self.store.set_meta("embedding_model", &model)?;
                }
                if index.was_rebuilt() {
                    // The chunks were derived data in an older layout: forget
                    // the ledger so each project's next ingest rebuilds them.
                    self.store.clear_file_ledger()?;
                    tracing::warn!(
                        "chunk table rebuilt for a new layout: ingest your folders again"
                    );
                }
                Ok(index)
            })
            .await
    }

    /// Ingests `folder` as `project` (default: the folder's name).
    pub async fn ingest(
        &self,
        folder: &Path,
        project: Option<&str>,
        progress: &(dyn Fn(IngestEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<IngestReport> {
        self.ingest_at(folder, project, None, progress, cancel)
            .await
    }

    /// Ingests `folder` (the working tree, or the git revision `rev` as
    /// project `NAME@COMMIT`).
    pub(crate) async fn ingest_at(
        &self,
        folder: &Path,
        project: Option<&str>,
        rev: Option<&str>,
        progress: &(dyn Fn(IngestEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<IngestReport> {
        // Fail on a bad folder or revision before loading any model.
        let root = codexos_rag::ingest_root(folder)?;
        let mut name = match project {
            Some(name) => validate_project_name(name)?.to_owned(),
            None => default_project_name(&root),
        };
        let revision = match rev {
            Some(rev) => {
                let commit = codexos_rag::resolve_revision(&root, rev)?;
                name = retrieval::revision_project(&name, &commit);
                Some(commit)
            }
            None => None,
        };
        let options = IngestOptions {
            max_file_bytes: self.config.ingest.max_file_bytes,
            revision,
        };
        let embedder = self.embedder().await?;
        let index = self.index().await?;
        let known = self
            .store
            .projects()?
            .iter()
            .any(|known| known.name == name);
        let report = codexos_rag::ingest(
            &self.store,
            index,
            &embedder,
            &root,
            &name,
            &options,
            progress,
            cancel,
        )
        .await?;
        // A new project is recorded; its re-ingests (every watched change)
        // are not.
        if !known {
            self.audited(
                "project.add",
                &name,
                serde_json::json!({ "root": root.to_string_lossy() }),
            );
        }
        Ok(report)
    }

    /// Ingests `folder`, then keeps watching it: every burst of changes
    /// (debounced by a quarter second) triggers an incremental ingest, whose
    /// events go to `progress` like any other. Returns when `cancel` fires.
    pub async fn watch(
        &self,
        folder: &Path,
        project: Option<&str>,
        progress: &(dyn Fn(IngestEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<()> {
        let root = codexos_rag::ingest_root(folder)?;
        let excluded = vec![
            self.home.root().to_path_buf(),
            self.home.models().to_path_buf(),
        ];
        // Watch first, so changes made during the first ingest are not missed.
        let mut watcher = codexos_rag::FolderWatcher::start(&root, excluded)?;
        let mut pending = true;
        while pending {
            match self.ingest(&root, project, progress, cancel).await {
                Ok(_) => {}
                Err(Error::Rag(codexos_rag::Error::Cancelled)) => return Ok(()),
                Err(error) => return Err(error),
            }
            pending = watcher
                .next_batch(std::time::Duration::from_millis(250), cancel)
                .await?
                .is_some();
        }
        Ok(())
    }

    fn require_project(&self, name: &str) -> Result<Project> {
        self.store
            .project(name)?
            .ok_or_else(|| Error::UnknownProject {
                name: name.to_owned(),
            })
    }

    /// Models in the catalog and in the models folder.
    #[must_use]
    pub fn models(&self) -> Vec<models::ModelEntry> {
        let defaults = [
            self.config.models.chat.as_str(),
            self.config.models.embedding.as_str(),
            self.config.search.cross_encoder.as_str(),
        ];
        models::list(&self.home, &defaults)
    }

    /// A GGUF model's metadata (`name` as for `--model`), read without
    /// loading it.
    pub fn model_info(&self, name: &str) -> Result<codexos_llm::GgufInfo> {
        let path = models::resolve(&self.home, name);
        if !path.is_file() {
            return Err(Error::ModelMissing {
                path,
                component: name.to_owned(),
            });
        }
        Ok(codexos_llm::gguf_info(&path)?)
    }

    /// Copies a `.gguf` file into the models folder (checked to be a GGUF
    /// model first; written under a temporary name and renamed, so an
    /// interrupted copy leaves nothing half-written), reporting bytes copied.
    pub fn import_model(
        &self,
        source: &Path,
        progress: &dyn Fn(u64, u64),
    ) -> Result<codexos_llm::GgufInfo> {
        use std::io::{Read, Write};
        let checked = codexos_llm::gguf_info(source)?;
        let name = source
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let target = self.home.models().join(&name);
        if target.exists() {
            return Err(Error::ModelExists { path: target });
        }
        let partial = self.home.models().join(format!(".{name}.partial"));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Home { path, source }
        };
        let copy = || -> Result<()> {
            let mut reader = std::fs::File::open(source).map_err(io(source))?;
            let mut writer = std::fs::File::create(&partial).map_err(io(&partial))?;
            let mut buffer = vec![0u8; 1 << 20];
            let mut done = 0u64;
            loop {
                let read = reader.read(&mut buffer).map_err(io(source))?;
                if read == 0 {
                    break;
                }
                writer.write_all(&buffer[..read]).map_err(io(&partial))?;
                done += read as u64;
                progress(done, checked.bytes);
            }
            writer.sync_all().map_err(io(&partial))?;
            std::fs::rename(&partial, &target).map_err(io(&target))
        };
        if let Err(error) = copy() {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
        self.audited(
            "model.import",
            &target.to_string_lossy(),
            serde_json::json!({ "from": source.to_string_lossy() }),
        );
        Ok(codexos_llm::GgufInfo {
            path: target,
            ..checked
        })
    }

    /// Deletes a model from the models folder; refuses one the
    /// configuration uses.
    pub fn remove_model(&self, name: &str) -> Result<PathBuf> {
        let path = models::resolve(&self.home, name);
        if !path.starts_with(self.home.models()) || !path.exists() {
            return Err(Error::ModelNotInstalled {
                name: name.to_owned(),
            });
        }
        if self
            .models()
            .iter()
            .any(|model| model.default && self.home.models().join(&model.name) == path)
        {
            return Err(Error::ModelInUse { path });
        }
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|source| Error::Home {
            path: path.clone(),
            source,
        })?;
        self.audited(
            "model.remove",
            name,
            serde_json::json!({ "path": path.to_string_lossy() }),
        );
        Ok(path)
    }

    /// Removes a project: stops its watch, forgets its file ledger (so a
    /// crash half-way leaves a project that re-ingests whole), deletes its
    /// chunks and vectors, then its row. The folder itself is not touched.
    /// Returns the chunks deleted.
    pub async fn remove_project(&self, name: &str) -> Result<usize> {
        let index = self.index().await?;
        let chunks = index.count(Some(name)).await?;
        if self.store.project(name)?.is_none() && chunks == 0 {
            return Err(Error::UnknownProject { name: name.into() });
        }
        self.unwatch(name);
        self.store.forget_project_files(name)?;
        index.delete_project(name).await?;
        self.store.remove_project(name)?;
        self.audited(
            "project.remove",
            name,
            serde_json::json!({ "chunks": chunks }),
        );
        Ok(chunks)
    }

    /// Every project with its counts.
    pub fn projects(&self) -> Result<Vec<ProjectSummary>> {
        self.store
            .projects()?
            .into_iter()
            .map(|project| {
                let (files, chunks) = self.store.project_totals(&project.name)?;
                Ok(ProjectSummary {
                    root: project.root.to_string_lossy().into_owned(),
                    name: project.name,
                    files: files as u32,
                    chunks: chunks as u32,
                    updated_at: project.updated_at as f64,
                })
            })
            .collect()
    }

    /// Paths shown to users: where things are.
    #[must_use]
    pub fn locations(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("home", self.home.root().to_path_buf()),
            ("config", self.home.config()),
            ("database", self.home.database()),
            ("lancedb", self.home.lancedb()),
            ("models", self.home.models().to_path_buf()),
            ("logs", self.home.logs()),
        ]
    }
}

/// Project names become SQL literals and file names elsewhere: keep them tame.
fn validate_project_name(name: &str) -> Result<&str> {
    let valid = !name.is_empty()
        && name.len() <= 100
        && name.chars().all(|character| {
            character.is_alphanumeric() || matches!(character, '_' | '-' | '.' | ' ')
        });
    if valid {
        Ok(name)
    } else {
        Err(Error::InvalidProjectName {
            name: name.to_owned(),
        })
    }
}

/// A project name from a folder's (canonical) path: its last component.
fn default_project_name(root: &Path) -> String {
    let raw = root.file_name().map_or_else(
        || "project".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    let cleaned: String = raw
        .chars()
        .map(|character| {
            if character.is_alphanumeric() || matches!(character, '_' | '-' | '.') {
                character
            } else {
                '-'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "project".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_checked() {
        assert!(validate_project_name("my docs-2.0").is_ok());
        assert!(validate_project_name("").is_err());
        assert!(validate_project_name("a'b").is_err());
        assert_eq!(
            default_project_name(Path::new("/nonexistent/My Repo!")),
            "My-Repo-"
        );
    }
}
