//! A scripted HTTP server on 127.0.0.1 speaking the providers' protocols,
//! with one behaviour per path prefix: healthy streams in both formats, 429
//! with Retry-After, 500, a hang, garbage, a refused key, a whole JSON body.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;

/// Requests the server saw: (scenario, the request body).
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<(String, serde_json::Value)>>>);

impl Seen {
    pub fn count(&self, scenario: &str) -> usize {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .filter(|(name, _)| name == scenario)
            .count()
    }

    pub fn last_body(&self, scenario: &str) -> serde_json::Value {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .rev()
            .find(|(name, _)| name == scenario)
            .map(|(_, body)| body.clone())
            .expect("a request was made")
    }
}

pub struct Server {
    pub address: SocketAddr,
    pub seen: Seen,
}

impl Server {
    /// Base URL of an OpenAI-format scenario.
    pub fn openai(&self, scenario: &str) -> String {
        format!("http://{}/{scenario}/v1", self.address)
    }

    /// Base URL of an Anthropic-format scenario.
    pub fn anthropic(&self, scenario: &str) -> String {
        format!("http://{}/{scenario}", self.address)
    }
}

fn sse(events: &[String]) -> Response {
    let body: String = events
        .iter()
        .flat_map(|event| [event.as_str(), "\n\n"])
        .collect();
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from(body))
        .expect("response")
}

fn openai_text(words: &[&str]) -> Vec<String> {
    let mut events: Vec<String> = words
        .iter()
        .map(|word| format!("data: {}", serde_json::json!({"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": null}]})))
        .collect();
    events.push(format!(
        "data: {}",
        serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    ));
    events.push(format!("data: {}", serde_json::json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": words.len()}})));
    events.push("data: [DONE]".into());
    events
}

fn status(code: u16, headers: &[(&str, &str)], body: &str) -> Response {
    let mut builder = Response::builder().status(StatusCode::from_u16(code).expect("status"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body.to_owned())).expect("response")
}

async fn handle(
    State(seen): State<Seen>,
    Path(scenario): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let count = {
        let mut seen = seen.0.lock().expect("lock");
        seen.push((
            scenario.clone(),
            serde_json::from_str(&body).unwrap_or_default(),
        ));
        seen.iter().filter(|(name, _)| *name == scenario).count()
    };
    match scenario.as_str() {
        "ok" => sse(&openai_text(&["Hello", " from", " ok"])),
        "backup" => sse(&openai_text(&["Hello", " from", " backup"])),
        "tools" => sse(&[
            format!("data: {}", serde_json::json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":"}}]}}]})),
            format!("data: {}", serde_json::json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"Oslo\"}"}}]}, "finish_reason": "tool_calls"}]})),
            "data: [DONE]".into(),
        ]),
        "claude" => {
            if headers.get("x-api-key").and_then(|value| value.to_str().ok()) != Some("sk-ant-test") {
                return status(401, &[], r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#);
            }
            sse(&[
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":11,\"output_tokens\":1}}}".into(),
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}".into(),
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Bonjour\"}}".into(),
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}".into(),
                "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}".into(),
                "event: message_stop\ndata: {\"type\":\"message_stop\"}".into(),
            ])
        }
        "breaks" => sse(&[
            format!("data: {}", serde_json::json!({"choices": [{"index": 0, "delta": {"content": "Half an"}, "finish_reason": null}]})),
            "data: {\"error\": {\"message\": \"upstream reset\"}}".into(),
        ]),
        "overloaded" => sse(&["event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}".into()]),
        "ratelimit" => status(429, &[("retry-after", "30")], r#"{"error":{"message":"slow down"}}"#),
        "ratelimit-once" if count == 1 => status(429, &[("retry-after", "1")], r#"{"error":{"message":"slow down"}}"#),
        "ratelimit-once" => sse(&openai_text(&["after", " waiting"])),
        "error500" => status(500, &[], "internal error"),
        "hang" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            status(500, &[], "too late")
        }
        "garbage" => sse(&["data: <html><body>Bad gateway</body></html>".into()]),
        "auth" => {
            if headers.get("authorization").and_then(|value| value.to_str().ok()) == Some("Bearer right-key") {
                sse(&openai_text(&["authorised"]))
            } else {
                status(401, &[], r#"{"error":{"message":"Incorrect API key provided"}}"#)
            }
        }
        "long" => status(400, &[], r#"{"error":{"message":"This model's maximum context length is 8 tokens","code":"context_length_exceeded"}}"#),
        "whole" => Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(
                serde_json::json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "not streamed"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}).to_string(),
            ))
            .expect("response"),
        _ => status(404, &[], "no such scenario"),
    }
}

/// Starts the server on an ephemeral port.
pub async fn start() -> Server {
    let seen = Seen::default();
    let app = Router::new()
        .route("/{scenario}/v1/chat/completions", post(handle))
        .route("/{scenario}/v1/messages", post(handle))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    Server { address, seen }
}
