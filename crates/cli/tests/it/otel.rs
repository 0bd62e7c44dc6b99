//! OpenTelemetry export on the real binary, to a real OTLP receiver on
//! 127.0.0.1 that decodes the protobuf with the OpenTelemetry definitions:
//! over HTTP an endpoint that is down, then up (the backlog arrives in order,
//! once), offline mode sending nothing; over gRPC a secret header from the
//! vault, content captured, a failed run's error.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::SocketAddr;

use codexos_otel::receiver::Receiver;
use codexos_otel::spans::attribute;
use codexos_otel::Span;
use serde_json::Value;

use crate::analytics::BROKEN_FLOW;
use crate::security::{completion, scripted};
use crate::usage::PRICED_FLOW;
use crate::{assert_success, error_line, Cli};

fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|span| span.name == name).collect()
}

fn providers_config(url: &str) -> String {
    let provider = |name: &str, url: &str, model: &str| {
        format!("[[providers]]\nname = \"{name}\"\nkind = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"{model}\"\ntimeout_secs = 30\n\n")
    };
    format!(
        "[llm]\nmax_tokens = 16\ntemperature = 0.0\npolicy = [\"down\", \"priced\", \"selfhost\"]\n\n{}{}{}\
         [[prices]]\nprovider = \"priced\"\nmodel = \"gpt-4o-mini*\"\ninput = 1.0\noutput = 2.0\n\n",
        provider("down", "http://127.0.0.1:1", "gpt-4o-mini"),
        provider("priced", url, "gpt-4o-mini"),
        provider("selfhost", url, "my-finetune"),
    )
}

/// A home whose policy is `down`, `priced`, `selfhost` (see
/// [`providers_config`]), served by a stand-in that answers `answer`.
fn with_providers(answer: &'static str) -> (crate::security::Scripted, Cli) {
    let server = scripted(Box::new(move |_, _| completion(answer, &[])));
    let cli = Cli::new();
    std::fs::write(
        cli.home.path().join("config.toml"),
        providers_config(&server.url),
    )
    .expect("config");
    (server, cli)
}

/// A port on 127.0.0.1 that nothing listens on (yet).
fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

fn pending(cli: &Cli, name: &str) -> Value {
    let list = cli.json(&["otel", "list"]);
    list.as_array()
        .and_then(|endpoints| {
            endpoints
                .iter()
                .find(|endpoint| endpoint["name"] == name)
                .cloned()
        })
        .unwrap_or_else(|| panic!("no endpoint `{name}`: {list}"))
}

