//! An eval's report: per case and per attempt (run) scores, the summary,
//! the comparison with a baseline, the thresholds, and the report as `JUnit`
//! XML and as Markdown for a pull-request comment. The report file is also
//! the baseline of a later eval: it carries each run's recorded calls, so a
//! replay needs no model and no key.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use codexos_flow::ports::CallRecord;

use crate::scorer::{clip, EvalScore};
use crate::{Error, Result};

/// The report file's format tag.
pub const FORMAT: &str = "codexos-eval/1";

/// A score difference smaller than this is "unchanged".
pub const SCORE_TOLERANCE: f64 = 0.1;

/// How the runs were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum EvalMode {
    /// Models and tools called.
    Live,
    /// Every call answered from the baseline's recording.
    Replay,
}

/// One run of one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct EvalAttempt {
    /// The stored run (its trace).
    pub run_id: String,
    /// `succeeded`, `failed`, `cancelled`, `paused`.
    pub status: String,
    /// The run's output.
    #[specta(type = codexos_flow::JsonValue)]
    pub output: Value,
    /// The run's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall milliseconds of the run.
    #[specta(type = f64)]
    pub latency_ms: u64,
    /// Prompt and generated tokens.
    #[specta(type = f64)]
    pub tokens: u64,
    /// Dollars of priced calls (none when nothing was priced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Each scorer's verdict.
    pub scores: Vec<EvalScore>,
    /// Mean of the scores (0 when the run did not succeed).
    pub score: f64,
    /// The run succeeded and every scorer passed.
    pub passed: bool,
    /// The run's recorded calls (for a replay; left out of stored reports).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[specta(type = Vec<codexos_flow::JsonValue>)]
    pub calls: Vec<CallRecord>,
}

impl EvalAttempt {
    /// Fills `score` and `passed` from the run's status and `scores`.
    pub fn settle(&mut self) {
        let succeeded = self.status == "succeeded";
        self.score = if succeeded && !self.scores.is_empty() {
            self.scores.iter().map(|score| score.score).sum::<f64>() / self.scores.len() as f64
        } else if succeeded {
            1.0
        } else {
            0.0
        };
        self.passed = succeeded && self.scores.iter().all(|score| score.passed);
    }
}

/// One case's result over its attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CaseResult {
    /// Case id.
    pub id: String,
    /// The case's input.
    #[specta(type = codexos_flow::JsonValue)]
    pub input: Value,
    /// The case's expected value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[specta(type = Option<codexos_flow::JsonValue>)]
    pub expected: Option<Value>,
    /// The case's metadata.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[specta(type = codexos_flow::JsonValue)]
    pub metadata: Map<String, Value>,
    /// One per repeat.
    pub attempts: Vec<EvalAttempt>,
    /// Mean score over the attempts.
    pub score: f64,
    /// Standard deviation of the attempts' scores.
    pub stddev: f64,
    /// Every attempt passed.
    pub passed: bool,
    /// Some attempts passed and some did not.
    pub flaky: bool,
}

impl CaseResult {
    /// Fills the aggregate fields from the attempts.
    pub fn settle(&mut self) {
        let scores: Vec<f64> = self.attempts.iter().map(|attempt| attempt.score).collect();
        let (mean, stddev) = mean_stddev(&scores);
        self.score = mean;
        self.stddev = stddev;
        let passes = self
            .attempts
            .iter()
            .filter(|attempt| attempt.passed)
            .count();
        self.passed = !self.attempts.is_empty() && passes == self.attempts.len();
        self.flaky = passes > 0 && passes < self.attempts.len();
    }
}

fn mean_stddev(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let variance = values
        .iter()
        .map(|value| (value - mean).powi(2))
        .sum::<f64>()
        / values.len() as f64;
    (mean, variance.sqrt())
}

/// Totals of a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct EvalStats {
    /// Cases.
    pub cases: u32,
    /// Cases whose every attempt passed.
    pub passed: u32,
    /// Cases with mixed attempts.
    pub flaky: u32,
    /// passed / cases.
    pub pass_rate: f64,
    /// Mean of the cases' scores.
    pub mean_score: f64,
    /// Attempts that ran (a case not in a replay's baseline, or with an
    /// input the flow cannot take, has an attempt that did not).
    #[serde(default)]
    pub attempts: u32,
    /// Tokens of every attempt (scorers' judges included).
    #[specta(type = f64)]
    pub tokens: u64,
    /// Dollars of every priced call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Median run latency in milliseconds (of the attempts that ran).
    #[specta(type = f64)]
    pub latency_p50_ms: u64,
    /// 95th percentile run latency in milliseconds.
    #[specta(type = f64)]
    pub latency_p95_ms: u64,
}

/// What happened to a case against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum CaseChangeKind {
    /// Failing → passing, or the score rose by more than [`SCORE_TOLERANCE`].
    Improved,
    /// Passing → failing, or the score fell by more than [`SCORE_TOLERANCE`].
    Regressed,
    /// Neither.
    Unchanged,
    /// Not in the baseline.
    New,
    /// In the baseline only.
    Missing,
}

