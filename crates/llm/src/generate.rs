//! The decode loop: one context per request, on its own thread.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::sampling::LlamaSampler;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{backend, ChatMessage, Error, LocalModel, Result};

/// Tokens decoded per llama.cpp call while reading the prompt.
const PROMPT_BATCH: usize = 512;

/// Sampling settings of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// 0 for greedy decoding.
    pub temperature: f32,
    /// Seed of the sampler, for repeatable output.
    pub seed: u32,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            max_tokens: 512,
            temperature: 0.2,
            seed: 42,
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// The model ended its turn.
    Stop,
    /// `max_tokens` or the context window was reached.
    Length,
    /// The caller cancelled.
    Cancelled,
}

/// Summary of a finished generation.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
pub struct Completion {
    /// The whole generated text.
    pub text: String,
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Why it stopped.
    pub finish: FinishReason,
    /// Wall time, prompt included, in milliseconds.
    pub elapsed_ms: u32,
    /// Generation speed, prompt excluded.
    pub tokens_per_second: f32,
}

/// One item of a generation stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Generation {
    /// Newly generated text (whole UTF-8 characters).
    Token(String),
    /// The end, with the summary.
    Done(Completion),
}

/// Takes the longest valid UTF-8 prefix out of `buffer`; a multi-byte
/// character split across tokens waits for its remaining bytes.
fn take_text(buffer: &mut Vec<u8>) -> String {
    match std::str::from_utf8(buffer) {
        Ok(text) => {
            let text = text.to_owned();
            buffer.clear();
            text
        }
        Err(error) if error.error_len().is_none() => {
            let valid = error.valid_up_to();
            let text = String::from_utf8_lossy(&buffer[..valid]).into_owned();
            buffer.drain(..valid);
            text
        }
        Err(_) => {
            let text = String::from_utf8_lossy(buffer).into_owned();
            buffer.clear();
            text
        }
    }
}

fn decode_error(action: &'static str) -> impl Fn(llama_cpp_2::DecodeError) -> Error {
    move |error| Error::Decode {
        action,
        message: error.to_string(),
    }
}

impl LocalModel {
    /// Starts generating a reply to `messages` on a dedicated thread and returns
    /// the stream of tokens, ending with [`Generation::Done`] or an error.
    /// Dropping the receiver or cancelling `cancel` stops decoding.
    pub fn generate(
        self: &Arc<Self>,
        messages: &[ChatMessage],
        options: GenerateOptions,
        cancel: CancellationToken,
    ) -> Result<mpsc::UnboundedReceiver<Result<Generation>>> {
        let prompt = self.render(messages)?;
        let model = Arc::clone(self);
        let (sender, receiver) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("codexos-llm-decode".into())
            .spawn(move || {
                let emit = |text: String| sender.send(Ok(Generation::Token(text))).is_ok();
                let outcome = model.decode(&prompt, &options, &cancel, &emit);
                let last = outcome.map(Generation::Done);
                if sender.send(last).is_err() {
                    tracing::debug!("generation finished after its receiver was dropped");
                }
            })
            .map_err(|error| Error::Backend {
                message: format!("cannot start a decode thread: {error}"),
            })?;
        Ok(receiver)
    }

