//! `codexos eval`, `evals` and `datasets` on the real parts: a provider
//! stand-in on 127.0.0.1 (the OpenAI protocol), the real SQLite store and
//! flow engine. A live eval records; a replay of it needs no provider (the
//! provider is then pointed at a closed port and the stand-in sees no new
//! request); a flow change that keeps every request passes, one that
//! breaks an answer is a regression and exits 1.

use std::path::Path;

use serde_json::{json, Value};

use crate::security::{completion, scripted};
use crate::{assert_success, Cli};

pub(crate) const QA_FLOW: &str = r#"{"version": 2, "name": "qa", "state": {"question": "string", "answer": "string"},
  "nodes": [{"id": "ask", "kind": "input", "fields": ["question"]},
            {"id": "answer", "kind": "llm", "prompt": "Question: {{ question }}", "output": "answer"},
            {"id": "done", "kind": "output", "keys": ["answer"]}],
  "edges": [{"from": "ask", "to": "answer"}, {"from": "answer", "to": "done"}]}"#;

/// The same requests under other node ids and titles: a replay matches
/// calls by request, so it still answers them.
pub(crate) const QA_RENAMED: &str = r#"{"version": 2, "name": "qa", "description": "renamed nodes", "state": {"question": "string", "answer": "string"},
  "nodes": [{"id": "start", "kind": "input", "title": "Start", "fields": ["question"]},
            {"id": "reply", "kind": "llm", "title": "Reply", "prompt": "Question: {{ question }}", "output": "answer"},
            {"id": "finish", "kind": "output", "keys": ["answer"]}],
  "edges": [{"from": "start", "to": "reply"}, {"from": "reply", "to": "finish"}]}"#;

/// A change that spoils the answer after the model call.
pub(crate) const QA_BROKEN: &str = r#"{"version": 2, "name": "qa", "state": {"question": "string", "answer": "string"},
  "nodes": [{"id": "ask", "kind": "input", "fields": ["question"]},
            {"id": "answer", "kind": "llm", "prompt": "Question: {{ question }}", "output": "answer"},
            {"id": "trim", "kind": "transform", "set": {"answer": "answer[:5]"}},
            {"id": "done", "kind": "output", "keys": ["answer"]}],
  "edges": [{"from": "ask", "to": "answer"}, {"from": "answer", "to": "trim"}, {"from": "trim", "to": "done"}]}"#;

pub(crate) const DATASET: &str = r#"{"id": "france", "input": {"question": "What is the capital of France?"}, "expected": ["Paris", "docs/geo.md"], "scorers": [{"type": "contains"}, {"type": "cited_file", "file": "docs/geo.md"}]}
{"id": "sum", "input": "What is 2+2?", "expected": 4, "scorers": [{"type": "numeric"}]}
{"id": "spain", "input": {"question": "What is the capital of Spain?"}, "expected": "Madrid", "scorers": [{"type": "contains"}]}
{"id": "judged", "input": {"question": "Why is the sky blue?"}, "scorers": [{"type": "judge", "rubric": "Mentions Rayleigh scattering."}]}
"#;

/// A stand-in that answers by the question, and grades as a judge.
fn provider() -> crate::security::Scripted {
    scripted(Box::new(|seen, _| {
        let body: Value = serde_json::from_str(&seen.body).unwrap_or(Value::Null);
        let text = body["messages"].to_string();
        let answer = if text.contains("You grade the answer") {
            r#"{"score": 0.9, "reason": "names Rayleigh scattering"}"#
        } else if text.contains("capital of France") {
            "Paris is the capital of France [docs/geo.md]."
        } else if text.contains("2+2") {
            "The answer is 4."
        } else if text.contains("capital of Spain") {
            "I do not know."
        } else if text.contains("sky blue") {
            "Rayleigh scattering of sunlight."
        } else {
            "Nothing."
        };
        completion(answer, &[])
    }))
}

