//! Evals: a flow run over a dataset's cases (live, or replayed from a
//! baseline's recorded calls), scored, compared with a baseline and checked
//! against thresholds; datasets kept in the data home (`datasets/`), a run
//! added to one in a click. Every case's run is a stored run with its
//! trace; the report is stored too, and written as the file a later eval
//! takes as its baseline.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use codexos_eval::{
    dataset, scorer, CaseResult, EvalAttempt, EvalCase, EvalMode, EvalReport, EvalScore, EvalStats,
    Limit, Scorer,
};
use codexos_flow::ports::{CallRecord, StoredRun};
use codexos_flow::record::Recording;
use codexos_flow::{EventKind, Flow, NodeKind, RunStatus};
use codexos_store::evals::{EvalSummary, NewEval};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::{Error, FlowRunOptions, Result, Runtime};

/// How an eval runs.
#[derive(Clone, Default)]
pub struct EvalOptions {
    /// A dataset file, or the name of one in the data home.
    pub dataset: String,
    /// Runs per case (at least 1).
    pub repeat: u32,
    /// An eval id (a unique prefix) or a report file to compare with.
    pub baseline: Option<String>,
    /// Answer every call from the baseline's recording (no model, no key).
    pub replay: bool,
    /// Scorers for cases that name none (`exact` when empty and the case
    /// has `expected`).
    pub scorers: Vec<Scorer>,
    /// Limits for the verdict (the default when empty: no regression
    /// against a baseline, else every case passes).
    pub limits: Vec<Limit>,
    /// Project the runs work on.
    pub project: Option<String>,
    /// Folder the tools work in (default: the project's, else the current
    /// folder).
    pub root: Option<PathBuf>,
    /// Who approves `ask` tool calls.
    pub approver: Option<Arc<dyn codexos_tools::Approver>>,
    /// Told after every attempt.
    pub on_progress: Option<ProgressSink>,
}

/// Where an eval's progress goes.
pub type ProgressSink = Arc<dyn Fn(&EvalProgress) + Send + Sync>;

/// Where an attempt's calls are answered from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// Made live.
    Live,
    /// The baseline's attempt of the case.
    Replay(&'a EvalAttempt),
    /// A replay of a case the baseline does not have.
    NotRecorded,
}

/// One attempt done.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct EvalProgress {
    /// The eval.
    pub eval_id: String,
    /// The case.
    pub case: String,
    /// Attempts done.
    pub done: u32,
    /// Attempts in all.
    pub total: u32,
    /// Whether this attempt passed.
    pub passed: bool,
    /// Its run.
    pub run_id: String,
}

/// A dataset in the data home.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DatasetInfo {
    /// Its name (the file name without `.jsonl`/`.csv`).
    pub name: String,
    /// The file.
    pub path: String,
    /// Cases, when it reads.
    pub cases: Option<u32>,
    /// Why it does not read.
    pub problem: Option<String>,
}

/// A dataset's cases.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DatasetView {
    /// Name (or the path given).
    pub name: String,
    /// The file.
    pub path: String,
    /// The cases.
    pub cases: Vec<EvalCase>,
}

/// Whether `name` may name a dataset of the home: letters, digits, `-`,
/// `_` and `.`, not starting with `.`, at most 80 characters.
#[must_use]
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

/// Tokens and dollars of a stored run's model calls (a replay's are the
/// recorded calls').
fn usage_of(stored: &StoredRun) -> (u64, Option<f64>) {
    let mut tokens = 0;
    let mut cost: Option<f64> = None;
    for event in &stored.events {
        if let EventKind::ModelCall { usage, .. } = &event.event {
            tokens += usage.prompt_tokens + usage.completion_tokens;
            if let Some(dollars) = usage.cost_usd {
                *cost.get_or_insert(0.0) += dollars;
            }
        }
    }
    (tokens, cost)
}

