use crate::{assert_success, error_line, files_containing, Cli};

const SENTINEL: &str = "sk-sentinel-4b1d-never-on-disk";

#[test]
fn vault_round_trip_reads_values_from_stdin_and_stores_no_plaintext() {
    let cli = Cli::new();
    let set = cli.run_with_stdin(
        &["vault", "set", "OPENAI_API_KEY"],
        &format!("{SENTINEL}\n"),
    );
    assert_success(&set, &["vault set"]);
    let get = cli.run(&["vault", "get", "OPENAI_API_KEY"]);
    assert_success(&get, &["vault get"]);
    assert_eq!(String::from_utf8_lossy(&get.stdout).trim_end(), SENTINEL);
    let names = cli.json(&["vault", "list"]);
    assert_eq!(names, serde_json::json!(["OPENAI_API_KEY"]));

    // Ingest and ask too, so every file the home holds exists.
    let corpus = crate::corpus();
    cli.json(&["ingest", corpus.path().to_str().expect("path")]);
    assert!(
        files_containing(cli.home.path(), SENTINEL.as_bytes()).is_empty(),
        "the secret is on disk in plaintext"
    );

    assert_success(&cli.run(&["vault", "rm", "OPENAI_API_KEY"]), &["vault rm"]);
    let line = error_line(&cli.run(&["vault", "get", "OPENAI_API_KEY"]));
    assert!(line.contains("no secret named `OPENAI_API_KEY`"), "{line}");
}

#[test]
fn without_a_keychain_the_vault_refuses_and_says_how_to_get_one() {
    let mut cli = Cli::new();
    cli.env.push((
        "DBUS_SESSION_BUS_ADDRESS".into(),
        "unix:path=/nonexistent/codexos-test-bus".into(),
    ));
    let output = cli.run_with_stdin(&["vault", "set", "KEY"], SENTINEL);
    let line = error_line(&output);
    assert!(
        line.contains("no OS keychain is reachable") && line.contains("gnome-keyring"),
        "{line}"
    );
    assert!(files_containing(cli.home.path(), SENTINEL.as_bytes()).is_empty());
    let json = cli.run_with_stdin(&["vault", "set", "KEY", "--json"], SENTINEL);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json error");
    assert_eq!(value["error"]["code"], "keychain");
}

#[test]
fn an_empty_value_is_refused() {
    let cli = Cli::new();
    let line = error_line(&cli.run_with_stdin(&["vault", "set", "EMPTY"], ""));
    assert!(line.contains("empty value"), "{line}");
}
