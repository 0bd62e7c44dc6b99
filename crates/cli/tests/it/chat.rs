//! `codexos chat`, `serve --openai` as another CodexOS's "remote" provider,
//! fallback recorded in the trace, offline mode, and `models pull`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use crate::{assert_success, Cli};

fn events(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect()
}

fn done(events: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    events
        .iter()
        .filter(|event| event["type"] == "done")
        .map(|event| &event["completion"])
        .collect()
}

fn attempts(completion: &serde_json::Value) -> Vec<(String, String)> {
    completion["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|attempt| {
            (
                attempt["provider"].as_str().unwrap_or_default().to_owned(),
                attempt["outcome"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn chat_answers_each_line_and_reuses_the_conversation_state() {
    let cli = Cli::new();
    let output = cli.run_with_stdin(
        &["chat", "--json"],
        "What is the capital of France?\n{\"content\": \"And what is the capital of Italy?\"}\n",
    );
    assert_success(&output, &["chat"]);
    let events = events(&output.stdout);
    let answers = done(&events);
    assert_eq!(answers.len(), 2, "{events:?}");
    assert_eq!(answers[0]["provider"], "local");
    assert!(
        answers[0]["text"]
            .as_str()
            .is_some_and(|text| text.contains("Paris")),
        "{}",
        answers[0]
    );
    assert!(
        answers[1]["cachedTokens"].as_u64() >= answers[0]["promptTokens"].as_u64(),
        "the second turn reused the first: {}",
        answers[1]
    );
    assert!(events.iter().any(|event| event["type"] == "token"));
}

#[test]
fn with_the_network_cut_chat_uses_the_local_model() {
    let cli = Cli::new();
    let output = crate::pipe(
        cli.offline_command(&["--offline", "chat", "--json"]),
        "What is the capital of France?\n",
    );
    assert_success(&output, &["--offline", "chat"]);
    let events = events(&output.stdout);
    let answers = done(&events);
    assert_eq!(answers.len(), 1, "{events:?}");
    assert_eq!(answers[0]["provider"], "local");
}

/// `codexos serve --openai --port 0` in its own home; returns the process and
/// its base URL.
fn serve(cli: &Cli) -> (Child, String) {
    let mut child = cli
        .command(&["--json", "serve", "--openai", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("listening line");
    let listening: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|error| panic!("{error}: {line}"));
    let url = listening["url"].as_str().expect("url").to_owned();
    (child, url)
}

pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Err(error) = self.0.kill() {
            eprintln!("serve already gone: {error}");
        }
        if let Err(error) = self.0.wait() {
            eprintln!("cannot reap serve: {error}");
        }
    }
}

#[test]
fn a_broken_remote_first_falls_back_to_a_served_codexos_and_the_trace_shows_both() {
    let server_cli = Cli::new();
    let (child, url) = serve(&server_cli);
    let _server = Killed(child);

    let cli = Cli::new();
    std::fs::write(
        cli.home.path().join("config.toml"),
        format!(
            "[llm]\nmax_tokens = 48\ntemperature = 0.0\npolicy = [\"dead\", \"served\"]\n\n\
             [[providers]]\nname = \"dead\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"gone\"\n\n\
             [[providers]]\nname = \"served\"\nkind = \"openai\"\nbase_url = \"{url}\"\nmodel = \"codexos\"\ntimeout_secs = 120\n"
        ),
    )
    .expect("config");
    let output = cli.run_with_stdin(&["chat", "--json"], "What is the capital of France?\n");
    assert_success(&output, &["chat"]);
    let events = events(&output.stdout);
    let answers = done(&events);
    assert_eq!(answers.len(), 1, "{events:?}");
    assert_eq!(answers[0]["provider"], "served");
    assert!(
        answers[0]["text"]
            .as_str()
            .is_some_and(|text| text.contains("Paris")),
        "{}",
        answers[0]
    );
    assert_eq!(
        attempts(answers[0]),
        vec![
            ("dead".to_owned(), "failed".to_owned()),
            ("served".to_owned(), "ok".to_owned())
        ]
    );

    // The trace keeps both attempts, newest first.
    let trace = cli.json(&["providers", "attempts"]);
    let rows: Vec<(String, String)> = trace
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            (
                row["provider"].as_str().unwrap_or_default().to_owned(),
                row["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("served".to_owned(), "ok".to_owned()),
            ("dead".to_owned(), "failed".to_owned())
        ]
    );
    let dead = &trace[1];
    assert!(
        dead["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("unreachable")),
        "{dead}"
    );

    // Offline mode refuses both remotes, with the reason, and calls neither.
    let offline = cli.run_with_stdin(&["--offline", "chat", "--json"], "Hello?\n");
    assert!(!offline.status.success());
    let message = String::from_utf8_lossy(&offline.stdout);
    assert!(message.contains("offline mode is on"), "{message}");
}

#[test]
fn providers_list_shows_the_policy() {
    let cli = Cli::new();
    let listing = cli.json(&["providers", "list"]);
    assert_eq!(listing["offline"], false);
    assert_eq!(listing["providers"][0]["name"], "local");
    assert_eq!(listing["providers"][0]["kind"], "local");
}

#[test]
fn providers_are_added_and_removed_with_the_policy_kept_in_step() {
    let cli = Cli::new();
    std::fs::write(
        cli.home.path().join("config.toml"),
        "# mine\n[llm]\npolicy = [\"local\"]\n",
    )
    .expect("config");
    let added = cli.json(&[
        "providers",
        "add",
        "vllm",
        "--kind",
        "openai",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "qwen",
        "--key",
        "VLLM_KEY",
        "--context-size",
        "8192",
    ]);
    let names: Vec<&str> = added["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .filter_map(|provider| provider["name"].as_str())
        .collect();
    assert_eq!(names, ["local", "vllm"], "{added}");
    let config = std::fs::read_to_string(cli.home.path().join("config.toml")).expect("config");
    assert!(config.starts_with("# mine"), "comments kept: {config}");
    assert!(
        config.contains("[[providers]]") && config.contains("key = \"VLLM_KEY\""),
        "{config}"
    );
    // Refused, changing nothing: a taken name, `local`, a pasted key, a bad URL.
    for (arguments, expected) in [
        (
            vec!["vllm", "--base-url", "http://127.0.0.1:9/v1"],
            "taken already",
        ),
        (
            vec!["local", "--base-url", "http://127.0.0.1:9/v1"],
            "taken already",
        ),
        (
            vec![
                "other",
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--key",
                "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789",
            ],
            "must name a vault secret",
        ),
        (
            vec!["other", "--base-url", "not a url"],
            "must be an http(s) address",
        ),
    ] {
        let mut command = vec!["providers", "add"];
        command.extend(arguments);
        command.extend(["--kind", "openai", "--model", "m"]);
        let refused = cli.run(&command);
        let line = crate::error_line(&refused);
        assert!(line.contains(expected), "{command:?}: {line}");
        assert!(
            !line.contains("abcdefghijklmnop"),
            "the key is never repeated: {line}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(cli.home.path().join("config.toml")).expect("config"),
        config
    );
    let removed = cli.json(&["providers", "rm", "vllm"]);
    assert_eq!(
        removed["providers"].as_array().map(Vec::len),
        Some(1),
        "{removed}"
    );
    let config = std::fs::read_to_string(cli.home.path().join("config.toml")).expect("config");
    assert!(!config.contains("vllm"), "{config}");
    let unknown = cli.run(&["providers", "rm", "vllm"]);
    assert!(crate::error_line(&unknown).contains("no provider named `vllm`"));
}

#[test]
fn a_provider_key_comes_from_the_vault_and_a_missing_one_says_how_to_store_it() {
    let server_cli = Cli::new();
    let (child, url) = serve(&server_cli);
    let _server = Killed(child);
    let cli = Cli::new();
    std::fs::write(
        cli.home.path().join("config.toml"),
        format!(
            "[llm]\nmax_tokens = 16\ntemperature = 0.0\npolicy = [\"keyed\"]\n\n\
             [[providers]]\nname = \"keyed\"\nkind = \"openai\"\nbase_url = \"{url}\"\nmodel = \"codexos\"\nkey = \"keyed-api-key\"\ntimeout_secs = 120\n"
        ),
    )
    .expect("config");
    let missing = cli.run_with_stdin(&["chat", "--json"], "Hello?\n");
    assert!(!missing.status.success());
    let message = String::from_utf8_lossy(&missing.stdout);
    assert!(
        message.contains("no key is stored") && message.contains("codexos vault set keyed-api-key"),
        "{message}"
    );
    let stored = cli.run_with_stdin(&["vault", "set", "keyed-api-key"], "sk-local-test");
    assert_success(&stored, &["vault", "set"]);
    let output = cli.run_with_stdin(&["chat", "--json"], "What is the capital of France?\n");
    assert_success(&output, &["chat"]);
    let events = events(&output.stdout);
    assert_eq!(done(&events)[0]["provider"], "keyed");
    let config = std::fs::read_to_string(cli.home.path().join("config.toml")).expect("config");
    assert!(
        !config.contains("sk-local-test"),
        "the key lives in the vault only"
    );
}
