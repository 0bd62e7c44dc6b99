//! `codexos bench llm`: local inference speed, side by side with llama.cpp's
//! own `llama-bench` on the same file and thread count (built by
//! `scripts/build-llama-bench.sh` against the crate's llama.cpp), batched
//! against sequential requests, and time to first token — on a quiet machine
//! and with another process keeping one core busy.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use codexos_llm::{ChatEvent, ChatMessage, ChatRequest, Completion, LocalModel, ModelOptions};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::{models, Error, Result, Runtime};

/// Prompt reading and generation speed of one configuration.
#[derive(Debug, Clone, Serialize)]
pub struct LlmRun {
    /// Prompt tokens read per second (prompt of `prompt_tokens`).
    pub prompt_per_second: f64,
    /// Tokens generated per second (`gen_tokens` of them).
    pub generate_per_second: f64,
    /// Milliseconds to the first token of a one-line question.
    pub first_token_ms: f64,
}

/// The same figures from llama.cpp's `llama-bench`.
#[derive(Debug, Clone, Serialize)]
pub struct LlamaBenchRun {
    /// `OMP_WAIT_POLICY` it ran with (`PASSIVE` as CodexOS, or its default).
    pub wait_policy: String,
    /// pp: prompt tokens per second.
    pub prompt_per_second: f64,
    /// tg: generated tokens per second.
    pub generate_per_second: f64,
}

/// Concurrent requests decoded together against one after another.
#[derive(Debug, Clone, Serialize)]
pub struct BatchRun {
    /// Requests.
    pub requests: u32,
    /// Tokens each generates.
    pub tokens_each: u32,
    /// Tokens per second, one request at a time.
    pub sequential_per_second: f64,
    /// Tokens per second, all at once (one llama.cpp batch per step).
    pub batched_per_second: f64,
}

/// Everything `bench llm` measured.
#[derive(Debug, Clone, Serialize)]
pub struct LlmBench {
    /// The GGUF file.
    pub model: String,
    /// CPU threads (both engines).
    pub threads: u32,
    /// Prompt length of the prompt-speed runs.
    pub prompt_tokens: u32,
    /// Tokens of the generation-speed runs.
    pub gen_tokens: u32,
    /// CodexOS, quiet machine.
    pub quiet: LlmRun,
    /// CodexOS, one core kept busy by another process.
    pub busy: LlmRun,
    /// llama-bench, quiet machine (when its binary was found).
    pub llama_bench_quiet: Vec<LlamaBenchRun>,
    /// llama-bench, one core busy.
    pub llama_bench_busy: Vec<LlamaBenchRun>,
    /// Batched against sequential, quiet machine.
    pub batch: BatchRun,
}

/// Options of [`Runtime::bench_llm`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmBenchOptions {
    /// Model name or path (default: the configured chat model).
    pub model: Option<String>,
    /// CPU threads (default: the configured decode threads).
    pub threads: Option<u32>,
    /// Prompt tokens of the prompt-speed runs.
    pub prompt_tokens: u32,
    /// Tokens of the generation-speed runs.
    pub gen_tokens: u32,
    /// Concurrent requests of the batching run.
    pub concurrent: u32,
    /// llama-bench binary (default: where scripts/build-llama-bench.sh puts it).
    pub llama_bench: Option<PathBuf>,
}

/// A process spinning on one core until dropped.
struct BusyCore(std::process::Child);

impl BusyCore {
    fn start() -> Result<Self> {
        std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .map(Self)
            .map_err(|error| Error::Task {
                message: format!("cannot start the busy-core process: {error}"),
            })
    }
}

impl Drop for BusyCore {
    fn drop(&mut self) {
        if let Err(error) = self.0.kill() {
            tracing::warn!(%error, "cannot stop the busy-core process");
        }
        if let Err(error) = self.0.wait() {
            tracing::warn!(%error, "cannot reap the busy-core process");
        }
    }
}

async fn run_to_end(model: &LocalModel, request: &ChatRequest) -> Result<Completion> {
    let mut stream = model.chat(request, CancellationToken::new())?;
    while let Some(item) = stream.recv().await {
        if let ChatEvent::Done(completion) = item? {
            return Ok(completion);
        }
    }
    Err(Error::Task {
        message: "a benchmark request ended without a summary".into(),
    })
}

