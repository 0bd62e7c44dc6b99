//! Asks and chat turns outside flows, kept as runs.
//!
//! Each `ask` (CLI, MCP, the app's ask mode) and each chat turn is stored as
//! a short run of its own — flow `ask` (nodes `retrieve` and `answer`) or
//! `chat` (node `answer`) — with the same events, calls and usage a flow run
//! records. So it is traced like any run with no second pipeline: the run
//! inspector shows the prompt the model saw, `runs diff` compares two asks,
//! analytics counts its tokens, cost and latency under the flow `ask` or
//! `chat`, and the OpenTelemetry export sends its spans. The run is marked
//! as an exchange (`RunHeader::exchange`): it describes what happened and is
//! never resumed, forked or replayed.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use codexos_flow::ports::{
    CallRecord, Message, ModelReply, ModelRequest, NodeRecord, PortResult, RunHeader, RunLog,
    RunStatus,
};
use codexos_flow::{EventKind, RunEvent};
use codexos_llm::{ChatMessage, Completion, FinishReason};
use serde_json::{json, Value};

use crate::{Citation, Runtime};

/// Which kind of exchange a run records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeKind {
    /// A question answered from retrieved excerpts.
    Ask,
    /// A chat turn without retrieval.
    Chat,
}

impl ExchangeKind {
    /// The run's flow name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ask => "ask",
            Self::Chat => "chat",
        }
    }
}

/// How an exchange ended.
#[derive(Debug, Clone)]
pub enum ExchangeEnd<'a> {
    /// The model answered (a completion cut short by Stop included).
    Answered(&'a Completion),
    /// It failed before or while answering.
    Failed(String),
    /// Stopped before the model answered.
    Cancelled,
}

impl<'a> ExchangeEnd<'a> {
    /// How a model call ended: its completion, or its error (a stop is
    /// cancelled, not failed).
    #[must_use]
    pub fn of(completion: Option<&'a Completion>, error: Option<&crate::Error>) -> Self {
        match (completion, error) {
            (Some(completion), None) => Self::Answered(completion),
            (_, Some(error)) if error.code() == crate::ErrorCode::Cancelled => Self::Cancelled,
            (_, Some(error)) => Self::Failed(error.to_string()),
            (None, None) => Self::Cancelled,
        }
    }
}

/// Retrieval's part of an exchange.
#[derive(Debug, Clone)]
struct Retrieval {
    request: Value,
    result: Result<Vec<Citation>, String>,
    finished_ms: u64,
}

/// An ask or chat turn under way; [`Runtime::keep_exchange`] stores it as a
/// run once it ended.
#[derive(Debug, Clone)]
pub struct ExchangeTrace {
    run_id: String,
    kind: ExchangeKind,
    input: Value,
    trace_parent: Option<String>,
    started_ms: u64,
    retrieval: Option<Retrieval>,
    searched_ms: Option<u64>,
    answer_ms: Option<u64>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

impl ExchangeTrace {
    /// Starts the record of an exchange with `input` (the question, and
    /// the project and conversation when there are). `trace_parent`: the
    /// caller's W3C trace, when a traced request asked.
    #[must_use]
    pub fn start(kind: ExchangeKind, input: Value, trace_parent: Option<String>) -> Self {
        Self {
            run_id: uuid::Uuid::new_v4().to_string(),
            kind,
            input,
            trace_parent,
            started_ms: now_ms(),
            retrieval: None,
            searched_ms: None,
            answer_ms: None,
        }
    }

    /// The search returned: the `retrieve` node ends here (fitting the
    /// excerpts to the prompt may load the model; that is not retrieval).
    pub fn searched(&mut self) {
        self.searched_ms = Some(now_ms());
    }

    /// Retrieval ended: the excerpts the prompt got, or why it failed.
    pub fn retrieved(
        &mut self,
        query: &str,
        project: Option<&str>,
        k: usize,
        result: Result<&[Citation], String>,
    ) {
        self.retrieval = Some(Retrieval {
            request: json!({ "query": query, "project": project, "k": k }),
            result: result.map(<[Citation]>::to_vec),
            finished_ms: self.searched_ms.unwrap_or_else(now_ms),
        });
    }

