//! The flow engine's ports on the real parts: the LLM router, the RAG
//! engine, the store (runs, memory, agents) and the built-in tools.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use codexos_flow::ports::{
    AgentSpec, AttemptUsage, CallRecord, CallUsage, Catalog, Memory, Model, ModelReply,
    ModelRequest, NodeRecord, PortError, PortResult, Retriever, RunHeader, RunLog, RunStatus,
    StoredRun, Subflows, TokenSink, ToolSpec, ToolUse, Tools,
};
use codexos_flow::{EventKind, RunEvent};
use codexos_llm::{ChatMessage, Role, ToolChoice};
use codexos_store::analytics::SpanFact;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::{models, ChatOptions, Runtime, SearchMode, SearchRequest};

fn port(error: impl std::fmt::Display) -> PortError {
    PortError::new(error.to_string())
}

/// The LLM router as the flow's model.
pub(crate) struct RouterModel(pub(crate) Arc<Runtime>);

/// The tool a structured answer is requested through.
const ANSWER_TOOL: &str = "answer";

/// Tool names as the providers accept them: OpenAI and Anthropic take only
/// `[a-zA-Z0-9_-]{1,64}`, and CodexOS names tools `fs.read` or
/// `github.search_issues`. Each name of a request gets a unique wire name
/// (`fs_read`), and the calls in the reply are mapped back.
struct WireNames(Vec<(String, String)>);

impl WireNames {
    fn new<'a>(names: impl Iterator<Item = &'a str>) -> Self {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for name in names {
            let mut wire: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .take(60)
                .collect();
            if wire.is_empty() {
                wire.push_str("tool");
            }
            let base = wire.clone();
            let mut suffix = 2;
            while pairs
                .iter()
                .any(|(known, original)| *known == wire && original != name)
            {
                wire = format!("{base}_{suffix}");
                suffix += 1;
            }
            if !pairs.iter().any(|(_, original)| original == name) {
                pairs.push((wire, name.to_owned()));
            }
        }
        Self(pairs)
    }

    fn wire(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(_, original)| original == name)
            .map_or_else(|| name.to_owned(), |(wire, _)| wire.clone())
    }

    fn original(&self, wire: &str) -> String {
        self.0
            .iter()
            .find(|(known, _)| known == wire)
            .map_or_else(|| wire.to_owned(), |(_, original)| original.clone())
    }
}

#[async_trait]
impl Model for RouterModel {
    async fn complete(
        &self,
        request: &ModelRequest,
        on_token: TokenSink<'_>,
        cancel: &CancellationToken,
    ) -> PortResult<ModelReply> {
        let names = WireNames::new(
            request.tools.iter().map(|tool| tool.name.as_str()).chain(
                request
                    .messages
                    .iter()
                    .flat_map(|message| message.tool_calls.iter().map(|call| call.name.as_str())),
            ),
        );
        let messages = chat_messages(request, &names);
        let mut tools: Vec<codexos_llm::ToolSpec> = request
            .tools
            .iter()
            .map(|tool| codexos_llm::ToolSpec {
                name: names.wire(&tool.name),
                description: tool.description.clone(),
                parameters: tool.parameters.clone(),
            })
            .collect();
        let mut tool_choice = ToolChoice::Auto;
        if let Some(schema) = &request.output_schema {
            tools = vec![codexos_llm::ToolSpec {
                name: ANSWER_TOOL.into(),
                description: "Give the answer in this structure.".into(),
                parameters: schema.clone(),
            }];
            tool_choice = ToolChoice::Required;
        }
        let options = ChatOptions {
            model: request.model.clone(),
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            tool_choice,
            trace_parent: request.trace.as_ref().map(|trace| {
                codexos_otel::spans::call_trace_parent(
                    &trace.run,
                    trace.node_seq,
                    trace.parent.as_deref(),
                )
                .to_string()
            }),
        };
        let completion = self
            .0
            .chat_to_end(messages, tools, &options, on_token, cancel)
            .await
            .map_err(port)?;
        let mut calls: Vec<codexos_flow::ports::ToolCall> = completion
            .tool_calls
            .iter()
            .map(|call| codexos_flow::ports::ToolCall {
                id: call.id.clone(),
                name: if request.output_schema.is_some() {
                    call.name.clone()
                } else {
                    names.original(&call.name)
                },
                arguments: serde_json::from_str(&call.arguments)
                    .unwrap_or(Value::String(call.arguments.clone())),
            })
            .collect();
        let mut value = None;
        if request.output_schema.is_some() {
            value = calls
                .iter()
                .find(|call| call.name == ANSWER_TOOL)
                .map(|call| call.arguments.clone())
                .or_else(|| serde_json::from_str(completion.text.trim()).ok())
                .filter(Value::is_object);
            if value.is_none() {
                return Err(PortError::new(format!(
                    "{} gave no answer in the requested structure — try a larger model",
                    completion.model
                )));
            }
            calls.clear();
        }
        Ok(ModelReply {
            usage: call_usage(&completion, &self.0.price_table()),
            text: completion.text,
            value,
            tool_calls: calls,
            provider: completion.provider,
            model: completion.model,
        })
    }
}

