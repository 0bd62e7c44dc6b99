//! The audit log on the real binary and the real SQLite file: the vault's
//! changes and uses and a configuration change are recorded with who and
//! from where; `audit verify` finds an edited entry, and a log rewritten
//! from some point on against a head recorded earlier.

use crate::{assert_success, error_line, Cli};

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
            "DROP TRIGGER audit_append_only_update; DROP TRIGGER audit_append_only_delete;",
        )
        .expect("triggers dropped");
    connection
}

#[test]
fn changes_and_secret_uses_are_recorded_and_tampering_is_found() {
    let cli = Cli::new();
    assert_success(
        &cli.run_with_stdin(&["vault", "set", "GITHUB_TOKEN"], "ghp-audit-sentinel-0001"),
        &["vault", "set"],
    );
    assert_success(
        &cli.run(&["vault", "get", "GITHUB_TOKEN"]),
        &["vault", "get"],
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

    let secrets = entries(&cli, "secret");
    let seen: Vec<(&str, &str, &str)> = secrets
        .iter()
        .map(|entry| {
            (
                entry["action"].as_str().unwrap_or_default(),
                entry["target"].as_str().unwrap_or_default(),
                entry["origin"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("secret.use", "GITHUB_TOKEN", "cli"),
            ("secret.set", "GITHUB_TOKEN", "cli")
        ]
    );
    assert!(secrets[0]["who"]
        .as_str()
        .is_some_and(|who| !who.is_empty()));
    let otlp = entries(&cli, "otlp");
    assert_eq!(otlp[0]["target"], "collector", "{otlp:?}");
    let listed = String::from_utf8_lossy(&cli.run(&["audit", "list"]).stdout).into_owned();
    assert!(
        !listed.contains("ghp-audit-sentinel"),
        "no secret value in the log: {listed}"
    );

    // Positive control: the untouched chain holds; its head is printed.
    let check = cli.json(&["audit", "verify"]);
    assert!(check["broken"].is_null(), "{check}");
    assert_eq!(check["entries"], 3);
    let head = check["head"].as_str().expect("head").to_owned();

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
        .execute("DELETE FROM audit WHERE seq = 3", [])
        .expect("cut");
    assert_success(&cli.run(&["audit", "verify"]), &["audit", "verify"]);
    let against = cli.run(&["audit", "verify", "--head", &head]);
    assert!(!against.status.success(), "the recorded head is gone");
    assert!(
        error_line(&against).contains("rewritten"),
        "{}",
        error_line(&against)
    );
}
