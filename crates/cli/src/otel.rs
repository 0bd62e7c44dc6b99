//! `codexos otel …`: the OpenTelemetry endpoints runs are exported to.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use clap::Subcommand;
use codexos_runtime::{ExportReport, OtlpConfig, OtlpStatus, Runtime};

use crate::render;

/// `codexos otel …`.
#[derive(Debug, Subcommand)]
pub enum OtelCommand {
    /// The endpoints: URL, protocol, runs and spans sent, backlog, last error.
    List,
    /// Adds an endpoint to config.toml after an empty export answered.
    Add {
        /// Name (status, `otel rm`, Settings → Telemetry).
        name: String,
        /// `http://127.0.0.1:4318` (HTTP/protobuf: `/v1/traces` is added) or
        /// `http://127.0.0.1:4317` (gRPC); `https://` for TLS.
        #[arg(long)]
        endpoint: String,
        /// `http/protobuf` or `grpc`.
        #[arg(long, default_value = "http/protobuf", value_parser = ["http/protobuf", "http", "grpc"])]
        protocol: String,
        /// A header with a plain value, `NAME=VALUE` (repeat for more).
        #[arg(long = "header", value_name = "NAME=VALUE")]
        headers: Vec<String>,
        /// A header whose value is a vault secret, `NAME=SECRET` (store it
        /// first: `codexos vault set SECRET`).
        #[arg(long = "secret-header", value_name = "NAME=SECRET")]
        secret_headers: Vec<String>,
        /// Send tool arguments and results, node writes and run outputs too.
        #[arg(long)]
        capture_content: bool,
        /// Send the runs stored so far too (default: from now on).
        #[arg(long)]
        past_runs: bool,
        /// Add it without the test export (an endpoint that is down now).
        #[arg(long)]
        no_check: bool,
        /// Most run endings kept waiting while it is down.
        #[arg(long, default_value_t = 100_000)]
        max_backlog: u64,
        /// Seconds one export may take.
        #[arg(long, default_value_t = 10)]
        timeout: u32,
    },
    /// Removes an endpoint (nothing more is sent to it).
    Rm {
        /// Endpoint name.
        name: String,
    },
    /// Sends an empty export to an endpoint: reachable, headers accepted.
    Test {
        /// Endpoint name.
        name: String,
    },
    /// Sends every waiting run now (to one endpoint, or all).
    Flush {
        /// Endpoint name.
        name: Option<String>,
    },
    /// A local OTLP receiver that prints the spans it gets, one per line
    /// (to see what CodexOS sends without a collector): HTTP/protobuf at
    /// `http://HOST:PORT/v1/traces`, or gRPC with `--grpc`.
    Receive {
        /// Port (0: any free one; the first line says which).
        #[arg(long, default_value_t = 4318)]
        port: u16,
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Speak OTLP/gRPC instead of HTTP.
        #[arg(long)]
        grpc: bool,
    },
}

fn pairs(values: &[String], what: &str) -> anyhow::Result<BTreeMap<String, String>> {
    values
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
                .filter(|(name, _)| !name.is_empty())
                .ok_or_else(|| anyhow::anyhow!("`{pair}` is not {what} (write NAME=…)"))
        })
        .collect()
}

/// Runs `codexos otel …`.
pub async fn otel(runtime: &Runtime, command: OtelCommand, json: bool) -> anyhow::Result<()> {
    match command {
        OtelCommand::List => status(&runtime.otlp_status()?, json),
        OtelCommand::Add {
            name,
            endpoint,
            protocol,
            headers,
            secret_headers,
            capture_content,
            past_runs,
            no_check,
            max_backlog,
            timeout,
        } => {
            let config = OtlpConfig {
                name,
                endpoint,
                protocol: if protocol == "grpc" {
                    codexos_runtime::OtlpProtocol::Grpc
                } else {
                    codexos_runtime::OtlpProtocol::Http
                },
                headers: pairs(&headers, "a header")?,
                secret_headers: pairs(&secret_headers, "a secret header")?,
                capture_content,
                max_backlog,
                timeout_secs: timeout,
            };
            runtime.add_otlp(config, past_runs, no_check).await?;
            status(&runtime.otlp_status()?, json)
        }
        OtelCommand::Rm { name } => {
            runtime.remove_otlp(&name)?;
            status(&runtime.otlp_status()?, json)
        }
        OtelCommand::Test { name } => {
            runtime.test_otlp_named(&name).await?;
            if json {
                render::print_json(&serde_json::json!({"endpoint": name, "ok": true}))
            } else {
                println!("{name}: the endpoint accepted an empty export");
                Ok(())
            }
        }
        OtelCommand::Receive { port, host, grpc } => receive(&host, port, grpc, json).await,
        OtelCommand::Flush { name } => {
            let reports = runtime.export_runs(name.as_deref()).await?;
            let failed = reports.iter().find_map(|report| report.error.clone());
            reports_out(&reports, json)?;
            match failed {
                Some(error) => Err(anyhow::anyhow!("{error}")),
                None => Ok(()),
            }
        }
    }
}

/// `codexos bench otel`.
#[derive(Debug, clap::Args)]
pub struct OtelBenchArgs {
    /// Nodes of the chain.
    #[arg(long, default_value_t = 200)]
    nodes: u32,
    /// Runs per mode per round.
    #[arg(long, default_value_t = 10)]
    runs: u32,
    /// Rounds.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
}