/// The flow's messages as the router's, tool names made wire-safe.
fn chat_messages(request: &ModelRequest, names: &WireNames) -> Vec<ChatMessage> {
    request
        .messages
        .iter()
        .map(|message| {
            let role = match message.role.as_str() {
                "system" => Role::System,
                "assistant" => Role::Assistant,
                "tool" => Role::Tool,
                _ => Role::User,
            };
            ChatMessage {
                role,
                content: message.content.clone(),
                tool_calls: message
                    .tool_calls
                    .iter()
                    .map(|call| codexos_llm::ToolCall {
                        id: call.id.clone(),
                        name: names.wire(&call.name),
                        arguments: call.arguments.to_string(),
                    })
                    .collect(),
                tool_call_id: message.tool_call_id.clone(),
            }
        })
        .collect()
}

/// Tokens, time and cost of a finished completion, from its router
/// attempts: remote ones priced by `prices`, local ones counted as compute
/// time. The cost is unknown (none) when a remote attempt that used tokens
/// has no price, never silently zero.
pub(crate) fn call_usage(
    completion: &codexos_llm::Completion,
    prices: &codexos_llm::PriceTable,
) -> CallUsage {
    let mut usage = CallUsage {
        prompt_tokens: completion.prompt_tokens.into(),
        cached_tokens: completion.cached_tokens.into(),
        completion_tokens: completion.completion_tokens.into(),
        first_token_ms: Some(completion.first_token_ms.into()),
        ..CallUsage::default()
    };
    let (mut dollars, mut any_priced, mut unpriced) = (0.0, false, false);
    for attempt in &completion.attempts {
        let cost = prices.cost(attempt);
        if attempt.remote && attempt.prompt_tokens + attempt.completion_tokens > 0 {
            match cost {
                Some(value) => (dollars, any_priced) = (dollars + value, true),
                None => unpriced = true,
            }
        }
        if !attempt.remote {
            usage.compute_ms += u64::from(attempt.latency_ms);
        }
        usage.latency_ms += u64::from(attempt.latency_ms);
        let (outcome, detail) = match &attempt.outcome {
            codexos_llm::Outcome::Ok => ("ok", None),
            codexos_llm::Outcome::Skipped(why) => ("skipped", Some(why.clone())),
            codexos_llm::Outcome::Failed(why) => ("failed", Some(why.clone())),
        };
        usage.attempts.push(AttemptUsage {
            provider: attempt.provider.clone(),
            model: attempt.model.clone(),
            outcome: outcome.to_owned(),
            detail,
            latency_ms: attempt.latency_ms.into(),
            first_token_ms: attempt.first_token_ms.map(u64::from),
            prompt_tokens: attempt.prompt_tokens.into(),
            completion_tokens: attempt.completion_tokens.into(),
            cost_usd: cost,
        });
    }
    if completion.attempts.is_empty() {
        usage.latency_ms = completion.elapsed_ms.into();
    }
    usage.cost_usd = (any_priced && !unpriced).then_some(dollars);
    usage.unpriced = unpriced;
    usage
}

/// Hybrid search over the ingested projects.
pub(crate) struct Search(pub(crate) Arc<Runtime>);

#[async_trait]
impl Retriever for Search {
    async fn search(&self, query: &str, project: Option<&str>, k: u32) -> PortResult<Vec<Value>> {
        let hits = self
            .0
            .search(query, &SearchRequest::new(k, SearchMode::Hybrid, project))
            .await
            .map_err(port)?;
        hits.iter()
            .map(|hit| serde_json::to_value(hit).map_err(port))
            .collect()
    }
}

/// Long-term memory in the store (full-text search).
pub(crate) struct StoreMemory(pub(crate) Arc<Runtime>);

