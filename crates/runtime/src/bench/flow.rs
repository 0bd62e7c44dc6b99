//! `codexos bench flow`: the orchestrator's own cost — chains of no-op
//! nodes of several lengths, a wide fan-out, and the checkpoint write — with
//! durability off (runs in memory) and on (SQLite, as every real run) at both
//! durability levels, side by side with the same graphs in `LangGraph`
//! (`bench/flow_langgraph.py`) at the same levels: a checkpoint committed
//! before the next step starts, `synchronous` NORMAL and FULL on both sides.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use codexos_flow::memory::MemoryLog;
use codexos_flow::ports::{
    CallRecord, NodeRecord, PortResult, RunHeader, RunLog, RunStatus, StoredRun,
};
use codexos_flow::{Flow, RunEvent, RunOptions};
use codexos_store::Durability;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::{Error, Result, Runtime};

const PEER: &str = include_str!("../../../../bench/flow_langgraph.py");

/// `LangGraph`'s durable run of one chain at one durability.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LangGraphDurable {
    /// Seconds.
    pub seconds: f64,
    /// Median checkpoint write, milliseconds.
    pub checkpoint_p50_ms: f64,
    /// 99th percentile checkpoint write, milliseconds.
    pub checkpoint_p99_ms: f64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// SQLite's `synchronous` in force, read back from SQLite.
    pub synchronous: String,
    /// SQLite's journal mode in force.
    pub journal_mode: String,
}

/// `LangGraph`'s figures for one chain length.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LangGraphChain {
    /// Nodes.
    pub nodes: u32,
    /// Without a checkpointer, seconds.
    pub memory_s: f64,
    /// `SqliteSaver`, `durability="sync"`, `synchronous = NORMAL`.
    pub normal: LangGraphDurable,
    /// The same at `synchronous = FULL`.
    pub full: LangGraphDurable,
}

/// `LangGraph`'s figures for the same graphs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LangGraphRun {
    /// `LangGraph` version.
    pub version: String,
    /// Python version.
    pub python: String,
    /// The chains.
    pub chains: Vec<LangGraphChain>,
    /// The fan-out (Send API, list reducer), seconds.
    pub fanout_s: f64,
}

/// CodexOS's durable run of one chain at one durability.
#[derive(Debug, Clone, Serialize)]
pub struct DurableRun {
    /// The durability (`normal`, `full`).
    pub durability: Durability,
    /// Seconds.
    pub seconds: f64,
    /// Per node, microseconds (its checkpoint included).
    pub per_node_us: f64,
    /// Median checkpoint write (node record + its events, one transaction), ms.
    pub checkpoint_p50_ms: f64,
    /// 99th percentile checkpoint write, ms.
    pub checkpoint_p99_ms: f64,
}

/// CodexOS's figures for one chain length.
#[derive(Debug, Clone, Serialize)]
pub struct ChainRun {
    /// Nodes.
    pub nodes: u32,
    /// In memory, seconds.
    pub memory_s: f64,
    /// Orchestrator overhead per no-op node in memory, microseconds.
    pub per_node_memory_us: f64,
    /// With a SQLite checkpoint after every node, at each durability.
    pub durable: Vec<DurableRun>,
}

/// What `bench flow` measured.
#[derive(Debug, Clone, Serialize)]
pub struct FlowBench {
    /// The chains, shortest first.
    pub chains: Vec<ChainRun>,
    /// Items in the fan-out.
    pub fanout_items: u32,
    /// The fan-out in memory, seconds.
    pub fanout_memory_s: f64,
    /// The fan-out with checkpoints (default durability), seconds.
    pub fanout_sqlite_s: f64,
    /// `LangGraph` on the same machine, when a Python with it was given.
    pub langgraph: Option<LangGraphRun>,
}

/// A chain of `length` no-op nodes.
fn chain(length: u32) -> Flow {
    let nodes: Vec<Value> = (0..length)
        .map(|index| json!({ "id": format!("n{index}"), "kind": "transform", "set": {} }))
        .collect();
    let edges: Vec<Value> = (1..length)
        .map(|index| json!({ "from": format!("n{}", index - 1), "to": format!("n{index}") }))
        .collect();
    serde_json::from_value(json!({ "version": codexos_flow::FLOW_VERSION, "name": "chain", "nodes": nodes, "edges": edges }))
        .unwrap_or_else(|_| unreachable!("a valid flow"))
}

/// One node fanning out over `items` items (a no-op body each), then a join.
fn fanout(items: u32) -> Flow {
    serde_json::from_value(json!({
        "version": codexos_flow::FLOW_VERSION,
        "name": "fanout",
        "state": { "items": "list", "results": "list" },
        "nodes": [
            { "id": "start", "kind": "transform", "set": { "items": format!("range({items})|list") } },
            { "id": "work", "kind": "parallel", "over": "items", "as": "item", "concurrency": items, "output": "results",
              "body": { "id": "one", "kind": "transform", "set": { "r": "item" } } },
            { "id": "join", "kind": "transform", "set": {} }
        ],
        "edges": [{ "from": "start", "to": "work" }, { "from": "work", "to": "join" }]
    }))
    .unwrap_or_else(|_| unreachable!("a valid flow"))
}

/// A run log that times every checkpoint write.
struct Timed {
    inner: Arc<dyn RunLog>,
    times: Mutex<Vec<f64>>,
}

