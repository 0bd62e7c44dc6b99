//! `codexos-server`: CodexOS over HTTP. [`serve_openai`] answers the OpenAI
//! Chat Completions protocol (`GET /v1/models`, `POST /v1/chat/completions`,
//! streamed or whole, with tools) from the runtime's LLM router, so editors
//! and other tools can use CodexOS's local models and its fallback policy.
//!
//! [`mcp`] serves CodexOS's search, ask and flows to MCP clients.
//!
//! A thin shell: requests are converted to [`codexos_runtime`] calls and back;
//! nothing here decides which model answers.
//!
//! ```no_run
//! # async fn demo(runtime: std::sync::Arc<codexos_runtime::Runtime>) -> std::io::Result<()> {
//! let stop = tokio_util::sync::CancellationToken::new();
//! codexos_server::serve_openai(runtime, "127.0.0.1:8080".parse().unwrap(), stop, |address| {
//!     eprintln!("listening on http://{address}/v1");
//! })
//! .await
//! # }
//! ```

pub mod mcp;
pub mod team;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use codexos_runtime::{
    ChatEvent, ChatMessage, ChatOptions, Completion, ErrorCode, FinishReason, Role, Runtime,
    ToolCall, ToolChoice, ToolSpec,
};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// The model name that means "the configured policy".
pub const POLICY_MODEL: &str = "codexos";

/// Serves the OpenAI-compatible API on `address` until `stop` is cancelled;
/// `ready` gets the bound address (useful with port 0).
pub async fn serve_openai(
    runtime: Arc<Runtime>,
    address: SocketAddr,
    stop: CancellationToken,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    ready(listener.local_addr()?);
    axum::serve(listener, app(runtime))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}

/// The routes, for embedding in another server or testing.
pub fn app(runtime: Arc<Runtime>) -> Router {
    Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(completions))
        .with_state(runtime)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

pub(crate) async fn models(State(runtime): State<Arc<Runtime>>) -> Response {
    let mut names = vec![POLICY_MODEL.to_owned()];
    match runtime.providers() {
        Ok(providers) => names.extend(providers.into_iter().map(|provider| provider.name)),
        Err(error) => return failure(&error),
    }
    names.extend(
        runtime
            .models()
            .into_iter()
            .filter(|model| model.kind == "chat" && model.installed)
            .map(|model| model.name),
    );
    names.dedup();
    let data: Vec<Value> = names
        .into_iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "codexos"}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

/// What clients send; unknown fields are ignored, as OpenAI's servers do.
#[derive(Debug, Deserialize)]
pub(crate) struct CompletionRequest {
    #[serde(default)]
    pub(crate) model: String,
    messages: Vec<WireMessage>,
    #[serde(default)]
    tools: Vec<WireTool>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f32>,
    /// `auto`, `none`, `required`, or `{"type": "function", …}`.
    #[serde(default)]
    tool_choice: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    role: String,
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Vec<WireCall>,
    #[serde(default)]
    tool_call_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireCall {
    #[serde(default)]
    id: String,
    function: WireFunction,
}

#[derive(Debug, Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: Value,
}

#[derive(Debug, Deserialize)]
struct WireTool {
    function: WireToolFunction,
}

#[derive(Debug, Deserialize)]
struct WireToolFunction {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    parameters: Value,
}

