//! Two stored runs side by side, node by node: what each node saw (the
//! rendered prompts), answered, called and wrote, with its tokens, cost and
//! time, and where the two runs first part ways. The runs may come from
//! different versions of a flow, other models or other inputs.

use std::fmt::Write as _;

use codexos_flow::ports::{RunStatus, StoredRun};
use codexos_flow::EventKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::trace::{self, NodeTrace, Usage};

/// One run of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RunSide {
    /// Run id.
    pub id: String,
    /// Flow name.
    pub flow: String,
    /// First 12 hex digits of the sha256 of the flow as run: equal when both
    /// ran the same definition.
    pub flow_hash: String,
    /// `running`, `paused`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// The input.
    #[specta(type = codexos_flow::JsonValue)]
    pub input: Value,
    /// The output (null when it has none).
    #[specta(type = codexos_flow::JsonValue)]
    pub output: Value,
    /// The error of a failed run.
    pub error: Option<String>,
    /// Models that answered, `provider · model`, in first-use order.
    pub models: Vec<String>,
    /// Tokens, time and cost of its model calls.
    pub usage: Usage,
    /// From the first event to the last, in milliseconds.
    #[specta(type = Option<f64>)]
    pub duration_ms: Option<u64>,
}

/// A tool call of one side, for a side-by-side view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ToolSide {
    /// The tool.
    pub tool: String,
    /// Its arguments.
    #[specta(type = codexos_flow::JsonValue)]
    pub arguments: Value,
    /// Its result, or `{"error": …}`.
    #[specta(type = codexos_flow::JsonValue)]
    pub result: Value,
}

/// One node as one run saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NodeSide {
    /// Node kind.
    pub kind: Option<String>,
    /// `done`, `failed` or `unfinished`.
    pub status: String,
    /// The messages its model calls were given, as `role: text` blocks.
    pub prompt: String,
    /// What its models answered, call after call.
    pub answer: String,
    /// Models that answered, `provider · model`.
    pub models: Vec<String>,
    /// Its tool calls in order.
    pub tools: Vec<ToolSide>,
    /// State keys it wrote.
    #[specta(type = codexos_flow::JsonValue)]
    pub writes: Value,
    /// Where it sent the run.
    pub next: Vec<String>,
    /// The error it failed with (none when it finished).
    pub error: Option<String>,
    /// Tokens, time and cost of its model calls.
    pub usage: Usage,
    /// Wall time from its first start to its end, in milliseconds.
    #[specta(type = Option<f64>)]
    pub duration_ms: Option<u64>,
}

/// One node in both runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NodeComparison {
    /// Node id.
    pub node: String,
    /// The node in run A (none when it did not run there).
    pub a: Option<NodeSide>,
    /// The node in run B.
    pub b: Option<NodeSide>,
    /// What differs, from `only in A`, `only in B`, `definition`, `status`,
    /// `prompt`, `answer`, `model`, `tools`, `output`, `route`, `error`;
    /// empty when the node did the same in both. Tokens, cost and time are
    /// not compared: they differ run to run.
    pub differs: Vec<String>,
}

/// Two runs, node by node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RunComparison {
    /// Run A.
    pub a: RunSide,
    /// Run B.
    pub b: RunSide,
    /// The nodes in the order run A ran them, then those only B ran.
    pub nodes: Vec<NodeComparison>,
    /// The first node that differs, in that order.
    pub first_divergence: Option<String>,
    /// Whether the two outputs are equal.
    pub same_output: bool,
}