fn configure(cli: &Cli, url: &str) {
    std::fs::write(
        cli.home.path().join("config.toml"),
        format!(
            "[llm]\nmax_tokens = 64\ntemperature = 0.0\npolicy = [\"stand-in\"]\n\n\
             [[providers]]\nname = \"stand-in\"\nkind = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"gpt-4o-mini\"\ntimeout_secs = 10\n"
        ),
    )
    .expect("config");
}

fn case<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|case| case["id"] == id)
        .unwrap_or_else(|| panic!("case {id} in {report}"))
}

fn eval_json(cli: &Cli, args: &[&str]) -> (std::process::Output, Value) {
    let mut all = vec!["eval"];
    all.extend_from_slice(args);
    all.push("--json");
    let output = cli.run(&all);
    // The report is the first line; a failed threshold's error follows it.
    let report = serde_json::Deserializer::from_slice(&output.stdout)
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
        .unwrap_or(Value::Null);
    (output, report)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

/// A live eval of every case on the stand-in, written as the baseline
/// file; returns how many requests reached the stand-in.
fn record_live(
    cli: &Cli,
    server: &crate::security::Scripted,
    flow: &str,
    dataset: &str,
    work: &Path,
) -> usize {
    let baseline = work.join("baseline.json");
    let junit = work.join("out/junit.xml");
    let markdown = work.join("out/summary.md");
    // Live: every case runs on the stand-in and is scored.
    let (output, report) = eval_json(
        cli,
        &[
            flow,
            "--dataset",
            dataset,
            "--out",
            baseline.to_str().expect("path"),
            "--junit",
            junit.to_str().expect("path"),
            "--markdown",
            markdown.to_str().expect("path"),
            "--threshold",
            "pass-rate=0.75",
        ],
    );
    assert_success(&output, &["eval", "live"]);
    let live_requests = server.seen.lock().expect("seen").len();
    assert_eq!(
        live_requests, 5,
        "four cases and one judge call reached the provider"
    );
    assert_eq!(report["mode"], "live");
    assert_eq!(report["summary"]["cases"], 4);
    assert_eq!(report["summary"]["passed"], 3);
    assert!(case(&report, "france")["passed"].as_bool().expect("bool"));
    assert!(
        case(&report, "sum")["passed"].as_bool().expect("bool"),
        "a plain input fills the one input field"
    );
    let spain = &case(&report, "spain")["attempts"][0];
    assert_eq!(spain["passed"], false, "the wrong answer fails");
    assert!(spain["scores"][0]["reason"]
        .as_str()
        .expect("reason")
        .contains("Madrid"));
    let judged = &case(&report, "judged")["attempts"][0]["scores"][0];
    assert_eq!(judged["scorer"], "judge");
    assert!(
        (judged["score"].as_f64().expect("score") - 0.9).abs() < 1e-9,
        "{judged}"
    );
    assert!(
        judged["runId"].is_string(),
        "the judge's run is stored: {judged}"
    );
    assert!(
        report["summary"]["tokens"].as_u64().expect("tokens") >= 75,
        "tokens of 5 calls: {report}"
    );
    assert_eq!(report["ok"], true);
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(
        xml.contains("tests=\"4\" failures=\"1\"") && xml.contains("name=\"spain\""),
        "{xml}"
    );
    assert!(std::fs::read_to_string(&markdown)
        .expect("markdown")
        .contains("✅ passed"));
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).expect("baseline")).expect("json");
    assert!(
        !case(&file, "france")["attempts"][0]["calls"]
            .as_array()
            .expect("calls")
            .is_empty(),
        "the baseline file carries the calls"
    );

    // The stored eval is listed and shown.
    let list = cli.json(&["evals", "list"]);
    assert_eq!(list[0]["id"], report["id"]);
    assert_eq!(list[0]["passed"], 3);
    // A stored eval exported is a baseline file with the recorded calls.
    let exported = work.join("exported.json");
    let id = list[0]["id"].as_str().expect("id");
    assert_success(
        &cli.run(&[
            "evals",
            "export",
            &id[..8],
            "--out",
            exported.to_str().expect("path"),
        ]),
        &["evals", "export"],
    );
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(&exported).expect("exported")).expect("json");
    assert_eq!(file["id"], id);
    assert!(!case(&file, "france")["attempts"][0]["calls"]
        .as_array()
        .expect("calls")
        .is_empty());

    live_requests
}