impl Memory for StoreMemory {
    fn write(&self, namespace: &str, key: &str, value: &str) -> PortResult<()> {
        self.0.store.remember(namespace, key, value).map_err(port)
    }
    fn read(&self, namespace: &str, key: &str) -> PortResult<Option<String>> {
        self.0.store.recall(namespace, key).map_err(port)
    }
    fn search(&self, namespace: &str, query: &str, k: u32) -> PortResult<Vec<Value>> {
        Ok(self
            .0
            .store
            .search_memory(namespace, query, k)
            .map_err(port)?
            .into_iter()
            .map(|(key, value, score)| serde_json::json!({ "key": key, "value": value, "score": score }))
            .collect())
    }
}

/// Runs in the store.
pub(crate) struct StoreLog(pub(crate) Arc<codexos_store::Store>);

fn encode(value: &impl serde::Serialize) -> PortResult<String> {
    serde_json::to_string(value).map_err(port)
}

/// The analytics facts of stored events: a run's end, a top-level node's
/// completion or final failure, and every model call (see the store's
/// `analytics`; its upgrade SQL derives the same from stored JSON).
pub(crate) fn span_facts(events: &[RunEvent]) -> Vec<SpanFact> {
    let mut facts = Vec::new();
    for event in events {
        let path = event.node.as_deref().unwrap_or_default();
        let top = path.split('/').next().unwrap_or_default();
        let own = !path.contains('/');
        let fact = |kind: &'static str, ok: u8, latency_ms: Option<u64>| SpanFact {
            seq: event.seq,
            at_ms: event.at_ms,
            kind,
            node: top.to_owned(),
            provider: String::new(),
            model: String::new(),
            ok,
            latency_ms,
            tokens_in: 0,
            tokens_out: 0,
            cached: 0,
            cost_usd: None,
            unpriced: false,
            fallbacks: 0,
        };
        match &event.event {
            EventKind::NodeFinished { duration_ms, .. } if own => {
                facts.push(fact("node", 1, Some(*duration_ms)));
            }
            EventKind::NodeFailed {
                retrying: false, ..
            } if own => facts.push(fact("node", 0, None)),
            EventKind::RunFinished { status, .. } => {
                let ok = match status.as_str() {
                    "succeeded" => 1,
                    "failed" => 0,
                    _ => 2,
                };
                facts.push(fact("run", ok, None));
            }
            // A replayed call spent nothing: its time counts, not its
            // recorded tokens and cost.
            EventKind::ModelCall {
                provider,
                model,
                usage,
            } if usage.replayed => facts.push(SpanFact {
                provider: provider.clone(),
                model: model.clone(),
                ..fact("model", 1, Some(usage.latency_ms))
            }),
            EventKind::ModelCall {
                provider,
                model,
                usage,
            } => facts.push(SpanFact {
                provider: provider.clone(),
                model: model.clone(),
                tokens_in: usage.prompt_tokens,
                tokens_out: usage.completion_tokens,
                cached: usage.cached_tokens,
                cost_usd: usage.cost_usd,
                unpriced: usage.unpriced,
                fallbacks: u32::try_from(
                    usage
                        .attempts
                        .iter()
                        .filter(|attempt| attempt.outcome != "ok")
                        .count(),
                )
                .unwrap_or(u32::MAX),
                ..fact("model", 1, Some(usage.latency_ms))
            }),
            _ => {}
        }
    }
    facts
}

fn encode_events(events: &[RunEvent]) -> PortResult<Vec<(u64, String)>> {
    events
        .iter()
        .map(|event| Ok((event.seq, encode(event)?)))
        .collect()
}

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> PortResult<T> {
    serde_json::from_str(text)
        .map_err(|error| PortError::new(format!("a stored run record cannot be read: {error}")))
}

fn decode_all<T: serde::de::DeserializeOwned>(texts: &[String]) -> PortResult<Vec<T>> {
    texts.iter().map(|text| decode(text)).collect()
}

/// A stored run's rows as the engine's record of it.
pub(crate) fn decode_run(row: &codexos_store::RunRow) -> PortResult<StoredRun> {
    Ok(StoredRun {
        header: decode(&row.header)?,
        status: RunStatus::parse(&row.summary.status).unwrap_or(RunStatus::Failed),
        nodes: decode_all(&row.nodes)?,
        calls: decode_all(&row.calls)?,
        events: decode_all(&row.events)?,
    })
}

