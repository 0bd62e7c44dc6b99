//! OpenTelemetry export of runs: every run that ends is sent, as OTLP spans
//! with the `GenAI` conventions, to each `[[otlp]]` endpoint.
//!
//! Nothing is copied on a run's path: the stored run is the buffer. Each
//! endpoint has a cursor in the store (the last run ending it accepted);
//! sending reads the runs after it, and the cursor moves once the endpoint
//! accepted them. So a run never waits on an endpoint, an endpoint that is
//! down gets its backlog in order when it is back (up to `max_backlog` runs;
//! older ones are counted as dropped), and a lease keeps two processes from
//! sending the same runs. Offline mode sends nothing.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use codexos_flow::RunEvent;
use codexos_otel::{Content, Endpoint, Exporter, RunInfo};
use secrecy::ExposeSecret as _;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::OtlpConfig;
use crate::{Error, Result, Runtime};
use codexos_store::otlp::PendingRun;

/// Runs per export request, at most.
const BATCH_RUNS: u32 = 64;
/// Encoded spans per request, about (collectors take 4 MiB by default).
const BATCH_BYTES: usize = 1_500_000;
/// Longest wait for one export: well under the lease.
const MAX_TIMEOUT_SECS: u32 = 60;
/// How long a process may send to an endpoint before it must renew.
const LEASE_MS: u64 = 120_000;

/// This process's name in leases.
fn owner() -> &'static str {
    static OWNER: OnceLock<String> = OnceLock::new();
    OWNER.get_or_init(|| format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()))
}

/// An endpoint, its settings and what it has been sent.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct OtlpStatus {
    /// Name.
    pub name: String,
    /// URL.
    pub endpoint: String,
    /// `http/protobuf` or `grpc`.
    pub protocol: String,
    /// Whether content (arguments, results, outputs) is sent.
    pub capture_content: bool,
    /// Header names (values are never shown).
    pub headers: Vec<String>,
    /// Runs sent.
    #[specta(type = u32)]
    pub runs_sent: u64,
    /// Spans sent.
    #[specta(type = u32)]
    pub spans_sent: u64,
    /// Spans the endpoint rejected.
    #[specta(type = u32)]
    pub rejected: u64,
    /// Runs skipped: the backlog was over its bound, or the endpoint
    /// refused them for good.
    #[specta(type = u32)]
    pub dropped: u64,
    /// Run endings waiting.
    #[specta(type = u32)]
    pub pending: u64,
    /// The last failure, cleared by the next success.
    pub last_error: Option<String>,
    /// Unix milliseconds of the last accepted export.
    pub last_sent_ms: Option<f64>,
}

/// What one pass sent to one endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ExportReport {
    /// Endpoint name.
    pub endpoint: String,
    /// Runs sent.
    #[specta(type = u32)]
    pub runs: u64,
    /// Spans sent.
    #[specta(type = u32)]
    pub spans: u64,
    /// Of those, rejected by the endpoint.
    #[specta(type = u32)]
    pub rejected: u64,
    /// Runs skipped now because the backlog was over its bound.
    #[specta(type = u32)]
    pub dropped: u64,
    /// Runs skipped now because the endpoint refused them for good (a
    /// request it will never accept; the runs after them are sent).
    #[specta(type = u32)]
    pub refused: u64,
    /// Run endings still waiting.
    #[specta(type = u32)]
    pub pending: u64,
    /// Why sending stopped, when it did (unreachable, refused, offline,
    /// another process sending).
    pub error: Option<String>,
}

