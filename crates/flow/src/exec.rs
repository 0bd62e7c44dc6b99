//! The orchestrator: runs a flow in supersteps. Every node of a step runs
//! concurrently on a snapshot of the state; their writes are merged in
//! node-id order (deterministic), and the union of the nodes they send the
//! run to is the next step. Each finished node is checkpointed at once, so a
//! run killed mid-step resumes without re-running what had finished.

mod nodes;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::event::{EventKind, RunEvent};
use crate::model::{Flow, Node, NodeKind};
use crate::ports::{
    Catalog, Checkpoint, Memory, Model, NodeRecord, Retriever, RunHeader, RunLog, RunStatus,
    Subflows, Tools,
};
use crate::record::Recording;
use crate::{Error, Result};

/// The run state: declared keys, plus hidden `#…` bookkeeping (loop counts,
/// the run's output so far).
pub type State = BTreeMap<String, Value>;

/// Hidden state key of the run's output.
const OUTPUT_KEY: &str = "#output";

/// Listener of live events.
pub type EventSink = Arc<dyn Fn(&RunEvent) + Send + Sync>;

/// The ports a run uses.
#[derive(Clone)]
pub struct Ports {
    /// Language models.
    pub model: Arc<dyn Model>,
    /// Tools.
    pub tools: Arc<dyn Tools>,
    /// Retrieval.
    pub retriever: Arc<dyn Retriever>,
    /// Long-term memory.
    pub memory: Arc<dyn Memory>,
    /// Other flow files.
    pub subflows: Arc<dyn Subflows>,
    /// Agents and what exists.
    pub catalog: Arc<dyn Catalog>,
    /// Where runs are stored.
    pub log: Arc<dyn RunLog>,
}

/// Choices for one run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Answers to `human` nodes, by node id (`{"approved": true}` or a value).
    pub answers: BTreeMap<String, Value>,
    /// Answer every call from this recording (a replay).
    pub replay: Option<Arc<Recording>>,
    /// Live events.
    pub on_event: Option<EventSink>,
    /// Folder of the flow file, for subflow paths.
    pub base: Option<PathBuf>,
    /// Id for a new run (a fresh UUID when absent).
    pub run_id: Option<String>,
    /// A budget in place of the flow's: for a new run, kept in its header;
    /// for a resume, this time only.
    pub budget: Option<crate::model::Budget>,
    /// The W3C `traceparent` of the request that starts a new run (kept in
    /// its header; its spans join that trace).
    pub trace_parent: Option<String>,
}

/// How a run ended (for now).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RunOutcome {
    /// Run id.
    pub run_id: String,
    /// Final status (`paused` when a person must answer).
    pub status: RunStatus,
    /// The output node's value, or null.
    #[specta(type = crate::JsonValue)]
    pub output: Value,
    /// The error of a failed run.
    pub error: Option<String>,
    /// The node waiting for a person.
    pub waiting: Option<String>,
}

/// Runs flows on a set of ports.
#[derive(Clone)]
pub struct Executor {
    ports: Ports,
}

/// A node's work, before it is checkpointed.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The kind's result (written to the node's `output` key).
    pub(crate) result: Option<Value>,
    /// Further writes.
    pub(crate) writes: State,
    /// Where to go next, when the kind decides (router, loop).
    pub(crate) next: Option<Vec<String>>,
    /// The run's output (an output node).
    pub(crate) output: Option<Value>,
    /// The run must wait for a person.
    pub(crate) paused: bool,
}

/// What one node of a step came to.
enum Finish {
    Done(NodeRecord),
    Paused,
    Failed(String),
    Cancelled,
}

