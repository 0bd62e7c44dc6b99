//! The decode engine of one local model: a dedicated thread owning one
//! llama.cpp context with several sequences ("slots").
//!
//! - **Batching**: every step puts the next token of each generating request,
//!   and as much pending prompt as fits, into one `llama_decode` call, so
//!   concurrent requests share the weights' memory traffic instead of queueing.
//! - **Prefix reuse**: a finished slot keeps its KV state. A new request goes to
//!   the free slot whose cached tokens share the longest prefix with its prompt
//!   and only the rest is read, so a conversation's next turn skips everything
//!   it already said.
//! - **Tool calls**: once the model writes `<tool_call>`, sampling switches to a
//!   grammar built from the offered tools' schemas (see [`crate::grammar`]).

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::grammar::{parse_call, tool_call_grammar, CALL_CLOSE, CALL_OPEN};
use crate::local::{backend, Loaded};
use crate::{ChatEvent, ChatRequest, Completion, Error, FinishReason, Result, ToolCall, ToolSpec};

/// Most tokens per llama.cpp decode call.
const BATCH: usize = 512;
/// Extra tokens a tool call may take beyond `max_tokens`, so a call opened
/// near the limit can still close.
const CALL_ALLOWANCE: u32 = 512;

/// One request waiting for or being decoded.
pub(crate) struct Job {
    tokens: Vec<LlamaToken>,
    max_tokens: u32,
    temperature: f32,
    seed: u32,
    tools: Vec<ToolSpec>,
    required: bool,
    ignore_eos: bool,
    provider: String,
    model: String,
    cancel: CancellationToken,
    events: UnboundedSender<Result<ChatEvent>>,
    submitted: Instant,
}

impl Job {
    pub(crate) fn new(
        tokens: Vec<LlamaToken>,
        request: &ChatRequest,
        (provider, model): (&str, &str),
        cancel: CancellationToken,
        events: UnboundedSender<Result<ChatEvent>>,
    ) -> Self {
        Self {
            tokens,
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            seed: request.seed,
            tools: request.tools.clone(),
            required: request.tool_choice == crate::ToolChoice::Required
                && !request.tools.is_empty(),
            ignore_eos: request.ignore_eos,
            provider: provider.to_owned(),
            model: model.to_owned(),
            cancel,
            events,
            submitted: Instant::now(),
        }
    }

    fn abandoned(&self) -> bool {
        self.cancel.is_cancelled() || self.events.is_closed()
    }

    fn fail(&self, error: Error) {
        if self.events.send(Err(error)).is_err() {
            tracing::debug!("a failed request's receiver was already gone");
        }
    }
}

/// The handle requests are submitted through; the thread ends when the handle
/// is dropped and its last request has finished.
pub(crate) struct Engine {
    sender: std::sync::mpsc::Sender<Job>,
}

impl Engine {
    pub(crate) fn start(loaded: Arc<Loaded>) -> Result<Self> {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("codexos-llm-engine".into())
            .spawn(move || run(&loaded, &receiver))
            .map_err(|error| Error::Backend {
                message: format!("cannot start the decode thread: {error}"),
            })?;
        Ok(Self { sender })
    }

    pub(crate) fn submit(&self, job: Job) -> Result<()> {
        self.sender.send(job).map_err(|_| Error::Backend {
            message: "the decode thread has stopped".into(),
        })
    }
}

/// Text handling of one generation: UTF-8 reassembly, holding back what may be
/// the start of a tool-call marker, and capturing the call.
struct Output {
    bytes: Vec<u8>,
    held: String,
    text: String,
    call: Option<String>,
    calls: Vec<ToolCall>,
    /// Nothing but whitespace or a code-fence opener has been generated yet.
    preamble: bool,
}

/// A request in a slot.
struct Active {
    job: Job,
    /// Prompt tokens still to read.
    pending: VecDeque<LlamaToken>,
    sampler: LlamaSampler,
    /// The sampled token to feed next.
    next: Option<LlamaToken>,
    /// Where this slot's logits are in the batch just decoded.
    logits: Option<i32>,
    generated: u32,
    cached_tokens: u32,
    prompt_tokens: u32,
    prompt_done: Option<Instant>,
    first_token: Option<Instant>,
    output: Output,
    /// Most requests in one decode with this one.
    concurrent: u32,
}

