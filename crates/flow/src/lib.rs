//! `codexos-flow`: flows — the typed flow file ([`model`]), the check
//! before a run ([`mod@check`]), and the orchestrator that runs a flow in
//! supersteps with real concurrency, checkpoints every node, records every
//! call and replays it ([`exec`], [`record`]).
//!
//! It sits above nothing but its own ports ([`ports`]): the runtime
//! implements them on the LLM router, the RAG engine, the tools, the store
//! and the vault; tests and benchmarks use [`memory::MemoryLog`].
//!
//! ```no_run
//! # async fn demo(executor: codexos_flow::exec::Executor) -> codexos_flow::Result<()> {
//! let flow = codexos_flow::model::parse(r#"{"version": 2, "name": "hello",
//!   "state": {"n": "number"},
//!   "nodes": [{"id": "set", "kind": "transform", "set": {"n": "1 + 1"}},
//!             {"id": "out", "kind": "output", "keys": ["n"]}],
//!   "edges": [{"from": "set", "to": "out"}]}"#)?;
//! let outcome = executor
//!     .start(flow.into(), None, serde_json::json!({}), Default::default(), Default::default())
//!     .await?;
//! assert_eq!(outcome.output["n"], 2);
//! # Ok(()) }
//! ```

mod budget;
pub mod check;
pub mod event;
pub mod exec;
pub mod expr;
mod json;
pub mod memory;
pub mod model;
pub mod ports;
pub mod record;
pub mod taint;

pub use check::{check, Problem, Severity};
pub use event::{EventKind, RunEvent};
pub use exec::{rerunnable, Executor, Ports, RunOptions, RunOutcome};
pub use json::JsonValue;
pub use model::{
    parse, Budget, BudgetAction, Flow, ForkOrigin, Node, NodeKind, ToolPermission, ValueType,
    FLOW_VERSION,
};
pub use ports::RunStatus;

use std::path::PathBuf;

/// Errors of flows and runs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The flow file is not JSON.
    #[error("the flow file is not valid JSON (line {line}, column {column}): {message}")]
    Json {
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// Parser message.
        message: String,
    },
    /// The JSON does not follow the flow schema.
    #[error("{}{message} — see docs/schema/flow.schema.json", node.as_ref().map(|node| format!("node `{node}`: ")).unwrap_or_default())]
    Schema {
        /// The node at fault, when known.
        node: Option<String>,
        /// What does not fit.
        message: String,
    },
    /// The `version` field is missing or not one this build reads.
    #[error("{}", match found { Some(version) => format!("flow-file version {version} is not supported (this CodexOS reads versions 1 to {}) — upgrade CodexOS", model::FLOW_VERSION), None => format!("the flow file has no `version` field — add `\"version\": {}`", model::FLOW_VERSION) })]
    Version {
        /// The version found.
        found: Option<u64>,
    },
    /// A flow file could not be read or written.
    #[error("cannot access flow file `{path}`: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The check found errors; the flow does not start.
    #[error("the flow `{flow}` has {} error(s); it was not started:\n{}", problems.iter().filter(|p| p.severity == Severity::Error).count(), problems.iter().filter(|p| p.severity == Severity::Error).map(|p| format!("  {}: {} — {}", p.node.as_deref().unwrap_or("flow"), p.message, p.fix)).collect::<Vec<_>>().join("\n"))]
    Check {
        /// Flow name.
        flow: String,
        /// What the check found.
        problems: Vec<Problem>,
    },
    /// No run with this id.
    #[error("no run `{id}` — see `codexos runs list`")]
    UnknownRun {
        /// Run id.
        id: String,
    },
    /// An ask or chat turn kept as a run: there is no flow to run again.
    #[error("run `{id}` is a recorded {exchange}, kept for its trace; it cannot be resumed, forked or replayed — {exchange} again instead")]
    NotRerunnable {
        /// Run id.
        id: String,
        /// `ask` or `chat`.
        exchange: String,
    },
    /// The run finished; nothing to resume.
    #[error("run `{id}` is {status}; only unfinished runs resume — fork it to run again (`codexos runs fork {id} --from NODE`)")]
    NotResumable {
        /// Run id.
        id: String,
        /// Its status.
        status: String,
    },
    /// The flow has no such node.
    #[error("flow `{flow}` has no node `{node}`")]
    UnknownNode {
        /// Node id.
        node: String,
        /// Flow name.
        flow: String,
    },
    /// A fork from a node the run never reached.
    #[error("node `{node}` never ran in run `{run}`, so there is no checkpoint to fork from — pick a node listed by `codexos runs show {run}`")]
    NodeNotRun {
        /// Node id.
        node: String,
        /// Run id.
        run: String,
    },
    /// An edited value does not fit its state key.
    #[error("`{key}` is declared {expected}; the value given for node `{node}` is not")]
    StateType {
        /// Node.
        node: String,
        /// State key.
        key: String,
        /// Declared type.
        expected: String,
    },
    /// An edit names a key the flow does not declare.
    #[error("`{key}` is not a state key of this flow")]
    UnknownState {
        /// State key.
        key: String,
    },
    /// Storing the run failed.
    #[error("cannot store the run: {message}")]
    Store {
        /// Cause.
        message: String,
    },
    /// A value could not be encoded or decoded.
    #[error("cannot encode the run: {message}")]
    Encode {
        /// Cause.
        message: String,
    },
}

impl Error {
    pub(crate) fn store(error: ports::PortError) -> Self {
        Self::Store {
            message: error.message,
        }
    }

    #[expect(
        clippy::needless_pass_by_value,
        reason = "shaped for `.map_err(Error::encode)`"
    )]
    pub(crate) fn encode(error: serde_json::Error) -> Self {
        Self::Encode {
            message: error.to_string(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