/// A case's input as the flow's: an object as it is; a plain value for a
/// flow whose input node asks for one field.
fn flow_input(flow: &Flow, case: &EvalCase) -> std::result::Result<Value, String> {
    if case.input.is_object() {
        return Ok(case.input.clone());
    }
    let fields: Vec<&String> = flow
        .nodes
        .iter()
        .filter_map(|node| match &node.kind {
            NodeKind::Input { fields } => Some(fields),
            _ => None,
        })
        .flatten()
        .collect();
    match fields.as_slice() {
        [field] => {
            let mut input = Map::new();
            input.insert((*field).clone(), case.input.clone());
            Ok(Value::Object(input))
        }
        _ => Err(format!(
            "the input is not an object, and flow `{}` asks for {} input fields — write the input as {{\"field\": value}}",
            flow.name,
            fields.len()
        )),
    }
}

/// An empty report for a new eval.
fn new_report(
    flow: &Flow,
    flow_hash: String,
    options: &EvalOptions,
    dataset_hash: &str,
    repeat: u32,
) -> EvalReport {
    EvalReport {
        format: codexos_eval::report::FORMAT.into(),
        id: uuid::Uuid::new_v4().to_string(),
        flow: flow.name.clone(),
        flow_hash,
        dataset: options.dataset.clone(),
        dataset_hash: dataset_hash.to_owned(),
        mode: if options.replay {
            EvalMode::Replay
        } else {
            EvalMode::Live
        },
        repeat,
        started_at: crate::conversations::now(),
        finished_at: 0.0,
        cases: Vec::new(),
        summary: EvalStats::default(),
        comparison: None,
        thresholds: Vec::new(),
        ok: false,
        partial: false,
    }
}

impl Runtime {
    /// The data home's dataset folder.
    #[must_use]
    pub fn datasets_dir(&self) -> PathBuf {
        self.home.root().join("datasets")
    }

