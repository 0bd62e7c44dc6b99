//! `codexos bench diff`: the time `runs diff A B` takes on two large runs.
//! Both runs are written to a scratch SQLite store through the run log the
//! executor writes every run with (node records, events, recorded calls), so
//! the comparison reads exactly what a real run leaves; each node made one
//! model call (a system and a user message, an answer, its usage) and one
//! tool call. Run B answers differently from the middle node on.

use std::sync::Arc;
use std::time::Instant;

use codexos_flow::ports::{
    AttemptUsage, CallRecord, CallUsage, NodeRecord, RunHeader, RunLog, RunStatus,
};
use codexos_flow::{EventKind, RunEvent};
use serde::Serialize;
use serde_json::{json, Value};

use super::percentile;
use crate::{Error, Result, Runtime};

/// What `bench diff` measured.
#[derive(Debug, Clone, Serialize)]
pub struct CompareBench {
    /// Nodes of each run.
    pub nodes: u32,
    /// Recorded calls of each run.
    pub calls: u32,
    /// Bytes the two runs take in SQLite (the database file).
    pub store_bytes: u64,
    /// Repeats measured (after one warm-up).
    pub repeats: u32,
    /// Reading both runs from SQLite, median ms.
    pub load_p50_ms: f64,
    /// Comparing them node by node, median ms.
    pub compare_p50_ms: f64,
    /// The comparison as JSON (what the app receives), median ms.
    pub json_p50_ms: f64,
    /// All three, median ms.
    pub total_p50_ms: f64,
    /// All three, 95th percentile ms.
    pub total_p95_ms: f64,
    /// JSON size of the comparison, bytes.
    pub json_bytes: usize,
    /// The first divergence found (a check that the diff did its work).
    pub first_divergence: Option<String>,
}

fn usage(index: u32) -> CallUsage {
    let prompt = 300 + u64::from(index % 50);
    CallUsage {
        prompt_tokens: prompt,
        cached_tokens: 0,
        completion_tokens: 80,
        first_token_ms: Some(120),
        latency_ms: 900,
        cost_usd: Some(prompt as f64 * 0.15e-6 + 80.0 * 0.6e-6),
        unpriced: false,
        compute_ms: 0,
        attempts: vec![AttemptUsage {
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            outcome: "ok".into(),
            latency_ms: 900,
            first_token_ms: Some(120),
            prompt_tokens: prompt,
            completion_tokens: 80,
            ..AttemptUsage::default()
        }],
        replayed: false,
    }
}

fn store_error(error: codexos_flow::ports::PortError) -> Error {
    Error::Flow(codexos_flow::Error::Store {
        message: error.message,
    })
}

/// Node `index`'s recorded model and tool calls, with what its model said.
fn node_calls(index: u32, answer: &str, context: &str) -> [CallRecord; 2] {
    let node = format!("n{index}");
    [
        CallRecord {
            node: node.clone(),
            index: 0,
            kind: "model".into(),
            request_hash: format!("{index:064x}"),
            request: json!({"messages": [
                {"role": "system", "content": "You are a careful engineer. Answer from the context only."},
                {"role": "user", "content": format!("Step {index}. {context}")}
            ]}),
            response: json!({"ok": {"text": answer, "provider": "openai", "model": "gpt-4o-mini", "usage": usage(index)}}),
        },
        CallRecord {
            node,
            index: 1,
            kind: "tool".into(),
            request_hash: format!("{:064x}", u64::from(index) + 1_000_000),
            request: json!({"tool": "fs.read", "arguments": {"path": format!("src/file{index}.rs")}}),
            response: json!({"ok": format!("fn item_{index}() {{}}\n").repeat(8)}),
        },
    ]
}