    /// The model is asked now; returns the `traceparent` for the request
    /// (a remote provider joins the exchange's trace).
    pub fn answering(&mut self) -> String {
        self.answer_ms = Some(now_ms());
        codexos_otel::spans::call_trace_parent(
            &self.run_id,
            self.answer_seq(),
            self.trace_parent.as_deref(),
        )
        .to_string()
    }

    /// Sequence number of the event that starts the `answer` node: after
    /// the run's start and, for an ask, retrieval's start and end.
    fn answer_seq(&self) -> u64 {
        if self.retrieval.is_some() {
            3
        } else {
            1
        }
    }
}

/// Writes an exchange's run: its events, node records and calls, in order.
struct Recorder {
    log: std::sync::Arc<dyn RunLog>,
    run: String,
    seq: u64,
}

impl Recorder {
    fn event(&mut self, node: Option<&str>, at_ms: u64, event: EventKind) -> RunEvent {
        let event = RunEvent {
            run: self.run.clone(),
            seq: self.seq,
            at_ms,
            node: node.map(str::to_owned),
            event,
        };
        self.seq += 1;
        event
    }

    fn call(&self, node: &str, kind: &str, request: Value, response: Value) -> PortResult<()> {
        self.log.call(
            &self.run,
            &CallRecord {
                node: node.to_owned(),
                index: 0,
                kind: kind.to_owned(),
                request_hash: codexos_flow::record::request_hash(&request),
                request,
                response,
            },
        )
    }

    /// A node that finished: its events (the last one its end) and record.
    fn finished(
        &mut self,
        node: &str,
        step: u64,
        mut events: Vec<RunEvent>,
        (started_ms, ended_ms): (u64, u64),
        writes: BTreeMap<String, Value>,
        next: &[&str],
    ) -> PortResult<()> {
        let next: Vec<String> = next.iter().map(|id| (*id).to_owned()).collect();
        events.push(self.event(
            Some(node),
            ended_ms,
            EventKind::NodeFinished {
                step,
                duration_ms: ended_ms.saturating_sub(started_ms),
                writes: json!(writes),
                next: next.clone(),
            },
        ));
        let record = NodeRecord {
            step,
            node: node.to_owned(),
            writes,
            next,
            output: None,
        };
        self.log.node_done(&self.run, &record, &events)
    }

    /// The run's end: its last event and status.
    fn end(&mut self, status: RunStatus, output: &Value, error: Option<&str>) -> PortResult<()> {
        let ended = self.event(
            None,
            now_ms(),
            EventKind::RunFinished {
                status: status.as_str().to_owned(),
                output: output.clone(),
                error: error.map(str::to_owned),
            },
        );
        self.log.events(&self.run, &[ended])?;
        self.log.status(
            &self.run,
            status,
            &json!({ "output": output, "error": error }),
        )
    }

    /// The `retrieve` node; whether the exchange went on past it.
    fn retrieval(
        &mut self,
        started_ms: u64,
        retrieval: &Retrieval,
        end: &ExchangeEnd<'_>,
    ) -> PortResult<bool> {
        let begun = self.event(
            Some("retrieve"),
            started_ms,
            EventKind::NodeStarted {
                kind: "retrieve".to_owned(),
                step: 0,
                attempt: 1,
            },
        );
        match &retrieval.result {
            Ok(citations) => {
                let excerpts = serde_json::to_value(citations).unwrap_or(Value::Null);
                self.call(
                    "retrieve",
                    "retrieve",
                    retrieval.request.clone(),
                    json!({ "ok": excerpts }),
                )?;
                self.finished(
                    "retrieve",
                    0,
                    vec![begun],
                    (started_ms, retrieval.finished_ms),
                    BTreeMap::from([("excerpts".to_owned(), excerpts)]),
                    &["answer"],
                )?;
                Ok(true)
            }
            Err(error) => {
                self.call(
                    "retrieve",
                    "retrieve",
                    retrieval.request.clone(),
                    json!({ "error": error }),
                )?;
                let failed = self.event(
                    Some("retrieve"),
                    retrieval.finished_ms,
                    EventKind::NodeFailed {
                        error: error.clone(),
                        retrying: false,
                    },
                );
                self.log.events(&self.run, &[begun, failed])?;
                let status = if matches!(end, ExchangeEnd::Cancelled) {
                    RunStatus::Cancelled
                } else {
                    RunStatus::Failed
                };
                self.end(status, &Value::Null, Some(error))?;
                Ok(false)
            }
        }
    }

