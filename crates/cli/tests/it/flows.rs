//! Flows end to end on the real parts: the example flows with the local
//! model, a run killed with SIGKILL and resumed, a replay with no model files
//! and no network, the check before a run, versions and agents.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{assert_success, error_line, Cli};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn example(name: &str) -> String {
    examples()
        .join("flows")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The final `{"outcome": …}` line of a `--json` run.
fn outcome(stdout: &[u8]) -> Value {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|line| line.get("outcome").cloned())
        .expect("an outcome line")
}

fn run_json(cli: &Cli, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let output = cli.run(&all);
    assert_success(&output, args);
    outcome(&output.stdout)
}

#[test]
fn the_example_flows_run_on_the_local_model() {
    let cli = Cli::new();
    let corpus = crate::corpus();
    let folder = corpus.path().to_str().expect("path");
    assert_success(
        &cli.run(&["ingest", folder, "--project", "docs"]),
        &["ingest"],
    );

    let rag = run_json(
        &cli,
        &[
            "run",
            &example("rag-qa.flow.json"),
            "--project",
            "docs",
            "--input",
            r#"{"question": "How do I install Lumen?"}"#,
        ],
    );
    assert_eq!(rag["status"], "succeeded", "{rag}");
    assert!(
        !rag["output"]["answer"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{rag}"
    );
    assert!(!rag["output"]["hits"].as_array().expect("hits").is_empty());

    let map = run_json(
        &cli,
        &[
            "run",
            &example("map-reduce.flow.json"),
            "--project",
            "docs",
            "--input",
            r#"{"folder": ".", "limit": 3}"#,
        ],
    );
    assert_eq!(map["status"], "succeeded", "{map}");
    assert_eq!(
        map["output"]["summaries"].as_array().map(Vec::len),
        Some(3),
        "{map}"
    );

    for agent in ["planner", "executor"] {
        let file = examples().join(format!("agents/{agent}.agent.json"));
        assert_success(
            &cli.run(&["agents", "publish", file.to_str().expect("path")]),
            &["agents", "publish"],
        );
    }
    let plan = run_json(
        &cli,
        &[
            "run",
            &example("plan-execute.flow.json"),
            "--project",
            "docs",
            "--input",
            r#"{"task": "Explain how to configure Lumen"}"#,
        ],
    );
    assert_eq!(plan["status"], "succeeded", "{plan}");
    assert!(
        !plan["output"]["result"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{plan}"
    );

    // Review a git diff: a repository with one uncommitted change.
    let repo = repository_with_a_change();
    assert_success(
        &cli.run(&[
            "ingest",
            repo.path().to_str().expect("path"),
            "--project",
            "repo",
        ]),
        &["ingest"],
    );
    let review = run_json(
        &cli,
        &[
            "run",
            &example("review-diff.flow.json"),
            "--project",
            "repo",
        ],
    );
    assert_eq!(review["output"]["verdict"], "reviewed", "{review}");
    let runs = cli.json(&["runs", "list"]);
    assert_eq!(
        runs.as_array().map(Vec::len),
        Some(4 + 3),
        "four runs and three subflow runs: {runs}"
    );
}

/// A git repository whose one file has an uncommitted change.
fn repository_with_a_change() -> tempfile::TempDir {
    let repo = tempfile::tempdir().expect("temp dir");
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .status()
            .expect("git");
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    std::fs::write(
        repo.path().join("lib.rs"),
        "fn add(a: i32, b: i32) -> i32 { a + b }\n",
    )
    .expect("write");
    git(&["add", "."]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@e",
        "commit",
        "-qm",
        "init",
    ]);
    std::fs::write(
        repo.path().join("lib.rs"),
        "fn add(a: i32, b: i32) -> i32 { a - b }\n",
    )
    .expect("write");
    repo
}

/// A flow with a model call between two deterministic steps (the model
/// writes long enough for a run to be killed or cancelled mid-node).
pub(crate) const SLOW: &str = r#"{"version": 2, "name": "slow", "state": {"a": "number", "story": "string", "c": "number"},
  "nodes": [{"id": "first", "kind": "transform", "set": {"a": "1"}},
            {"id": "write", "kind": "llm", "prompt": "Write a long story about a lighthouse keeper.", "maxTokens": 400, "output": "story"},
            {"id": "last", "kind": "transform", "set": {"c": "a + 1"}},
            {"id": "out", "kind": "output", "keys": ["a", "c", "story"]}],
  "edges": [{"from": "first", "to": "write"}, {"from": "write", "to": "last"}, {"from": "last", "to": "out"}]}"#;

