//! `codexos bench flow`: the orchestrator's own cost — a chain of no-op
//! nodes, a wide fan-out, and the checkpoint write — with durability off
//! (runs in memory) and on (SQLite, as every real run), side by side with
//! the same graphs in `LangGraph` (`bench/flow_langgraph.py`).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use codexos_flow::memory::MemoryLog;
use codexos_flow::ports::{
    CallRecord, NodeRecord, PortResult, RunHeader, RunLog, RunStatus, StoredRun,
};
use codexos_flow::{Flow, RunEvent, RunOptions};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::{Error, Result, Runtime};

const PEER: &str = include_str!("../../../../bench/flow_langgraph.py");

/// `LangGraph`'s figures for the same graphs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LangGraphRun {
    /// `LangGraph` version.
    pub version: String,
    /// The chain without a checkpointer, seconds.
    pub chain_memory_s: f64,
    /// The chain with `SqliteSaver`, seconds.
    pub chain_sqlite_s: f64,
    /// The fan-out (Send API, list reducer), seconds.
    pub fanout_s: f64,
    /// Median checkpoint write, milliseconds.
    pub checkpoint_p50_ms: f64,
    /// 99th percentile checkpoint write, milliseconds.
    pub checkpoint_p99_ms: f64,
}

/// What `bench flow` measured.
#[derive(Debug, Clone, Serialize)]
pub struct FlowBench {
    /// Nodes in the chain.
    pub chain_nodes: u32,
    /// Items in the fan-out.
    pub fanout_items: u32,
    /// The chain, run in memory, seconds.
    pub chain_memory_s: f64,
    /// The chain with a SQLite checkpoint after every node, seconds.
    pub chain_sqlite_s: f64,
    /// Orchestrator overhead per no-op node in memory, microseconds.
    pub per_node_memory_us: f64,
    /// The same with its checkpoint, microseconds.
    pub per_node_sqlite_us: f64,
    /// The fan-out in memory, seconds.
    pub fanout_memory_s: f64,
    /// The fan-out with checkpoints, seconds.
    pub fanout_sqlite_s: f64,
    /// Median checkpoint write (node record + its events, one transaction), ms.
    pub checkpoint_p50_ms: f64,
    /// 99th percentile checkpoint write, ms.
    pub checkpoint_p99_ms: f64,
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

    /// Measures the orchestrator (and `LangGraph`, with `python`).
    pub async fn bench_flow(
        self: &Arc<Self>,
        chain_nodes: u32,
        fanout_items: u32,
        python: Option<&Path>,
    ) -> Result<FlowBench> {
        let scratch = tempfile::tempdir().map_err(|source| Error::Home {
            path: std::env::temp_dir(),
            source,
        })?;
        let store = Arc::new(codexos_store::Store::open(
            &scratch.path().join("bench.sqlite"),
        )?);
        let durable =
            || -> Arc<dyn RunLog> { Arc::new(crate::flows::store_log(Arc::clone(&store))) };
        let long = chain(chain_nodes);
        let wide = fanout(fanout_items);
        // Warm-up: allocator, SQLite statement cache, minijinja environment.
        self.timed_run(&chain(100), Arc::new(MemoryLog::default()))
            .await?;
        self.timed_run(&chain(100), durable()).await?;

        let chain_memory_s = self
            .timed_run(&long, Arc::new(MemoryLog::default()))
            .await?;
        let timed = Arc::new(Timed {
            inner: durable(),
            times: Mutex::new(Vec::new()),
        });
        let chain_sqlite_s = self
            .timed_run(&long, Arc::clone(&timed) as Arc<dyn RunLog>)
            .await?;
        let fanout_memory_s = self
            .timed_run(&wide, Arc::new(MemoryLog::default()))
            .await?;
        let fanout_sqlite_s = self.timed_run(&wide, durable()).await?;
        let mut checkpoint_times = timed
            .times
            .lock()
            .map(|times| times.clone())
            .unwrap_or_default();
        let langgraph = match python {
            Some(python) => {
                Some(langgraph(python, scratch.path(), chain_nodes, fanout_items).await?)
            }
            None => None,
        };
        Ok(FlowBench {
            chain_nodes,
            fanout_items,
            chain_memory_s,
            chain_sqlite_s,
            per_node_memory_us: chain_memory_s * 1e6 / f64::from(chain_nodes.max(1)),
            per_node_sqlite_us: chain_sqlite_s * 1e6 / f64::from(chain_nodes.max(1)),
            fanout_memory_s,
            fanout_sqlite_s,
            checkpoint_p50_ms: percentile(&mut checkpoint_times, 0.5),
            checkpoint_p99_ms: percentile(&mut checkpoint_times, 0.99),
            langgraph,
        })
    }
}

async fn langgraph(python: &Path, scratch: &Path, chain: u32, fanout: u32) -> Result<LangGraphRun> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Home { path, source }
    };
    let script = scratch.join("flow_langgraph.py");
    std::fs::write(&script, PEER).map_err(io(&script))?;
    let output = tokio::process::Command::new(python)
        .arg(&script)
        .arg(chain.to_string())
        .arg(fanout.to_string())
        .arg(scratch.join("langgraph.sqlite"))
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
