//! `codexos bench analytics`: fills a bench home with generated runs —
//! written through the run log every real run is written with, so their span
//! facts are derived as a real run's are — then times the dashboard's
//! queries (the same function the app calls) and the drill-down to runs.
//!
//! The runs: 8 flows of 6 nodes (input, three model calls, a transform, an
//! output) over 5 projects and 6 provider/model pairs, spread over the last
//! `days` days; about 3% fail at a model node and 6% of model calls fall
//! back once. Each run makes 10 spans (the run, 6 nodes, 3 model calls).

use std::path::{Path, PathBuf};
use std::time::Instant;

use codexos_flow::ports::{AttemptUsage, CallUsage, NodeRecord, RunHeader, RunLog, RunStatus};
use codexos_flow::{EventKind, RunEvent};
use codexos_store::Store;
use serde::Serialize;
use serde_json::{json, Value};

use super::percentile;
use crate::analytics::{dashboard, figure_runs, DashboardQuery};
use crate::{Error, Result, Runtime};

/// What `bench analytics` measured.
#[derive(Debug, Clone, Serialize)]
pub struct AnalyticsBench {
    /// Runs generated.
    pub runs: u64,
    /// Span facts stored.
    pub spans: u64,
    /// Days the runs are spread over.
    pub days: u32,
    /// Writing them through the run log, seconds.
    pub generate_s: f64,
    /// Size of the database, MiB.
    pub store_mib: f64,
    /// The first query's roll-up of every span, seconds (once per home).
    pub catch_up_s: f64,
    /// Dashboard queries timed.
    pub queries: u32,
    /// Their median, ms.
    pub query_p50_ms: f64,
    /// Their 95th percentile, ms.
    pub query_p95_ms: f64,
    /// The slowest, ms.
    pub query_max_ms: f64,
    /// A query after one more run was stored (its spans rolled up first), ms.
    pub after_new_run_ms: f64,
    /// Drill-downs (the runs behind a figure) timed.
    pub drills: u32,
    /// Their median, ms.
    pub drill_p50_ms: f64,
    /// Their 95th percentile, ms.
    pub drill_p95_ms: f64,
    /// p95 model-call latency over every span, exact, ms.
    pub model_p95_exact_ms: f64,
    /// The same from the roll-ups' histogram, ms.
    pub model_p95_estimate_ms: f64,
    /// Where the bench home is (kept when asked).
    pub home: Option<PathBuf>,
}

/// A small deterministic generator (splitmix64): the same runs every time.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut value = self.0;
        value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        value ^ (value >> 31)
    }
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
    /// A share in [0, 1).
    fn share(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1_u64 << 53) as f64
    }
}

const MODELS: [(&str, &str, f64, f64, f64); 6] = [
    // provider, model, typical latency ms, $ per M input, $ per M output
    ("local", "qwen2.5-coder-1.5b", 2_400.0, 0.0, 0.0),
    ("openai", "gpt-4o-mini", 900.0, 0.15, 0.6),
    ("openai", "gpt-4.1", 1_800.0, 2.0, 8.0),
    ("mistral", "mistral-small-latest", 700.0, 0.1, 0.3),
    ("anthropic", "claude-3-5-haiku-latest", 1_100.0, 0.8, 4.0),
    ("vllm", "llama-3.1-8b", 500.0, 0.0, 0.0),
];
const NODES: [(&str, &str); 6] = [
    ("input", "input"),
    ("plan", "llm"),
    ("draft", "llm"),
    ("review", "llm"),
    ("shape", "transform"),
    ("output", "output"),
];
const DAY_MS: u64 = 86_400_000;

struct Writer<'a> {
    log: &'a dyn RunLog,
    numbers: Numbers,
    now_ms: u64,
    days: u32,
}

fn port(error: codexos_flow::ports::PortError) -> Error {
    Error::Flow(codexos_flow::Error::Store {
        message: error.message,
    })
}