#[test]
fn runs_wait_while_the_endpoint_is_down_and_arrive_once_in_order_when_it_is_back() {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let (server, cli) = with_providers("Hello.");
    let address = free_port();
    let url = format!("http://{address}");

    // Checked before saved: an endpoint that does not answer is refused…
    let refused = cli.run(&["otel", "add", "collector", "--endpoint", &url]);
    assert!(
        !refused.status.success(),
        "a dead endpoint is refused without --no-check"
    );
    assert!(
        error_line(&refused).contains("could not be reached"),
        "{}",
        error_line(&refused)
    );
    // …unless told it is down for now.
    assert_success(
        &cli.run(&["otel", "add", "collector", "--endpoint", &url, "--no-check"]),
        &["otel", "add"],
    );

    let dir = tempfile::tempdir().expect("dir");
    let flow = dir.path().join("priced.flow.json");
    std::fs::write(&flow, PRICED_FLOW).expect("flow");
    let flow = flow.to_str().expect("path");
    let first = cli.run(&["run", flow]);
    assert_success(&first, &["run", "(endpoint down)"]);
    let said = String::from_utf8_lossy(&first.stderr);
    assert!(
        said.contains("telemetry:") && said.contains("1 run waits for `collector`"),
        "{said}"
    );
    let state = pending(&cli, "collector");
    assert_eq!(state["pending"], 1, "{state}");
    assert!(
        state["lastError"]
            .as_str()
            .is_some_and(|error| error.contains("could not be reached")),
        "{state}"
    );

    // The endpoint comes up; offline mode still sends nothing: a run made
    // offline waits with the first (the receiver gets no request).
    let receiver = tokio
        .block_on(Receiver::http(address))
        .expect("receiver on the same port");
    let traced = dir.path().join("traced.flow.json");
    std::fs::write(&traced, TRANSFORM_FLOW).expect("flow");
    let offline = cli.run(&["--offline", "run", traced.to_str().expect("path")]);
    assert_success(&offline, &["--offline", "run"]);
    let said = String::from_utf8_lossy(&offline.stderr);
    assert!(
        said.contains("offline mode is on") && said.contains("2 runs wait"),
        "{said}"
    );
    let flush = cli.run(&["--offline", "otel", "flush"]);
    assert!(!flush.status.success());
    assert!(
        error_line(&flush).contains("offline mode is on"),
        "{}",
        error_line(&flush)
    );
    assert!(
        receiver.requests().is_empty(),
        "nothing was sent while offline"
    );

    // Online again: the next run's send takes the backlog too, in order.
    assert_success(&cli.run(&["run", flow]), &["run", "(endpoint up)"]);
    let state = pending(&cli, "collector");
    assert_eq!(
        (state["pending"].as_u64(), state["runsSent"].as_u64()),
        (Some(0), Some(3)),
        "{state}"
    );
    assert!(state["lastError"].is_null(), "{state}");
    let order: Vec<String> = receiver
        .spans()
        .iter()
        .filter(|span| span.name.starts_with("invoke_workflow"))
        .map(|span| span.name.clone())
        .collect();
    assert_eq!(
        order,
        [
            "invoke_workflow priced",
            "invoke_workflow traced",
            "invoke_workflow priced"
        ],
        "in the order the runs ended"
    );
    // Nothing more to send: a flush sends nothing twice.
    let flushed = cli.json(&["otel", "flush"]);
    assert_eq!(flushed[0]["runs"], 0, "{flushed}");

    assert_the_spans_of_two_priced_runs(&receiver, &cli);

    assert_the_provider_saw_the_trace(&receiver, &server);
}

