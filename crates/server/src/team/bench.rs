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
    /// Seconds into the load when the server process was killed (none: it
    /// was not).
    pub killed_after_s: Option<u64>,
    /// Streams that dropped and were reconnected (after `Last-Event-ID`).
    pub reconnects: usize,
    /// Runs the clients resumed after the server was killed under them.
    pub resumed: usize,
    /// Runs left running that no client knew of (their start answer was
    /// lost with the server), resumed when the load was over.
    pub orphans: usize,
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
pub struct Seen {
    start_ms: Vec<f64>,
    complete_ms: Vec<f64>,
    /// Run id → the sequence numbers delivered.
    delivered: Vec<(String, Vec<u64>)>,
    failures: Vec<String>,
    /// Streams reconnected after the connection dropped.
    reconnects: usize,
    /// Runs whose stream ended `interrupted` and that the client resumed.
    resumed: usize,
}

impl Seen {
    fn absorb(&mut self, other: Self) {
        self.start_ms.extend(other.start_ms);
        self.complete_ms.extend(other.complete_ms);
        self.delivered.extend(other.delivered);
        self.failures.extend(other.failures);
        self.reconnects += other.reconnects;
        self.resumed += other.resumed;
    }
}

/// Where the load goes: the server's address and the bench token.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// An `admin` token of the bench account.
    pub token: String,
}

/// How long a client keeps trying while the server is away (killed and
/// starting again).
const AWAY: Duration = Duration::from_mins(1);

