//! `codexos conversations`: saved multi-turn conversations in the three
//! modes, on the real local model, the real index and a real agent run.

use std::path::Path;

use crate::{assert_success, corpus, error_line, Cli};

fn new(cli: &Cli, args: &[&str]) -> String {
    let mut all = vec!["conversations", "new"];
    all.extend_from_slice(args);
    cli.json(&all)["id"].as_str().expect("id").to_owned()
}

/// Sends one message; returns the stored answer and the streamed events.
fn send(
    cli: &Cli,
    id: &str,
    text: &str,
    extra: &[&str],
) -> (serde_json::Value, Vec<serde_json::Value>) {
    let mut args = vec!["conversations", "send", id, text, "--json"];
    args.extend_from_slice(extra);
    let output = cli.run(&args);
    assert_success(&output, &args);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    let answer = events
        .iter()
        .find(|event| event["type"] == "answer")
        .unwrap_or_else(|| panic!("an answer event: {events:?}"))["message"]
        .clone();
    (answer, events)
}

fn messages(cli: &Cli, id: &str) -> Vec<serde_json::Value> {
    cli.json(&["conversations", "show", id])["messages"]
        .as_array()
        .expect("messages")
        .clone()
}

#[test]
fn a_chat_conversation_is_saved_turn_by_turn_searched_edited_and_exported() {
    let cli = Cli::new();
    let id = new(&cli, &["--mode", "chat"]);
    let (first, events) = send(&cli, &id, "What is the capital of France?", &[]);
    assert_eq!(first["meta"]["status"], "done", "{first}");
    assert!(
        first["text"]
            .as_str()
            .is_some_and(|text| text.contains("Paris")),
        "{first}"
    );
    assert!(
        events.iter().any(|event| event["type"] == "token"),
        "streamed"
    );
    let (second, _) = send(&cli, &id, "And of Italy?", &[]);
    let (third, _) = send(&cli, &id, "Name both cities again, comma separated.", &[]);
    for answer in [&second, &third] {
        assert_eq!(answer["meta"]["status"], "done", "{answer}");
    }
    // Each turn sends the whole conversation before it (the KV-state reuse
    // between turns needs one process: see the runtime's test).
    let stats =
        |answer: &serde_json::Value, key: &str| answer["meta"]["stats"][key].as_u64().unwrap_or(0);
    assert!(
        stats(&second, "promptTokens")
            > stats(&first, "promptTokens") + stats(&first, "completionTokens"),
        "{second}"
    );
    assert!(
        stats(&third, "promptTokens")
            > stats(&second, "promptTokens") + stats(&second, "completionTokens"),
        "{third}"
    );

    let listed = cli.json(&["conversations", "list"]);
    let listed = &listed.as_array().expect("list")[0];
    assert_eq!(listed["id"], id.as_str());
    assert_eq!(listed["messages"], 6);
    assert_eq!(listed["title"], "What is the capital of France?");

    // Search by a message's text, not only the title.
    let found = cli.json(&["conversations", "list", "--search", "of italy"]);
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    assert!(
        found[0]["snippet"]
            .as_str()
            .unwrap_or_default()
            .contains("Italy"),
        "{found}"
    );
    assert_eq!(
        cli.json(&["conversations", "list", "--search", "no such words"])
            .as_array()
            .map(Vec::len),
        Some(0)
    );

    // Edit the second question and resend: what came after it is replaced.
    let (edited, _) = send(&cli, &id, "And of Spain?", &["--resend-from", "2"]);
    assert_eq!(edited["index"], 3, "{edited}");
    let now = messages(&cli, &id);
    assert_eq!(now.len(), 4);
    assert_eq!(now[2]["text"], "And of Spain?");
    // Regenerate the last answer: same question, one answer.
    let (again, _) = send(&cli, &id, "And of Spain?", &["--resend-from", "2"]);
    assert_eq!(again["index"], 3);
    assert_eq!(messages(&cli, &id).len(), 4);
    // Only a question can be resent.
    let refused = error_line(&cli.run(&["conversations", "send", &id, "x", "--resend-from", "3"]));
    assert!(refused.contains("is not a question"), "{refused}");
    assert_eq!(
        messages(&cli, &id).len(),
        4,
        "a refused resend changes nothing"
    );

    assert_success(
        &cli.run(&["conversations", "rename", &id, "Capitals"]),
        &["rename"],
    );
    let out = cli.home.path().join("capitals.md");
    assert_success(
        &cli.run(&[
            "conversations",
            "export",
            &id,
            "--out",
            out.to_str().expect("path"),
        ]),
        &["export"],
    );
    let markdown = std::fs::read_to_string(&out).expect("exported");
    assert!(markdown.starts_with("# Capitals\n"), "{markdown}");
    assert!(markdown.contains("## You\n\nAnd of Spain?"), "{markdown}");
    assert!(markdown.contains("Paris"), "{markdown}");

    let run = again["meta"]["runId"].as_str().expect("the turn's run");
    assert_the_turn_is_a_run(&cli, &id, run);
    assert_eq!(
        chat_runs(&cli),
        5,
        "three turns, an edit and a regeneration"
    );

    // Deleting the conversation deletes those runs too: they hold its text.
    assert_success(&cli.run(&["conversations", "rm", &id]), &["rm"]);
    let gone = error_line(&cli.run(&["conversations", "show", &id]));
    assert!(gone.contains("no conversation"), "{gone}");
    assert_eq!(chat_runs(&cli), 0);
}