fn request(text: String, max_tokens: u32) -> ChatRequest {
    let mut request = ChatRequest::new(vec![ChatMessage::user(text)]);
    request.max_tokens = max_tokens;
    request.temperature = 0.0;
    request.ignore_eos = true;
    request
}

/// A user message of about `tokens` tokens, distinct per `run` so no prefix
/// is reused from an earlier run.
fn long_text(model: &LocalModel, tokens: u32, run: u32) -> String {
    let mut text = format!("Run {run}. Summarise the following notes.\n");
    let words = [
        "lighthouse",
        "harbour",
        "keeper",
        "storm",
        "lantern",
        "signal",
        "coast",
        "night",
    ];
    let mut index = run as usize;
    while model.count_tokens(&text) < tokens as usize {
        text.push_str(words[index % words.len()]);
        text.push(' ');
        index += 7;
    }
    text
}

const RUNS: u32 = 3;

async fn measure(model: &LocalModel, options: &LlmBenchOptions, salt: u32) -> Result<LlmRun> {
    let mut prompt_rates = Vec::new();
    let mut generate_rates = Vec::new();
    let mut first_tokens = Vec::new();
    // Unmeasured, as llama-bench does: the first pass pages the weights in.
    run_to_end(
        model,
        &request(long_text(model, options.prompt_tokens, salt * 100 + 99), 8),
    )
    .await?;
    for run in 0..RUNS {
        let salt = salt * 100 + run;
        let read = run_to_end(
            model,
            &request(long_text(model, options.prompt_tokens, salt), 1),
        )
        .await?;
        let fresh = f64::from(read.prompt_tokens - read.cached_tokens);
        prompt_rates.push(fresh * 1000.0 / f64::from(read.first_token_ms.max(1)));
        let generated = run_to_end(
            model,
            &request(format!("Run {salt}. Tell a story."), options.gen_tokens),
        )
        .await?;
        generate_rates.push(f64::from(generated.tokens_per_second));
        let first = run_to_end(
            model,
            &request(format!("Question {salt}: what is a lighthouse?"), 1),
        )
        .await?;
        first_tokens.push(f64::from(first.first_token_ms));
    }
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len().max(1) as f64;
    Ok(LlmRun {
        prompt_per_second: mean(&prompt_rates),
        generate_per_second: mean(&generate_rates),
        first_token_ms: mean(&first_tokens),
    })
}

async fn batching(model: &Arc<LocalModel>, requests: u32, tokens: u32) -> Result<BatchRun> {
    let prompts: Vec<String> = (0..requests)
        .map(|index| format!("Request {index}: describe a harbour at dawn."))
        .collect();
    let started = Instant::now();
    let mut generated = 0u32;
    for prompt in &prompts {
        generated += run_to_end(model, &request(prompt.clone(), tokens))
            .await?
            .completion_tokens;
    }
    let sequential = f64::from(generated) / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let handles: Vec<_> = prompts
        .iter()
        .map(|prompt| {
            let model = Arc::clone(model);
            let request = request(format!("Again. {prompt}"), tokens);
            tokio::spawn(async move { run_to_end(&model, &request).await })
        })
        .collect();
    let mut generated = 0u32;
    for handle in handles {
        generated += handle.await.map_err(Error::task)??.completion_tokens;
    }
    let batched = f64::from(generated) / started.elapsed().as_secs_f64();
    Ok(BatchRun {
        requests,
        tokens_each: tokens,
        sequential_per_second: sequential,
        batched_per_second: batched,
    })
}

