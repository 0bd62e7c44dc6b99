//! The one internal shape of a chat exchange. Local llama.cpp, OpenAI-format
//! and Anthropic providers all take a [`ChatRequest`] and stream
//! [`ChatEvent`]s; their native formats are converted at their edges.

use serde::{Deserialize, Serialize};

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions.
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call.
    Tool,
}

impl Role {
    /// The role's name in chat templates and OpenAI messages.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }
}

/// A call of a tool the model asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct ToolCall {
    /// Identifier linking the call to its result.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Arguments as a JSON object, serialised.
    pub arguments: String,
}

/// One chat turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct ChatMessage {
    /// Speaker.
    pub role: Role,
    /// Text.
    pub content: String,
    /// Tool calls made in this (assistant) turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool result: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// A system message.
    #[must_use]
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message.
    #[must_use]
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message.
    #[must_use]
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// The result of tool call `id`.
    #[must_use]
    pub fn tool_result(id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(id.into()),
            ..Self::new(Role::Tool, content)
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Name the model uses to call it.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its arguments (an object schema).
    pub parameters: serde_json::Value,
}

/// Whether the model may, must or must not call a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// The model must call one of the tools.
    Required,
}

/// One request to a chat model.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Tools the model may call.
    pub tools: Vec<ToolSpec>,
    /// Whether it must call one.
    pub tool_choice: ToolChoice,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// 0 for greedy decoding.
    pub temperature: f32,
    /// Seed of the sampler, for repeatable output.
    pub seed: u32,
    /// Keep generating past the end of the turn, up to `max_tokens`
    /// (benchmarks: a fixed number of tokens).
    pub ignore_eos: bool,
    /// W3C `traceparent` sent with the request to remote providers (the
    /// caller's span: a run's node, or the request `codexos serve` got).
    pub trace_parent: Option<String>,
}

impl ChatRequest {
    /// A request with default sampling settings.
    #[must_use]
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            max_tokens: 512,
            temperature: 0.2,
            seed: 42,
            ignore_eos: false,
            trace_parent: None,
        }
    }

    /// The request with these tools offered.
    #[must_use]
    pub fn with_tools(mut self, tools: Vec<ToolSpec>) -> Self {
        self.tools = tools;
        self
    }

    /// Characters of every message and tool schema: the base of estimates
    /// for providers whose tokenizer is not at hand.
    #[must_use]
    pub fn characters(&self) -> usize {
        self.messages
            .iter()
            .map(|message| {
                message.content.len()
                    + message
                        .tool_calls
                        .iter()
                        .map(|call| call.name.len() + call.arguments.len())
                        .sum::<usize>()
            })
            .sum::<usize>()
            + self
                .tools
                .iter()
                .map(|tool| {
                    tool.name.len() + tool.description.len() + tool.parameters.to_string().len()
                })
                .sum::<usize>()
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum FinishReason {
    /// The model ended its turn.
    Stop,
    /// `max_tokens` or the context window was reached.
    Length,
    /// The model called tools.
    ToolCalls,
    /// The caller cancelled.
    Cancelled,
}

/// How one attempt of the router ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", tag = "kind", content = "detail")]
pub enum Outcome {
    /// It answered.
    Ok,
    /// Not tried: offline mode, an open circuit, a missing capability.
    Skipped(String),
    /// Tried and failed; the text says how.
    Failed(String),
}

/// One provider tried for a request: what traces and cost reports show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// Provider name from the policy.
    pub provider: String,
    /// Model asked for.
    pub model: String,
    /// Whether the provider is off this machine (priced in money; a local
    /// model costs compute time).
    #[serde(default)]
    pub remote: bool,
    /// Milliseconds from the request to the end of the attempt.
    pub latency_ms: u32,
    /// Milliseconds to the first token, when one came.
    pub first_token_ms: Option<u32>,
    /// Prompt tokens, when known.
    pub prompt_tokens: u32,
    /// Prompt tokens served from a cache (the provider's, or reused KV
    /// state of a local model).
    #[serde(default)]
    pub cached_tokens: u32,
    /// Generated tokens, when known.
    pub completion_tokens: u32,
    /// How it ended.
    pub outcome: Outcome,
}

impl Attempt {
    /// An attempt of `info` that took no time and used no tokens (yet).
    #[must_use]
    pub fn new(info: &crate::ProviderInfo, outcome: Outcome) -> Self {
        Self {
            provider: info.name.clone(),
            model: info.model.clone(),
            remote: info.remote,
            latency_ms: 0,
            first_token_ms: None,
            prompt_tokens: 0,
            cached_tokens: 0,
            completion_tokens: 0,
            outcome,
        }
    }
}

/// Summary of a finished generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Completion {
    /// The whole generated text (tool-call markup removed).
    pub text: String,
    /// Tools the model called.
    pub tool_calls: Vec<ToolCall>,
    /// Provider that answered.
    pub provider: String,
    /// Model that answered.
    pub model: String,
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Prompt tokens whose state was reused from an earlier request (KV cache).
    pub cached_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Why it stopped.
    pub finish: FinishReason,
    /// Wall time, prompt included, in milliseconds.
    pub elapsed_ms: u32,
    /// Milliseconds to the first generated token.
    pub first_token_ms: u32,
    /// Generation speed, prompt excluded.
    pub tokens_per_second: f32,
    /// Most requests decoded in the same batch as this one (local models).
    pub concurrent: u32,
    /// Every provider the router tried, in order (empty outside the router).
    pub attempts: Vec<Attempt>,
}

impl Completion {
    /// An empty summary for `provider` and `model`, filled in as a stream runs.
    #[must_use]
    pub fn empty(provider: &str, model: &str) -> Self {
        Self {
            text: String::new(),
            tool_calls: Vec::new(),
            provider: provider.to_owned(),
            model: model.to_owned(),
            prompt_tokens: 0,
            cached_tokens: 0,
            completion_tokens: 0,
            finish: FinishReason::Stop,
            elapsed_ms: 0,
            first_token_ms: 0,
            tokens_per_second: 0.0,
            concurrent: 1,
            attempts: Vec::new(),
        }
    }
}

/// One item of a chat stream.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// Newly generated text (whole UTF-8 characters).
    Token(String),
    /// A complete tool call.
    ToolCall(ToolCall),
    /// The end, with the summary.
    Done(Completion),
}