/// Starts a run, retrying while the server cannot be reached.
async fn start(http: &reqwest::Client, target: &Target) -> Result<String, String> {
    let gave_up = Instant::now() + AWAY;
    loop {
        let sent = codexos_net::send(
            http.post(format!(
                "{}/api/v1/workspaces/bench/flows/echo/runs",
                target.base
            ))
            .bearer_auth(&target.token)
            .json(&json!({ "input": {} })),
        )
        .await;
        match sent {
            Ok(response) if response.status().as_u16() == 202 => {
                let started: Value = response.json().await.map_err(|error| error.to_string())?;
                return Ok(started["runId"].as_str().unwrap_or_default().to_owned());
            }
            Ok(response) => return Err(format!("start answered {}", response.status())),
            Err(error) if Instant::now() > gave_up => {
                return Err(format!("start: the server stayed away: {error}"))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Follows a run's events to its end, reconnecting after `Last-Event-ID`
/// when the connection drops and resuming the run when its stream says
/// the server stopped under it. Answers the end status.
async fn follow(
    http: &reqwest::Client,
    target: &Target,
    run: &str,
    sequence: &mut Vec<u64>,
    seen: &mut Seen,
) -> Result<String, String> {
    let events = format!("{}/api/v1/workspaces/bench/runs/{run}/events", target.base);
    let mut gave_up = Instant::now() + AWAY;
    let mut dropped = false;
    loop {
        let mut request = http.get(&events).bearer_auth(&target.token);
        if let Some(last) = sequence.last() {
            request = request.header("last-event-id", last.to_string());
        }
        let status = match codexos_net::send(request).await {
            Ok(stream) if stream.status().is_success() => read_stream(stream, sequence).await,
            Ok(stream) => return Err(format!("events answered {}", stream.status())),
            Err(error) => Err(error.to_string()),
        };
        match status.as_deref() {
            Ok("interrupted") => {
                // The server was killed under it: resume from its checkpoint.
                let resumed = codexos_net::send(
                    http.post(format!(
                        "{}/api/v1/workspaces/bench/runs/{run}/resume",
                        target.base
                    ))
                    .bearer_auth(&target.token)
                    .json(&json!({})),
                )
                .await
                .map_err(|error| error.to_string())?;
                if resumed.status().as_u16() != 202 && resumed.status().as_u16() != 409 {
                    return Err(format!("resume answered {}", resumed.status()));
                }
                seen.resumed += 1;
                gave_up = Instant::now() + AWAY;
            }
            Ok(status) => {
                seen.reconnects += usize::from(dropped);
                return Ok(status.to_owned());
            }
            Err(error) if Instant::now() > gave_up => {
                return Err(format!("events: the server stayed away: {error}"))
            }
            Err(_) => {
                dropped = true;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads server-sent events to the `end` event: its status. The sequence
/// numbers read are appended; a dropped connection is an error.
async fn read_stream(stream: reqwest::Response, sequence: &mut Vec<u64>) -> Result<String, String> {
    let mut bytes = stream.bytes_stream();
    let mut buffer = String::new();
    while let Some(chunk) = bytes.next().await {
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
                return Ok(end["status"].as_str().unwrap_or_default().to_owned());
            }
            if let Some(id) = block.lines().find_map(|line| line.strip_prefix("id: ")) {
                sequence.push(id.parse().unwrap_or(u64::MAX));
            }
        }
    }
    Err("the stream ended without its end event".to_owned())
}

async fn one_run(http: &reqwest::Client, target: &Target, seen: &mut Seen) -> Result<(), String> {
    let began = Instant::now();
    let run = start(http, target).await?;
    seen.start_ms.push(began.elapsed().as_secs_f64() * 1000.0);
    let mut sequence = Vec::new();
    let status = follow(http, target, &run, &mut sequence, seen).await;
    seen.complete_ms
        .push(began.elapsed().as_secs_f64() * 1000.0);
    seen.delivered.push((run, sequence));
    match status?.as_str() {
        "succeeded" => Ok(()),
        other => Err(format!("a run's stream ended `{other}`")),
    }
}

/// `clients` clients against `target` for `duration`, each starting a run
/// and following it to its end, again and again.
pub async fn load(target: &Target, clients: usize, duration: Duration) -> Seen {
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let target = target.clone();
            tokio::spawn(async move {
                let mut seen = Seen::default();
                let Ok(http) = codexos_net::client().build() else {
                    seen.failures.push("cannot build an HTTP client".to_owned());
                    return seen;
                };
                while Instant::now() < deadline {
                    if let Err(failure) = one_run(&http, &target, &mut seen).await {
                        seen.failures.push(failure);
                    }
                }
                seen
            })
        })
        .collect();
    let mut all = Seen::default();
    for task in tasks {
        match task.await {
            Ok(seen) => all.absorb(seen),
            Err(error) => all.failures.push(format!("a client failed: {error}")),
        }
    }
    all
}

/// Sets up a bench server home: the `bench` account and workspace, the
/// `echo` flow of three no-model nodes; answers an `admin` token.
pub fn prepare(home: &std::path::Path, database: Option<&str>) -> Result<String, ApiError> {
    let team = open(home, database)?;
    if !team.accounts()?.is_empty() {
        return Err(ApiError::invalid(
            "the bench fills an empty database: give it a new one (e.g. `createdb codexos_bench_2`)",
        ));
    }
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
    team.runtime("bench")?.save_flow(&flow)?;
    Ok(token)
}

/// A bench server home opened in this process (rate limits off), its
/// metadata in `database` (PostgreSQL) when given.
pub fn open(home: &std::path::Path, database: Option<&str>) -> Result<Arc<Team>, ApiError> {
    Team::open(TeamOptions {
        database: database.map(str::to_owned),
        claim_lease: Duration::from_secs(15),
        home: home.to_path_buf(),
        models: None,
        limits: Limits {
            per_credential: u32::MAX,
            per_address: u32::MAX,
            max_body: 1024 * 1024,
            max_upload: 1024 * 1024,
        },
        webhook_retry: Duration::from_secs(5),
        oidc: None,
        private_webhooks: false,
        cron_floor: Duration::from_mins(1),
        secure_cookies: false,
    })
}

/// Serves `team` on a free loopback port until `stop`.
async fn serve(
    team: Arc<Team>,
    stop: &CancellationToken,
) -> Result<(String, tokio::task::JoinHandle<std::io::Result<()>>), ApiError> {
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
    Ok((format!("http://{address}"), server))
}

/// Runs the load in this process: `clients` clients for `duration`, the
/// metadata in `database` (an empty PostgreSQL database) when given, else
/// SQLite in a scratch home.
pub async fn run(
    clients: usize,
    duration: Duration,
    database: Option<&str>,
) -> Result<ServerBench, ApiError> {
    let home = tempfile::tempdir()
        .map_err(|error| ApiError::internal(format!("cannot make a scratch folder: {error}")))?;
    let token = prepare(home.path(), database)?;
    let team = open(home.path(), database)?;
    let stop = CancellationToken::new();
    let (base, server) = serve(Arc::clone(&team), &stop).await?;
    let target = Target { base, token };
    let began = Instant::now();
    let seen = load(&target, clients, duration).await;
    let wall = began.elapsed().as_secs_f64();
    let bench = check(&team, &target, seen, clients, wall).await;
    stop.cancel();
    server.await.ok();
    bench
}

/// After a load (the server may have been killed under it): serves the
/// home here, resumes every run left unfinished that no client resumed (a
/// run whose start answer was lost with the server), then checks against
/// the database that every run succeeded and every stream delivered the
/// stored events once, in order.
pub async fn settle(
    home: &std::path::Path,
    token: String,
    seen: Seen,
    clients: usize,
    wall: f64,
) -> Result<ServerBench, ApiError> {
    let team = open(home, None)?;
    let stop = CancellationToken::new();
    let (base, server) = serve(Arc::clone(&team), &stop).await?;
    let target = Target { base, token };
    let bench = check(&team, &target, seen, clients, wall).await;
    stop.cancel();
    server.await.ok();
    bench
}

async fn check(
    team: &Team,
    target: &Target,
    mut all: Seen,
    clients: usize,
    wall: f64,
) -> Result<ServerBench, ApiError> {
    let runtime = team.runtime("bench")?;
    let http = codexos_net::client()
        .build()
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let mut orphans = 0;
    for summary in runtime.runs(Some("echo"), u32::MAX)? {
        if summary.status == "running" {
            orphans += 1;
            let mut sequence = Vec::new();
            let mut ignored = Seen::default();
            // Its stream says `interrupted`, and it is resumed.
            if let Err(failure) =
                follow(&http, target, &summary.id, &mut sequence, &mut ignored).await
            {
                all.failures
                    .push(format!("resuming {}: {failure}", summary.id));
            }
            // Its stream, from the start, is checked like the others.
            all.delivered.push((summary.id, sequence));
        }
    }
    let mut unfinished = 0;
    let mut mismatched = 0;
    for summary in runtime.runs(Some("echo"), u32::MAX)? {
        if summary.status != "succeeded" {
            unfinished += 1;
        }
    }
    for (run, delivered) in &all.delivered {
        let (_, _, stored) = runtime.run_progress(run, None)?;
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
        killed_after_s: None,
        reconnects: all.reconnects,
        resumed: all.resumed,
        orphans,
        unfinished,
        mismatched,
        failed,
        failures: all.failures,
    })
}
