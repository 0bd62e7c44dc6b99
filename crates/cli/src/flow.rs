//! `codexos run`, `runs …`, `flow check`, `flows …` and `agents …`: thin
//! calls into the runtime, rendering the run's typed event stream (text on
//! stderr, or NDJSON on stdout with `--json`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use codexos_runtime::{
    Budget, BudgetAction, FlowEventKind, FlowProblem, FlowRunOptions, ReplayReport, RunEvent,
    RunOutcome, RunStatus, Runtime,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// `codexos run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The flow file.
    flow: PathBuf,
    /// The run's input, a JSON object.
    #[arg(long, default_value = "{}")]
    input: String,
    /// Project the run works on: its folder is where tools work, and the
    /// flow gets it as input `project`.
    #[arg(long)]
    project: Option<String>,
    /// Approve every `ask` tool call (never overrides `deny`); without it the
    /// terminal asks.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    budget: BudgetArgs,
}

/// A budget for one run (or one resume), in place of the flow's `budget`.
#[derive(Debug, clap::Args)]
pub struct BudgetArgs {
    /// Stop the run when its model calls have used more tokens than this.
    #[arg(long = "budget-tokens", value_name = "TOKENS", value_parser = clap::value_parser!(u64).range(1..))]
    tokens: Option<u64>,
    /// Stop the run when its priced model calls cost more dollars than this.
    #[arg(long = "budget-usd", value_name = "DOLLARS")]
    usd: Option<f64>,
    /// With --budget-…: only warn when the budget is crossed.
    #[arg(long = "budget-warn")]
    warn: bool,
}

impl BudgetArgs {
    /// The budget these flags give, if any.
    fn budget(&self) -> anyhow::Result<Option<Budget>> {
        let limited = self.tokens.is_some() || self.usd.is_some();
        if self.warn && !limited {
            anyhow::bail!("--budget-warn needs --budget-tokens or --budget-usd");
        }
        Ok(limited.then_some(Budget {
            tokens: self.tokens,
            cost_usd: self.usd,
            on_exceed: if self.warn {
                BudgetAction::Warn
            } else {
                BudgetAction::Stop
            },
        }))
    }
}

/// `codexos runs …`.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// The newest runs.
    List {
        /// Only runs of this flow.
        #[arg(long)]
        flow: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One run: status, the nodes it finished, its output and events.
    Show {
        /// Run id (a unique prefix is enough).
        id: String,
    },
    /// Re-executes a run from its recording, with no model and no network,
    /// and checks it reproduces the original; `--diff` re-runs it live.
    Replay {
        /// Run id.
        id: String,
        /// Run live (models and tools called again) and report, node by
        /// node, where the outputs diverge.
        #[arg(long)]
        diff: bool,
        /// With --diff: use this model for every llm and reflect node.
        #[arg(long, requires = "diff")]
        model: Option<String>,
    },
    /// Continues an unfinished run from its last checkpoint (after a crash,
    /// a kill, a failure, or at a human node).
    Resume {
        /// Run id.
        id: String,
        /// Approve the waiting human node.
        #[arg(long, conflicts_with_all = ["reject", "answer"])]
        approve: bool,
        /// Reject the waiting human node (the run fails), with a reason.
        #[arg(long, value_name = "REASON", num_args = 0..=1, default_missing_value = "")]
        reject: Option<String>,
        /// Answer the waiting human input node with this JSON value.
        #[arg(long, value_name = "JSON")]
        answer: Option<String>,
        #[command(flatten)]
        budget: BudgetArgs,
    },
    /// Two stored runs side by side, node by node: prompts, answers, tool
    /// calls, writes, tokens, cost and time, with the first node where they
    /// part ways. Works across flow versions, models and inputs.
    Diff {
        /// Run A (a unique prefix is enough).
        a: String,
        /// Run B.
        b: String,
        /// List the nodes that did the same in both runs too.
        #[arg(long)]
        all: bool,
    },
    /// Starts a new run from the checkpoint before NODE, with edited state.
    Fork {
        /// Run id.
        id: String,
        /// The node to start from.
        #[arg(long)]
        from: String,
        /// `key=JSON` state edits (repeatable); a value that is not JSON is
        /// taken as a string.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        edits: Vec<String>,
    },
}