#[test]
fn a_run_killed_mid_node_resumes_without_rerunning_finished_nodes() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("slow.flow.json");
    std::fs::write(&file, SLOW).expect("write");
    let mut child = cli
        .command(&["run", file.to_str().expect("path"), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut run_id = String::new();
    let started = Instant::now();
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let event: Value = serde_json::from_str(&line.expect("line")).expect("event");
        run_id = event["run"].as_str().unwrap_or_default().to_owned();
        // The first token of `write`: `first` is checkpointed, `write` is mid-way.
        if event["event"]["type"] == "token" {
            break;
        }
        assert!(started.elapsed() < Duration::from_mins(2), "no token came");
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let show = cli.json(&["runs", "show", &run_id]);
    assert_eq!(
        show["summary"]["status"], "running",
        "killed mid-run: {show}"
    );
    assert_eq!(show["finished"], serde_json::json!([[0, "first"]]));

    let output = cli.run(&["runs", "resume", &run_id[..8], "--json"]);
    assert_success(&output, &["runs", "resume"]);
    let resumed = outcome(&output.stdout);
    assert_eq!(resumed["status"], "succeeded");
    assert_eq!(
        (
            resumed["output"]["a"].clone(),
            resumed["output"]["c"].clone()
        ),
        (1.into(), 2.into())
    );
    let events: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let started: Vec<&str> = events
        .iter()
        .filter(|event| event["event"]["type"] == "nodeStarted")
        .filter_map(|event| event["node"].as_str())
        .collect();
    assert_eq!(
        started,
        vec!["write", "last", "out"],
        "`first` is not run again"
    );
    // The local model's call is traced: tokens and compute time, no money.
    let show = cli.json(&["runs", "show", &run_id]);
    let write = show["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|node| node["node"] == "write"))
        .unwrap_or_else(|| panic!("no trace of `write`: {show}"));
    let usage = &write["usage"];
    assert_eq!(usage["modelCalls"], 1, "{usage}");
    assert!(usage["promptTokens"].as_u64() > Some(5), "{usage}");
    assert!(usage["completionTokens"].as_u64() > Some(0), "{usage}");
    assert!(usage["computeMs"].as_u64() > Some(0), "{usage}");
    assert!(usage["firstTokenMs"].as_u64() > Some(0), "{usage}");
    assert_eq!(
        usage["costUsd"],
        Value::Null,
        "a local model costs no money: {usage}"
    );
    assert_eq!(show["usage"]["completionTokens"], usage["completionTokens"]);
}

#[test]
fn a_recorded_run_replays_with_no_models_and_no_network() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("slow.flow.json");
    std::fs::write(&file, SLOW.replace("400", "24")).expect("write");
    let first = run_json(&cli, &["run", file.to_str().expect("path")]);
    let id = first["runId"].as_str().expect("id").to_owned();

    let empty = tempfile::tempdir().expect("no models");
    let mut offline = Cli {
        env: vec![(
            "CODEXOS_MODELS".into(),
            empty.path().to_string_lossy().into_owned(),
        )],
        ..Cli::new()
    };
    offline.home = cli.home;
    let output = offline
        .offline_command(&["runs", "replay", &id, "--json"])
        .output()
        .expect("replay");
    assert_success(&output, &["runs", "replay"]);
    let report: Value = serde_json::from_slice(&output.stdout).expect("report");
    assert_eq!(report["identical"], true, "{report}");
    assert_eq!(report["outcome"]["output"], first["output"]);

    // Live again with the model: the greedy model writes the same story.
    let diff = offline_to_live(&offline, &["runs", "replay", &id, "--diff", "--json"]);
    assert!(
        diff["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .all(|node| node["node"] != "first" || node["same"] == true),
        "{diff}"
    );
}

fn offline_to_live(cli: &Cli, args: &[&str]) -> Value {
    let mut command = cli.command(args);
    command.env("CODEXOS_MODELS", crate::models_dir());
    let output = command.output().expect("runs");
    assert_success(&output, args);
    serde_json::from_slice(&output.stdout).expect("report")
}

#[test]
fn a_flow_that_fails_the_check_does_not_start() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bad.flow.json");
    std::fs::write(
        &file,
        r#"{"version": 2, "name": "bad", "state": {"x": "string"},
           "nodes": [{"id": "call", "kind": "tool", "tool": "nope", "output": "x"},
                     {"id": "ask", "kind": "llm", "prompt": "{{ y }}", "model": "missing.gguf", "output": "x"}],
           "edges": [{"from": "call", "to": "ask"}, {"from": "ask", "to": "gone"}]}"#,
    )
    .expect("write");
    let path = file.to_str().expect("path");
    let report = cli.run(&["flow", "check", path, "--json"]);
    assert!(!report.status.success());
    // The report, then the error document.
    let report: Value = serde_json::Deserializer::from_slice(&report.stdout)
        .into_iter()
        .next()
        .expect("a report")
        .expect("json");
    let codes: Vec<&str> = report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["code"].as_str())
        .collect();
    for code in [
        "dangling-edge",
        "unknown-tool",
        "unknown-state",
        "unknown-model",
        "no-output",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    let refused = cli.run(&["run", path]);
    assert!(error_line(&refused).contains("was not started"));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("call: node `call` calls tool `nope`, which does not exist"),
        "{stderr}"
    );
    assert!(
        cli.json(&["runs", "list"])
            .as_array()
            .expect("runs")
            .is_empty(),
        "nothing ran"
    );

    std::fs::write(&file, "{\"version\": 2, \"name\": \"bad\",\n \"nodes\": [}").expect("write");
    let line = error_line(&cli.run(&["flow", "check", path]));
    assert!(line.contains("line 2"), "{line}");
    std::fs::write(&file, r#"{"version": 7, "name": "future", "nodes": []}"#).expect("write");
    let line = error_line(&cli.run(&["run", path]));
    assert!(line.contains("version 7 is not supported"), "{line}");
}