struct Slot {
    seq: i32,
    /// Tokens whose KV state sequence `seq` holds, in order.
    cached: Vec<LlamaToken>,
    active: Option<Active>,
}

fn common_prefix(left: &[LlamaToken], right: &[LlamaToken]) -> usize {
    left.iter().zip(right).take_while(|(a, b)| a == b).count()
}

/// Takes the longest valid UTF-8 prefix out of `buffer`; a multi-byte
/// character split across tokens waits for its remaining bytes.
pub(crate) fn take_text(buffer: &mut Vec<u8>) -> String {
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

/// Length of the longest suffix of `text` that is a proper prefix of `marker`.
fn marker_prefix_len(text: &str, marker: &str) -> usize {
    (1..marker.len().min(text.len() + 1))
        .rev()
        .find(|&length| {
            text.is_char_boundary(text.len() - length)
                && marker.starts_with(&text[text.len() - length..])
        })
        .unwrap_or(0)
}

fn sampler(
    loaded: &Loaded,
    temperature: f32,
    seed: u32,
    grammar: Option<&str>,
) -> Result<LlamaSampler> {
    let model = &loaded.model;
    let mut chain = Vec::new();
    if let Some(grammar) = grammar {
        chain.push(
            LlamaSampler::grammar(model, grammar, "root").map_err(|error| Error::Grammar {
                message: error.to_string(),
            })?,
        );
    } else {
        // A mild repetition penalty keeps small models out of loops (not in
        // JSON, where repeated quotes and braces are the point).
        chain.push(LlamaSampler::penalties(model.n_vocab(), 64, 1.1, 0.0, 0.0));
    }
    if temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        chain.extend([
            LlamaSampler::top_k(40),
            LlamaSampler::top_p(0.95, 1),
            LlamaSampler::min_p(0.05, 1),
            LlamaSampler::temp(temperature),
            LlamaSampler::dist(seed),
        ]);
    }
    Ok(LlamaSampler::chain_simple(chain))
}

fn run(loaded: &Loaded, receiver: &std::sync::mpsc::Receiver<Job>) {
    let options = &loaded.options;
    let parallel = options.parallel.max(1);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(options.context_size * parallel))
        .with_n_seq_max(parallel)
        .with_kv_unified(false)
        .with_n_batch(BATCH as u32)
        .with_n_ubatch(BATCH as u32)
        .with_n_threads(options.threads.max(1) as i32)
        .with_n_threads_batch(options.batch_threads.max(options.threads).max(1) as i32);
    let context = backend().and_then(|backend| {
        loaded
            .model
            .new_context(backend, params)
            .map_err(|error| Error::Decode {
                action: "creating a context",
                message: error.to_string(),
            })
    });
    let mut context = match context {
        Ok(context) => context,
        Err(error) => {
            let message = error.to_string();
            while let Ok(job) = receiver.recv() {
                job.fail(Error::Backend {
                    message: message.clone(),
                });
            }
            return;
        }
    };
    let mut slots: Vec<Slot> = (0..parallel as i32)
        .map(|seq| Slot {
            seq,
            cached: Vec::new(),
            active: None,
        })
        .collect();
    let mut queue: VecDeque<Job> = VecDeque::new();
    let mut batch = LlamaBatch::new(BATCH, parallel as i32);
    loop {
        let busy = slots.iter().any(|slot| slot.active.is_some());
        if !busy && queue.is_empty() {
            match receiver.recv() {
                Ok(job) => queue.push_back(job),
                Err(_) => return,
            }
        }
        queue.extend(receiver.try_iter());
        queue.retain(|job| !job.abandoned());
        assign(loaded, &mut context, &mut slots, &mut queue);
        for slot in &mut slots {
            if slot
                .active
                .as_ref()
                .is_some_and(|active| active.job.abandoned())
            {
                finish(slot, FinishReason::Cancelled);
            }
        }
        if !fill(&mut batch, &mut slots, options.context_size) {
            continue;
        }
        let together = slots.iter().filter(|slot| slot.active.is_some()).count() as u32;
        for active in slots.iter_mut().filter_map(|slot| slot.active.as_mut()) {
            active.concurrent = active.concurrent.max(together);
        }
        if let Err(error) = context.decode(&mut batch) {
            let message = error.to_string();
            for slot in &mut slots {
                if let Some(active) = slot.active.take() {
                    active.job.fail(Error::Decode {
                        action: "decoding",
                        message: message.clone(),
                    });
                    forget(&mut context, slot);
                }
            }
            continue;
        }
        for slot in &mut slots {
            sample(loaded, &context, slot);
        }
    }
}

