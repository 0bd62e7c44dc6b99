//! `codexos server` on the real binary: set up from the command line, then
//! served on 127.0.0.1 and called with the token it printed; killed with
//! SIGKILL and restarted over the same home, nothing is lost.
#![expect(
    clippy::disallowed_methods,
    reason = "a test client of the server under test; offline mode is not in play"
)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};

use serde_json::{json, Value};

use crate::chat::Killed;
use crate::{error_line, Cli};

const PASSWORD: &str = "correct horse battery";

/// `codexos server --bind 127.0.0.1:0`; the process and its base URL.
fn serve(cli: &Cli, home: &std::path::Path) -> (Child, String) {
    let home = home.to_str().expect("home");
    let mut child = cli
        .command(&["--json", "server", "--home", home, "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
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

async fn get(url: &str, token: &str) -> (u16, Value) {
    let (status, body) = call("GET", url, token, None).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_set_up_from_the_command_line_serves_its_accounts_and_survives_a_kill() {
    let cli = Cli::new();
    let (server_home, _) = team_home(&cli);
    let home = server_home.to_str().expect("home");
    // Refused: a short password, a name that is a path, a role that is not one.
    let short = cli.run_with_stdin(
        &["server", "--home", home, "account", "add", "bob"],
        "short\n",
    );
    assert!(
        error_line(&short).contains("at least 12 characters"),
        "{short:?}"
    );
    let bad_name = cli.run_with_stdin(
        &["server", "--home", home, "account", "add", "../x"],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        error_line(&bad_name).contains("cannot name an account"),
        "{bad_name:?}"
    );
    let role = cli.run(&[
        "server", "--home", home, "member", "set", "team", "olga", "root",
    ]);
    assert!(error_line(&role).contains("not a role"), "{role:?}");
    let members = cli.json(&["server", "--home", home, "member", "list", "team"]);
    assert_eq!(members[0]["role"], "owner", "{members}");
    let token = cli.json(&[
        "server", "--home", home, "token", "create", "olga", "--label", "ci", "--scope", "read,run",
    ]);
    let token = token["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("cxo_"));
    // The token is not in the database, only its hash.
    let database = std::fs::read(server_home.join("team.sqlite")).expect("database");
    let secret = token.rsplit('_').next().expect("secret");
    assert!(!database
        .windows(secret.len())
        .any(|window| window == secret.as_bytes()));

    let (child, url) = serve(&cli, &server_home);
    let mut server = Killed(child);
    let (status, me) = get(&format!("{url}/api/v1/me"), &token).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["memberships"][0]["workspace"], "team");
    let hello = json!({"version": 2, "name": "hello", "nodes": [{"id": "out", "kind": "output", "keys": []}], "edges": []});
    let (status, _) = call(
        "PUT",
        &format!("{url}/api/v1/workspaces/team/flows/hello"),
        &token,
        Some(hello),
    )
    .await;
    assert_eq!(status, 403, "a read,run token cannot edit");
    let (status, _) = get(&format!("{url}/api/v1/workspaces/team/flows"), "cxo_0_0").await;
    assert_eq!(status, 401);

    // SIGKILL, then the same home served again: accounts and tokens kept.
    server.0.kill().expect("kill");
    server.0.wait().expect("reap");
    let (child, url) = serve(&cli, &server_home);
    let _server = Killed(child);
    let (status, flows) = get(&format!("{url}/api/v1/workspaces/team/flows"), &token).await;
    assert_eq!(status, 200, "{flows}");
}

/// The bench's own checks passed: no run unfinished, no stream wrong, no
/// request failed.
fn assert_checked(bench: &serde_json::Value) {
    assert_eq!(
        (
            bench["unfinished"].as_u64(),
            bench["mismatched"].as_u64(),
            bench["failed"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{bench}"
    );
}

#[test]
fn bench_server_runs_and_checks_what_it_measures() {
    let cli = Cli::new();
    let bench = cli.json(&["bench", "server", "--clients", "3", "--seconds", "1"]);
    assert!(bench["runs"].as_u64() > Some(0), "{bench}");
    assert!(
        bench["events"].as_u64() >= bench["runs"].as_u64(),
        "{bench}"
    );
    assert_checked(&bench);
    assert!(
        bench["setup"]["commit"].is_string(),
        "the figures carry their setup: {bench}"
    );
}

#[test]
fn bench_server_survives_a_killed_server_process_and_checks_every_run() {
    let cli = Cli::new();
    let killed = || {
        cli.json(&[
            "bench",
            "server",
            "--clients",
            "8",
            "--seconds",
            "4",
            "--kill-after",
            "2",
        ])
    };
    // What the kill cuts under way: a stream to reconnect, a run to resume.
    let cut = |bench: &serde_json::Value| {
        ["reconnects", "resumed", "orphans"]
            .iter()
            .filter_map(|key| bench[*key].as_u64())
            .sum::<u64>()
    };
    let first = killed();
    assert_checked(&first);
    // The kill lands at a moment of chance: once in a while nothing is
    // under way then (seen once in CI); a second load must cut something.
    let bench = if cut(&first) > 0 { first } else { killed() };
    assert_eq!(bench["killedAfterS"], 2, "{bench}");
    assert!(bench["runs"].as_u64() > Some(0), "{bench}");
    // Positive control: the kill cut something under way.
    assert!(cut(&bench) > 0, "the kill cut nothing, twice: {bench}");
    assert_checked(&bench);
}

pub(crate) async fn call(
    method: &str,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, String) {
    let mut request = codexos_net::client()
        .build()
        .expect("client")
        .request(method.parse().expect("method"), url)
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// A server home with account `olga` owning workspace `team`, and an
/// admin token of hers.
fn team_home(cli: &Cli) -> (std::path::PathBuf, String) {
    let server_home = cli.home.path().join("team-server");
    let token = crate::postgres::set_up(cli, &server_home, None);
    (server_home, token)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_mid_run_comes_back_and_the_run_resumes_without_redoing_finished_nodes() {
    let cli = Cli::new();
    let (server_home, token) = team_home(&cli);
    let (child, url) = serve(&cli, &server_home);
    let mut server = Killed(child);
    let workspace = format!("{url}/api/v1/workspaces/team");
    let flow: Value = serde_json::from_str(crate::flows::SLOW).expect("flow");
    assert_eq!(
        call(
            "PUT",
            &format!("{workspace}/flows/slow"),
            &token,
            Some(flow)
        )
        .await
        .0,
        200
    );
    let (status, started) = call(
        "POST",
        &format!("{workspace}/flows/slow/runs"),
        &token,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    let run = serde_json::from_str::<Value>(&started).expect("json")["runId"]
        .as_str()
        .expect("id")
        .to_owned();
    // Kill -9 once `first` is checkpointed and `write` is generating (its
    // events are stored with its checkpoint, so the kill comes a moment
    // after `first`'s: `write` takes seconds).
    let began = std::time::Instant::now();
    loop {
        let (_, detail) = call("GET", &format!("{workspace}/runs/{run}"), &token, None).await;
        let detail: Value = serde_json::from_str(&detail).expect("json");
        if detail["finished"] == json!([[0, "first"]]) {
            break;
        }
        assert!(
            began.elapsed() < std::time::Duration::from_mins(2),
            "the run did not checkpoint `first`: {detail}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.0.kill().expect("kill");
    server.0.wait().expect("reap");

    // Back up: the run is there, interrupted, and resumes where it stopped.
    let (child, url) = serve(&cli, &server_home);
    let _server = Killed(child);
    let workspace = format!("{url}/api/v1/workspaces/team");
    let (_, stream) = call(
        "GET",
        &format!("{workspace}/runs/{run}/events"),
        &token,
        None,
    )
    .await;
    assert!(stream.contains("\"status\":\"interrupted\""), "{stream}");
    let (status, body) = call(
        "POST",
        &format!("{workspace}/runs/{run}/resume"),
        &token,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let before = stream.matches("event: run").count();
    let (_, rest) = call(
        "GET",
        &format!("{workspace}/runs/{run}/events?after={}", before - 1),
        &token,
        None,
    )
    .await;
    assert!(rest.contains("\"status\":\"succeeded\""), "{rest}");
    assert!(
        !rest.contains("\"node\":\"first\""),
        "the finished node is not run again: {rest}"
    );
    let (_, detail) = call("GET", &format!("{workspace}/runs/{run}"), &token, None).await;
    let detail: Value = serde_json::from_str(&detail).expect("json");
    assert_eq!(detail["summary"]["status"], "succeeded");
    assert_slow_output(&detail);
}

/// The slow flow's run ended with `a` 1 and `c` 2 (`last` ran after
/// `first`, once).
pub(crate) fn assert_slow_output(detail: &Value) {
    let output = detail["events"]
        .as_array()
        .and_then(|events| {
            events
                .iter()
                .find(|event| event["event"]["type"] == "runFinished")
        })
        .map(|event| event["event"]["output"].clone())
        .expect("finished");
    assert_eq!(
        (output["a"].clone(), output["c"].clone()),
        (json!(1), json!(2)),
        "{output}"
    );
}