/// `codexos flow …`.
#[derive(Debug, Subcommand)]
pub enum FlowCommand {
    /// Checks a flow file: structure, types, and that its tools, models,
    /// secrets, agents and projects exist. Exit code 1 on errors.
    Check {
        /// The flow file.
        file: PathBuf,
    },
    /// Prints the JSON Schema of flow files (or of agent files).
    Schema {
        /// The agent schema instead.
        #[arg(long)]
        agent: bool,
    },
}

/// `codexos flows …`.
#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// Every flow run or saved here, with its latest version.
    List,
    /// A flow's versions.
    History {
        /// Flow name.
        name: String,
    },
    /// A unified diff between two versions (TO defaults to the latest).
    Diff {
        /// Flow name.
        name: String,
        /// Older version.
        from: u32,
        /// Newer version.
        to: Option<u32>,
    },
    /// Writes an old version back to the flow's file (recorded as a new version).
    Rollback {
        /// Flow name.
        name: String,
        /// Version to restore.
        version: u32,
        /// Write here instead of the file it was last run from.
        #[arg(long)]
        path: Option<PathBuf>,
    },
}

/// `codexos agents …`.
#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// Published agents and their versions.
    List,
    /// One agent (`name` for the latest, or `name@version`).
    Show {
        /// Agent reference.
        agent: String,
    },
    /// Writes a new agent file to edit, then publish.
    New {
        /// Agent name.
        name: String,
        /// File to write (default NAME.agent.json).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Publishes an agent file as an immutable version.
    Publish {
        /// The agent file.
        file: PathBuf,
    },
    /// Which flows in the flows folder pin which agent versions.
    Pins,
    /// Moves a flow's nodes using AGENT to its published VERSION.
    Repin {
        /// Flow name (in the flows folder).
        flow: String,
        /// Agent name.
        agent: String,
        /// A published version.
        version: String,
    },
}

/// A listener of live run events.
type Sink = Arc<dyn Fn(&RunEvent) + Send + Sync>;

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints events as they come: NDJSON, or short lines on stderr.
fn event_printer(json: bool) -> Sink {
    Arc::new(move |event: &RunEvent| {
        if json {
            if let Ok(line) = serde_json::to_string(event) {
                println!("{line}");
            }
            return;
        }
        let node = event.node.as_deref().unwrap_or("");
        let mut err = std::io::stderr().lock();
        let written = match &event.event {
            FlowEventKind::RunStarted { flow, mode } => {
                writeln!(err, "▶ {mode} {flow} · run {}", event.run)
            }
            FlowEventKind::NodeStarted { kind, attempt, .. } if *attempt > 1 => {
                writeln!(err, "  ↻ {node} ({kind}) attempt {attempt}")
            }
            FlowEventKind::NodeStarted { kind, .. } => writeln!(err, "  ● {node} ({kind})"),
            FlowEventKind::Token { text } => write!(err, "{text}"),
            FlowEventKind::ModelCall {
                provider, model, ..
            } => {
                writeln!(err, "\n    ↳ {provider} · {model}")
            }
            FlowEventKind::ToolCall { tool, arguments } => {
                writeln!(err, "    ⚙ {tool} {arguments}")
            }
            FlowEventKind::ToolResult { tool, ok, summary } => {
                writeln!(
                    err,
                    "    {} {tool}: {}",
                    if *ok { "✓" } else { "✗" },
                    summary.replace('\n', " ")
                )
            }
            FlowEventKind::ApprovalRequested { prompt, mode } => {
                writeln!(err, "  ⏸ {node} asks ({mode}): {prompt}")
            }
            FlowEventKind::NodeFinished {
                duration_ms, next, ..
            } => {
                let next = if next.is_empty() {
                    String::new()
                } else {
                    format!(" → {}", next.join(", "))
                };
                writeln!(err, "  ✓ {node} {duration_ms} ms{next}")
            }
            FlowEventKind::NodeFailed { error, retrying } => {
                writeln!(
                    err,
                    "  ✗ {node}: {error}{}",
                    if *retrying { " (retrying)" } else { "" }
                )
            }
            FlowEventKind::Budget { message, .. } => writeln!(err, "  ⚠ {message}"),
            FlowEventKind::RunPaused { waiting } => writeln!(err, "⏸ paused at `{waiting}`"),
            FlowEventKind::RunFinished { status, .. } => writeln!(err, "■ {status}"),
        };
        drop(written);
    })
}