/// Drops what sequence `slot.seq` holds.
fn forget(context: &mut LlamaContext<'_>, slot: &mut Slot) {
    if let Err(error) = context.clear_kv_cache_seq(Some(slot.seq as u32), None, None) {
        tracing::warn!(%error, "cannot clear a KV sequence");
    }
    slot.cached.clear();
}

/// Moves queued jobs into free slots, each to the slot sharing the longest
/// prefix with its prompt.
fn assign(
    loaded: &Loaded,
    context: &mut LlamaContext<'_>,
    slots: &mut [Slot],
    queue: &mut VecDeque<Job>,
) {
    while let Some(job) = queue.front() {
        let best = slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.active.is_none())
            .max_by_key(|(_, slot)| common_prefix(&slot.cached, &job.tokens))
            .map(|(index, _)| index);
        let Some(index) = best else { return };
        let Some(job) = queue.pop_front() else { return };
        let slot = &mut slots[index];
        // At least one prompt token is read, for the logits of the first step.
        let mut keep = common_prefix(&slot.cached, &job.tokens).min(job.tokens.len() - 1);
        let cut = context.clear_kv_cache_seq(Some(slot.seq as u32), Some(keep as u32), None);
        if !matches!(cut, Ok(true)) {
            // The cache could not be cut there (some architectures): start over.
            forget(context, slot);
            keep = 0;
        }
        slot.cached.truncate(keep);
        let grammar = job.required.then(|| tool_call_grammar(&job.tools));
        let sampler = match sampler(loaded, job.temperature, job.seed, grammar.as_deref()) {
            Ok(sampler) => sampler,
            Err(error) => {
                job.fail(error);
                continue;
            }
        };
        let pending = job.tokens[keep..].iter().copied().collect();
        slot.active = Some(Active {
            prompt_tokens: job.tokens.len() as u32,
            cached_tokens: keep as u32,
            job,
            pending,
            sampler,
            next: None,
            logits: None,
            generated: 0,
            prompt_done: None,
            first_token: None,
            output: Output {
                bytes: Vec::new(),
                held: String::new(),
                text: String::new(),
                call: grammar.map(|_| String::new()),
                calls: Vec::new(),
                preamble: true,
            },
            concurrent: 1,
        });
    }
}

/// Puts each slot's next token and as much pending prompt as fits into the
/// batch. Returns whether there is anything to decode.
fn fill(batch: &mut LlamaBatch<'_>, slots: &mut [Slot], context_size: u32) -> bool {
    batch.clear();
    for slot in slots.iter_mut() {
        let position = slot.cached.len();
        let Some(active) = slot.active.as_mut() else {
            continue;
        };
        active.logits = None;
        let Some(token) = active.next.take() else {
            continue;
        };
        if position + 1 >= context_size as usize {
            tracing::warn!(
                context_size,
                "the context window is full; the answer is cut short"
            );
            finish(slot, FinishReason::Length);
            continue;
        }
        if batch.add(token, position as i32, &[slot.seq], true).is_ok() {
            active.logits = Some(batch.n_tokens() - 1);
            slot.cached.push(token);
        }
    }
    for slot in slots.iter_mut() {
        let Some(active) = slot.active.as_mut() else {
            continue;
        };
        while let Some(&token) = active.pending.front() {
            if batch.n_tokens() as usize >= BATCH {
                break;
            }
            let last = active.pending.len() == 1;
            if batch
                .add(token, slot.cached.len() as i32, &[slot.seq], last)
                .is_err()
            {
                break;
            }
            active.pending.pop_front();
            slot.cached.push(token);
            if last {
                active.logits = Some(batch.n_tokens() - 1);
            }
        }
    }
    batch.n_tokens() > 0
}

