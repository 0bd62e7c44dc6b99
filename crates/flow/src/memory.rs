//! An in-memory [`RunLog`]: for replays that should leave nothing behind,
//! the benchmark's "no durability" figures, and tests of pure logic.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use crate::event::RunEvent;
use crate::ports::{
    CallRecord, NodeRecord, PortError, PortResult, RunHeader, RunLog, RunStatus, StoredRun,
};

/// Runs kept in memory.
#[derive(Debug, Default)]
pub struct MemoryLog {
    runs: Mutex<HashMap<String, StoredRun>>,
}

impl MemoryLog {
    fn with<T>(&self, run_id: &str, change: impl FnOnce(&mut StoredRun) -> T) -> PortResult<T> {
        let mut runs = self
            .runs
            .lock()
            .map_err(|_| PortError::new("the in-memory run log is poisoned"))?;
        let run = runs
            .get_mut(run_id)
            .ok_or_else(|| PortError::new(format!("no run `{run_id}` in memory")))?;
        Ok(change(run))
    }
}

impl RunLog for MemoryLog {
    fn begin(&self, run: &RunHeader) -> PortResult<()> {
        let mut runs = self
            .runs
            .lock()
            .map_err(|_| PortError::new("the in-memory run log is poisoned"))?;
        runs.insert(
            run.id.clone(),
            StoredRun {
                header: run.clone(),
                status: RunStatus::Running,
                nodes: Vec::new(),
                calls: Vec::new(),
                events: Vec::new(),
            },
        );
        Ok(())
    }

    fn events(&self, run_id: &str, events: &[RunEvent]) -> PortResult<()> {
        self.with(run_id, |run| run.events.extend_from_slice(events))
    }

    fn node_done(&self, run_id: &str, record: &NodeRecord, events: &[RunEvent]) -> PortResult<()> {
        self.with(run_id, |run| {
            run.nodes.push(record.clone());
            run.events.extend_from_slice(events);
        })
    }

    fn call(&self, run_id: &str, call: &CallRecord) -> PortResult<()> {
        self.with(run_id, |run| {
            run.calls
                .retain(|old| !(old.node == call.node && old.index == call.index));
            run.calls.push(call.clone());
        })
    }

    fn status(&self, run_id: &str, status: RunStatus, _: &Value) -> PortResult<()> {
        self.with(run_id, |run| run.status = status)
    }

    fn next_seq(&self, run_id: &str) -> PortResult<u64> {
        let runs = self
            .runs
            .lock()
            .map_err(|_| PortError::new("the in-memory run log is poisoned"))?;
        Ok(runs
            .get(run_id)
            .and_then(|run| run.events.iter().map(|event| event.seq + 1).max())
            .unwrap_or(0))
    }

    fn load(&self, run_id: &str) -> PortResult<Option<StoredRun>> {
        let runs = self
            .runs
            .lock()
            .map_err(|_| PortError::new("the in-memory run log is poisoned"))?;
        Ok(runs.get(run_id).cloned())
    }
}
