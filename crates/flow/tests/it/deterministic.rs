use std::collections::BTreeMap;
use std::sync::Arc;

use codexos_flow::memory::MemoryLog;
use codexos_flow::ports::{RunLog, RunStatus};
use codexos_flow::{parse, RunOptions};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::{executor, fixture, Collected};

async fn run(flow: &str, input: Value) -> (codexos_flow::RunOutcome, Collected, Arc<MemoryLog>) {
    let log = Arc::new(MemoryLog::default());
    let events = Collected::default();
    let options = RunOptions {
        on_event: Some(events.sink()),
        ..RunOptions::default()
    };
    let outcome = executor(Arc::clone(&log))
        .start(
            fixture(flow),
            None,
            input,
            options,
            CancellationToken::new(),
        )
        .await
        .expect("runs");
    (outcome, events, log)
}

#[tokio::test]
async fn a_bounded_loop_then_a_router() {
    let (outcome, events, _) = run("counter.flow.json", json!({"limit": 2})).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    assert_eq!(
        outcome.output,
        json!({"count": 2, "verdict": "small: 2", "trail": [0, 1]})
    );
    insta::assert_yaml_snapshot!("counter_events", events.lines());

    let (outcome, _, _) = run("counter.flow.json", json!({"limit": 5})).await;
    assert_eq!(outcome.output["verdict"], "big: 5");
    // The loop's `max` bounds it whatever the condition says.
    let (outcome, _, _) = run("counter.flow.json", json!({"limit": 50})).await;
    assert_eq!(outcome.output["count"], 10);
}

#[tokio::test]
async fn branches_and_parallel_maps_merge_deterministically() {
    let (outcome, events, _) = run(
        "fanout.flow.json",
        json!({"words": ["a", "bb", "ccc", "dddd", "e"]}),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    assert_eq!(
        outcome.output,
        json!({"total": 11, "joined": "A BB CCC DDDD E"})
    );
    // Concurrent nodes interleave live; the snapshot is of the sorted lines,
    // and the order between steps is asserted apart.
    let lines = events.lines();
    let position = |wanted: &str| {
        lines
            .iter()
            .position(|line| line.starts_with(wanted))
            .expect("present")
    };
    assert!(position("start nodeFinished") < position("shout nodeStarted"));
    assert!(
        position("shout nodeFinished").max(position("measure nodeFinished"))
            < position("join nodeStarted")
    );
    let mut sorted = lines.clone();
    sorted.sort();
    insta::assert_yaml_snapshot!("fanout_events", sorted);
}

#[tokio::test]
async fn a_run_cut_mid_step_resumes_without_rerunning_finished_nodes() {
    let (first, _, log) = run("fanout.flow.json", json!({"words": ["x", "yy"]})).await;
    let mut stored = log.load(&first.run_id).expect("load").expect("stored");
    // As if killed after `shout` finished but before `measure` did.
    stored
        .nodes
        .retain(|record| record.step == 0 || record.node == "shout");
    let cut = Arc::new(MemoryLog::default());
    cut.begin(&stored.header).expect("begin");
    for record in &stored.nodes {
        cut.node_done(&stored.header.id, record, &[])
            .expect("record");
    }
    let events = Collected::default();
    let options = RunOptions {
        on_event: Some(events.sink()),
        ..RunOptions::default()
    };
    let resumed = executor(Arc::clone(&cut))
        .resume(&first.run_id, options, CancellationToken::new())
        .await
        .expect("resumes");
    assert_eq!(resumed.output, first.output);
    let started: Vec<String> = events
        .lines()
        .into_iter()
        .filter(|line| line.contains("nodeStarted"))
        .collect();
    assert_eq!(
        started,
        vec![
            "measure nodeStarted",
            "join nodeStarted",
            "done nodeStarted"
        ]
    );
}

#[tokio::test]
async fn a_fork_reruns_from_a_node_with_edited_state() {
    let (first, _, log) = run("counter.flow.json", json!({"limit": 2})).await;
    let edits = BTreeMap::from([("count".to_owned(), json!(9))]);
    let fork = executor(Arc::clone(&log))
        .fork(
            &first.run_id,
            "judge",
            edits,
            RunOptions::default(),
            CancellationToken::new(),
        )
        .await
        .expect("forks");
    assert_eq!(fork.output["verdict"], "big: 9");
    assert_ne!(fork.run_id, first.run_id);
    let bad = executor(Arc::clone(&log))
        .fork(
            &first.run_id,
            "judge",
            BTreeMap::from([("count".to_owned(), json!("nine"))]),
            RunOptions::default(),
            CancellationToken::new(),
        )
        .await
        .expect_err("typed state");
    assert!(bad.to_string().contains("count"), "{bad}");
}

const TOOLS: &str = r#"{"version": 2, "name": "tools", "state": {"said": "any", "x": "string"},
  "nodes": [{"id": "in", "kind": "input", "fields": ["x"]},
            {"id": "say", "kind": "tool", "tool": "echo", "args": {"text": "{{ x }}!"}, "output": "said"},
            {"id": "out", "kind": "output", "keys": ["said"]}],
  "edges": [{"from": "in", "to": "say"}, {"from": "say", "to": "out"}]}"#;

