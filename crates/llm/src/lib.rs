//! `codexos-llm`: local inference with llama.cpp, behind one crate.
//!
//! A [`LocalModel`] is loaded once and kept; each request gets its own context
//! and decodes on a dedicated OS thread that streams [`Generation`] items over a
//! channel, so async callers never block and can cancel at any token. Only this
//! crate touches `llama-cpp-2`; GPU back-ends are cargo features
//! (`cuda`, `vulkan`, `metal`), CPU by default.
//!
//! ```no_run
//! # async fn demo() -> codexos_llm::Result<()> {
//! use std::sync::Arc;
//! use codexos_llm::{ChatMessage, GenerateOptions, Generation, LocalModel, ModelOptions};
//! let model = Arc::new(LocalModel::load("SmolLM2-135M-Instruct.Q4_1.gguf".as_ref(), ModelOptions::default())?);
//! let mut stream = model.generate(
//!     &[ChatMessage::user("What is the capital of France?")],
//!     GenerateOptions::default(),
//!     tokio_util::sync::CancellationToken::new(),
//! )?;
//! while let Some(item) = stream.recv().await {
//!     if let Generation::Token(text) = item? { print!("{text}"); }
//! }
//! # Ok(()) }
//! ```

mod generate;
mod gguf;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use serde::Serialize;

pub use generate::{Completion, FinishReason, GenerateOptions, Generation};
pub use gguf::{read_info as gguf_info, GgufError, GgufInfo};

/// Errors of local inference.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The model file does not exist.
    #[error("model file `{path}` not found — run `make models` (scripts/fetch-models.sh), set CODEXOS_MODELS, or name another .gguf in config.toml")]
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
    #[error("llama.cpp could not load `{path}` — the file may be truncated or an unsupported architecture; `codexos doctor` verifies checksums")]
    Load {
        /// The file.
        path: PathBuf,
    },
    /// The llama.cpp backend failed to start.
    #[error("the llama.cpp backend failed to initialise: {message}")]
    Backend {
        /// What went wrong.
        message: String,
    },
    /// The prompt does not fit the context window.
    #[error("the prompt is {prompt_tokens} tokens but the context window is {context_size} — ask a shorter question, retrieve fewer chunks, or raise `llm.context_size` in config.toml")]
    ContextOverflow {
        /// Tokens in the prompt.
        prompt_tokens: usize,
        /// Context window size.
        context_size: u32,
    },
    /// The chat template could not be applied.
    #[error("cannot apply the model's chat template: {message}")]
    Template {
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
    /// Generation was cancelled.
    #[error("generation cancelled")]
    Cancelled,
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions.
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One chat turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// Speaker.
    pub role: Role,
    /// Text.
    pub content: String,
}

impl ChatMessage {
    /// A system message.
    #[must_use]
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    /// A user message.
    #[must_use]
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
}

/// How a model is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOptions {
    /// CPU threads for decoding. A desktop always shares its CPU, and spinning
    /// threads collapse when a core is taken (see docs/performance.md), so the
    /// default leaves half the cores free.
    pub threads: u32,
    /// Context window in tokens.
    pub context_size: u32,
}

impl Default for ModelOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get) as u32;
        Self {
            threads: cores.div_ceil(2).max(1),
            context_size: 4096,
        }
    }
}

fn backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|message| Error::Backend {
            message: message.clone(),
        })
}

/// A GGUF model loaded into memory.
pub struct LocalModel {
    path: PathBuf,
    model: LlamaModel,
    template: Option<LlamaChatTemplate>,
    options: ModelOptions,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LocalModel")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Checks the GGUF magic so a wrong or truncated file gets a clear error
/// instead of whatever llama.cpp makes of it.
fn check_gguf(path: &Path) -> Result<()> {
    let mut file = std::fs::File::open(path).map_err(|_| Error::ModelMissing {
        path: path.to_path_buf(),
    })?;
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic).map_err(|_| Error::NotGguf {
        path: path.to_path_buf(),
        reason: "shorter than a GGUF header".into(),
    })?;
    if &magic != b"GGUF" {
        return Err(Error::NotGguf {
            path: path.to_path_buf(),
            reason: "missing the GGUF magic bytes".into(),
        });
    }
    Ok(())
}

impl LocalModel {
    /// Loads a GGUF file (blocking; a second for small models).
    pub fn load(path: &Path, options: ModelOptions) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::ModelMissing {
                path: path.to_path_buf(),
            });
        }
        check_gguf(path)?;
        let backend = backend()?;
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|_| Error::Load {
                path: path.to_path_buf(),
            })?;
        let template = model.chat_template(None).ok();
        if template.is_none() {
            tracing::warn!(path = %path.display(), "model has no chat template; using ChatML");
        }
        Ok(Self {
            path: path.to_path_buf(),
            model,
            template,
            options,
        })
    }

    /// The model file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The model's file name without extension, for display.
    #[must_use]
    pub fn name(&self) -> String {
        self.path.file_stem().map_or_else(
            || "model".to_owned(),
            |stem| stem.to_string_lossy().into_owned(),
        )
    }

    /// Context window in tokens.
    #[must_use]
    pub fn context_size(&self) -> u32 {
        self.options.context_size
    }

    /// Number of tokens `text` takes.
    #[must_use]
    pub fn count_tokens(&self, text: &str) -> usize {
        self.model
            .vocab()
            .tokenize(text.as_bytes(), false, true)
            .len()
    }

    /// Renders messages with the model's own chat template, ending with the
    /// assistant's opening tag.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String> {
        let Some(template) = &self.template else {
            return Ok(render_chatml(messages));
        };
        let chat = messages
            .iter()
            .map(|message| {
                LlamaChatMessage::new(message.role.as_str().to_owned(), message.content.clone())
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|error| Error::Template {
                message: error.to_string(),
            })?;
        self.model
            .apply_chat_template(template, &chat, true)
            .map_err(|error| Error::Template {
                message: error.to_string(),
            })
    }
}

fn render_chatml(messages: &[ChatMessage]) -> String {
    let mut prompt = String::new();
    for message in messages {
        prompt.push_str("<|im_start|>");
        prompt.push_str(message.role.as_str());
        prompt.push('\n');
        prompt.push_str(&message.content);
        prompt.push_str("<|im_end|>\n");
    }
    prompt.push_str("<|im_start|>assistant\n");
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_fallback_ends_with_assistant_tag() {
        let prompt = render_chatml(&[ChatMessage::system("s"), ChatMessage::user("u")]);
        assert_eq!(
            prompt,
            "<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn non_gguf_files_are_refused_before_llama_cpp() {
        let dir = std::env::temp_dir().join(format!("codexos-llm-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let fake = dir.join("fake.gguf");
        std::fs::write(&fake, b"not a model").expect("write");
        let error = LocalModel::load(&fake, ModelOptions::default()).expect_err("refused");
        assert!(matches!(error, Error::NotGguf { .. }), "{error}");
        let missing = LocalModel::load(&dir.join("missing.gguf"), ModelOptions::default())
            .expect_err("missing");
        assert!(matches!(missing, Error::ModelMissing { .. }));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
