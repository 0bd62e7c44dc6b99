//! A stored run, node by node, for the run inspector: what each node wrote
//! and where it sent the run, every call it made (the rendered messages a
//! model saw and its answer, a tool's arguments and result, retrievals,
//! memory and human answers), its error, and when it started and ended.

use codexos_flow::ports::{CallUsage, StoredRun};
use codexos_flow::EventKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One recorded call of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CallTrace {
    /// Node path (`map/3` for a parallel item).
    pub path: String,
    /// Index of the call within the node's attempt.
    pub index: u32,
    /// `model`, `tool`, `retrieve`, `memory`, `human` or `subflow`.
    pub kind: String,
    /// The request (for a model: the rendered messages).
    #[specta(type = codexos_flow::JsonValue)]
    pub request: Value,
    /// The response (`{"ok": …}` or `{"error": …}`).
    #[specta(type = codexos_flow::JsonValue)]
    pub response: Value,
}

/// One node of a stored run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NodeTrace {
    /// Node id.
    pub node: String,
    /// Node kind (from its first start).
    pub kind: Option<String>,
    /// Superstep it finished in (none when it did not finish).
    #[specta(type = Option<f64>)]
    pub step: Option<u64>,
    /// State keys it wrote.
    #[specta(type = codexos_flow::JsonValue)]
    pub writes: Value,
    /// Nodes it sent the run to.
    pub next: Vec<String>,
    /// Its calls, in order.
    pub calls: Vec<CallTrace>,
    /// Attempts started.
    pub attempts: u32,
    /// The last error (a failed or retried attempt).
    pub error: Option<String>,
    /// First start, Unix milliseconds.
    #[specta(type = Option<f64>)]
    pub started_ms: Option<u64>,
    /// Finish (or final failure), Unix milliseconds.
    #[specta(type = Option<f64>)]
    pub ended_ms: Option<u64>,
    /// Tokens, time and cost of its model calls.
    pub usage: Usage,
}

/// Tokens, time and cost of model calls, added up (a node, a run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Model calls.
    pub model_calls: u32,
    /// Prompt tokens.
    #[specta(type = u32)]
    pub prompt_tokens: u64,
    /// Of those, served from a cache.
    #[specta(type = u32)]
    pub cached_tokens: u64,
    /// Generated tokens.
    #[specta(type = u32)]
    pub completion_tokens: u64,
    /// Dollars of the priced calls (none when no call was priced).
    pub cost_usd: Option<f64>,
    /// Remote calls with no price in the table: the cost leaves them out.
    pub unpriced_calls: u32,
    /// Milliseconds local models computed.
    #[specta(type = u32)]
    pub compute_ms: u64,
    /// Milliseconds spent waiting for models (all attempts).
    #[specta(type = u32)]
    pub model_ms: u64,
    /// Providers that failed or were skipped before one answered.
    pub fallbacks: u32,
    /// Milliseconds to the first token, the slowest call's.
    #[specta(type = Option<u32>)]
    pub first_token_ms: Option<u64>,
}

impl Usage {
    /// Adds one model call.
    pub fn add_call(&mut self, call: &CallUsage) {
        let failed = call
            .attempts
            .iter()
            .filter(|attempt| attempt.outcome != "ok")
            .count();
        self.add(&Self {
            model_calls: 1,
            prompt_tokens: call.prompt_tokens,
            cached_tokens: call.cached_tokens,
            completion_tokens: call.completion_tokens,
            cost_usd: call.cost_usd,
            unpriced_calls: u32::from(call.unpriced),
            compute_ms: call.compute_ms,
            model_ms: call.latency_ms,
            fallbacks: u32::try_from(failed).unwrap_or(u32::MAX),
            first_token_ms: call.first_token_ms,
        });
    }

    /// Adds another total.
    pub fn add(&mut self, other: &Self) {
        self.model_calls += other.model_calls;
        self.prompt_tokens += other.prompt_tokens;
        self.cached_tokens += other.cached_tokens;
        self.completion_tokens += other.completion_tokens;
        if let Some(cost) = other.cost_usd {
            *self.cost_usd.get_or_insert(0.0) += cost;
        }
        self.unpriced_calls += other.unpriced_calls;
        self.compute_ms += other.compute_ms;
        self.model_ms += other.model_ms;
        self.fallbacks += other.fallbacks;
        self.first_token_ms = self.first_token_ms.max(other.first_token_ms);
    }
}