/// One case against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CaseChange {
    /// Case id.
    pub id: String,
    /// What happened.
    pub change: CaseChangeKind,
    /// Baseline score.
    pub before: Option<f64>,
    /// This eval's score.
    pub after: Option<f64>,
    /// The baseline's first run of the case.
    pub baseline_run: Option<String>,
    /// This eval's first run of the case.
    pub run: Option<String>,
}

/// The comparison with a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct EvalComparison {
    /// The baseline's id.
    pub baseline: String,
    /// How the baseline's runs were made (a replay's latency says nothing).
    #[serde(default = "live")]
    pub baseline_mode: EvalMode,
    /// Its summary.
    pub before: EvalStats,
    /// Per case, in this eval's order (then the missing ones).
    pub cases: Vec<CaseChange>,
    /// How many of each change.
    pub improved: u32,
    /// Cases that got worse.
    pub regressed: u32,
}

fn live() -> EvalMode {
    EvalMode::Live
}

/// A limit the eval must keep for its exit code to be 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct EvalThreshold {
    /// `pass-rate`, `score`, `regressions`, `cost`, `tokens` or `latency`.
    pub metric: String,
    /// The limit as written (`0.9`, `0`, `+10%`).
    pub limit: String,
    /// The measured value as text.
    pub actual: String,
    /// Whether it held.
    pub held: bool,
}

/// A whole eval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct EvalReport {
    /// [`FORMAT`].
    pub format: String,
    /// Eval id.
    pub id: String,
    /// Flow name.
    pub flow: String,
    /// sha256 of the flow file as run.
    pub flow_hash: String,
    /// Dataset path as given.
    pub dataset: String,
    /// sha256 of the dataset file.
    pub dataset_hash: String,
    /// Live or replay.
    pub mode: EvalMode,
    /// Attempts per case.
    pub repeat: u32,
    /// Unix seconds it started.
    pub started_at: f64,
    /// Unix seconds it ended.
    pub finished_at: f64,
    /// The cases.
    pub cases: Vec<CaseResult>,
    /// Totals.
    pub summary: EvalStats,
    /// Against the baseline, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<EvalComparison>,
    /// The limits checked.
    #[serde(default)]
    pub thresholds: Vec<EvalThreshold>,
    /// Every threshold held (never for a partial eval).
    pub ok: bool,
    /// Stopped before its end: only the cases that finished are in it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

impl EvalReport {
    /// Recomputes the summary from the cases.
    pub fn summarize(&mut self) {
        let cases = &self.cases;
        let attempts: Vec<&EvalAttempt> = cases.iter().flat_map(|case| &case.attempts).collect();
        let ran: Vec<&&EvalAttempt> = attempts
            .iter()
            .filter(|attempt| !attempt.run_id.is_empty())
            .collect();
        let mut latencies: Vec<u64> = ran.iter().map(|attempt| attempt.latency_ms).collect();
        latencies.sort_unstable();
        let passed = cases.iter().filter(|case| case.passed).count() as u32;
        let priced: Vec<f64> = attempts
            .iter()
            .filter_map(|attempt| attempt.cost_usd)
            .collect();
        self.summary = EvalStats {
            cases: cases.len() as u32,
            passed,
            flaky: cases.iter().filter(|case| case.flaky).count() as u32,
            pass_rate: if cases.is_empty() {
                0.0
            } else {
                f64::from(passed) / cases.len() as f64
            },
            mean_score: mean_stddev(&cases.iter().map(|case| case.score).collect::<Vec<_>>()).0,
            attempts: ran.len() as u32,
            tokens: attempts.iter().map(|attempt| attempt.tokens).sum(),
            cost_usd: (!priced.is_empty()).then(|| priced.iter().sum()),
            latency_p50_ms: percentile(&latencies, 0.50),
            latency_p95_ms: percentile(&latencies, 0.95),
        };
    }

