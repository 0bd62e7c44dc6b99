//! The crate's error type.

use std::path::PathBuf;

/// What went wrong with a tool, named by the tool (or its source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No tool by that name.
    #[error("no tool `{name}`{hint} — `codexos tools list` shows the tools")]
    UnknownTool {
        /// The name asked for.
        name: String,
        /// ", did you mean `…`?" or empty.
        hint: String,
    },
    /// The arguments do not follow the tool's schema.
    #[error("`{tool}`: the arguments do not follow its schema — {problems}")]
    InvalidArguments {
        /// Tool.
        tool: String,
        /// Each problem with its JSON path.
        problems: String,
    },
    /// The policy denies the tool.
    #[error("`{tool}` is denied by the tool policy ({rule}) — change that rule with `codexos tools permit RULE ask` (in the app: Settings → Tools), or in the flow's `permissions`")]
    Denied {
        /// Tool.
        tool: String,
        /// Which rule decided.
        rule: String,
    },
    /// The user (or the lack of one) did not approve the call.
    #[error("`{tool}` was not approved: {reason}")]
    NotApproved {
        /// Tool.
        tool: String,
        /// Why.
        reason: String,
    },
    /// The tool ran and failed.
    #[error("`{tool}` failed: {message}")]
    Failed {
        /// Tool.
        tool: String,
        /// What it reported.
        message: String,
    },
    /// The tool ran out of time.
    #[error("`{tool}` timed out after {seconds} s (its `timeout` limit)")]
    TimedOut {
        /// Tool.
        tool: String,
        /// The limit.
        seconds: u64,
    },
    /// The call was cancelled.
    #[error("`{tool}` was cancelled")]
    Cancelled {
        /// Tool.
        tool: String,
    },
    /// The tool needs the network and CodexOS is offline.
    #[error("`{tool}` needs the network and CodexOS is in offline mode — turn offline mode off (`offline` in config.toml, `--offline`, the app's switch) to use it")]
    Offline {
        /// Tool.
        tool: String,
    },
    /// A `tool.toml` manifest is invalid.
    #[error("tool manifest `{path}`: {message}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// An `OpenAPI` spec could not be read or used.
    #[error("OpenAPI spec `{spec}`: {message}")]
    OpenApi {
        /// File or URL.
        spec: String,
        /// What is wrong.
        message: String,
    },
    /// An MCP server failed.
    #[error("MCP server `{server}`: {message}")]
    Mcp {
        /// Server name from the config.
        server: String,
        /// What failed.
        message: String,
    },
    /// A program could not be started.
    #[error("`{tool}`: cannot start `{program}`: {source}")]
    Spawn {
        /// Tool.
        tool: String,
        /// Program.
        program: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The sandbox is not available and the tool may not run unconfined.
    #[error("`{tool}` runs programs, and the sandbox is unavailable: {reason}")]
    NoSandbox {
        /// Tool.
        tool: String,
        /// Why, and the fix.
        reason: String,
    },
    /// A vault secret the tool needs is missing.
    #[error("`{tool}` needs the vault secret `{name}`: {message} — store it with `codexos vault set {name}`")]
    Secret {
        /// Tool.
        tool: String,
        /// Secret name.
        name: String,
        /// Cause.
        message: String,
    },
}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A failure of `tool`.
    pub(crate) fn failed(tool: &str, message: impl Into<String>) -> Self {
        Self::Failed {
            tool: tool.to_owned(),
            message: message.into(),
        }
    }
}