#[tokio::test]
async fn a_replay_answers_from_the_recording_and_stops_where_requests_differ() {
    let log = Arc::new(MemoryLog::default());
    let flow = Arc::new(parse(TOOLS).expect("parses"));
    let first = executor(Arc::clone(&log))
        .start(
            flow,
            None,
            json!({"x": "hi"}),
            RunOptions::default(),
            CancellationToken::new(),
        )
        .await
        .expect("runs");
    assert_eq!(first.output, json!({"said": {"text": "hi!"}}));
    let mut stored = log.load(&first.run_id).expect("load").expect("stored");
    assert_eq!(stored.calls.len(), 1);
    // The recorded answer is what a replay returns, whatever the tool does now.
    stored.calls[0].response = json!({"ok": {"text": "recorded"}});
    let replayed = executor(Arc::new(MemoryLog::default()))
        .replay(
            &stored,
            Arc::new(MemoryLog::default()),
            RunOptions::default(),
            CancellationToken::new(),
        )
        .await
        .expect("replays");
    assert_eq!(replayed.output, json!({"said": {"text": "recorded"}}));

    stored.header.flow_json["nodes"][1]["args"]["text"] = json!("changed");
    let diverged = executor(Arc::new(MemoryLog::default()))
        .replay(
            &stored,
            Arc::new(MemoryLog::default()),
            RunOptions::default(),
            CancellationToken::new(),
        )
        .await
        .expect("ends");
    assert_eq!(diverged.status, RunStatus::Failed);
    assert!(
        diverged
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("replay diverged at node `say`"),
        "{diverged:?}"
    );
}

async fn failing(node: &str) -> (codexos_flow::RunOutcome, Arc<MemoryLog>) {
    let text = format!(
        r#"{{"version": 2, "name": "bad", "state": {{"r": "any"}}, "nodes": [{node}], "edges": []}}"#
    );
    let log = Arc::new(MemoryLog::default());
    let outcome = executor(Arc::clone(&log))
        .start(
            Arc::new(parse(&text).expect("parses")),
            None,
            json!({}),
            RunOptions::default(),
            CancellationToken::new(),
        )
        .await
        .expect("ends");
    (outcome, log)
}