/// Writes one run of `nodes` nodes; from node `diverge_at` on its answers
/// differ from the other run's.
fn write_run(log: &dyn RunLog, id: &str, nodes: u32, diverge_at: u32, variant: &str) -> Result<()> {
    let flow_nodes: Vec<Value> = (0..nodes)
        .map(|index| json!({"id": format!("n{index}"), "kind": "llm", "prompt": format!("Step {index}: {{{{text}}}}"), "output": "text"}))
        .collect();
    log.begin(&RunHeader {
        id: id.to_owned(),
        flow: "bench-diff".into(),
        flow_json: json!({"version": 2, "name": "bench-diff", "state": {"text": "string"}, "nodes": flow_nodes, "edges": []}),
        flow_path: None,
        input: json!({"text": "Summarise the design of the storage layer."}),
        forked_from: None,
        start: None,
        budget: None,
        trace_parent: None,
        exchange: None,
    })
    .map_err(store_error)?;
    let mut seq = 0;
    let context = "The storage layer keeps every run in SQLite: node records, events and recorded calls, one transaction per node. ".repeat(6);
    for index in 0..nodes {
        let node = format!("n{index}");
        let lead = if index >= diverge_at {
            format!("{variant} answer")
        } else {
            "Answer".to_owned()
        };
        let answer = format!(
            "{lead} {index}: the layer commits each checkpoint before the next node starts. "
        )
        .repeat(4);
        let mut event = |event: EventKind| {
            seq += 1;
            RunEvent {
                run: id.to_owned(),
                seq,
                at_ms: 1_700_000_000_000 + seq * 7,
                node: Some(node.clone()),
                event,
            }
        };
        let started = event(EventKind::NodeStarted {
            kind: "llm".into(),
            step: u64::from(index),
            attempt: 1,
        });
        let model = event(EventKind::ModelCall {
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            usage: Box::new(usage(index)),
        });
        let tool = event(EventKind::ToolCall {
            tool: "fs.read".into(),
            arguments: json!({"path": format!("src/file{index}.rs")}),
        });
        let next = if index + 1 < nodes {
            vec![format!("n{}", index + 1)]
        } else {
            Vec::new()
        };
        let finished = event(EventKind::NodeFinished {
            step: u64::from(index),
            duration_ms: 910,
            writes: json!({}),
            next: next.clone(),
        });
        log.events(id, &[started, model, tool])
            .map_err(store_error)?;
        for call in node_calls(index, &answer, &context) {
            log.call(id, &call).map_err(store_error)?;
        }
        let writes = [("text".to_owned(), Value::String(answer))]
            .into_iter()
            .collect();
        log.node_done(
            id,
            &NodeRecord {
                step: u64::from(index),
                node,
                writes,
                next,
                output: None,
            },
            &[finished],
        )
        .map_err(store_error)?;
    }
    log.status(id, RunStatus::Succeeded, &json!({"output": null}))
        .map_err(store_error)?;
    Ok(())
}

fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

impl Runtime {
    /// Writes two `nodes`-node runs to a scratch store and times `runs diff`
    /// on them `repeats` times.
    pub fn bench_compare(&self, nodes: u32, repeats: u32) -> Result<CompareBench> {
        let scratch = tempfile::tempdir().map_err(|source| Error::Home {
            path: std::env::temp_dir(),
            source,
        })?;
        let path = scratch.path().join("runs.sqlite");
        let store = Arc::new(codexos_store::Store::open(&path)?);
        let log = crate::flows::store_log(store);
        write_run(&log, "bench-a", nodes, nodes / 2, "First")?;
        write_run(&log, "bench-b", nodes, nodes / 2, "Second")?;
        let store_bytes = std::fs::metadata(&path).map_or(0, |meta| meta.len())
            + std::fs::metadata(scratch.path().join("runs.sqlite-wal"))
                .map_or(0, |meta| meta.len());
        let load = |id: &str| -> Result<codexos_flow::ports::StoredRun> {
            log.load(id)
                .map_err(store_error)?
                .ok_or_else(|| Error::Flow(codexos_flow::Error::UnknownRun { id: id.into() }))
        };
        let (mut load_ms, mut compare_ms, mut encode_ms, mut total_ms) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut last = None;
        for round in 0..=repeats {
            let started = Instant::now();
            let (a, b) = (load("bench-a")?, load("bench-b")?);
            let read = elapsed_ms(started);
            let clock = Instant::now();
            let comparison = crate::flows::compare::compare_runs(&a, &b);
            let compare = elapsed_ms(clock);
            let clock = Instant::now();
            let bytes = serde_json::to_vec(&comparison).map_or(0, |json| json.len());
            let encode = elapsed_ms(clock);
            if round > 0 {
                load_ms.push(read);
                compare_ms.push(compare);
                encode_ms.push(encode);
                total_ms.push(elapsed_ms(started));
            }
            last = Some((comparison, bytes));
        }
        let (comparison, json_bytes) = last.ok_or_else(|| {
            Error::Flow(codexos_flow::Error::UnknownRun {
                id: "bench-a".into(),
            })
        })?;
        Ok(CompareBench {
            nodes,
            calls: nodes * 2,
            store_bytes,
            repeats,
            load_p50_ms: percentile(&mut load_ms, 0.5),
            compare_p50_ms: percentile(&mut compare_ms, 0.5),
            json_p50_ms: percentile(&mut encode_ms, 0.5),
            total_p50_ms: percentile(&mut total_ms.clone(), 0.5),
            total_p95_ms: percentile(&mut total_ms, 0.95),
            json_bytes,
            first_divergence: comparison.first_divergence,
        })
    }
}
