//! What the orchestrator needs from the rest of CodexOS, as traits. The
//! runtime implements them on the real router, RAG engine, tool host, store
//! and vault; [`crate::record`] wraps them to record and replay every call.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::event::RunEvent;

/// A chat message for [`Model`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text.
    pub content: String,
    /// For an assistant turn: the tool calls it made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool result: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A message with text only.
    #[must_use]
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Self {
            role: role.to_owned(),
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// A tool a model may call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Tool name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: Value,
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Call id.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Arguments.
    pub arguments: Value,
}

/// One model request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRequest {
    /// Model or provider name; the policy's when absent.
    pub model: Option<String>,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Tools offered.
    pub tools: Vec<ToolSpec>,
    /// When set, the answer is a JSON object following this schema.
    pub output_schema: Option<Value>,
    /// Length limit.
    pub max_tokens: Option<u32>,
    /// Temperature.
    pub temperature: Option<f32>,
    /// Where the call sits in its run's trace, for the W3C `traceparent`
    /// sent to remote providers. Not recorded: a replay or a comparison of
    /// two runs matches calls without it.
    #[serde(skip)]
    pub trace: Option<CallTrace>,
}

/// A model call's place in its run's trace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallTrace {
    /// Run id.
    pub run: String,
    /// Sequence number of the event that started the node's attempt (its
    /// span's id is derived from it).
    pub node_seq: u64,
    /// The caller's `traceparent` the run joined, when it was started by a
    /// traced request.
    pub parent: Option<String>,
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReply {
    /// Text (empty when only tools were called).
    pub text: String,
    /// The structured answer when an output schema was given.
    pub value: Option<Value>,
    /// Tool calls.
    pub tool_calls: Vec<ToolCall>,
    /// Provider that answered.
    pub provider: String,
    /// Model that answered.
    pub model: String,
    /// Tokens, time and cost (absent in recordings made before usage was
    /// recorded).
    #[serde(default)]
    pub usage: CallUsage,
}

/// Tokens, time and cost of one model call, every router attempt included.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(default)]
pub struct CallUsage {
    /// Prompt tokens of the answering attempt.
    #[specta(type = u32)]
    pub prompt_tokens: u64,
    /// Of those, tokens served from a cache.
    #[specta(type = u32)]
    pub cached_tokens: u64,
    /// Generated tokens.
    #[specta(type = u32)]
    pub completion_tokens: u64,
    /// Milliseconds to the first token of the answer.
    #[specta(type = Option<u32>)]
    pub first_token_ms: Option<u64>,
    /// Milliseconds from the request to the end of the answer (failed
    /// attempts before it included).
    #[specta(type = u32)]
    pub latency_ms: u64,
    /// Dollars, when every remote attempt that used tokens is priced.
    pub cost_usd: Option<f64>,
    /// A remote attempt used tokens and has no price (`[[prices]]` in
    /// config.toml gives it one).
    pub unpriced: bool,
    /// Milliseconds a local model computed.
    #[specta(type = u32)]
    pub compute_ms: u64,
    /// Every provider tried, in order.
    pub attempts: Vec<AttemptUsage>,
    /// Answered from a recording (an eval's replay): the tokens and cost
    /// are the recorded call's, not spent again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
}

/// One provider the router tried for a model call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(default)]
pub struct AttemptUsage {
    /// Provider name.
    pub provider: String,
    /// Model asked for.
    pub model: String,
    /// `ok`, `skipped` or `failed`.
    pub outcome: String,
    /// Why it was skipped or failed.
    pub detail: Option<String>,
    /// Milliseconds it took.
    #[specta(type = u32)]
    pub latency_ms: u64,
    /// Milliseconds to its first token.
    #[specta(type = Option<u32>)]
    pub first_token_ms: Option<u64>,
    /// Prompt tokens.
    #[specta(type = u32)]
    pub prompt_tokens: u64,
    /// Generated tokens.
    #[specta(type = u32)]
    pub completion_tokens: u64,
    /// Dollars (remote and priced only).
    pub cost_usd: Option<f64>,
}

/// A port failure, with the message the run shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortError {
    /// What failed and what to do.
    pub message: String,
}