/// Runs `codexos bench otel`.
pub async fn bench(
    runtime: &std::sync::Arc<Runtime>,
    setup: &codexos_runtime::BenchSetup,
    args: &OtelBenchArgs,
    json: bool,
) -> anyhow::Result<()> {
    let spinner = render::spinner(
        json,
        "running the chain with no endpoint, a live one and a dead one…",
    );
    let bench = runtime.bench_otel(args.nodes, args.runs, args.rounds).await;
    spinner.finish_and_clear();
    crate::show(setup, json, &bench?, render::otel_bench)
}

/// Runs a receiver until interrupted, printing each span as it arrives.
async fn receive(host: &str, port: u16, grpc: bool, json: bool) -> anyhow::Result<()> {
    use codexos_otel::receiver::Receiver;
    let address: std::net::SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(|error| anyhow::anyhow!("`{host}:{port}` is not an address: {error}"))?;
    let receiver = if grpc {
        Receiver::grpc(address).await
    } else {
        Receiver::http(address).await
    }
    .map_err(|error| {
        anyhow::anyhow!("cannot listen on {address}: {error} — pick another --port")
    })?;
    let protocol = if grpc { "grpc" } else { "http/protobuf" };
    if json {
        println!(
            "{}",
            serde_json::json!({"url": receiver.url(), "protocol": protocol})
        );
    } else {
        println!("OTLP receiver ({protocol}) on {} — add it with `codexos otel add local --endpoint {}{}`", receiver.url(), receiver.url(), if grpc { " --protocol grpc" } else { "" });
    }
    let mut shown = 0;
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return Ok(()),
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        let spans = receiver.spans_after(shown);
        for span in &spans {
            let hex = |bytes: &[u8]| {
                bytes.iter().fold(String::new(), |mut out, byte| {
                    let _ = write!(out, "{byte:02x}");
                    out
                })
            };
            let duration_ms = span
                .end_time_unix_nano
                .saturating_sub(span.start_time_unix_nano) as f64
                / 1e6;
            let failed = span.status.as_ref().is_some_and(|status| status.code == 2);
            if json {
                // One line per span, for scripts.
                println!(
                    "{}",
                    serde_json::json!({
                        "name": span.name, "traceId": hex(&span.trace_id), "spanId": hex(&span.span_id),
                        "parentSpanId": hex(&span.parent_span_id), "durationMs": duration_ms, "error": failed,
                        "attributes": span.attributes.len(),
                    })
                );
            } else {
                println!(
                    "{} {:>10.1} ms  {}{}",
                    &hex(&span.trace_id)[..8],
                    duration_ms,
                    span.name,
                    if failed { "  (error)" } else { "" }
                );
            }
        }
        shown += spans.len();
    }
}

fn reports_out(reports: &[ExportReport], json: bool) -> anyhow::Result<()> {
    if json {
        return render::print_json(&reports);
    }
    if reports.is_empty() {
        println!(
            "no OTLP endpoint is configured — `codexos otel add NAME --endpoint URL` adds one"
        );
    }
    for report in reports {
        let mut line = format!(
            "{}: sent {} runs ({} spans)",
            report.endpoint, report.runs, report.spans
        );
        if report.rejected > 0 {
            let _ = write!(line, ", {} spans rejected by the endpoint", report.rejected);
        }
        if report.dropped > 0 {
            let _ = write!(line, ", {} old runs dropped (backlog full)", report.dropped);
        }
        if report.refused > 0 {
            let _ = write!(
                line,
                ", {} runs refused for good by the endpoint and skipped (the reason is in the log)",
                report.refused
            );
        }
        let _ = write!(line, ", {} waiting", report.pending);
        println!("{line}");
    }
    Ok(())
}

fn status(endpoints: &[OtlpStatus], json: bool) -> anyhow::Result<()> {
    if json {
        return render::print_json(&endpoints);
    }
    if endpoints.is_empty() {
        println!("no OTLP endpoint is configured — `codexos otel add NAME --endpoint URL` adds one (docs/telemetry.md)");
        return Ok(());
    }
    for endpoint in endpoints {
        println!(
            "{} — {} ({}){}",
            endpoint.name,
            endpoint.endpoint,
            endpoint.protocol,
            if endpoint.capture_content {
                ", content sent"
            } else {
                ""
            }
        );
        println!(
            "  sent {} runs, {} spans · {} waiting · {} rejected · {} dropped",
            endpoint.runs_sent,
            endpoint.spans_sent,
            endpoint.pending,
            endpoint.rejected,
            endpoint.dropped
        );
        if let Some(error) = &endpoint.last_error {
            println!("  last error: {error}");
        }
    }
    Ok(())
}

/// After a command that ran flows: sends the runs the endpoints are owed,
/// starting no new request after 10 s (one under way finishes, within the
/// endpoint's timeout); what does not go waits for the next send (the app,
/// `codexos otel flush` or the next run).
pub async fn after_runs(runtime: &Runtime, json: bool) {
    if runtime.otlp_endpoints().is_empty() {
        return;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    match runtime.export_runs_until(None, Some(deadline)).await {
        Ok(reports) => {
            for report in &reports {
                if json || (report.error.is_none() && report.pending == 0) {
                    continue;
                }
                let waiting = if report.pending == 1 {
                    "1 run waits".to_owned()
                } else {
                    format!("{} runs wait", report.pending)
                };
                let why = report.error.as_deref().unwrap_or("10 s went by");
                eprintln!(
                    "telemetry: {why} — {waiting} for `{}` (sent by the app, `codexos otel flush` or the next run)",
                    report.endpoint
                );
            }
        }
        Err(error) => eprintln!("telemetry: {error}"),
    }
}