fn top(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

/// The traces being built, found by node id.
#[derive(Default)]
struct Traces {
    list: Vec<NodeTrace>,
    index: std::collections::HashMap<String, usize>,
}

impl Traces {
    fn entry(&mut self, node: &str) -> &mut NodeTrace {
        let index = if let Some(index) = self.index.get(node) {
            *index
        } else {
            self.list.push(NodeTrace {
                node: node.to_owned(),
                kind: None,
                step: None,
                writes: Value::Object(serde_json::Map::new()),
                next: Vec::new(),
                calls: Vec::new(),
                attempts: 0,
                error: None,
                started_ms: None,
                ended_ms: None,
                usage: Usage::default(),
            });
            self.index.insert(node.to_owned(), self.list.len() - 1);
            self.list.len() - 1
        };
        &mut self.list[index]
    }
}

/// The run's nodes in the order they first started.
pub(crate) fn traces(run: &StoredRun) -> Vec<NodeTrace> {
    let mut traces = Traces::default();
    for event in &run.events {
        let Some(path) = event.node.as_deref() else {
            continue;
        };
        let own = top(path) == path;
        let trace = traces.entry(top(path));
        match &event.event {
            EventKind::NodeStarted { kind, .. } if own => {
                trace.attempts += 1;
                trace.kind.get_or_insert_with(|| kind.clone());
                trace.started_ms.get_or_insert(event.at_ms);
            }
            EventKind::NodeFinished { .. } if own => trace.ended_ms = Some(event.at_ms),
            EventKind::ModelCall { usage, .. } => trace.usage.add_call(usage),
            EventKind::NodeFailed { error, retrying } if own => {
                trace.error = Some(error.clone());
                if !*retrying {
                    trace.ended_ms = Some(event.at_ms);
                }
            }
            _ => {}
        }
    }
    for record in &run.nodes {
        let trace = traces.entry(&record.node);
        trace.step = Some(record.step);
        trace.writes = serde_json::to_value(&record.writes).unwrap_or(Value::Null);
        trace.next.clone_from(&record.next);
    }
    for call in &run.calls {
        traces.entry(top(&call.node)).calls.push(CallTrace {
            path: call.node.clone(),
            index: call.index,
            kind: call.kind.clone(),
            request: call.request.clone(),
            response: call.response.clone(),
        });
    }
    traces.list
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    use crate::{FlowRunOptions, Home, Runtime};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_inspector_sees_each_nodes_calls_writes_errors_and_timings() {
        let home = tempfile::tempdir().expect("temp dir");
        let runtime =
            Arc::new(Runtime::open(Home::new(home.path().join("home"), None)).expect("runtime"));
        let folder = tempfile::tempdir().expect("folder");
        std::fs::write(folder.path().join("notes.md"), "# Notes\n").expect("file");
        let flow = json!({
            "version": 2, "name": "traced",
            "state": {"listing": "any", "count": "number", "missing": "any"},
            "nodes": [
                {"id": "start", "kind": "input"},
                {"id": "list", "kind": "tool", "tool": "fs.list", "args": {"path": "."}, "output": "listing"},
                {"id": "count", "kind": "transform", "set": {"count": "1 + 1"}},
                {"id": "broken", "kind": "tool", "tool": "fs.read", "args": {"path": "no-such-file.txt"}, "output": "missing"},
                {"id": "done", "kind": "output", "keys": ["count"]}
            ],
            "edges": [
                {"from": "start", "to": "list"}, {"from": "list", "to": "count"},
                {"from": "count", "to": "broken"}, {"from": "broken", "to": "done"}
            ]
        });
        let path = folder.path().join("traced.flow.json");
        std::fs::write(&path, flow.to_string()).expect("flow file");
        let options = FlowRunOptions {
            root: Some(folder.path().to_path_buf()),
            ..FlowRunOptions::default()
        };
        let outcome = runtime
            .run_flow_file(&path, json!({}), options, CancellationToken::new())
            .await
            .expect("ran");
        // Positive control: the run got as far as the failing node.
        assert!(outcome.error.is_some(), "{outcome:?}");
        let detail = runtime.run_detail(&outcome.run_id).expect("detail");
        let order: Vec<&str> = detail
            .nodes
            .iter()
            .map(|trace| trace.node.as_str())
            .collect();
        assert_eq!(order, ["start", "list", "count", "broken"]);
        let list = &detail.nodes[1];
        assert_eq!(list.kind.as_deref(), Some("tool"));
        assert_eq!(list.calls.len(), 1);
        assert_eq!(list.calls[0].kind, "tool");
        assert_eq!(list.calls[0].request["tool"], "fs.list");
        assert!(
            list.calls[0].response.to_string().contains("notes.md"),
            "{}",
            list.calls[0].response
        );
        assert!(list.writes.get("listing").is_some(), "{}", list.writes);
        assert_eq!(list.next, ["count"]);
        let (started, ended) = (list.started_ms.expect("start"), list.ended_ms.expect("end"));
        assert!(started <= ended);
        assert_eq!(detail.nodes[2].writes["count"], json!(2));
        let broken = &detail.nodes[3];
        assert!(broken.step.is_none(), "it never finished");
        assert!(
            broken
                .error
                .as_deref()
                .unwrap_or_default()
                .contains("no-such-file"),
            "{broken:?}"
        );
        assert!(broken.ended_ms.is_some());
    }
}