    /// Compares with a baseline's cases, by id.
    pub fn compare(&mut self, baseline: &EvalReport) {
        let before: BTreeMap<&str, &CaseResult> = baseline
            .cases
            .iter()
            .map(|case| (case.id.as_str(), case))
            .collect();
        let mut changes = Vec::new();
        for case in &self.cases {
            let old = before.get(case.id.as_str());
            let change = match old {
                None => CaseChangeKind::New,
                Some(old) if old.passed && !case.passed => CaseChangeKind::Regressed,
                Some(old) if !old.passed && case.passed => CaseChangeKind::Improved,
                Some(old) if case.score < old.score - SCORE_TOLERANCE => CaseChangeKind::Regressed,
                Some(old) if case.score > old.score + SCORE_TOLERANCE => CaseChangeKind::Improved,
                Some(_) => CaseChangeKind::Unchanged,
            };
            changes.push(CaseChange {
                id: case.id.clone(),
                change,
                before: old.map(|old| old.score),
                after: Some(case.score),
                baseline_run: old
                    .and_then(|old| old.attempts.first())
                    .map(|a| a.run_id.clone()),
                run: case.attempts.first().map(|attempt| attempt.run_id.clone()),
            });
        }
        let here: std::collections::BTreeSet<&str> =
            self.cases.iter().map(|case| case.id.as_str()).collect();
        // A case that passed and is gone hides what it tested: it counts
        // as a regression.
        let mut dropped_passing = 0;
        for old in &baseline.cases {
            if !here.contains(old.id.as_str()) {
                // A partial eval did not reach them: not a regression.
                dropped_passing += u32::from(old.passed && !self.partial);
                changes.push(CaseChange {
                    id: old.id.clone(),
                    change: CaseChangeKind::Missing,
                    before: Some(old.score),
                    after: None,
                    baseline_run: old.attempts.first().map(|attempt| attempt.run_id.clone()),
                    run: None,
                });
            }
        }
        let count =
            |wanted: CaseChangeKind| changes.iter().filter(|c| c.change == wanted).count() as u32;
        self.comparison = Some(EvalComparison {
            baseline: baseline.id.clone(),
            baseline_mode: baseline.mode,
            before: baseline.summary.clone(),
            improved: count(CaseChangeKind::Improved),
            regressed: count(CaseChangeKind::Regressed) + dropped_passing,
            cases: changes,
        });
    }

    /// Checks `limits` (with the default when none is given: no regression
    /// against a baseline, else every case passes) and sets `ok`.
    pub fn check(&mut self, limits: &[Limit]) {
        let defaults = [if self.comparison.is_some() {
            Limit::parse("regressions=0")
        } else {
            Limit::parse("pass-rate=1")
        }
        .unwrap_or(Limit {
            metric: Metric::PassRate,
            value: 1.0,
            relative: false,
            text: "1".into(),
        })];
        let limits = if limits.is_empty() {
            &defaults[..]
        } else {
            limits
        };
        self.thresholds = limits.iter().map(|limit| limit.check(self)).collect();
        self.ok = !self.partial && self.thresholds.iter().all(|threshold| threshold.held);
    }

    /// Whether latency cannot be compared: either side replayed (a replay's
    /// runs take no model time).
    #[must_use]
    pub fn latency_moot(&self) -> bool {
        self.mode == EvalMode::Replay
            || self
                .comparison
                .as_ref()
                .is_some_and(|comparison| comparison.baseline_mode == EvalMode::Replay)
    }

    /// The report with every recorded call left out (what is stored in the
    /// data home, where the runs keep their calls).
    #[must_use]
    pub fn without_calls(&self) -> Self {
        let mut lean = self.clone();
        for attempt in lean.cases.iter_mut().flat_map(|case| &mut case.attempts) {
            attempt.calls.clear();
            for score in &mut attempt.scores {
                score.calls.clear();
            }
        }
        lean
    }

    /// Reads a report file.
    pub fn from_json(text: &str) -> Result<Self> {
        let report: Self = serde_json::from_str(text).map_err(|error| Error::Report {
            message: format!("not an eval report: {error}"),
        })?;
        if report.format != FORMAT {
            return Err(Error::Report {
                message: format!("format `{}` (this CodexOS reads `{FORMAT}`)", report.format),
            });
        }
        Ok(report)
    }
}

fn percentile(sorted: &[u64], share: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (share * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Share of cases passing, at least.
    PassRate,
    /// Mean score, at least.
    Score,
    /// Regressed cases against the baseline, at most.
    Regressions,
    /// Dollars, at most (or a change against the baseline).
    Cost,
    /// Tokens, at most (or a change against the baseline).
    Tokens,
    /// p50 latency in ms, at most (or a change against the baseline).
    Latency,
}

/// A parsed `--threshold METRIC=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// What it measures.
    pub metric: Metric,
    /// The number (a share for a `+N%` change).
    pub value: f64,
    /// `+N%`: a change against the baseline.
    pub relative: bool,
    /// As written.
    pub text: String,
}

