//! `codexos eval`, `evals …` and `datasets …`: a flow over a dataset,
//! scored, compared with a baseline, gated by thresholds; the stored evals;
//! the data home's datasets.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use codexos_runtime::{EvalOptions, EvalReport, Runtime};
use tokio_util::sync::CancellationToken;

use crate::render;

/// `codexos eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The flow file.
    flow: PathBuf,
    /// A dataset: a .jsonl or .csv file, or the name of one in the data
    /// home (`codexos datasets list`).
    #[arg(long)]
    dataset: String,
    /// Runs per case: variance across them is reported, mixed cases are
    /// flagged flaky.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// Compare with this eval (an id from `codexos evals list`) or report
    /// file (`--out` of an earlier eval): improved / regressed / unchanged
    /// per case.
    #[arg(long)]
    baseline: Option<String>,
    /// Answer every model and tool call from the baseline's recording: no
    /// model, no network, no key. A call the baseline never made fails its
    /// case.
    #[arg(long, requires = "baseline")]
    replay: bool,
    /// A scorer for cases that name none: a type (`exact`, `contains`,
    /// `regex`, `json_schema`, `numeric`, `cited_file`, `tool_called`) or a
    /// JSON object (`{"type":"judge","rubric":"…"}`). Repeatable. Default:
    /// `exact` for cases with `expected`.
    #[arg(long = "scorer", value_name = "SPEC")]
    scorers: Vec<String>,
    /// A limit for the exit code, `METRIC=VALUE`: `pass-rate=0.9`,
    /// `score=0.8`, `regressions=0`, `cost=0.50`, `cost=+10%`,
    /// `tokens=+10%`, `latency=+20%`. Repeatable. Default: `regressions=0`
    /// with a baseline, else `pass-rate=1`.
    #[arg(long = "threshold", value_name = "METRIC=VALUE")]
    thresholds: Vec<String>,
    /// Write the report here (JSON, with the recorded calls): the baseline
    /// of a later eval.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write a test report here, in the junit.xml format CI systems read.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write a Markdown summary here (for a pull-request comment).
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Project the runs work on.
    #[arg(long)]
    project: Option<String>,
    /// Approve every `ask` tool call (never overrides `deny`).
    #[arg(long)]
    yes: bool,
}

