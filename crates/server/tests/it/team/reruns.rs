//! A server's stored runs done again from the app's run inspector, over
//! real HTTP: replayed from the recording, re-run live and checked against
//! it, forked from a node with a state edit, and compared — each under the
//! caller's role on the run's flow, and only within its workspace.

use codexos_server::team::client::ClientError;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{roomy, signed_in, start};

fn refused(result: &Result<impl std::fmt::Debug, ClientError>, status: u16, what: &str) {
    assert!(
        matches!(result, Err(ClientError::Refused { status: got, .. }) if *got == status),
        "{what}: expected {status}, got {result:?}"
    );
}

/// A flow without a person or a model: `n` is 7, then the output.
fn sums() -> codexos_runtime::Flow {
    serde_json::from_value(json!({
        "version": 2, "name": "sums", "state": {"n": "number"},
        "nodes": [{"id": "after", "kind": "transform", "set": {"n": "7"}},
                  {"id": "out", "kind": "output", "keys": ["n"]}],
        "edges": [{"from": "after", "to": "out"}]
    }))
    .expect("flow")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_servers_run_is_replayed_rerun_forked_and_compared_by_the_roles_that_may() {
    let server = start(roomy()).await;
    let cora = signed_in(&server, "cora").await;
    let eve = signed_in(&server, "eve").await;
    let vic = signed_in(&server, "vic").await;
    cora.save_flow("team", &sums()).await.expect("save");
    let stop = CancellationToken::new();
    let first = eve.start_run("team", "sums", json!({})).await.expect("run");
    let ran = eve
        .follow_to_outcome("team", &first, None, &stop, &|_| {})
        .await
        .expect("follow");
    assert_eq!(ran.output["n"], json!(7), "positive control: {ran:?}");

    // A viewer replays the recording (nothing is stored) and compares.
    let runs_before = vic.runs("team", Some("sums")).await.expect("runs").len();
    let replayed = vic.replay("team", &first).await.expect("replay");
    assert!(replayed.identical, "{replayed:?}");
    assert_eq!(replayed.run_id, first);
    assert!(replayed.nodes.iter().any(|node| node.node == "after"));
    assert_eq!(
        vic.runs("team", Some("sums")).await.expect("runs").len(),
        runs_before,
        "a replay stores no run"
    );
    // …but may not run anything again.
    refused(&vic.rerun("team", &first, None).await, 403, "viewer re-run");
    refused(
        &vic.fork_run("team", &first, "out", std::collections::BTreeMap::new())
            .await,
        403,
        "viewer fork",
    );

    // Another model is an edit of the flow: refused to an executor, taken
    // from a creator (this flow has no model node to change).
    refused(
        &eve.rerun("team", &first, Some("elsewhere")).await,
        403,
        "executor re-run on another model",
    );
    let creators = cora
        .rerun("team", &first, Some("elsewhere"))
        .await
        .expect("a creator picks the model");
    eve.follow_to_outcome("team", &creators, None, &stop, &|_| {})
        .await
        .expect("follow");

    // An executor re-runs it live: a new run, the same as the recording.
    let again = eve.rerun("team", &first, None).await.expect("re-run");
    assert_ne!(again, first);
    eve.follow_to_outcome("team", &again, None, &stop, &|_| {})
        .await
        .expect("follow");
    let report = eve
        .rerun_report("team", &first, &again)
        .await
        .expect("report");
    assert!(report.identical, "{report:?}");
    assert_eq!(
        (report.run_id.as_str(), report.outcome.run_id.as_str()),
        (first.as_str(), again.as_str())
    );

    // Forked before `out` with `n` edited: the output follows the edit.
    let edits = [("n".to_owned(), json!(9))].into_iter().collect();
    let forked = eve
        .fork_run("team", &first, "out", edits)
        .await
        .expect("fork");
    let outcome = eve
        .follow_to_outcome("team", &forked, None, &stop, &|_| {})
        .await
        .expect("follow");
    assert_eq!(outcome.output["n"], json!(9), "{outcome:?}");
    let detail = eve.run_detail("team", &forked).await.expect("detail");
    assert_eq!(detail.forked_from, Some((first.clone(), "out".to_owned())));
    refused(
        &eve.fork_run("team", &first, "nowhere", std::collections::BTreeMap::new())
            .await,
        400,
        "a node the flow does not have",
    );

    // Compared: the outputs differ, and so does the rerun's report.
    let comparison = vic
        .compare_runs("team", &first, &forked)
        .await
        .expect("compare");
    assert!(!comparison.same_output, "{comparison:?}");
    assert_eq!(
        (comparison.a.id.as_str(), comparison.b.id.as_str()),
        (first.as_str(), forked.as_str())
    );
    let differs = eve
        .rerun_report("team", &first, &forked)
        .await
        .expect("report");
    assert!(!differs.identical, "{differs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_is_done_again_only_in_its_own_workspace() {
    let server = start(roomy()).await;
    let eve = signed_in(&server, "eve").await;
    let vic = signed_in(&server, "vic").await;
    signed_in(&server, "cora")
        .await
        .save_flow("team", &sums())
        .await
        .expect("save");
    let stop = CancellationToken::new();
    let first = eve.start_run("team", "sums", json!({})).await.expect("run");
    eve.follow_to_outcome("team", &first, None, &stop, &|_| {})
        .await
        .expect("follow");
    // Runs are the workspace's: a non-member sees none of them, and a run
    // of another workspace is not found here, as either run.
    let otto = signed_in(&server, "otto").await;
    refused(&otto.replay("team", &first).await, 404, "non-member");
    let mut elsewhere = sums();
    elsewhere.name = "sums-other".to_owned();
    eve.save_flow("other", &elsewhere)
        .await
        .expect("save in other");
    let theirs = eve
        .start_run("other", "sums-other", json!({}))
        .await
        .expect("run in other");
    eve.follow_to_outcome("other", &theirs, None, &stop, &|_| {})
        .await
        .expect("follow");
    let again_there = eve.rerun("other", &theirs, None).await;
    assert!(again_there.is_ok(), "positive control: {again_there:?}");
    refused(
        &eve.rerun("team", &theirs, None).await,
        404,
        "re-run across",
    );
    refused(
        &eve.compare_runs("team", &first, &theirs).await,
        404,
        "compare across",
    );
    refused(
        &eve.rerun_report("team", &first, &theirs).await,
        404,
        "diff across",
    );
    refused(
        &vic.compare_runs("team", &first, "0123-dead").await,
        404,
        "an unknown second run",
    );
    refused(
        &vic.compare_runs("team", &first, "../etc").await,
        400,
        "not a run id",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_or_fork_works_in_the_workspaces_folder_whatever_its_input_says() {
    let server = start(roomy()).await;
    let cora = signed_in(&server, "cora").await;
    let eve = signed_in(&server, "eve").await;
    let lister: codexos_runtime::Flow = serde_json::from_value(json!({
        "version": 2, "name": "lister", "state": {"files": "any"},
        "nodes": [{"id": "list", "kind": "tool", "tool": "fs.list", "args": {"path": "."}, "output": "files"},
                  {"id": "out", "kind": "output", "keys": ["files"]}],
        "edges": [{"from": "list", "to": "out"}]
    }))
    .expect("flow");
    cora.save_flow("team", &lister).await.expect("save");
    let work = server
        .team
        .runtime("team")
        .expect("runtime")
        .home()
        .root()
        .join("work");
    std::fs::create_dir_all(&work).expect("work");
    std::fs::write(work.join("marker-in-work.txt"), "here").expect("marker");
    let stop = CancellationToken::new();
    // A project key that names no project (null here) must not move the
    // run out of the workspace's folder, first time or again.
    let first = eve
        .start_run("team", "lister", json!({"project": null}))
        .await
        .expect("run");
    let files_of = |outcome: &codexos_runtime::RunOutcome| outcome.output["files"].to_string();
    let ran = eve
        .follow_to_outcome("team", &first, None, &stop, &|_| {})
        .await
        .expect("follow");
    assert!(
        files_of(&ran).contains("marker-in-work.txt"),
        "positive control: {ran:?}"
    );
    let again = eve.rerun("team", &first, None).await.expect("re-run");
    let forked = eve
        .fork_run("team", &first, "list", std::collections::BTreeMap::new())
        .await
        .expect("fork");
    for id in [again, forked] {
        let outcome = eve
            .follow_to_outcome("team", &id, None, &stop, &|_| {})
            .await
            .expect("follow");
        assert!(
            files_of(&outcome).contains("marker-in-work.txt")
                && !files_of(&outcome).contains("Cargo.toml"),
            "{outcome:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspaces_dashboard_counts_its_runs_and_only_its_own() {
    let server = start(roomy()).await;
    let cora = signed_in(&server, "cora").await;
    let vic = signed_in(&server, "vic").await;
    cora.save_flow("team", &sums()).await.expect("save");
    let stop = CancellationToken::new();
    let mut ran = Vec::new();
    for _ in 0..2 {
        let id = cora
            .start_run("team", "sums", json!({}))
            .await
            .expect("run");
        let outcome = cora
            .follow_to_outcome("team", &id, None, &stop, &|_| {})
            .await
            .expect("follow");
        assert_eq!(outcome.output["n"], json!(7), "{outcome:?}");
        ran.push(id);
    }
    // A viewer reads the figures: both runs of `sums`, succeeded.
    let query = codexos_runtime::DashboardQuery {
        from: None,
        to: None,
        by: "flow".to_owned(),
    };
    let dashboard = vic.dashboard("team", &query).await.expect("dashboard");
    let sums_row = dashboard
        .breakdown
        .iter()
        .find(|row| row.value == "sums")
        .unwrap_or_else(|| panic!("no `sums` in {:?}", dashboard.breakdown));
    assert_eq!((sums_row.figures.count, sums_row.figures.failures), (2, 0));
    let behind = vic
        .figure_runs("team", "flow", "sums", None, None)
        .await
        .expect("runs");
    let mut ids: Vec<String> = behind.into_iter().map(|run| run.id).collect();
    ids.sort();
    ran.sort();
    assert_eq!(ids, ran);
    // Another workspace's dashboard has none of them.
    let otto = signed_in(&server, "otto").await;
    let other = otto.dashboard("other", &query).await.expect("other");
    assert!(
        other.breakdown.iter().all(|row| row.value != "sums"),
        "{:?}",
        other.breakdown
    );
    refused(&otto.dashboard("team", &query).await, 404, "a stranger");
    let wrong = codexos_runtime::DashboardQuery {
        by: "colour".to_owned(),
        ..query
    };
    refused(
        &vic.dashboard("team", &wrong).await,
        400,
        "an unknown dimension",
    );
}