/// Samples the next token of a slot whose logits were just computed.
fn sample(loaded: &Loaded, context: &LlamaContext<'_>, slot: &mut Slot) {
    let Some(active) = slot.active.as_mut() else {
        return;
    };
    let Some(index) = active.logits.take() else {
        return;
    };
    let now = Instant::now();
    active.prompt_done.get_or_insert(now);
    let mut token = active.sampler.sample(context, index);
    let vocab = loaded.model.vocab();
    if active.output.preamble
        && active.output.call.is_none()
        && !active.job.tools.is_empty()
        && !vocab.is_eog(token)
    {
        let piece = String::from_utf8_lossy(&vocab.token_to_piece(token, true, None)).into_owned();
        if piece.trim_start().starts_with('{') {
            // Small models often answer with the call's JSON and no tags (or
            // in a ```json fence): redo this token under the call grammar.
            if let Err(error) = begin_call(loaded, active) {
                active.job.fail(error);
                slot.active = None;
                return;
            }
            token = active.sampler.sample(context, index);
        }
    }
    if vocab.is_eog(token) && !active.job.ignore_eos {
        let reason = if active.output.calls.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        };
        finish(slot, reason);
        return;
    }
    active.first_token.get_or_insert(now);
    active.generated += 1;
    active
        .output
        .bytes
        .extend(vocab.token_to_piece(token, true, None));
    let piece = take_text(&mut active.output.bytes);
    if let Err(error) = absorb(loaded, active, &piece) {
        active.job.fail(error);
        slot.active = None;
        return;
    }
    let limit = if active.output.call.is_some() {
        active.job.max_tokens + CALL_ALLOWANCE
    } else {
        active.job.max_tokens
    };
    if active.generated >= limit {
        finish(slot, FinishReason::Length);
        return;
    }
    active.next = Some(token);
}

/// Code-fence openers a model may put before a call's JSON.
const FENCES: [&str; 3] = ["```json\n", "```JSON\n", "```\n"];

/// Whether `text` (all that was generated) may still open a call: blank, or
/// the start of a code fence.
fn is_preamble(text: &str) -> bool {
    let text = text.trim_start();
    text.is_empty() || FENCES.iter().any(|fence| fence.starts_with(text))
}

/// Switches a generation into tool-call mode: the grammar decides from here.
fn begin_call(loaded: &Loaded, active: &mut Active) -> Result<()> {
    let grammar = tool_call_grammar(&active.job.tools);
    active.sampler = sampler(
        loaded,
        active.job.temperature,
        active.job.seed,
        Some(&grammar),
    )?;
    active.output.call = Some(String::new());
    active.output.held.clear();
    active.output.preamble = false;
    Ok(())
}

