//! Record and replay: every call a node makes to a port goes through
//! `Calls::call`, which stores the request's hash and the response. A
//! replay answers each call from the recording instead — no model, no
//! network — and stops at the first request that differs from the one
//! recorded.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::ports::{CallRecord, PortError, PortResult, RunLog};

/// Calls recorded in a run, by node path and index.
#[derive(Debug, Default)]
pub struct Recording {
    calls: HashMap<(String, u32), CallRecord>,
}

impl Recording {
    /// The recording of a run's calls.
    #[must_use]
    pub fn new(calls: Vec<CallRecord>) -> Self {
        Self {
            calls: calls
                .into_iter()
                .map(|call| ((call.node.clone(), call.index), call))
                .collect(),
        }
    }

    /// How many calls it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether it holds no call.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

/// sha256 of a request's canonical JSON.
#[must_use]
pub fn request_hash(request: &Value) -> String {
    hex::encode(Sha256::digest(request.to_string().as_bytes()))
}

/// The calls of one node attempt: numbers them, records or replays them.
pub(crate) struct Calls {
    pub(crate) run_id: String,
    pub(crate) node: String,
    pub(crate) index: AtomicU32,
    pub(crate) log: Arc<dyn RunLog>,
    pub(crate) replay: Option<Arc<Recording>>,
}

impl Calls {
    pub(crate) fn new(
        run_id: &str,
        node: String,
        log: Arc<dyn RunLog>,
        replay: Option<Arc<Recording>>,
    ) -> Self {
        Self {
            run_id: run_id.to_owned(),
            node,
            index: AtomicU32::new(0),
            log,
            replay,
        }
    }

    /// Makes (or replays) one call of `kind` with `request`.
    pub(crate) async fn call<Q, R, F>(&self, kind: &str, request: &Q, live: F) -> PortResult<R>
    where
        Q: Serialize,
        R: Serialize + DeserializeOwned,
        F: Future<Output = PortResult<R>>,
    {
        let index = self.index.fetch_add(1, Ordering::SeqCst);
        let request = serde_json::to_value(request)
            .map_err(|error| PortError::new(format!("cannot record a {kind} request: {error}")))?;
        let hash = request_hash(&request);
        if let Some(recording) = &self.replay {
            let Some(recorded) = recording.calls.get(&(self.node.clone(), index)) else {
                return Err(PortError::new(format!(
                    "replay diverged at node `{}`: call #{index} ({kind}) was not made in the recorded run",
                    self.node
                )));
            };
            if recorded.kind != kind || recorded.request_hash != hash {
                return Err(PortError::new(format!(
                    "replay diverged at node `{}`: call #{index} is a {kind} request that differs from the recorded {} request (hash {} ≠ {})",
                    self.node,
                    recorded.kind,
                    &hash[..12],
                    &recorded.request_hash[..recorded.request_hash.len().min(12)]
                )));
            }
            return decode(&recorded.response);
        }
        let result = live.await;
        let response = match &result {
            Ok(value) => json!({ "ok": value }),
            Err(error) => json!({ "error": error.message }),
        };
        self.log.call(
            &self.run_id,
            &CallRecord {
                node: self.node.clone(),
                index,
                kind: kind.to_owned(),
                request_hash: hash,
                request,
                response,
            },
        )?;
        result
    }
}

fn decode<R: DeserializeOwned>(response: &Value) -> PortResult<R> {
    if let Some(message) = response.get("error").and_then(Value::as_str) {
        return Err(PortError::new(message));
    }
    serde_json::from_value(response.get("ok").cloned().unwrap_or(Value::Null))
        .map_err(|error| PortError::new(format!("the recorded response cannot be read: {error}")))
}