impl RunLog for StoreLog {
    fn begin(&self, run: &RunHeader) -> PortResult<()> {
        self.0
            .begin_run(
                &run.id,
                &run.flow,
                run.input
                    .get("project")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                &encode(run)?,
            )
            .map_err(port)
    }
    fn events(&self, run_id: &str, events: &[RunEvent]) -> PortResult<()> {
        self.0
            .run_events(run_id, &encode_events(events)?, &span_facts(events))
            .map_err(port)
    }
    fn node_done(&self, run_id: &str, record: &NodeRecord, events: &[RunEvent]) -> PortResult<()> {
        self.0
            .run_node_done(
                run_id,
                &encode(record)?,
                &encode_events(events)?,
                &span_facts(events),
            )
            .map_err(port)
    }
    fn call(&self, run_id: &str, call: &CallRecord) -> PortResult<()> {
        self.0
            .run_call(run_id, &call.node, call.index, &encode(call)?)
            .map_err(port)
    }
    fn status(&self, run_id: &str, status: RunStatus, detail: &Value) -> PortResult<()> {
        self.0
            .set_run_status(run_id, status.as_str(), &detail.to_string())
            .map_err(port)
    }
    fn next_seq(&self, run_id: &str) -> PortResult<u64> {
        self.0.run_next_seq(run_id).map_err(port)
    }
    fn load(&self, run_id: &str) -> PortResult<Option<StoredRun>> {
        self.0
            .run(run_id)
            .map_err(port)?
            .as_ref()
            .map(decode_run)
            .transpose()
    }
}

/// What exists in this data home.
pub(crate) struct HomeCatalog(pub(crate) Arc<Runtime>);

impl HomeCatalog {
    fn provider(&self, name: Option<&str>) -> Option<codexos_llm::ProviderInfo> {
        let providers = self.0.providers().ok()?;
        match name {
            Some(name) => providers
                .into_iter()
                .find(|provider| provider.answers_to(name)),
            None => providers
                .into_iter()
                .find(|provider| !(provider.remote && self.0.offline())),
        }
    }
}

impl Catalog for HomeCatalog {
    fn has_model(&self, name: &str) -> bool {
        self.provider(Some(name)).is_some() || models::resolve(&self.0.home, name).is_file()
    }
    fn model_calls_tools(&self, name: Option<&str>) -> Option<bool> {
        if let Some(provider) = self.provider(name) {
            return Some(provider.tools);
        }
        let path = models::resolve(&self.0.home, name?);
        codexos_llm::gguf_info(&path)
            .ok()
            .map(|info| info.supports_tools)
    }
    fn has_tool(&self, name: &str) -> bool {
        self.0.knows_tool(name)
    }
    fn has_secret(&self, name: &str) -> bool {
        self.0
            .secret_names()
            .is_ok_and(|names| names.iter().any(|known| known == name))
    }
    fn agent(&self, name: &str, version: &str) -> Option<AgentSpec> {
        let text = self.0.store.agent(name, version).ok()??;
        serde_json::from_str(&text).ok()
    }
    fn agent_versions(&self, name: &str) -> Vec<String> {
        self.0
            .store
            .agents()
            .unwrap_or_default()
            .into_iter()
            .filter(|(agent, _, _)| agent == name)
            .map(|(_, version, _)| version)
            .collect()
    }
    fn has_project(&self, name: &str) -> bool {
        self.0
            .store
            .project(name)
            .is_ok_and(|project| project.is_some())
    }
}

/// The tool registry, under a run's policy and approver.
pub(crate) struct RegistryTools {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) context: codexos_tools::CallContext,
    pub(crate) access: crate::ToolAccess,
}

#[async_trait]
impl Tools for RegistryTools {
    fn spec(&self, name: &str) -> Option<ToolSpec> {
        let tool = self.runtime.registry().tool(name)?;
        let info = tool.info();
        Some(ToolSpec {
            name: info.name.clone(),
            description: info.description.clone(),
            parameters: info.parameters.clone(),
        })
    }
    async fn call(
        &self,
        name: &str,
        arguments: &Value,
        using: &ToolUse,
        cancel: &CancellationToken,
    ) -> PortResult<Value> {
        let mut context = self.context.clone();
        context.cancel = cancel.clone();
        context.references.clone_from(&using.secrets);
        context.untrusted.clone_from(&using.untrusted);
        self.runtime
            .registry()
            .call(
                name,
                arguments.clone(),
                &self.access.policy,
                self.access.approver.as_ref(),
                &context,
            )
            .await
            .map_err(port)
    }
}

