//! `codexos server --database postgres://…` on the real binary and a real
//! PostgreSQL server: two server processes share one database (a run is
//! held by one, the other follows it and takes it over when the first is
//! killed, no node committed twice), and a SQLite server home moves to
//! PostgreSQL with `codexos db copy` losing nothing.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::chat::Killed;
use crate::server::call;
use crate::{assert_success, pipe, Cli};

const PASSWORD: &str = "correct horse battery";

fn on(cli: &Cli, database: Option<&str>, args: &[&str]) -> Command {
    let mut command = cli.command(args);
    if let Some(url) = database {
        command.env("CODEXOS_DATABASE", url);
    }
    command
}

fn run_cli(cli: &Cli, database: Option<&str>, args: &[&str]) -> Output {
    on(cli, database, args).output().expect("codexos runs")
}

/// Account `olga` owning workspace `team` in the server home (and the
/// database, when given); her admin token.
pub(crate) fn set_up(cli: &Cli, home: &Path, database: Option<&str>) -> String {
    let home = home.to_str().expect("home");
    assert_success(
        &pipe(
            on(
                cli,
                database,
                &["server", "--home", home, "account", "add", "olga"],
            ),
            &format!("{PASSWORD}\n"),
        ),
        &["account"],
    );
    assert_success(
        &run_cli(
            cli,
            database,
            &[
                "server",
                "--home",
                home,
                "workspace",
                "add",
                "team",
                "--owner",
                "olga",
            ],
        ),
        &["workspace"],
    );
    let output = run_cli(
        cli,
        database,
        &[
            "server", "--home", home, "token", "create", "olga", "--label", "ops", "--scope",
            "admin", "--json",
        ],
    );
    assert_success(&output, &["token"]);
    let token: Value = serde_json::from_slice(&output.stdout).expect("json");
    token["token"].as_str().expect("token").to_owned()
}

