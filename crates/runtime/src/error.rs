//! The runtime's error type and the stable codes the shells show.

use std::path::PathBuf;

use serde::Serialize;

/// Errors of the runtime, wrapping the engine crates' errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The OS has no data folder and `CODEXOS_HOME` is unset.
    #[error("cannot find the OS data folder — set CODEXOS_HOME to a writable folder")]
    NoDataDir,
    /// A path in the data home cannot be created, read or written.
    #[error("cannot use `{path}`: {source} — set CODEXOS_HOME to a writable folder, or fix its permissions")]
    Home {
        /// The path.
        path: PathBuf,
        /// I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `config.toml` does not parse.
    #[error("invalid config `{path}`{}: {message} — fix the file, or delete it to get the defaults back", line.map(|line| format!(" (line {line})")).unwrap_or_default())]
    Config {
        /// Config file.
        path: PathBuf,
        /// Parser message.
        message: String,
        /// Line of the error, when known.
        line: Option<usize>,
    },
    /// A model file is absent.
    #[error("model file `{path}` ({component}) is missing — {}, or point CODEXOS_MODELS at a folder that has it", crate::models::pull_hint(.component))]
    ModelMissing {
        /// Expected path.
        path: PathBuf,
        /// Catalog component.
        component: String,
    },
    /// A model file does not match its pinned checksum.
    #[error("model file `{path}` is corrupt: sha256 {actual}, expected {expected} — {fix}")]
    ModelChecksum {
        /// The file.
        path: PathBuf,
        /// What to do about it.
        fix: String,
        /// Pinned checksum.
        expected: String,
        /// Checksum found.
        actual: String,
    },
    /// Removing a model that is not in the models folder.
    #[error("`{name}` is not installed — nothing to remove (`codexos models list` shows what is)")]
    ModelNotInstalled {
        /// The name given.
        name: String,
    },
    /// Importing over an existing model.
    #[error("`{path}` already exists — remove it first (`codexos models rm`) or rename the file you import")]
    ModelExists {
        /// The model file.
        path: PathBuf,
    },
    /// Removing a model the configuration uses.
    #[error("`{path}` is in use by config.toml — choose another model in `[models]` first")]
    ModelInUse {
        /// The model.
        path: PathBuf,
    },
    /// No project of that name.
    #[error("no project named `{name}` — ingest a folder first (`codexos ingest DIR --project {name}`) or list projects with `codexos projects`")]
    UnknownProject {
        /// The name given.
        name: String,
    },
    /// A preview asked for a path outside the project's folder.
    #[error("`{path}` is not a file inside project `{project}`")]
    PathOutsideProject {
        /// The path asked for.
        path: String,
        /// The project.
        project: String,
    },
    /// A project name that cannot be used.
    #[error("invalid project name `{name}`: use letters, digits, spaces, `_`, `-` and `.` (at most 100)")]
    InvalidProjectName {
        /// The name given.
        name: String,
    },
    /// The projects searched hold no chunks (empty folder, or the index was
    /// rebuilt for a new layout).
    #[error("project `{name}` has nothing indexed — ingest it again: `codexos ingest {} --project {name}`", root.display())]
    EmptyProject {
        /// Project name.
        name: String,
        /// Its folder.
        root: PathBuf,
    },
    /// `--since` that is neither a date nor an age.
    #[error("cannot read `{text}` as a time: use a date (2024-05-01), a date and time (2024-05-01T12:00:00Z) or an age (90m, 12h, 30d, 8w)")]
    InvalidSince {
        /// As given.
        text: String,
    },
    /// An analytics query that cannot be answered.
    #[error("analytics: {message}")]
    InvalidAnalytics {
        /// What is wrong and how to ask instead.
        message: String,
    },
    /// `--rev` without a project.
    #[error("searching at a revision needs a project: add `--project NAME`")]
    RevisionNeedsProject,
    /// `--rev` for a revision that was not ingested.
    #[error("project `{project}` has not been ingested at revision `{rev}` — run `codexos ingest {} --project {project} --rev {rev}` first", root.display())]
    RevisionNotIndexed {
        /// Project.
        project: String,
        /// Revision as given.
        rev: String,
        /// Project folder.
        root: PathBuf,
    },
    /// A model reranker was asked for but is not set up.
    #[error("the {what} reranker is not set up: {fix}")]
    RerankerNotConfigured {
        /// Which reranker.
        what: &'static str,
        /// How to set it up.
        fix: &'static str,
    },
    /// A benchmark's corpus folder is missing.
    #[error("the evaluation corpus `{path}` is missing — {install}, or pass `--corpus DIR`")]
    BenchCorpusMissing {
        /// Expected folder.
        path: PathBuf,
        /// How to get it.
        install: String,
    },
    /// A file given as an evaluation set is not one.
    #[error("`{path}` is not an evaluation set: {message} — see bench/eval/python-library.json for the format")]
    InvalidEvalSet {
        /// The file.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
    /// A benchmark could not measure what it measures.
    #[error("`codexos bench {bench}` failed: {message}")]
    BenchFailed {
        /// The benchmark.
        bench: String,
        /// What went wrong, and where.
        message: String,
    },
    /// The Python peer of a benchmark failed.
    #[error("the Python peer benchmark failed: {message} — create its environment with scripts/bench-venv.sh and pass the python it prints")]
    PythonPeer {
        /// Its last stderr line.
        message: String,
    },
    /// Searching before anything was ingested.
    #[error("nothing has been ingested in this data home yet — run `codexos ingest DIR` or drop a folder onto the app")]
    NothingIngested,
    /// A background task panicked.
    #[error("internal task failed: {message}")]
    Task {
        /// Panic message.
        message: String,
    },
    /// A model download failed.
    #[error("cannot pull `{name}`: {message}")]
    Pull {
        /// Model name or URL.
        name: String,
        /// What went wrong, and the fix.
        message: String,
    },
    /// A flow or run failed.
    #[error(transparent)]
    Flow(#[from] codexos_flow::Error),
    /// A flow file is malformed.
    #[error("{}: {source}", path.display())]
    FlowFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: codexos_flow::Error,
    },
    /// No flow of that name was ever run or saved here.
    #[error("no flow `{name}` in this data home — `codexos flows list` shows the flows that were run or saved")]
    UnknownFlow {
        /// Flow name.
        name: String,
    },
    /// A flow name that cannot name a flow file.
    #[error("flow name `{name}` must be letters, digits, `-` and `_` (it names the file `NAME.flow.json`)")]
    InvalidFlowName {
        /// The name given.
        name: String,
    },
    /// A flow of that name is already in the flows folder.
    #[error("a flow named `{name}` already exists in the flows folder — pick another name, or open that one")]
    FlowExists {
        /// The name.
        name: String,
    },
    /// A restore of something that is not a deleted flow.
    #[error("`{}` is not a deleted flow in the data home's trash — nothing was restored", path.display())]
    NotInTrash {
        /// The path given.
        path: PathBuf,
    },
    /// No such version of a flow.
    #[error("flow `{name}` has no version {version} — see `codexos flows history {name}`")]
    UnknownFlowVersion {
        /// Flow name.
        name: String,
        /// Version asked for.
        version: u32,
    },
    /// A run id prefix that fits several runs.
    #[error("`{prefix}` matches several runs ({}) — give more of the id", matches.join(", "))]
    AmbiguousRun {
        /// The prefix.
        prefix: String,
        /// Runs it matches.
        matches: Vec<String>,
    },
    /// A dataset, scorer, threshold or baseline cannot be used.
    #[error(transparent)]
    Eval(#[from] codexos_eval::Error),
    /// No dataset of that name in the data home, and no such file.
    #[error("no dataset `{name}` — give a .jsonl or .csv file, or one of: {}", if known.is_empty() { "(none yet: `codexos datasets add-run RUN --to NAME` starts one)".to_owned() } else { known.join(", ") })]
    UnknownDataset {
        /// What was asked for.
        name: String,
        /// The datasets the home has.
        known: Vec<String>,
    },
    /// No eval with that id (prefix), or several.
    #[error("{message}")]
    UnknownEval {
        /// Which and why.
        message: String,
    },
    /// An eval stopped before its end; what finished is stored.
    #[error("eval cancelled after {done} of {total} runs; what finished is stored as eval {id}")]
    EvalCancelled {
        /// The stored, partial eval.
        id: String,
        /// Runs that finished.
        done: u32,
        /// Runs it had to do.
        total: u32,
    },
    /// An eval that cannot start as asked.
    #[error("eval: {message}")]
    EvalSetup {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// An agent file is invalid.
    #[error("agent file `{}`: {message} — see docs/schema/agent.schema.json", path.display())]
    AgentFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// That agent version is already published.
    #[error("agent `{name}@{version}` is already published and published versions never change — bump `version` (e.g. to {next}) and publish again")]
    AgentExists {
        /// Name.
        name: String,
        /// Version.
        version: String,
        /// A free next version.
        next: String,
    },
    /// A paused run resumed without the answer its human node waits for.
    #[error("run `{run}` waits for a person at `{node}` — answer it: `codexos runs resume {run} --approve`, `--reject [REASON]` or `--answer JSON` (in the app: Approve or Reject)")]
    AnswerNeeded {
        /// Run id.
        run: String,
        /// The waiting node.
        node: String,
    },
    /// No such saved conversation.
    #[error("no conversation `{id}` in this data home — `codexos conversations list` shows them (in the app: the list beside the chat)")]
    UnknownConversation {
        /// The id given.
        id: String,
    },
    /// A chat turn that cannot be sent as asked.
    #[error("{message}")]
    InvalidTurn {
        /// What is wrong and what to do.
        message: String,
    },
    /// No such agent.
    #[error("no published agent `{reference}` — `codexos agents list` shows them; `codexos agents new NAME` starts one")]
    UnknownAgent {
        /// `name` or `name@version`.
        reference: String,
    },
    /// Retrieval failed.
    #[error(transparent)]
    Rag(#[from] codexos_rag::Error),
    /// A tool source of that name is configured already.
    #[error("a tool source named `{name}` is configured already — pick another name, or edit `[tools]` in config.toml")]
    ToolSourceExists {
        /// The name.
        name: String,
    },
    /// None of the files given could be ingested.
    #[error("nothing was ingested — {reasons}. CodexOS reads text, code, Markdown, JSON, HTML and PDF files; drop a folder to ingest all of its files")]
    NothingIngestible {
        /// Each file with its reason.
        reasons: String,
    },
    /// The project name single dropped files go into holds another folder.
    #[error("the project `files` holds the folder {root} — single dropped files go into a project of that name: remove that project (Projects → Remove…) or ingest that folder under another name (`codexos ingest FOLDER --project NAME`)")]
    FilesProjectTaken {
        /// The folder it holds.
        root: PathBuf,
    },
    /// A name that cannot name a tool source or provider.
    #[error("`{name}` cannot be a name here: use letters, digits, `-` and `_`")]
    InvalidSourceName {
        /// The name.
        name: String,
    },
    /// A line of an MCP server's environment is not `KEY=VALUE`.
    #[error("environment line {line} is not KEY=VALUE (write KEY=vault:SECRET for a secret from the vault)")]
    McpEnvLine {
        /// 1-based, among the non-blank lines.
        line: usize,
    },
    /// An MCP server's command line cannot be split.
    #[error("{}", if *.empty { "the command is empty — give the program and its arguments (`npx -y @modelcontextprotocol/server-everything`)" } else { "the command has an unclosed quote" })]
    McpCommand {
        /// Empty (else: an unclosed quote).
        empty: bool,
    },
    /// No configured tool source has that name.
    #[error("no `OpenAPI` spec or MCP server named `{name}` is configured ({known}) — Settings → Tools and `codexos tools list` show them")]
    UnknownToolSource {
        /// The name asked for.
        name: String,
        /// The configured names, or "none".
        known: String,
    },
    /// A provider (or model file) of that name exists already.
    #[error("`{name}` is taken already ({why}) — pick another name")]
    ProviderExists {
        /// The name.
        name: String,
        /// What holds it.
        why: String,
    },
    /// An OpenTelemetry endpoint that cannot be added as given.
    #[error("OTLP endpoint `{name}`: {message}")]
    InvalidOtlp {
        /// Its name.
        name: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// No `[[otlp]]` entry has that name.
    #[error("no OTLP endpoint named `{name}` in config.toml ({known}) — `codexos otel list` and Settings → Telemetry show them")]
    UnknownOtlp {
        /// The name asked for.
        name: String,
        /// The configured names, or "none".
        known: String,
    },
    /// An export to an OpenTelemetry endpoint failed (the runs wait).
    #[error(transparent)]
    Otlp(#[from] codexos_otel::Error),
    /// A provider that cannot be added as given.
    #[error("provider `{name}`: {message}")]
    InvalidProvider {
        /// Its name.
        name: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// No `[[providers]]` entry has that name.
    #[error("no provider named `{name}` in config.toml ({known}) — Settings → Providers and `codexos providers list` show them")]
    UnknownProvider {
        /// The name asked for.
        name: String,
        /// The configured names, or "none".
        known: String,
    },
    /// A tool failed, or was refused.
    #[error(transparent)]
    Tool(#[from] codexos_tools::Error),
    /// Local inference failed.
    #[error(transparent)]
    Llm(#[from] codexos_llm::Error),
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] codexos_vault::Error),
    /// A bundle is malformed, unsigned or tampered.
    #[error(transparent)]
    Bundle(#[from] codexos_bundle::Error),
    /// A bundle's content cannot be imported (or exported).
    #[error("bundle `{name}`: {message} — nothing was imported")]
    BundleContent {
        /// Bundle name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A valid signature by a key not on the trust list.
    #[error("the bundle `{name}` is signed by `{signer}` (fingerprint {fingerprint}), who is not on your trust list — nothing was imported; check that fingerprint with them, then `codexos keys trust FILE` or import with `--trust`")]
    UntrustedSigner {
        /// Bundle name.
        name: String,
        /// The name the signer gave.
        signer: String,
        /// The signer's fingerprint.
        fingerprint: String,
    },
    /// No signing keys yet.
    #[error("this data home has no signing key — make one with `codexos keys generate --name \"YOUR NAME\"`, or export with `--unsigned`")]
    NoSigningKey,
    /// Signing keys exist already.
    #[error("a signing key exists already (fingerprint {fingerprint}) — `--force` replaces it, and bundles you signed before then verify only for people who trusted the old key")]
    SigningKeyExists {
        /// The existing key's fingerprint.
        fingerprint: String,
    },
    /// No trusted signer has that fingerprint.
    #[error("no single trusted signer has a fingerprint starting with `{fingerprint}` — `codexos keys list` shows them")]
    UnknownSigner {
        /// The fingerprint given.
        fingerprint: String,
    },
    /// The metadata store failed.
    #[error(transparent)]
    Store(#[from] codexos_store::Error),
}

impl From<codexos_llm::GgufError> for Error {
    fn from(error: codexos_llm::GgufError) -> Self {
        match error {
            codexos_llm::GgufError::Io { path, source } => Self::Home { path, source },
            codexos_llm::GgufError::Invalid { path, reason } => {
                Self::Llm(codexos_llm::Error::NotGguf { path, reason })
            }
        }
    }
}

impl Error {
    #[expect(
        clippy::needless_pass_by_value,
        reason = "shaped for `.map_err(Error::task)`"
    )]
    pub(crate) fn task(error: tokio::task::JoinError) -> Self {
        Self::Task {
            message: error.to_string(),
        }
    }

    /// A stable, machine-readable code for this error.
    #[must_use]
    #[expect(clippy::too_many_lines, reason = "one arm per group of errors")]
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Llm(error) if error.is_context_overflow() => ErrorCode::ContextOverflow,
            Self::NoDataDir | Self::Home { .. } => ErrorCode::DataHome,
            Self::Config { .. } => ErrorCode::Config,
            Self::ModelMissing { .. }
            | Self::ModelChecksum { .. }
            | Self::Pull { .. }
            | Self::Rag(
                codexos_rag::Error::ModelFile { .. }
                | codexos_rag::Error::Runtime { .. }
                | codexos_rag::Error::ModelLoad { .. },
            )
            | Self::Llm(
                codexos_llm::Error::ModelMissing { .. }
                | codexos_llm::Error::ModelUnavailable { .. }
                | codexos_llm::Error::NotGguf { .. }
                | codexos_llm::Error::Load { .. }
                | codexos_llm::Error::Template { .. },
            ) => ErrorCode::Model,
            Self::Llm(codexos_llm::Error::Remote { .. } | codexos_llm::Error::Exhausted { .. })
            | Self::Otlp(
                codexos_otel::Error::Unreachable { .. } | codexos_otel::Error::Refused { .. },
            ) => ErrorCode::Provider,
            Self::UnknownProject { .. }
            | Self::Llm(codexos_llm::Error::UnknownProvider { .. })
            | Self::EmptyProject { .. }
            | Self::RevisionNotIndexed { .. }
            | Self::Rag(codexos_rag::Error::UnknownRevision { .. })
            | Self::NothingIngested
            | Self::Vault(codexos_vault::Error::NotFound { .. })
            | Self::UnknownFlow { .. }
            | Self::UnknownDataset { .. }
            | Self::UnknownEval { .. }
            | Self::UnknownFlowVersion { .. }
            | Self::NotInTrash { .. }
            | Self::UnknownAgent { .. }
            | Self::UnknownToolSource { .. }
            | Self::UnknownProvider { .. }
            | Self::UnknownOtlp { .. }
            | Self::UnknownConversation { .. }
            | Self::NoSigningKey
            | Self::UnknownSigner { .. }
            | Self::Tool(codexos_tools::Error::UnknownTool { .. })
            | Self::Flow(
                codexos_flow::Error::UnknownRun { .. }
                | codexos_flow::Error::UnknownNode { .. }
                | codexos_flow::Error::NodeNotRun { .. },
            )
            | Self::ModelNotInstalled { .. } => ErrorCode::NotFound,
            Self::InvalidProjectName { .. }
            | Self::ModelExists { .. }
            | Self::ModelInUse { .. }
            | Self::PathOutsideProject { .. }
            | Self::InvalidSince { .. }
            | Self::InvalidAnalytics { .. }
            | Self::InvalidEvalSet { .. }
            | Self::RevisionNeedsProject
            | Self::RerankerNotConfigured { .. }
            | Self::Llm(codexos_llm::Error::NoTools { .. })
            | Self::Rag(
                codexos_rag::Error::NotARepository { .. } | codexos_rag::Error::NotAFolder { .. },
            )
            | Self::Vault(
                codexos_vault::Error::InvalidName { .. }
                | codexos_vault::Error::WeakPassphrase
                | codexos_vault::Error::BadExport { .. }
                | codexos_vault::Error::ImportConflict { .. },
            )
            | Self::FlowFile { .. }
            | Self::Eval(_)
            | Self::EvalSetup { .. }
            | Self::AmbiguousRun { .. }
            | Self::AgentFile { .. }
            | Self::AgentExists { .. }
            | Self::InvalidFlowName { .. }
            | Self::FlowExists { .. }
            | Self::AnswerNeeded { .. }
            | Self::InvalidTurn { .. }
            | Self::ToolSourceExists { .. }
            | Self::ProviderExists { .. }
            | Self::InvalidSourceName { .. }
            | Self::InvalidProvider { .. }
            | Self::InvalidOtlp { .. }
            | Self::Otlp(codexos_otel::Error::Config { .. })
            | Self::McpEnvLine { .. }
            | Self::McpCommand { .. }
            | Self::NothingIngestible { .. }
            | Self::FilesProjectTaken { .. }
            | Self::BundleContent { .. }
            | Self::SigningKeyExists { .. }
            | Self::Bundle(
                codexos_bundle::Error::Malformed { .. } | codexos_bundle::Error::BadKey { .. },
            )
            | Self::Tool(
                codexos_tools::Error::InvalidArguments { .. }
                | codexos_tools::Error::Manifest { .. }
                | codexos_tools::Error::OpenApi { .. },
            )
            | Self::Flow(
                codexos_flow::Error::Json { .. }
                | codexos_flow::Error::Schema { .. }
                | codexos_flow::Error::Version { .. }
                | codexos_flow::Error::Check { .. }
                | codexos_flow::Error::NotResumable { .. }
                | codexos_flow::Error::NotRerunnable { .. }
                | codexos_flow::Error::StateType { .. }
                | codexos_flow::Error::UnknownState { .. },
            ) => ErrorCode::InvalidInput,
            Self::Rag(codexos_rag::Error::Cancelled)
            | Self::Llm(codexos_llm::Error::Cancelled)
            | Self::Tool(codexos_tools::Error::Cancelled { .. })
            | Self::EvalCancelled { .. } => ErrorCode::Cancelled,
            Self::Tool(
                codexos_tools::Error::Denied { .. }
                | codexos_tools::Error::NotApproved { .. }
                | codexos_tools::Error::Offline { .. }
                | codexos_tools::Error::NoSandbox { .. },
            )
            | Self::Otlp(codexos_otel::Error::Offline(_)) => ErrorCode::Refused,
            Self::Tool(_) => ErrorCode::Tool,
            Self::Vault(
                codexos_vault::Error::KeychainUnavailable { .. }
                | codexos_vault::Error::MasterKeyMissing { .. }
                | codexos_vault::Error::MasterKeyCorrupt { .. }
                | codexos_vault::Error::Keychain { .. }
                | codexos_vault::Error::Locked
                | codexos_vault::Error::WrongPassphrase { .. },
            ) => ErrorCode::Keychain,
            Self::Vault(codexos_vault::Error::Tampered { .. })
            | Self::Bundle(codexos_bundle::Error::Tampered { .. }) => ErrorCode::Tampered,
            Self::Bundle(codexos_bundle::Error::Unsigned { .. }) | Self::UntrustedSigner { .. } => {
                ErrorCode::Refused
            }
            _ => ErrorCode::Internal,
        }
    }
}

/// Stable error codes, shared by the CLI's JSON output and the app's IPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The data home is unusable.
    DataHome,
    /// `config.toml` is invalid.
    Config,
    /// A model is missing, corrupt or unloadable.
    Model,
    /// Something named does not exist.
    NotFound,
    /// The input is invalid.
    InvalidInput,
    /// The prompt does not fit the context window.
    ContextOverflow,
    /// No provider of the LLM policy could answer (offline, down, refused).
    Provider,
    /// The operation was cancelled.
    Cancelled,
    /// The OS keychain is unreachable or lost its key.
    Keychain,
    /// Stored ciphertext failed authentication.
    Tampered,
    /// A tool was denied, not approved, or cannot run here (offline, no sandbox).
    Refused,
    /// A tool ran and failed.
    Tool,
    /// Anything else.
    Internal,
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
