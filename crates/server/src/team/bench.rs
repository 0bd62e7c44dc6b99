//! `codexos bench server`: the team server under load on loopback. A
//! scratch server home (SQLite, `synchronous = NORMAL`, the default), one
//! workspace, a flow of three no-model nodes; N clients each start a run,
//! follow its events to the end over SSE, and start the next, for a fixed
//! time. Every run must end `succeeded` with every stored event delivered
//! once and in order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde::Serialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::roles::Scope;
use super::{ApiError, Limits, Team, TeamOptions};

/// The figures of one load run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerBench {
    /// Concurrent clients.
    pub clients: usize,
    /// Seconds the clients kept starting runs.
    pub seconds: f64,
    /// Runs started (202 answered).
    pub runs: usize,
    /// Runs started per second.
    pub starts_per_second: f64,
    /// Time to the 202 of a run start: p50, p99, ms.
    pub start_p50_ms: f64,
    /// See `start_p50_ms`.
    pub start_p99_ms: f64,
    /// From the start request to the stream's `end` event: p50, p99, ms.
    pub complete_p50_ms: f64,
    /// See `complete_p50_ms`.
    pub complete_p99_ms: f64,
    /// Events delivered over SSE.
    pub events: usize,
    /// Events delivered per second.
    pub events_per_second: f64,
    /// Runs that did not end `succeeded` in the database.
    pub unfinished: usize,
    /// Runs whose delivered events differ from the stored ones (missing,
    /// doubled or out of order).
    pub mismatched: usize,
    /// Runs that failed to start or to stream.
    pub failed: usize,
    /// The first reasons.
    pub failures: Vec<String>,
}

fn percentile(sorted: &[f64], share: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * share).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// One client's record.
#[derive(Default)]
struct Seen {
    start_ms: Vec<f64>,
    complete_ms: Vec<f64>,
    /// Run id → the sequence numbers delivered.
    delivered: Vec<(String, Vec<u64>)>,
    failures: Vec<String>,
}

async fn one_run(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    seen: &mut Seen,
) -> Result<(), String> {
    let began = Instant::now();
    let response = codexos_net::send(
        http.post(format!("{base}/api/v1/workspaces/bench/flows/echo/runs"))
            .bearer_auth(token)
            .json(&json!({ "input": {} })),
    )
    .await
    .map_err(|error| error.to_string())?;
    if response.status().as_u16() != 202 {
        return Err(format!("start answered {}", response.status()));
    }
    let started: Value = response.json().await.map_err(|error| error.to_string())?;
    seen.start_ms.push(began.elapsed().as_secs_f64() * 1000.0);
    let run = started["runId"].as_str().unwrap_or_default().to_owned();
    let stream = codexos_net::send(
        http.get(format!("{base}/api/v1/workspaces/bench/runs/{run}/events"))
            .bearer_auth(token),
    )
    .await
    .map_err(|error| error.to_string())?;
    let mut bytes = stream.bytes_stream();
    let mut buffer = String::new();
    let mut sequence = Vec::new();
    let mut status = String::new();
    'read: while let Some(chunk) = bytes.next().await {
        buffer.push_str(&String::from_utf8_lossy(
            &chunk.map_err(|error| error.to_string())?,
        ));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if block.contains("event: end") {
                let data = block
                    .lines()
                    .find_map(|line| line.strip_prefix("data: "))
                    .unwrap_or("{}");
                let end: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                end["status"]
                    .as_str()
                    .unwrap_or_default()
                    .clone_into(&mut status);
                break 'read;
            }
            if let Some(id) = block.lines().find_map(|line| line.strip_prefix("id: ")) {
                sequence.push(id.parse().unwrap_or(u64::MAX));
            }
        }
    }
    seen.complete_ms
        .push(began.elapsed().as_secs_f64() * 1000.0);
    seen.delivered.push((run, sequence));
    if status == "succeeded" {
        Ok(())
    } else {
        Err(format!("a run's stream ended `{status}`"))
    }
}

