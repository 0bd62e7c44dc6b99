//! `codexos runs diff A B` on the real binary: a run re-run live on another
//! model, a repeat of the same run, and a run of an edited flow, each
//! compared node by node with the first divergence named.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::security::{completion, scripted, Scripted};
use crate::{assert_success, Cli};

const FLOW: &str = r#"{"version": 2, "name": "greeter", "state": {"topic": "string", "greeting": "string", "shout": "string"},
  "nodes": [{"id": "start", "kind": "input"},
            {"id": "greet", "kind": "llm", "prompt": "Greet {{topic}}.", "output": "greeting"},
            {"id": "loud", "kind": "transform", "set": {"shout": "greeting ~ '!'"}},
            {"id": "out", "kind": "output", "keys": ["shout"]}],
  "edges": [{"from": "start", "to": "greet"}, {"from": "greet", "to": "loud"}, {"from": "loud", "to": "out"}]}"#;

pub(crate) fn outcome(output: &std::process::Output) -> Value {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|line| line.get("outcome").cloned())
        .unwrap_or_else(|| {
            panic!(
                "no outcome line: {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
}

fn node<'a>(diff: &'a Value, id: &str) -> &'a Value {
    diff["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|node| node["node"] == id))
        .unwrap_or_else(|| panic!("no node `{id}`: {diff}"))
}

/// A home whose two providers serve two models (`two` answers in French),
/// and the greeter flow written to a folder.
fn greeter() -> (Scripted, Cli, tempfile::TempDir, PathBuf) {
    let server = scripted(Box::new(|seen, _| {
        completion(
            if seen.body.contains("gpt-4.1-mini") {
                "Bonjour"
            } else {
                "Hello"
            },
            &[],
        )
    }));
    let cli = Cli::new();
    let provider = |name: &str, model: &str| {
        format!(
            "[[providers]]\nname = \"{name}\"\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"{model}\"\ntimeout_secs = 30\n\n",
            server.url
        )
    };
    std::fs::write(
        cli.home.path().join("config.toml"),
        format!(
            "[llm]\nmax_tokens = 16\ntemperature = 0.0\npolicy = [\"one\", \"two\"]\n\n{}{}",
            provider("one", "gpt-4o-mini"),
            provider("two", "gpt-4.1-mini")
        ),
    )
    .expect("config");
    let dir = tempfile::tempdir().expect("dir");
    let flow = dir.path().join("greeter.flow.json");
    std::fs::write(&flow, FLOW).expect("flow");
    (server, cli, dir, flow)
}

/// Runs the flow on `{"topic": "Ada"}`; returns the run id.
fn start(cli: &Cli, flow: &Path) -> String {
    let flow = flow.to_str().expect("path");
    let run = cli.run(&["run", flow, "--input", r#"{"topic": "Ada"}"#, "--json"]);
    assert_success(&run, &["run", flow]);
    let outcome = outcome(&run);
    assert_eq!(outcome["status"], "succeeded", "{outcome}");
    outcome["runId"].as_str().expect("run id").to_owned()
}

fn differs(diff: &Value, id: &str) -> Vec<String> {
    node(diff, id)["differs"]
        .as_array()
        .expect("differs")
        .iter()
        .filter_map(|part| part.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn runs_diff_names_the_first_node_where_two_runs_part_ways() {
    let (_server, cli, _dir, flow) = greeter();
    let first = start(&cli, &flow);
    let repeat = start(&cli, &flow);

    // The same flow, input and model: nothing differs but time.
    let same = cli.json(&["runs", "diff", &first, &repeat]);
    assert_eq!(same["firstDivergence"], Value::Null, "{same}");
    assert_eq!(same["sameOutput"], true);
    assert_eq!(same["a"]["flowHash"], same["b"]["flowHash"]);
    // Positive control: the model node was compared with its prompt and answer.
    let greet = node(&same, "greet");
    assert!(
        greet["a"]["prompt"]
            .as_str()
            .is_some_and(|prompt| prompt.contains("Greet Ada.")),
        "{greet}"
    );
    assert_eq!(greet["a"]["answer"], "Hello\n");
    assert_eq!(greet["a"]["usage"]["promptTokens"], 12);

    // Re-run live on the other model: it diverges at `greet`, then `loud`.
    let rerun = cli.run(&[
        "runs", "replay", &first, "--diff", "--model", "two", "--json",
    ]);
    assert_success(&rerun, &["runs", "replay", "--diff"]);
    let rerun: Value = serde_json::from_slice(&rerun.stdout).expect("report");
    let other = rerun["outcome"]["runId"]
        .as_str()
        .expect("new run")
        .to_owned();
    let diff = cli.json(&["runs", "diff", &first, &other]);
    assert_eq!(diff["firstDivergence"], "greet", "{diff}");
    let parts = differs(&diff, "greet");
    assert!(
        ["answer", "model", "output", "definition"]
            .iter()
            .all(|part| parts.iter().any(|found| found == part)),
        "{parts:?}"
    );
    assert!(
        !parts.iter().any(|part| part == "prompt"),
        "same prompt: {parts:?}"
    );
    assert!(differs(&diff, "start").is_empty());
    assert_eq!(diff["sameOutput"], false);
    assert_eq!(diff["b"]["output"]["shout"], "Bonjour!");

    let text = cli.run(&["runs", "diff", &first[..8], &other[..8]]);
    assert_success(&text, &["runs", "diff"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("first divergence: greet (")
            && text.contains("-Hello")
            && text.contains("+Bonjour"),
        "{text}"
    );
    assert!(
        text.contains("▶ greet") && text.contains("≠ loud"),
        "{text}"
    );
    assert!(text.contains("1 node did the same"), "{text}");
}

#[test]
fn runs_diff_marks_a_node_whose_definition_changed_and_names_an_unknown_run() {
    let (_server, cli, _dir, flow) = greeter();
    let first = start(&cli, &flow);
    // An edited flow: the prompt changed, and the diff says the definition did.
    std::fs::write(
        &flow,
        FLOW.replace("Greet {{topic}}.", "Welcome {{topic}}."),
    )
    .expect("edit");
    let edited = start(&cli, &flow);
    let diff = cli.json(&["runs", "diff", &first, &edited]);
    assert_ne!(diff["a"]["flowHash"], diff["b"]["flowHash"]);
    assert_eq!(diff["firstDivergence"], "greet", "{diff}");
    assert_eq!(differs(&diff, "greet"), ["definition", "prompt"], "{diff}");
    assert_eq!(diff["sameOutput"], true, "the answer did not change");

    let unknown = cli.run(&["runs", "diff", &first, "nosuchrun"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("nosuchrun"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}