/// Prints how a run ended; a failed or cancelled run is an error (exit 1).
fn outcome(outcome: &RunOutcome, json: bool) -> anyhow::Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({ "outcome": outcome }))?
        );
    } else {
        match outcome.status {
            RunStatus::Succeeded => println!("{}", serde_json::to_string_pretty(&outcome.output)?),
            RunStatus::Paused => eprintln!(
                "run {id} waits for a person at `{node}` — continue with `codexos runs resume {id} --approve` (or --reject, or --answer JSON)",
                id = outcome.run_id,
                node = outcome.waiting.as_deref().unwrap_or("?")
            ),
            _ => {}
        }
    }
    match outcome.status {
        RunStatus::Failed => anyhow::bail!(
            "run {} failed: {} — its events are kept (`codexos runs show {0}`); fix the cause and `codexos runs resume {0}`",
            outcome.run_id,
            outcome.error.as_deref().unwrap_or("unknown error")
        ),
        RunStatus::Cancelled => anyhow::bail!(
            "run {} was cancelled — `codexos runs resume {0}` continues it",
            outcome.run_id
        ),
        _ => Ok(()),
    }
}

fn parse_input(text: &str) -> anyhow::Result<Value> {
    let value: Value = serde_json::from_str(text).context("--input is not valid JSON")?;
    anyhow::ensure!(
        value.is_object(),
        "--input must be a JSON object, like '{{\"question\": \"…\"}}'"
    );
    Ok(value)
}

pub async fn run(
    runtime: &Arc<Runtime>,
    args: RunArgs,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let input = parse_input(&args.input)?;
    let budget = args.budget.budget()?;
    let options = FlowRunOptions {
        on_event: Some(event_printer(json)),
        project: args.project,
        approver: Some(crate::tools::approver(args.yes)),
        budget,
        ..FlowRunOptions::default()
    };
    let result = runtime
        .run_flow_file(&args.flow, input, options, cancel.clone())
        .await?;
    outcome(&result, json)
}

pub async fn runs(
    runtime: &Arc<Runtime>,
    command: RunsCommand,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    match command {
        RunsCommand::List { flow, limit } => {
            let runs = runtime.runs(flow.as_deref(), limit)?;
            print_runs(
                &runs,
                json,
                "no runs yet — start one with `codexos run FLOW.json`",
            )?;
            Ok(())
        }
        RunsCommand::Show { id } => show_run(runtime, &id, json),
        RunsCommand::Replay { id, diff, model } => {
            let id = runtime.resolve_run(&id)?;
            let sink = (!json).then(|| event_printer(false));
            let report = if diff {
                let options = FlowRunOptions {
                    on_event: sink,
                    ..FlowRunOptions::default()
                };
                runtime
                    .diff_run(&id, model.as_deref(), options, cancel.clone())
                    .await?
            } else {
                runtime.replay_run(&id, sink, cancel.clone()).await?
            };
            replay_report(&report, diff, json)
        }
        RunsCommand::Resume {
            id,
            approve,
            reject,
            answer,
            budget,
        } => {
            let answer = human_answer(approve, reject, answer);
            resume(runtime, &id, answer, budget.budget()?, json, cancel).await
        }
        RunsCommand::Diff { a, b, all } => {
            let comparison =
                runtime.compare_runs(&runtime.resolve_run(&a)?, &runtime.resolve_run(&b)?)?;
            if json {
                return print_json(&comparison);
            }
            crate::compare::print(&comparison, all);
            Ok(())
        }
        RunsCommand::Fork { id, from, edits } => {
            let id = runtime.resolve_run(&id)?;
            let mut state = BTreeMap::new();
            for edit in edits {
                let (key, value) = edit
                    .split_once('=')
                    .with_context(|| format!("`--set {edit}`: write KEY=VALUE"))?;
                let value =
                    serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
                state.insert(key.to_owned(), value);
            }
            let options = FlowRunOptions {
                on_event: Some(event_printer(json)),
                ..FlowRunOptions::default()
            };
            let result = runtime
                .fork_run(&id, &from, state, options, cancel.clone())
                .await?;
            outcome(&result, json)
        }
    }
}

