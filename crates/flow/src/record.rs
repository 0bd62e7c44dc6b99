//! Record and replay: every call a node makes to a port goes through
//! `Calls::call`, which stores the request's hash and the response. A
//! replay answers each call from the recording instead — no model, no
//! network — and stops at the first request that differs from the one
//! recorded.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::ports::{CallRecord, PortError, PortResult, RunLog};

/// Recorded calls by kind and request hash, in the order they were made.
type ByRequest = HashMap<(String, String), VecDeque<CallRecord>>;

/// What a recording matched by request has for a call.
enum Answer {
    /// The recorded response.
    Recorded(Value),
    /// No recorded call made this request.
    Missing,
}

/// Calls recorded in a run: by node path and index (a replay of that
/// run), or by request (a replay of another run of the same or an edited
/// flow: each call is answered by a recorded call with the same kind and
/// request, wherever it was made).
#[derive(Debug, Default)]
pub struct Recording {
    calls: HashMap<(String, u32), CallRecord>,
    by_request: Option<Mutex<ByRequest>>,
}

impl Recording {
    /// The recording of a run's calls, matched by node and index.
    #[must_use]
    pub fn new(calls: Vec<CallRecord>) -> Self {
        Self {
            calls: calls
                .into_iter()
                .map(|call| ((call.node.clone(), call.index), call))
                .collect(),
            by_request: None,
        }
    }

    /// Recorded calls matched by kind and request hash: identical requests
    /// get their answers in the order they were recorded (the last one
    /// again when more are made).
    #[must_use]
    pub fn by_request(calls: Vec<CallRecord>) -> Self {
        let mut queues = ByRequest::new();
        for call in calls {
            queues
                .entry((call.kind.clone(), call.request_hash.clone()))
                .or_default()
                .push_back(call);
        }
        Self {
            calls: HashMap::new(),
            by_request: Some(Mutex::new(queues)),
        }
    }

    /// How many calls it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        match &self.by_request {
            Some(queues) => queues
                .lock()
                .map_or(0, |queues| queues.values().map(VecDeque::len).sum()),
            None => self.calls.len(),
        }
    }

    /// Whether it holds no call.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The recorded answer to a `kind` request with `hash`, when the
    /// recording is matched by request.
    fn answer(&self, kind: &str, hash: &str) -> Option<Answer> {
        let queues = self.by_request.as_ref()?;
        let mut queues = queues.lock().ok()?;
        let queue = queues.get_mut(&(kind.to_owned(), hash.to_owned()));
        let response = queue.and_then(|queue| {
            if queue.len() > 1 {
                queue.pop_front().map(|call| call.response)
            } else {
                queue.front().map(|call| call.response.clone())
            }
        });
        Some(response.map_or(Answer::Missing, Answer::Recorded))
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
            match recording.answer(kind, &hash) {
                // Logged like a live call: the replayed run keeps its calls
                // (scorers read them; its report can be the next baseline).
                Some(Answer::Recorded(response)) => {
                    self.log(index, kind, hash, request, response.clone())?;
                    return decode(&response);
                }
                Some(Answer::Missing) => {
                    return Err(PortError::new(format!(
                        "not recorded: node `{}` made a {kind} request that no recorded call made (its prompt, arguments or model changed); run it live to record it",
                        self.node
                    )))
                }
                None => {}
            }
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
        self.log(index, kind, hash, request, response)?;
        result
    }

    /// Stores one call of this node attempt in the run.
    fn log(
        &self,
        index: u32,
        kind: &str,
        request_hash: String,
        request: Value,
        response: Value,
    ) -> PortResult<()> {
        self.log.call(
            &self.run_id,
            &CallRecord {
                node: self.node.clone(),
                index,
                kind: kind.to_owned(),
                request_hash,
                request,
                response,
            },
        )
    }
}

fn decode<R: DeserializeOwned>(response: &Value) -> PortResult<R> {
    if let Some(message) = response.get("error").and_then(Value::as_str) {
        return Err(PortError::new(message));
    }
    serde_json::from_value(response.get("ok").cloned().unwrap_or(Value::Null))
        .map_err(|error| PortError::new(format!("the recorded response cannot be read: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryLog;

    fn record(node: &str, index: u32, request: &Value, answer: &str) -> CallRecord {
        CallRecord {
            node: node.into(),
            index,
            kind: "model".into(),
            request_hash: request_hash(request),
            request: request.clone(),
            response: json!({ "ok": answer }),
        }
    }

    #[tokio::test]
    async fn a_replay_by_request_answers_wherever_the_call_is_made() {
        let hello = json!({"prompt": "hello"});
        let again = json!({"prompt": "again"});
        let recording = Arc::new(Recording::by_request(vec![
            record("old-node", 0, &hello, "first"),
            record("old-node", 1, &hello, "second"),
            record("old-node", 2, &again, "other"),
        ]));
        assert_eq!(recording.len(), 3);
        let log = Arc::new(MemoryLog::default());
        log.begin(&crate::ports::RunHeader {
            id: "run".into(),
            flow: "f".into(),
            flow_json: Value::Null,
            flow_path: None,
            input: Value::Null,
            forked_from: None,
            start: None,
            budget: None,
            trace_parent: None,
            exchange: None,
        })
        .expect("begin");
        let calls = Calls::new(
            "run",
            "renamed".into(),
            Arc::clone(&log) as Arc<dyn RunLog>,
            Some(recording),
        );
        let never = async { Err::<String, _>(PortError::new("live call made")) };
        let answer: String = calls.call("model", &hello, never).await.expect("recorded");
        assert_eq!(answer, "first");
        let answer: String = calls
            .call("model", &hello, async { Err(PortError::new("live")) })
            .await
            .expect("recorded");
        assert_eq!(answer, "second");
        let answer: String = calls
            .call("model", &hello, async { Err(PortError::new("live")) })
            .await
            .expect("the last answer again");
        assert_eq!(answer, "second");
        let error = calls
            .call::<_, String, _>("model", &json!({"prompt": "edited"}), async {
                Ok("live".into())
            })
            .await
            .expect_err("an edited request is not answered");
        assert!(
            error.message.starts_with("not recorded: node `renamed`"),
            "{}",
            error.message
        );
        let error = calls
            .call::<_, String, _>("tool", &again, async { Ok("live".into()) })
            .await
            .expect_err("the kind must match too");
        assert!(error.message.contains("not recorded"), "{}", error.message);
        // The replayed run keeps the calls it was answered with.
        let kept = log.load("run").expect("load").expect("stored").calls;
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert!(kept.iter().all(|call| call.node == "renamed"));
    }
}