impl Writer<'_> {
    fn call_usage(&mut self, model: usize) -> (CallUsage, u64) {
        let (provider, name, typical, input_price, output_price) = MODELS[model];
        // A long right tail: most calls near the typical time, some 5× slower.
        let factor = 0.5
            + self.numbers.share()
            + if self.numbers.below(20) == 0 {
                4.0 * self.numbers.share()
            } else {
                0.0
            };
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a positive latency"
        )]
        let latency = (typical * factor) as u64;
        let prompt = 200 + self.numbers.below(1_800);
        let completion = 20 + self.numbers.below(400);
        let remote = provider != "local" && provider != "vllm";
        #[expect(clippy::cast_precision_loss, reason = "token counts")]
        let cost =
            remote.then(|| (prompt as f64 * input_price + completion as f64 * output_price) / 1e6);
        let mut attempts = Vec::new();
        if self.numbers.below(100) < 6 {
            attempts.push(AttemptUsage {
                provider: "down".into(),
                model: name.into(),
                outcome: "failed".into(),
                detail: Some("connection refused".into()),
                latency_ms: 3,
                ..AttemptUsage::default()
            });
        }
        attempts.push(AttemptUsage {
            provider: provider.into(),
            model: name.into(),
            outcome: "ok".into(),
            latency_ms: latency,
            first_token_ms: Some(latency / 5),
            prompt_tokens: prompt,
            completion_tokens: completion,
            cost_usd: cost,
            ..AttemptUsage::default()
        });
        let usage = CallUsage {
            prompt_tokens: prompt,
            cached_tokens: 0,
            completion_tokens: completion,
            first_token_ms: Some(latency / 5),
            latency_ms: latency,
            cost_usd: cost,
            unpriced: false,
            compute_ms: if provider == "local" { latency } else { 0 },
            attempts,
            replayed: false,
        };
        (usage, latency)
    }

    /// One node of a run at `at`: its events (started, its model call, then
    /// finished or failed) and how long it took.
    fn node(
        &mut self,
        run: &mut Events,
        flow: u64,
        position: usize,
        at: u64,
        fails: bool,
    ) -> (Vec<RunEvent>, u64) {
        let (node, kind) = NODES[position];
        let mut events = vec![run.event(
            Some(node),
            at,
            EventKind::NodeStarted {
                kind: kind.into(),
                step: position as u64,
                attempt: 1,
            },
        )];
        let mut took = 1 + self.numbers.below(4);
        if kind == "llm" {
            #[expect(clippy::cast_possible_truncation, reason = "a small index")]
            let model = ((flow * 3 + position as u64) % MODELS.len() as u64) as usize;
            let (usage, latency) = self.call_usage(model);
            took += latency;
            let call = EventKind::ModelCall {
                provider: MODELS[model].0.into(),
                model: MODELS[model].1.into(),
                usage: Box::new(usage),
            };
            events.push(run.event(Some(node), at + latency, call));
        }
        let end = if fails {
            EventKind::NodeFailed {
                error: "the provider returned 500".into(),
                retrying: false,
            }
        } else {
            let next = NODES
                .get(position + 1)
                .map(|(next, _)| vec![(*next).to_owned()])
                .unwrap_or_default();
            EventKind::NodeFinished {
                step: position as u64,
                duration_ms: took,
                writes: json!({}),
                next,
            }
        };
        events.push(run.event(Some(node), at + took, end));
        (events, took)
    }

    fn run(&mut self, index: u64) -> Result<()> {
        let flow = self.numbers.below(8);
        let flow_name = format!("flow-{flow}");
        let project = format!("project-{}", self.numbers.below(5));
        let mut at = self.now_ms - self.numbers.below(u64::from(self.days) * DAY_MS);
        let mut run = Events {
            id: format!("bench-{index:07}"),
            seq: 0,
        };
        let id = run.id.clone();
        let header = RunHeader {
            id: id.clone(),
            flow: flow_name.clone(),
            flow_json: json!({"version": 2, "name": flow_name, "nodes": []}),
            flow_path: None,
            input: json!({"project": project}),
            forked_from: None,
            start: None,
            budget: None,
            trace_parent: None,
            exchange: None,
        };
        self.log.begin(&header).map_err(port)?;
        let started = run.event(
            None,
            at,
            EventKind::RunStarted {
                flow: flow_name,
                mode: "start".into(),
            },
        );
        self.log.events(&id, &[started]).map_err(port)?;
        let fails_at = (self.numbers.below(100) < 3).then(|| 1 + self.numbers.below(3));
        let mut failed = false;
        for (position, (node, _)) in NODES.iter().enumerate() {
            failed = fails_at == Some(position as u64);
            let (events, took) = self.node(&mut run, flow, position, at, failed);
            at += took;
            if failed {
                self.log.events(&id, &events).map_err(port)?;
                break;
            }
            let next = NODES
                .get(position + 1)
                .map(|(next, _)| vec![(*next).to_owned()])
                .unwrap_or_default();
            let record = NodeRecord {
                step: position as u64,
                node: (*node).into(),
                writes: std::collections::BTreeMap::new(),
                next,
                output: None,
            };
            self.log.node_done(&id, &record, &events).map_err(port)?;
        }
        let (status, error) = if failed {
            (
                RunStatus::Failed,
                Some("the provider returned 500".to_owned()),
            )
        } else {
            (RunStatus::Succeeded, None)
        };
        let finished = run.event(
            None,
            at,
            EventKind::RunFinished {
                status: status.as_str().into(),
                output: Value::Null,
                error,
            },
        );
        self.log.events(&id, &[finished]).map_err(port)?;
        self.log.status(&id, status, &Value::Null).map_err(port)
    }
}

/// A run's events, numbered as they are made.
struct Events {
    id: String,
    seq: u64,
}

impl Events {
    fn event(&mut self, node: Option<&str>, at_ms: u64, event: EventKind) -> RunEvent {
        self.seq += 1;
        RunEvent {
            run: self.id.clone(),
            seq: self.seq,
            at_ms,
            node: node.map(str::to_owned),
            event,
        }
    }
}