/// Text of a message content: a string, or the text parts of an array.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn convert(request: &CompletionRequest) -> Result<(Vec<ChatMessage>, Vec<ToolSpec>), String> {
    let mut messages = Vec::with_capacity(request.messages.len());
    for message in &request.messages {
        let role = match message.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            other => return Err(format!("unknown message role `{other}`")),
        };
        messages.push(ChatMessage {
            role,
            content: content_text(message.content.as_ref()),
            tool_calls: message
                .tool_calls
                .iter()
                .map(|call| ToolCall {
                    id: call.id.clone(),
                    name: call.function.name.clone(),
                    arguments: match &call.function.arguments {
                        Value::String(text) => text.clone(),
                        Value::Null => "{}".into(),
                        other => other.to_string(),
                    },
                })
                .collect(),
            tool_call_id: message.tool_call_id.clone(),
        });
    }
    if messages.is_empty() {
        return Err("`messages` is empty".into());
    }
    let tools = request
        .tools
        .iter()
        .map(|tool| ToolSpec {
            name: tool.function.name.clone(),
            description: tool.function.description.clone(),
            parameters: if tool.function.parameters.is_null() {
                json!({"type": "object", "properties": {}})
            } else {
                tool.function.parameters.clone()
            },
        })
        .collect();
    Ok((messages, tools))
}

fn error_body(status: StatusCode, kind: &str, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "code": code}})),
    )
        .into_response()
}

fn failure(error: &codexos_runtime::Error) -> Response {
    let message = error.to_string();
    match error.code() {
        ErrorCode::ContextOverflow => error_body(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "context_length_exceeded",
            &message,
        ),
        ErrorCode::NotFound => error_body(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            &message,
        ),
        ErrorCode::InvalidInput => error_body(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_request",
            &message,
        ),
        ErrorCode::Provider => error_body(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "no_provider",
            &message,
        ),
        _ => error_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal",
            &message,
        ),
    }
}

fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::Stop | FinishReason::Cancelled => "stop",
    }
}

fn wire_call(index: usize, call: &ToolCall) -> Value {
    json!({"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}})
}

fn usage(completion: &Completion) -> Value {
    json!({
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "total_tokens": completion.prompt_tokens + completion.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": completion.cached_tokens},
    })
}

pub(crate) async fn completions(
    State(runtime): State<Arc<Runtime>>,
    headers: axum::http::HeaderMap,
    Json(request): Json<CompletionRequest>,
) -> Response {
    let (messages, mut tools) = match convert(&request) {
        Ok(converted) => converted,
        Err(message) => {
            return error_body(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_request",
                &message,
            )
        }
    };
    let tool_choice = match request.tool_choice.as_ref() {
        Some(Value::String(choice)) if choice == "none" => {
            tools.clear();
            ToolChoice::Auto
        }
        Some(Value::String(choice)) if choice == "required" => ToolChoice::Required,
        Some(Value::Object(choice)) => {
            // One named function: offer only it, and require a call.
            if let Some(name) = choice
                .get("function")
                .and_then(|function| function.get("name"))
                .and_then(Value::as_str)
            {
                tools.retain(|tool| tool.name == name);
            }
            ToolChoice::Required
        }
        _ => ToolChoice::Auto,
    };
    let options = ChatOptions {
        tool_choice,
        model: (!request.model.is_empty()
            && request.model != POLICY_MODEL
            && request.model != "auto")
            .then(|| request.model.clone()),
        max_tokens: request.max_completion_tokens.or(request.max_tokens),
        temperature: request.temperature,
        // The caller's trace goes on to the provider that answers.
        trace_parent: headers
            .get("traceparent")
            .and_then(|value| value.to_str().ok())
            .and_then(codexos_otel::TraceParent::parse)
            .map(|parent| parent.to_string()),
    };
    // Dropping the response (the client left) drops the stream, which
    // cancels decoding.
    let cancel = CancellationToken::new();
    let stream = match runtime.chat(messages, tools, &options, &cancel).await {
        Ok(stream) => stream,
        Err(error) => return failure(&error),
    };
    let id = format!("chatcmpl-{}", unix_now_nanos());
    let model = if request.model.is_empty() {
        POLICY_MODEL.to_owned()
    } else {
        request.model.clone()
    };
    if request.stream {
        let include_usage = request
            .stream_options
            .as_ref()
            .is_some_and(|options| options.include_usage);
        streamed(stream, id, model, include_usage, cancel).into_response()
    } else {
        whole(stream, &id, &model).await
    }
}

fn unix_now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos())
}