#[test]
fn a_live_eval_scores_and_records_and_its_replay_needs_no_provider() {
    let server = provider();
    let cli = Cli::new();
    configure(&cli, &server.url);
    let work = tempfile::tempdir().expect("tempdir");
    let flow = write(work.path(), "qa.flow.json", QA_FLOW);
    let dataset = write(work.path(), "set.jsonl", DATASET);
    let live_requests = record_live(&cli, &server, &flow, &dataset, work.path());
    let baseline = work.path().join("baseline.json");

    // Replay: the provider is now a closed port; nothing reaches the stand-in.
    configure(&cli, "http://127.0.0.1:1");
    let base = baseline.to_str().expect("path");
    let (output, replayed) = eval_json(
        &cli,
        &[&flow, "--dataset", &dataset, "--baseline", base, "--replay"],
    );
    assert_success(&output, &["eval", "--replay"]);
    assert_eq!(
        server.seen.lock().expect("seen").len(),
        live_requests,
        "a replay calls no provider"
    );
    assert_eq!(replayed["mode"], "replay");
    assert_eq!(replayed["summary"]["passed"], 3);
    assert_eq!(replayed["comparison"]["regressed"], 0);
    let judged = &case(&replayed, "judged")["attempts"][0]["scores"][0];
    assert!(
        (judged["score"].as_f64().expect("score") - 0.9).abs() < 1e-9,
        "the judge is replayed too: {judged}"
    );

    // Renamed nodes make the same requests: still answered, no regression.
    let renamed = write(work.path(), "renamed.flow.json", QA_RENAMED);
    let (output, _) = eval_json(
        &cli,
        &[
            &renamed,
            "--dataset",
            &dataset,
            "--baseline",
            base,
            "--replay",
        ],
    );
    assert_success(&output, &["eval", "renamed"]);

    // A change that spoils answers regresses and fails the command.
    let broken = write(work.path(), "broken.flow.json", QA_BROKEN);
    let summary = work.path().join("regressed.md");
    let (output, regressed) = eval_json(
        &cli,
        &[
            &broken,
            "--dataset",
            &dataset,
            "--baseline",
            base,
            "--replay",
            "--markdown",
            summary.to_str().expect("path"),
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "a regression fails the eval with 1"
    );
    assert_eq!(regressed["ok"], false);
    assert_eq!(regressed["thresholds"][0]["metric"], "regressions");
    assert_eq!(regressed["thresholds"][0]["held"], false);
    assert_eq!(regressed["comparison"]["regressed"], 3, "{regressed}");
    let text = std::fs::read_to_string(&summary).expect("markdown written");
    assert!(
        text.contains("❌ failed") && text.contains("⬇ regressed") && text.contains("`france`"),
        "{text}"
    );

    // A prompt the baseline never saw is not answered from it.
    let reworded = write(
        work.path(),
        "reworded.flow.json",
        &QA_FLOW.replace("Question: ", "Q: "),
    );
    let (output, _) = eval_json(
        &cli,
        &[
            &reworded,
            "--dataset",
            &dataset,
            "--baseline",
            base,
            "--replay",
            "--threshold",
            "pass-rate=0",
        ],
    );
    assert_success(&output, &["eval", "reworded"]);
    let reworded_eval = cli.json(&[
        "evals",
        "show",
        &cli.json(&["evals", "list"])[0]["id"].as_str().expect("id")[..8],
    ]);
    assert_eq!(reworded_eval["summary"]["passed"], 0, "{reworded_eval}");
    let error = case(&reworded_eval, "france")["attempts"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains("not recorded"), "{error}");
}

#[test]
fn repeats_flag_flaky_cases_and_a_run_becomes_a_case() {
    // Alternates right and wrong answers: two repeats, one of each.
    let server = scripted(Box::new(|_, index| {
        completion(if index % 2 == 1 { "Rome." } else { "Milan." }, &[])
    }));
    let cli = Cli::new();
    configure(&cli, &server.url);
    let work = tempfile::tempdir().expect("tempdir");
    let flow = write(work.path(), "qa.flow.json", QA_FLOW);
    let dataset = write(
        work.path(),
        "italy.csv",
        "id,input.question,expected\nitaly,What is the capital of Italy?,Rome\n",
    );
    let (output, report) = eval_json(
        &cli,
        &[
            &flow,
            "--dataset",
            &dataset,
            "--repeat",
            "2",
            "--scorer",
            "contains",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "the default threshold is every case passing"
    );
    let shown = cli.json(&["evals", "show", &report["id"].as_str().expect("id")[..8]]);
    let italy = case(&shown, "italy");
    assert_eq!(italy["attempts"].as_array().expect("attempts").len(), 2);
    assert_eq!(italy["flaky"], true, "{italy}");
    assert!((italy["stddev"].as_f64().expect("stddev") - 0.5).abs() < 1e-9);
    assert_eq!(shown["summary"]["flaky"], 1);

    // A run added to a dataset of the home is a case expecting its answer.
    assert_success(
        &cli.run(&["run", &flow, "--input", r#"{"question": "Say something"}"#]),
        &["run"],
    );
    let runs = cli.json(&["runs", "list", "--flow", "qa", "--limit", "1"]);
    let run_id = runs[0]["id"].as_str().expect("run id").to_owned();
    let added = cli.json(&["datasets", "add-run", &run_id[..8], "--to", "mine"]);
    assert_eq!(added["input"], json!({"question": "Say something"}));
    let expected = added["expected"]
        .as_str()
        .expect("expected text")
        .to_owned();
    assert!(expected == "Rome." || expected == "Milan.", "{added}");
    let again = cli.run(&["datasets", "add-run", &run_id[..8], "--to", "mine"]);
    assert!(!again.status.success(), "the same run twice is refused");
    let sets = cli.json(&["datasets", "list"]);
    assert_eq!(sets[0]["name"], "mine");
    assert_eq!(sets[0]["cases"], 1);
    let missing = cli.run(&["eval", &flow, "--dataset", "nope"]);
    assert_eq!(
        missing.status.code(),
        Some(2),
        "could not evaluate: 2, not a failed threshold"
    );
    assert!(String::from_utf8_lossy(&missing.stderr)
        .contains("no dataset `nope` — give a .jsonl or .csv file, or one of: mine"));
    // A file imported into the home is a dataset by name; a bad one is not.
    let imported = cli.json(&["datasets", "import", &dataset, "--name", "italy"]);
    assert_eq!(imported["cases"], 1);
    let again = cli.run(&["datasets", "import", &dataset, "--name", "italy"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has a dataset `italy`"));
    let broken = write(work.path(), "broken.jsonl", "{\"input\": 1}\n{oops}\n");
    let refused = cli.run(&["datasets", "import", &broken]);
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(said.contains("line 2"), "{said}");
    let names: Vec<String> = cli
        .json(&["datasets", "list"])
        .as_array()
        .expect("list")
        .iter()
        .map(|set| set["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        names,
        ["italy", "mine"],
        "nothing of the broken file was kept"
    );
    let typo = cli.run(&[
        "eval",
        &flow,
        "--dataset",
        "mine",
        "--baseline",
        "base/line.json",
    ]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("no baseline file base/line.json"));
}

#[test]
fn a_judge_grades_with_the_local_model() {
    let cli = Cli::new();
    let work = tempfile::tempdir().expect("tempdir");
    let flow = write(work.path(), "qa.flow.json", QA_FLOW);
    let dataset = write(
        work.path(),
        "set.jsonl",
        r#"{"id": "sky", "input": "Why is the sky blue?", "scorers": [{"type": "judge", "rubric": "Mentions scattering of sunlight."}]}
"#,
    );
    let (output, report) = eval_json(
        &cli,
        &[&flow, "--dataset", &dataset, "--threshold", "pass-rate=0"],
    );
    assert_success(&output, &["eval", "local judge"]);
    let score = &case(&report, "sky")["attempts"][0]["scores"][0];
    assert_eq!(score["scorer"], "judge");
    assert!(
        !score["reason"].as_str().expect("reason").is_empty(),
        "{score}"
    );
    let judge_run = score["runId"].as_str().expect("the judge ran");
    let shown = cli.json(&["runs", "show", judge_run]);
    assert_eq!(shown["summary"]["flow"], "eval-judge");
    let providers: Vec<&str> = shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|event| event["event"]["type"] == "modelCall")
        .filter_map(|event| event["event"]["provider"].as_str())
        .collect();
    assert_eq!(providers, ["local"], "the local model graded: {shown}");
}

#[test]
fn a_custom_scorer_is_a_tool_of_the_data_home() {
    let server = scripted(Box::new(|_, _| completion("A short answer.", &[])));
    let cli = Cli::new();
    configure(&cli, &server.url);
    let tool = cli.home.path().join("tools/short-answer");
    std::fs::create_dir_all(&tool).expect("tool folder");
    std::fs::write(
        tool.join("tool.toml"),
        r#"name = "short-answer"
description = "Scores an answer by its length: under `expected` characters passes."
command = ["python3", "-I", "./score.py"]
stdin = "{{ output | tojson }}\n{{ expected | tojson }}"
permission = "allow"
writes = false
output = "json"
timeout = 30

[parameters]
type = "object"
"#,
    )
    .expect("manifest");
    std::fs::write(
        tool.join("score.py"),
        "import json, sys\noutput, limit = [json.loads(line) for line in sys.stdin.read().splitlines()[:2]]\nlength = len(output['answer'])\nprint(json.dumps({'score': min(1.0, limit / max(length, 1)), 'pass': length <= limit, 'reason': f'{length} characters'}))\n",
    )
    .expect("script");
    let work = tempfile::tempdir().expect("tempdir");
    let flow = write(work.path(), "qa.flow.json", QA_FLOW);
    let dataset = write(
        work.path(),
        "set.jsonl",
        "{\"id\": \"roomy\", \"input\": \"Anything?\", \"expected\": 40}\n{\"id\": \"tight\", \"input\": \"Anything?\", \"expected\": 5}\n",
    );
    let (output, report) = eval_json(
        &cli,
        &[
            &flow,
            "--dataset",
            &dataset,
            "--scorer",
            r#"{"type": "tool", "tool": "short-answer"}"#,
            "--threshold",
            "pass-rate=0.5",
        ],
    );
    assert_success(&output, &["eval", "custom scorer"]);
    let roomy = &case(&report, "roomy")["attempts"][0]["scores"][0];
    assert_eq!(roomy["scorer"], "tool:short-answer");
    assert_eq!(roomy["passed"], true, "{roomy}");
    assert_eq!(roomy["reason"], "15 characters");
    let tight = &case(&report, "tight")["attempts"][0]["scores"][0];
    assert_eq!(tight["passed"], false, "{tight}");
    assert!(
        (tight["score"].as_f64().expect("score") - 5.0 / 15.0).abs() < 1e-9,
        "{tight}"
    );
}

/// A flow that lists a folder with a tool, then answers with the model.
const TOOL_FLOW: &str = r#"{"version": 2, "name": "lister", "state": {"question": "string", "files": "any", "answer": "string"},
  "nodes": [{"id": "ask", "kind": "input", "fields": ["question"]},
            {"id": "list", "kind": "tool", "tool": "fs.list", "args": {"path": "."}, "output": "files"},
            {"id": "answer", "kind": "llm", "prompt": "Question: {{ question }}", "output": "answer"},
            {"id": "done", "kind": "output", "keys": ["answer"]}],
  "edges": [{"from": "ask", "to": "list"}, {"from": "list", "to": "answer"}, {"from": "answer", "to": "done"}]}"#;

#[test]
fn a_replay_scores_tool_calls_and_two_judges_and_becomes_the_next_baseline() {
    let server = provider();
    let cli = Cli::new();
    configure(&cli, &server.url);
    let work = tempfile::tempdir().expect("tempdir");
    let flow = write(work.path(), "lister.flow.json", TOOL_FLOW);
    let dataset = write(
        work.path(),
        "set.jsonl",
        r#"{"id": "sky", "input": "Why is the sky blue?", "expected": {"tool": "fs.list", "arguments": {"path": "."}}, "scorers": [{"type": "tool_called"}, {"type": "judge", "rubric": "Mentions Rayleigh scattering."}, {"type": "judge", "rubric": "Is one sentence.", "pass_score": 0.5}]}
"#,
    );
    let first = work.path().join("first.json");
    let first_path = first.to_str().expect("path");
    let (output, live) = eval_json(&cli, &[&flow, "--dataset", &dataset, "--out", first_path]);
    assert_success(&output, &["eval", "live"]);
    let scores = case(&live, "sky")["attempts"][0]["scores"].clone();
    assert_eq!(scores.as_array().expect("scores").len(), 3);
    assert!(
        scores
            .as_array()
            .expect("scores")
            .iter()
            .all(|score| score["passed"] == true),
        "{scores}"
    );
    let requests = server.seen.lock().expect("seen").len();
    assert_eq!(requests, 3, "the answer and two judges");

    // The replay answers the tool and both judges from the recording...
    configure(&cli, "http://127.0.0.1:1");
    let second = work.path().join("second.json");
    let second_path = second.to_str().expect("path");
    let (output, replayed) = eval_json(
        &cli,
        &[
            &flow,
            "--dataset",
            &dataset,
            "--baseline",
            first_path,
            "--replay",
            "--out",
            second_path,
        ],
    );
    assert_success(&output, &["eval", "replay"]);
    let scores = &case(&replayed, "sky")["attempts"][0]["scores"];
    assert_eq!(scores[0]["scorer"], "tool_called");
    assert_eq!(
        scores[0]["passed"], true,
        "the replayed run kept its tool call: {scores}"
    );
    assert_eq!(scores[1]["passed"], true, "{scores}");
    assert_eq!(
        scores[2]["passed"], true,
        "the second judge has its own recording: {scores}"
    );
    assert_eq!(
        server.seen.lock().expect("seen").len(),
        requests,
        "nothing reached the provider"
    );

    // ... and its report is a baseline in turn.
    let (output, again) = eval_json(
        &cli,
        &[
            &flow,
            "--dataset",
            &dataset,
            "--baseline",
            second_path,
            "--replay",
        ],
    );
    assert_success(&output, &["eval", "replay of a replay"]);
    assert_eq!(case(&again, "sky")["passed"], true, "{again}");
    assert_eq!(again["comparison"]["regressed"], 0);
}

#[test]
fn an_eval_that_cannot_start_exits_2_not_1() {
    let cli = Cli::new();
    std::fs::write(
        cli.home.path().join("config.toml"),
        "[llm\nmax_tokens = 1\n",
    )
    .expect("config");
    let other = cli.run(&["runs", "list"]);
    assert_eq!(
        other.status.code(),
        Some(1),
        "positive control: the home does not open"
    );
    let eval = cli.run(&["eval", "qa.flow.json", "--dataset", "set.jsonl"]);
    assert_eq!(
        eval.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    assert!(String::from_utf8_lossy(&eval.stderr).contains("config.toml"));
}
