//! Flows without a model: transform, router, loop and parallel runs with
//! their event streams snapshotted, resume from a partial checkpoint, fork,
//! replay from a recording, and the check before a run.

mod check;
mod deterministic;
mod fuzz_corpus;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use codexos_flow::check::OpenCatalog;
use codexos_flow::memory::MemoryLog;
use codexos_flow::ports::{
    Memory, Model, ModelReply, ModelRequest, PortError, PortResult, Retriever, Subflows, TokenSink,
    ToolSpec, ToolUse, Tools,
};
use codexos_flow::{Executor, Ports, RunEvent};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// Ports that refuse every call: a deterministic flow must not need them.
/// The tool `sleep` waits forever and `boom` panics (bad-input cases).
pub(crate) struct Unavailable;

#[async_trait]
impl Model for Unavailable {
    async fn complete(
        &self,
        _: &ModelRequest,
        _: TokenSink<'_>,
        _: &CancellationToken,
    ) -> PortResult<ModelReply> {
        Err(PortError::new("no model in this test"))
    }
}

#[async_trait]
impl Tools for Unavailable {
    fn spec(&self, name: &str) -> Option<ToolSpec> {
        Some(ToolSpec {
            name: name.into(),
            description: String::new(),
            parameters: json!({"type": "object"}),
        })
    }
    async fn call(
        &self,
        name: &str,
        arguments: &Value,
        _: &ToolUse,
        _: &CancellationToken,
    ) -> PortResult<Value> {
        match name {
            "sleep" => {
                tokio::time::sleep(std::time::Duration::from_hours(1)).await;
                Ok(Value::Null)
            }
            "boom" => panic!("the tool exploded"),
            "echo" => Ok(arguments.clone()),
            _ => Err(PortError::new(format!("no tool `{name}` in this test"))),
        }
    }
}

#[async_trait]
impl Retriever for Unavailable {
    async fn search(&self, _: &str, _: Option<&str>, _: u32) -> PortResult<Vec<Value>> {
        Err(PortError::new("no retrieval in this test"))
    }
}

impl Memory for Unavailable {
    fn write(&self, _: &str, _: &str, _: &str) -> PortResult<()> {
        Err(PortError::new("no memory in this test"))
    }
    fn read(&self, _: &str, _: &str) -> PortResult<Option<String>> {
        Err(PortError::new("no memory in this test"))
    }
    fn search(&self, _: &str, _: &str, _: u32) -> PortResult<Vec<Value>> {
        Err(PortError::new("no memory in this test"))
    }
}

#[async_trait]
impl Subflows for Unavailable {
    async fn run(&self, _: &str, _: Value, _: &CancellationToken) -> PortResult<Value> {
        Err(PortError::new("no subflows in this test"))
    }
}

pub(crate) fn executor(log: Arc<MemoryLog>) -> Executor {
    let none = Arc::new(Unavailable);
    Executor::new(Ports {
        model: none.clone(),
        tools: none.clone(),
        retriever: none.clone(),
        memory: none.clone(),
        subflows: none,
        catalog: Arc::new(OpenCatalog::default()),
        log,
    })
}

/// Collects live events.
#[derive(Default, Clone)]
pub(crate) struct Collected(pub(crate) Arc<Mutex<Vec<RunEvent>>>);

impl Collected {
    pub(crate) fn sink(&self) -> codexos_flow::exec::EventSink {
        let events = Arc::clone(&self.0);
        Arc::new(move |event: &RunEvent| events.lock().expect("events").push(event.clone()))
    }

    /// `node: type` lines, the shape of the stream without times and ids.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("events")
            .iter()
            .map(|event| {
                let kind = serde_json::to_value(&event.event).expect("event");
                let mut line = format!(
                    "{} {}",
                    event.node.as_deref().unwrap_or("run"),
                    kind["type"].as_str().unwrap_or("?")
                );
                if let Some(writes) = kind
                    .get("writes")
                    .filter(|writes| writes.as_object().is_some_and(|w| !w.is_empty()))
                {
                    line = format!("{line} {writes}");
                }
                if let Some(next) = kind
                    .get("next")
                    .and_then(Value::as_array)
                    .filter(|next| !next.is_empty())
                {
                    line = format!(
                        "{line} → {}",
                        next.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    );
                }
                if let Some(status) = kind.get("status") {
                    line = format!("{line} {status}");
                }
                line
            })
            .collect()
    }
}

pub(crate) fn fixture(name: &str) -> Arc<codexos_flow::Flow> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture");
    Arc::new(codexos_flow::parse(&text).expect("fixture parses"))
}