pub(crate) struct RunContext {
    pub(crate) run_id: String,
    pub(crate) flow: Arc<Flow>,
    pub(crate) ports: Ports,
    pub(crate) options: RunOptions,
    pub(crate) input: Value,
    pub(crate) cancel: CancellationToken,
    seq: AtomicU64,
    plain_edges: HashMap<String, Vec<String>>,
    /// Node id → position in `flow.nodes`.
    index: HashMap<String, usize>,
    /// State keys that may hold untrusted content.
    pub(crate) taint: crate::taint::Taint,
    /// Model usage so far, against the budget.
    pub(crate) spent: crate::budget::Spent,
    /// The run's budget: this resume's, else the run's own, else the flow's.
    pub(crate) budget: Option<crate::model::Budget>,
    /// The caller's `traceparent` the run joined.
    pub(crate) trace_parent: Option<String>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

impl RunContext {
    fn new(
        header: &RunHeader,
        flow: Arc<Flow>,
        ports: Ports,
        options: RunOptions,
        cancel: CancellationToken,
        seq: u64,
    ) -> Self {
        let mut plain_edges: HashMap<String, Vec<String>> = HashMap::new();
        for edge in &flow.edges {
            plain_edges
                .entry(edge.from.clone())
                .or_default()
                .push(edge.to.clone());
        }
        let index = flow
            .nodes
            .iter()
            .enumerate()
            .map(|(position, node)| (node.id.clone(), position))
            .collect();
        let taint = crate::taint::Taint::of(&flow, &|reference| {
            // An agent that is not published yet counts as one that reads.
            reference
                .split_once('@')
                .and_then(|(name, version)| ports.catalog.agent(name, version))
                .is_none_or(|spec| spec.reads_untrusted_content())
        });
        let budget = options
            .budget
            .clone()
            .or_else(|| header.budget.clone())
            .or_else(|| flow.budget.clone());
        Self {
            run_id: header.id.clone(),
            flow,
            ports,
            options,
            input: header.input.clone(),
            cancel,
            seq: AtomicU64::new(seq),
            plain_edges,
            index,
            taint,
            spent: crate::budget::Spent::default(),
            budget,
            trace_parent: header.trace_parent.clone(),
        }
    }

    pub(crate) fn event(&self, node: Option<&str>, event: EventKind) -> RunEvent {
        let event = RunEvent {
            run: self.run_id.clone(),
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            at_ms: now_ms(),
            node: node.map(str::to_owned),
            event,
        };
        if let Some(sink) = &self.options.on_event {
            sink(&event);
        }
        event
    }

    fn store_events(&self, events: &[RunEvent]) -> Result<()> {
        let stored: Vec<RunEvent> = events
            .iter()
            .filter(|event| event.event.is_stored())
            .cloned()
            .collect();
        self.ports
            .log
            .events(&self.run_id, &stored)
            .map_err(Error::store)
    }
}

impl Executor {
    /// An executor on these ports.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// The ports.
    #[must_use]
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// Starts a new run of `flow` with `input`. The caller checks the flow
    /// first ([`crate::check()`]).
    pub async fn start(
        &self,
        flow: Arc<Flow>,
        flow_path: Option<String>,
        input: Value,
        options: RunOptions,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        let run_id = options
            .run_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let header = RunHeader {
            id: run_id,
            flow: flow.name.clone(),
            flow_json: serde_json::to_value(&*flow).map_err(Error::encode)?,
            flow_path,
            input: input.clone(),
            forked_from: None,
            start: None,
            budget: options.budget.clone(),
            trace_parent: options.trace_parent.clone(),
            exchange: None,
        };
        self.ports.log.begin(&header).map_err(Error::store)?;
        let start = Checkpoint {
            step: 0,
            state: State::new(),
            frontier: flow.entry_nodes(),
        };
        self.drive(
            header,
            flow,
            start,
            BTreeMap::new(),
            if options.replay.is_some() {
                "replay"
            } else {
                "start"
            },
            options,
            crate::budget::Spent::default(),
            cancel,
        )
        .await
    }

    /// A stored run and its flow.
    fn load(&self, run_id: &str) -> Result<(crate::ports::StoredRun, Arc<Flow>)> {
        let stored = self
            .ports
            .log
            .load(run_id)
            .map_err(Error::store)?
            .ok_or_else(|| Error::UnknownRun { id: run_id.into() })?;
        rerunnable(&stored.header)?;
        let flow =
            serde_json::from_value(stored.header.flow_json.clone()).map_err(Error::encode)?;
        Ok((stored, Arc::new(flow)))
    }