impl Limit {
    /// Reads `pass-rate=0.9`, `score=0.8`, `regressions=0`, `cost=0.50`,
    /// `cost=+10%`, `tokens=+5%`, `latency=2000`, `latency=+20%`.
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = |message: String| Error::Threshold { message };
        let (name, value) = spec
            .split_once('=')
            .ok_or_else(|| bad(format!("`{spec}`: write METRIC=VALUE, e.g. pass-rate=0.9")))?;
        let metric = match name.trim() {
            "pass-rate" | "pass_rate" => Metric::PassRate,
            "score" => Metric::Score,
            "regressions" => Metric::Regressions,
            "cost" => Metric::Cost,
            "tokens" => Metric::Tokens,
            "latency" => Metric::Latency,
            other => {
                return Err(bad(format!(
                "unknown metric `{other}` (pass-rate, score, regressions, cost, tokens, latency)"
            )))
            }
        };
        let text = value.trim().to_owned();
        let relative = text.starts_with('+') && text.ends_with('%');
        let number: f64 = if relative {
            text[1..text.len() - 1]
                .parse::<f64>()
                .map(|percent| percent / 100.0)
        } else {
            text.parse()
        }
        .map_err(|_| bad(format!("`{spec}`: `{text}` is not a number or +N%")))?;
        if relative
            && matches!(
                metric,
                Metric::PassRate | Metric::Score | Metric::Regressions
            )
        {
            return Err(bad(format!(
                "`{spec}`: +N% applies to cost, tokens and latency"
            )));
        }
        if matches!(metric, Metric::PassRate | Metric::Score) && !(0.0..=1.0).contains(&number) {
            return Err(bad(format!("`{spec}`: a share from 0 to 1")));
        }
        Ok(Self {
            metric,
            value: number,
            relative,
            text,
        })
    }

    fn check(&self, report: &EvalReport) -> EvalThreshold {
        let summary = &report.summary;
        let before = report
            .comparison
            .as_ref()
            .map(|comparison| &comparison.before);
        let (name, actual, held) = match self.metric {
            Metric::PassRate => (
                "pass-rate",
                format!("{:.3}", summary.pass_rate),
                summary.pass_rate + 1e-9 >= self.value,
            ),
            Metric::Score => (
                "score",
                format!("{:.3}", summary.mean_score),
                summary.mean_score + 1e-9 >= self.value,
            ),
            Metric::Regressions => {
                let regressed = report.comparison.as_ref().map(|c| c.regressed);
                match regressed {
                    Some(count) => (
                        "regressions",
                        count.to_string(),
                        f64::from(count) <= self.value,
                    ),
                    None => ("regressions", "no baseline".to_owned(), false),
                }
            }
            // A change in cost or tokens is per run: repeats or added cases
            // do not read as a rise.
            Metric::Cost if self.relative => {
                let then = before.map(|b| b.cost_usd.unwrap_or(0.0));
                let (now, then) = per_run(summary.cost_usd.unwrap_or(0.0), summary, then, before);
                self.bound("cost", now, then)
            }
            Metric::Cost => self.bound("cost", summary.cost_usd.unwrap_or(0.0), None),
            Metric::Tokens if self.relative => {
                let then = before.map(|b| b.tokens as f64);
                let (now, then) = per_run(summary.tokens as f64, summary, then, before);
                self.bound("tokens", now, then)
            }
            Metric::Tokens => self.bound("tokens", summary.tokens as f64, None),
            // A replay's runs take no model time: their latency says nothing.
            Metric::Latency if report.latency_moot() => {
                ("latency", "not measured in a replay".to_owned(), true)
            }
            Metric::Latency => self.bound(
                "latency",
                summary.latency_p50_ms as f64,
                before.map(|b| b.latency_p50_ms as f64),
            ),
        };
        EvalThreshold {
            metric: name.to_owned(),
            limit: self.text.clone(),
            actual,
            held,
        }
    }

    fn bound(
        &self,
        name: &'static str,
        now: f64,
        before: Option<f64>,
    ) -> (&'static str, String, bool) {
        if !self.relative {
            return (name, trim_number(now), now <= self.value + 1e-12);
        }
        match before {
            None => (name, "no baseline".to_owned(), false),
            Some(before) if before <= 0.0 => (
                name,
                format!("{} (baseline 0)", trim_number(now)),
                now <= 0.0,
            ),
            Some(before) => {
                let change = now / before - 1.0;
                (
                    name,
                    format!("{:+.1}%", change * 100.0),
                    change <= self.value + 1e-12,
                )
            }
        }
    }
}

/// Two totals per attempt that ran — or both as totals when either report
/// (an older one) does not count its attempts: never one of each.
fn per_run(
    now: f64,
    now_stats: &EvalStats,
    then: Option<f64>,
    then_stats: Option<&EvalStats>,
) -> (f64, Option<f64>) {
    match (then, then_stats) {
        (Some(then), Some(stats)) if now_stats.attempts > 0 && stats.attempts > 0 => (
            now / f64::from(now_stats.attempts),
            Some(then / f64::from(stats.attempts)),
        ),
        (then, _) => (now, then),
    }
}

fn trim_number(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.4}")
    }
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Why a case failed, in a line.
fn failure(case: &CaseResult) -> String {
    let mut reasons = Vec::new();
    for (index, attempt) in case.attempts.iter().enumerate() {
        if attempt.passed {
            continue;
        }
        let why = match &attempt.error {
            Some(error) => format!("run {}: {}", attempt.status, clip(error, 200)),
            None => attempt
                .scores
                .iter()
                .filter(|score| !score.passed)
                .map(|score| format!("{}: {}", score.scorer, score.reason))
                .collect::<Vec<_>>()
                .join("; "),
        };
        let prefix = if case.attempts.len() > 1 {
            format!("#{} ", index + 1)
        } else {
            String::new()
        };
        reasons.push(format!("{prefix}{why}"));
    }
    reasons.join(" | ")
}