/// `codexos evals …`.
#[derive(Debug, Subcommand)]
pub enum EvalsCommand {
    /// The newest evals.
    List {
        /// Only evals of this flow.
        #[arg(long)]
        flow: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One eval: its summary, thresholds and cases.
    Show {
        /// Eval id (a unique prefix is enough).
        id: String,
    },
    /// Writes an eval as a report file with its runs' recorded calls (a
    /// baseline for `eval --replay`).
    Export {
        /// Eval id.
        id: String,
        /// The file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Deletes an eval (its runs stay).
    Rm {
        /// Eval id.
        id: String,
    },
}

/// `codexos datasets …`.
#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// The data home's datasets (`datasets/NAME.jsonl` or `.csv`).
    List,
    /// A dataset's cases.
    Show {
        /// Name, or a file.
        name: String,
    },
    /// Adds a stored run as a case: its input, and its output as
    /// `expected` (or --expected). Creates the dataset when missing.
    AddRun {
        /// Run id (a unique prefix is enough).
        run: String,
        /// Dataset name.
        #[arg(long)]
        to: String,
        /// The expected value (JSON; a value that is not JSON is a string).
        #[arg(long)]
        expected: Option<String>,
    },
    /// Copies a JSONL or CSV file into the data home as a dataset (it is
    /// read first: a bad line is refused with its number).
    Import {
        /// The file.
        file: PathBuf,
        /// Its name in the home (default: the file's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Deletes a dataset of the data home.
    Rm {
        /// Name.
        name: String,
    },
}

/// How `codexos eval` ends when it does not pass: 1 when a threshold does
/// not hold (the report says which), 2 when it could not evaluate.
#[derive(Debug)]
pub struct EvalExit {
    /// The exit code.
    pub code: u8,
    /// What kind of error (`--json`).
    pub kind: codexos_runtime::ErrorCode,
    /// What to say.
    pub message: String,
}

impl std::fmt::Display for EvalExit {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for EvalExit {}

/// Any error before or while evaluating: exit 2 (an interruption keeps 130,
/// a failed threshold its 1).
pub fn broken(error: impl Into<anyhow::Error>) -> anyhow::Error {
    let error = error.into();
    if error.downcast_ref::<EvalExit>().is_some() {
        return error;
    }
    let kind = error.downcast_ref::<codexos_runtime::Error>().map_or(
        codexos_runtime::ErrorCode::InvalidInput,
        codexos_runtime::Error::code,
    );
    if kind == codexos_runtime::ErrorCode::Cancelled {
        return error;
    }
    EvalExit {
        code: 2,
        kind,
        message: format!("{error:#}"),
    }
    .into()
}

fn write(path: &PathBuf, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

pub async fn eval(
    runtime: &Arc<Runtime>,
    args: EvalArgs,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let (scorers, limits) =
        codexos_runtime::eval_specs(&args.scorers, &args.thresholds).map_err(broken)?;
    let bar = Arc::new(render::CountBar::new(json, "evaluating", "runs"));
    let progress_bar = Arc::clone(&bar);
    let options = EvalOptions {
        dataset: args.dataset,
        repeat: args.repeat,
        baseline: args.baseline,
        replay: args.replay,
        scorers,
        limits,
        project: args.project,
        root: None,
        approver: Some(crate::tools::approver(args.yes)),
        on_progress: Some(Arc::new(move |progress: &codexos_runtime::EvalProgress| {
            progress_bar.update(u64::from(progress.done), u64::from(progress.total));
        })),
    };
    let report = runtime.eval_flow(&args.flow, options, cancel.clone()).await;
    bar.finish();
    let report = report.map_err(broken)?;
    if let Some(path) = &args.out {
        write(path, &serde_json::to_string_pretty(&report)?).map_err(broken)?;
    }
    if let Some(path) = &args.junit {
        write(path, &codexos_runtime::eval_junit(&report)).map_err(broken)?;
    }
    if let Some(path) = &args.markdown {
        write(path, &codexos_runtime::eval_markdown(&report)).map_err(broken)?;
    }
    if json {
        render::print_json(&report.without_calls())?;
    } else {
        print!("{}", text(&report));
    }
    if report.ok {
        Ok(())
    } else {
        let failed: Vec<String> = report
            .thresholds
            .iter()
            .filter(|limit| !limit.held)
            .map(|limit| format!("{} {} (is {})", limit.metric, limit.limit, limit.actual))
            .collect();
        Err(EvalExit {
            code: 1,
            kind: codexos_runtime::ErrorCode::InvalidInput,
            message: format!("thresholds not met: {}", failed.join(", ")),
        }
        .into())
    }
}

/// A report for the terminal.
fn text(report: &EvalReport) -> String {
    let summary = &report.summary;
    let mut out = String::new();
    for case in &report.cases {
        let mark = if case.passed {
            "pass"
        } else if case.flaky {
            "FLAKY"
        } else {
            "FAIL"
        };
        let runs: Vec<&str> = case
            .attempts
            .iter()
            .map(|a| &a.run_id[..a.run_id.len().min(8)])
            .collect();
        let _ = write!(out, "{mark:5} {:<24} score {:.2}", case.id, case.score);
        if report.repeat > 1 {
            let _ = write!(out, " ± {:.2}", case.stddev);
        }
        let _ = write!(out, "  run {}", runs.join(" "));
        if let Some(change) = report
            .comparison
            .as_ref()
            .and_then(|comparison| comparison.cases.iter().find(|c| c.id == case.id))
        {
            let _ = write!(out, "  {:?}", change.change);
        }
        out.push('\n');
        if !case.passed {
            for attempt in case.attempts.iter().filter(|attempt| !attempt.passed) {
                if let Some(error) = &attempt.error {
                    let _ = writeln!(out, "      {}", codexos_runtime::clip(error, 200));
                }
                for score in attempt.scores.iter().filter(|score| !score.passed) {
                    let _ = writeln!(out, "      {}: {}", score.scorer, score.reason);
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{} of {} cases passed ({:.0}%), mean score {:.3}, {} flaky; {} tokens{}; latency p50 {} ms, p95 {} ms",
        summary.passed,
        summary.cases,
        summary.pass_rate * 100.0,
        summary.mean_score,
        summary.flaky,
        summary.tokens,
        summary.cost_usd.map(|cost| format!(", ${cost:.4}")).unwrap_or_default(),
        summary.latency_p50_ms,
        summary.latency_p95_ms
    );
    if let Some(comparison) = &report.comparison {
        let _ = writeln!(
            out,
            "against {}: {} improved, {} regressed (pass rate {:.0}% before)",
            &comparison.baseline[..comparison.baseline.len().min(8)],
            comparison.improved,
            comparison.regressed,
            comparison.before.pass_rate * 100.0
        );
    }
    for limit in &report.thresholds {
        let _ = writeln!(
            out,
            "{} {} {} (is {})",
            if limit.held { "✓" } else { "✗" },
            limit.metric,
            limit.limit,
            limit.actual
        );
    }
    let _ = writeln!(
        out,
        "eval {} ({} mode)",
        report.id,
        if report.mode == codexos_runtime::EvalMode::Replay {
            "replay"
        } else {
            "live"
        }
    );
    out
}

pub fn evals(runtime: &Runtime, command: EvalsCommand, json: bool) -> anyhow::Result<()> {
    match command {
        EvalsCommand::List { flow, limit } => {
            let evals = runtime.evals(flow.as_deref(), limit)?;
            if json {
                return render::print_json(&evals);
            }
            if evals.is_empty() {
                eprintln!("no evals yet — run one with `codexos eval FLOW --dataset FILE`");
            }
            for eval in evals {
                println!(
                    "{}  {:<10} {:<20} {}/{} passed  {:<6} {}  {}",
                    &eval.id[..8],
                    render::age(eval.started_at),
                    eval.flow,
                    eval.passed,
                    eval.cases,
                    eval.mode,
                    if eval.ok { "ok" } else { "FAILED" },
                    eval.dataset
                );
            }
            Ok(())
        }
        EvalsCommand::Show { id } => {
            let report = runtime.eval_report(&id)?;
            if json {
                render::print_json(&report)
            } else {
                print!("{}", text(&report));
                Ok(())
            }
        }
        EvalsCommand::Export { id, out } => {
            let id = runtime.export_eval_file(&id, &out)?;
            if json {
                render::print_json(&serde_json::json!({ "id": id, "path": out }))
            } else {
                eprintln!("wrote eval {id} to {}", out.display());
                Ok(())
            }
        }
        EvalsCommand::Rm { id } => {
            runtime.delete_eval(&id)?;
            if json {
                render::print_json(&serde_json::json!({ "deleted": id }))
            } else {
                eprintln!("deleted eval {id} (its runs stay)");
                Ok(())
            }
        }
    }
}

pub fn datasets(runtime: &Runtime, command: DatasetsCommand, json: bool) -> anyhow::Result<()> {
    match command {
        DatasetsCommand::List => {
            let sets = runtime.datasets()?;
            if json {
                return render::print_json(&sets);
            }
            if sets.is_empty() {
                eprintln!(
                    "no datasets in {} — add a run with `codexos datasets add-run RUN --to NAME`",
                    runtime.datasets_dir().display()
                );
            }
            for set in sets {
                match (set.cases, set.problem) {
                    (Some(cases), _) => println!("{:<24} {cases:>5} cases  {}", set.name, set.path),
                    (None, problem) => println!(
                        "{:<24}  unreadable: {}",
                        set.name,
                        problem.unwrap_or_default()
                    ),
                }
            }
            Ok(())
        }
        DatasetsCommand::Show { name } => {
            let set = runtime.dataset(&name)?;
            if json {
                return render::print_json(&set);
            }
            eprintln!("{} — {} cases", set.path, set.cases.len());
            for case in &set.cases {
                println!(
                    "{:<20} input {}  expected {}",
                    case.id,
                    codexos_runtime::clip(&case.input.to_string(), 60),
                    case.expected.as_ref().map_or_else(
                        || "—".to_owned(),
                        |value| codexos_runtime::clip(&value.to_string(), 60)
                    )
                );
            }
            Ok(())
        }
        DatasetsCommand::AddRun { run, to, expected } => {
            let case = runtime.add_run_to_dataset(&run, &to, expected.as_deref())?;
            if json {
                render::print_json(&case)
            } else {
                eprintln!("added case {} to dataset {to}", case.id);
                Ok(())
            }
        }
        DatasetsCommand::Import { file, name } => {
            let set = runtime.import_dataset(&file, name.as_deref())?;
            if json {
                render::print_json(&set)
            } else {
                eprintln!(
                    "imported {} as dataset {} ({} cases)",
                    file.display(),
                    set.name,
                    set.cases.unwrap_or(0)
                );
                Ok(())
            }
        }
        DatasetsCommand::Rm { name } => {
            runtime.delete_dataset(&name)?;
            if json {
                render::print_json(&serde_json::json!({ "deleted": name }))
            } else {
                eprintln!("deleted dataset {name}");
                Ok(())
            }
        }
    }
}