    /// Continues a stored run from its last checkpoint: nodes that finished
    /// are not run again. A paused run needs its answer in `options.answers`.
    pub async fn resume(
        &self,
        run_id: &str,
        options: RunOptions,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        let (stored, flow) = self.load(run_id)?;
        if matches!(stored.status, RunStatus::Succeeded) {
            return Err(Error::NotResumable {
                id: run_id.into(),
                status: stored.status.as_str().into(),
            });
        }
        let (checkpoint, finished) = rebuild(&flow, &stored.header, &stored.nodes);
        // The budget counts what the run used before; a new budget given for
        // this resume decides afresh on those totals.
        let spent = crate::budget::Spent::from_events(&stored.events, options.budget.is_none());
        self.drive(
            stored.header,
            flow,
            checkpoint,
            finished,
            "resume",
            options,
            spent,
            cancel,
        )
        .await
    }

    /// Replays a stored run from its recording: every model, tool,
    /// retrieval, memory and human call is answered as recorded. Nothing is
    /// stored unless `log` is given.
    pub async fn replay(
        &self,
        stored: &crate::ports::StoredRun,
        log: Arc<dyn RunLog>,
        options: RunOptions,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        rerunnable(&stored.header)?;
        let flow: Arc<Flow> = Arc::new(
            serde_json::from_value(stored.header.flow_json.clone()).map_err(Error::encode)?,
        );
        let mut header = stored.header.clone();
        header.id = options
            .run_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut ports = self.ports.clone();
        ports.log = log;
        ports.log.begin(&header).map_err(Error::store)?;
        let start = header.start.clone().unwrap_or_else(|| Checkpoint {
            step: 0,
            state: State::new(),
            frontier: flow.entry_nodes(),
        });
        let options = RunOptions {
            replay: Some(Arc::new(Recording::new(stored.calls.clone()))),
            ..options
        };
        Executor::new(ports)
            .drive(
                header,
                flow,
                start,
                BTreeMap::new(),
                "replay",
                options,
                crate::budget::Spent::default(),
                cancel,
            )
            .await
    }

