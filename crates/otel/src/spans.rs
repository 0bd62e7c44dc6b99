//! A stored run as OTLP spans, with the OpenTelemetry `GenAI` semantic
//! conventions (`gen_ai.*`, semconv 1.41 / `GenAI` 0.1 names).
//!
//! One trace per run; per part of the run (a start, or a resume, up to its
//! end): a workflow span, a span per node attempt under it, a `chat` span per
//! model call with a child per router attempt, and an `execute_tool` span per
//! tool call. Ids are derived from the run id and the sequence number of the
//! event that opens the span, so exporting the same run twice gives the same
//! spans (a backend that keys on span ids keeps one copy).

use std::collections::HashMap;

use codexos_flow::{EventKind, RunEvent};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span, status, Span, Status};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::TraceParent;

/// Longest text attribute (prompts, outputs, arguments) when content is
/// captured; longer text is cut and marked.
const MAX_TEXT: usize = 8 * 1024;

/// What a run's spans say about it beyond its events.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// Run id.
    pub run: String,
    /// Flow name.
    pub flow: String,
    /// Project the run searched, or empty.
    pub project: String,
    /// The caller's trace, when the run was started by a traced request (W3C
    /// `traceparent`): the run's spans join it.
    pub parent: Option<TraceParent>,
}

/// What goes into spans besides figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct Content {
    /// Tool arguments and results, node writes and run outputs as attributes
    /// (off by default: they may hold what the user would not send away).
    pub capture: bool,
}