impl PortError {
    /// An error with this message.
    #[must_use]
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for PortError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

/// Result of a port call.
pub type PortResult<T> = std::result::Result<T, PortError>;

/// Streams text pieces of an answer while it is generated.
pub type TokenSink<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// Language models (the LLM router).
#[async_trait]
pub trait Model: Send + Sync {
    /// Answers one request, streaming text to `on_token`.
    async fn complete(
        &self,
        request: &ModelRequest,
        on_token: TokenSink<'_>,
        cancel: &CancellationToken,
    ) -> PortResult<ModelReply>;
}

/// How a tool call came about: what the tool host may put in, and what it
/// must ask about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolUse {
    /// Vault secrets the flow's author wrote into this node's arguments
    /// (`vault://NAME`): the host puts their values in after the policy
    /// check, at call time, and takes them back out of the result. A model's
    /// calls never carry any, so a model cannot ask for a secret.
    pub secrets: Vec<String>,
    /// Why the arguments may come from untrusted content (retrieved text,
    /// tool output), when they may: the call then needs a person's approval
    /// unless the tool is `allow`.
    pub untrusted: Option<String>,
}

/// Tools.
#[async_trait]
pub trait Tools: Send + Sync {
    /// The tool's description for a model, if the tool exists.
    fn spec(&self, name: &str) -> Option<ToolSpec>;
    /// Calls a tool.
    async fn call(
        &self,
        name: &str,
        arguments: &Value,
        using: &ToolUse,
        cancel: &CancellationToken,
    ) -> PortResult<Value>;
}

/// Retrieval over ingested projects.
#[async_trait]
pub trait Retriever: Send + Sync {
    /// The `k` best hits for `query`, as JSON objects.
    async fn search(&self, query: &str, project: Option<&str>, k: u32) -> PortResult<Vec<Value>>;
}

/// Long-term memory.
pub trait Memory: Send + Sync {
    /// Stores a value.
    fn write(&self, namespace: &str, key: &str, value: &str) -> PortResult<()>;
    /// Reads the value under a key.
    fn read(&self, namespace: &str, key: &str) -> PortResult<Option<String>>;
    /// The best matches for a query.
    fn search(&self, namespace: &str, query: &str, k: u32) -> PortResult<Vec<Value>>;
}

/// A published sub-agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, specta::Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "CodexOS agent")]
pub struct AgentSpec {
    /// Link to the schema, for editors (ignored).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Agent name.
    pub name: String,
    /// Semantic version (`1.2.0`).
    pub version: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// System prompt.
    pub system: String,
    /// Tools it may call.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Project searched for context before it starts (none when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_project: Option<String>,
    /// Model or provider; the policy's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Model calls at most.
    #[serde(default = "default_steps")]
    pub max_steps: u32,
    /// Whether it remembers its past tasks and answers (memory namespace = name).
    #[serde(default)]
    pub memory: bool,
}

impl AgentSpec {
    /// Whether it reads content nobody vouched for (tool output, its
    /// project's documents, its memories) in the course of a task.
    #[must_use]
    pub fn reads_untrusted_content(&self) -> bool {
        !self.tools.is_empty() || self.context_project.is_some() || self.memory
    }
}

fn default_steps() -> u32 {
    4
}

/// Runs another flow file (the `subflow` node).
#[async_trait]
pub trait Subflows: Send + Sync {
    /// Runs the flow at `path` (relative paths are resolved by the caller)
    /// with `input`; returns its output.
    async fn run(&self, path: &str, input: Value, cancel: &CancellationToken) -> PortResult<Value>;
}

/// What exists, for the check before a run.
pub trait Catalog: Send + Sync {
    /// Whether a model or provider name is known.
    fn has_model(&self, name: &str) -> bool;
    /// Whether the model (the policy's when `None`) can call tools; `None`
    /// when unknown.
    fn model_calls_tools(&self, name: Option<&str>) -> Option<bool>;
    /// Whether a tool exists.
    fn has_tool(&self, name: &str) -> bool;
    /// Whether a vault secret exists.
    fn has_secret(&self, name: &str) -> bool;
    /// A published agent.
    fn agent(&self, name: &str, version: &str) -> Option<AgentSpec>;
    /// Published versions of an agent, oldest first.
    fn agent_versions(&self, name: &str) -> Vec<String>;
    /// Whether a project exists.
    fn has_project(&self, name: &str) -> bool;
}