    /// Starts a new run from the state just before `node` last ran in run
    /// `run_id`, with `edits` applied to that state.
    pub async fn fork(
        &self,
        run_id: &str,
        node: &str,
        edits: State,
        options: RunOptions,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        let (stored, flow) = self.load(run_id)?;
        if flow.node(node).is_none() {
            return Err(Error::UnknownNode {
                node: node.into(),
                flow: flow.name.clone(),
            });
        }
        let Some(position) = stored.nodes.iter().rposition(|record| record.node == node) else {
            return Err(Error::NodeNotRun {
                node: node.into(),
                run: run_id.into(),
            });
        };
        let step = stored.nodes[position].step;
        let before: Vec<NodeRecord> = stored
            .nodes
            .iter()
            .filter(|record| record.step < step)
            .cloned()
            .collect();
        let mut state = fold(&stored.header, &before);
        for (key, value) in edits {
            if let Some(declared) = flow.state.get(&key) {
                if !declared.admits(&value) {
                    return Err(Error::StateType {
                        node: node.into(),
                        key,
                        expected: declared.name().into(),
                    });
                }
            } else {
                return Err(Error::UnknownState { key });
            }
            state.insert(key, value);
        }
        let start = Checkpoint {
            step,
            state,
            frontier: vec![node.to_owned()],
        };
        let header = RunHeader {
            id: options
                .run_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            flow: stored.header.flow.clone(),
            flow_json: stored.header.flow_json.clone(),
            flow_path: stored.header.flow_path.clone(),
            input: stored.header.input.clone(),
            forked_from: Some((run_id.to_owned(), node.to_owned())),
            start: Some(start.clone()),
            budget: stored.header.budget.clone(),
            trace_parent: options.trace_parent.clone(),
            exchange: None,
        };
        self.ports.log.begin(&header).map_err(Error::store)?;
        self.drive(
            header,
            flow,
            start,
            BTreeMap::new(),
            "fork",
            options,
            crate::budget::Spent::default(),
            cancel,
        )
        .await
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the one internal driver of all four entry points"
    )]
    async fn drive(
        &self,
        header: RunHeader,
        flow: Arc<Flow>,
        start: Checkpoint,
        mut finished: BTreeMap<String, NodeRecord>,
        mode: &str,
        options: RunOptions,
        spent: crate::budget::Spent,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        let seq = self.ports.log.next_seq(&header.id).map_err(Error::store)?;
        let mut context = RunContext::new(
            &header,
            Arc::clone(&flow),
            self.ports.clone(),
            options,
            cancel,
            seq,
        );
        context.spent = spent;
        let context = Arc::new(context);
        let started = context.event(
            None,
            EventKind::RunStarted {
                flow: flow.name.clone(),
                mode: mode.to_owned(),
            },
        );
        context.store_events(&[started])?;
        self.ports
            .log
            .status(&header.id, RunStatus::Running, &Value::Null)
            .map_err(Error::store)?;

        let Checkpoint {
            mut step,
            mut state,
            mut frontier,
        } = start;
        let mut output = state.get(OUTPUT_KEY).cloned().unwrap_or(Value::Null);
        loop {
            if frontier.is_empty() {
                return finish(&context, RunStatus::Succeeded, output, None);
            }
            if context.cancel.is_cancelled() {
                return finish(&context, RunStatus::Cancelled, output, None);
            }
            let snapshot = Arc::new(state.clone());
            let mut results: Vec<(String, Finish)> = Vec::with_capacity(frontier.len());
            let mut pending = Vec::new();
            for id in &frontier {
                match finished.remove(id) {
                    Some(record) => results.push((id.clone(), Finish::Done(record))),
                    None => pending.push(id.clone()),
                }
            }
            match run_step(&context, pending, &snapshot, step).await {
                Ok(done) => results.extend(done),
                Err(message) => return finish(&context, RunStatus::Failed, output, Some(message)),
            }
            results.sort_by(|a, b| a.0.cmp(&b.0));
            let mut next: BTreeSet<String> = BTreeSet::new();
            let mut failure = None;
            let mut waiting = None;
            let mut cancelled = false;
            for (id, result) in results {
                match result {
                    Finish::Done(record) => {
                        state.extend(record.writes);
                        next.extend(record.next);
                        if let Some(value) = record.output {
                            output = value;
                        }
                    }
                    Finish::Paused => waiting = waiting.or(Some(id)),
                    Finish::Failed(message) => failure = failure.or(Some(message)),
                    Finish::Cancelled => cancelled = true,
                }
            }
            if let Some(message) = failure {
                return finish(&context, RunStatus::Failed, output, Some(message));
            }
            if cancelled {
                return finish(&context, RunStatus::Cancelled, output, None);
            }
            if let Some(node) = waiting {
                let event = context.event(
                    None,
                    EventKind::RunPaused {
                        waiting: node.clone(),
                    },
                );
                context.store_events(&[event])?;
                self.ports
                    .log
                    .status(&header.id, RunStatus::Paused, &json!({ "waiting": node }))
                    .map_err(Error::store)?;
                return Ok(RunOutcome {
                    run_id: header.id,
                    status: RunStatus::Paused,
                    output,
                    error: None,
                    waiting: Some(node),
                });
            }
            frontier = next.into_iter().collect();
            step += 1;
        }
    }
}