impl Runtime {
    /// The `[[otlp]]` endpoints configured now.
    #[must_use]
    pub fn otlp_endpoints(&self) -> Vec<OtlpConfig> {
        self.otlp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Starts tracking the configured endpoints (new ones from now on).
    pub(crate) fn track_otlp(&self) -> Result<()> {
        for endpoint in self.otlp_endpoints() {
            self.store
                .otlp_track(&endpoint.name, &target(&endpoint), true)?;
        }
        Ok(())
    }

    /// Every endpoint with what it has been sent.
    pub fn otlp_status(&self) -> Result<Vec<OtlpStatus>> {
        let cursors = self.store.otlp_status()?;
        Ok(self
            .otlp_endpoints()
            .into_iter()
            .map(|endpoint| {
                let cursor = cursors
                    .iter()
                    .find(|cursor| cursor.endpoint == endpoint.name);
                OtlpStatus {
                    name: endpoint.name.clone(),
                    endpoint: endpoint.endpoint.clone(),
                    protocol: endpoint.protocol.as_str().to_owned(),
                    capture_content: endpoint.capture_content,
                    headers: endpoint
                        .headers
                        .keys()
                        .chain(endpoint.secret_headers.keys())
                        .cloned()
                        .collect(),
                    runs_sent: cursor.map_or(0, |cursor| cursor.runs_sent),
                    spans_sent: cursor.map_or(0, |cursor| cursor.spans_sent),
                    rejected: cursor.map_or(0, |cursor| cursor.rejected),
                    dropped: cursor.map_or(0, |cursor| cursor.dropped),
                    pending: cursor.map_or(0, |cursor| cursor.pending),
                    last_error: cursor.and_then(|cursor| cursor.last_error.clone()),
                    last_sent_ms: cursor
                        .and_then(|cursor| cursor.last_sent_ms)
                        .map(|ms| ms as f64),
                }
            })
            .collect())
    }

    /// The sender of an endpoint, its secret headers read from the vault.
    fn otlp_exporter(&self, config: &OtlpConfig) -> Result<Exporter> {
        let mut headers: Vec<(String, String)> = config
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        for (header, secret) in &config.secret_headers {
            let purpose = format!("otlp {} header {header}", config.name);
            let value = self
                .secret_for(secret, &purpose)
                .map_err(|error| Error::InvalidOtlp {
                    name: config.name.clone(),
                    message: format!(
                    "header `{header}` takes its value from the vault secret `{secret}`: {error}"
                ),
                })?;
            headers.push((header.clone(), value.expose_secret().to_owned()));
        }
        Ok(Exporter::new(Endpoint {
            name: config.name.clone(),
            url: config.endpoint.clone(),
            protocol: config.protocol,
            headers,
            timeout: Duration::from_secs(u64::from(config.timeout_secs.clamp(1, MAX_TIMEOUT_SECS))),
        })?)
    }

    /// Checks an endpoint answers (an export of no spans): reachable, and
    /// the headers accepted.
    pub async fn test_otlp(&self, config: &OtlpConfig) -> Result<()> {
        self.otlp_exporter(config)?.export(Vec::new()).await?;
        Ok(())
    }

    /// Checks the configured endpoint `name` answers.
    pub async fn test_otlp_named(&self, name: &str) -> Result<()> {
        let config = self
            .otlp_endpoints()
            .into_iter()
            .find(|endpoint| endpoint.name == name)
            .ok_or_else(|| self.unknown_otlp(name))?;
        self.test_otlp(&config).await
    }

    /// Adds an `[[otlp]]` endpoint after checking it (name free, URL, secret
    /// headers in the vault, and — unless `unchecked` — that it answers).
    /// `past_runs`: send the runs stored so far too (else from now on).
    pub async fn add_otlp(
        &self,
        mut config: OtlpConfig,
        past_runs: bool,
        unchecked: bool,
    ) -> Result<()> {
        config.name = config.name.trim().to_owned();
        config.endpoint = config.endpoint.trim().to_owned();
        let name = config.name.clone();
        if !crate::plain_name(&name, &['.']) {
            return Err(Error::InvalidSourceName { name });
        }
        if self.otlp_endpoints().iter().any(|known| known.name == name) {
            return Err(Error::InvalidOtlp {
                name,
                message: "an endpoint of that name is configured already — remove it first or pick another name".to_owned(),
            });
        }
        if let Some(problem) = plain_secret(&config) {
            return Err(Error::InvalidOtlp {
                name,
                message: format!("{problem}: keys go in the vault, not in config.toml — store it (Settings → Vault or `codexos vault set NAME`) and give it as a secret header"),
            });
        }
        // Builds the sender: a bad URL or header is refused here.
        self.otlp_exporter(&config)?;
        if !unchecked {
            self.test_otlp(&config).await?;
        }
        crate::config::add_otlp(&self.home.config(), &config)?;
        // A name used before starts over.
        self.store.otlp_forget(&config.name)?;
        self.store
            .otlp_track(&config.name, &target(&config), !past_runs)?;
        self.audited("otlp.add", &config.name, serde_json::json!({ "endpoint": Self::audit_url(&config.endpoint), "protocol": config.protocol.as_str() }));
        self.otlp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(config);
        Ok(())
    }

    /// Removes an `[[otlp]]` endpoint (its runs stay; nothing more is sent).
    pub fn remove_otlp(&self, name: &str) -> Result<()> {
        if !self
            .otlp_endpoints()
            .iter()
            .any(|endpoint| endpoint.name == name)
        {
            return Err(self.unknown_otlp(name));
        }
        crate::config::remove_otlp(&self.home.config(), name)?;
        self.store.otlp_forget(name)?;
        self.otlp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|endpoint| endpoint.name != name);
        self.audited("otlp.remove", name, serde_json::json!({}));
        Ok(())
    }