    /// The datasets of the data home, by name.
    pub fn datasets(&self) -> Result<Vec<DatasetInfo>> {
        let folder = self.datasets_dir();
        let mut found = Vec::new();
        let Ok(entries) = std::fs::read_dir(&folder) else {
            return Ok(found);
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some((name, extension)) = path
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| name.rsplit_once('.'))
            else {
                continue;
            };
            if !matches!(extension, "jsonl" | "csv") {
                continue;
            }
            let (cases, problem) = match dataset::load(&path) {
                Ok(set) => (Some(set.cases.len() as u32), None),
                Err(error) => (None, Some(error.to_string())),
            };
            found.push(DatasetInfo {
                name: name.to_owned(),
                path: path.to_string_lossy().into_owned(),
                cases,
                problem,
            });
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// The home's dataset `name` (`NAME.jsonl` or `NAME.csv` in its
    /// datasets folder), if there is one.
    #[must_use]
    pub fn home_dataset_path(&self, name: &str) -> Option<PathBuf> {
        if !valid_name(name) {
            return None;
        }
        ["jsonl", "csv"]
            .iter()
            .map(|extension| self.datasets_dir().join(format!("{name}.{extension}")))
            .find(|path| path.is_file())
    }

    /// From now on datasets and baselines are the home's, by name only —
    /// never a file of the process's folder (a team server's workspace,
    /// whose names come from clients).
    pub fn by_name_only(&self) {
        self.by_name_only
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn names_only(&self) -> bool {
        self.by_name_only.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A dataset's file: a dataset of the home, else a path that exists
    /// (unless [`Self::by_name_only`]).
    pub fn dataset_path(&self, name: &str) -> Result<PathBuf> {
        if let Some(path) = self.home_dataset_path(name) {
            return Ok(path);
        }
        let given = Path::new(name);
        if !self.names_only() && given.is_file() {
            return Ok(given.to_path_buf());
        }
        Err(Error::UnknownDataset {
            name: name.to_owned(),
            known: self.datasets()?.into_iter().map(|set| set.name).collect(),
        })
    }

    /// A dataset's cases.
    pub fn dataset(&self, name: &str) -> Result<DatasetView> {
        let path = self.dataset_path(name)?;
        let set = dataset::load(&path)?;
        Ok(DatasetView {
            name: name.to_owned(),
            path: path.to_string_lossy().into_owned(),
            cases: set.cases,
        })
    }

    /// Adds a stored run to a dataset of the home (created when missing):
    /// its input, and as `expected` the given value or the run's output.
    /// `expected` is JSON text, or plain text taken as a string; blank is none.
    pub fn add_run_to_dataset(
        &self,
        run: &str,
        dataset_name: &str,
        expected: Option<&str>,
    ) -> Result<EvalCase> {
        let expected = expected.filter(|text| !text.trim().is_empty()).map(|text| {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
        });
        if !valid_name(dataset_name) {
            return Err(Error::EvalSetup {
                message: format!(
                    "dataset name `{dataset_name}` must be letters, digits, `-`, `_` and `.` (it names datasets/NAME.jsonl)"
                ),
            });
        }
        let run = self.resolve_run(run)?;
        let stored = self.stored_run(&run)?;
        let output = match stored.status {
            RunStatus::Succeeded => self
                .run_detail(&run)?
                .detail
                .get("output")
                .cloned()
                .unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let expected = match expected {
            Some(value) => Some(value),
            None if output.is_null() => {
                return Err(Error::EvalSetup {
                    message: format!(
                        "run {run} has no output to expect (it did not succeed) — give the expected value"
                    ),
                })
            }
            None => Some(scorer::pick(&output, None)),
        };
        let mut metadata = Map::new();
        metadata.insert("run".into(), Value::String(run.clone()));
        metadata.insert("flow".into(), Value::String(stored.header.flow.clone()));
        let case = EvalCase {
            id: format!("run-{}", &run[..run.len().min(8)]),
            input: stored.header.input.clone(),
            expected,
            metadata,
            scorers: None,
        };
        let path = self.datasets_dir().join(format!("{dataset_name}.jsonl"));
        let csv = self.datasets_dir().join(format!("{dataset_name}.csv"));
        if csv.is_file() {
            return Err(Error::EvalSetup {
                message: format!(
                    "dataset `{dataset_name}` is a CSV file; runs are added to JSONL datasets — pick another name"
                ),
            });
        }
        dataset::append(&path, &case)?;
        self.audited(
            "dataset.add-run",
            dataset_name,
            serde_json::json!({ "run": run }),
        );
        Ok(case)
    }

    /// Copies a dataset file into the home (after reading it whole: a file
    /// that does not read is refused with its line), under `name` or the
    /// file's own name; an existing dataset is never replaced.
    pub fn import_dataset(&self, file: &Path, name: Option<&str>) -> Result<DatasetInfo> {
        let set = dataset::load(file)?;
        let extension = if file
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("csv"))
        {
            "csv"
        } else {
            "jsonl"
        };
        let stem = file
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default();
        let name = name.unwrap_or(stem).trim();
        if !valid_name(name) {
            return Err(Error::EvalSetup {
                message: format!(
                    "dataset name `{name}` must be letters, digits, `-`, `_` and `.` — give another name"
                ),
            });
        }
        let taken = ["jsonl", "csv"]
            .iter()
            .any(|known| self.datasets_dir().join(format!("{name}.{known}")).exists());
        if taken {
            return Err(Error::EvalSetup {
                message: format!("the data home already has a dataset `{name}` — give another name or delete it first"),
            });
        }
        let target = self.datasets_dir().join(format!("{name}.{extension}"));
        let io = |error: std::io::Error| Error::EvalSetup {
            message: format!(
                "cannot copy {} to {}: {error}",
                file.display(),
                target.display()
            ),
        };
        std::fs::create_dir_all(self.datasets_dir()).map_err(io)?;
        // Written under a temporary name and renamed: never half a dataset.
        let partial = target.with_extension(format!("{extension}.partial"));
        std::fs::copy(file, &partial).map_err(io)?;
        // A link, not a rename: it fails rather than replace a dataset that
        // appeared meanwhile.
        let linked = std::fs::hard_link(&partial, &target);
        std::fs::remove_file(&partial).ok();
        linked.map_err(io)?;
        self.audited(
            "dataset.import",
            name,
            serde_json::json!({ "from": file.to_string_lossy(), "cases": set.cases.len() }),
        );
        Ok(DatasetInfo {
            name: name.to_owned(),
            path: target.to_string_lossy().into_owned(),
            cases: Some(set.cases.len() as u32),
            problem: None,
        })
    }

    /// Deletes a dataset of the home.
    pub fn delete_dataset(&self, name: &str) -> Result<()> {
        let path = self.dataset_path(name)?;
        if !path.starts_with(self.datasets_dir()) {
            return Err(Error::EvalSetup {
                message: format!("{} is not one of the data home's datasets", path.display()),
            });
        }
        std::fs::remove_file(&path).map_err(|error| Error::EvalSetup {
            message: format!("cannot delete {}: {error}", path.display()),
        })?;
        self.audited("dataset.delete", name, serde_json::json!({}));
        Ok(())
    }

    /// The newest evals, of one flow when given.
    pub fn evals(&self, flow: Option<&str>, limit: u32) -> Result<Vec<EvalSummary>> {
        Ok(self.store.evals(flow, limit)?)
    }

    fn resolve_eval(&self, prefix: &str) -> Result<String> {
        let ids = self.store.eval_ids_with_prefix(prefix)?;
        match ids.as_slice() {
            [id] => Ok(id.clone()),
            [] => Err(Error::UnknownEval {
                message: format!("no eval `{prefix}` — `codexos evals list` shows them"),
            }),
            _ => Err(Error::UnknownEval {
                message: format!(
                    "`{prefix}` matches several evals ({}) — give more of the id",
                    ids.join(", ")
                ),
            }),
        }
    }

    /// A stored eval's report (without recorded calls).
    pub fn eval_report(&self, id: &str) -> Result<EvalReport> {
        let id = self.resolve_eval(id)?;
        let text = self
            .store
            .eval_report(&id)?
            .ok_or_else(|| Error::UnknownEval {
                message: format!("no eval `{id}`"),
            })?;
        Ok(EvalReport::from_json(&text)?)
    }

    /// A stored eval's report with its runs' recorded calls, as a baseline
    /// file holds it.
    pub fn eval_export(&self, id: &str) -> Result<EvalReport> {
        let mut report = self.eval_report(id)?;
        let eval = report.id.clone();
        let gone = |run: &str| {
            Error::EvalSetup {
            message: format!(
                "run {run} of eval {eval} is no longer stored: its recorded calls cannot be exported — run the eval again"
            ),
        }
        };
        for attempt in report.cases.iter_mut().flat_map(|case| &mut case.attempts) {
            if !attempt.run_id.is_empty() {
                attempt.calls = self
                    .stored_run(&attempt.run_id)
                    .map_err(|_| gone(&attempt.run_id))?
                    .calls;
            }
            for score in &mut attempt.scores {
                if let Some(run) = &score.run_id {
                    score.calls = self.stored_run(run).map_err(|_| gone(run))?.calls;
                }
            }
        }
        Ok(report)
    }

    /// Writes a stored eval as a baseline file (the report with its runs'
    /// recorded calls), under a temporary name then renamed; returns its id.
    pub fn export_eval_file(&self, id: &str, file: &Path) -> Result<String> {
        let report = self.eval_export(id)?;
        let io = |error: std::io::Error| Error::EvalSetup {
            message: format!("cannot write {}: {error}", file.display()),
        };
        let text = serde_json::to_string_pretty(&report).map_err(|error| Error::EvalSetup {
            message: format!("cannot encode the report: {error}"),
        })?;
        if let Some(parent) = file
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let partial = file.with_extension("json.partial");
        std::fs::write(&partial, text).map_err(io)?;
        std::fs::rename(&partial, file).map_err(io)?;
        Ok(report.id)
    }

    /// Deletes a stored eval (its runs stay).
    pub fn delete_eval(&self, id: &str) -> Result<()> {
        let id = self.resolve_eval(id)?;
        self.store.delete_eval(&id)?;
        self.audited("eval.delete", &id, serde_json::json!({}));
        Ok(())
    }

    /// A baseline: a report file, or a stored eval (with its runs' calls
    /// when they are to be replayed).
    fn baseline(&self, given: &str, replay: bool) -> Result<EvalReport> {
        let path = Path::new(given);
        if given.trim().is_empty() {
            return Err(Error::EvalSetup {
                message: "the baseline is empty: give a report file or an eval id".into(),
            });
        }
        // Served by name only: a stored eval, never a file.
        let files = !self.names_only();
        let looks_like_file = files
            && (given.contains(['/', '\\'])
                || path
                    .extension()
                    .is_some_and(|extension| extension.eq_ignore_ascii_case("json")));
        if looks_like_file && !path.exists() {
            return Err(Error::EvalSetup {
                message: format!(
                    "no baseline file {given} — write one with `codexos eval … --out FILE` or `codexos evals export ID --out FILE`"
                ),
            });
        }
        if files && path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|error| Error::EvalSetup {
                message: format!("cannot read the baseline {}: {error}", path.display()),
            })?;
            return EvalReport::from_json(&text).map_err(|error| Error::EvalSetup {
                message: format!("baseline {}: {error}", path.display()),
            });
        }
        if replay {
            self.eval_export(given)
        } else {
            self.eval_report(given)
        }
    }

    /// Runs `flow_path` over a dataset's cases and scores every run.
    pub async fn eval_flow(
        self: &Arc<Self>,
        flow_path: &Path,
        options: EvalOptions,
        cancel: CancellationToken,
    ) -> Result<EvalReport> {
        let flow = crate::flows::read_flow(flow_path)?;
        let flow_hash = std::fs::read(flow_path)
            .map(|bytes| hex::encode(Sha256::digest(&bytes)))
            .unwrap_or_default();
        let dataset_path = self.dataset_path(&options.dataset)?;
        let set = dataset::load(&dataset_path)?;
        let baseline = options
            .baseline
            .as_deref()
            .map(|given| self.baseline(given, options.replay))
            .transpose()?;
        if options.replay && baseline.is_none() {
            return Err(Error::EvalSetup {
                message: "--replay answers every call from a baseline's recording: give --baseline (a report file or an eval id)".into(),
            });
        }
        let repeat = options.repeat.max(1);
        let mut report = new_report(&flow, flow_hash, &options, &set.hash, repeat);
        let total = set.cases.len() as u32 * repeat;
        let mut done = 0;
        for case in &set.cases {
            if cancel.is_cancelled() {
                break;
            }
            let recorded = baseline
                .as_ref()
                .filter(|_| options.replay)
                .map(|baseline| baseline.cases.iter().find(|old| old.id == case.id));
            let mut result = CaseResult {
                id: case.id.clone(),
                input: case.input.clone(),
                expected: case.expected.clone(),
                metadata: case.metadata.clone(),
                attempts: Vec::new(),
                score: 0.0,
                stddev: 0.0,
                passed: false,
                flaky: false,
            };
            for index in 0..repeat {
                if cancel.is_cancelled() {
                    break;
                }
                let source = match recorded {
                    None => Source::Live,
                    Some(None) => Source::NotRecorded,
                    Some(Some(old)) => old
                        .attempts
                        .get((index as usize).min(old.attempts.len().saturating_sub(1)))
                        .map_or(Source::NotRecorded, Source::Replay),
                };
                let attempt = self
                    .eval_attempt(&flow, flow_path, case, source, &options, &cancel)
                    .await?;
                // The run the interruption cut short says nothing of the flow.
                if cancel.is_cancelled() {
                    break;
                }
                done += 1;
                if let Some(progress) = &options.on_progress {
                    progress(&EvalProgress {
                        eval_id: report.id.clone(),
                        case: case.id.clone(),
                        done,
                        total,
                        passed: attempt.passed,
                        run_id: attempt.run_id.clone(),
                    });
                }
                result.attempts.push(attempt);
            }
            if !result.attempts.is_empty() {
                result.settle();
                report.cases.push(result);
            }
        }
        report.partial = cancel.is_cancelled();
        report.summarize();
        if let Some(baseline) = &baseline {
            report.compare(baseline);
        }
        report.check(&options.limits);
        report.finished_at = crate::conversations::now();
        self.save_report(&report)?;
        if cancel.is_cancelled() {
            return Err(Error::EvalCancelled {
                id: report.id,
                done,
                total,
            });
        }
        Ok(report)
    }

    /// Stores a report (without its calls: the runs keep them).
    fn save_report(&self, report: &EvalReport) -> Result<()> {
        let lean =
            serde_json::to_string(&report.without_calls()).map_err(|error| Error::EvalSetup {
                message: format!("cannot encode the report: {error}"),
            })?;
        self.store.save_eval(&NewEval {
            summary: EvalSummary {
                id: report.id.clone(),
                flow: report.flow.clone(),
                dataset: report.dataset.clone(),
                mode: match report.mode {
                    EvalMode::Replay => "replay",
                    EvalMode::Live => "live",
                }
                .into(),
                started_at: report.started_at,
                cases: report.summary.cases,
                passed: report.summary.passed,
                ok: report.ok,
            },
            report: &lean,
        })?;
        Ok(())
    }

    /// One run of one case, scored, its calls made or answered from
    /// `source`.
    async fn eval_attempt(
        self: &Arc<Self>,
        flow: &Flow,
        flow_path: &Path,
        case: &EvalCase,
        source: Source<'_>,
        options: &EvalOptions,
        cancel: &CancellationToken,
    ) -> Result<EvalAttempt> {
        let mut attempt = EvalAttempt {
            run_id: String::new(),
            status: "failed".into(),
            output: Value::Null,
            error: None,
            latency_ms: 0,
            tokens: 0,
            cost_usd: None,
            scores: Vec::new(),
            score: 0.0,
            passed: false,
            calls: Vec::new(),
        };
        let (replay, old) = match source {
            Source::Live => (None, None),
            Source::NotRecorded => {
                attempt.error = Some(format!(
                    "case `{}` is not in the baseline: nothing recorded to replay — run it live",
                    case.id
                ));
                attempt.settle();
                return Ok(attempt);
            }
            Source::Replay(old) => (
                Some(Arc::new(Recording::by_request(old.calls.clone()))),
                Some(old),
            ),
        };
        let input = match flow_input(flow, case) {
            Ok(input) => input,
            Err(message) => {
                attempt.error = Some(message);
                attempt.settle();
                return Ok(attempt);
            }
        };
        let run_options = FlowRunOptions {
            project: options.project.clone(),
            root: options.root.clone(),
            approver: options.approver.clone(),
            replay,
            ..FlowRunOptions::default()
        };
        let started = Instant::now();
        let outcome = self
            .run_flow(
                flow.clone(),
                Some(flow_path),
                flow_path.parent().map(Path::to_path_buf),
                input,
                run_options,
                cancel.clone(),
            )
            .await;
        attempt.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let outcome = match outcome {
            Ok(outcome) => outcome,
            // A flow that does not pass its check fails every case alike.
            Err(error @ Error::Flow(codexos_flow::Error::Check { .. })) => return Err(error),
            Err(error) => {
                attempt.error = Some(error.to_string());
                attempt.settle();
                return Ok(attempt);
            }
        };
        attempt.run_id = outcome.run_id.clone();
        attempt.status = outcome.status.as_str().into();
        attempt.output = outcome.output.clone();
        attempt.error = match (outcome.status, &outcome.waiting) {
            (RunStatus::Paused, Some(node)) => Some(format!(
                "the run waits for a person at node `{node}`: an eval answers no human node"
            )),
            _ => outcome.error.clone(),
        };
        if let Ok(stored) = self.stored_run(&outcome.run_id) {
            (attempt.tokens, attempt.cost_usd) = usage_of(&stored);
            attempt.calls = stored.calls;
        }
        if outcome.status == RunStatus::Succeeded {
            self.score_attempt(case, &mut attempt, old, options, cancel)
                .await;
        }
        attempt.settle();
        Ok(attempt)
    }

    /// Every scorer of the case on a succeeded attempt; a judge's tokens and
    /// cost count in the attempt's.
    async fn score_attempt(
        self: &Arc<Self>,
        case: &EvalCase,
        attempt: &mut EvalAttempt,
        old: Option<&EvalAttempt>,
        options: &EvalOptions,
        cancel: &CancellationToken,
    ) {
        let chosen: Vec<Scorer> = match (&case.scorers, options.scorers.is_empty(), &case.expected)
        {
            (Some(own), _, _) => own.clone(),
            (None, false, _) => options.scorers.clone(),
            (None, true, Some(_)) => vec![Scorer::Exact {
                field: None,
                ignore_case: false,
            }],
            (None, true, None) => Vec::new(),
        };
        // Every judge call the baseline made, for any judge: a replay
        // answers each judge by its request, whatever the scorers' order.
        let judged: Vec<CallRecord> = old
            .map(|old| {
                old.scores
                    .iter()
                    .flat_map(|score| score.calls.clone())
                    .collect()
            })
            .unwrap_or_default();
        for chosen in &chosen {
            let score = self
                .score(chosen, case, attempt, &judged, options, cancel)
                .await;
            if let Some(run) = &score.run_id {
                if let Ok(stored) = self.stored_run(run) {
                    let (tokens, cost) = usage_of(&stored);
                    attempt.tokens += tokens;
                    if let Some(cost) = cost {
                        *attempt.cost_usd.get_or_insert(0.0) += cost;
                    }
                }
            }
            attempt.scores.push(score);
        }
    }

    /// One scorer on one attempt: here for the deterministic ones, a judge
    /// run for `judge` (answered from the baseline's `judged` calls in a
    /// replay), a tool call for `tool`.
    async fn score(
        self: &Arc<Self>,
        chosen: &Scorer,
        case: &EvalCase,
        attempt: &EvalAttempt,
        judged: &[CallRecord],
        options: &EvalOptions,
        cancel: &CancellationToken,
    ) -> EvalScore {
        if let Some(score) = chosen.score(case, &attempt.output, &attempt.calls) {
            return score;
        }
        match chosen {
            Scorer::Judge { .. } => {
                self.judge(chosen, case, attempt, judged, options, cancel)
                    .await
            }
            Scorer::Tool { tool } => {
                let root = match self.root_for(&FlowRunOptions {
                    project: options.project.clone(),
                    root: options.root.clone(),
                    ..FlowRunOptions::default()
                }) {
                    Ok(root) => root,
                    Err(error) => {
                        return EvalScore::graded(
                            chosen,
                            0.0,
                            false,
                            format!("the scorer tool has no folder: {error}"),
                        )
                    }
                };
                let approver = options.approver.clone().unwrap_or_else(|| {
                    Arc::new(codexos_tools::Refuse(
                        "an eval's scorer tool cannot ask for approval — allow it in [tools.permissions]".into(),
                    )) as Arc<dyn codexos_tools::Approver>
                });
                match self
                    .call_tool(
                        tool,
                        scorer::tool_arguments(case, &attempt.output),
                        root,
                        approver,
                        cancel.clone(),
                    )
                    .await
                {
                    Ok(answer) => scorer::tool_score(chosen, &answer),
                    Err(error) => EvalScore::graded(
                        chosen,
                        0.0,
                        false,
                        format!("the scorer tool failed: {error}"),
                    ),
                }
            }
            _ => EvalScore::graded(chosen, 0.0, false, "not a scorer this CodexOS runs"),
        }
    }

    async fn judge(
        self: &Arc<Self>,
        chosen: &Scorer,
        case: &EvalCase,
        attempt: &EvalAttempt,
        judged: &[CallRecord],
        options: &EvalOptions,
        cancel: &CancellationToken,
    ) -> EvalScore {
        let Some((flow, input)) = scorer::judge_flow(chosen, case, &attempt.output) else {
            return EvalScore::graded(chosen, 0.0, false, "not a judge");
        };
        let flow: Flow = match serde_json::from_value(flow) {
            Ok(flow) => flow,
            Err(error) => {
                return EvalScore::graded(chosen, 0.0, false, format!("the judge flow: {error}"))
            }
        };
        let replay = if options.replay {
            Some(Arc::new(Recording::by_request(judged.to_vec())))
        } else {
            None
        };
        let run_options = FlowRunOptions {
            replay,
            ..FlowRunOptions::default()
        };
        match self
            .run_flow(flow, None, None, input, run_options, cancel.clone())
            .await
        {
            Ok(outcome) if outcome.status == RunStatus::Succeeded => {
                let mut score = scorer::judge_score(chosen, &outcome.output);
                score.calls = self
                    .stored_run(&outcome.run_id)
                    .map(|stored| stored.calls)
                    .unwrap_or_default();
                score.run_id = Some(outcome.run_id);
                score
            }
            Ok(outcome) => {
                let mut score = EvalScore::graded(
                    chosen,
                    0.0,
                    false,
                    format!(
                        "the judge run {}: {}",
                        outcome.status.as_str(),
                        outcome.error.unwrap_or_default()
                    ),
                );
                score.run_id = Some(outcome.run_id);
                score
            }
            Err(error) => EvalScore::graded(
                chosen,
                0.0,
                false,
                format!("the judge could not run: {error}"),
            ),
        }
    }
}
