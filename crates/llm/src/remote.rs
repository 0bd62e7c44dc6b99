//! Remote providers over HTTP: OpenAI Chat Completions and Anthropic Messages,
//! streamed with server-sent events and converted to [`ChatEvent`]s. HTTP
//! failures are classified ([`Failure`]) so the router knows whether and how
//! long to avoid a provider.

mod anthropic;
mod openai;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::provider::{EventStream, Provider, ProviderInfo, ProviderKind};
use crate::sse::SseParser;
use crate::{ChatEvent, ChatRequest, Completion, Error, FinishReason, Result, ToolCall};

/// Why a remote call failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Failure {
    /// No connection could be made.
    Connect,
    /// No answer, or no next piece of it, in time.
    Timeout,
    /// 429: too many requests; `retry_after_ms` from the Retry-After header.
    RateLimited {
        /// How long the provider asked to wait.
        retry_after_ms: Option<u32>,
    },
    /// 5xx, or an error event from the provider.
    Server {
        /// HTTP status (0 for an error event inside a stream).
        status: u16,
    },
    /// 401/403: the key is missing, wrong or lacks access.
    Auth {
        /// HTTP status.
        status: u16,
    },
    /// The prompt is longer than the model's context.
    ContextTooLong,
    /// Another 4xx: the request was refused.
    Rejected {
        /// HTTP status.
        status: u16,
    },
    /// The answer was not in the provider's format.
    Malformed,
}

impl Failure {
    /// The fix to suggest for this failure of `provider`.
    #[must_use]
    pub fn advice(&self, provider: &str, key: Option<&str>) -> String {
        match self {
            Self::Connect => {
                format!("check that `{provider}` is running and its base_url in config.toml")
            }
            Self::Timeout => format!(
                "the provider is slow or stuck; raise timeout_secs of `{provider}` or try later"
            ),
            Self::RateLimited { .. } => {
                "wait, or put another provider before it in [llm] policy".into()
            }
            Self::Server { .. } => "the provider has a problem on its side; try later".into(),
            Self::Auth { .. } => match key {
                Some(key) => format!("store a valid key: codexos vault set {key}"),
                None => format!("set `key` of `{provider}` in config.toml to a vault secret name"),
            },
            Self::ContextTooLong => {
                "shorten the conversation or choose a model with a longer context".into()
            }
            Self::Rejected { .. } => format!("check the model name of `{provider}` in config.toml"),
            Self::Malformed => {
                format!("check that `{provider}` speaks the protocol set as its kind")
            }
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect => write!(formatter, "unreachable"),
            Self::Timeout => write!(formatter, "timed out"),
            Self::RateLimited {
                retry_after_ms: Some(ms),
            } => {
                write!(
                    formatter,
                    "rate-limited (429, retry after {:.1} s)",
                    f64::from(*ms) / 1000.0
                )
            }
            Self::RateLimited {
                retry_after_ms: None,
            } => write!(formatter, "rate-limited (429)"),
            Self::Server { status: 0 } => write!(formatter, "server error"),
            Self::Server { status } => write!(formatter, "server error ({status})"),
            Self::Auth { status } => write!(formatter, "key refused ({status})"),
            Self::ContextTooLong => write!(formatter, "context too long"),
            Self::Rejected { status } => write!(formatter, "request refused ({status})"),
            Self::Malformed => write!(formatter, "malformed response"),
        }
    }
}

/// Looks up an API key when a request is made (from the vault, in CodexOS),
/// so keys never sit in config files, argv or long-lived memory.
pub type KeySource = Arc<dyn Fn() -> std::result::Result<Option<String>, String> + Send + Sync>;

/// How to reach a remote provider.
pub struct RemoteSettings {
    /// Name, kind, model and capabilities.
    pub info: ProviderInfo,
    /// Base URL: `https://api.openai.com/v1` style for OpenAI (the path
    /// `/chat/completions` is appended), `https://api.anthropic.com` for
    /// Anthropic (`/v1/messages` is appended).
    pub base_url: String,
    /// Where the key comes from (`info.key` names it in messages).
    pub key: Option<KeySource>,
}

/// A remote chat API.
pub struct RemoteProvider {
    settings: RemoteSettings,
    client: reqwest::Client,
}

impl std::fmt::Debug for RemoteProvider {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RemoteProvider")
            .field("info", &self.settings.info)
            .field("base_url", &self.settings.base_url)
            .finish_non_exhaustive()
    }
}

