//! `codexos bench otel`: what OpenTelemetry export costs a run, and what a
//! span costs to send. The same durable chain flow (no-op transform nodes,
//! every node checkpointed in SQLite as every real run) runs in rounds with
//! no endpoint, with a live endpoint (a real OTLP receiver on 127.0.0.1,
//! the app's background exporter sending as runs end) and with a dead one
//! (the exporter failing and retrying) — the same process, data home and
//! durability, the modes interleaved round by round. Then the export itself:
//! events read back and turned into spans, protobuf encoding, and a whole
//! send of the stored runs to the receiver, per span.

use std::sync::Arc;
use std::time::Instant;

use codexos_flow::RunEvent;
use codexos_otel::receiver::Receiver;
use prost::Message as _;
use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::percentile;
use crate::config::OtlpConfig;
use crate::{Error, FlowRunOptions, Result, Runtime};

/// One mode of the paced phase.
#[derive(Debug, Clone, Serialize)]
pub struct PacedMode {
    /// `none`, `live` or `dead`.
    pub mode: String,
    /// Runs.
    pub runs: usize,
    /// Median µs per node.
    pub median_us_per_node: f64,
    /// Mean µs per node.
    pub mean_us_per_node: f64,
    /// Slowest run, µs per node.
    pub max_us_per_node: f64,
    /// Export passes the app's loop made to this mode's endpoint while its
    /// runs went (a pass to the live endpoint sends every run it is owed).
    pub passes: u32,
    /// Runs during which a pass ended.
    pub coinciding_runs: usize,
    /// Their mean µs per node (none when no run coincided).
    pub coinciding_mean_us_per_node: Option<f64>,
}

/// What `bench otel` measured.
#[derive(Debug, Clone, Serialize)]
pub struct OtelBench {
    /// Nodes of the chain.
    pub nodes: u32,
    /// Runs per mode per round.
    pub runs: u32,
    /// Rounds (each runs every mode).
    pub rounds: u32,
    /// Median microseconds per node, no endpoint.
    pub none_us_per_node: f64,
    /// The same with a live endpoint and the exporter sending.
    pub live_us_per_node: f64,
    /// The same with a dead endpoint and the exporter retrying.
    pub dead_us_per_node: f64,
    /// Mean milliseconds between the starts of the paced runs (each gap
    /// drawn between 60% and 140% of it, so runs do not lock in step with
    /// the exporter's one-second tick).
    pub paced_gap_ms: u64,
    /// Paced runs with the app's own exporter loop (its one-second tick,
    /// its pause after a send, its back-off from a failing endpoint up to
    /// a minute): no endpoint, live, dead.
    pub paced: Vec<PacedMode>,
    /// Spans one run makes.
    pub spans_per_run: usize,
    /// Reading a run's events back and building its spans, µs per span.
    pub build_us_per_span: f64,
    /// Protobuf encoding, µs per span.
    pub encode_us_per_span: f64,
    /// A whole send of stored runs (read, build, encode, HTTP to the
    /// receiver, cursor), µs per span.
    pub export_us_per_span: f64,
    /// Spans in that send.
    pub exported_spans: u64,
    /// Protobuf bytes per span.
    pub bytes_per_span: f64,
    /// Spans the receiver decoded over the whole benchmark (a check that
    /// the export ran).
    pub received_spans: usize,
}

fn chain(nodes: u32) -> serde_json::Value {
    let mut list = vec![json!({"id": "start", "kind": "input"})];
    let mut edges = Vec::new();
    for index in 1..=nodes {
        list.push(json!({"id": format!("n{index}"), "kind": "transform", "set": {"k": format!("{index}")}}));
        let from = if index == 1 {
            "start".to_owned()
        } else {
            format!("n{}", index - 1)
        };
        edges.push(json!({"from": from, "to": format!("n{index}")}));
    }
    json!({"version": 2, "name": "bench-otel", "state": {"k": "number"}, "nodes": list, "edges": edges})
}

fn endpoint(name: &str, url: &str) -> OtlpConfig {
    OtlpConfig {
        name: name.to_owned(),
        endpoint: url.to_owned(),
        protocol: codexos_otel::Protocol::Http,
        headers: std::collections::BTreeMap::new(),
        secret_headers: std::collections::BTreeMap::new(),
        capture_content: false,
        max_backlog: 1_000_000,
        timeout_secs: 10,
    }
}

fn io_error(source: std::io::Error) -> Error {
    Error::Home {
        path: std::env::temp_dir(),
        source,
    }
}

impl Runtime {
    /// The endpoints the exporter sees now (the benchmark's, never written
    /// to config.toml).
    fn set_bench_endpoints(&self, endpoints: Vec<OtlpConfig>) -> Result<()> {
        for endpoint in &endpoints {
            self.store
                .otlp_track(&endpoint.name, &crate::telemetry::target(endpoint), true)?;
        }
        *self
            .otlp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = endpoints;
        Ok(())
    }