    /// The `answer` node and the run's end.
    fn answer(
        &mut self,
        step: u64,
        started_ms: u64,
        request: Value,
        end: &ExchangeEnd<'_>,
        prices: &codexos_llm::PriceTable,
    ) -> PortResult<()> {
        let begun = self.event(
            Some("answer"),
            started_ms,
            EventKind::NodeStarted {
                kind: "llm".to_owned(),
                step,
                attempt: 1,
            },
        );
        let ended = now_ms();
        match end {
            ExchangeEnd::Answered(completion) => {
                let usage = crate::flows::call_usage(completion, prices);
                let reply = ModelReply {
                    text: completion.text.clone(),
                    value: None,
                    tool_calls: Vec::new(),
                    provider: completion.provider.clone(),
                    model: completion.model.clone(),
                    usage: usage.clone(),
                };
                self.call("answer", "model", request, json!({ "ok": reply }))?;
                let call = self.event(
                    Some("answer"),
                    ended,
                    EventKind::ModelCall {
                        provider: completion.provider.clone(),
                        model: completion.model.clone(),
                        usage: Box::new(usage),
                    },
                );
                let answer = json!(completion.text.trim());
                let output = json!({ "answer": answer });
                if completion.finish == FinishReason::Cancelled {
                    self.log.events(&self.run, &[begun, call])?;
                    return self.end(RunStatus::Cancelled, &output, None);
                }
                self.finished(
                    "answer",
                    step,
                    vec![begun, call],
                    (started_ms, ended),
                    BTreeMap::from([("answer".to_owned(), answer)]),
                    &[],
                )?;
                self.end(RunStatus::Succeeded, &output, None)
            }
            ExchangeEnd::Failed(error) => {
                self.call("answer", "model", request, json!({ "error": error }))?;
                let failed = self.event(
                    Some("answer"),
                    ended,
                    EventKind::NodeFailed {
                        error: error.clone(),
                        retrying: false,
                    },
                );
                self.log.events(&self.run, &[begun, failed])?;
                self.end(RunStatus::Failed, &Value::Null, Some(error))
            }
            ExchangeEnd::Cancelled => {
                // What was sent is kept, though no answer came.
                let stopped = json!({ "error": "stopped before the model answered" });
                self.call("answer", "model", request, stopped)?;
                self.log.events(&self.run, &[begun])?;
                self.end(RunStatus::Cancelled, &Value::Null, None)
            }
        }
    }
}

/// The flow an exchange's run shows: what happened, as nodes.
fn described_flow(kind: ExchangeKind, system: &str) -> Value {
    let answer = json!({
        "id": "answer", "kind": "llm", "title": "Answer", "output": "answer",
        "system": system, "prompt": "{{ prompt }}",
        "position": { "x": 0, "y": if kind == ExchangeKind::Ask { 240 } else { 120 } }
    });
    let (description, nodes, edges, state) = match kind {
        ExchangeKind::Ask => (
            "An ask: retrieval, then the model answers from the excerpts (kept for its trace).",
            json!([
                { "id": "question", "kind": "input", "title": "Question", "fields": ["question"], "position": { "x": 0, "y": 0 } },
                { "id": "retrieve", "kind": "retrieve", "title": "Retrieve", "query": "{{ question }}", "output": "excerpts", "position": { "x": 0, "y": 120 } },
                answer,
            ]),
            json!([{ "from": "question", "to": "retrieve" }, { "from": "retrieve", "to": "answer" }]),
            json!({ "question": "string", "project": "string", "prompt": "string", "excerpts": "list", "answer": "string" }),
        ),
        ExchangeKind::Chat => (
            "A chat turn: the model answers the conversation (kept for its trace).",
            json!([
                { "id": "question", "kind": "input", "title": "Message", "fields": ["question"], "position": { "x": 0, "y": 0 } },
                answer,
            ]),
            json!([{ "from": "question", "to": "answer" }]),
            json!({ "question": "string", "prompt": "string", "answer": "string" }),
        ),
    };
    json!({
        "version": codexos_flow::FLOW_VERSION,
        "name": kind.as_str(),
        "description": description,
        "state": state,
        "nodes": nodes,
        "edges": edges,
    })
}

fn role(message: &ChatMessage) -> &'static str {
    match message.role {
        codexos_llm::Role::System => "system",
        codexos_llm::Role::User => "user",
        codexos_llm::Role::Assistant => "assistant",
        codexos_llm::Role::Tool => "tool",
    }
}

