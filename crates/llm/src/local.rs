//! A GGUF model loaded into llama.cpp and kept loaded; requests go to its
//! [`engine`](crate::engine), which batches them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, Job};
use crate::template::ChatTemplate;
use crate::{ChatEvent, ChatRequest, Error, Result};

/// How the CPU threads of llama.cpp wait for work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitPolicy {
    /// Threads sleep between tasks. On a desktop that shares its cores this
    /// keeps throughput when another process takes one (measured: 23 tok/s
    /// where spinning fell below 4).
    Passive,
    /// Threads spin: a little faster on an idle machine, a collapse on a busy one.
    Active,
}

/// How a model is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOptions {
    /// CPU threads for generating tokens. A desktop always shares its CPU, so
    /// the default leaves half the cores free.
    pub threads: u32,
    /// CPU threads for reading prompts (a short parallel burst): all cores.
    pub batch_threads: u32,
    /// Context window per request, in tokens.
    pub context_size: u32,
    /// Requests decoded together in one batch (llama.cpp sequences).
    pub parallel: u32,
    /// Use ChatML instead of the model's own template (for a template that
    /// does not render).
    pub force_chatml: bool,
}

fn cores() -> u32 {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get) as u32
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            threads: cores().div_ceil(2).max(1),
            batch_threads: cores(),
            context_size: 4096,
            parallel: 4,
            force_chatml: false,
        }
    }
}

/// Makes llama.cpp's OpenMP threads wait as `policy` says.
///
/// OpenMP (libgomp) reads `OMP_WAIT_POLICY` once, when the library is loaded
/// at process start, so setting it later changes nothing. Unless it is
/// already set, this sets it and re-executes the program with the same
/// arguments (Unix), so call it first thing in `main`, before any thread
/// starts. An `OMP_WAIT_POLICY` from the environment always wins. Returns
/// only when no re-execution was needed, or it failed (then the OpenMP
/// default applies and a warning is logged).
pub fn apply_wait_policy(policy: WaitPolicy) {
    const VARIABLE: &str = "OMP_WAIT_POLICY";
    if std::env::var_os(VARIABLE).is_some() {
        return;
    }
    let value = match policy {
        WaitPolicy::Passive => "PASSIVE",
        WaitPolicy::Active => "ACTIVE",
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let Ok(program) = std::env::current_exe() else {
            return;
        };
        let error = std::process::Command::new(program)
            .args(std::env::args_os().skip(1))
            .env(VARIABLE, value)
            .exec();
        tracing::warn!(%error, "cannot re-execute with {VARIABLE}={value}; llama.cpp threads spin");
    }
    #[cfg(not(unix))]
    {
        // Elsewhere the variable is read when llama.cpp first starts threads.
        std::env::set_var(VARIABLE, value);
    }
}

pub(crate) fn backend() -> Result<&'static LlamaBackend> {
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

/// The parts of a loaded model the engine thread shares.
pub(crate) struct Loaded {
    pub(crate) path: PathBuf,
    pub(crate) model: LlamaModel,
    pub(crate) template: ChatTemplate,
    /// The model's own template renders tools (else tools use the ChatML fallback).
    pub(crate) options: ModelOptions,
}

/// A GGUF model loaded into memory, with its batching engine.
pub struct LocalModel {
    loaded: Arc<Loaded>,
    engine: Engine,
    fallback: Option<ChatTemplate>,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LocalModel")
            .field("path", &self.loaded.path)
            .field("options", &self.loaded.options)
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

fn special_text(model: &LlamaModel, token: llama_cpp_2::token::LlamaToken) -> String {
    String::from_utf8_lossy(&model.vocab().token_to_piece(token, true, None)).into_owned()
}

impl LocalModel {
    /// Loads a GGUF file (blocking; a second for small models) and starts its
    /// engine thread.
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
        let bos = special_text(&model, model.vocab().bos());
        let eos = special_text(&model, model.vocab().eos());
        let source = model
            .meta_val_str("tokenizer.chat_template")
            .ok()
            .filter(|_| !options.force_chatml);
        let template = if let Some(source) = source {
            ChatTemplate::new(&source, &bos, &eos).map_err(|message| Error::Template {
                path: path.to_path_buf(),
                message,
            })?
        } else {
            tracing::info!(path = %path.display(), "using the ChatML template");
            ChatTemplate::chatml()
        };
        // A ChatML model whose template has no tools section still reads the
        // Hermes tool format (the fallback template teaches it).
        let fallback =
            (!template.native_tools() && template.is_chatml()).then(ChatTemplate::chatml);
        let loaded = Arc::new(Loaded {
            path: path.to_path_buf(),
            model,
            template,
            options,
        });
        let engine = Engine::start(Arc::clone(&loaded))?;
        Ok(Self {
            loaded,
            engine,
            fallback,
        })
    }

