//! Tokens, cost and fallbacks of model calls, traced per node and per run:
//! a provider stand-in on 127.0.0.1 that reports usage, one that is down,
//! and a price table from config.toml before the shipped one.

use serde_json::Value;

use crate::security::{completion, scripted};
use crate::{assert_success, Cli};

pub(crate) const PRICED_FLOW: &str = r#"{"version": 2, "name": "priced", "state": {"a": "string", "b": "string"},
  "nodes": [{"id": "first", "kind": "llm", "prompt": "Say hi.", "output": "a"},
            {"id": "second", "kind": "llm", "model": "selfhost", "prompt": "Say bye.", "output": "b"},
            {"id": "out", "kind": "output", "keys": ["a", "b"]}],
  "edges": [{"from": "first", "to": "second"}, {"from": "second", "to": "out"}]}"#;

fn node<'a>(show: &'a Value, id: &str) -> &'a Value {
    show["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|node| node["node"] == id))
        .unwrap_or_else(|| panic!("no trace of `{id}`: {show}"))
}

#[test]
fn each_nodes_tokens_cost_and_fallbacks_are_traced_and_priced_from_config() {
    let server = scripted(Box::new(|_, _| completion("Hello.", &[])));
    let cli = Cli::new();
    let provider = |name: &str, url: &str, model: &str| {
        format!("[[providers]]\nname = \"{name}\"\nkind = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"{model}\"\ntimeout_secs = 30\n\n")
    };
    // `down` refuses connections: the router falls back to `priced`.
    let config = format!(
        "[llm]\nmax_tokens = 16\ntemperature = 0.0\npolicy = [\"down\", \"priced\", \"selfhost\"]\n\n{}{}{}\
         [[prices]]\nprovider = \"priced\"\nmodel = \"gpt-4o-mini*\"\ninput = 1.0\noutput = 2.0\n",
        provider("down", "http://127.0.0.1:1", "gpt-4o-mini"),
        provider("priced", &server.url, "gpt-4o-mini"),
        provider("selfhost", &server.url, "my-finetune"),
    );
    std::fs::write(cli.home.path().join("config.toml"), config).expect("config");
    let dir = tempfile::tempdir().expect("dir");
    let flow = dir.path().join("priced.flow.json");
    std::fs::write(&flow, PRICED_FLOW).expect("flow");
    let run = cli.run(&["run", flow.to_str().expect("path"), "--json"]);
    assert_success(&run, &["run", "priced"]);
    let run: Value = String::from_utf8_lossy(&run.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|line| line.get("outcome").cloned())
        .expect("an outcome line");
    assert_eq!(run["status"], "succeeded", "{run}");
    let id = run["runId"].as_str().expect("run id");
    // Positive control: both nodes reached the stand-in.
    assert_eq!(server.seen.lock().expect("seen").len(), 2);
    let show = cli.json(&["runs", "show", id]);

    let first = &node(&show, "first")["usage"];
    assert_eq!(first["modelCalls"], 1, "{first}");
    assert_eq!(
        (
            first["promptTokens"].as_u64(),
            first["completionTokens"].as_u64()
        ),
        (Some(12), Some(3))
    );
    assert_eq!(first["fallbacks"], 1, "`down` failed first: {first}");
    // 12 prompt tokens at $1/M and 3 generated at $2/M: the config's price,
    // not the shipped one for gpt-4o-mini.
    let cost = first["costUsd"].as_f64().expect("priced");
    assert!((cost - 18e-6).abs() < 1e-12, "{first}");
    assert_eq!(first["computeMs"], 0, "remote calls are not local compute");

    let second = &node(&show, "second")["usage"];
    assert_eq!(
        second["costUsd"],
        Value::Null,
        "no price for my-finetune: {second}"
    );
    assert_eq!(second["unpricedCalls"], 1, "{second}");

    let total = &show["usage"];
    assert_eq!(
        (total["modelCalls"].as_u64(), total["promptTokens"].as_u64()),
        (Some(2), Some(24))
    );
    assert!(
        (total["costUsd"].as_f64().expect("cost") - 18e-6).abs() < 1e-12,
        "{total}"
    );
    assert_eq!(total["unpricedCalls"], 1);

    let text = cli.run(&["runs", "show", id]);
    assert_success(&text, &["runs", "show"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("12 in → 3 out tokens") && text.contains("· 1 fallback"),
        "{text}"
    );
    assert!(
        text.contains("1 unpriced call (add [[prices]]") && text.contains("$0.000018"),
        "{text}"
    );
}

const LOOP_FLOW: &str = r#"{"version": 2, "name": "looped", "state": {"count": "number", "a": "string"},
  "nodes": [{"id": "init", "kind": "transform", "set": {"count": "0"}},
            {"id": "repeat", "kind": "loop", "body": "ask", "until": "count >= 3", "max": 5},
            {"id": "ask", "kind": "llm", "prompt": "Say hi.", "output": "a"},
            {"id": "bump", "kind": "transform", "set": {"count": "count + 1"}},
            {"id": "out", "kind": "output", "keys": ["count"]}],
  "edges": [{"from": "init", "to": "repeat"}, {"from": "ask", "to": "bump"},
            {"from": "bump", "to": "repeat"}, {"from": "repeat", "to": "out"}]}"#;