/// The report as `JUnit` XML: a test case per dataset case, and one per
/// threshold.
#[must_use]
pub fn junit(report: &EvalReport) -> String {
    let failed_cases = report.cases.iter().filter(|case| !case.passed).count();
    let failed_limits = report.thresholds.iter().filter(|limit| !limit.held).count();
    let seconds = (report.finished_at - report.started_at).max(0.0);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"codexos eval\" tests=\"{}\" failures=\"{}\" time=\"{seconds:.3}\">",
        report.cases.len() + report.thresholds.len(),
        failed_cases + failed_limits
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed_cases}\" time=\"{seconds:.3}\">",
        xml(&format!("eval {} ({})", report.flow, report.dataset)),
        report.cases.len()
    );
    for case in &report.cases {
        let time: u64 = case.attempts.iter().map(|attempt| attempt.latency_ms).sum();
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml(&report.flow),
            xml(&case.id),
            time as f64 / 1000.0
        );
        let runs: Vec<&str> = case
            .attempts
            .iter()
            .map(|attempt| attempt.run_id.as_str())
            .collect();
        if case.passed {
            let _ = writeln!(
                out,
                ">\n      <system-out>score {:.3}; runs {}</system-out>\n    </testcase>",
                case.score,
                runs.join(" ")
            );
        } else {
            let message = failure(case);
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\">score {:.3}{}; runs {}</failure>\n    </testcase>",
                xml(&clip(&message, 300)),
                case.score,
                if case.flaky { " (flaky)" } else { "" },
                xml(&runs.join(" "))
            );
        }
    }
    out.push_str("  </testsuite>\n");
    let _ = writeln!(
        out,
        "  <testsuite name=\"thresholds\" tests=\"{}\" failures=\"{failed_limits}\">",
        report.thresholds.len()
    );
    for limit in &report.thresholds {
        let name = xml(&format!("{} ≤/≥ {}", limit.metric, limit.limit));
        if limit.held {
            let _ = writeln!(
                out,
                "    <testcase classname=\"thresholds\" name=\"{name}\"/>"
            );
        } else {
            let _ = writeln!(
                out,
                "    <testcase classname=\"thresholds\" name=\"{name}\">\n      <failure message=\"{} is {}, limit {}\"/>\n    </testcase>",
                xml(&limit.metric),
                xml(&limit.actual),
                xml(&limit.limit)
            );
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn money(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |cost| format!("${cost:.4}"))
}

fn delta(now: f64, before: f64, percent: bool) -> String {
    if percent {
        if before == 0.0 {
            return if now == 0.0 {
                "±0".into()
            } else {
                "new".into()
            };
        }
        format!("{:+.1}%", (now / before - 1.0) * 100.0)
    } else {
        format!("{:+.3}", now - before)
    }
}

/// A figure's row: name, value now, and the baseline's value with the change.
type Row<'a> = (&'a str, String, Option<(String, String)>);

/// The figures as a Markdown table, against the baseline's when given.
/// A latency row: a replay's is shown but not compared.
fn latency_row(name: &str, now: u64, before: Option<u64>, replay: bool) -> Row<'_> {
    let change = |old: u64| {
        if replay {
            "(replay)".to_owned()
        } else {
            delta(now as f64, old as f64, true)
        }
    };
    (
        name,
        format!("{now} ms"),
        before.map(|old| (format!("{old} ms"), change(old))),
    )
}

fn figures_table(out: &mut String, now: &EvalStats, before: Option<&EvalStats>, replay: bool) {
    let rows: Vec<Row<'_>> = vec![
        (
            "pass rate",
            format!(
                "{:.1}% ({}/{})",
                now.pass_rate * 100.0,
                now.passed,
                now.cases
            ),
            before.map(|b| {
                (
                    format!("{:.1}%", b.pass_rate * 100.0),
                    delta(now.pass_rate, b.pass_rate, false),
                )
            }),
        ),
        (
            "mean score",
            format!("{:.3}", now.mean_score),
            before.map(|b| {
                (
                    format!("{:.3}", b.mean_score),
                    delta(now.mean_score, b.mean_score, false),
                )
            }),
        ),
        (
            "cost",
            money(now.cost_usd),
            before.map(|b| {
                (money(b.cost_usd), {
                    let (now_cost, then_cost) =
                        per_run(now.cost_usd.unwrap_or(0.0), now, b.cost_usd, Some(b));
                    delta(now_cost, then_cost.unwrap_or(0.0), true)
                })
            }),
        ),
        (
            "tokens",
            now.tokens.to_string(),
            before.map(|b| {
                (b.tokens.to_string(), {
                    let (now_tokens, then_tokens) =
                        per_run(now.tokens as f64, now, Some(b.tokens as f64), Some(b));
                    delta(now_tokens, then_tokens.unwrap_or(0.0), true)
                })
            }),
        ),
        latency_row(
            "latency p50",
            now.latency_p50_ms,
            before.map(|b| b.latency_p50_ms),
            replay,
        ),
        latency_row(
            "latency p95",
            now.latency_p95_ms,
            before.map(|b| b.latency_p95_ms),
            replay,
        ),
    ];
    if before.is_some() {
        out.push_str(
            "| | this change | baseline | Δ (cost and tokens per run) |\n|---|---:|---:|---:|\n",
        );
    } else {
        out.push_str("| | this change |\n|---|---:|\n");
    }
    for (name, value, then) in rows {
        match then {
            Some((old, change)) => {
                let _ = writeln!(out, "| {name} | {value} | {old} | {change} |");
            }
            None => {
                let _ = writeln!(out, "| {name} | {value} |");
            }
        }
    }
}