impl Runtime {
    /// Stores an ended exchange as a run (see the module's notes) with the
    /// `messages` the model was sent and the `options` it was sent with.
    /// Returns the run's id, or none when it could not be stored — the
    /// exchange itself is not failed for that; the reason is logged, and a
    /// run begun is marked failed rather than left running.
    #[allow(clippy::needless_pass_by_value)] // the exchange ends here
    pub(crate) fn keep_exchange(
        &self,
        trace: ExchangeTrace,
        messages: &[ChatMessage],
        options: &crate::ChatOptions,
        end: ExchangeEnd<'_>,
    ) -> Option<String> {
        let id = trace.run_id.clone();
        let request = ModelRequest {
            model: options.model.clone(),
            messages: messages
                .iter()
                .map(|message| Message::new(role(message), message.content.clone()))
                .collect(),
            tools: Vec::new(),
            output_schema: None,
            max_tokens: Some(options.max_tokens.unwrap_or(self.config.llm.max_tokens)),
            temperature: Some(options.temperature.unwrap_or(self.config.llm.temperature)),
            trace: None,
        };
        let log = self.run_log();
        match record(&log, &trace, &request, &end, &self.price_table()) {
            Ok(()) => Some(id),
            Err(error) => {
                tracing::warn!(run = %id, %error, "an ask or chat turn could not be kept as a run");
                let detail = json!({ "output": null, "error": format!("the record of this exchange is incomplete: {error}") });
                let _ = log.status(&id, RunStatus::Failed, &detail);
                None
            }
        }
    }
}