    /// Runs a whole generation on the calling thread. `emit` returns `false`
    /// when nobody listens any more.
    fn decode(
        &self,
        prompt: &str,
        options: &GenerateOptions,
        cancel: &CancellationToken,
        emit: &dyn Fn(String) -> bool,
    ) -> Result<Completion> {
        let started = Instant::now();
        let context_size = self.options.context_size;
        let vocab = self.model.vocab();
        let tokens = vocab.tokenize(prompt.as_bytes(), true, true);
        // Leave room for at least a short answer.
        if tokens.is_empty() || tokens.len() + 16 > context_size as usize {
            return Err(Error::ContextOverflow {
                prompt_tokens: tokens.len(),
                context_size,
            });
        }
        let threads = self.options.threads.max(1) as i32;
        // Reading the prompt is one short, parallel burst: it gets every core
        // (measured: 2 threads halve a 2,500-token prompt on 2 cores), while
        // token-by-token decoding keeps the configured, smaller count.
        let batch_threads = std::thread::available_parallelism()
            .map_or(threads, |cores| (cores.get() as i32).max(threads));
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(context_size))
            .with_n_batch(PROMPT_BATCH as u32)
            .with_n_threads(threads)
            .with_n_threads_batch(batch_threads);
        let mut context = self
            .model
            .new_context(backend()?, params)
            .map_err(|error| Error::Decode {
                action: "creating a context",
                message: error.to_string(),
            })?;
        let mut batch = LlamaBatch::new(PROMPT_BATCH, 1);
        feed_prompt(&mut context, &mut batch, &tokens, cancel)?;
        let prompt_done = Instant::now();
        let mut sampler = sampler(&self.model, options);
        let mut position = tokens.len();
        let mut pending = Vec::new();
        let mut text = String::new();
        let mut generated = 0u32;
        let finish = loop {
            if cancel.is_cancelled() {
                break FinishReason::Cancelled;
            }
            if generated >= options.max_tokens {
                break FinishReason::Length;
            }
            if position >= context_size as usize {
                tracing::warn!(
                    context_size,
                    "the context window is full; the answer is cut short"
                );
                break FinishReason::Length;
            }
            let token = sampler.sample(&context, batch.n_tokens() - 1);
            if vocab.is_eog(token) {
                break FinishReason::Stop;
            }
            pending.extend(vocab.token_to_piece(token, false, None));
            let piece = take_text(&mut pending);
            if !piece.is_empty() {
                text.push_str(&piece);
                if !emit(piece) {
                    break FinishReason::Cancelled;
                }
            }
            batch.clear();
            batch
                .add(token, position as i32, &[0], true)
                .map_err(|error| Error::Decode {
                    action: "batching a token",
                    message: error.to_string(),
                })?;
            context
                .decode(&mut batch)
                .map_err(decode_error("generating"))?;
            position += 1;
            generated += 1;
        };
        let generation_seconds = prompt_done.elapsed().as_secs_f32();
        Ok(Completion {
            text,
            prompt_tokens: tokens.len() as u32,
            completion_tokens: generated,
            finish,
            elapsed_ms: started.elapsed().as_millis() as u32,
            tokens_per_second: if generation_seconds > 0.0 {
                generated as f32 / generation_seconds
            } else {
                0.0
            },
        })
    }
}

/// Decodes the prompt in batches, asking for logits of its last token only.
fn feed_prompt(
    context: &mut llama_cpp_2::context::LlamaContext<'_>,
    batch: &mut LlamaBatch<'_>,
    tokens: &[llama_cpp_2::token::LlamaToken],
    cancel: &CancellationToken,
) -> Result<()> {
    let last = tokens.len() - 1;
    for (chunk_index, chunk) in tokens.chunks(PROMPT_BATCH).enumerate() {
        batch.clear();
        for (offset, token) in chunk.iter().enumerate() {
            let position = chunk_index * PROMPT_BATCH + offset;
            batch
                .add(*token, position as i32, &[0], position == last)
                .map_err(|error| Error::Decode {
                    action: "batching the prompt",
                    message: error.to_string(),
                })?;
        }
        context
            .decode(batch)
            .map_err(decode_error("reading the prompt"))?;
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
    }
    Ok(())
}

fn sampler(model: &llama_cpp_2::model::LlamaModel, options: &GenerateOptions) -> LlamaSampler {
    // A mild repetition penalty keeps small models out of loops.
    let penalties = LlamaSampler::penalties(model.n_vocab(), 64, 1.1, 0.0, 0.0);
    if options.temperature <= 0.0 {
        LlamaSampler::chain_simple([penalties, LlamaSampler::greedy()])
    } else {
        LlamaSampler::chain_simple([
            penalties,
            LlamaSampler::top_k(40),
            LlamaSampler::top_p(0.95, 1),
            LlamaSampler::min_p(0.05, 1),
            LlamaSampler::temp(options.temperature),
            LlamaSampler::dist(options.seed),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_characters_wait_for_their_bytes() {
        let euro = "€".as_bytes();
        let mut buffer = vec![b'a', euro[0]];
        assert_eq!(take_text(&mut buffer), "a");
        buffer.extend_from_slice(&euro[1..]);
        assert_eq!(take_text(&mut buffer), "€");
        assert!(buffer.is_empty());
    }

    #[test]
    fn invalid_bytes_are_replaced_not_kept_forever() {
        let mut buffer = vec![0xff, b'a'];
        assert_eq!(take_text(&mut buffer), "\u{fffd}a");
        assert!(buffer.is_empty());
    }
}
