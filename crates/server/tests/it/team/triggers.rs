//! Triggers and outgoing webhooks over real HTTP: a signed request starts a
//! run (and nothing else does), a cron schedule fires, and run events reach
//! a real receiver on 127.0.0.1 — signed, retried, logged.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use codexos_server::team::roles::Role;
use codexos_server::team::triggers::{signature, MAX_ATTEMPTS};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{roomy, start, start_with, Extras, Server};

/// The signature header of `body` signed now with `secret`.
fn signed(secret: &str, body: &str) -> Vec<(&'static str, String)> {
    vec![(
        "x-codexos-signature",
        signature(secret, unix_seconds(), body.as_bytes()),
    )]
}

/// A flow that needs no model and answers its input.
fn echo() -> Value {
    json!({"version": 2, "name": "echo", "state": {"event": "object", "note": "string"},
           "nodes": [{"id": "in", "kind": "input", "fields": ["event"]},
                     {"id": "out", "kind": "output", "keys": ["event", "note"]}],
           "edges": [{"from": "in", "to": "out"}]})
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

impl Server {
    /// POSTs `body` to a webhook trigger with `headers`.
    async fn hook(&self, id: &str, body: &str, headers: &[(&str, String)]) -> (StatusCode, String) {
        let mut request = self
            .client
            .post(format!("{}/api/v1/hooks/{id}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        (status, response.text().await.expect("body"))
    }

    async fn json(&self, who: &str, path: &str) -> Value {
        let (status, body) = self.call(who, "GET", path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        serde_json::from_str(&body).expect("json")
    }

    async fn runs_of(&self, flow: &str) -> usize {
        self.json("olga", &format!("/api/v1/workspaces/team/runs?flow={flow}"))
            .await
            .as_array()
            .expect("runs")
            .len()
    }

    async fn create(&self, who: &str, tail: &str, body: Value) -> Value {
        let (status, made) = self
            .call(
                who,
                "POST",
                &format!("/api/v1/workspaces/team{tail}"),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        serde_json::from_str(&made).expect("json")
    }
}

/// What a receiver got: the requests' headers and bodies.
type Received = Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>;

/// A webhook receiver on 127.0.0.1 that answers 500 to its first `fail`
/// requests, then 200.
async fn receiver(fail: usize) -> (String, Received) {
    let received: Received = Arc::default();
    let kept = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let kept = Arc::clone(&kept);
            async move {
                let mut kept = kept.lock().expect("lock");
                kept.push((headers, body));
                if kept.len() <= fail {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (format!("http://{address}/hook"), received)
}

/// Polls `check` for up to 15 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen in 15 s");
}

impl Server {
    /// A webhook trigger of `echo` made by `cora`: its id and secret.
    async fn webhook_trigger(&self) -> (String, String) {
        let trigger = self
            .create(
                "cora",
                "/triggers",
                json!({"kind": "webhook", "flow": "echo", "input": {"note": "from-hook"}}),
            )
            .await;
        let id = trigger["id"].as_str().expect("id").to_owned();
        assert_eq!(trigger["path"], format!("/api/v1/hooks/{id}"));
        (id, trigger["secret"].as_str().expect("secret").to_owned())
    }

    /// Saves the `echo` flow in `team`.
    async fn with_echo(self) -> Self {
        let (status, _) = self
            .call(
                "olga",
                "PUT",
                "/api/v1/workspaces/team/flows/echo",
                Some(echo()),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        self
    }

    /// An outgoing webhook of `team` for runs of `echo`: its id and secret.
    async fn subscribe(&self, url: &str, events: &[&str]) -> (String, String) {
        let hook = self
            .create(
                "adam",
                "/webhooks",
                json!({"url": url, "events": events, "flow": "echo"}),
            )
            .await;
        (
            hook["id"].as_str().expect("id").to_owned(),
            hook["secret"].as_str().expect("secret").to_owned(),
        )
    }

    /// Waits until a hook's log holds `count` deliveries, all `state`.
    async fn deliveries(&self, hook: &str, count: usize, state: &str) -> Vec<Value> {
        let path = format!("/api/v1/workspaces/team/webhooks/{hook}/deliveries");
        eventually(&format!("{count} deliveries {state}"), || async {
            let log = self.json("adam", &path).await;
            log.as_array().is_some_and(|all| {
                all.len() == count && all.iter().all(|delivery| delivery["state"] == state)
            })
        })
        .await;
        self.json("adam", &path)
            .await
            .as_array()
            .expect("log")
            .clone()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_trigger_starts_a_run_only_when_signed_fresh_and_once() {
    let server = start(roomy()).await.with_echo().await;
    let (url, received) = receiver(0).await;
    let (hook, _) = server.subscribe(&url, &["run.succeeded"]).await;
    let (id, secret) = server.webhook_trigger().await;
    let listed = server
        .json("cora", "/api/v1/workspaces/team/triggers")
        .await;
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown once"
    );

    // Refused: unsigned, wrong secret, stale, tampered — and no run starts.
    let body = r#"{"ref":"main"}"#;
    let now = unix_seconds();
    let refusals = [
        (body, vec![]),
        (
            body,
            vec![(
                "x-codexos-signature",
                signature("whsec_wrong", now, body.as_bytes()),
            )],
        ),
        (
            body,
            vec![(
                "x-codexos-signature",
                signature(&secret, now - 600, body.as_bytes()),
            )],
        ),
        (
            r#"{"ref":"evil"}"#,
            vec![(
                "x-codexos-signature",
                signature(&secret, now, body.as_bytes()),
            )],
        ),
    ];
    for (sent, headers) in &refusals {
        let (status, answer) = server.hook(&id, sent, headers).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{sent} {headers:?}: {answer}"
        );
    }
    assert_eq!(server.runs_of("echo").await, 0);

    // Positive control: signed and fresh starts a run with the body as `event`.
    let signed = vec![(
        "x-codexos-signature",
        signature(&secret, now, body.as_bytes()),
    )];
    let (status, answer) = server.hook(&id, body, &signed).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let run = serde_json::from_str::<Value>(&answer).expect("json")["runId"]
        .as_str()
        .expect("run")
        .to_owned();
    // A replay of the same request is not run again.
    let (status, answer) = server.hook(&id, body, &signed).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    // GitHub's signature header works too.
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(secret.as_bytes()).expect("key");
    hmac::Mac::update(&mut mac, b"{\"ref\":\"dev\"}");
    let github = format!(
        "sha256={}",
        hex::encode(hmac::Mac::finalize(mac).into_bytes())
    );
    let (status, answer) = server
        .hook(&id, "{\"ref\":\"dev\"}", &[("x-hub-signature-256", github)])
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(server.runs_of("echo").await, 2);
    // The run had the request as `event` beside the trigger's input.
    server.deliveries(&hook, 2, "delivered").await;
    let finished: Value = received
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, sent)| serde_json::from_str::<Value>(sent).expect("json"))
        .find(|event| event["runId"] == run.as_str())
        .expect("the run's end was delivered");
    assert_eq!(finished["output"]["event"]["ref"], "main", "{finished}");
    assert_eq!(finished["output"]["note"], "from-hook", "{finished}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_trigger_stops_when_its_maker_may_no_longer_run_or_it_is_removed() {
    let server = start(roomy()).await.with_echo().await;
    let (id, secret) = server.webhook_trigger().await;
    // Positive control: it runs while the maker may.
    let (status, answer) = server.hook(&id, "[]", &signed(&secret, "[]")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    // A disabled maker's trigger starts nothing.
    server
        .team
        .store()
        .team_set_disabled("cora", true)
        .expect("disable");
    let (status, answer) = server.hook(&id, "[1]", &signed(&secret, "[1]")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert!(answer.contains("disabled"), "{answer}");
    server
        .team
        .store()
        .team_set_disabled("cora", false)
        .expect("enable");
    // The maker's role is checked when it fires: narrowed to viewer, refused.
    server
        .team
        .set_role("team", Some("echo"), "cora", Role::Viewer)
        .expect("grant");
    let (status, answer) = server.hook(&id, "{}", &signed(&secret, "{}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let listed = server
        .json("cora", "/api/v1/workspaces/team/triggers")
        .await;
    assert!(
        listed[0]["lastError"]
            .as_str()
            .is_some_and(|error| error.contains("viewer")),
        "{listed}"
    );
    // Removed, its URL is gone.
    let (status, _) = server
        .call(
            "olga",
            "DELETE",
            &format!("/api/v1/workspaces/team/triggers/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server.hook(&id, "{ }", &signed(&secret, "{ }")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(server.runs_of("echo").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn run_events_go_out_signed_retried_with_backoff_and_logged() {
    let server = start(roomy()).await.with_echo().await;
    // A receiver that fails twice before it answers, and one never there.
    let (url, received) = receiver(2).await;
    let (hook, secret) = server
        .subscribe(&url, &["run.started", "run.succeeded"])
        .await;
    let (dead, _) = server
        .subscribe("http://127.0.0.1:9/", &["run.succeeded"])
        .await;
    for note in ["one", "two"] {
        let (status, body) = server
            .call(
                "eve",
                "POST",
                "/api/v1/workspaces/team/flows/echo/runs",
                Some(json!({"input": {"event": {}, "note": note}})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let log = server.deliveries(&hook, 4, "delivered").await;
    let attempts: u64 = log
        .iter()
        .map(|delivery| delivery["attempts"].as_u64().expect("attempts"))
        .sum();
    let got = received.lock().expect("lock").clone();
    assert_eq!((attempts, got.len()), (6, 6), "{log:?}");
    for (headers, sent) in &got {
        let header = headers["x-codexos-signature"].to_str().expect("signature");
        let seconds: u64 = header
            .trim_start_matches("t=")
            .split(',')
            .next()
            .and_then(|seconds| seconds.parse().ok())
            .expect("time");
        assert_eq!(header, signature(&secret, seconds, sent.as_bytes()));
    }
    let mut notes: Vec<String> = got
        .iter()
        .map(|(_, sent)| serde_json::from_str::<Value>(sent).expect("json"))
        .filter(|event| event["event"] == "run.succeeded")
        .map(|event| event["output"]["note"].as_str().expect("note").to_owned())
        .collect();
    notes.sort();
    notes.dedup();
    assert_eq!(notes, ["one", "two"]);
    // The dead receiver's deliveries are given up after the last attempt.
    let log = server.deliveries(&dead, 2, "failed").await;
    assert_eq!(log[0]["attempts"], MAX_ATTEMPTS, "{log:?}");
    assert!(log[0]["error"].is_string(), "{log:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cron_trigger_fires_on_schedule_until_removed() {
    let server = start(roomy()).await;
    for (body, why) in [
        (json!({"kind": "cron", "flow": "gate"}), "schedule"),
        (
            json!({"kind": "cron", "flow": "gate", "schedule": "every day"}),
            "cron schedule",
        ),
        (json!({"kind": "webhook", "flow": "nope"}), "nope"),
        (json!({"kind": "email", "flow": "gate"}), "trigger kind"),
    ] {
        let (status, answer) = server
            .call(
                "olga",
                "POST",
                "/api/v1/workspaces/team/triggers",
                Some(body),
            )
            .await;
        assert!(
            status.is_client_error() && answer.contains(why),
            "{status} {answer}"
        );
    }
    let before = server.runs_of("gate").await;
    // Every second (six fields: seconds first).
    let trigger = server
        .create(
            "cora",
            "/triggers",
            json!({"kind": "cron", "flow": "gate", "schedule": "* * * * * *"}),
        )
        .await;
    assert!(trigger.get("secret").is_none(), "{trigger}");
    eventually("two scheduled runs", || async {
        server.runs_of("gate").await >= before + 2
    })
    .await;
    let listed = server
        .json("cora", "/api/v1/workspaces/team/triggers")
        .await;
    assert!(listed[0]["lastRun"].is_string(), "{listed}");
    let (status, _) = server
        .call(
            "cora",
            "DELETE",
            &format!(
                "/api/v1/workspaces/team/triggers/{}",
                trigger["id"].as_str().expect("id")
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Nothing fires once it is removed (a firing under way may land).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = server.runs_of("gate").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(server.runs_of("gate").await, after);
}

#[tokio::test(flavor = "multi_thread")]
async fn by_default_webhooks_go_to_public_addresses_and_schedules_run_at_most_once_a_minute() {
    let server = start_with(
        roomy(),
        Extras {
            server_defaults: true,
            ..Extras::default()
        },
    )
    .await;
    let webhooks = "/api/v1/workspaces/team/webhooks";
    for url in [
        "http://127.0.0.1:9/",
        "http://localhost:8080/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/",
        "http://[::1]:9/",
        "http://[::ffff:192.168.1.1]/",
    ] {
        let (status, answer) = server
            .call("adam", "POST", webhooks, Some(json!({ "url": url })))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {answer}");
        assert!(answer.contains("not a public address"), "{url}: {answer}");
    }
    // Positive control: a public address is taken (nothing is sent yet).
    let (status, answer) = server
        .call(
            "adam",
            "POST",
            webhooks,
            Some(json!({ "url": "https://93.184.215.14/hook" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    // A schedule every second is refused; every minute is taken.
    let triggers = "/api/v1/workspaces/team/triggers";
    let (status, answer) = server
        .call(
            "cora",
            "POST",
            triggers,
            Some(json!({"kind": "cron", "flow": "gate", "schedule": "* * * * * *"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer.contains("at most once every 60 s"), "{answer}");
    let (status, answer) = server
        .call(
            "cora",
            "POST",
            triggers,
            Some(json!({"kind": "cron", "flow": "gate", "schedule": "* * * * *"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}