    /// Runs `bench otel`.
    pub async fn bench_otel(
        self: &Arc<Self>,
        nodes: u32,
        runs: u32,
        rounds: u32,
    ) -> Result<OtelBench> {
        if !self.otlp_endpoints().is_empty() {
            return Err(Error::InvalidOtlp {
                name: "bench".to_owned(),
                message: "run `codexos bench otel` in a data home with no [[otlp]] endpoint (CODEXOS_HOME=$(mktemp -d))".to_owned(),
            });
        }
        let scratch = tempfile::tempdir().map_err(io_error)?;
        let flow = scratch.path().join("bench-otel.flow.json");
        std::fs::write(&flow, chain(nodes).to_string()).map_err(io_error)?;
        let receiver = Receiver::http("127.0.0.1:0".parse().expect("a socket address"))
            .await
            .map_err(io_error)?;
        let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(io_error)?;
        let live = vec![endpoint("bench-live", &receiver.url())];
        let dead = vec![endpoint("bench-dead", &format!("http://{dead_port}"))];
        let cancel = CancellationToken::new();
        // The sender with no pause between passes: the worst case for the
        // runs beside it (the app's pauses a second between passes).
        let sender = {
            let runtime = Arc::clone(self);
            let stop = cancel.clone();
            tokio::spawn(async move {
                while !stop.is_cancelled() {
                    if !runtime.otlp_endpoints().is_empty() {
                        let _ = runtime.export_runs(None).await;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            })
        };
        let mut per_node: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        let mut run_ids = Vec::new();
        // A warm-up run, not measured.
        self.run_flow_file(&flow, json!({}), FlowRunOptions::default(), cancel.clone())
            .await?;
        for _ in 0..rounds {
            for (mode, endpoints) in [Vec::new(), live.clone(), dead.clone()]
                .into_iter()
                .enumerate()
            {
                self.set_bench_endpoints(endpoints)?;
                for _ in 0..runs {
                    let started = Instant::now();
                    let outcome = self
                        .run_flow_file(&flow, json!({}), FlowRunOptions::default(), cancel.clone())
                        .await?;
                    per_node[mode]
                        .push(started.elapsed().as_secs_f64() * 1e6 / f64::from(nodes.max(1)));
                    run_ids.push(outcome.run_id);
                }
            }
        }
        cancel.cancel();
        sender.await.ok();
        self.set_bench_endpoints(live.clone())?;
        self.export_runs(None).await?;
        let costs = self.export_costs(&run_ids, &receiver.url()).await?;
        let paced = self
            .bench_otel_paced(&flow, nodes, runs, rounds, [live.clone(), dead])
            .await?;
        self.set_bench_endpoints(live.clone())?;
        self.export_runs(None).await?;
        for name in ["bench-live", "bench-dead", "bench-export"] {
            self.store.otlp_forget(name)?;
        }
        Ok(OtelBench {
            nodes,
            runs,
            rounds,
            none_us_per_node: percentile(&mut per_node[0], 0.5),
            live_us_per_node: percentile(&mut per_node[1], 0.5),
            dead_us_per_node: percentile(&mut per_node[2], 0.5),
            paced_gap_ms: PACED_GAP_MS,
            paced,
            spans_per_run: costs.spans_per_run,
            build_us_per_span: costs.build_us,
            encode_us_per_span: costs.encode_us,
            export_us_per_span: costs.send_us,
            exported_spans: costs.sent_spans,
            bytes_per_span: costs.bytes,
            received_spans: receiver.spans().len(),
        })
    }
}

/// Mean milliseconds between the starts of paced runs: several runs per
/// tick of the app's exporter loop, several of its passes per mode.
const PACED_GAP_MS: u64 = 250;

/// A paced run's figures: µs per node, and whether a pass ended during it.
#[derive(Default)]
struct PacedRuns {
    per_node: Vec<f64>,
    coinciding: Vec<f64>,
    passes: u32,
}

impl PacedRuns {
    fn summary(mut self, mode: &str) -> PacedMode {
        let runs = self.per_node.len();
        let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len().max(1) as f64;
        PacedMode {
            mode: mode.to_owned(),
            runs,
            mean_us_per_node: mean(&self.per_node),
            max_us_per_node: self.per_node.iter().copied().fold(0.0, f64::max),
            median_us_per_node: percentile(&mut self.per_node, 0.5),
            passes: self.passes,
            coinciding_runs: self.coinciding.len(),
            coinciding_mean_us_per_node: (!self.coinciding.is_empty())
                .then(|| mean(&self.coinciding)),
        }
    }
}

impl Runtime {
    /// When the app's loop last tried `endpoint` (a pass's end).
    fn last_attempt(&self, endpoint: Option<&str>) -> Result<Option<i64>> {
        let Some(endpoint) = endpoint else {
            return Ok(None);
        };
        Ok(self
            .store
            .otlp_status()?
            .into_iter()
            .find(|cursor| cursor.endpoint == endpoint)
            .and_then(|cursor| cursor.last_attempt_ms))
    }

    /// The paced phase: the app's exporter loop runs through it (as in the
    /// app, its back-off from the dead endpoint carries over between
    /// rounds); the modes interleave, their order turning each round; runs
    /// start [`PACED_GAP_MS`] apart on average, each gap drawn between 60%
    /// and 140% of it (a fixed sequence, the same for every mode's share).
    async fn bench_otel_paced(
        self: &Arc<Self>,
        flow: &std::path::Path,
        nodes: u32,
        runs: u32,
        rounds: u32,
        [live, dead]: [Vec<OtlpConfig>; 2],
    ) -> Result<Vec<PacedMode>> {
        let cancel = CancellationToken::new();
        self.set_bench_endpoints(Vec::new())?;
        let app = crate::telemetry::exporter(Arc::clone(self), cancel.clone(), false);
        let modes = [Vec::new(), live, dead];
        let mut measured: [PacedRuns; 3] = Default::default();
        let mut jitter: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..rounds as usize {
            for turn in 0..modes.len() {
                let mode = (round + turn) % modes.len();
                let endpoints = modes[mode].clone();
                let name = endpoints.first().map(|endpoint| endpoint.name.clone());
                self.set_bench_endpoints(endpoints)?;
                let mut seen = self.last_attempt(name.as_deref())?;
                for _ in 0..runs {
                    jitter ^= jitter << 13;
                    jitter ^= jitter >> 7;
                    jitter ^= jitter << 17;
                    let gap = PACED_GAP_MS * 6 / 10 + jitter % (PACED_GAP_MS * 8 / 10 + 1);
                    let next = Instant::now() + std::time::Duration::from_millis(gap);
                    let started = Instant::now();
                    self.run_flow_file(
                        flow,
                        json!({}),
                        FlowRunOptions::default(),
                        CancellationToken::new(),
                    )
                    .await?;
                    let us = started.elapsed().as_secs_f64() * 1e6 / f64::from(nodes.max(1));
                    let runs = &mut measured[mode];
                    runs.per_node.push(us);
                    let now = self.last_attempt(name.as_deref())?;
                    if now != seen {
                        runs.coinciding.push(us);
                        runs.passes += 1;
                    }
                    tokio::time::sleep_until(next.into()).await;
                    let after = self.last_attempt(name.as_deref())?;
                    if after != now {
                        runs.passes += 1;
                    }
                    seen = after;
                }
            }
        }
        cancel.cancel();
        app.await.ok();
        let [none, live, dead] = measured;
        Ok(vec![
            none.summary("none"),
            live.summary("live"),
            dead.summary("dead"),
        ])
    }
}

/// The export's own work, per span.
struct Costs {
    spans_per_run: usize,
    build_us: f64,
    encode_us: f64,
    bytes: f64,
    send_us: f64,
    sent_spans: u64,
}

impl Runtime {
    /// Reads stored runs back into spans, encodes them, then sends every
    /// stored run to a new endpoint at `url`.
    async fn export_costs(&self, run_ids: &[String], url: &str) -> Result<Costs> {
        // Reading a run's events back is part of building its spans.
        let started = Instant::now();
        let mut spans = Vec::new();
        let mut runs = 0;
        for run in run_ids.iter().take(20) {
            let texts = self.store.run_events_since(run, None)?;
            let decoded: Vec<RunEvent> = texts
                .iter()
                .filter_map(|text| serde_json::from_str(text).ok())
                .collect();
            let info = codexos_otel::RunInfo {
                run: run.clone(),
                flow: "bench-otel".to_owned(),
                ..codexos_otel::RunInfo::default()
            };
            spans.extend(codexos_otel::run_spans(
                &info,
                &decoded,
                codexos_otel::Content::default(),
            ));
            runs += 1;
        }
        let build = started.elapsed().as_secs_f64() * 1e6;
        let count = spans.len().max(1) as f64;
        let spans_per_run = spans.len() / runs.max(1);
        let started = Instant::now();
        let bytes = codexos_otel::export::request(spans).encode_to_vec();
        let encode = started.elapsed().as_secs_f64() * 1e6;
        // A whole send: a new endpoint owed every stored run.
        let all = endpoint("bench-export", url);
        self.store.otlp_forget(&all.name)?;
        self.store
            .otlp_track(&all.name, &crate::telemetry::target(&all), false)?;
        self.set_bench_endpoints(vec![all])?;
        let started = Instant::now();
        let report = self.export_runs(None).await?;
        let send = started.elapsed().as_secs_f64() * 1e6;
        self.set_bench_endpoints(Vec::new())?;
        if let Some(error) = report.first().and_then(|report| report.error.clone()) {
            return Err(Error::InvalidOtlp {
                name: "bench-export".to_owned(),
                message: error,
            });
        }
        let sent_spans = report.first().map_or(0, |report| report.spans);
        Ok(Costs {
            spans_per_run,
            build_us: build / count,
            encode_us: encode / count,
            bytes: bytes.len() as f64 / count,
            send_us: send / (sent_spans.max(1) as f64),
            sent_spans,
        })
    }
}