/// Times `queries` dashboard queries over `days` days before `now_ms` (1, 7,
/// 30 and all days, each dimension in turn), and the drill-down to the runs
/// of the first row after every fourth. Returns both sets of times in ms.
fn time_queries(
    store: &Store,
    now_ms: u64,
    days: u32,
    queries: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let dims = codexos_store::analytics::DIMENSIONS;
    let mut numbers = Numbers(99);
    let lengths = [1_u64, 7, 30, u64::from(days)];
    let (mut query_ms, mut drill_ms) = (Vec::new(), Vec::new());
    for round in 0..queries {
        let length = lengths[round % lengths.len()];
        let end = now_ms - numbers.below(u64::from(days).saturating_sub(length).max(1)) * DAY_MS;
        let query = DashboardQuery {
            from: Some(day_text(end - (length - 1) * DAY_MS)),
            to: Some(day_text(end)),
            by: dims[round % dims.len()].into(),
        };
        let clock = Instant::now();
        let answer = dashboard(store, &query)?;
        query_ms.push(elapsed_ms(clock));
        if round % 4 == 0 {
            // The runs behind the most counted row, over the query's range
            // (what a click on the row lists).
            if let Some(row) = answer.breakdown.first() {
                let clock = Instant::now();
                figure_runs(
                    store,
                    &query.by,
                    &row.value,
                    query.from.as_deref(),
                    query.to.as_deref(),
                    200,
                )?;
                drill_ms.push(elapsed_ms(clock));
            }
        }
    }
    Ok((query_ms, drill_ms))
}

fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

fn day_text(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

impl Runtime {
    /// Generates `runs` runs over `days` days into a bench home (`keep`, or
    /// a scratch folder) and times the dashboard on them. `progress` hears
    /// how many runs are written.
    pub fn bench_analytics(
        &self,
        runs: u64,
        days: u32,
        keep: Option<&Path>,
        progress: &dyn Fn(u64),
    ) -> Result<AnalyticsBench> {
        let scratch = tempfile::tempdir().map_err(|source| Error::Home {
            path: std::env::temp_dir(),
            source,
        })?;
        let folder = keep.map_or_else(|| scratch.path().to_path_buf(), Path::to_path_buf);
        std::fs::create_dir_all(&folder).map_err(|source| Error::Home {
            path: folder.clone(),
            source,
        })?;
        let path = folder.join("analytics.sqlite");
        if path.exists() {
            return Err(Error::InvalidAnalytics {
                message: format!("{} exists: give `--keep` an empty folder", path.display()),
            });
        }
        let store = std::sync::Arc::new(Store::open(&path)?);
        let log = crate::flows::store_log(std::sync::Arc::clone(&store));
        let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let mut writer = Writer {
            log: &log,
            numbers: Numbers(17),
            now_ms,
            days,
        };
        let started = Instant::now();
        for index in 0..runs {
            writer.run(index)?;
            if index % 1_000 == 999 {
                progress(index + 1);
            }
        }
        let generate_s = started.elapsed().as_secs_f64();
        let spans = store.span_count()?;

        let to = day_text(now_ms);
        let whole = DashboardQuery {
            from: Some(day_text(now_ms - u64::from(days) * DAY_MS)),
            to: Some(to),
            by: "flow".into(),
        };
        let started = Instant::now();
        let first = dashboard(&store, &whole)?;
        let catch_up_s = started.elapsed().as_secs_f64();

        let queries = 200;
        let (times, mut drills) = time_queries(&store, now_ms, days, queries)?;
        writer.now_ms = now_ms;
        writer.days = 1;
        writer.run(runs)?;
        let clock = Instant::now();
        dashboard(&store, &whole)?;
        let after_new_run_ms = elapsed_ms(clock);

        let exact = store.exact_latency_quantile("model", 0.95)?.unwrap_or(0.0);
        let estimate = first.totals.model_p95_ms.unwrap_or(0.0);
        let store_mib = ["", "-wal"]
            .iter()
            .filter_map(|suffix| {
                std::fs::metadata(folder.join(format!("analytics.sqlite{suffix}"))).ok()
            })
            .map(|meta| meta.len())
            .sum::<u64>();
        #[expect(clippy::cast_precision_loss, reason = "a size in MiB")]
        let store_mib = store_mib as f64 / 1_048_576.0;
        Ok(AnalyticsBench {
            runs,
            spans,
            days,
            generate_s,
            store_mib,
            catch_up_s,
            queries: u32::try_from(queries).unwrap_or(u32::MAX),
            query_p50_ms: percentile(&mut times.clone(), 0.5),
            query_p95_ms: percentile(&mut times.clone(), 0.95),
            query_max_ms: times.iter().copied().fold(0.0, f64::max),
            after_new_run_ms,
            drills: u32::try_from(drills.len()).unwrap_or(u32::MAX),
            drill_p50_ms: percentile(&mut drills.clone(), 0.5),
            drill_p95_ms: percentile(&mut drills, 0.95),
            model_p95_exact_ms: exact,
            model_p95_estimate_ms: estimate,
            home: keep.map(Path::to_path_buf),
        })
    }
}