#[test]
fn an_ask_conversation_cites_each_answer_and_carries_earlier_excerpts() {
    let cli = Cli::new();
    let corpus = corpus();
    cli.json(&[
        "ingest",
        corpus.path().to_str().expect("path"),
        "--project",
        "lumen",
    ]);
    let refused =
        error_line(&cli.run(&["conversations", "new", "--mode", "ask", "--project", "nope"]));
    assert!(
        refused.contains("nope"),
        "an unknown project is named: {refused}"
    );
    let id = new(&cli, &["--mode", "ask", "--project", "lumen"]);
    let (first, events) = send(
        &cli,
        &id,
        "What is the default port of the Lumen server?",
        &[],
    );
    assert!(
        events.iter().any(|event| event["type"] == "retrieved"),
        "{events:?}"
    );
    let citations = first["meta"]["citations"].as_array().expect("citations");
    assert!(
        citations
            .iter()
            .any(|citation| citation["path"] == "docs/configuration.md"),
        "{first}"
    );
    let (second, _) = send(&cli, &id, "How do I change it?", &[]);
    assert_eq!(second["meta"]["status"], "done", "{second}");
    assert!(!second["meta"]["citations"]
        .as_array()
        .expect("citations")
        .is_empty());
    let stored = messages(&cli, &id);
    // The first question is stored with the prompt as sent (its excerpts),
    // and the second turn sent it again.
    assert!(
        stored[0]["meta"]["prompt"]
            .as_str()
            .unwrap_or_default()
            .contains("Context excerpts"),
        "{}",
        stored[0]
    );
    let tokens =
        |answer: &serde_json::Value, key: &str| answer["meta"]["stats"][key].as_u64().unwrap_or(0);
    assert!(
        tokens(&second, "promptTokens")
            > tokens(&first, "promptTokens") + tokens(&first, "completionTokens"),
        "the second prompt holds the first exchange: {second}"
    );
}

#[test]
fn an_agent_conversation_is_a_run_of_the_pinned_agent() {
    let cli = Cli::new();
    let agent =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/agents/planner.agent.json");
    let missing = error_line(&cli.run(&[
        "conversations",
        "new",
        "--mode",
        "agent",
        "--agent",
        "nobody",
    ]));
    assert!(missing.contains("no published agent `nobody`"), "{missing}");
    assert_success(
        &cli.run(&["agents", "publish", agent.to_str().expect("path")]),
        &["agents", "publish"],
    );
    // The example flow pins planner@1.0.0; a version never published is refused.
    let pins = cli.json(&["agents", "pins"]);
    assert!(
        pins.as_array()
            .expect("pins")
            .iter()
            .any(|pin| pin["flow"] == "plan-execute"
                && pin["agent"] == "planner"
                && pin["version"] == "1.0.0"),
        "{pins}"
    );
    let refused = error_line(&cli.run(&["agents", "repin", "plan-execute", "planner", "9.0.0"]));
    assert!(
        refused.contains("no published agent `planner@9.0.0`"),
        "{refused}"
    );
    let id = new(&cli, &["--mode", "agent", "--agent", "planner"]);
    let conversation = cli.json(&["conversations", "show", &id]);
    assert_eq!(
        conversation["summary"]["target"], "planner@1.0.0",
        "pinned to the newest version"
    );
    let (first, events) = send(
        &cli,
        &id,
        "Plan how to add a README to a project.",
        &["--yes"],
    );
    assert_eq!(first["meta"]["status"], "done", "{first}");
    assert!(
        !first["text"].as_str().unwrap_or_default().is_empty(),
        "{first}"
    );
    let run = first["meta"]["runId"]
        .as_str()
        .expect("a run id")
        .to_owned();
    assert!(
        events.iter().any(|event| event["type"] == "run"),
        "{events:?}"
    );
    let shown = cli.json(&["runs", "show", &run]);
    assert_eq!(shown["summary"]["flow"], "chat-planner", "{shown}");
    assert_eq!(shown["summary"]["status"], "succeeded");
    // The second turn's task carries the first exchange.
    let (second, _) = send(&cli, &id, "Make the plan shorter.", &["--yes"]);
    assert_eq!(second["meta"]["status"], "done", "{second}");
    let second_run = cli.json(&[
        "runs",
        "show",
        second["meta"]["runId"].as_str().expect("run"),
    ]);
    let input = second_run.to_string();
    assert!(
        input.contains("The conversation so far"),
        "the history went to the agent"
    );
}

/// The `chat` runs kept for turns.
fn chat_runs(cli: &Cli) -> usize {
    cli.json(&["runs", "list"])
        .as_array()
        .expect("runs")
        .iter()
        .filter(|run| run["flow"] == "chat")
        .count()
}

/// A turn is kept as a run of `chat` (its trace), with what was sent.
fn assert_the_turn_is_a_run(cli: &Cli, id: &str, run: &str) {
    let shown = cli.json(&["runs", "show", run]);
    assert_eq!(
        (&shown["exchange"], &shown["input"]["conversation"]),
        (&serde_json::json!("chat"), &serde_json::json!(id)),
        "{shown}"
    );
    assert!(shown["nodes"][0]["calls"][0]
        .to_string()
        .contains("And of Spain?"));
}