/// W3C trace context went to the provider with each call: the run's trace
/// and the span of the node making the call.
fn assert_the_provider_saw_the_trace(receiver: &Receiver, server: &crate::security::Scripted) {
    let spans = receiver.spans();
    let node = named(&spans, "llm first")[0];
    let expected = format!(
        "traceparent: 00-{}-{}-01",
        hex(&node.trace_id),
        hex(&node.span_id)
    );
    let heads: Vec<String> = server
        .seen
        .lock()
        .expect("seen")
        .iter()
        .map(|seen| seen.head.to_lowercase())
        .collect();
    assert!(
        heads.iter().any(|head| head.contains(&expected)),
        "{expected} in {heads:?}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// What the receiver got of two runs of the priced flow: the workflow,
/// node, call and attempt spans with their `GenAI` attributes.
fn assert_the_spans_of_two_priced_runs(receiver: &Receiver, cli: &Cli) {
    let spans = receiver.spans();
    let ids: HashSet<&[u8]> = spans.iter().map(|span| span.span_id.as_slice()).collect();
    assert_eq!(ids.len(), spans.len(), "no span arrived twice");
    let runs = named(&spans, "invoke_workflow priced");
    assert_eq!(runs.len(), 2, "one workflow span per run");
    // In order: the first run (listed last, newest first) arrived first.
    let listed = cli.json(&["runs", "list"]);
    let oldest = listed
        .as_array()
        .and_then(|runs| runs.last())
        .expect("runs")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        attribute(runs[0], "codexos.run.id").as_deref(),
        Some(oldest.as_str())
    );
    for run in &runs {
        assert_eq!(
            attribute(run, "gen_ai.operation.name").as_deref(),
            Some("invoke_workflow")
        );
        assert_eq!(
            attribute(run, "codexos.run.status").as_deref(),
            Some("succeeded")
        );
        assert!(
            attribute(run, "codexos.run.output").is_none(),
            "content is not sent unless asked"
        );
        assert!(
            run.parent_span_id.is_empty(),
            "a run's span is its trace's root"
        );
    }
    // Each model call: GenAI attributes, tokens, cost, and the router's
    // attempts under it (the one that was down marked as an error).
    let calls = named(&spans, "chat gpt-4o-mini");
    let priced: Vec<&&Span> = calls
        .iter()
        .filter(|span| attribute(span, "codexos.attempt.outcome").is_none())
        .collect();
    assert_eq!(priced.len(), 2, "one priced call per run");
    let call = priced[0];
    assert_eq!(
        attribute(call, "gen_ai.provider.name").as_deref(),
        Some("priced")
    );
    assert_eq!(
        attribute(call, "gen_ai.usage.input_tokens").as_deref(),
        Some("12")
    );
    assert_eq!(
        attribute(call, "gen_ai.usage.output_tokens").as_deref(),
        Some("3")
    );
    let cost: f64 = attribute(call, "gen_ai.usage.cost")
        .expect("cost")
        .parse()
        .expect("number");
    assert!((cost - 18e-6).abs() < 1e-12, "12 × $1/M + 3 × $2/M: {cost}");
    assert_eq!(attribute(call, "codexos.fallbacks").as_deref(), Some("1"));
    let attempts: Vec<&Span> = spans
        .iter()
        .filter(|span| span.parent_span_id == call.span_id)
        .collect();
    assert_eq!(attempts.len(), 2, "the down provider, then the priced one");
    let down = attempts
        .iter()
        .find(|span| attribute(span, "gen_ai.provider.name").as_deref() == Some("down"))
        .expect("the down attempt");
    assert_eq!(
        down.status.as_ref().map(|status| status.code),
        Some(2),
        "an error status"
    );
    // The call hangs under its node's span, the node under the run's.
    let node = spans
        .iter()
        .find(|span| span.span_id == call.parent_span_id)
        .expect("the node's span");
    assert_eq!(node.name, "llm first");
    assert!(runs.iter().any(|run| run.span_id == node.parent_span_id));
    assert!(spans
        .iter()
        .all(|span| span.end_time_unix_nano >= span.start_time_unix_nano));
    let resource = &receiver.requests()[0].request.resource_spans[0];
    let service = resource
        .resource
        .as_ref()
        .expect("resource")
        .attributes
        .iter()
        .find(|pair| pair.key == "service.name");
    assert!(service.is_some(), "the resource names the service");
}

#[test]
fn over_grpc_a_secret_header_comes_from_the_vault_and_content_is_sent_when_asked() {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let receiver = tokio
        .block_on(Receiver::grpc("127.0.0.1:0".parse().expect("address")))
        .expect("receiver");
    let cli = Cli::new();
    let token = "Bearer otel-sentinel-7731";
    assert_success(
        &cli.run_with_stdin(&["vault", "set", "otel-token"], token),
        &["vault", "set"],
    );
    let added = cli.run(&[
        "otel",
        "add",
        "traces",
        "--endpoint",
        &receiver.url(),
        "--protocol",
        "grpc",
        "--secret-header",
        "authorization=otel-token",
        "--header",
        "x-team=core",
        "--capture-content",
    ]);
    assert_success(&added, &["otel", "add", "(grpc)"]);
    // The test export went through the receiver: the check ran.
    assert_eq!(receiver.requests().len(), 1, "the empty test export");
    let config = std::fs::read_to_string(cli.home.path().join("config.toml")).expect("config");
    assert!(
        config.contains("[[otlp]]") && config.contains("otel-token"),
        "{config}"
    );
    assert!(
        !config.contains("otel-sentinel-7731"),
        "the secret's value stays in the vault"
    );

    let dir = tempfile::tempdir().expect("dir");
    let flow = dir.path().join("broken.flow.json");
    std::fs::write(&flow, BROKEN_FLOW).expect("flow");
    let failed = cli.run(&["run", flow.to_str().expect("path")]);
    assert!(!failed.status.success(), "the broken flow fails");

    let requests = receiver.requests();
    let last = requests.last().expect("the run's export");
    let header = |name: &str| {
        last.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    assert_eq!(header("authorization").as_deref(), Some(token));
    assert_eq!(header("x-team").as_deref(), Some("core"));
    let spans = receiver.spans();
    let tool = named(&spans, "execute_tool fs.read");
    assert_eq!(
        tool.len(),
        1,
        "{:?}",
        spans.iter().map(|span| &span.name).collect::<Vec<_>>()
    );
    assert_eq!(
        attribute(tool[0], "gen_ai.tool.name").as_deref(),
        Some("fs.read")
    );
    assert!(attribute(tool[0], "gen_ai.tool.call.arguments")
        .is_some_and(|arguments| arguments.contains("no-such-file.txt")));
    assert_eq!(
        tool[0].status.as_ref().map(|status| status.code),
        Some(2),
        "the failed read is an error"
    );
    let run = named(&spans, "invoke_workflow broken");
    assert_eq!(run.len(), 1);
    assert_eq!(
        attribute(run[0], "codexos.run.status").as_deref(),
        Some("failed")
    );
    assert!(run[0]
        .status
        .as_ref()
        .is_some_and(|status| status.code == 2 && !status.message.is_empty()));

    // Removed: the next run is not sent.
    assert_success(&cli.run(&["otel", "rm", "traces"]), &["otel", "rm"]);
    let before = receiver.requests().len();
    let _ = cli.run(&["run", flow.to_str().expect("path")]);
    assert_eq!(
        receiver.requests().len(),
        before,
        "nothing goes to a removed endpoint"
    );
    assert!(cli
        .json(&["otel", "list"])
        .as_array()
        .is_some_and(Vec::is_empty));
}

const TRANSFORM_FLOW: &str = r#"{"version": 2, "name": "traced", "state": {"greeting": "string"},
  "nodes": [{"id": "start", "kind": "input"},
            {"id": "say", "kind": "transform", "set": {"greeting": "'hello'"}},
            {"id": "out", "kind": "output", "keys": ["greeting"]}],
  "edges": [{"from": "start", "to": "say"}, {"from": "say", "to": "out"}]}"#;

/// One JSON-RPC request to `codexos mcp --port`, with extra headers; the
/// session id it answers with, and its body.
async fn mcp_post(
    url: &str,
    session: Option<&str>,
    body: &Value,
    headers: &[(&str, &str)],
) -> (Option<String>, String) {
    let client = codexos_net::client().build().expect("client");
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = codexos_net::send(request).await.expect("MCP request");
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (session, response.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_and_an_ask_over_mcp_with_a_traceparent_join_the_callers_trace() {
    let receiver = Receiver::http("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("receiver");
    let cli = Cli::new();
    assert_success(
        &cli.run(&["otel", "add", "collector", "--endpoint", &receiver.url()]),
        &["otel", "add"],
    );
    let dir = tempfile::tempdir().expect("dir");
    let flow = dir.path().join("traced.flow.json");
    std::fs::write(&flow, TRANSFORM_FLOW).expect("flow");

    let (mut server, url) = crate::tools::mcp_over_http(&cli);
    let initialize = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "otel-test", "version": "1"}}});
    let (session, _) = mcp_post(&url, None, &initialize, &[]).await;
    let session = session.expect("a session id");
    mcp_post(
        &url,
        Some(&session),
        &serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        &[],
    )
    .await;
    let caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let call = serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "run_flow", "arguments": {"flow": flow.to_str().expect("path")}}});
    let (_, answer) = mcp_post(&url, Some(&session), &call, &[("traceparent", caller)]).await;
    assert!(answer.contains("succeeded"), "the run ran: {answer}");
    // An ask over MCP joins the caller's trace too (it fails: nothing is
    // ingested; its run is kept and sent all the same).
    let ask = serde_json::json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "ask", "arguments": {"question": "What is the default port?"}}});
    let (_, answer) = mcp_post(&url, Some(&session), &ask, &[("traceparent", caller)]).await;
    assert!(answer.contains("codexos ingest"), "the ask ran: {answer}");

    // The server sends in the background: wait for the runs' spans.
    let started = std::time::Instant::now();
    let workflow = |name: &str| {
        receiver
            .spans()
            .into_iter()
            .find(|span| span.name == format!("invoke_workflow {name}"))
    };
    let (run, asked) = loop {
        if let (Some(run), Some(asked)) = (workflow("traced"), workflow("ask")) {
            break (run, asked);
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the runs were not sent"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    server.kill().ok();
    server.wait().ok();
    for run in [&run, &asked] {
        assert_eq!(
            hex(&run.trace_id),
            "0af7651916cd43dd8448eb211c80319c",
            "the caller's trace: {}",
            run.name
        );
        assert_eq!(
            hex(&run.parent_span_id),
            "b7ad6b7169203331",
            "under the caller's span: {}",
            run.name
        );
    }
    assert_eq!(
        attribute(&asked, "codexos.run.status").as_deref(),
        Some("failed")
    );
    let spans = receiver.spans();
    let node = named(&spans, "transform say");
    assert_eq!(node.len(), 1);
    assert_eq!(node[0].trace_id, run.trace_id);
}

#[test]
fn serve_passes_the_callers_traceparent_on_to_the_provider_that_answers() {
    let (server, cli) = with_providers("Hello.");
    let mut serve = cli
        .command(&["--json", "serve", "--openai", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("codexos serve");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(serve.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("address");
    let url = serde_json::from_str::<Value>(&line).expect("JSON")["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let answer = tokio.block_on(async {
        let client = codexos_net::client().build().expect("client");
        let request = client
            .post(format!("{url}/chat/completions"))
            .header("content-type", "application/json")
            .header("traceparent", caller)
            .body(serde_json::json!({"model": "priced", "messages": [{"role": "user", "content": "Hi"}]}).to_string());
        codexos_net::send(request).await.expect("request").text().await.expect("body")
    });
    serve.kill().ok();
    serve.wait().ok();
    assert!(answer.contains("Hello."), "the stand-in answered: {answer}");
    let heads: Vec<String> = server
        .seen
        .lock()
        .expect("seen")
        .iter()
        .map(|seen| seen.head.to_lowercase())
        .collect();
    assert!(
        heads
            .iter()
            .any(|head| head.contains(&format!("traceparent: {caller}"))),
        "{heads:?}"
    );
}

#[test]
fn a_credential_in_a_plain_header_or_the_url_is_refused() {
    let cli = Cli::new();
    // A credential as a plain header (or in the URL) would land in
    // config.toml: refused, with the way to do it.
    for plain in [
        vec!["--header", "Authorization=Basic cGs6c2s="],
        vec!["--header", "x-api-key=abc123"],
    ] {
        let mut args = vec![
            "otel",
            "add",
            "leaky",
            "--endpoint",
            "http://127.0.0.1:9",
            "--no-check",
        ];
        args.extend(plain);
        let refused = cli.run(&args);
        assert!(!refused.status.success(), "{args:?}");
        assert!(
            error_line(&refused).contains("keys go in the vault"),
            "{}",
            error_line(&refused)
        );
    }
    let userinfo = cli.run(&[
        "otel",
        "add",
        "leaky",
        "--endpoint",
        "http://user:pass@127.0.0.1:9",
        "--no-check",
    ]);
    assert!(
        error_line(&userinfo).contains("user name or password"),
        "{}",
        error_line(&userinfo)
    );
    // Positive control: the same endpoint without the credential is added.
    assert_success(
        &cli.run(&[
            "otel",
            "add",
            "leaky",
            "--endpoint",
            "http://127.0.0.1:9",
            "--no-check",
        ]),
        &["otel", "add"],
    );
}

#[test]
fn a_backlog_over_its_bound_drops_the_oldest_runs_and_counts_them() {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let cli = Cli::new();
    let address = free_port();
    let url = format!("http://{address}");
    assert_success(
        &cli.run(&[
            "otel",
            "add",
            "small",
            "--endpoint",
            &url,
            "--no-check",
            "--max-backlog",
            "1",
        ]),
        &["otel", "add"],
    );
    let dir = tempfile::tempdir().expect("dir");
    let flow = dir.path().join("traced.flow.json");
    std::fs::write(&flow, TRANSFORM_FLOW).expect("flow");
    let flow = flow.to_str().expect("path");
    for round in 0..3 {
        assert_success(&cli.run(&["run", flow]), &["run", &round.to_string()]);
    }
    // Positive control: the runs ended and wait (the endpoint is down).
    let state = pending(&cli, "small");
    assert!(
        state["pending"]
            .as_u64()
            .is_some_and(|waiting| waiting >= 1),
        "{state}"
    );

    let receiver = tokio
        .block_on(Receiver::http(address))
        .expect("receiver on the same port");
    assert_success(&cli.run(&["otel", "flush"]), &["otel", "flush"]);
    let state = pending(&cli, "small");
    assert_eq!(
        (
            state["pending"].as_u64(),
            state["runsSent"].as_u64(),
            state["dropped"].as_u64()
        ),
        (Some(0), Some(1), Some(2)),
        "one run kept, the two oldest dropped and counted: {state}"
    );
    let runs = receiver
        .spans()
        .iter()
        .filter(|span| span.name.starts_with("invoke_workflow"))
        .count();
    assert_eq!(runs, 1, "only the newest run arrived");
}

/// The spans of an ask and a chat turn reached the receiver: a workflow
/// span each, their priced calls, the ask's retrieval; the provider was told
/// each answer's span.
fn assert_the_exchanges_were_exported(
    receiver: &Receiver,
    server: &crate::security::Scripted,
    ask_run: &str,
    chat_run: &str,
) {
    let spans = receiver.spans();
    for flow in ["ask", "chat"] {
        let roots = named(&spans, &format!("invoke_workflow {flow}"));
        assert_eq!(roots.len(), 1, "one workflow span for the {flow}");
        assert_eq!(
            attribute(roots[0], "codexos.run.status").as_deref(),
            Some("succeeded")
        );
    }
    let calls: Vec<&Span> = named(&spans, "chat gpt-4o-mini")
        .into_iter()
        .filter(|span| attribute(span, "codexos.attempt.outcome").is_none())
        .collect();
    assert_eq!(calls.len(), 2, "one priced call each");
    for call in &calls {
        assert_eq!(
            attribute(call, "gen_ai.usage.input_tokens").as_deref(),
            Some("12")
        );
    }
    assert_eq!(
        named(&spans, "retrieve retrieve").len(),
        1,
        "the ask's retrieval is a span: {:?}",
        spans.iter().map(|span| &span.name).collect::<Vec<_>>()
    );
    let heads: Vec<String> = server
        .seen
        .lock()
        .expect("seen")
        .iter()
        .map(|seen| seen.head.to_lowercase())
        .collect();
    for run in [ask_run, chat_run] {
        let node = answer_span(&spans, run);
        let expected = format!(
            "traceparent: 00-{}-{}-01",
            hex(&node.trace_id),
            hex(&node.span_id)
        );
        assert!(
            heads.iter().any(|head| head.contains(&expected)),
            "{expected} in {heads:?}"
        );
    }
}

/// The node span (`llm answer`) of the exchange run `run`.
fn answer_span<'a>(spans: &'a [Span], run: &str) -> &'a Span {
    let root = spans
        .iter()
        .find(|span| attribute(span, "codexos.run.id").as_deref() == Some(run))
        .unwrap_or_else(|| panic!("no span of run {run}"));
    spans
        .iter()
        .find(|span| span.trace_id == root.trace_id && span.name == "llm answer")
        .unwrap_or_else(|| panic!("no answer span in run {run}"))
}

/// An ask and a chat turn outside flows are kept as runs: `runs show`
/// shows what the model was sent, they are never resumed, their spans are
/// exported (the provider was told the answer's span), and analytics counts
/// them under the flows `ask` and `chat`.
#[test]
fn an_ask_and_a_chat_turn_are_runs_with_spans_and_figures() {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let (server, cli) = with_providers("Port 7070 [1].");
    let address = free_port();
    let receiver = tokio.block_on(Receiver::http(address)).expect("receiver");
    assert_success(
        &cli.run(&[
            "otel",
            "add",
            "collector",
            "--endpoint",
            &format!("http://{address}"),
        ]),
        &["otel", "add"],
    );
    let corpus = crate::corpus();
    cli.json(&[
        "ingest",
        corpus.path().to_str().expect("path"),
        "--project",
        "lumen",
    ]);

    let question = "What is the default port of the Lumen server?";
    let asked = cli.run(&["ask", question, "--project", "lumen"]);
    assert_success(&asked, &["ask"]);
    let said = String::from_utf8_lossy(&asked.stderr);
    let ask_run = said
        .split("(trace: codexos runs show ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("the ask names its run: {said}"))
        .to_owned();
    assert_success(&cli.run_with_stdin(&["chat"], "Hello there?\n"), &["chat"]);
    // Positive control: both reached the provider (after `down` failed).
    assert_eq!(server.seen.lock().expect("seen").len(), 2);

    let runs = cli.json(&["runs", "list"]);
    let flows: Vec<(&str, &str)> = runs
        .as_array()
        .expect("runs")
        .iter()
        .map(|run| {
            (
                run["flow"].as_str().unwrap_or_default(),
                run["status"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        flows,
        [("chat", "succeeded"), ("ask", "succeeded")],
        "{runs}"
    );
    let shown = cli.json(&["runs", "show", &ask_run]);
    assert_eq!(shown["exchange"], "ask", "{shown}");
    let nodes: Vec<&str> = shown["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["node"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(nodes, ["retrieve", "answer"], "{shown}");
    let sent = shown["nodes"][1]["calls"][0].to_string();
    assert!(
        sent.contains(question) && sent.contains("configuration.md"),
        "the model's prompt, with its excerpts: {sent}"
    );
    assert_eq!(shown["usage"]["promptTokens"], 12, "{}", shown["usage"]);
    // `ask` and `chat` sent their runs as they ended (no flush).
    let chat_run = runs[0]["id"].as_str().expect("id");
    assert_the_exchanges_were_exported(&receiver, &server, &ask_run, chat_run);
    let resumed = cli.run(&["runs", "resume", &ask_run]);
    assert!(!resumed.status.success(), "an ask does not resume");
    assert!(
        error_line(&resumed).contains("kept for its trace"),
        "{}",
        error_line(&resumed)
    );

    let dashboard = cli.json(&["analytics"]);
    assert_eq!(
        dashboard["totals"]["modelCalls"], 2,
        "{}",
        dashboard["totals"]
    );
    for flow in ["ask", "chat"] {
        let row = dashboard["breakdown"]
            .as_array()
            .and_then(|rows| rows.iter().find(|row| row["value"] == flow))
            .unwrap_or_else(|| panic!("no row `{flow}`: {}", dashboard["breakdown"]));
        assert_eq!(row["figures"]["count"], 1, "{row}");
        assert_eq!(row["figures"]["tokensIn"], 12, "{row}");
    }
}

/// Runs the transform flow `times` times (no model needed).
fn run_traced(cli: &Cli, dir: &std::path::Path, times: usize) -> Vec<String> {
    let flow = dir.join("traced.flow.json");
    std::fs::write(&flow, TRANSFORM_FLOW).expect("flow");
    (0..times)
        .map(|_| {
            let run = cli.run(&["run", flow.to_str().expect("path"), "--json"]);
            assert_success(&run, &["run", "traced"]);
            let outcome = crate::compare::outcome(&run);
            outcome["runId"]
                .as_str()
                .unwrap_or_else(|| panic!("a run id: {outcome}"))
                .to_owned()
        })
        .collect()
}

/// The run ids of the workflow spans received, in arrival order.
fn runs_received(receiver: &Receiver) -> Vec<String> {
    named(&receiver.spans(), "invoke_workflow traced")
        .iter()
        .filter_map(|span| attribute(span, "codexos.run.id"))
        .collect()
}

/// Over gRPC: runs wait while the endpoint is down; once it is up, a run it
/// refuses for good (`InvalidArgument`) is skipped and counted, and the runs
/// before and after it arrive, in order, once.
#[test]
fn over_grpc_a_run_refused_for_good_is_skipped_and_the_rest_arrive_in_order() {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let cli = Cli::new();
    let address = free_port();
    assert_success(
        &cli.run(&[
            "otel",
            "add",
            "g",
            "--endpoint",
            &format!("http://{address}"),
            "--protocol",
            "grpc",
            "--no-check",
        ]),
        &["otel", "add"],
    );
    let dir = tempfile::tempdir().expect("dir");
    let runs = run_traced(&cli, dir.path(), 3);
    let state = pending(&cli, "g");
    assert_eq!(state["pending"], 3, "down: all three wait {state}");
    assert!(
        state["lastError"]
            .as_str()
            .is_some_and(|error| error.contains("could not be reached")),
        "{state}"
    );

    let receiver = tokio
        .block_on(Receiver::grpc(address))
        .expect("receiver on the same port");
    let poison = runs[1].clone();
    receiver.refuse_when(move |request| {
        request
            .resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .flat_map(|scope| &scope.spans)
            .any(|span| attribute(span, "codexos.run.id").as_deref() == Some(poison.as_str()))
    });
    let flushed = cli.run(&["otel", "flush"]);
    assert_success(&flushed, &["otel", "flush"]);
    let said = String::from_utf8_lossy(&flushed.stdout);
    assert!(
        said.contains("sent 2 runs") && said.contains("1 runs refused for good"),
        "{said}"
    );
    // Positive control: the refusal happened — to the batches that held the
    // run ([0, 1, 2], then [1, 2] after 0 went alone) and to the run alone.
    assert_eq!(receiver.refused(), 3);
    assert_eq!(runs_received(&receiver), [runs[0].clone(), runs[2].clone()]);
    let state = pending(&cli, "g");
    assert_eq!(
        (
            state["pending"].as_u64(),
            state["runsSent"].as_u64(),
            state["dropped"].as_u64()
        ),
        (Some(0), Some(2), Some(1)),
        "{state}"
    );
    // Nothing is sent twice: a later run goes alone.
    let later = run_traced(&cli, dir.path(), 1);
    assert_success(&cli.run(&["otel", "flush"]), &["otel", "flush"]);
    assert_eq!(
        runs_received(&receiver),
        [runs[0].clone(), runs[2].clone(), later[0].clone()]
    );
}

/// Two processes sending to one endpoint at once (a slow collector: the
/// second starts while the first's request waits there): one holds the
/// lease, the other leaves the runs to it; every run arrives once.
#[test]
fn two_processes_flushing_at_once_send_each_run_once() {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let cli = Cli::new();
    let address = free_port();
    assert_success(
        &cli.run(&[
            "otel",
            "add",
            "h",
            "--endpoint",
            &format!("http://{address}"),
            "--no-check",
        ]),
        &["otel", "add"],
    );
    let dir = tempfile::tempdir().expect("dir");
    let runs = run_traced(&cli, dir.path(), 4);
    let receiver = tokio
        .block_on(Receiver::http(address))
        .expect("receiver on the same port");
    receiver.set_delay(std::time::Duration::from_secs(5));
    let flush = || {
        cli.command(&["otel", "flush"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("flush starts")
    };
    // The second starts while the first's request waits at the receiver.
    let first = flush();
    let started = std::time::Instant::now();
    while receiver.arrived() == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_mins(1),
            "the first flush never reached the receiver"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = flush();
    let outputs = [
        first.wait_with_output().expect("first ends"),
        second.wait_with_output().expect("second ends"),
    ];
    let said: Vec<String> = outputs
        .iter()
        .map(|output| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        })
        .collect();
    // Positive control: they overlapped — one found the other sending.
    assert_eq!(
        said.iter()
            .filter(|said| said.contains("another CodexOS process is sending"))
            .count(),
        1,
        "{said:?}"
    );
    assert_eq!(
        outputs
            .iter()
            .filter(|output| output.status.success())
            .count(),
        1,
        "{said:?}"
    );
    assert_eq!(runs_received(&receiver), runs, "each run once, in order");
    assert_eq!(receiver.requests().len(), 1, "one request carried them");
    assert_eq!(pending(&cli, "h")["pending"], 0);
}

/// `bench otel` prints its figures from real runs and a real receiver: the
/// paced phase's live and dead endpoints were tried by the app's own loop.
#[test]
fn bench_otel_measures_every_mode_and_the_app_loop_sent() {
    let cli = Cli::new();
    let bench = cli.json(&[
        "bench", "otel", "--nodes", "5", "--runs", "8", "--rounds", "1",
    ]);
    for mode in ["none", "live", "dead"] {
        let key = format!("{mode}_us_per_node");
        assert!(
            bench[&key].as_f64().is_some_and(|value| value > 0.0),
            "{key}: {bench}"
        );
    }
    let paced = bench["paced"].as_array().expect("paced modes");
    let modes: Vec<&str> = paced
        .iter()
        .filter_map(|mode| mode["mode"].as_str())
        .collect();
    assert_eq!(modes, ["none", "live", "dead"]);
    for mode in paced {
        assert_eq!(mode["runs"], 8, "{mode}");
        assert!(mode["median_us_per_node"].as_f64() > Some(0.0), "{mode}");
    }
    assert_eq!(paced[0]["passes"], 0, "no endpoint, no pass");
    assert!(
        paced[1]["passes"].as_u64() > Some(0),
        "the live endpoint was sent to: {}",
        paced[1]
    );
    assert!(
        paced[2]["passes"].as_u64() > Some(0),
        "the dead endpoint was tried: {}",
        paced[2]
    );
    assert!(bench["received_spans"].as_u64() > Some(0), "{bench}");
}