/// Routes new text: into a tool call being captured, or to the stream (minus
/// anything that may be the start of a tool-call marker).
fn absorb(loaded: &Loaded, active: &mut Active, piece: &str) -> Result<()> {
    let output = &mut active.output;
    if let Some(call) = output.call.as_mut() {
        call.push_str(piece);
        if let Some(end) = call.find(CALL_CLOSE) {
            let (name, arguments) = parse_call(&call[..end], &active.job.tools)
                .map_err(|message| Error::Grammar { message })?;
            let tool_call = ToolCall {
                id: format!("call_{}", output.calls.len() + 1),
                name,
                arguments,
            };
            output.calls.push(tool_call.clone());
            output.call = None;
            // The call's grammar is complete: only end-of-turn remains.
            send(&active.job, ChatEvent::ToolCall(tool_call));
        }
        return Ok(());
    }
    output.held.push_str(piece);
    if active.job.tools.is_empty() {
        let text = std::mem::take(&mut output.held);
        emit(active, text);
        return Ok(());
    }
    if output.preamble {
        if is_preamble(&output.held) {
            return Ok(());
        }
        output.preamble = false;
    }
    if let Some(start) = output.held.find(CALL_OPEN) {
        let before = output.held[..start].to_owned();
        let rest = output.held[start + CALL_OPEN.len()..].to_owned();
        emit(active, before);
        begin_call(loaded, active)?;
        active.output.call = Some(rest);
        return Ok(());
    }
    let keep = marker_prefix_len(&output.held, CALL_OPEN);
    let split = output.held.len() - keep;
    let text = output.held[..split].to_owned();
    output.held.drain(..split);
    emit(active, text);
    Ok(())
}

fn emit(active: &mut Active, text: String) {
    if text.is_empty() {
        return;
    }
    active.output.text.push_str(&text);
    send(&active.job, ChatEvent::Token(text));
}

fn send(job: &Job, event: ChatEvent) {
    if job.events.send(Ok(event)).is_err() {
        tracing::debug!("a request's receiver went away; it is cancelled on the next step");
    }
}

/// Ends the request in `slot` (its KV state stays for prefix reuse).
fn finish(slot: &mut Slot, reason: FinishReason) {
    let Some(mut active) = slot.active.take() else {
        return;
    };
    let held = std::mem::take(&mut active.output.held);
    emit(&mut active, held);
    if active.output.call.is_some() {
        tracing::warn!(model = %active.job.model, "a tool call was cut off before it closed");
    }
    let now = Instant::now();
    let generation = active
        .prompt_done
        .map_or(0.0, |done| now.duration_since(done).as_secs_f32());
    let millis = |instant: Option<Instant>| {
        instant.map_or(0, |at| {
            at.duration_since(active.job.submitted).as_millis() as u32
        })
    };
    let mut completion = Completion::empty(&active.job.provider, &active.job.model);
    completion.text = std::mem::take(&mut active.output.text);
    completion.tool_calls = std::mem::take(&mut active.output.calls);
    completion.prompt_tokens = active.prompt_tokens;
    completion.cached_tokens = active.cached_tokens;
    completion.completion_tokens = active.generated;
    completion.finish = reason;
    completion.elapsed_ms = now.duration_since(active.job.submitted).as_millis() as u32;
    completion.first_token_ms = millis(active.first_token);
    completion.concurrent = active.concurrent;
    completion.tokens_per_second = if generation > 0.0 {
        active.generated as f32 / generation
    } else {
        0.0
    };
    send(&active.job, ChatEvent::Done(completion));
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

    #[test]
    fn only_a_possible_marker_start_is_held_back() {
        assert_eq!(marker_prefix_len("hello <tool", CALL_OPEN), 5);
        assert_eq!(marker_prefix_len("hello <", CALL_OPEN), 1);
        assert_eq!(marker_prefix_len("hello", CALL_OPEN), 0);
        assert_eq!(marker_prefix_len("a <b", CALL_OPEN), 0);
        assert_eq!(marker_prefix_len("€<tool_", CALL_OPEN), 6);
    }

    #[test]
    fn blank_text_and_fence_openers_may_still_open_a_call() {
        assert!(is_preamble(""));
        assert!(is_preamble("\n "));
        assert!(is_preamble("``"));
        assert!(is_preamble("```json\n"));
        assert!(!is_preamble("```python\n"));
        assert!(!is_preamble("Sure"));
    }

    #[test]
    fn prefixes_compare_token_by_token() {
        let tokens = |ids: &[i32]| ids.iter().map(|&id| LlamaToken(id)).collect::<Vec<_>>();
        assert_eq!(common_prefix(&tokens(&[1, 2, 3]), &tokens(&[1, 2, 4])), 2);
        assert_eq!(common_prefix(&tokens(&[]), &tokens(&[1])), 0);
    }
}