/// A list of runs, one line each (`empty` when there are none), or JSON.
pub fn print_runs(
    runs: &[codexos_runtime::RunSummary],
    json: bool,
    empty: &str,
) -> anyhow::Result<()> {
    if json {
        return print_json(&runs);
    }
    if runs.is_empty() {
        println!("{empty}");
    }
    for run in runs {
        println!(
            "{}  {:<10} {:<24} {}",
            run.id,
            run.status,
            run.flow,
            crate::render::age(run.created_at)
        );
    }
    Ok(())
}

/// `codexos runs show`.
fn show_run(runtime: &Arc<Runtime>, id: &str, json: bool) -> anyhow::Result<()> {
    let detail = runtime.run_detail(&runtime.resolve_run(id)?)?;
    if json {
        return print_json(&detail);
    }
    println!(
        "run {} · flow {} · {}",
        detail.summary.id, detail.summary.flow, detail.summary.status
    );
    if let Some((run, node)) = &detail.forked_from {
        println!("forked from {run} at {node}");
    }
    println!("input: {}", detail.input);
    println!("nodes finished ({} recorded calls):", detail.calls);
    for (step, node) in &detail.finished {
        let usage = detail
            .nodes
            .iter()
            .find(|trace| &trace.node == node)
            .map(|trace| usage_text(&trace.usage))
            .filter(|text| !text.is_empty())
            .map(|text| format!("  {text}"))
            .unwrap_or_default();
        println!("  step {step:>3}  {node}{usage}");
    }
    if detail.usage.model_calls > 0 {
        println!("usage: {}", usage_text(&detail.usage));
    }
    println!("{}", serde_json::to_string_pretty(&detail.detail)?);
    Ok(())
}

