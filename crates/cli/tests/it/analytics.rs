//! `codexos analytics` on the real binary: runs on a provider stand-in (one
//! that is down first, so calls fall back), a priced and an unpriced model,
//! and a failing run — their figures by flow, model and node, and the runs
//! behind a figure.

use serde_json::Value;

use crate::security::{completion, scripted};
use crate::usage::PRICED_FLOW;
use crate::{assert_success, Cli};

pub(crate) const BROKEN_FLOW: &str = r#"{"version": 2, "name": "broken", "state": {"missing": "any"},
  "nodes": [{"id": "read", "kind": "tool", "tool": "fs.read", "args": {"path": "no-such-file.txt"}, "output": "missing"},
            {"id": "out", "kind": "output", "keys": ["missing"]}],
  "edges": [{"from": "read", "to": "out"}]}"#;

fn row<'a>(dashboard: &'a Value, value: &str) -> &'a Value {
    dashboard["breakdown"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["value"] == value))
        .unwrap_or_else(|| panic!("no row `{value}`: {}", dashboard["breakdown"]))
}

#[test]
fn analytics_counts_runs_failures_tokens_cost_and_fallbacks_and_finds_the_runs_behind_them() {
    let server = scripted(Box::new(|_, _| completion("Hello.", &[])));
    let cli = Cli::new();
    let provider = |name: &str, url: &str, model: &str| {
        format!("[[providers]]\nname = \"{name}\"\nkind = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"{model}\"\ntimeout_secs = 30\n\n")
    };
    std::fs::write(
        cli.home.path().join("config.toml"),
        format!(
            "[llm]\nmax_tokens = 16\ntemperature = 0.0\npolicy = [\"down\", \"priced\", \"selfhost\"]\n\n{}{}{}\
             [[prices]]\nprovider = \"priced\"\nmodel = \"gpt-4o-mini*\"\ninput = 1.0\noutput = 2.0\n",
            provider("down", "http://127.0.0.1:1", "gpt-4o-mini"),
            provider("priced", &server.url, "gpt-4o-mini"),
            provider("selfhost", &server.url, "my-finetune"),
        ),
    )
    .expect("config");
    // Before any run: an empty dashboard, said plainly.
    let empty = cli.run(&["analytics"]);
    assert_success(&empty, &["analytics"]);
    assert!(String::from_utf8_lossy(&empty.stdout).contains("no runs in this range"));

    let dir = tempfile::tempdir().expect("dir");
    let priced = dir.path().join("priced.flow.json");
    std::fs::write(&priced, PRICED_FLOW).expect("flow");
    let broken = dir.path().join("broken.flow.json");
    std::fs::write(&broken, BROKEN_FLOW).expect("flow");
    for _ in 0..2 {
        assert_success(
            &cli.run(&["run", priced.to_str().expect("path")]),
            &["run", "priced"],
        );
    }
    let failed = cli.run(&["run", broken.to_str().expect("path")]);
    assert!(!failed.status.success(), "the broken flow fails");
    // Positive control: four model calls reached the stand-in.
    assert_eq!(server.seen.lock().expect("seen").len(), 4);

    let dashboard = cli.json(&["analytics"]);
    let totals = &dashboard["totals"];
    assert_eq!(
        (totals["count"].as_u64(), totals["failures"].as_u64()),
        (Some(3), Some(1)),
        "{totals}"
    );
    assert_eq!(totals["modelCalls"], 4, "{totals}");
    assert_eq!(
        (totals["tokensIn"].as_u64(), totals["tokensOut"].as_u64()),
        (Some(48), Some(12))
    );
    // Two calls at 12 × $1/M + 3 × $2/M; the other two have no price.
    assert!(
        (totals["costUsd"].as_f64().expect("cost") - 36e-6).abs() < 1e-12,
        "{totals}"
    );
    assert_eq!(totals["unpricedCalls"], 2);
    // `first` fell back from `down` every time: half the calls.
    assert_eq!(totals["fallbackRate"], 0.5, "{totals}");
    assert!(totals["p95Ms"].as_f64().is_some(), "run latency: {totals}");
    let today = dashboard["to"].as_str().expect("to").to_owned();
    let days = dashboard["days"].as_array().expect("days");
    assert_eq!(days.len(), 30, "the last 30 days by default");
    assert_eq!(days.last().expect("today")["figures"]["count"], 3);
    assert_eq!(row(&dashboard, "priced")["figures"]["count"], 2);
    assert_eq!(row(&dashboard, "broken")["figures"]["failures"], 1);

    let by_model = cli.json(&["analytics", "--by", "model"]);
    assert_eq!(by_model["unit"], "model calls");
    assert_eq!(row(&by_model, "gpt-4o-mini")["figures"]["count"], 2);
    assert_eq!(row(&by_model, "my-finetune")["figures"]["unpricedCalls"], 2);
    let by_node = cli.json(&["analytics", "--by", "node"]);
    assert_eq!(row(&by_node, "broken › read")["figures"]["failures"], 1);
    assert_eq!(
        by_node["costliestNodes"][0]["value"], "priced › first",
        "{}",
        by_node["costliestNodes"]
    );

    let behind = cli.json(&["analytics", "--by", "model", "--runs", "my-finetune"]);
    let behind: Vec<&str> = behind
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(|run| run["flow"].as_str())
        .collect();
    assert_eq!(behind, ["priced", "priced"]);
    let text = cli.run(&["analytics", "--by", "provider"]);
    assert_success(&text, &["analytics"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("total: 3 runs · 1 failed") && text.contains(&today),
        "{text}"
    );
    assert!(text.contains("fallback 50.0%"), "{text}");

    // Bad input: a clear message, nothing else.
    let wrong = cli.run(&["analytics", "--from", "2026-13-01"]);
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("write YYYY-MM-DD"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    let wrong = cli.run(&["analytics", "--by", "colour"]);
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("choose one of flow, node"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
}