/// Decodes one protocol's stream into chat events.
trait Decoder: Send {
    /// Handles one SSE event; `Ok(true)` once the stream says it is done.
    fn event(
        &mut self,
        event: &crate::sse::SseEvent,
        out: &mut Vec<ChatEvent>,
    ) -> std::result::Result<bool, (Failure, String)>;
    /// The summary, once the stream has ended.
    fn finish(&mut self, completion: &mut Completion);
}

/// Tool calls assembled from streamed fragments.
#[derive(Debug, Default)]
struct PartialCalls {
    calls: Vec<ToolCall>,
}

impl PartialCalls {
    fn at(&mut self, index: usize) -> &mut ToolCall {
        while self.calls.len() <= index {
            self.calls.push(ToolCall {
                id: String::new(),
                name: String::new(),
                arguments: String::new(),
            });
        }
        &mut self.calls[index]
    }

    /// The finished calls (empty arguments become `{}`), with ids.
    fn take(&mut self) -> Vec<ToolCall> {
        std::mem::take(&mut self.calls)
            .into_iter()
            .enumerate()
            .filter(|(_, call)| !call.name.is_empty())
            .map(|(index, mut call)| {
                if call.arguments.trim().is_empty() {
                    call.arguments = "{}".into();
                }
                if call.id.is_empty() {
                    call.id = format!("call_{}", index + 1);
                }
                call
            })
            .collect()
    }
}

/// Parses a Retry-After (seconds or an HTTP date we do not parse: a default).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u32> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<f64>().ok())
    {
        return Some(ms.clamp(0.0, 3_600_000.0) as u32);
    }
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    match value.trim().parse::<f64>() {
        Ok(seconds) => Some((seconds.clamp(0.0, 3600.0) * 1000.0) as u32),
        Err(_) => Some(30_000),
    }
}

/// Classifies an HTTP error status with its body.
fn classify(status: u16, headers: &reqwest::header::HeaderMap, body: &str) -> Failure {
    let lower = body.to_ascii_lowercase();
    let context = [
        "context_length",
        "context length",
        "maximum context",
        "too many tokens",
        "prompt is too long",
    ];
    match status {
        429 => Failure::RateLimited {
            retry_after_ms: retry_after(headers),
        },
        401 | 403 => Failure::Auth { status },
        408 => Failure::Timeout,
        400 | 413 | 422 if context.iter().any(|needle| lower.contains(needle)) => {
            Failure::ContextTooLong
        }
        500..=599 => Failure::Server { status },
        _ => Failure::Rejected { status },
    }
}

/// A short, single-line excerpt of an error body for messages.
fn excerpt(body: &str) -> String {
    let line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 200 {
        format!("{}…", line.chars().take(200).collect::<String>())
    } else {
        line
    }
}

impl RemoteProvider {
    /// A provider; `Err` only when the HTTP client cannot be built.
    pub fn new(settings: RemoteSettings) -> Result<Self> {
        let client = codexos_net::client()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| Error::Backend {
                message: format!("cannot build an HTTP client: {error}"),
            })?;
        Ok(Self { settings, client })
    }

    fn error(&self, failure: Failure, detail: impl Into<String>) -> Error {
        Error::remote(&self.settings.info, failure, detail)
    }

    fn key(&self) -> Result<Option<String>> {
        let Some(source) = &self.settings.key else {
            return Ok(None);
        };
        match source() {
            Ok(Some(key)) => Ok(Some(key)),
            Ok(None) => Err(self.error(Failure::Auth { status: 0 }, "no key is stored")),
            Err(message) => Err(self.error(Failure::Auth { status: 0 }, message)),
        }
    }

    async fn open(&self, request: &ChatRequest, cancel: CancellationToken) -> Result<EventStream> {
        let info = &self.settings.info;
        let base = self.settings.base_url.trim_end_matches('/');
        let key = self.key()?;
        let (url, body, decoder): (String, serde_json::Value, Box<dyn Decoder>) = match info.kind {
            ProviderKind::Anthropic => (
                format!("{base}/v1/messages"),
                anthropic::body(&info.model, request),
                Box::new(anthropic::StreamDecoder::default()),
            ),
            _ => (
                format!("{base}/chat/completions"),
                openai::body(&info.model, request),
                Box::new(openai::StreamDecoder::default()),
            ),
        };
        let mut builder = self.client.post(&url).json(&body);
        if let Some(parent) = &request.trace_parent {
            builder = builder.header("traceparent", parent);
        }
        builder = match (info.kind, key) {
            (ProviderKind::Anthropic, key) => {
                let builder = builder.header("anthropic-version", "2023-06-01");
                match key {
                    Some(key) => builder.header("x-api-key", key),
                    None => builder,
                }
            }
            (_, Some(key)) => builder.bearer_auth(key),
            (_, None) => builder,
        };
        let started = Instant::now();
        let response = tokio::select! {
            () = cancel.cancelled() => return Err(Error::Cancelled),
            response = tokio::time::timeout(info.timeout(), codexos_net::send(builder)) => response,
        };
        let response = match response {
            Err(_) => {
                return Err(self.error(
                    Failure::Timeout,
                    format!("no response from {url} in {} s", info.timeout_secs),
                ))
            }
            Ok(Err(error)) if error.is_timeout() => {
                return Err(self.error(Failure::Timeout, error.to_string()))
            }
            Ok(Err(error)) => {
                return Err(self.error(Failure::Connect, format!("{url}: {}", root_cause(&error))))
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let headers = response.headers().clone();
            let body = tokio::time::timeout(info.timeout(), response.text())
                .await
                .ok()
                .and_then(std::result::Result::ok)
                .unwrap_or_default();
            return Err(self.error(
                classify(status, &headers, &body),
                format!("{status} from {url}: {}", excerpt(&body)),
            ));
        }
        let streaming = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.contains("event-stream"));
        let (sender, receiver) = mpsc::unbounded_channel();
        let reader = Reader {
            info: info.clone(),
            started,
        };
        if streaming {
            tokio::spawn(reader.stream(response, decoder, sender, cancel));
        } else {
            tokio::spawn(reader.whole(response, info.kind, sender));
        }
        Ok(receiver)
    }
}

fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Reads one response into events.
struct Reader {
    info: ProviderInfo,
    started: Instant,
}

impl Reader {
    fn error(&self, failure: Failure, detail: impl Into<String>) -> Error {
        Error::remote(&self.info, failure, detail)
    }

    async fn stream(
        self,
        response: reqwest::Response,
        mut decoder: Box<dyn Decoder>,
        sender: mpsc::UnboundedSender<Result<ChatEvent>>,
        cancel: CancellationToken,
    ) {
        let mut bytes = response.bytes_stream();
        let mut parser = SseParser::default();
        let mut completion = Completion::empty(&self.info.name, &self.info.model);
        let mut out = Vec::new();
        let mut first_token: Option<Instant> = None;
        let mut generating_since: Option<Instant> = None;
        let outcome: std::result::Result<FinishReason, Error> = loop {
            let next = tokio::select! {
                () = cancel.cancelled() => break Ok(FinishReason::Cancelled),
                next = tokio::time::timeout(self.info.timeout(), bytes.next()) => next,
            };
            let chunk = match next {
                Err(_) => {
                    break Err(self.error(
                        Failure::Timeout,
                        format!("the stream stalled for {} s", self.info.timeout().as_secs()),
                    ))
                }
                Ok(None) => {
                    let last = parser.finish();
                    if let Some(event) = last {
                        if let Err((failure, detail)) = decoder.event(&event, &mut out) {
                            break Err(self.error(failure, detail));
                        }
                    }
                    break Ok(FinishReason::Stop);
                }
                Ok(Some(Err(error))) => {
                    break Err(self.error(
                        Failure::Connect,
                        format!("the stream broke: {}", root_cause(&error)),
                    ))
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            let events = match parser.feed(&chunk) {
                Ok(events) => events,
                Err(detail) => break Err(self.error(Failure::Malformed, detail)),
            };
            let mut done = false;
            let mut failed = None;
            for event in &events {
                match decoder.event(event, &mut out) {
                    Ok(true) => done = true,
                    Ok(false) => {}
                    Err((failure, detail)) => {
                        failed = Some(self.error(failure, detail));
                        break;
                    }
                }
            }
            for event in out.drain(..) {
                if let ChatEvent::Token(text) = &event {
                    first_token.get_or_insert_with(Instant::now);
                    generating_since.get_or_insert_with(Instant::now);
                    completion.text.push_str(text);
                }
                if sender.send(Ok(event)).is_err() {
                    return;
                }
            }
            if let Some(error) = failed {
                break Err(error);
            }
            if done {
                break Ok(FinishReason::Stop);
            }
        };
        match outcome {
            Err(error) => {
                if sender.send(Err(error)).is_err() {
                    tracing::debug!("a remote stream failed after its reader left");
                }
            }
            Ok(reason) => {
                decoder.finish(&mut completion);
                for call in &completion.tool_calls {
                    if sender.send(Ok(ChatEvent::ToolCall(call.clone()))).is_err() {
                        return;
                    }
                }
                if reason == FinishReason::Cancelled {
                    completion.finish = reason;
                }
                self.stamp(&mut completion, first_token, generating_since);
                if sender.send(Ok(ChatEvent::Done(completion))).is_err() {
                    tracing::debug!("a remote answer finished after its reader left");
                }
            }
        }
    }

    fn stamp(
        &self,
        completion: &mut Completion,
        first_token: Option<Instant>,
        since: Option<Instant>,
    ) {
        let now = Instant::now();
        completion.elapsed_ms = now.duration_since(self.started).as_millis() as u32;
        completion.first_token_ms = first_token.map_or(completion.elapsed_ms, |at| {
            at.duration_since(self.started).as_millis() as u32
        });
        let seconds = since.map_or(0.0, |at| now.duration_since(at).as_secs_f32());
        completion.tokens_per_second = if seconds > 0.0 {
            completion.completion_tokens as f32 / seconds
        } else {
            0.0
        };
    }

    /// A server that ignored `stream: true` and sent one JSON body.
    async fn whole(
        self,
        response: reqwest::Response,
        kind: ProviderKind,
        sender: mpsc::UnboundedSender<Result<ChatEvent>>,
    ) {
        let body = match tokio::time::timeout(self.info.timeout(), response.text()).await {
            Err(_) => Err(self.error(Failure::Timeout, "the response body did not arrive")),
            Ok(Err(error)) => Err(self.error(Failure::Connect, root_cause(&error))),
            Ok(Ok(body)) => Ok(body),
        };
        let mut completion = Completion::empty(&self.info.name, &self.info.model);
        let parsed = body.and_then(|body| {
            let value: serde_json::Value = serde_json::from_str(&body).map_err(|error| {
                self.error(
                    Failure::Malformed,
                    format!("not JSON ({error}): {}", excerpt(&body)),
                )
            })?;
            let result = match kind {
                ProviderKind::Anthropic => anthropic::whole(&value, &mut completion),
                _ => openai::whole(&value, &mut completion),
            };
            result.map_err(|(failure, detail)| self.error(failure, detail))
        });
        let events = if let Err(error) = parsed {
            vec![Err(error)]
        } else {
            self.stamp(&mut completion, None, None);
            let mut events = Vec::new();
            if !completion.text.is_empty() {
                events.push(Ok(ChatEvent::Token(completion.text.clone())));
            }
            events.extend(
                completion
                    .tool_calls
                    .iter()
                    .cloned()
                    .map(|call| Ok(ChatEvent::ToolCall(call))),
            );
            events.push(Ok(ChatEvent::Done(completion)));
            events
        };
        for event in events {
            if sender.send(event).is_err() {
                return;
            }
        }
    }
}

impl Provider for RemoteProvider {
    fn info(&self) -> &ProviderInfo {
        &self.settings.info
    }

    fn start<'a>(
        &'a self,
        request: &'a ChatRequest,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<EventStream>> {
        Box::pin(self.open(request, cancel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_failures() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "2".parse().expect("header"));
        assert_eq!(
            classify(429, &headers, ""),
            Failure::RateLimited {
                retry_after_ms: Some(2000)
            }
        );
        let none = reqwest::header::HeaderMap::new();
        assert_eq!(
            classify(429, &none, ""),
            Failure::RateLimited {
                retry_after_ms: None
            }
        );
        assert_eq!(classify(401, &none, ""), Failure::Auth { status: 401 });
        assert_eq!(classify(503, &none, ""), Failure::Server { status: 503 });
        assert_eq!(
            classify(
                400,
                &none,
                r#"{"error":{"code":"context_length_exceeded"}}"#
            ),
            Failure::ContextTooLong
        );
        assert_eq!(
            classify(404, &none, "no such model"),
            Failure::Rejected { status: 404 }
        );
    }

    #[test]
    fn partial_calls_get_ids_and_object_arguments() {
        let mut calls = PartialCalls::default();
        calls.at(1).name = "b".into();
        calls.at(0).name = "a".into();
        calls.at(0).arguments.push_str("{\"x\":");
        calls.at(0).arguments.push_str("1}");
        let taken = calls.take();
        assert_eq!(taken[0].arguments, "{\"x\":1}");
        assert_eq!(
            (taken[1].id.as_str(), taken[1].arguments.as_str()),
            ("call_2", "{}")
        );
    }
}