/// The cases that changed against the baseline, as a Markdown table.
fn changed_cases(out: &mut String, comparison: &EvalComparison) {
    let moved: Vec<&CaseChange> = comparison
        .cases
        .iter()
        .filter(|case| {
            matches!(
                case.change,
                CaseChangeKind::Regressed | CaseChangeKind::Improved | CaseChangeKind::Missing
            )
        })
        .collect();
    if moved.is_empty() {
        return;
    }
    out.push_str("\n**Changed cases**\n\n| case | change | before | after | runs (baseline → now) |\n|---|---|---:|---:|---|\n");
    let score = |value: Option<f64>| value.map_or_else(|| "—".to_owned(), |v| format!("{v:.2}"));
    for case in moved {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | `{}` → `{}` |",
            code(&case.id).replace('|', "\\|"),
            match case.change {
                CaseChangeKind::Regressed => "⬇ regressed",
                CaseChangeKind::Improved => "⬆ improved",
                CaseChangeKind::Missing => "missing",
                CaseChangeKind::New => "new",
                CaseChangeKind::Unchanged => "unchanged",
            },
            score(case.before),
            score(case.after),
            case.baseline_run.as_deref().map_or("—", short),
            case.run.as_deref().map_or("—", short),
        );
    }
}

/// The report as Markdown for a pull-request comment: the verdict,
/// quality, cost and latency against the baseline, the thresholds, and the
/// cases that regressed, failed or are flaky.
#[must_use]
pub fn markdown(report: &EvalReport) -> String {
    let mut out = String::new();
    let verdict = if report.ok {
        "✅ passed"
    } else {
        "❌ failed"
    };
    let _ = writeln!(out, "### CodexOS eval — `{}`: {verdict}\n", report.flow);
    let _ = writeln!(
        out,
        "{} cases × {} ({} mode) from `{}`; eval `{}`.\n",
        report.summary.cases,
        report.repeat,
        match report.mode {
            EvalMode::Live => "live",
            EvalMode::Replay => "replay",
        },
        report.dataset,
        report.id
    );
    let before = report
        .comparison
        .as_ref()
        .map(|comparison| &comparison.before);
    figures_table(&mut out, &report.summary, before, report.latency_moot());
    out.push_str("\n**Thresholds**\n\n");
    for limit in &report.thresholds {
        let mark = if limit.held { "✅" } else { "❌" };
        let _ = writeln!(
            out,
            "- {mark} {} {} (is {})",
            limit.metric, limit.limit, limit.actual
        );
    }
    if let Some(comparison) = &report.comparison {
        changed_cases(&mut out, comparison);
    }
    let failing: Vec<&CaseResult> = report.cases.iter().filter(|case| !case.passed).collect();
    if !failing.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>{} failing case(s)</summary>\n",
            failing.len()
        );
        for case in failing.iter().take(50) {
            let _ = writeln!(
                out,
                "- `{}`{}: {}",
                code(&case.id),
                if case.flaky { " (flaky)" } else { "" },
                inert(&clip(&failure(case), 240))
            );
        }
        out.push_str("\n</details>\n");
    }
    out
}

/// Text from a case or a model, made inert in a comment: no HTML, links or
/// images, no code spans broken open, no table cells split, no one
/// @-mentioned.
fn inert(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "'")
        .replace('|', "\\|")
        .replace('[', "\\[")
        .replace(']', "\\]")
        .replace('@', "@\u{200b}")
}