/// The 16-byte trace id of a run: its UUID's bytes, or a hash of its id.
#[must_use]
pub fn trace_id(run: &str) -> [u8; 16] {
    if let Ok(id) = uuid::Uuid::parse_str(run) {
        if !id.is_nil() {
            return *id.as_bytes();
        }
    }
    let digest = Sha256::digest(run.as_bytes());
    let mut id = [0; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

/// The 8-byte id of a span opened by event `seq` of `run` (`part` tells
/// apart the spans one event opens: a call and its attempts).
#[must_use]
pub fn span_id(run: &str, seq: u64, part: u32) -> [u8; 8] {
    let mut hasher = Sha256::new();
    hasher.update(run.as_bytes());
    hasher.update(seq.to_le_bytes());
    hasher.update(part.to_le_bytes());
    let digest = hasher.finalize();
    let mut id = [0; 8];
    id.copy_from_slice(&digest[..8]);
    if id == [0; 8] {
        id[7] = 1;
    }
    id
}

/// The trace a run's spans belong to: the caller's, or the run's own.
#[must_use]
pub fn run_trace(info: &RunInfo) -> [u8; 16] {
    info.parent
        .as_ref()
        .map_or_else(|| trace_id(&info.run), |parent| parent.trace_id)
}

/// A span's attribute as text (strings as they are, numbers and flags
/// written out), or `None` without it.
#[must_use]
pub fn attribute(span: &Span, key: &str) -> Option<String> {
    let value = span
        .attributes
        .iter()
        .find(|pair| pair.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()?;
    Some(match value {
        any_value::Value::StringValue(text) => text.clone(),
        any_value::Value::IntValue(number) => number.to_string(),
        any_value::Value::DoubleValue(number) => number.to_string(),
        any_value::Value::BoolValue(flag) => flag.to_string(),
        other => format!("{other:?}"),
    })
}

/// The `traceparent` a model call of a run sends to a remote provider: the
/// run's trace (or the caller's it joined) and the span of the node attempt
/// that makes the call.
#[must_use]
pub fn call_trace_parent(run: &str, node_seq: u64, parent: Option<&str>) -> TraceParent {
    let joined = parent.and_then(TraceParent::parse);
    TraceParent {
        trace_id: joined.map_or_else(|| trace_id(run), |parent| parent.trace_id),
        span_id: span_id(run, node_seq, 0),
        sampled: true,
    }
}

/// A span being built.
struct Open {
    span: Span,
}

/// An attribute.
pub(crate) fn pair(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn text(key: &str, value: impl Into<String>) -> KeyValue {
    pair(key, any_value::Value::StringValue(value.into()))
}

fn int(key: &str, value: u64) -> KeyValue {
    pair(
        key,
        any_value::Value::IntValue(i64::try_from(value).unwrap_or(i64::MAX)),
    )
}

fn float(key: &str, value: f64) -> KeyValue {
    pair(key, any_value::Value::DoubleValue(value))
}

fn flag(key: &str, value: bool) -> KeyValue {
    pair(key, any_value::Value::BoolValue(value))
}

/// Text cut to [`MAX_TEXT`] bytes at a character boundary.
fn bounded(value: &str) -> String {
    if value.len() <= MAX_TEXT {
        return value.to_owned();
    }
    let mut end = MAX_TEXT;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [cut at {MAX_TEXT} bytes]", &value[..end])
}

fn json_text(value: &Value) -> String {
    bounded(&value.to_string())
}

fn nanos(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}

/// An error status; its message only with content (an error may quote
/// what a tool printed or a provider echoed), `error.type` says the kind.
fn error_status(message: &str, content: Content) -> Status {
    Status {
        message: if content.capture {
            bounded(message)
        } else {
            String::new()
        },
        code: status::StatusCode::Error as i32,
    }
}

/// Builds the spans of one stored part of a run.
struct Builder<'a> {
    info: &'a RunInfo,
    content: Content,
    trace: Vec<u8>,
    spans: Vec<Span>,
    run: Option<Open>,
    /// Open node attempts by node path.
    nodes: HashMap<String, Open>,
    /// Open tool calls by node path, innermost last.
    tools: HashMap<String, Vec<Open>>,
    /// Time of the last event so far.
    last_ms: u64,
    /// Whether this part is a replay (its recorded costs were not spent).
    replay: bool,
}

impl<'a> Builder<'a> {
    fn new(info: &'a RunInfo, content: Content) -> Self {
        Self {
            info,
            content,
            trace: run_trace(info).to_vec(),
            spans: Vec::new(),
            run: None,
            nodes: HashMap::new(),
            tools: HashMap::new(),
            last_ms: 0,
            replay: false,
        }
    }

    fn span(
        &self,
        seq: u64,
        part: u32,
        name: String,
        kind: span::SpanKind,
        parent: Vec<u8>,
        at_ms: u64,
    ) -> Span {
        Span {
            trace_id: self.trace.clone(),
            span_id: span_id(&self.info.run, seq, part).to_vec(),
            parent_span_id: parent,
            name,
            kind: kind as i32,
            start_time_unix_nano: nanos(at_ms),
            end_time_unix_nano: nanos(at_ms),
            ..Span::default()
        }
    }

    /// The id of the span a node's children hang under: the node's attempt,
    /// or the run's span.
    fn parent_of(&self, node: Option<&str>) -> Vec<u8> {
        // The node's own span, else the nearest enclosing open one (a map
        // item `map/2` has no span of its own: its calls go under `map`).
        let mut path = node;
        while let Some(current) = path {
            if let Some(open) = self.nodes.get(current) {
                return open.span.span_id.clone();
            }
            path = current.rsplit_once('/').map(|(outer, _)| outer);
        }
        self.run_parent()
    }

    fn run_parent(&self) -> Vec<u8> {
        match &self.run {
            Some(open) => open.span.span_id.clone(),
            None => self
                .info
                .parent
                .as_ref()
                .map(|parent| parent.span_id.to_vec())
                .unwrap_or_default(),
        }
    }

    fn event(&mut self, event: &RunEvent) {
        self.apply(event);
        self.last_ms = self.last_ms.max(event.at_ms);
    }

    fn apply(&mut self, event: &RunEvent) {
        let node = event.node.as_deref();
        match &event.event {
            EventKind::RunStarted { flow, mode } => self.run_started(event, flow, mode),
            EventKind::NodeStarted {
                kind,
                step,
                attempt,
            } => self.node_started(event, kind, *step, *attempt),
            EventKind::Token { .. } => {}
            EventKind::ModelCall {
                provider,
                model,
                usage,
            } => self.model_call(event, provider, model, usage),
            EventKind::Budget { message, stopped } => {
                let attributes = vec![
                    text("codexos.budget.message", message.clone()),
                    flag("codexos.budget.stopped", *stopped),
                ];
                self.add_event(node, event.at_ms, "codexos.budget", attributes);
            }
            EventKind::ToolCall { tool, arguments } => self.tool_call(event, tool, arguments),
            EventKind::ToolResult { ok, summary, .. } => self.tool_result(event, *ok, summary),
            EventKind::ApprovalRequested { prompt, mode } => {
                let mut attributes = vec![text("codexos.approval.mode", mode.clone())];
                if self.content.capture {
                    attributes.push(text("codexos.approval.prompt", bounded(prompt)));
                }
                self.add_event(node, event.at_ms, "codexos.approval_requested", attributes);
            }
            EventKind::NodeFinished {
                writes,
                next,
                duration_ms,
                ..
            } => self.node_finished(event, writes, next, *duration_ms),
            EventKind::NodeFailed { error, retrying } => {
                let Some(mut open) = node.and_then(|node| self.nodes.remove(node)) else {
                    return;
                };
                open.span.status = Some(error_status(error, self.content));
                open.span.attributes.extend([
                    text("error.type", "node_failed"),
                    flag("codexos.node.retrying", *retrying),
                ]);
                self.close_tools(node.unwrap_or_default(), event.at_ms);
                self.close(open, event.at_ms);
            }
            EventKind::RunPaused { waiting } => {
                self.add_event(
                    None,
                    event.at_ms,
                    "codexos.paused",
                    vec![text("codexos.waiting", waiting.clone())],
                );
                self.end_run(event.at_ms, "paused", None, None);
            }
            EventKind::RunFinished {
                status,
                output,
                error,
            } => {
                let output = self.content.capture.then(|| json_text(output));
                self.end_run(event.at_ms, status, error.as_deref(), output);
            }
        }
    }

    fn node_started(&mut self, event: &RunEvent, kind: &str, step: u64, attempt: u32) {
        let path = event.node.clone().unwrap_or_default();
        // A parallel item (`map/2`) hangs under its map node when open.
        let parent = path
            .rsplit_once('/')
            .and_then(|(outer, _)| self.nodes.get(outer))
            .map_or_else(|| self.run_parent(), |open| open.span.span_id.clone());
        let mut span = self.span(
            event.seq,
            0,
            format!("{kind} {path}"),
            span::SpanKind::Internal,
            parent,
            event.at_ms,
        );
        span.attributes.extend([
            text("codexos.node.id", path.clone()),
            text("codexos.node.kind", kind),
            int("codexos.node.step", step),
            int("codexos.node.attempt", u64::from(attempt)),
        ]);
        if kind == "agent" {
            span.attributes.extend([
                text("gen_ai.operation.name", "invoke_agent"),
                text("gen_ai.agent.name", path.clone()),
            ]);
        }
        if let Some(previous) = self.nodes.insert(path, Open { span }) {
            self.close(previous, event.at_ms);
        }
    }

    fn tool_call(&mut self, event: &RunEvent, tool: &str, arguments: &Value) {
        let node = event.node.as_deref();
        let parent = self.parent_of(node);
        let mut span = self.span(
            event.seq,
            0,
            format!("execute_tool {tool}"),
            span::SpanKind::Internal,
            parent,
            event.at_ms,
        );
        span.attributes.extend([
            text("gen_ai.operation.name", "execute_tool"),
            text("gen_ai.tool.name", tool),
        ]);
        if self.content.capture {
            span.attributes
                .push(text("gen_ai.tool.call.arguments", json_text(arguments)));
        }
        self.tools
            .entry(node.unwrap_or_default().to_owned())
            .or_default()
            .push(Open { span });
    }

    fn tool_result(&mut self, event: &RunEvent, ok: bool, summary: &str) {
        let key = event.node.clone().unwrap_or_default();
        let Some(mut open) = self.tools.get_mut(&key).and_then(Vec::pop) else {
            return;
        };
        if !ok {
            open.span.status = Some(error_status(summary, self.content));
            open.span.attributes.push(text("error.type", "tool_error"));
        }
        if self.content.capture {
            open.span
                .attributes
                .push(text("gen_ai.tool.call.result", bounded(summary)));
        }
        open.span.attributes.push(flag("codexos.tool.ok", ok));
        self.close(open, event.at_ms);
    }

    fn node_finished(
        &mut self,
        event: &RunEvent,
        writes: &Value,
        next: &[String],
        duration_ms: u64,
    ) {
        let node = event.node.as_deref();
        let Some(mut open) = node.and_then(|node| self.nodes.remove(node)) else {
            return;
        };
        open.span
            .attributes
            .push(int("codexos.node.duration_ms", duration_ms));
        if !next.is_empty() {
            open.span
                .attributes
                .push(text("codexos.node.next", next.join(",")));
        }
        if self.content.capture {
            open.span
                .attributes
                .push(text("codexos.node.writes", json_text(writes)));
        }
        self.close_tools(node.unwrap_or_default(), event.at_ms);
        self.close(open, event.at_ms);
    }

    fn run_started(&mut self, event: &RunEvent, flow: &str, mode: &str) {
        // A part that stopped without an end (the process died): it ends at
        // its last event.
        if self.run.is_some() {
            self.end_run(self.last_ms, "interrupted", None, None);
        }
        self.replay = mode == "replay";
        let parent = self
            .info
            .parent
            .as_ref()
            .map(|parent| parent.span_id.to_vec())
            .unwrap_or_default();
        let mut span = self.span(
            event.seq,
            0,
            format!("invoke_workflow {flow}"),
            span::SpanKind::Internal,
            parent,
            event.at_ms,
        );
        span.attributes.extend([
            text("gen_ai.operation.name", "invoke_workflow"),
            text("gen_ai.agent.name", flow),
            text("codexos.flow", flow),
            text("codexos.run.id", self.info.run.clone()),
            text("codexos.run.mode", mode),
        ]);
        if !self.info.project.is_empty() {
            span.attributes
                .push(text("codexos.project", self.info.project.clone()));
        }
        self.run = Some(Open { span });
    }

    fn model_call(
        &mut self,
        event: &RunEvent,
        provider: &str,
        model: &str,
        usage: &codexos_flow::ports::CallUsage,
    ) {
        let parent = self.parent_of(event.node.as_deref());
        let start = event.at_ms.saturating_sub(usage.latency_ms);
        let mut call = self.span(
            event.seq,
            0,
            format!("chat {model}"),
            span::SpanKind::Client,
            parent,
            start,
        );
        call.end_time_unix_nano = nanos(event.at_ms);
        call.attributes.extend([
            text("gen_ai.operation.name", "chat"),
            text("gen_ai.provider.name", provider),
            text("gen_ai.request.model", model),
            text("gen_ai.response.model", model),
            int("gen_ai.usage.input_tokens", usage.prompt_tokens),
            int("gen_ai.usage.output_tokens", usage.completion_tokens),
            int("codexos.latency_ms", usage.latency_ms),
        ]);
        if usage.cached_tokens > 0 {
            call.attributes.push(int(
                "gen_ai.usage.cache_read.input_tokens",
                usage.cached_tokens,
            ));
        }
        if let Some(first) = usage.first_token_ms {
            call.attributes
                .push(float("gen_ai.server.ttft", first as f64 / 1000.0));
        }
        // A replay's calls were answered from the recording: nothing spent.
        if self.replay {
            call.attributes.push(flag("codexos.replayed", true));
        } else if let Some(cost) = usage.cost_usd {
            call.attributes.extend([
                float("gen_ai.usage.cost", cost),
                float("codexos.cost_usd", cost),
            ]);
        }
        if usage.unpriced {
            call.attributes.push(flag("codexos.unpriced", true));
        }
        if usage.compute_ms > 0 {
            call.attributes
                .push(int("codexos.compute_ms", usage.compute_ms));
        }
        let fallbacks = usage
            .attempts
            .iter()
            .filter(|attempt| attempt.outcome != "ok")
            .count();
        call.attributes
            .push(int("codexos.fallbacks", fallbacks as u64));
        let call_id = call.span_id.clone();
        self.spans.push(call);
        // The router's attempts, one after the other from the call's start.
        let mut at = start;
        for (index, attempt) in usage.attempts.iter().enumerate() {
            let part = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let mut span = self.span(
                event.seq,
                part,
                format!("chat {}", attempt.model),
                span::SpanKind::Client,
                call_id.clone(),
                at,
            );
            at = at.saturating_add(attempt.latency_ms).min(event.at_ms);
            span.end_time_unix_nano = nanos(at);
            span.attributes.extend([
                text("gen_ai.operation.name", "chat"),
                text("gen_ai.provider.name", attempt.provider.clone()),
                text("gen_ai.request.model", attempt.model.clone()),
                int("gen_ai.usage.input_tokens", attempt.prompt_tokens),
                int("gen_ai.usage.output_tokens", attempt.completion_tokens),
                text("codexos.attempt.outcome", attempt.outcome.clone()),
            ]);
            if let (Some(cost), false) = (attempt.cost_usd, self.replay) {
                span.attributes.push(float("codexos.cost_usd", cost));
            }
            if attempt.outcome != "ok" {
                span.attributes
                    .push(text("error.type", attempt.outcome.clone()));
                span.status = Some(error_status(
                    attempt.detail.as_deref().unwrap_or(&attempt.outcome),
                    self.content,
                ));
            }
            self.spans.push(span);
        }
    }

    fn add_event(&mut self, node: Option<&str>, at_ms: u64, name: &str, attributes: Vec<KeyValue>) {
        let event = span::Event {
            time_unix_nano: nanos(at_ms),
            name: name.to_owned(),
            attributes,
            dropped_attributes_count: 0,
        };
        if let Some(open) = node.and_then(|node| self.nodes.get_mut(node)) {
            open.span.events.push(event);
        } else if let Some(open) = self.run.as_mut() {
            open.span.events.push(event);
        }
    }

    fn close(&mut self, mut open: Open, at_ms: u64) {
        open.span.end_time_unix_nano = nanos(at_ms).max(open.span.start_time_unix_nano);
        self.spans.push(open.span);
    }

    fn close_tools(&mut self, node: &str, at_ms: u64) {
        for open in self.tools.remove(node).unwrap_or_default() {
            self.close(open, at_ms);
        }
    }

    /// Ends the run's span and whatever is still open under it.
    fn end_run(&mut self, at_ms: u64, status: &str, error: Option<&str>, output: Option<String>) {
        let nodes: Vec<Open> = self.nodes.drain().map(|(_, open)| open).collect();
        for open in nodes {
            self.close(open, at_ms);
        }
        let tools: Vec<Open> = self.tools.drain().flat_map(|(_, opens)| opens).collect();
        for open in tools {
            self.close(open, at_ms);
        }
        let Some(mut open) = self.run.take() else {
            return;
        };
        open.span
            .attributes
            .push(text("codexos.run.status", status));
        if let Some(error) = error {
            open.span.status = Some(error_status(error, self.content));
            open.span.attributes.push(text("error.type", "run_failed"));
        }
        if let Some(output) = output {
            open.span
                .attributes
                .push(text("codexos.run.output", output));
        }
        self.close(open, at_ms);
    }

    fn finish(mut self, last_ms: u64) -> Vec<Span> {
        if self.run.is_some() {
            self.end_run(last_ms, "unfinished", None, None);
        }
        self.spans
    }
}

/// The spans of stored run events (a part of a run: from its start or
/// resume to its end), in the order they end.
#[must_use]
pub fn run_spans(info: &RunInfo, events: &[RunEvent], content: Content) -> Vec<Span> {
    let mut builder = Builder::new(info, content);
    let mut last = 0;
    for event in events {
        last = last.max(event.at_ms);
        builder.event(event);
    }
    builder.finish(last)
}

#[cfg(test)]
mod tests {
    use codexos_flow::ports::{AttemptUsage, CallUsage};
    use codexos_flow::{EventKind, RunEvent};
    use serde_json::json;

    use super::*;

    fn event(seq: u64, at_ms: u64, node: Option<&str>, event: EventKind) -> RunEvent {
        RunEvent {
            run: "run-1".to_owned(),
            seq,
            at_ms,
            node: node.map(str::to_owned),
            event,
        }
    }

    fn started(seq: u64, at: u64, node: &str, kind: &str) -> RunEvent {
        event(
            seq,
            at,
            Some(node),
            EventKind::NodeStarted {
                kind: kind.to_owned(),
                step: 0,
                attempt: 1,
            },
        )
    }

    fn finished(seq: u64, at: u64, node: &str) -> RunEvent {
        event(
            seq,
            at,
            Some(node),
            EventKind::NodeFinished {
                step: 0,
                duration_ms: 5,
                writes: json!({"out": "secret text"}),
                next: vec![],
            },
        )
    }

    fn info() -> RunInfo {
        RunInfo {
            run: "run-1".to_owned(),
            flow: "qa".to_owned(),
            project: String::new(),
            parent: None,
        }
    }

    fn value(span: &Span, key: &str) -> Option<String> {
        attribute(span, key)
    }

    fn a_run() -> Vec<RunEvent> {
        let usage = CallUsage {
            prompt_tokens: 10,
            completion_tokens: 4,
            latency_ms: 30,
            attempts: vec![
                AttemptUsage {
                    provider: "down".into(),
                    model: "m".into(),
                    outcome: "failed".into(),
                    detail: Some("refused".into()),
                    latency_ms: 10,
                    ..AttemptUsage::default()
                },
                AttemptUsage {
                    provider: "up".into(),
                    model: "m".into(),
                    outcome: "ok".into(),
                    latency_ms: 20,
                    prompt_tokens: 10,
                    completion_tokens: 4,
                    ..AttemptUsage::default()
                },
            ],
            ..CallUsage::default()
        };
        vec![
            event(
                0,
                1_000,
                None,
                EventKind::RunStarted {
                    flow: "qa".into(),
                    mode: "start".into(),
                },
            ),
            started(1, 1_010, "ask", "llm"),
            event(
                2,
                1_050,
                Some("ask"),
                EventKind::ModelCall {
                    provider: "up".into(),
                    model: "m".into(),
                    usage: Box::new(usage),
                },
            ),
            finished(3, 1_060, "ask"),
            started(4, 1_070, "map", "map"),
            // Map items emit no NodeStarted: their calls carry the item's path.
            event(
                6,
                1_072,
                Some("map/0"),
                EventKind::ToolCall {
                    tool: "fs.read".into(),
                    arguments: json!({"path": "a.md"}),
                },
            ),
            event(
                7,
                1_080,
                Some("map/0"),
                EventKind::ToolResult {
                    tool: "fs.read".into(),
                    ok: false,
                    summary: "no such file".into(),
                },
            ),
            finished(9, 1_090, "map"),
            event(
                10,
                1_100,
                None,
                EventKind::RunFinished {
                    status: "failed".into(),
                    output: json!(null),
                    error: Some("no such file".into()),
                },
            ),
        ]
    }

    #[test]
    fn a_run_becomes_a_tree_of_spans_under_its_workflow_span() {
        let spans = run_spans(&info(), &a_run(), Content::default());
        let by_name = |name: &str| {
            spans
                .iter()
                .find(|span| span.name == name)
                .unwrap_or_else(|| panic!("no `{name}`"))
        };
        let run = by_name("invoke_workflow qa");
        assert!(run.parent_span_id.is_empty());
        assert_eq!(
            run.status.as_ref().map(|status| status.code),
            Some(status::StatusCode::Error as i32)
        );
        let ask = by_name("llm ask");
        assert_eq!(ask.parent_span_id, run.span_id);
        // The call ends at its event and started its latency before.
        let call = spans
            .iter()
            .find(|span| span.name == "chat m" && value(span, "codexos.attempt.outcome").is_none())
            .expect("call");
        assert_eq!(call.parent_span_id, ask.span_id);
        assert_eq!(
            (call.start_time_unix_nano, call.end_time_unix_nano),
            (1_020_000_000, 1_050_000_000)
        );
        assert_eq!(
            value(call, "gen_ai.usage.input_tokens").as_deref(),
            Some("10")
        );
        assert_eq!(value(call, "codexos.fallbacks").as_deref(), Some("1"));
        let attempts: Vec<&Span> = spans
            .iter()
            .filter(|span| span.parent_span_id == call.span_id)
            .collect();
        assert_eq!(attempts.len(), 2);
        assert_eq!(
            attempts[0].end_time_unix_nano, attempts[1].start_time_unix_nano,
            "one after the other"
        );
        assert_eq!(value(attempts[0], "error.type").as_deref(), Some("failed"));
        // A map item's tool call hangs under its map node's span.
        let map = by_name("map map");
        let tool = by_name("execute_tool fs.read");
        assert_eq!(tool.parent_span_id, map.span_id);
        assert_eq!(value(tool, "error.type").as_deref(), Some("tool_error"));
        // Without content the error's text stays home (it may quote output).
        assert_eq!(
            tool.status.as_ref().map(|status| status.message.as_str()),
            Some("")
        );
        assert!(
            value(tool, "gen_ai.tool.call.arguments").is_none(),
            "no content by default"
        );
        assert!(value(ask, "codexos.node.writes").is_none());
        // Every span in the run's trace, ids unique and not zero.
        let trace = trace_id("run-1");
        assert!(spans.iter().all(|span| span.trace_id == trace));
        let ids: std::collections::HashSet<&Vec<u8>> =
            spans.iter().map(|span| &span.span_id).collect();
        assert_eq!(ids.len(), spans.len());
    }

    #[test]
    fn the_same_run_gives_the_same_ids_and_content_only_when_asked() {
        let once = run_spans(&info(), &a_run(), Content::default());
        let again = run_spans(&info(), &a_run(), Content { capture: true });
        assert_eq!(
            once.iter().map(|span| &span.span_id).collect::<Vec<_>>(),
            again.iter().map(|span| &span.span_id).collect::<Vec<_>>()
        );
        let tool = again
            .iter()
            .find(|span| span.name == "execute_tool fs.read")
            .expect("tool");
        assert_eq!(
            value(tool, "gen_ai.tool.call.arguments").as_deref(),
            Some(r#"{"path":"a.md"}"#)
        );
        assert_eq!(
            tool.status.as_ref().map(|status| status.message.as_str()),
            Some("no such file"),
            "the error's text with content"
        );
        assert!(again.iter().any(|span| value(span, "codexos.node.writes")
            .is_some_and(|writes| writes.contains("secret text"))));
    }

    #[test]
    fn a_run_joins_its_callers_trace_and_a_uuid_run_id_is_its_trace_id() {
        let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .expect("valid");
        let joined = RunInfo {
            parent: Some(parent),
            ..info()
        };
        let spans = run_spans(&joined, &a_run(), Content::default());
        assert!(spans.iter().all(|span| span.trace_id == parent.trace_id));
        let run = spans
            .iter()
            .find(|span| span.name.starts_with("invoke_workflow"))
            .expect("run");
        assert_eq!(run.parent_span_id, parent.span_id);
        let id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
        assert_eq!(
            trace_id(id).to_vec(),
            uuid::Uuid::parse_str(id).expect("uuid").as_bytes().to_vec()
        );
    }

    #[test]
    fn a_paused_part_ends_its_spans_and_says_what_waits() {
        let events = vec![
            event(
                0,
                10,
                None,
                EventKind::RunStarted {
                    flow: "qa".into(),
                    mode: "start".into(),
                },
            ),
            started(1, 11, "ask_human", "human"),
            event(
                2,
                12,
                Some("ask_human"),
                EventKind::ApprovalRequested {
                    prompt: "ok?".into(),
                    mode: "approve".into(),
                },
            ),
            event(
                3,
                13,
                None,
                EventKind::RunPaused {
                    waiting: "ask_human".into(),
                },
            ),
        ];
        let spans = run_spans(&info(), &events, Content::default());
        assert_eq!(spans.len(), 2);
        let run = spans
            .iter()
            .find(|span| span.name == "invoke_workflow qa")
            .expect("run");
        assert_eq!(value(run, "codexos.run.status").as_deref(), Some("paused"));
        assert!(run
            .events
            .iter()
            .any(|event| event.name == "codexos.paused"));
        let node = spans
            .iter()
            .find(|span| span.name == "human ask_human")
            .expect("node");
        assert_eq!(node.end_time_unix_nano, 13_000_000);
        assert!(node
            .events
            .iter()
            .any(|event| event.name == "codexos.approval_requested"));
    }

    #[test]
    fn a_part_cut_short_ends_at_its_last_event_and_a_replay_spends_nothing() {
        let usage = CallUsage {
            prompt_tokens: 5,
            latency_ms: 4,
            cost_usd: Some(0.25),
            ..CallUsage::default()
        };
        let call = |seq, at, mode: &str| {
            vec![
                event(
                    seq,
                    at,
                    None,
                    EventKind::RunStarted {
                        flow: "qa".into(),
                        mode: mode.into(),
                    },
                ),
                started(seq + 1, at + 1, "ask", "llm"),
                event(
                    seq + 2,
                    at + 9,
                    Some("ask"),
                    EventKind::ModelCall {
                        provider: "p".into(),
                        model: "m".into(),
                        usage: Box::new(usage.clone()),
                    },
                ),
            ]
        };
        // The process died after the call; the run was resumed and replayed.
        let mut events = call(0, 100, "start");
        events.extend(call(3, 500, "replay"));
        let spans = run_spans(&info(), &events, Content::default());
        let runs: Vec<&Span> = spans
            .iter()
            .filter(|span| span.name == "invoke_workflow qa")
            .collect();
        assert_eq!(runs.len(), 2);
        let first = runs
            .iter()
            .find(|span| value(span, "codexos.run.status").as_deref() == Some("interrupted"))
            .expect("the cut part");
        assert_eq!(
            first.end_time_unix_nano, 109_000_000,
            "ends at its last event"
        );
        let costs: Vec<Option<String>> = spans
            .iter()
            .filter(|span| span.name == "chat m")
            .map(|span| value(span, "gen_ai.usage.cost"))
            .collect();
        assert_eq!(
            costs,
            [Some("0.25".to_owned()), None],
            "the replayed call spent nothing"
        );
    }
}
