//! A server workspace's datasets and evals over real HTTP with the app's
//! client: a dataset created from text, a flow evaluated there with its
//! progress streamed back, the report read, exported as a baseline and
//! replayed, a run added as a case; names that are paths refused; an eval
//! the client cancels stops on the server, what ran kept as a partial
//! report.

use std::sync::Mutex;
use std::time::Duration;

use codexos_server::team::client::{ClientError, RemoteEval};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::{paris, roomy, signed_in, start, CAPITALS};

async fn put_flow(server: &super::Server, name: &str) {
    let path = format!("/api/v1/workspaces/team/flows/{name}");
    let (status, body) = server.call("olga", "PUT", &path, Some(paris(name))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Runs of `flow` stored in `team`.
async fn runs_of(server: &super::Server, flow: &str) -> usize {
    let path = format!("/api/v1/workspaces/team/runs?flow={flow}&limit=500");
    let (status, body) = server.call("olga", "GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str::<Value>(&body)
        .expect("json")
        .as_array()
        .expect("runs")
        .len()
}

#[tokio::test(flavor = "multi_thread")]
#[allow(clippy::too_many_lines)]
async fn a_flow_is_evaluated_over_a_dataset_on_the_server() {
    let server = start(roomy()).await;
    put_flow(&server, "capitals").await;
    let cora = signed_in(&server, "cora").await;
    let eve = signed_in(&server, "eve").await;

    // A creator makes the dataset; an executor may not.
    let made = cora
        .create_dataset("team", "capitals", "jsonl", CAPITALS)
        .await
        .expect("dataset");
    assert_eq!(made.cases, Some(2));
    let refused = eve.create_dataset("team", "more", "jsonl", CAPITALS).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    let taken = cora
        .create_dataset("team", "capitals", "jsonl", CAPITALS)
        .await;
    assert!(
        matches!(taken, Err(ClientError::Refused { status: 400, .. })),
        "{taken:?}"
    );
    let broken = cora
        .create_dataset("team", "broken", "jsonl", "{not json\n")
        .await;
    assert!(
        matches!(broken, Err(ClientError::Refused { status: 400, .. })),
        "{broken:?}"
    );
    // Names only: a path reaches no file of the server's.
    for name in ["../../team.sqlite", "/etc/passwd", ".hidden"] {
        let path = format!(
            "/api/v1/workspaces/team/datasets/{}",
            name.replace('/', "%2F")
        );
        let (status, body) = server.call("eve", "GET", &path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
    }
    // Nor a file the engine would find by that name elsewhere (the test's
    // folder holds a Cargo.toml): only the workspace's datasets are read.
    assert!(
        std::path::Path::new("Cargo.toml").is_file(),
        "positive control"
    );
    let (status, body) = server
        .call(
            "eve",
            "GET",
            "/api/v1/workspaces/team/datasets/Cargo.toml",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let listed = eve.datasets("team").await.expect("datasets");
    assert_eq!(
        listed
            .iter()
            .map(|set| set.name.as_str())
            .collect::<Vec<_>>(),
        ["capitals"]
    );
    let view = eve.dataset("team", "capitals").await.expect("dataset");
    assert_eq!(view.cases.len(), 2);
    assert_eq!(view.path, "capitals", "the server's path is not shown");

    // An executor evaluates the flow; progress streams back after each run.
    let seen = Mutex::new(Vec::new());
    let eval = RemoteEval {
        dataset: "capitals".to_owned(),
        repeat: 1,
        ..RemoteEval::default()
    };
    let report = eve
        .run_eval(
            "team",
            "capitals",
            &eval,
            &|progress| seen.lock().expect("seen").push(progress),
            &CancellationToken::new(),
        )
        .await
        .expect("eval");
    let seen = seen.into_inner().expect("seen");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        seen.last().map(|last| (last.done, last.total)),
        Some((2, 2))
    );
    let passed: Vec<(String, bool)> = report
        .cases
        .iter()
        .map(|case| (case.id.clone(), case.passed))
        .collect();
    assert_eq!(
        passed,
        [("france".to_owned(), true), ("spain".to_owned(), false)]
    );
    assert_eq!(runs_of(&server, "capitals").await, 2);

    let stored = eve.evals("team", Some("capitals")).await.expect("evals");
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].passed, stored[0].cases), (1, 2));
    let read = eve.eval_report("team", &report.id).await.expect("report");
    assert_eq!(read.id, report.id);
    let baseline = eve
        .eval_baseline("team", &report.id)
        .await
        .expect("baseline");
    assert_eq!(baseline["id"], json!(report.id));

    // Replayed against it: the same verdicts, no regression.
    let replayed = eve
        .run_eval(
            "team",
            "capitals",
            &RemoteEval {
                baseline: Some(report.id[..8].to_owned()),
                replay: true,
                ..eval.clone()
            },
            &|_| {},
            &CancellationToken::new(),
        )
        .await
        .expect("replay");
    assert_eq!(replayed.cases.len(), 2);
    // A baseline or dataset that is a path of the server's is refused.
    for (dataset, baseline) in [
        ("capitals", "/etc/passwd"),
        ("/etc/passwd", ""),
        ("Cargo.toml", ""),
        ("capitals", "no-such-eval"),
    ] {
        let refused = eve
            .run_eval(
                "team",
                "capitals",
                &RemoteEval {
                    dataset: dataset.to_owned(),
                    baseline: Some(baseline.to_owned()),
                    ..eval.clone()
                },
                &|_| {},
                &CancellationToken::new(),
            )
            .await;
        assert!(
            matches!(
                refused,
                Err(ClientError::Refused {
                    status: 400 | 404,
                    ..
                })
            ),
            "{dataset} {baseline}: {refused:?}"
        );
    }

    // A run of the eval becomes a case of a new dataset (a creator's edit).
    let run = &report.cases[0].attempts[0].run_id;
    let case = cora
        .add_run_to_dataset("team", "kept", run, None)
        .await
        .expect("case");
    assert_eq!(case.expected, Some(json!("Paris")));
    assert_eq!(
        eve.dataset("team", "kept").await.expect("kept").cases.len(),
        1
    );

    // Deleted: an executor may not, nor a creator whose grant on the flow
    // makes them a viewer of it; a creator may.
    let refused = eve.delete_eval("team", &report.id).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    let grant = Some(json!({"role": "viewer", "flow": "capitals"}));
    let members = "/api/v1/workspaces/team/members/cora";
    assert!(server
        .call("olga", "PUT", members, grant)
        .await
        .0
        .is_success());
    let refused = cora.delete_eval("team", &report.id).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    let ungrant = format!("{members}?flow=capitals");
    assert!(server
        .call("olga", "DELETE", &ungrant, None)
        .await
        .0
        .is_success());
    let refused = eve.delete_eval("team", &report.id).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    cora.delete_eval("team", &report.id).await.expect("delete");
    cora.delete_dataset("team", "kept").await.expect("delete");
    let left = eve.evals("team", None).await.expect("evals");
    assert!(left.iter().all(|stored| stored.id != report.id), "{left:?}");
    assert!(eve
        .datasets("team")
        .await
        .expect("datasets")
        .iter()
        .all(|set| set.name != "kept"));
}

/// Cases of the eval cancelled: far more than run before it is.
const CASES: usize = 40;

#[tokio::test(flavor = "multi_thread")]
async fn an_eval_the_client_cancels_stops_on_the_server() {
    let server = start(roomy()).await;
    // Each run asks the local model, so that an eval of many cases takes
    // long enough to be stopped midway.
    let flow = json!({"version": 2, "name": "long", "state": {"question": "string", "answer": "string"},
           "nodes": [{"id": "ask", "kind": "input", "fields": ["question"]},
                     {"id": "say", "kind": "llm", "prompt": "Say hi to {{ question }}.", "output": "answer"},
                     {"id": "out", "kind": "output", "keys": ["answer"]}],
           "edges": [{"from": "ask", "to": "say"}, {"from": "say", "to": "out"}]});
    let (status, body) = server
        .call(
            "olga",
            "PUT",
            "/api/v1/workspaces/team/flows/long",
            Some(flow),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cora = signed_in(&server, "cora").await;
    let cases = (0..CASES)
        .map(|n| json!({"id": format!("c{n}"), "input": {"question": format!("q{n}")}, "expected": "Paris"}).to_string())
        .collect::<Vec<_>>()
        .join("\n");
    cora.create_dataset("team", "many", "jsonl", &cases)
        .await
        .expect("dataset");
    let cancel = CancellationToken::new();
    let seen = Mutex::new(0);
    let ended = cora
        .run_eval(
            "team",
            "long",
            &RemoteEval {
                dataset: "many".to_owned(),
                repeat: 1,
                ..RemoteEval::default()
            },
            &|_| {
                // Positive control: it ran; then the app cancels.
                *seen.lock().expect("seen") += 1;
                cancel.cancel();
            },
            &cancel,
        )
        .await;
    assert!(
        matches!(ended, Err(ClientError::Cancelled { .. })),
        "{ended:?}"
    );
    assert!(*seen.lock().expect("seen") >= 1);
    // The server stops: no more runs of it once the connection is gone,
    // far fewer than the dataset's cases.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stopped = runs_of(&server, "long").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(runs_of(&server, "long").await, stopped);
    assert!(stopped < CASES, "{stopped} runs");
    // What ran is kept, as a partial report.
    let kept = cora.evals("team", None).await.expect("evals");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!((kept[0].cases as usize) < CASES, "{kept:?}");
}