/// Stored state of a run, written by the executor and read to resume,
/// replay and fork.
pub trait RunLog: Send + Sync {
    /// A new run starts.
    fn begin(&self, run: &RunHeader) -> PortResult<()>;
    /// Events that are not part of a node's completion.
    fn events(&self, run_id: &str, events: &[RunEvent]) -> PortResult<()>;
    /// A node finished: its checkpoint and its events, in one transaction.
    fn node_done(&self, run_id: &str, record: &NodeRecord, events: &[RunEvent]) -> PortResult<()>;
    /// One recorded model, tool, retrieval, memory or human call.
    fn call(&self, run_id: &str, call: &CallRecord) -> PortResult<()>;
    /// The run's status changes.
    fn status(&self, run_id: &str, status: RunStatus, detail: &Value) -> PortResult<()>;
    /// The sequence number the run's next event gets (0 for a new run).
    fn next_seq(&self, run_id: &str) -> PortResult<u64>;
    /// Everything stored about a run.
    fn load(&self, run_id: &str) -> PortResult<Option<StoredRun>>;
}

/// How a run started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    /// Run id.
    pub id: String,
    /// Flow name.
    pub flow: String,
    /// The flow as run.
    pub flow_json: Value,
    /// Path of the flow file, when it came from one.
    pub flow_path: Option<String>,
    /// The run's input.
    pub input: Value,
    /// Run this one was forked from, with the node.
    pub forked_from: Option<(String, String)>,
    /// State and frontier a forked run starts from.
    pub start: Option<Checkpoint>,
    /// The budget given for this run in place of the flow's (a resume keeps
    /// it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::model::Budget>,
    /// The W3C `traceparent` of the request that started the run: its
    /// spans join that trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_parent: Option<String>,
    /// An ask or a chat turn kept as a run for its trace (`ask` or `chat`):
    /// its flow only describes what happened, so it does not run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
}

/// State and next nodes at a step boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Step number of the frontier.
    pub step: u64,
    /// The state.
    pub state: BTreeMap<String, Value>,
    /// Nodes to run at `step`.
    pub frontier: Vec<String>,
}

/// A node's completion: what it wrote and where the run goes next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Step (superstep) number.
    pub step: u64,
    /// Node id.
    pub node: String,
    /// State keys written.
    pub writes: BTreeMap<String, Value>,
    /// Nodes it sends the run to.
    pub next: Vec<String>,
    /// The run's output, for an `output` node.
    pub output: Option<Value>,
}

/// A recorded call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Node path (`map/3` for a parallel item).
    pub node: String,
    /// Index of the call within the node's attempt.
    pub index: u32,
    /// `model`, `tool`, `retrieve`, `memory`, `human` or `subflow`.
    pub kind: String,
    /// sha256 of the canonical request.
    pub request_hash: String,
    /// The request.
    pub request: Value,
    /// The response (`{"ok": …}` or `{"error": …}`).
    pub response: Value,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Working (or killed while working: resumable).
    Running,
    /// Waiting for a person.
    Paused,
    /// Finished.
    Succeeded,
    /// Stopped by an error.
    Failed,
    /// Stopped by the user.
    Cancelled,
}

impl RunStatus {
    /// The status's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a stored status.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Running,
            Self::Paused,
            Self::Succeeded,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRun {
    /// How it started.
    pub header: RunHeader,
    /// Current status.
    pub status: RunStatus,
    /// Node completions in order.
    pub nodes: Vec<NodeRecord>,
    /// Recorded calls.
    pub calls: Vec<CallRecord>,
    /// Every stored event in order.
    pub events: Vec<RunEvent>,
}

impl StoredRun {
    /// The node a paused run waits at (named by its last `runPaused` event).
    #[must_use]
    pub fn waiting(&self) -> Option<&str> {
        if self.status != RunStatus::Paused {
            return None;
        }
        self.events
            .iter()
            .rev()
            .find_map(|event| match &event.event {
                crate::EventKind::RunPaused { waiting } => Some(waiting.as_str()),
                _ => None,
            })
    }
}
