//! The audit log on the real binary and the real SQLite file: the vault's
//! changes and uses (with their purpose), a new flow version, a provider
//! (its URL without the credential in it) and an endpoint are recorded with
//! who and from where; `audit verify` finds an edited entry, and a cut tail
//! against a head recorded earlier.

use crate::{assert_success, error_line, Cli};

const FLOW: &str = r#"{"version": 2, "name": "audited", "state": {"greeting": "string"},
  "nodes": [{"id": "start", "kind": "input"},
            {"id": "say", "kind": "transform", "set": {"greeting": "'hello'"}},
            {"id": "out", "kind": "output", "keys": ["greeting"]}],
  "edges": [{"from": "start", "to": "say"}, {"from": "say", "to": "out"}]}"#;

fn entries(cli: &Cli, action: &str) -> Vec<serde_json::Value> {
    cli.json(&["audit", "list", "--action", action])
        .as_array()
        .expect("entries")
        .clone()
}

/// The home's database with the append-only triggers dropped, as someone
/// editing the file by hand would.
fn by_hand(cli: &Cli) -> rusqlite::Connection {
    let connection =
        rusqlite::Connection::open(cli.home.path().join("codexos.sqlite")).expect("database");
    connection
        .execute_batch(
            "DROP TRIGGER audit_append_only_update; DROP TRIGGER audit_append_only_delete;
             DROP TRIGGER audit_append_only_insert;",
        )
        .expect("triggers dropped");
    connection
}

/// A secret set and revealed, a flow run (its first version), a provider
/// and an endpoint added — from the CLI.
fn make_changes(cli: &Cli) {
    assert_success(
        &cli.run_with_stdin(&["vault", "set", "GITHUB_TOKEN"], "ghp-audit-sentinel-0001"),
        &["vault", "set"],
    );
    assert_success(
        &cli.run(&["vault", "get", "GITHUB_TOKEN"]),
        &["vault", "get"],
    );
    let dir = tempfile::tempdir().expect("dir");
    let flow = dir.path().join("audited.flow.json");
    std::fs::write(&flow, FLOW).expect("flow");
    assert_success(&cli.run(&["run", flow.to_str().expect("path")]), &["run"]);
    assert_success(
        &cli.run(&[
            "providers",
            "add",
            "gateway",
            "--kind",
            "openai",
            "--base-url",
            "https://me:hunter2@gateway.example/v1?api_key=sk-in-the-url",
            "--model",
            "m",
        ]),
        &["providers", "add"],
    );
    assert_success(
        &cli.run(&[
            "otel",
            "add",
            "collector",
            "--endpoint",
            "http://127.0.0.1:9",
            "--no-check",
        ]),
        &["otel", "add"],
    );
}

#[test]
fn changes_and_secret_uses_are_recorded_and_tampering_is_found() {
    let cli = Cli::new();
    make_changes(&cli);

    let secrets = entries(&cli, "secret");
    let seen: Vec<(&str, &str, &str, &str)> = secrets
        .iter()
        .map(|entry| {
            (
                entry["action"].as_str().unwrap_or_default(),
                entry["target"].as_str().unwrap_or_default(),
                entry["origin"].as_str().unwrap_or_default(),
                entry["detail"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("secret.use", "GITHUB_TOKEN", "cli", r#"{"for":"reveal"}"#),
            ("secret.set", "GITHUB_TOKEN", "cli", "{}")
        ]
    );
    assert!(secrets[0]["who"]
        .as_str()
        .is_some_and(|who| !who.is_empty()));
    assert_eq!(entries(&cli, "flow")[0]["target"], "audited");
    assert_eq!(entries(&cli, "otlp")[0]["target"], "collector");
    let provider = &entries(&cli, "provider")[0];
    assert_eq!(provider["target"], "gateway");
    let detail = provider["detail"].as_str().expect("detail");
    assert!(
        detail.contains("gateway.example/v1")
            && !detail.contains("hunter2")
            && !detail.contains("sk-in"),
        "{detail}"
    );
    let listed = String::from_utf8_lossy(&cli.run(&["audit", "list"]).stdout).into_owned();
    assert!(
        !listed.contains("ghp-audit-sentinel"),
        "no secret value in the log: {listed}"
    );

    // Positive control: the untouched chain holds; its head is printed and
    // found.
    let check = cli.json(&["audit", "verify"]);
    assert!(check["broken"].is_null(), "{check}");
    assert_eq!(check["entries"], 5);
    let head = check["head"].as_str().expect("head").to_owned();
    let against = cli.json(&["audit", "verify", "--head", &head]);
    assert_eq!(against["givenHeadAt"], 5, "{against}");

    // An entry edited by hand is found.
    let connection = by_hand(&cli);
    connection
        .execute("UPDATE audit SET target = 'OTHER' WHERE seq = 1", [])
        .expect("edited");
    let verify = cli.run(&["audit", "verify"]);
    assert!(!verify.status.success(), "an edited log fails");
    assert!(
        error_line(&verify).contains("tampered with at entry 1"),
        "{}",
        error_line(&verify)
    );
    connection
        .execute("UPDATE audit SET target = 'GITHUB_TOKEN' WHERE seq = 1", [])
        .expect("put back");
    assert_success(&cli.run(&["audit", "verify"]), &["audit", "verify"]);

    // The tail cut off by hand: the rest still chains, but the head
    // recorded earlier is gone.
    connection
        .execute("DELETE FROM audit WHERE seq = 5", [])
        .expect("cut");
    assert_success(&cli.run(&["audit", "verify"]), &["audit", "verify"]);
    let cut = cli.run(&["audit", "verify", "--head", &head]);
    assert!(!cut.status.success(), "the recorded head is gone");
    assert!(
        error_line(&cut).contains("cut or rewritten"),
        "{}",
        error_line(&cut)
    );
}