#[tokio::test]
async fn a_hanging_tool_a_panic_and_a_missing_input_fail_the_run_with_the_node_named() {
    let (hang, log) = failing(r#"{"id": "wait", "kind": "tool", "tool": "sleep", "timeoutMs": 200, "retries": 1, "output": "r"}"#).await;
    assert_eq!(hang.status, RunStatus::Failed);
    assert!(
        hang.error
            .as_deref()
            .unwrap_or_default()
            .contains("node `wait` timed out after 200 ms"),
        "{hang:?}"
    );
    let stored = log.load(&hang.run_id).expect("load").expect("kept");
    assert_eq!(stored.status, RunStatus::Failed);
    let failures = stored
        .events
        .iter()
        .filter(|event| matches!(event.event, codexos_flow::EventKind::NodeFailed { .. }))
        .count();
    assert_eq!(failures, 2, "one retry, both attempts kept");

    let (panic, log) =
        failing(r#"{"id": "bang", "kind": "tool", "tool": "boom", "output": "r"}"#).await;
    assert_eq!(panic.status, RunStatus::Failed);
    assert!(
        panic
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("node `bang` panicked: the tool exploded"),
        "{panic:?}"
    );
    assert!(!log
        .load(&panic.run_id)
        .expect("load")
        .expect("kept")
        .events
        .is_empty());

    let (missing, _) = failing(r#"{"id": "in", "kind": "input", "fields": ["r"]}"#).await;
    assert!(
        missing
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("lacks `r`"),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_value_of_the_wrong_type_fails_the_node_that_wrote_it() {
    let flow = r#"{"version": 2, "name": "typed", "state": {"n": "string"},
      "nodes": [{"id": "count", "kind": "transform", "set": {"n": "1 + 1"}}], "edges": []}"#;
    let outcome = executor(Arc::new(MemoryLog::default()))
        .start(
            Arc::new(parse(flow).expect("parses")),
            None,
            json!({}),
            RunOptions::default(),
            CancellationToken::new(),
        )
        .await
        .expect("ends");
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap_or_default();
    assert!(
        error.contains("node `count` wrote a number to `n`, which is declared string"),
        "{error}"
    );
}

#[tokio::test]
async fn a_human_node_pauses_the_run_until_it_is_answered() {
    let text = r#"{"version": 2, "name": "gate", "state": {"ok": "object", "n": "number"},
      "nodes": [{"id": "ask", "kind": "human", "prompt": "Ship it?", "output": "ok"},
                {"id": "after", "kind": "transform", "set": {"n": "1"}},
                {"id": "out", "kind": "output", "keys": ["n"]}],
      "edges": [{"from": "ask", "to": "after"}, {"from": "after", "to": "out"}]}"#;
    let log = Arc::new(MemoryLog::default());
    let paused = executor(Arc::clone(&log))
        .start(
            Arc::new(parse(text).expect("parses")),
            None,
            json!({}),
            RunOptions::default(),
            CancellationToken::new(),
        )
        .await
        .expect("pauses");
    assert_eq!(
        (paused.status, paused.waiting.as_deref()),
        (RunStatus::Paused, Some("ask"))
    );
    let answered = RunOptions {
        answers: BTreeMap::from([("ask".to_owned(), json!({"approved": true}))]),
        ..RunOptions::default()
    };
    let done = executor(Arc::clone(&log))
        .resume(&paused.run_id, answered, CancellationToken::new())
        .await
        .expect("resumes");
    assert_eq!(
        (done.status, done.output.clone()),
        (RunStatus::Succeeded, json!({"n": 1}))
    );
    let stored = log.load(&paused.run_id).expect("load").expect("stored");
    let seqs: Vec<u64> = stored.events.iter().map(|event| event.seq).collect();
    assert!(
        seqs.windows(2).all(|pair| pair[0] < pair[1]),
        "event order survives a resume: {seqs:?}"
    );

    let refused = executor(Arc::new(MemoryLog::default()));
    let paused = refused
        .start(
            Arc::new(parse(text).expect("parses")),
            None,
            json!({}),
            RunOptions::default(),
            CancellationToken::new(),
        )
        .await
        .expect("pauses");
    let no = RunOptions {
        answers: BTreeMap::from([(
            "ask".to_owned(),
            json!({"approved": false, "comment": "not today"}),
        )]),
        ..RunOptions::default()
    };
    let rejected = refused
        .resume(&paused.run_id, no, CancellationToken::new())
        .await
        .expect("ends");
    assert_eq!(rejected.status, RunStatus::Failed);
    assert!(rejected
        .error
        .as_deref()
        .unwrap_or_default()
        .contains("not approved: not today"));
}