async fn whole(mut stream: codexos_runtime::EventStream, id: &str, model: &str) -> Response {
    while let Some(item) = stream.recv().await {
        match item {
            Err(error) => return failure(&codexos_runtime::Error::from(error)),
            Ok(ChatEvent::Done(completion)) => {
                let calls: Vec<Value> = completion
                    .tool_calls
                    .iter()
                    .enumerate()
                    .map(|(index, call)| {
                        let mut value = wire_call(index, call);
                        if let Some(object) = value.as_object_mut() {
                            object.remove("index");
                        }
                        value
                    })
                    .collect();
                let mut message = json!({"role": "assistant", "content": completion.text});
                if !calls.is_empty() {
                    message["tool_calls"] = Value::Array(calls);
                }
                return Json(json!({
                    "id": id,
                    "object": "chat.completion",
                    "created": unix_now(),
                    "model": model,
                    "system_fingerprint": completion.provider,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(completion.finish)}],
                    "usage": usage(&completion),
                }))
                .into_response();
            }
            Ok(_) => {}
        }
    }
    error_body(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "internal",
        "the answer ended without a summary",
    )
}

/// One item of a router stream.
type StreamItem = Result<ChatEvent, codexos_runtime::LlmError>;

/// State carried through the SSE stream.
struct Streaming {
    stream: codexos_runtime::EventStream,
    id: String,
    model: String,
    include_usage: bool,
    calls: usize,
    started: bool,
    ended: bool,
    queue: std::collections::VecDeque<String>,
    /// Cancelled when the client goes away (this state is dropped).
    _guard: tokio_util::sync::DropGuard,
}

impl Streaming {
    fn chunk(&self, delta: &Value, finish: Option<&str>) -> String {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": unix_now(),
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
        .to_string()
    }

    /// Turns the next router event into zero or more SSE data lines.
    fn push(&mut self, item: Option<StreamItem>) {
        match item {
            None => {
                self.ended = true;
            }
            Some(Err(error)) => {
                let error = codexos_runtime::Error::from(error);
                self.queue.push_back(
                    json!({"error": {"message": error.to_string(), "type": "server_error"}})
                        .to_string(),
                );
                self.ended = true;
            }
            Some(Ok(ChatEvent::Token(text))) => {
                let delta = if self.started {
                    json!({"content": text})
                } else {
                    json!({"role": "assistant", "content": text})
                };
                self.started = true;
                let chunk = self.chunk(&delta, None);
                self.queue.push_back(chunk);
            }
            Some(Ok(ChatEvent::ToolCall(call))) => {
                let index = self.calls;
                self.calls += 1;
                let chunk = self.chunk(
                    &json!({"role": "assistant", "tool_calls": [wire_call(index, &call)]}),
                    None,
                );
                self.started = true;
                self.queue.push_back(chunk);
            }
            Some(Ok(ChatEvent::Done(completion))) => {
                let chunk = self.chunk(&json!({}), Some(finish_reason(completion.finish)));
                self.queue.push_back(chunk);
                if self.include_usage {
                    self.queue.push_back(
                        json!({
                            "id": self.id,
                            "object": "chat.completion.chunk",
                            "created": unix_now(),
                            "model": self.model,
                            "choices": [],
                            "usage": usage(&completion),
                        })
                        .to_string(),
                    );
                }
                self.queue.push_back("[DONE]".into());
                self.ended = true;
            }
        }
    }
}

fn streamed(
    stream: codexos_runtime::EventStream,
    id: String,
    model: String,
    include_usage: bool,
    cancel: CancellationToken,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let state = Streaming {
        stream,
        id,
        model,
        include_usage,
        calls: 0,
        started: false,
        ended: false,
        queue: std::collections::VecDeque::new(),
        _guard: cancel.drop_guard(),
    };
    let events = futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(data) = state.queue.pop_front() {
                return Some((Ok(Event::default().data(data)), state));
            }
            if state.ended {
                return None;
            }
            let item = state.stream.recv().await;
            state.push(item);
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