/// Writes an exchange's run to `log`: its header, events, node records and
/// calls; `request` is what the model was sent.
fn record(
    log: &std::sync::Arc<dyn RunLog>,
    trace: &ExchangeTrace,
    request: &ModelRequest,
    end: &ExchangeEnd<'_>,
    prices: &codexos_llm::PriceTable,
) -> PortResult<()> {
    let kind = trace.kind;
    let system = request
        .messages
        .iter()
        .find(|message| message.role == "system")
        .map_or("", |message| message.content.as_str());
    let mut recorder = Recorder {
        log: std::sync::Arc::clone(log),
        run: trace.run_id.clone(),
        seq: 0,
    };
    log.begin(&RunHeader {
        id: trace.run_id.clone(),
        flow: kind.as_str().to_owned(),
        flow_json: described_flow(kind, system),
        flow_path: None,
        input: trace.input.clone(),
        forked_from: None,
        start: None,
        budget: None,
        trace_parent: trace.trace_parent.clone(),
        exchange: Some(kind.as_str().to_owned()),
    })?;
    let started = recorder.event(
        None,
        trace.started_ms,
        EventKind::RunStarted {
            flow: kind.as_str().to_owned(),
            mode: "start".to_owned(),
        },
    );
    log.events(&trace.run_id, &[started])?;
    let mut step = 0;
    if let Some(retrieval) = &trace.retrieval {
        if !recorder.retrieval(trace.started_ms, retrieval, end)? {
            return Ok(());
        }
        step = 1;
    }
    recorder.answer(
        step,
        trace.answer_ms.unwrap_or_else(now_ms),
        serde_json::to_value(request).unwrap_or(Value::Null),
        end,
        prices,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_described_flows_are_flows() {
        for kind in [ExchangeKind::Ask, ExchangeKind::Chat] {
            let flow: codexos_flow::Flow =
                serde_json::from_value(described_flow(kind, "Be brief.")).expect("a flow");
            assert_eq!(flow.name, kind.as_str());
            assert!(flow.node("answer").is_some());
        }
    }

    fn request() -> ModelRequest {
        ModelRequest {
            model: None,
            messages: vec![
                Message::new("system", "Be brief."),
                Message::new("user", "Hi?"),
            ],
            tools: Vec::new(),
            output_schema: None,
            max_tokens: Some(32),
            temperature: Some(0.0),
            trace: None,
        }
    }

    fn answered(text: &str, finish: FinishReason) -> Completion {
        let mut completion = Completion::empty("local", "SmolLM2");
        text.clone_into(&mut completion.text);
        completion.finish = finish;
        completion
    }

    /// Records `end` of an exchange of `kind` in memory; its stored run.
    fn kept(
        kind: ExchangeKind,
        retrieval: Option<Result<&[Citation], String>>,
        end: &ExchangeEnd<'_>,
    ) -> (ExchangeTrace, String, codexos_flow::ports::StoredRun) {
        let log: std::sync::Arc<dyn RunLog> =
            std::sync::Arc::new(codexos_flow::memory::MemoryLog::default());
        let mut trace = ExchangeTrace::start(kind, json!({ "question": "Hi?" }), None);
        if let Some(result) = retrieval {
            trace.retrieved("Hi?", None, 6, result);
        }
        let told = trace.answering();
        record(
            &log,
            &trace,
            &request(),
            end,
            &codexos_llm::PriceTable::default(),
        )
        .expect("recorded");
        let stored = log.load(&trace.run_id).expect("load").expect("stored");
        (trace, told, stored)
    }

    #[test]
    fn the_answer_span_exported_is_the_one_the_provider_was_told() {
        let completion = answered("Hello.", FinishReason::Stop);
        for (kind, retrieval) in [
            (ExchangeKind::Chat, None),
            (ExchangeKind::Ask, Some(Ok(&[][..]))),
        ] {
            let (trace, told, stored) = kept(kind, retrieval, &ExchangeEnd::Answered(&completion));
            assert_eq!(stored.status, RunStatus::Succeeded);
            let info = codexos_otel::RunInfo {
                run: trace.run_id.clone(),
                flow: kind.as_str().to_owned(),
                project: String::new(),
                parent: None,
            };
            let spans = codexos_otel::run_spans(
                &info,
                &stored.events,
                codexos_otel::Content { capture: false },
            );
            let answer = spans
                .iter()
                .find(|span| span.name == "llm answer")
                .expect("an answer span");
            let told = codexos_otel::TraceParent::parse(&told).expect("a traceparent");
            assert_eq!(
                (answer.trace_id.as_slice(), answer.span_id.as_slice()),
                (&told.trace_id[..], &told.span_id[..]),
                "{kind:?}"
            );
            assert!(spans
                .iter()
                .any(|span| span.name == format!("invoke_workflow {}", kind.as_str())));
        }
    }

    #[test]
    fn every_ending_leaves_a_finished_run_with_what_the_model_was_sent() {
        let stopped = answered("Hel", FinishReason::Cancelled);
        let cases = [
            (
                Some(Err("no project is ingested".to_owned())),
                ExchangeEnd::Failed("x".into()),
                RunStatus::Failed,
                0,
            ),
            (
                Some(Err("cancelled".to_owned())),
                ExchangeEnd::Cancelled,
                RunStatus::Cancelled,
                0,
            ),
            (
                None,
                ExchangeEnd::Failed("the provider refused".into()),
                RunStatus::Failed,
                1,
            ),
            (None, ExchangeEnd::Cancelled, RunStatus::Cancelled, 1),
            (
                None,
                ExchangeEnd::Answered(&stopped),
                RunStatus::Cancelled,
                1,
            ),
        ];
        for (retrieval, end, status, model_calls) in cases {
            let retrieval: Option<Result<&[Citation], String>> =
                retrieval.map(|result: Result<(), String>| result.map(|()| &[][..]));
            let (_, _, stored) = kept(ExchangeKind::Ask, retrieval, &end);
            assert_eq!(stored.status, status, "{end:?}");
            assert!(matches!(
                stored.events.last().map(|event| &event.event),
                Some(EventKind::RunFinished { .. })
            ));
            let sent: Vec<&CallRecord> = stored
                .calls
                .iter()
                .filter(|call| call.kind == "model")
                .collect();
            assert_eq!(sent.len(), model_calls, "{end:?}");
            if let Some(call) = sent.first() {
                assert!(
                    call.request.to_string().contains("Hi?"),
                    "the request is kept"
                );
            }
        }
    }
}