/// A stand-in answering "Hi." (12 tokens in, 3 out) as the only provider,
/// `priced`, serving gpt-4o-mini (priced by the shipped table).
fn one_priced_provider() -> (crate::security::Scripted, Cli) {
    let server = scripted(Box::new(|_, _| completion("Hi.", &[])));
    let cli = Cli::new();
    std::fs::write(
        cli.home.path().join("config.toml"),
        format!(
            "[llm]\nmax_tokens = 16\ntemperature = 0.0\npolicy = [\"priced\"]\n\n\
             [[providers]]\nname = \"priced\"\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"gpt-4o-mini\"\ntimeout_secs = 30\n",
            server.url
        ),
    )
    .expect("config");
    (server, cli)
}

#[test]
fn every_pass_of_a_loop_counts_in_the_nodes_usage() {
    let (server, cli) = one_priced_provider();
    let dir = tempfile::tempdir().expect("dir");
    let flow = dir.path().join("looped.flow.json");
    std::fs::write(&flow, LOOP_FLOW).expect("flow");
    let run = cli.run(&["run", flow.to_str().expect("path"), "--json"]);
    assert_success(&run, &["run", "looped"]);
    let run: Value = String::from_utf8_lossy(&run.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|line| line.get("outcome").cloned())
        .expect("an outcome line");
    assert_eq!(run["output"]["count"], 3, "{run}");
    // Positive control: the body's model was called once per pass.
    assert_eq!(server.seen.lock().expect("seen").len(), 3);
    let show = cli.json(&["runs", "show", run["runId"].as_str().expect("run id")]);
    let usage = &node(&show, "ask")["usage"];
    assert_eq!(usage["modelCalls"], 3, "every pass counts: {usage}");
    assert_eq!(usage["promptTokens"], 36, "{usage}");
    // The shipped list price of gpt-4o-mini: 3 × (12 × $0.15/M + 3 × $0.60/M).
    let cost = usage["costUsd"]
        .as_f64()
        .expect("priced by the shipped table");
    assert!(
        (cost - 3.0 * (12.0 * 0.15e-6 + 3.0 * 0.60e-6)).abs() < 1e-12,
        "{usage}"
    );
}

fn json_lines(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .collect()
}

#[test]
fn a_budget_stops_the_run_at_the_call_that_crosses_it_or_only_warns() {
    let (server, cli) = one_priced_provider();
    let dir = tempfile::tempdir().expect("dir");
    let flow = dir.path().join("looped.flow.json");
    // Each call uses 15 tokens (12 in, 3 out): the second crosses 20.
    let budgeted = LOOP_FLOW.replace(
        r#""name": "looped","#,
        r#""name": "looped", "budget": {"tokens": 20},"#,
    );
    std::fs::write(&flow, budgeted).expect("flow");
    let flow = flow.to_str().expect("path");

    let stopped = cli.run(&["run", flow, "--json"]);
    assert!(
        !stopped.status.success(),
        "a run stopped by its budget fails"
    );
    let lines = json_lines(&stopped);
    let outcome = lines
        .iter()
        .find_map(|line| line.get("outcome"))
        .expect("an outcome line");
    assert_eq!(outcome["status"], "failed", "{outcome}");
    let error = outcome["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("budget: 30 tokens used, 20 allowed"),
        "{error}"
    );
    // Positive control and the point: two calls were made, not a third.
    assert_eq!(server.seen.lock().expect("seen").len(), 2);
    let said = lines
        .iter()
        .filter(|line| line["event"]["type"] == "budget")
        .count();
    assert_eq!(said, 1, "the budget event is said once");
    // The run's stored events say so too.
    let show = cli.json(&["runs", "show", outcome["runId"].as_str().expect("id")]);
    assert!(
        show["events"].as_array().is_some_and(|events| events
            .iter()
            .any(|event| event["event"]["type"] == "budget" && event["event"]["stopped"] == true)),
        "{show}"
    );

    // Resumed as it is, it stays stopped and calls nothing; resumed with a
    // higher limit, it goes on from the failed pass and finishes.
    let id = outcome["runId"].as_str().expect("id");
    let again = cli.run(&["runs", "resume", id, "--json"]);
    assert!(!again.status.success());
    assert_eq!(
        server.seen.lock().expect("seen").len(),
        2,
        "no call after the stop"
    );
    let resumed = cli.run(&["runs", "resume", id, "--json", "--budget-tokens", "1000"]);
    assert_success(&resumed, &["runs", "resume", "--budget-tokens"]);
    assert_eq!(server.seen.lock().expect("seen").len(), 4);

    // The same limit for one run, as a warning: all three passes run.
    std::fs::write(dir.path().join("looped.flow.json"), LOOP_FLOW).expect("flow");
    let warned = cli.run(&[
        "run",
        flow,
        "--json",
        "--budget-tokens",
        "20",
        "--budget-warn",
    ]);
    assert_success(&warned, &["run", "--budget-warn"]);
    assert_eq!(server.seen.lock().expect("seen").len(), 7);
    let lines = json_lines(&warned);
    let warnings: Vec<&Value> = lines
        .iter()
        .filter(|line| line["event"]["type"] == "budget")
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["event"]["stopped"], false);

    // A one-run budget that cannot work is refused by the engine's check,
    // before any call.
    let negative = cli.run(&["run", flow, "--budget-usd=-1"]);
    assert!(!negative.status.success());
    let text = String::from_utf8_lossy(&negative.stderr).into_owned()
        + &String::from_utf8_lossy(&negative.stdout);
    assert!(
        text.contains("`budget.costUsd` is not a number of dollars"),
        "{text}"
    );
    assert_eq!(server.seen.lock().expect("seen").len(), 7);

    let refused = cli.run(&["run", flow, "--budget-warn"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("--budget-warn needs --budget-tokens or --budget-usd"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
