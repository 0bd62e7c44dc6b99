//! The MCP client against a real MCP server process built with rmcp.

use std::sync::Arc;
use std::time::{Duration, Instant};

use codexos_tools::mcp::{supervise, ServerConfig};
use codexos_tools::{CallContext, NoSecrets, Policy, PreApproved, Registry, SourceState};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn fixture(name: &str, extra: &[&str]) -> ServerConfig {
    let mut command = vec![env!("CARGO_BIN_EXE_codexos-mcp-fixture").to_owned()];
    command.extend(extra.iter().map(|argument| (*argument).to_owned()));
    ServerConfig {
        name: name.to_owned(),
        command: Some(command),
        url: None,
        env: std::collections::BTreeMap::new(),
        bearer: None,
        timeout: Some(3),
        permission: None,
    }
}

async fn until(
    registry: &Registry,
    source: &str,
    ready: impl Fn(&SourceState) -> bool,
) -> SourceState {
    let started = Instant::now();
    loop {
        let state = registry
            .sources()
            .into_iter()
            .find(|info| info.name == source)
            .map(|info| info.state);
        if let Some(state) = state.filter(|state| ready(state)) {
            return state;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{source} never got there"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_of_a_stdio_server_are_called_and_it_is_restarted_after_a_crash() {
    let registry = Registry::new();
    let cancel = CancellationToken::new();
    let task = supervise(
        Arc::clone(&registry),
        fixture("fix", &[]),
        Arc::new(NoSecrets),
        codexos_net::watch_offline(),
        cancel.clone(),
    );
    until(&registry, "mcp:fix", |state| *state == SourceState::Ready).await;
    let context = CallContext::new(std::env::temp_dir());
    let policy = Policy::default();
    let entries = registry.tools(&policy);
    let names: Vec<&str> = entries.iter().map(|entry| entry.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "fix.add",
            "fix.connect",
            "fix.crash",
            "fix.echo",
            "fix.sleep"
        ]
    );
    assert_eq!(entries[0].permission, codexos_tools::Permission::Ask);
    let call = |name: &'static str, arguments: serde_json::Value| {
        let registry = Arc::clone(&registry);
        let context = context.clone();
        let policy = policy.clone();
        async move {
            registry
                .call(name, arguments, &policy, &PreApproved, &context)
                .await
        }
    };
    assert_eq!(
        call("fix.echo", json!({"text": "hi"})).await.expect("echo"),
        json!("echo: hi")
    );
    assert_eq!(
        call("fix.add", json!({"a": 2, "b": 3.5}))
            .await
            .expect("add"),
        json!("5.5")
    );
    // Arguments are checked against the server's schema before the call.
    let bad = call("fix.add", json!({"a": "two"})).await;
    assert!(bad.is_err_and(|error| error.to_string().contains("`b` is required")));
    // A hanging tool times out with the tool's name.
    let hung = call("fix.sleep", json!({})).await;
    assert!(hung.is_err_and(|error| error.to_string().contains("`fix.sleep` timed out")));
    // A crash fails the call, and the server comes back.
    let crashed = call("fix.crash", json!({})).await;
    assert!(crashed.is_err_and(|error| error.to_string().contains("fix")));
    until(&registry, "mcp:fix", |state| {
        matches!(state, SourceState::Restarting(_))
    })
    .await;
    until(&registry, "mcp:fix", |state| *state == SourceState::Ready).await;
    assert_eq!(
        call("fix.echo", json!({"text": "again"}))
            .await
            .expect("echo"),
        json!("echo: again")
    );
    cancel.cancel();
    task.await.expect("supervisor");
    assert_eq!(registry.sources()[0].state, SourceState::Stopped);
    assert!(registry.tool("fix.echo").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_speaking_garbage_or_missing_is_reported_not_fatal() {
    let registry = Registry::new();
    let cancel = CancellationToken::new();
    supervise(
        Arc::clone(&registry),
        fixture("junk", &["--garbage"]),
        Arc::new(NoSecrets),
        codexos_net::watch_offline(),
        cancel.clone(),
    );
    let mut missing = fixture("gone", &[]);
    missing.command = Some(vec!["/nonexistent/mcp-server".into()]);
    supervise(
        Arc::clone(&registry),
        missing,
        Arc::new(NoSecrets),
        codexos_net::watch_offline(),
        cancel.clone(),
    );
    let junk = until(&registry, "mcp:junk", |state| {
        matches!(state, SourceState::Restarting(_))
    })
    .await;
    let gone = until(&registry, "mcp:gone", |state| {
        matches!(state, SourceState::Restarting(_))
    })
    .await;
    let SourceState::Restarting(junk) = junk else {
        unreachable!()
    };
    let SourceState::Restarting(gone) = gone else {
        unreachable!()
    };
    assert!(
        junk.contains("initialize") || junk.contains("MCP"),
        "{junk}"
    );
    assert!(
        gone.contains("cannot start `/nonexistent/mcp-server`: no such program"),
        "{gone}"
    );
    let unknown = registry
        .call(
            "junk.echo",
            json!({}),
            &Policy::default(),
            &PreApproved,
            &CallContext::new(std::env::temp_dir()),
        )
        .await;
    assert!(unknown.is_err_and(|error| error.to_string().contains("not ready: mcp:junk")));
    cancel.cancel();
}

/// The vault, holding one secret.
struct OneSecret;

impl codexos_tools::Secrets for OneSecret {
    fn secret(&self, name: &str) -> Result<secrecy::SecretString, String> {
        match name.strip_prefix("vault://").unwrap_or(name) {
            "TOKEN" => Ok(secrecy::SecretString::from("mcp-token-5e1f0c")),
            other => Err(format!("no secret `{other}`")),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_servers_own_secret_is_taken_out_of_its_answers() {
    let registry = Registry::new();
    let cancel = CancellationToken::new();
    let mut config = fixture("keyed", &[]);
    config.env.insert(
        "API_TOKEN".into(),
        codexos_tools::folder::EnvValue::Vault {
            vault: "vault://TOKEN".into(),
        },
    );
    let task = supervise(
        Arc::clone(&registry),
        config,
        Arc::new(OneSecret),
        codexos_net::watch_offline(),
        cancel.clone(),
    );
    until(&registry, "mcp:keyed", |state| *state == SourceState::Ready).await;
    let answer = registry
        .call(
            "keyed.echo",
            json!({"text": "the token is mcp-token-5e1f0c"}),
            &Policy::default(),
            &PreApproved,
            &CallContext::new(std::env::temp_dir()),
        )
        .await
        .expect("echo");
    assert_eq!(answer, json!("echo: the token is vault://TOKEN"));
    cancel.cancel();
    task.await.expect("supervisor");
}

/// Waits until `source` is ready, noted as cut off from the network
/// (`offline`) or not.
async fn ready_offline(registry: &Registry, source: &str, offline: bool) {
    let started = Instant::now();
    loop {
        let info = registry
            .sources()
            .into_iter()
            .find(|info| info.name == source);
        if let Some(info) = info.filter(|info| info.state == SourceState::Ready) {
            let noted = info
                .problems
                .iter()
                .any(|problem| problem == codexos_tools::mcp::OFFLINE_NOTE);
            if noted == offline {
                return;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{source} never became ready (offline: {offline}): {:?}",
            registry.sources()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_a_stdio_server_runs_without_network_and_the_switch_restarts_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let seen = || accepted.load(std::sync::atomic::Ordering::SeqCst);
    // Its own switch: the process-wide one would reach the other tests.
    let (switch, offline) = tokio::sync::watch::channel(true);
    let registry = Registry::new();
    let cancel = CancellationToken::new();
    let task = supervise(
        Arc::clone(&registry),
        fixture("net", &[]),
        Arc::new(NoSecrets),
        offline,
        cancel.clone(),
    );
    let context = CallContext::new(std::env::temp_dir());
    let connect = || {
        let registry = Arc::clone(&registry);
        let context = context.clone();
        let arguments = json!({ "address": address });
        async move {
            registry
                .call(
                    "net.connect",
                    arguments,
                    &Policy::default(),
                    &PreApproved,
                    &context,
                )
                .await
                .unwrap_or_else(|error| {
                    panic!("the tool did not run: {error}; {:?}", registry.sources())
                })
        }
    };

    let cut_off = |answer: serde_json::Value| {
        assert!(
            answer
                .as_str()
                .is_some_and(|text| text.starts_with("failed")),
            "{answer}"
        );
    };

    // Offline from the start: the server runs, says where, and reaches nothing.
    ready_offline(&registry, "mcp:net", true).await;
    cut_off(connect().await);
    // Positive control: online, the same server's same call gets through.
    switch.send(false).expect("switch");
    ready_offline(&registry, "mcp:net", false).await;
    assert_eq!(connect().await, json!("connected"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(seen(), 1, "the online connection was not counted");
    // Switched while it runs: restarted at once, cut off again.
    switch.send(true).expect("switch");
    ready_offline(&registry, "mcp:net", true).await;
    cut_off(connect().await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(seen(), 1, "an offline server reached the listener");

    cancel.cancel();
    task.await.expect("supervisor");
}