/// Text for inside a code span (shown as written): only a backtick would
/// end it.
fn code(text: &str) -> String {
    text.replace('`', "'")
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scorer::Scorer;

    fn attempt(run: &str, passed: bool, score: f64, latency_ms: u64) -> EvalAttempt {
        let scorer = Scorer::parse("contains").expect("scorer");
        let mut attempt = EvalAttempt {
            run_id: run.into(),
            status: "succeeded".into(),
            output: Value::Null,
            error: None,
            latency_ms,
            tokens: 10,
            cost_usd: Some(0.01),
            scores: vec![EvalScore::graded(&scorer, score, passed, "r")],
            score: 0.0,
            passed: false,
            calls: Vec::new(),
        };
        attempt.settle();
        attempt
    }

    fn case(id: &str, attempts: Vec<EvalAttempt>) -> CaseResult {
        let mut case = CaseResult {
            id: id.into(),
            input: Value::Null,
            expected: None,
            metadata: Map::new(),
            attempts,
            score: 0.0,
            stddev: 0.0,
            passed: false,
            flaky: false,
        };
        case.settle();
        case
    }

    fn report(id: &str, cases: Vec<CaseResult>) -> EvalReport {
        let mut report = EvalReport {
            format: FORMAT.into(),
            id: id.into(),
            flow: "qa".into(),
            flow_hash: String::new(),
            dataset: "set.jsonl".into(),
            dataset_hash: String::new(),
            mode: EvalMode::Live,
            repeat: 1,
            started_at: 0.0,
            finished_at: 1.0,
            cases,
            summary: EvalStats::default(),
            comparison: None,
            thresholds: Vec::new(),
            ok: false,
            partial: false,
        };
        report.summarize();
        report
    }

    #[test]
    fn repeats_flag_flaky_cases_and_summaries_add_up() {
        let flaky = case(
            "a",
            vec![
                attempt("r1", true, 1.0, 100),
                attempt("r2", false, 0.0, 300),
            ],
        );
        assert!(flaky.flaky && !flaky.passed);
        assert!((flaky.stddev - 0.5).abs() < 1e-9);
        let mut failed_run = attempt("r3", true, 1.0, 50);
        failed_run.status = "failed".into();
        failed_run.settle();
        assert!(
            !failed_run.passed && failed_run.score == 0.0,
            "a failed run never passes"
        );
        let report = report(
            "e",
            vec![flaky, case("b", vec![attempt("r4", true, 1.0, 200)])],
        );
        assert_eq!(report.summary.cases, 2);
        assert_eq!(report.summary.passed, 1);
        assert_eq!(report.summary.flaky, 1);
        assert_eq!(report.summary.tokens, 30);
        assert_eq!(report.summary.latency_p50_ms, 200);
        assert_eq!(report.summary.latency_p95_ms, 300);
    }

    /// A baseline of four cases and a later eval that keeps one, breaks
    /// one, fixes one, adds one and drops one (not compared yet).
    fn before_after() -> (EvalReport, EvalReport) {
        let before = report(
            "base",
            vec![
                case("keeps", vec![attempt("b1", true, 1.0, 100)]),
                case("breaks", vec![attempt("b2", true, 1.0, 100)]),
                case("fixed", vec![attempt("b3", false, 0.0, 100)]),
                case("gone", vec![attempt("b4", true, 1.0, 100)]),
            ],
        );
        let after = report(
            "now",
            vec![
                case("keeps", vec![attempt("n1", true, 1.0, 150)]),
                case("breaks", vec![attempt("n2", false, 0.0, 150)]),
                case("fixed", vec![attempt("n3", true, 1.0, 150)]),
                case("added", vec![attempt("n4", true, 1.0, 150)]),
            ],
        );
        (before, after)
    }

    #[test]
    fn changes_are_per_run_and_partial_or_replayed_evals_are_not_misread() {
        let (before, mut after) = before_after();
        after.compare(&before);
        // Per run, not in total: twice the attempts is not twice the tokens.
        let mut repeated = after.clone();
        repeated.summary.tokens *= 2;
        repeated.summary.attempts *= 2;
        repeated.check(&[Limit::parse("tokens=+0%").expect("limit")]);
        assert!(repeated.ok, "{:?}", repeated.thresholds);
        repeated.summary.tokens += 8;
        repeated.check(&[Limit::parse("tokens=+0%").expect("limit")]);
        assert!(!repeated.ok, "one token more per run is a rise");
        // Against an older baseline that does not count its attempts, both
        // sides are totals, never one of each.
        let mut older = before.clone();
        older.summary.attempts = 0;
        let mut against_older = report("now2", after.cases.clone());
        against_older.summary.tokens = before.summary.tokens;
        against_older.compare(&older);
        against_older.check(&[Limit::parse("tokens=+0%").expect("limit")]);
        assert!(against_older.ok, "{:?}", against_older.thresholds);
        // A partial eval never passes, and cases it did not reach are not
        // regressions.
        let mut partial = report(
            "cut",
            vec![case("keeps", vec![attempt("p1", true, 1.0, 100)])],
        );
        partial.partial = true;
        partial.compare(&before);
        partial.check(&[]);
        assert_eq!(partial.comparison.as_ref().map(|c| c.regressed), Some(0));
        assert!(!partial.ok, "a partial eval never passes");
        // A replay baseline's latency is not compared either.
        let mut live_vs_replay = report("live", after.cases.clone());
        let mut replay_base = before.clone();
        replay_base.mode = EvalMode::Replay;
        live_vs_replay.compare(&replay_base);
        live_vs_replay.check(&[Limit::parse("latency=+1%").expect("limit")]);
        assert!(live_vs_replay.ok, "{:?}", live_vs_replay.thresholds);
        // A replay's latency is not compared.
        let mut replayed = after.clone();
        replayed.mode = EvalMode::Replay;
        replayed.check(&[Limit::parse("latency=+1%").expect("limit")]);
        assert!(replayed.ok && replayed.thresholds[0].actual == "not measured in a replay");
    }

    #[test]
    fn baseline_changes_and_thresholds() {
        let (before, mut after) = before_after();
        after.compare(&before);
        let comparison = after.comparison.clone().expect("compared");
        let change = |id: &str| {
            comparison
                .cases
                .iter()
                .find(|c| c.id == id)
                .expect("case")
                .change
        };
        assert_eq!(change("keeps"), CaseChangeKind::Unchanged);
        assert_eq!(change("breaks"), CaseChangeKind::Regressed);
        assert_eq!(change("fixed"), CaseChangeKind::Improved);
        assert_eq!(change("added"), CaseChangeKind::New);
        assert_eq!(change("gone"), CaseChangeKind::Missing);
        assert_eq!(
            (comparison.improved, comparison.regressed),
            (1, 2),
            "a passing case that is gone counts as a regression"
        );

        after.check(&[]);
        assert!(!after.ok, "the default with a baseline is no regression");
        assert_eq!(after.thresholds[0].metric, "regressions");
        let limits: Vec<Limit> = [
            "regressions=2",
            "pass-rate=0.75",
            "latency=+60%",
            "tokens=+0%",
        ]
        .iter()
        .map(|spec| Limit::parse(spec).expect("limit"))
        .collect();
        after.check(&limits);
        assert!(after.ok, "{:?}", after.thresholds);
        after.check(&[Limit::parse("latency=+40%").expect("limit")]);
        assert!(!after.ok, "latency rose 50%");
        assert_eq!(after.thresholds[0].actual, "+50.0%");

        let xml = junit(&after);
        assert!(
            xml.contains("name=\"breaks\"") && xml.contains("<failure"),
            "{xml}"
        );
        let md = markdown(&after);
        assert!(
            md.contains("❌ failed") && md.contains("⬇ regressed") && md.contains("`b2` → `n2`"),
            "{md}"
        );

        for bad in [
            "pass-rate",
            "speed=1",
            "pass-rate=2",
            "score=+5%",
            "cost=lots",
        ] {
            assert!(Limit::parse(bad).is_err(), "{bad}");
        }
        let mut alone = report("solo", vec![case("x", vec![attempt("s", true, 1.0, 1)])]);
        alone.check(&[Limit::parse("cost=+10%").expect("limit")]);
        assert!(
            !alone.ok && alone.thresholds[0].actual == "no baseline",
            "a relative limit needs a baseline"
        );
    }

    #[test]
    fn case_text_is_escaped_in_xml_and_made_inert_in_markdown() {
        let mut failing = attempt("r<1>", false, 0.0, 1);
        failing.error = Some("boom <b>&\"@team\" `x` | y [x](http://e.invalid)\u{FFFE}".into());
        failing.settle();
        let mut report = report("e", vec![case("a<&\"b", vec![failing])]);
        report.check(&[]);
        let xml = junit(&report);
        assert!(xml.contains("name=\"a&lt;&amp;&quot;b\""), "{xml}");
        assert!(!xml.contains("<b>") && !xml.contains('\u{FFFE}'), "{xml}");
        let md = markdown(&report);
        assert!(
            !md.contains("<b>") && !md.contains("@team") && !md.contains("`x`"),
            "{md}"
        );
        assert!(md.contains("&lt;b&gt;") && md.contains("\\|"), "{md}");
        assert!(
            md.contains("\\[x\\](http") && md.contains("`a<&\"b`"),
            "a link is inert, an id in code shows as written: {md}"
        );
    }

    #[test]
    fn report_files_round_trip_and_stored_reports_drop_calls() {
        let mut first = attempt("r", true, 1.0, 1);
        first.calls.push(CallRecord {
            node: "n".into(),
            index: 0,
            kind: "model".into(),
            request_hash: "h".into(),
            request: Value::Null,
            response: Value::Null,
        });
        let report = report("e", vec![case("a", vec![first])]);
        let text = serde_json::to_string(&report).expect("json");
        assert_eq!(EvalReport::from_json(&text).expect("reads"), report);
        assert!(report.without_calls().cases[0].attempts[0].calls.is_empty());
        let error = EvalReport::from_json("{\"format\":\"other\"}").expect_err("not a report");
        assert!(error.to_string().contains("not an eval report"), "{error}");
    }
}
