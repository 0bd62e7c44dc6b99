//! What the router needs from a model: its description and a way to start a
//! streamed answer. Local llama.cpp models and remote APIs both implement
//! [`Provider`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{ChatEvent, ChatRequest, LocalModel, Result};

/// A stream of chat events, ending with [`ChatEvent::Done`] or an error.
pub type EventStream = mpsc::UnboundedReceiver<Result<ChatEvent>>;

/// Which protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// A GGUF model run in-process by llama.cpp.
    Local,
    /// OpenAI Chat Completions (OpenAI, Mistral, vLLM, llama-server, Ollama …).
    Openai,
    /// Anthropic Messages.
    Anthropic,
}

/// What the router knows about a provider before calling it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ProviderInfo {
    /// Name in the policy.
    pub name: String,
    /// Protocol.
    pub kind: ProviderKind,
    /// Model asked for.
    pub model: String,
    /// Whether calling it leaves this machine.
    pub remote: bool,
    /// Context window in tokens, when known.
    pub context_size: Option<u32>,
    /// Whether it can be offered tools.
    pub tools: bool,
    /// Seconds to wait for the first and each next piece of the answer.
    pub timeout_secs: u32,
    /// Name of the vault secret holding its API key, if it needs one.
    pub key: Option<String>,
}

impl ProviderInfo {
    /// Whether `name` picks this provider: its policy name or its model.
    #[must_use]
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.model == name
    }

    /// The wait allowed before and between pieces of an answer.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_secs.max(1)))
    }
}

/// A chat model the router can call.
pub trait Provider: Send + Sync + std::fmt::Debug {
    /// Its description.
    fn info(&self) -> &ProviderInfo;

    /// Prompt tokens `request` would take, as well as can be told without
    /// calling it (about four characters per token).
    fn estimate_tokens(&self, request: &ChatRequest) -> usize {
        request.characters() / 4 + 8 * request.messages.len() + 16
    }

    /// Starts an answer. Errors here (connection, status, overflow) happen
    /// before any token, so the router may try the next provider.
    fn start<'a>(
        &'a self,
        request: &'a ChatRequest,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<EventStream>>;
}

/// Loads (or returns the already loaded) local model at a path; the runtime
/// implements it so every caller shares one loaded copy.
pub trait ModelLoader: Send + Sync {
    /// The loaded model.
    fn load(&self, path: PathBuf) -> BoxFuture<'_, Result<Arc<LocalModel>>>;
}

/// A GGUF model as a router candidate, loaded on first use.
pub struct LocalProvider {
    info: ProviderInfo,
    path: PathBuf,
    loader: Arc<dyn ModelLoader>,
}

impl std::fmt::Debug for LocalProvider {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LocalProvider")
            .field("info", &self.info)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LocalProvider {
    /// A candidate named `name` for the model file at `path`.
    #[must_use]
    pub fn new(
        name: &str,
        path: PathBuf,
        context_size: u32,
        tools: bool,
        loader: Arc<dyn ModelLoader>,
    ) -> Self {
        let model = path.file_name().map_or_else(
            || path.display().to_string(),
            |file| file.to_string_lossy().into_owned(),
        );
        Self {
            info: ProviderInfo {
                name: name.to_owned(),
                kind: ProviderKind::Local,
                model,
                remote: false,
                context_size: Some(context_size),
                tools,
                // Reading a long prompt on a slow CPU takes a while; the
                // local model has no one to fall back from on timeouts.
                timeout_secs: 600,
                key: None,
            },
            path,
            loader,
        }
    }
}

impl Provider for LocalProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn estimate_tokens(&self, _request: &ChatRequest) -> usize {
        // The engine counts exactly and refuses an overflow itself.
        0
    }

    fn start<'a>(
        &'a self,
        request: &'a ChatRequest,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<EventStream>> {
        Box::pin(async move {
            let model = self.loader.load(self.path.clone()).await?;
            model.chat_as(request, &self.info.name, cancel)
        })
    }
}