    /// The model file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.loaded.path
    }

    /// The model's file name without extension, for display.
    #[must_use]
    pub fn name(&self) -> String {
        self.loaded.path.file_stem().map_or_else(
            || "model".to_owned(),
            |stem| stem.to_string_lossy().into_owned(),
        )
    }

    /// Context window per request, in tokens.
    #[must_use]
    pub fn context_size(&self) -> u32 {
        self.loaded.options.context_size
    }

    /// Whether the model can be offered tools.
    #[must_use]
    pub fn supports_tools(&self) -> bool {
        self.loaded.template.native_tools() || self.fallback.is_some()
    }

    /// Number of tokens `text` takes.
    #[must_use]
    pub fn count_tokens(&self, text: &str) -> usize {
        self.loaded
            .model
            .vocab()
            .tokenize(text.as_bytes(), false, true)
            .len()
    }

    /// Renders a request with the model's own chat template (tools section
    /// included), ending with the assistant's opening tag.
    pub fn render(&self, request: &ChatRequest) -> Result<String> {
        let template = match &self.fallback {
            Some(fallback) if !request.tools.is_empty() => fallback,
            _ => &self.loaded.template,
        };
        if !request.tools.is_empty() && !self.supports_tools() {
            return Err(Error::NoTools { model: self.name() });
        }
        template
            .render(&request.messages, &request.tools)
            .map_err(|message| Error::Template {
                path: self.loaded.path.clone(),
                message,
            })
    }

    /// Tokens of the rendered prompt of `request`.
    pub fn prompt_tokens(&self, request: &ChatRequest) -> Result<usize> {
        Ok(self.count_tokens(&self.render(request)?) + 1)
    }

    /// Starts answering `request` and returns its event stream, ending with
    /// [`ChatEvent::Done`] or an error. Concurrent requests are decoded
    /// together; a conversation's next turn reuses the state of its previous
    /// one. Cancelling `cancel` or dropping the receiver stops decoding.
    pub fn chat(
        &self,
        request: &ChatRequest,
        cancel: CancellationToken,
    ) -> Result<mpsc::UnboundedReceiver<Result<ChatEvent>>> {
        self.chat_as(request, "local", cancel)
    }

    /// [`LocalModel::chat`], with the answer credited to `provider` (the
    /// router's name for this model).
    pub fn chat_as(
        &self,
        request: &ChatRequest,
        provider: &str,
        cancel: CancellationToken,
    ) -> Result<mpsc::UnboundedReceiver<Result<ChatEvent>>> {
        let mut prompt = self.render(request)?;
        if request.tool_choice == crate::ToolChoice::Required && !request.tools.is_empty() {
            // The answer opens with a call; the grammar takes it from here.
            prompt.push_str(crate::grammar::CALL_OPEN);
        }
        let tokens = self
            .loaded
            .model
            .vocab()
            .tokenize(prompt.as_bytes(), true, true);
        let context_size = self.loaded.options.context_size;
        // Leave room for at least a short answer.
        if tokens.is_empty() || tokens.len() + 16 > context_size as usize {
            return Err(Error::ContextOverflow {
                model: self.name(),
                prompt_tokens: tokens.len(),
                context_size,
            });
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        self.engine.submit(Job::new(
            tokens,
            request,
            (provider, &self.name()),
            cancel,
            sender,
        ))?;
        Ok(receiver)
    }
}