fn status_text(status: RunStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A short hash of the flow as run, canvas positions and titles aside (as
/// node definitions are compared).
fn short_hash(flow: &Value) -> String {
    use sha2::{Digest, Sha256};
    let mut flow = flow.clone();
    if let Some(nodes) = flow.get_mut("nodes").and_then(Value::as_array_mut) {
        for node in nodes.iter_mut().filter_map(Value::as_object_mut) {
            node.remove("position");
            node.remove("title");
        }
    }
    let digest = hex::encode(Sha256::digest(flow.to_string().as_bytes()));
    digest[..12].to_owned()
}

/// The node's definition without where it sits on the canvas.
fn definition(flow: &Value, node: &str) -> Option<Value> {
    let mut found = flow
        .get("nodes")?
        .as_array()?
        .iter()
        .find(|candidate| candidate.get("id").and_then(Value::as_str) == Some(node))?
        .clone();
    if let Some(fields) = found.as_object_mut() {
        fields.remove("position");
        fields.remove("title");
    }
    Some(found)
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !item.is_empty() && !list.contains(&item) {
        list.push(item);
    }
}

fn model_name(reply: &Value) -> String {
    let text = |key: &str| reply.get(key).and_then(Value::as_str).unwrap_or_default();
    [text("provider"), text("model")]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

fn node_side(trace: &NodeTrace) -> NodeSide {
    let mut prompt = String::new();
    let mut answer = String::new();
    let mut models = Vec::new();
    let mut tools = Vec::new();
    for call in &trace.calls {
        match call.kind.as_str() {
            "model" => {
                let messages = call.request.get("messages").and_then(Value::as_array);
                for message in messages.into_iter().flatten() {
                    let role = message.get("role").and_then(Value::as_str).unwrap_or("?");
                    let content = match message.get("content") {
                        Some(Value::String(text)) => text.clone(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    };
                    let _ = writeln!(prompt, "{role}: {content}");
                }
                match (call.response.get("ok"), call.response.get("error")) {
                    (Some(reply), _) => {
                        answer.push_str(reply.get("text").and_then(Value::as_str).unwrap_or(""));
                        answer.push('\n');
                        push_unique(&mut models, model_name(reply));
                    }
                    (None, Some(error)) => {
                        let _ = writeln!(answer, "error: {error}");
                    }
                    (None, None) => {}
                }
            }
            "tool" => tools.push(ToolSide {
                tool: call
                    .request
                    .get("tool")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned(),
                arguments: call
                    .request
                    .get("arguments")
                    .cloned()
                    .unwrap_or(Value::Null),
                result: call
                    .response
                    .get("ok")
                    .cloned()
                    .unwrap_or_else(|| call.response.clone()),
            }),
            _ => {}
        }
    }
    let status = if trace.step.is_some() {
        "done"
    } else if trace.error.is_some() {
        "failed"
    } else {
        "unfinished"
    };
    NodeSide {
        kind: trace.kind.clone(),
        status: status.to_owned(),
        prompt,
        answer,
        models,
        tools,
        writes: trace.writes.clone(),
        next: trace.next.clone(),
        // The final error: an attempt that failed and was retried to success
        // is not a difference.
        error: trace.error.clone().filter(|_| trace.step.is_none()),
        usage: trace.usage.clone(),
        duration_ms: trace
            .started_ms
            .zip(trace.ended_ms)
            .map(|(start, end)| end.saturating_sub(start)),
    }
}

fn differences(a: &NodeSide, b: &NodeSide, same_definition: bool) -> Vec<String> {
    let checks = [
        ("definition", !same_definition),
        ("status", a.status != b.status),
        ("prompt", a.prompt != b.prompt),
        ("answer", a.answer != b.answer),
        ("model", a.models != b.models),
        ("tools", a.tools != b.tools),
        ("output", a.writes != b.writes),
        ("route", a.next != b.next),
        ("error", a.error != b.error),
    ];
    checks
        .into_iter()
        .filter(|(_, differs)| *differs)
        .map(|(name, _)| name.to_owned())
        .collect()
}

fn run_side(run: &StoredRun, nodes: &[NodeTrace]) -> RunSide {
    let mut usage = Usage::default();
    let mut models = Vec::new();
    for node in nodes {
        usage.add(&node.usage);
    }
    let mut output = Value::Null;
    let mut error = None;
    for event in &run.events {
        match &event.event {
            EventKind::ModelCall {
                provider, model, ..
            } => push_unique(
                &mut models,
                model_name(&serde_json::json!({ "provider": provider, "model": model })),
            ),
            EventKind::RunFinished {
                output: finished,
                error: failed,
                ..
            } => {
                output.clone_from(finished);
                error.clone_from(failed);
            }
            _ => {}
        }
    }
    let first = run.events.first().map(|event| event.at_ms);
    let last = run.events.last().map(|event| event.at_ms);
    RunSide {
        id: run.header.id.clone(),
        flow: run.header.flow.clone(),
        flow_hash: short_hash(&run.header.flow_json),
        status: status_text(run.status),
        input: run.header.input.clone(),
        output,
        error,
        models,
        usage,
        duration_ms: first
            .zip(last)
            .map(|(start, end)| end.saturating_sub(start)),
    }
}

/// Compares two stored runs node by node.
pub(crate) fn compare_runs(a: &StoredRun, b: &StoredRun) -> RunComparison {
    let traces_a = trace::traces(a);
    let traces_b = trace::traces(b);
    let index_b: std::collections::HashMap<String, usize> = traces_b
        .iter()
        .enumerate()
        .map(|(index, trace)| (trace.node.clone(), index))
        .collect();
    let mut matched = vec![false; traces_b.len()];
    let mut nodes = Vec::with_capacity(traces_a.len().max(traces_b.len()));
    for trace in &traces_a {
        let side_a = node_side(trace);
        let other = index_b.get(&trace.node).copied();
        let comparison = match other {
            Some(index) => {
                matched[index] = true;
                let side_b = node_side(&traces_b[index]);
                let same_definition = definition(&a.header.flow_json, &trace.node)
                    == definition(&b.header.flow_json, &trace.node);
                NodeComparison {
                    node: trace.node.clone(),
                    differs: differences(&side_a, &side_b, same_definition),
                    a: Some(side_a),
                    b: Some(side_b),
                }
            }
            None => NodeComparison {
                node: trace.node.clone(),
                a: Some(side_a),
                b: None,
                differs: vec!["only in A".to_owned()],
            },
        };
        nodes.push(comparison);
    }
    for (index, trace) in traces_b.iter().enumerate() {
        if !matched[index] {
            nodes.push(NodeComparison {
                node: trace.node.clone(),
                a: None,
                b: Some(node_side(trace)),
                differs: vec!["only in B".to_owned()],
            });
        }
    }
    let first_divergence = nodes
        .iter()
        .find(|node| !node.differs.is_empty())
        .map(|node| node.node.clone());
    let side_a = run_side(a, &traces_a);
    let side_b = run_side(b, &traces_b);
    RunComparison {
        same_output: side_a.output == side_b.output,
        a: side_a,
        b: side_b,
        nodes,
        first_divergence,
    }
}