/// A scratch server on loopback with one workspace, one token and the
/// `echo` flow.
struct Scratch {
    _home: tempfile::TempDir,
    runtime: Arc<codexos_runtime::Runtime>,
    base: String,
    token: String,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn scratch() -> Result<Scratch, ApiError> {
    let home = tempfile::tempdir()
        .map_err(|error| ApiError::internal(format!("cannot make a scratch folder: {error}")))?;
    let team = Team::open(TeamOptions {
        home: home.path().to_path_buf(),
        models: None,
        limits: Limits {
            per_credential: u32::MAX,
            per_address: u32::MAX,
            max_body: 1024 * 1024,
        },
        webhook_retry: Duration::from_secs(5),
        oidc: None,
        secure_cookies: false,
    })?;
    team.add_account("bench", None)?;
    team.add_workspace("bench", "bench")?;
    let token = team
        .create_token("bench", "bench", &[Scope::Admin], 1)?
        .token;
    let flow: codexos_runtime::Flow = serde_json::from_value(json!({
        "version": 2, "name": "echo", "state": {"greeting": "string"},
        "nodes": [{"id": "start", "kind": "input"},
                  {"id": "say", "kind": "transform", "set": {"greeting": "'hello'"}},
                  {"id": "done", "kind": "output", "keys": ["greeting"]}],
        "edges": [{"from": "start", "to": "say"}, {"from": "say", "to": "done"}]
    }))
    .map_err(|error| ApiError::internal(error.to_string()))?;
    let runtime = team.runtime("bench")?;
    runtime.save_flow(&flow)?;
    let stop = CancellationToken::new();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let server_stop = stop.clone();
    let server = tokio::spawn(async move {
        super::serve_team(
            team,
            ([127, 0, 0, 1], 0).into(),
            None,
            server_stop,
            |address| {
                sender.send(address).ok();
            },
        )
        .await
    });
    let address = receiver
        .await
        .map_err(|_| ApiError::internal("the bench server did not start"))?;
    Ok(Scratch {
        _home: home,
        runtime,
        base: format!("http://{address}"),
        token,
        stop,
        server,
    })
}

/// Runs the load: `clients` clients for `duration`.
pub async fn run(clients: usize, duration: Duration) -> Result<ServerBench, ApiError> {
    let Scratch {
        _home,
        runtime,
        base,
        token,
        stop,
        server,
    } = scratch().await?;
    let began = Instant::now();
    let deadline = began + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (base, token) = (base.clone(), token.clone());
            tokio::spawn(async move {
                let mut seen = Seen::default();
                let Ok(http) = codexos_net::client().build() else {
                    seen.failures.push("cannot build an HTTP client".to_owned());
                    return seen;
                };
                while Instant::now() < deadline {
                    if let Err(failure) = one_run(&http, &base, &token, &mut seen).await {
                        seen.failures.push(failure);
                    }
                }
                seen
            })
        })
        .collect();
    let mut all = Seen::default();
    for task in tasks {
        let seen = task
            .await
            .map_err(|error| ApiError::internal(error.to_string()))?;
        all.start_ms.extend(seen.start_ms);
        all.complete_ms.extend(seen.complete_ms);
        all.delivered.extend(seen.delivered);
        all.failures.extend(seen.failures);
    }
    let wall = began.elapsed().as_secs_f64();
    stop.cancel();
    server.await.ok();
    // Check against the database: every run succeeded, every stored event
    // was delivered once, in order.
    let mut unfinished = 0;
    let mut mismatched = 0;
    for (run, delivered) in &all.delivered {
        let (_, status, stored) = runtime.run_progress(run, None)?;
        if status != "succeeded" {
            unfinished += 1;
        }
        let stored: Vec<u64> = stored.iter().map(|event| event.seq).collect();
        if &stored != delivered {
            mismatched += 1;
        }
    }
    let events: usize = all.delivered.iter().map(|(_, seq)| seq.len()).sum();
    all.start_ms.sort_by(f64::total_cmp);
    all.complete_ms.sort_by(f64::total_cmp);
    let runs = all.start_ms.len();
    let failed = all.failures.len();
    all.failures.truncate(5);
    Ok(ServerBench {
        clients,
        seconds: wall,
        runs,
        starts_per_second: runs as f64 / wall,
        start_p50_ms: percentile(&all.start_ms, 0.5),
        start_p99_ms: percentile(&all.start_ms, 0.99),
        complete_p50_ms: percentile(&all.complete_ms, 0.5),
        complete_p99_ms: percentile(&all.complete_ms, 0.99),
        events,
        events_per_second: events as f64 / wall,
        unfinished,
        mismatched,
        failed,
        failures: all.failures,
    })
}