/// Child flows, run (and stored) as runs of their own.
pub(crate) struct ChildFlows {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) root: PathBuf,
}

#[async_trait]
impl Subflows for ChildFlows {
    async fn run(&self, path: &str, input: Value, cancel: &CancellationToken) -> PortResult<Value> {
        let options = super::FlowRunOptions {
            root: Some(self.root.clone()),
            ..super::FlowRunOptions::default()
        };
        let outcome = Box::pin(self.runtime.run_flow_file(
            std::path::Path::new(path),
            input,
            options,
            cancel.clone(),
        ))
        .await
        .map_err(port)?;
        match outcome.status {
            RunStatus::Succeeded => Ok(outcome.output),
            status => Err(PortError::new(format!(
                "subflow `{path}` (run {}) ended {}: {}",
                outcome.run_id,
                status.as_str(),
                outcome.error.unwrap_or_default()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use codexos_flow::ports::CallUsage;
    use codexos_llm::{Attempt, Completion, Outcome, PriceEntry, PriceTable};

    use super::{call_usage, WireNames};

    fn attempt(provider: &str, model: &str, remote: bool, outcome: Outcome) -> Attempt {
        Attempt {
            provider: provider.into(),
            model: model.into(),
            remote,
            latency_ms: 100,
            first_token_ms: None,
            prompt_tokens: 0,
            cached_tokens: 0,
            completion_tokens: 0,
            outcome,
        }
    }

    #[test]
    fn a_calls_usage_adds_up_its_attempts_and_prices_only_remote_tokens() {
        let prices = PriceTable::new(&[PriceEntry {
            provider: None,
            model: "m".into(),
            input: 1.0,
            output: 2.0,
            cached: Some(0.5),
        }]);
        let mut completion = Completion::empty("remote", "m");
        (
            completion.prompt_tokens,
            completion.cached_tokens,
            completion.completion_tokens,
        ) = (100, 40, 10);
        completion.first_token_ms = 30;
        let mut answered = attempt("remote", "m", true, Outcome::Ok);
        (
            answered.prompt_tokens,
            answered.cached_tokens,
            answered.completion_tokens,
        ) = (100, 40, 10);
        completion.attempts = vec![
            attempt(
                "local",
                "small.gguf",
                false,
                Outcome::Failed("context too long".into()),
            ),
            answered,
        ];
        let usage = call_usage(&completion, &prices);
        // 60 fresh × $1/M + 40 cached × $0.5/M + 10 out × $2/M.
        let cost = usage.cost_usd.expect("priced");
        assert!((cost - (60e-6 + 20e-6 + 20e-6)).abs() < 1e-12, "{usage:?}");
        assert_eq!(
            (usage.latency_ms, usage.compute_ms),
            (200, 100),
            "both attempts' time; the local one's as compute"
        );
        assert_eq!(usage.attempts.len(), 2);
        assert_eq!(usage.attempts[0].outcome, "failed");
        assert_eq!(
            usage.attempts[0].detail.as_deref(),
            Some("context too long")
        );
        assert!(!usage.unpriced);

        // The same answer from a model no entry prices: unknown, not free.
        completion.attempts[1].model = "other".into();
        let usage = call_usage(&completion, &prices);
        assert_eq!((usage.cost_usd, usage.unpriced), (None, true));
    }

    #[test]
    fn a_model_call_recorded_before_usage_was_reads_as_no_usage() {
        let event: codexos_flow::EventKind =
            serde_json::from_str(r#"{"type": "modelCall", "provider": "local", "model": "m"}"#)
                .expect("an old event still reads");
        let codexos_flow::EventKind::ModelCall { usage, .. } = event else {
            panic!("not a model call: {event:?}");
        };
        assert_eq!(*usage, CallUsage::default());
    }

    #[test]
    fn tool_names_go_on_the_wire_in_the_providers_alphabet_and_come_back() {
        let names = WireNames::new(["fs.read", "fs_read", "github.search", "fs.read"].into_iter());
        assert_eq!(names.wire("fs.read"), "fs_read");
        assert_eq!(names.wire("fs_read"), "fs_read_2");
        assert_eq!(names.wire("github.search"), "github_search");
        assert_eq!(names.original("fs_read"), "fs.read");
        assert_eq!(names.original("fs_read_2"), "fs_read");
        assert_eq!(names.original("unknown"), "unknown");
    }
}