#[test]
fn flows_keep_versions_and_agents_are_immutable() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("count.flow.json");
    let flow = |limit: u32| {
        format!(
            r#"{{"version": 2, "name": "count", "state": {{"n": "number"}},
               "nodes": [{{"id": "set", "kind": "transform", "set": {{"n": "{limit}"}}}}, {{"id": "out", "kind": "output", "keys": ["n"]}}],
               "edges": [{{"from": "set", "to": "out"}}]}}"#
        )
    };
    let path = file.to_str().expect("path");
    std::fs::write(&file, flow(1)).expect("write");
    let first = run_json(&cli, &["run", path]);
    run_json(&cli, &["run", path]);
    std::fs::write(&file, flow(2)).expect("write");
    assert_eq!(run_json(&cli, &["run", path])["output"]["n"], 2);
    let history = cli.json(&["flows", "history", "count"]);
    assert_eq!(
        history.as_array().map(Vec::len),
        Some(2),
        "an unchanged flow is not a new version"
    );
    let diff = cli.json(&["flows", "diff", "count", "1"]);
    let text = diff["diff"].as_str().unwrap_or_default();
    assert!(
        text.lines()
            .any(|line| line.starts_with('-') && line.ends_with("\"n\": \"1\"")),
        "{diff}"
    );
    assert!(
        text.lines()
            .any(|line| line.starts_with('+') && line.ends_with("\"n\": \"2\"")),
        "{diff}"
    );
    assert_success(
        &cli.run(&["flows", "rollback", "count", "1"]),
        &["flows", "rollback"],
    );
    assert_eq!(run_json(&cli, &["run", path])["output"]["n"], 1);
    assert_eq!(cli.json(&["flows", "list"])[0]["version"], 3);

    let fork = run_json(
        &cli,
        &[
            "runs",
            "fork",
            first["runId"].as_str().expect("id"),
            "--from",
            "out",
            "--set",
            "n=41",
        ],
    );
    assert_eq!(fork["output"]["n"], 41);

    let agent = dir.path().join("helper.agent.json");
    assert_success(
        &cli.run(&[
            "agents",
            "new",
            "helper",
            "--out",
            agent.to_str().expect("path"),
        ]),
        &["agents", "new"],
    );
    assert_success(
        &cli.run(&["agents", "publish", agent.to_str().expect("path")]),
        &["agents", "publish"],
    );
    let again = error_line(&cli.run(&["agents", "publish", agent.to_str().expect("path")]));
    assert!(
        again.contains("already published") && again.contains("0.1.1"),
        "{again}"
    );
    assert_eq!(cli.json(&["agents", "show", "helper"])["version"], "0.1.0");
}

#[test]
fn a_paused_run_resumes_with_an_answer_and_not_without() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("gate.flow.json");
    std::fs::write(
        &file,
        r#"{"version": 2, "name": "gate", "state": {"ok": "object", "n": "number"},
           "nodes": [{"id": "ask", "kind": "human", "prompt": "Ship it?", "output": "ok"},
                     {"id": "after", "kind": "transform", "set": {"n": "7"}},
                     {"id": "out", "kind": "output", "keys": ["n"]}],
           "edges": [{"from": "ask", "to": "after"}, {"from": "after", "to": "out"}]}"#,
    )
    .expect("write");
    let paused = run_json(&cli, &["run", file.to_str().expect("path")]);
    assert_eq!(
        (paused["status"].as_str(), paused["waiting"].as_str()),
        (Some("paused"), Some("ask"))
    );
    let id = paused["runId"].as_str().expect("id");
    let refused = error_line(&cli.run(&["runs", "resume", id]));
    assert!(refused.contains("waits for a person at `ask`"), "{refused}");
    let approved = run_json(&cli, &["runs", "resume", id, "--approve"]);
    assert_eq!(approved["output"]["n"], 7, "{approved}");
}