impl RunLog for Timed {
    fn begin(&self, run: &RunHeader) -> PortResult<()> {
        self.inner.begin(run)
    }
    fn events(&self, run_id: &str, events: &[RunEvent]) -> PortResult<()> {
        self.inner.events(run_id, events)
    }
    fn node_done(&self, run_id: &str, record: &NodeRecord, events: &[RunEvent]) -> PortResult<()> {
        let started = Instant::now();
        let result = self.inner.node_done(run_id, record, events);
        if let Ok(mut times) = self.times.lock() {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        result
    }
    fn call(&self, run_id: &str, call: &CallRecord) -> PortResult<()> {
        self.inner.call(run_id, call)
    }
    fn status(&self, run_id: &str, status: RunStatus, detail: &Value) -> PortResult<()> {
        self.inner.status(run_id, status, detail)
    }
    fn next_seq(&self, run_id: &str) -> PortResult<u64> {
        self.inner.next_seq(run_id)
    }
    fn load(&self, run_id: &str) -> PortResult<Option<StoredRun>> {
        self.inner.load(run_id)
    }
}

fn percentile(values: &mut [f64], share: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let index = ((values.len() as f64 * share) as usize).min(values.len().saturating_sub(1));
    values.get(index).copied().unwrap_or(0.0)
}

impl Runtime {
    async fn timed_run(self: &Arc<Self>, flow: &Flow, log: Arc<dyn RunLog>) -> Result<f64> {
        let access = self.tool_access("bench", &std::collections::BTreeMap::new(), None)?;
        let executor = self.executor(std::env::temp_dir(), log, access);
        let started = Instant::now();
        let outcome = executor
            .start(
                Arc::new(flow.clone()),
                None,
                json!({}),
                RunOptions::default(),
                CancellationToken::new(),
            )
            .await?;
        let seconds = started.elapsed().as_secs_f64();
        if outcome.status != RunStatus::Succeeded {
            return Err(Error::Task {
                message: format!(
                    "the benchmark flow `{}` ended {}: {:?}",
                    flow.name,
                    outcome.status.as_str(),
                    outcome.error
                ),
            });
        }
        Ok(seconds)
    }

    /// Measures the orchestrator on chains of each of `chains` nodes (in
    /// memory, then durable at each [`Durability`]) and a fan-out of
    /// `fanout_items` — and `LangGraph` on the same graphs, with `python`.
    pub async fn bench_flow(
        self: &Arc<Self>,
        chains: &[u32],
        fanout_items: u32,
        python: Option<&Path>,
    ) -> Result<FlowBench> {
        let scratch = tempfile::tempdir().map_err(|source| Error::Home {
            path: std::env::temp_dir(),
            source,
        })?;
        let store_at = |name: &str, durability: Durability| -> Result<Arc<dyn RunLog>> {
            let store = codexos_store::Store::open_with(&scratch.path().join(name), durability)?;
            Ok(Arc::new(crate::flows::store_log(Arc::new(store))))
        };
        // Warm-up: allocator, SQLite statement cache, minijinja environment.
        self.timed_run(&chain(100), Arc::new(MemoryLog::default()))
            .await?;
        self.timed_run(&chain(100), store_at("warmup.sqlite", Durability::Normal)?)
            .await?;

        let mut runs = Vec::new();
        for &nodes in chains {
            let long = chain(nodes);
            let memory_s = self
                .timed_run(&long, Arc::new(MemoryLog::default()))
                .await?;
            let mut durable = Vec::new();
            for durability in [Durability::Normal, Durability::Full] {
                let timed = Arc::new(Timed {
                    inner: store_at(
                        &format!("chain-{nodes}-{}.sqlite", durability.pragma()),
                        durability,
                    )?,
                    times: Mutex::new(Vec::new()),
                });
                let seconds = self
                    .timed_run(&long, Arc::clone(&timed) as Arc<dyn RunLog>)
                    .await?;
                let mut samples = timed
                    .times
                    .lock()
                    .map(|times| times.clone())
                    .unwrap_or_default();
                durable.push(DurableRun {
                    durability,
                    seconds,
                    per_node_us: seconds * 1e6 / f64::from(nodes.max(1)),
                    checkpoint_p50_ms: percentile(&mut samples, 0.5),
                    checkpoint_p99_ms: percentile(&mut samples, 0.99),
                });
            }
            runs.push(ChainRun {
                nodes,
                memory_s,
                per_node_memory_us: memory_s * 1e6 / f64::from(nodes.max(1)),
                durable,
            });
        }
        let wide = fanout(fanout_items);
        let fanout_memory_s = self
            .timed_run(&wide, Arc::new(MemoryLog::default()))
            .await?;
        let fanout_sqlite_s = self
            .timed_run(&wide, store_at("fanout.sqlite", Durability::Normal)?)
            .await?;
        let langgraph = match python {
            Some(python) => Some(langgraph(python, scratch.path(), chains, fanout_items).await?),
            None => None,
        };
        Ok(FlowBench {
            chains: runs,
            fanout_items,
            fanout_memory_s,
            fanout_sqlite_s,
            langgraph,
        })
    }
}

async fn langgraph(
    python: &Path,
    scratch: &Path,
    chains: &[u32],
    fanout: u32,
) -> Result<LangGraphRun> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Home { path, source }
    };
    let script = scratch.join("flow_langgraph.py");
    std::fs::write(&script, PEER).map_err(io(&script))?;
    let output = tokio::process::Command::new(python)
        .arg(&script)
        .arg(
            chains
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
        .arg(fanout.to_string())
        .arg(scratch)
        .output()
        .await
        .map_err(io(python))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Error::PythonPeer {
            message: stderr.lines().last().unwrap_or("no output").to_owned(),
        });
    }
    serde_json::from_slice(&output.stdout).map_err(|error| Error::PythonPeer {
        message: format!("unreadable output: {error}"),
    })
}