/// The answer `runs resume` gives a waiting human node.
fn human_answer(approve: bool, reject: Option<String>, answer: Option<String>) -> Option<Value> {
    if approve {
        Some(serde_json::json!({ "approved": true }))
    } else if let Some(reason) = reject {
        Some(serde_json::json!({ "approved": false, "comment": reason }))
    } else {
        answer.map(|text| serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

async fn resume(
    runtime: &Arc<Runtime>,
    id: &str,
    answer: Option<Value>,
    budget: Option<Budget>,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let id = runtime.resolve_run(id)?;
    let options = FlowRunOptions {
        on_event: Some(event_printer(json)),
        budget,
        ..FlowRunOptions::default()
    };
    let result = runtime
        .resume_run(&id, answer, options, cancel.clone())
        .await?;
    outcome(&result, json)
}

fn replay_report(report: &ReplayReport, diff: bool, json: bool) -> anyhow::Result<()> {
    if json {
        print_json(report)?;
    } else {
        for node in &report.nodes {
            if node.same {
                println!("  = {}", node.node);
            } else {
                println!(
                    "  ≠ {}\n      recorded: {}\n      now:      {}",
                    node.node, node.recorded, node.now
                );
            }
        }
        let same = report.nodes.iter().filter(|node| node.same).count();
        println!(
            "{}: {same} of {} nodes identical, output {}",
            if diff { "live re-run" } else { "replay" },
            report.nodes.len(),
            if report.outcome.output == report.recorded_output {
                "identical"
            } else {
                "different"
            }
        );
    }
    if let Some(error) = &report.outcome.error {
        anyhow::bail!(
            "the {} stopped: {error}",
            if diff { "re-run" } else { "replay" }
        );
    }
    if !diff && !report.identical {
        anyhow::bail!("the replay did not reproduce run {}", report.run_id);
    }
    Ok(())
}

fn print_problems(problems: &[FlowProblem]) {
    for problem in problems {
        eprintln!(
            "{}: {}{} — {}",
            match problem.severity {
                codexos_runtime::FlowSeverity::Error => "error",
                codexos_runtime::FlowSeverity::Warning => "warning",
            },
            problem
                .node
                .as_deref()
                .map(|node| format!("[{node}] "))
                .unwrap_or_default(),
            problem.message,
            problem.fix
        );
    }
}

pub fn flow(runtime: &Arc<Runtime>, command: FlowCommand, json: bool) -> anyhow::Result<()> {
    match command {
        FlowCommand::Check { file } => {
            let flow = codexos_runtime::read_flow(&file)?;
            let problems = runtime.check_flow(&flow, file.parent());
            let errors = problems
                .iter()
                .filter(|problem| problem.severity == codexos_runtime::FlowSeverity::Error)
                .count();
            if json {
                print_json(
                    &serde_json::json!({ "flow": flow.name, "errors": errors, "problems": problems }),
                )?;
            } else {
                print_problems(&problems);
                if errors == 0 {
                    println!(
                        "{}: ok ({} nodes, {} warnings)",
                        file.display(),
                        flow.nodes.len(),
                        problems.len()
                    );
                }
            }
            anyhow::ensure!(
                errors == 0,
                "{}: {errors} error(s); the flow would not start",
                file.display()
            );
            Ok(())
        }
        FlowCommand::Schema { agent } => print_json(&if agent {
            codexos_runtime::agent_schema()
        } else {
            codexos_runtime::flow_schema()
        }),
    }
}

pub fn flows(runtime: &Arc<Runtime>, command: FlowsCommand, json: bool) -> anyhow::Result<()> {
    match command {
        FlowsCommand::List => {
            let flows = runtime.flows()?;
            if json {
                return print_json(&flows);
            }
            if flows.is_empty() {
                println!("no flows yet — `codexos run FILE` records a flow's versions");
            }
            for flow in flows {
                println!(
                    "{:<24} v{:<4} {}",
                    flow.flow,
                    flow.version,
                    flow.path.unwrap_or_default()
                );
            }
            Ok(())
        }
        FlowsCommand::History { name } => {
            let history = runtime.flow_history(&name)?;
            if json {
                return print_json(&history);
            }
            for version in history {
                println!(
                    "v{:<4} {}  {:<20} {}",
                    version.version,
                    &version.hash[..12],
                    version.note,
                    crate::render::age(version.saved_at as f64)
                );
            }
            Ok(())
        }
        FlowsCommand::Diff { name, from, to } => {
            let diff = runtime.flow_diff(&name, from, to)?;
            if json {
                return print_json(&serde_json::json!({ "diff": diff }));
            }
            print!("{diff}");
            Ok(())
        }
        FlowsCommand::Rollback {
            name,
            version,
            path,
        } => {
            let (file, new_version) = runtime.flow_rollback(&name, version, path.as_deref())?;
            if json {
                return print_json(&serde_json::json!({ "path": file, "version": new_version }));
            }
            println!(
                "wrote v{version} of {name} to {} (recorded as v{new_version})",
                file.display()
            );
            Ok(())
        }
    }
}

pub fn agents(runtime: &Arc<Runtime>, command: AgentsCommand, json: bool) -> anyhow::Result<()> {
    match command {
        AgentsCommand::List => {
            let agents = runtime.agents()?;
            if json {
                return print_json(&agents);
            }
            if agents.is_empty() {
                println!("no agents published — `codexos agents new NAME`, edit, then `codexos agents publish NAME.agent.json`");
            }
            for agent in agents {
                println!(
                    "{}@{:<10} tools: {:<24} {}",
                    agent.name,
                    agent.version,
                    agent.spec.tools.join(","),
                    agent.spec.description
                );
            }
            Ok(())
        }
        AgentsCommand::Show { agent } => print_json(&runtime.agent(&agent)?),
        AgentsCommand::New { name, out } => {
            let path = out.unwrap_or_else(|| PathBuf::from(format!("{name}.agent.json")));
            anyhow::ensure!(
                !path.exists(),
                "{} exists; pass --out FILE to write elsewhere",
                path.display()
            );
            std::fs::write(&path, codexos_runtime::agent_template(&name))
                .with_context(|| format!("cannot write {}", path.display()))?;
            if json {
                return print_json(&serde_json::json!({ "path": path }));
            }
            println!(
                "wrote {} — edit it, then `codexos agents publish {}`",
                path.display(),
                Path::new(&path).display()
            );
            Ok(())
        }
        AgentsCommand::Publish { file } => {
            let published = runtime.publish_agent(&file)?;
            if json {
                return print_json(&published);
            }
            println!(
                "published {}@{} — pin it in flows as \"agent\": \"{0}@{1}\"",
                published.name, published.version
            );
            Ok(())
        }
        AgentsCommand::Pins => {
            let pins = runtime.agent_pins()?;
            if json {
                return print_json(&pins);
            }
            if pins.is_empty() {
                println!("no flow in the flows folder uses an agent");
            }
            for pin in pins {
                println!(
                    "{:<24} node {:<16} {}@{}",
                    pin.flow,
                    pin.node,
                    pin.agent,
                    pin.version.as_deref().unwrap_or("(no version)")
                );
            }
            Ok(())
        }
        AgentsCommand::Repin {
            flow,
            agent,
            version,
        } => {
            let entry = runtime.repin_agent(&flow, &agent, &version)?;
            if json {
                return print_json(&entry);
            }
            println!("flow {flow} now uses {agent}@{version} ({})", entry.path);
            Ok(())
        }
    }
}

/// Tokens, cost and model time in one line (empty without model calls).
pub fn usage_text(usage: &codexos_runtime::Usage) -> String {
    fn count(number: u32, word: &str) -> String {
        let plural = if number == 1 { "" } else { "s" };
        format!("{number} {word}{plural}")
    }
    if usage.model_calls == 0 {
        return String::new();
    }
    let mut parts = vec![
        count(usage.model_calls, "model call"),
        format!(
            "{} in → {} out tokens",
            usage.prompt_tokens, usage.completion_tokens
        ),
    ];
    if usage.cached_tokens > 0 {
        parts.push(format!("{} cached", usage.cached_tokens));
    }
    let fix = "add [[prices]] to config.toml";
    match (usage.cost_usd, usage.unpriced_calls) {
        (Some(cost), 0) => parts.push(dollars(cost)),
        (Some(cost), unpriced) => parts.push(format!(
            "{} + {} ({fix})",
            dollars(cost),
            count(unpriced, "unpriced call")
        )),
        (None, 0) => {}
        (None, unpriced) => parts.push(format!(
            "cost unknown: {} to unpriced models ({fix})",
            count(unpriced, "call")
        )),
    }
    if usage.compute_ms > 0 {
        #[expect(
            clippy::cast_precision_loss,
            reason = "milliseconds shown to a tenth of a second"
        )]
        let seconds = usage.compute_ms as f64 / 1000.0;
        parts.push(format!("{seconds:.1} s local model time"));
    }
    if usage.fallbacks > 0 {
        parts.push(count(usage.fallbacks, "fallback"));
    }
    parts.join(" · ")
}

/// Dollars with cents, or two significant digits below a cent.
pub fn dollars(cost: f64) -> String {
    if cost <= 0.0 {
        return "$0".to_owned();
    }
    if cost >= 0.01 {
        return format!("${cost:.2}");
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a small positive number of decimals"
    )]
    let decimals = ((-cost.log10()).ceil() as usize + 1).min(12);
    format!("${cost:.decimals$}")
}