    fn unknown_otlp(&self, name: &str) -> Error {
        let names: Vec<String> = self
            .otlp_endpoints()
            .into_iter()
            .map(|endpoint| endpoint.name)
            .collect();
        Error::UnknownOtlp {
            name: name.to_owned(),
            known: if names.is_empty() {
                "none is configured".to_owned()
            } else {
                format!("configured: {}", names.join(", "))
            },
        }
    }

    /// Sends what each endpoint (or only `only`) is owed, oldest first,
    /// until it has everything or a send fails (the rest waits for the next
    /// pass). One report per endpoint.
    pub async fn export_runs(&self, only: Option<&str>) -> Result<Vec<ExportReport>> {
        self.export_runs_until(only, None).await
    }

    /// [`Runtime::export_runs`], stopping between requests once `deadline`
    /// has passed (the rest waits; a request under way is never cut).
    pub async fn export_runs_until(
        &self,
        only: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<Vec<ExportReport>> {
        self.reload_otlp();
        let endpoints: Vec<OtlpConfig> = self
            .otlp_endpoints()
            .into_iter()
            .filter(|endpoint| only.is_none_or(|only| only == endpoint.name))
            .collect();
        if let (Some(only), true) = (only, endpoints.is_empty()) {
            return Err(self.unknown_otlp(only));
        }
        // Each endpoint on its own: a slow one does not hold up the others.
        let sends = endpoints
            .iter()
            .map(|config| self.export_endpoint(config, deadline));
        futures::future::join_all(sends).await.into_iter().collect()
    }

    /// Picks up `[[otlp]]` edits made by another process (the CLI while the
    /// app is open) when config.toml changed since the last look.
    fn reload_otlp(&self) {
        let path = self.home.config();
        let modified = std::fs::metadata(&path)
            .and_then(|meta| meta.modified())
            .ok();
        let mut seen = self
            .otlp_config_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if modified.is_none() || *seen == modified {
            return;
        }
        match crate::Config::load_or_create(&path) {
            Ok(config) => {
                *self
                    .otlp
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = config.otlp;
                *seen = modified;
            }
            // A half-written or broken file: keep what we have, try again later.
            Err(error) => {
                tracing::debug!(%error, "config.toml unreadable; OTLP endpoints unchanged");
            }
        }
    }

    async fn export_endpoint(
        &self,
        config: &OtlpConfig,
        deadline: Option<Instant>,
    ) -> Result<ExportReport> {
        let store = &self.store;
        let mut report = ExportReport {
            endpoint: config.name.clone(),
            ..ExportReport::default()
        };
        store.otlp_track(&config.name, &target(config), true)?;
        let pending_now = |report: &mut ExportReport| -> Result<()> {
            report.pending = store.otlp_waiting(&config.name)?;
            Ok(())
        };
        if store.otlp_pending(&config.name, 1)?.is_empty() {
            return Ok(report);
        }
        if let Err(refused) = codexos_net::check(&format!("OTLP export to `{}`", config.name)) {
            report.error = Some(refused.to_string());
            pending_now(&mut report)?;
            return Ok(report);
        }
        if !store.otlp_claim(&config.name, owner(), LEASE_MS)? {
            report.error = Some(
                "another CodexOS process is sending to this endpoint; it sends these runs"
                    .to_owned(),
            );
            pending_now(&mut report)?;
            return Ok(report);
        }
        // Under the lease: only the sender moves the cursor.
        report.dropped = store.otlp_bound(&config.name, config.max_backlog)?;
        if report.dropped > 0 {
            tracing::warn!(endpoint = %config.name, dropped = report.dropped, "OTLP backlog over its bound: the oldest runs were skipped");
        }
        let sent = self.send_backlog(config, &mut report, deadline).await;
        store.otlp_release(&config.name, owner())?;
        if let Err(error) = sent {
            let message = error.to_string();
            store.otlp_failed(&config.name, &message)?;
            tracing::warn!(endpoint = %config.name, %message, "OTLP export failed; the runs wait for the next try");
            report.error = Some(message);
        }
        pending_now(&mut report)?;
        Ok(report)
    }

    /// The spans of one stored run ending.
    fn pending_spans(
        &self,
        pending: &PendingRun,
        content: Content,
    ) -> Result<Vec<codexos_otel::Span>> {
        let events =
            self.store
                .run_events_between(&pending.run, pending.after_seq, pending.upto_seq)?;
        let events: Vec<RunEvent> = events
            .iter()
            .filter_map(|text| serde_json::from_str(text).ok())
            .collect();
        let info = RunInfo {
            run: pending.run.clone(),
            flow: pending.flow.clone(),
            project: pending.project.clone(),
            parent: pending
                .trace_parent
                .as_deref()
                .and_then(codexos_otel::TraceParent::parse),
        };
        Ok(codexos_otel::run_spans(&info, &events, content))
    }

    /// Sends batches until none is left (under the lease): up to
    /// [`BATCH_RUNS`] runs and about [`BATCH_BYTES`] per request. A request
    /// the endpoint refuses for good is sent again one run at a time, and
    /// the one run it still refuses is skipped (counted as refused now and
    /// dropped in the endpoint's totals) so the
    /// runs after it are not held up forever.
    async fn send_backlog(
        &self,
        config: &OtlpConfig,
        report: &mut ExportReport,
        deadline: Option<Instant>,
    ) -> Result<()> {
        let exporter = self.otlp_exporter(config)?;
        let content = Content {
            capture: config.capture_content,
        };
        let mut limit = BATCH_RUNS;
        loop {
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Ok(());
            }
            let pending = self.store.otlp_pending(&config.name, limit)?;
            let mut spans = Vec::new();
            let mut bytes = 0;
            let mut batch = Vec::new();
            for run in pending {
                let run_spans = self.pending_spans(&run, content)?;
                let size: usize = run_spans.iter().map(prost::Message::encoded_len).sum();
                if !batch.is_empty() && bytes + size > BATCH_BYTES {
                    break;
                }
                bytes += size;
                spans.extend(run_spans);
                batch.push(run);
            }
            let Some(last) = batch.last().map(|pending| pending.fact) else {
                return Ok(());
            };
            let count = spans.len() as u64;
            let accepted = match exporter.export(spans).await {
                Ok(accepted) => accepted,
                Err(error) if error.is_permanent() && batch.len() > 1 => {
                    // Find the run it refuses: one at a time from here.
                    limit = 1;
                    continue;
                }
                Err(error) if error.is_permanent() => {
                    let reason = format!("skipped run {}: {error}", batch[0].run);
                    tracing::warn!(endpoint = %config.name, %reason, "an OTLP endpoint refuses a run for good");
                    self.store.otlp_skip(&config.name, owner(), last, &reason)?;
                    report.refused += 1;
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let runs = batch.len() as u64;
            if !self
                .store
                .otlp_sent(&config.name, owner(), last, runs, count, accepted.rejected)?
            {
                // The lease ran out mid-send and another process moved on
                // (the timeout is kept well under the lease, so this is a
                // process that stalled).
                tracing::warn!(endpoint = %config.name, runs, "an OTLP send outlived its lease; another process may send these runs again");
                return Ok(());
            }
            report.runs += runs;
            report.spans += count;
            report.rejected += accepted.rejected;
            limit = BATCH_RUNS;
            self.store.otlp_claim(&config.name, owner(), LEASE_MS)?;
        }
    }
}

/// A credential in the plain part of an endpoint (its URL or a plain
/// header), which would land in config.toml: what and where, or `None`.
fn plain_secret(config: &OtlpConfig) -> Option<String> {
    const SECRET_HEADERS: [&str; 6] = [
        "authorization",
        "proxy-authorization",
        "cookie",
        "key",
        "token",
        "secret",
    ];
    for (name, value) in &config.headers {
        let lower = name.to_ascii_lowercase();
        if SECRET_HEADERS.iter().any(|word| lower.contains(word))
            || codexos_tools::looks_like_key_in(name, value)
            || codexos_tools::looks_like_key(value)
        {
            return Some(format!("header `{name}` holds a credential"));
        }
    }
    let url = reqwest::Url::parse(&config.endpoint).ok()?;
    if !url.username().is_empty() || url.password().is_some() {
        return Some("the URL carries a user name or password".to_owned());
    }
    url.query_pairs()
        .find(|(name, value)| {
            codexos_tools::looks_like_key_in(name, value) || codexos_tools::looks_like_key(value)
        })
        .map(|(name, _)| format!("the URL's `{name}` parameter holds a credential"))
}

/// What an endpoint's cursor belongs to: another URL or protocol under the
/// same name starts over.
pub(crate) fn target(config: &OtlpConfig) -> String {
    format!("{} {}", config.protocol.as_str(), config.endpoint)
}

/// Sends runs to the endpoints in the background until `cancel`: soon after
/// a run ends; an endpoint that failed is tried again after a pause that
/// grows to a minute (the others are not held up); nothing while offline.
pub fn spawn_exporter(
    runtime: Arc<Runtime>,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    exporter(runtime, cancel, true)
}

/// [`spawn_exporter`]'s loop; `reload`: read `[[otlp]]` from config.toml
/// before each pass (the benchmark sets its endpoints itself).
pub(crate) fn exporter(
    runtime: Arc<Runtime>,
    cancel: CancellationToken,
    reload: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut offline = codexos_net::watch_offline();
        // Per endpoint: its current pause and when it is due.
        let mut backoff: std::collections::HashMap<String, (Duration, Instant)> =
            std::collections::HashMap::new();
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = offline.changed() => backoff.clear(),
            }
            if reload {
                runtime.reload_otlp();
            }
            if codexos_net::offline() {
                continue;
            }
            let now = Instant::now();
            let due: Vec<OtlpConfig> = runtime
                .otlp_endpoints()
                .into_iter()
                .filter(|endpoint| backoff.get(&endpoint.name).is_none_or(|(_, at)| *at <= now))
                .collect();
            let sends = due
                .iter()
                .map(|config| runtime.export_endpoint(config, None));
            for (config, result) in due.iter().zip(futures::future::join_all(sends).await) {
                let failed = match result {
                    Ok(report) => report.error.is_some(),
                    Err(error) => {
                        tracing::warn!(endpoint = %config.name, %error, "OTLP export pass failed");
                        true
                    }
                };
                let pause = if failed {
                    let previous = backoff
                        .get(&config.name)
                        .map_or(Duration::ZERO, |(pause, _)| *pause);
                    (previous * 2).clamp(Duration::from_secs(5), Duration::from_mins(1))
                } else {
                    Duration::from_secs(2)
                };
                backoff.insert(config.name.clone(), (pause, Instant::now() + pause));
            }
        }
    })
}