/// Runs the nodes of one step: inline when there is one, as concurrent
/// tokio tasks when there are several.
async fn run_step(
    context: &Arc<RunContext>,
    pending: Vec<String>,
    snapshot: &Arc<State>,
    step: u64,
) -> std::result::Result<Vec<(String, Finish)>, String> {
    if let [id] = pending.as_slice() {
        let finish = run_node(Arc::clone(context), id.clone(), Arc::clone(snapshot), step).await;
        return Ok(vec![(id.clone(), finish)]);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for id in pending {
        let context = Arc::clone(context);
        let snapshot = Arc::clone(snapshot);
        tasks.spawn(async move {
            let finish = run_node(context, id.clone(), snapshot, step).await;
            (id, finish)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.map_err(|error| format!("a node task stopped: {error}"))?);
    }
    Ok(results)
}

/// Refuses a run that only records an ask or chat turn.
pub fn rerunnable(header: &RunHeader) -> Result<()> {
    match &header.exchange {
        Some(exchange) => Err(Error::NotRerunnable {
            id: header.id.clone(),
            exchange: exchange.clone(),
        }),
        None => Ok(()),
    }
}

fn finish(
    context: &RunContext,
    status: RunStatus,
    output: Value,
    error: Option<String>,
) -> Result<RunOutcome> {
    let event = context.event(
        None,
        EventKind::RunFinished {
            status: status.as_str().to_owned(),
            output: output.clone(),
            error: error.clone(),
        },
    );
    context.store_events(&[event])?;
    context
        .ports
        .log
        .status(
            &context.run_id,
            status,
            &json!({ "output": output, "error": error }),
        )
        .map_err(Error::store)?;
    Ok(RunOutcome {
        run_id: context.run_id.clone(),
        status,
        output,
        error,
        waiting: None,
    })
}

/// The state after these node records, on top of a forked run's start.
fn fold(header: &RunHeader, records: &[NodeRecord]) -> State {
    let mut state = header
        .start
        .as_ref()
        .map(|start| start.state.clone())
        .unwrap_or_default();
    for record in records {
        state.extend(record.writes.clone());
    }
    state
}

/// The checkpoint to resume from: the last step with a finished node, its
/// state before that step, its frontier, and the nodes of it already done.
fn rebuild(
    flow: &Flow,
    header: &RunHeader,
    records: &[NodeRecord],
) -> (Checkpoint, BTreeMap<String, NodeRecord>) {
    let initial = header.start.clone().unwrap_or_else(|| Checkpoint {
        step: 0,
        state: State::new(),
        frontier: flow.entry_nodes(),
    });
    let Some(last_step) = records.iter().map(|record| record.step).max() else {
        return (initial, BTreeMap::new());
    };
    let before: Vec<NodeRecord> = records
        .iter()
        .filter(|record| record.step < last_step)
        .cloned()
        .collect();
    let frontier: Vec<String> = if last_step == initial.step {
        initial.frontier.clone()
    } else {
        let set: BTreeSet<String> = before
            .iter()
            .filter(|record| record.step == last_step - 1)
            .flat_map(|record| record.next.iter().cloned())
            .collect();
        set.into_iter().collect()
    };
    let done: BTreeMap<String, NodeRecord> = records
        .iter()
        .filter(|record| record.step == last_step)
        .map(|record| (record.node.clone(), record.clone()))
        .collect();
    let state = fold(header, &before);
    if done.len() == frontier.len() {
        // The whole step finished: continue with the next one.
        let mut state = state;
        let mut next = BTreeSet::new();
        for record in done.values() {
            state.extend(record.writes.clone());
            next.extend(record.next.iter().cloned());
        }
        return (
            Checkpoint {
                step: last_step + 1,
                state,
                frontier: next.into_iter().collect(),
            },
            BTreeMap::new(),
        );
    }
    (
        Checkpoint {
            step: last_step,
            state,
            frontier,
        },
        done,
    )
}

/// Runs one node: attempts with timeout and retries, panic capture, the
/// checkpoint and its events.
async fn run_node(context: Arc<RunContext>, id: String, state: Arc<State>, step: u64) -> Finish {
    let found = context
        .index
        .get(&id)
        .map(|&position| &context.flow.nodes[position]);
    let Some(node) = found.cloned().map(Arc::new) else {
        return Finish::Failed(format!("the flow has no node `{id}`"));
    };
    let started_at = Instant::now();
    let mut events = Vec::new();
    let attempts = node.retries + 1;
    for attempt in 1..=attempts {
        let started = context.event(
            Some(&id),
            EventKind::NodeStarted {
                kind: node.kind.name().to_owned(),
                step,
                attempt,
            },
        );
        let span = started.seq;
        events.push(started);
        let buffer: nodes::Buffer = Arc::default();
        let work = nodes::execute(
            Arc::clone(&context),
            Arc::clone(&node),
            Arc::clone(&state),
            nodes::Place {
                path: id.clone(),
                local: Vec::new(),
                span,
            },
            Arc::clone(&buffer),
        );
        let guarded = AssertUnwindSafe(work).catch_unwind();
        let timed = async {
            match node.timeout_ms.or_else(|| default_timeout(&node.kind)) {
                Some(limit) => tokio::time::timeout(Duration::from_millis(limit), guarded)
                    .await
                    .unwrap_or_else(|_| {
                        Ok(Err(format!(
                            "node `{id}` timed out after {limit} ms — raise its `timeoutMs` or look at what it waits for"
                        )))
                    }),
                None => guarded.await,
            }
        };
        let result = tokio::select! {
            result = timed => result,
            () = context.cancel.cancelled() => {
                drain(&buffer, &mut events);
                let event = context.event(Some(&id), EventKind::NodeFailed { error: "cancelled".into(), retrying: false });
                events.push(event);
                return stored_failure(&context, &events, Finish::Cancelled);
            }
        };
        drain(&buffer, &mut events);
        let (message, retry) = match result {
            Ok(Ok(outcome)) => {
                return complete(&context, &node, step, outcome, started_at, events);
            }
            Ok(Err(message)) => (message, attempt < attempts),
            Err(panic) => (
                format!(
                    "node `{id}` panicked: {} — this is a bug; the run's events are kept",
                    panic_message(&panic)
                ),
                false,
            ),
        };
        events.push(context.event(
            Some(&id),
            EventKind::NodeFailed {
                error: message.clone(),
                retrying: retry,
            },
        ));
        if !retry {
            return stored_failure(&context, &events, Finish::Failed(message));
        }
        tokio::time::sleep(Duration::from_millis(100 << attempt.min(6))).await;
    }
    Finish::Failed(format!("node `{id}` did not run"))
}

fn drain(buffer: &nodes::Buffer, events: &mut Vec<RunEvent>) {
    if let Ok(mut produced) = buffer.lock() {
        events.append(&mut produced);
    }
}

fn stored_failure(context: &RunContext, events: &[RunEvent], finish: Finish) -> Finish {
    match context.store_events(events) {
        Ok(()) => finish,
        Err(error) => Finish::Failed(error.to_string()),
    }
}

/// Tools and subflows may hang; give them a limit unless the flow sets one.
fn default_timeout(kind: &NodeKind) -> Option<u64> {
    match kind {
        NodeKind::Tool { .. } => Some(120_000),
        _ => None,
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

fn complete(
    context: &RunContext,
    node: &Node,
    step: u64,
    outcome: Outcome,
    started_at: Instant,
    mut events: Vec<RunEvent>,
) -> Finish {
    if outcome.paused {
        return stored_failure(context, &events, Finish::Paused);
    }
    let mut writes = outcome.writes;
    if let (Some(key), Some(result)) = (&node.output, outcome.result) {
        writes.insert(key.clone(), result);
    }
    if let Some(output) = &outcome.output {
        // Kept in the state too, so a resumed run still has it.
        writes.insert(OUTPUT_KEY.to_owned(), output.clone());
    }
    for (key, value) in &writes {
        if let Some(declared) = context.flow.state.get(key) {
            if !declared.admits(value) {
                let message = format!(
                    "node `{}` wrote {} to `{key}`, which is declared {}",
                    node.id,
                    describe_type(value),
                    declared.name()
                );
                events.push(context.event(
                    Some(&node.id),
                    EventKind::NodeFailed {
                        error: message.clone(),
                        retrying: false,
                    },
                ));
                return stored_failure(context, &events, Finish::Failed(message));
            }
        }
    }
    let next = outcome.next.unwrap_or_else(|| {
        context
            .plain_edges
            .get(&node.id)
            .cloned()
            .unwrap_or_default()
    });
    let record = NodeRecord {
        step,
        node: node.id.clone(),
        writes,
        next,
        output: outcome.output,
    };
    events.push(context.event(
        Some(&node.id),
        EventKind::NodeFinished {
            step,
            duration_ms: started_at.elapsed().as_millis() as u64,
            writes: serde_json::to_value(&record.writes).unwrap_or_default(),
            next: record.next.clone(),
        },
    ));
    let stored: Vec<RunEvent> = events
        .into_iter()
        .filter(|event| event.event.is_stored())
        .collect();
    match context
        .ports
        .log
        .node_done(&context.run_id, &record, &stored)
    {
        Ok(()) => Finish::Done(record),
        Err(error) => Finish::Failed(format!("cannot checkpoint node `{}`: {error}", node.id)),
    }
}

fn describe_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
