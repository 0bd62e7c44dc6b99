//! `codexos-llm`: the LLM router and its providers.
//!
//! - [`LocalModel`]: a GGUF model run in-process by llama.cpp (the only place
//!   that touches `llama-cpp-2`), loaded once and kept; its engine thread
//!   batches concurrent requests into shared decode calls, reuses the KV state
//!   of a conversation's earlier turns, renders the model's own Jinja chat
//!   template (tools included) and constrains tool calls with a grammar built
//!   from their JSON Schemas. GPU back-ends are cargo features (`cuda`,
//!   `vulkan`, `metal`), CPU by default.
//! - [`RemoteProvider`]: OpenAI Chat Completions (any base URL) and Anthropic
//!   Messages, streamed over SSE, normalised to the same [`ChatEvent`]s.
//! - [`Router`]: an ordered policy with fallback, Retry-After, a circuit
//!   breaker, an offline mode and a record of every attempt.
//!
//! Dependencies: none of the other CodexOS crates; `codexos-runtime` builds the
//! providers from config and the vault.
//!
//! ```no_run
//! # async fn demo() -> codexos_llm::Result<()> {
//! use codexos_llm::{ChatEvent, ChatMessage, ChatRequest, LocalModel, ModelOptions};
//! let model = LocalModel::load("SmolLM2-135M-Instruct.Q4_1.gguf".as_ref(), ModelOptions::default())?;
//! let request = ChatRequest::new(vec![ChatMessage::user("What is the capital of France?")]);
//! let mut stream = model.chat(&request, tokio_util::sync::CancellationToken::new())?;
//! while let Some(event) = stream.recv().await {
//!     if let ChatEvent::Token(text) = event? { print!("{text}"); }
//! }
//! # Ok(()) }
//! ```

mod chat;
mod engine;
mod gguf;
pub mod grammar;
mod local;
mod prices;
mod provider;
mod remote;
mod router;
pub mod sse;
mod template;

use std::path::PathBuf;

pub use chat::{
    Attempt, ChatEvent, ChatMessage, ChatRequest, Completion, FinishReason, Outcome, Role,
    ToolCall, ToolChoice, ToolSpec,
};
pub use gguf::{read_info as gguf_info, GgufError, GgufInfo};
pub use local::{apply_wait_policy, LocalModel, ModelOptions, WaitPolicy};
pub use prices::{PriceEntry, PriceTable, SHIPPED_PRICES_DATE};
pub use provider::{EventStream, LocalProvider, ModelLoader, Provider, ProviderInfo, ProviderKind};
pub use remote::{Failure, KeySource, RemoteProvider, RemoteSettings};
pub use router::{AttemptSink, Router, RouterSettings};
pub use template::ChatTemplate;