/// A server on the database with a short claim lease; the process and its
/// base URL.
fn serve(cli: &Cli, home: &Path, database: Option<&str>) -> (Child, String) {
    let home = home.to_str().expect("home");
    let mut child = on(
        cli,
        database,
        &[
            "--json",
            "server",
            "--home",
            home,
            "--bind",
            "127.0.0.1:0",
            "--claim-lease-ms",
            "2000",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("spawn server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let listening: Value =
        serde_json::from_str(&line).unwrap_or_else(|error| panic!("{error}: {line}"));
    (child, listening["url"].as_str().expect("url").to_owned())
}

async fn detail(base: &str, token: &str, run: &str) -> Value {
    let (_, body) = call(
        "GET",
        &format!("{base}/api/v1/workspaces/team/runs/{run}"),
        token,
        None,
    )
    .await;
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// Starts a run of `flow` in workspace `team` on `base`; its id.
async fn start(base: &str, token: &str, flow: &str) -> String {
    let (status, body) = call(
        "POST",
        &format!("{base}/api/v1/workspaces/team/flows/{flow}/runs"),
        token,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    serde_json::from_str::<Value>(&body).expect("json")["runId"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// Starts the slow flow on `base` and waits until its first node is
/// checkpointed (read from `other`: the database is shared).
async fn start_slow(base: &str, other: &str, token: &str) -> String {
    let run = start(base, token, "slow").await;
    let began = Instant::now();
    while detail(other, token, &run).await["finished"] != json!([[0, "first"]]) {
        assert!(
            began.elapsed() < Duration::from_mins(2),
            "`first` was not checkpointed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run
}

/// How many times each node finished, from the run's stored events.
fn finishes(detail: &Value) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for event in detail["events"].as_array().into_iter().flatten() {
        if event["event"]["type"] == "nodeFinished" {
            let node = event["node"].as_str().unwrap_or_default().to_owned();
            match counts.iter_mut().find(|(name, _)| *name == node) {
                Some((_, count)) => *count += 1,
                None => counts.push((node, 1)),
            }
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_on_one_database_refuse_each_others_runs_and_one_takes_over_a_dead_ones_committing_each_node_once(
) {
    let cli = Cli::new();
    let database = codexos_test_support::postgres::server().fresh_database();
    let (home_a, home_b) = (
        cli.home.path().join("server-a"),
        cli.home.path().join("server-b"),
    );
    let token = set_up(&cli, &home_a, Some(&database));
    // The second server signs with the first one's key.
    std::fs::create_dir_all(&home_b).expect("home b");
    std::fs::copy(home_a.join("share.key"), home_b.join("share.key")).expect("key");
    let (a, url_a) = serve(&cli, &home_a, Some(&database));
    let mut a = Killed(a);
    let (b, url_b) = serve(&cli, &home_b, Some(&database));
    let _b = Killed(b);
    let flow: Value = serde_json::from_str(crate::flows::SLOW).expect("flow");
    let (status, body) = call(
        "PUT",
        &format!("{url_a}/api/v1/workspaces/team/flows/slow"),
        &token,
        Some(flow),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // A runs it; B sees its progress, cannot resume it, and its event
    // stream follows it to the end.
    let first = start_slow(&url_a, &url_b, &token).await;
    let (status, body) = call(
        "POST",
        &format!("{url_b}/api/v1/workspaces/team/runs/{first}/resume"),
        &token,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("running on another server"), "{body}");
    let (_, stream) = call(
        "GET",
        &format!("{url_b}/api/v1/workspaces/team/runs/{first}/events"),
        &token,
        None,
    )
    .await;
    assert!(
        stream.contains("\"status\":\"succeeded\""),
        "B followed A's run to its end: {stream}"
    );
    let done = detail(&url_b, &token, &first).await;
    assert_eq!(done["summary"]["status"], "succeeded", "{done}");

    // A dies mid-node: once its lease lapses, B takes the run over and
    // finishes it from A's last checkpoint.
    let second = start_slow(&url_a, &url_b, &token).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.0.kill().expect("kill -9");
    a.0.wait().expect("reaped");
    let began = Instant::now();
    let finished = loop {
        let now = detail(&url_b, &token, &second).await;
        if now["summary"]["status"] == "succeeded" {
            break now;
        }
        assert!(
            began.elapsed() < Duration::from_mins(3),
            "B did not finish A's run: {now}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for run in [&done, &finished] {
        let counts = finishes(run);
        assert!(counts.iter().any(|(node, _)| node == "write"), "{counts:?}");
        assert!(
            counts.iter().all(|(_, count)| *count == 1),
            "every node finished exactly once: {counts:?}"
        );
    }
    crate::server::assert_slow_output(&finished);
}

const HELLO: &str = r#"{"version": 2, "name": "hello", "state": {"greeting": "string"},
  "nodes": [{"id": "say", "kind": "transform", "set": {"greeting": "'hello'"}},
            {"id": "done", "kind": "output", "keys": ["greeting"]}],
  "edges": [{"from": "say", "to": "done"}]}"#;

/// What a client reads of the workspace: a run, the flow's versions, the
/// audit chain's check (without its time).
async fn snapshot(base: &str, token: &str, run: &str) -> Vec<Value> {
    let workspace = format!("{base}/api/v1/workspaces/team");
    let mut seen = vec![detail(base, token, run).await];
    for path in ["flows/hello/versions", "runs", "members"] {
        let (status, body) = call("GET", &format!("{workspace}/{path}"), token, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        seen.push(serde_json::from_str(&body).expect("json"));
    }
    let (status, body) = call("GET", &format!("{workspace}/audit/verify"), token, None).await;
    assert_eq!(status, 200, "{body}");
    let check: Value = serde_json::from_str(&body).expect("json");
    seen.push(json!({"entries": check["entries"], "broken": check["broken"]}));
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_server_home_moves_to_postgresql_and_serves_the_same() {
    let cli = Cli::new();
    let home = cli.home.path().join("server");
    let token = set_up(&cli, &home, None);
    // On SQLite: a flow saved and run.
    let (server, url) = serve(&cli, &home, None);
    let mut server = Killed(server);
    let workspace = format!("{url}/api/v1/workspaces/team");
    let flow: Value = serde_json::from_str(HELLO).expect("flow");
    let (status, body) = call(
        "PUT",
        &format!("{workspace}/flows/hello"),
        &token,
        Some(flow),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let run = start(&url, &token, "hello").await;
    let began = Instant::now();
    while detail(&url, &token, &run).await["summary"]["status"] != "succeeded" {
        assert!(
            began.elapsed() < Duration::from_mins(1),
            "the run did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = snapshot(&url, &token, &run).await;
    assert_eq!(
        before[0]["summary"]["status"], "succeeded",
        "positive control: {before:?}"
    );
    server.0.kill().expect("stopped");
    server.0.wait().expect("reaped");

    let database = codexos_test_support::postgres::server().fresh_database();
    let home_arg = home.to_str().expect("home");
    let copied = run_cli(
        &cli,
        None,
        &[
            "db", "copy", "--home", home_arg, "--to", &database, "--json",
        ],
    );
    assert_success(&copied, &["db", "copy"]);
    let report: Value = serde_json::from_slice(&copied.stdout).expect("json");
    let rows = |store: &str| {
        report
            .as_array()
            .and_then(|stores| stores.iter().find(|entry| entry["store"] == store))
            .and_then(|entry| entry["rows"].as_u64())
            .unwrap_or(0)
    };
    assert!(
        rows("team") > 3,
        "accounts, members, a token, audit entries: {report}"
    );
    assert!(
        rows("workspace team") > 3,
        "the run, its events, the flow's versions: {report}"
    );
    // Into a filled database again: refused, nothing changed.
    let again = run_cli(
        &cli,
        None,
        &["db", "copy", "--home", home_arg, "--to", &database],
    );
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds rows"),
        "{again:?}"
    );
    let migrated = run_cli(
        &cli,
        Some(&database),
        &["db", "migrate", "--home", home_arg, "--json"],
    );
    assert_success(&migrated, &["db", "migrate"]);
    let versions: Value = serde_json::from_slice(&migrated.stdout).expect("json");
    assert_eq!(versions[0]["version"], versions[1]["version"], "{versions}");

    // Served from PostgreSQL (the SQLite files moved aside, so nothing can
    // come from them): the token made on SQLite works, and every read is
    // the same.
    let aside = cli.home.path().join("sqlite-aside");
    std::fs::create_dir_all(&aside).expect("aside");
    std::fs::rename(home.join("team.sqlite"), aside.join("team.sqlite")).expect("moved");
    let workspace_db = home.join("workspaces/team/codexos.sqlite");
    std::fs::rename(&workspace_db, aside.join("workspace.sqlite")).expect("moved");
    let (server, url) = serve(&cli, &home, Some(&database));
    let _server = Killed(server);
    assert_eq!(snapshot(&url, &token, &run).await, before);
    assert!(
        !home.join("team.sqlite").exists() && !workspace_db.exists(),
        "served without making SQLite files again"
    );
}