/// Runs llama-bench with `OMP_WAIT_POLICY` set (or its default when `None`).
fn llama_bench(
    binary: &Path,
    model: &Path,
    options: &LlmBenchOptions,
    threads: u32,
    policy: Option<&str>,
) -> Result<LlamaBenchRun> {
    let mut command = std::process::Command::new(binary);
    command.args([
        "-m",
        &model.to_string_lossy(),
        "-t",
        &threads.to_string(),
        "-p",
        &options.prompt_tokens.to_string(),
        "-n",
        &options.gen_tokens.to_string(),
        "-r",
        &RUNS.to_string(),
        "-o",
        "json",
    ]);
    command.env_remove("OMP_WAIT_POLICY");
    if let Some(policy) = policy {
        command.env("OMP_WAIT_POLICY", policy);
    }
    let output = command.output().map_err(|error| Error::Task {
        message: format!("cannot run {}: {error}", binary.display()),
    })?;
    let failed = |why: String| Error::Task {
        message: format!("llama-bench failed: {why}"),
    };
    if !output.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    let rows: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|error| failed(error.to_string()))?;
    let rate = |prompt: bool| {
        rows.as_array()
            .into_iter()
            .flatten()
            .find(|row| (row["n_prompt"].as_u64().unwrap_or(0) > 0) == prompt)
            .and_then(|row| row["avg_ts"].as_f64())
            .unwrap_or(0.0)
    };
    Ok(LlamaBenchRun {
        wait_policy: policy.unwrap_or("default").to_owned(),
        prompt_per_second: rate(true),
        generate_per_second: rate(false),
    })
}

fn default_llama_bench() -> Option<PathBuf> {
    let cache = directories::BaseDirs::new()?.cache_dir().join("codexos");
    std::fs::read_dir(&cache)
        .ok()?
        .filter_map(std::result::Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("llama-bench-")
        })
        .map(|entry| entry.path().join("build/bin/llama-bench"))
        .find(|path| path.is_file())
}

fn llama_bench_runs(
    binary: Option<&Path>,
    model: &Path,
    options: &LlmBenchOptions,
    threads: u32,
) -> Vec<LlamaBenchRun> {
    let Some(binary) = binary else {
        return Vec::new();
    };
    [Some("PASSIVE"), None]
        .into_iter()
        .filter_map(
            |policy| match llama_bench(binary, model, options, threads, policy) {
                Ok(run) => Some(run),
                Err(error) => {
                    tracing::warn!(%error, "llama-bench did not run");
                    None
                }
            },
        )
        .collect()
}

impl Runtime {
    /// Measures local inference (see the module docs); takes minutes.
    pub async fn bench_llm(&self, options: &LlmBenchOptions) -> Result<LlmBench> {
        let path = models::resolve(
            &self.home,
            options.model.as_deref().unwrap_or(&self.config.models.chat),
        );
        let threads = options
            .threads
            .or(self.config.llm.threads)
            .unwrap_or_else(|| ModelOptions::default().threads);
        let model_options = ModelOptions {
            threads,
            batch_threads: threads,
            context_size: 4096,
            parallel: options.concurrent.max(2),
            force_chatml: false,
        };
        let load_path = path.clone();
        let model = Arc::new(
            tokio::task::spawn_blocking(move || LocalModel::load(&load_path, model_options))
                .await
                .map_err(Error::task)??,
        );
        let binary = options.llama_bench.clone().or_else(default_llama_bench);
        let quiet = measure(&model, options, 1).await?;
        let batch = batching(&model, options.concurrent, 64).await?;
        let bench_options = options.clone();
        let bench_path = path.clone();
        let bench_binary = binary.clone();
        let llama_bench_quiet = tokio::task::spawn_blocking(move || {
            llama_bench_runs(
                bench_binary.as_deref(),
                &bench_path,
                &bench_options,
                threads,
            )
        })
        .await
        .map_err(Error::task)?;
        let busy_core = BusyCore::start()?;
        let busy = measure(&model, options, 2).await?;
        let bench_options = options.clone();
        let bench_path = path.clone();
        let llama_bench_busy = tokio::task::spawn_blocking(move || {
            llama_bench_runs(binary.as_deref(), &bench_path, &bench_options, threads)
        })
        .await
        .map_err(Error::task)?;
        drop(busy_core);
        Ok(LlmBench {
            model: path.display().to_string(),
            threads,
            prompt_tokens: options.prompt_tokens,
            gen_tokens: options.gen_tokens,
            quiet,
            busy,
            llama_bench_quiet,
            llama_bench_busy,
            batch,
        })
    }
}