/// Errors of the LLM layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The model file does not exist.
    #[error("model file `{path}` not found — `codexos models list` shows each model's pull command; or drop a .gguf into Settings → Models, or name another model in config.toml")]
    ModelMissing {
        /// Expected path.
        path: PathBuf,
    },
    /// The file is not a GGUF model.
    #[error("`{path}` is not a GGUF model file ({reason}) — download it again; `codexos doctor` verifies checksums")]
    NotGguf {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// llama.cpp refused the model.
    #[error("llama.cpp could not load `{path}` — the file may be truncated or an unsupported architecture; `codexos models info` reads its header and `codexos doctor` verifies checksums")]
    Load {
        /// The file.
        path: PathBuf,
    },
    /// The model cannot be loaded as things stand (its file went, or no
    /// longer matches its checksum); the message says how to fix it.
    #[error("{message}")]
    ModelUnavailable {
        /// What is wrong and the fix.
        message: String,
    },
    /// The llama.cpp backend failed to start.
    #[error("the llama.cpp backend failed: {message}")]
    Backend {
        /// What went wrong.
        message: String,
    },
    /// The prompt does not fit the context window.
    #[error("the prompt is {prompt_tokens} tokens but `{model}` has a {context_size}-token context — shorten the conversation, retrieve fewer chunks, or raise `llm.context_size` in config.toml")]
    ContextOverflow {
        /// The model.
        model: String,
        /// Tokens in the prompt.
        prompt_tokens: usize,
        /// Context window size.
        context_size: u32,
    },
    /// The chat template could not be compiled or rendered.
    #[error("the chat template of `{path}` failed: {message} — set `llm.chat_template = \"chatml\"` in config.toml to use ChatML instead")]
    Template {
        /// The model file.
        path: PathBuf,
        /// minijinja's message.
        message: String,
    },
    /// Tools were offered to a model that cannot call them.
    #[error("`{model}` has no tool-calling template — choose a model whose `codexos models info` says tools: yes (Qwen2.5 for example)")]
    NoTools {
        /// The model.
        model: String,
    },
    /// A tool-call grammar failed to build, or a call did not parse.
    #[error("tool call failed: {message}")]
    Grammar {
        /// What went wrong.
        message: String,
    },
    /// Decoding failed.
    #[error("llama.cpp failed while {action}: {message}")]
    Decode {
        /// What was being done.
        action: &'static str,
        /// llama.cpp's error.
        message: String,
    },
    /// A remote provider failed.
    #[error("provider `{provider}`: {failure} — {detail} — {advice}")]
    Remote {
        /// Provider name.
        provider: String,
        /// Classification, which decides fallback and the circuit breaker.
        failure: Failure,
        /// What happened, with the URL or the provider's message.
        detail: String,
        /// The fix.
        advice: String,
    },
    /// No provider of the policy has that name.
    #[error("no provider or model named `{name}` — known: {}", known.join(", "))]
    UnknownProvider {
        /// The name asked for.
        name: String,
        /// Names in the policy.
        known: Vec<String>,
    },
    /// Every provider of the policy failed or was skipped.
    #[error("{}", exhausted_message(*offline, *too_long, attempts))]
    Exhausted {
        /// Whether offline mode was on.
        offline: bool,
        /// Whether every provider that was tried found the prompt too long.
        too_long: bool,
        /// What each provider did.
        attempts: Vec<Attempt>,
    },
    /// Generation was cancelled.
    #[error("generation cancelled")]
    Cancelled,
}

impl Error {
    /// A failure of the remote provider `info`, with the fix for it.
    pub(crate) fn remote(info: &ProviderInfo, failure: Failure, detail: impl Into<String>) -> Self {
        Self::Remote {
            provider: info.name.clone(),
            advice: failure.advice(&info.name, info.key.as_deref()),
            failure,
            detail: detail.into(),
        }
    }

    /// Whether the prompt was too long for the model (locally or remotely).
    #[must_use]
    pub fn is_context_overflow(&self) -> bool {
        matches!(
            self,
            Self::ContextOverflow { .. }
                | Self::Remote {
                    failure: Failure::ContextTooLong,
                    ..
                }
                | Self::Exhausted { too_long: true, .. }
        )
    }
}

fn exhausted_message(offline: bool, too_long: bool, attempts: &[Attempt]) -> String {
    let mut message = String::from(if too_long {
        "the prompt is too long for every model of the policy — shorten the conversation, retrieve less, or add a model with a longer context"
    } else {
        "no model could answer"
    });
    if offline {
        message.push_str(" (offline mode is on: remote providers are refused)");
    }
    if attempts.is_empty() {
        message.push_str(": the policy lists no provider — add one under [llm] in config.toml");
    }
    message.extend(attempts.iter().map(|attempt| {
        let (verb, detail) = match &attempt.outcome {
            Outcome::Ok => ("answered", ""),
            Outcome::Skipped(reason) => ("skipped", reason.as_str()),
            Outcome::Failed(reason) => ("failed", reason.as_str()),
        };
        format!(
            "; {} ({}) {verb}: {detail}",
            attempt.provider, attempt.model
        )
    }));
    message
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
