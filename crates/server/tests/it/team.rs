//! The team server over real HTTP on 127.0.0.1: every endpoint × every role
//! as the table says, credentials, escalation, hostile input, limits, and a
//! run followed live.

mod bundles;
mod canvas;
mod evals;
mod llm;
mod oidc;
mod projects;
mod reruns;
mod triggers;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use codexos_server::team::roles::{Access, Role, Scope, ENDPOINTS};
use codexos_server::team::{Limits, Team, TeamOptions};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "correct horse battery";
/// An agent spec: `name` at `version`, reading files.
fn helper(name: &str, version: &str) -> Value {
    json!({"name": name, "version": version, "system": "You help.", "tools": ["fs.read"], "maxSteps": 2})
}

/// A flow whose one agent node pins helper at `version`.
fn pinned(version: &str) -> Value {
    json!({"version": 2, "name": "pinned", "state": {"task": "string", "out": "string"},
           "nodes": [{"id": "a", "kind": "agent", "agent": format!("helper@{version}"), "task": "{{ task }}", "output": "out"},
                     {"id": "done", "kind": "output", "keys": ["out"]}],
           "edges": [{"from": "a", "to": "done"}]})
}

/// The text of `notes`' README, uploaded over the API.
const NOTE: &str = "# Notes\n\nThe harbour crane lifts forty tonnes.\n";

/// A zip archive of `(path, text)` files, as the app uploads them.
fn zip_of(files: &[(String, String)]) -> Vec<u8> {
    use std::io::Write as _;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, text) in files {
        writer
            .start_file(path.as_str(), zip::write::SimpleFileOptions::default())
            .expect("entry");
        writer.write_all(text.as_bytes()).expect("write");
    }
    writer.finish().expect("zip").into_inner()
}

/// A value kept in the vault that no response may ever contain.
const SENTINEL: &str = "sentinel-4f1c9e-never-sent";

/// A flow that needs no model: it waits for a person, then sets `n`.
fn gate(name: &str) -> Value {
    json!({"version": 2, "name": name, "state": {"ok": "object", "n": "number"},
           "nodes": [{"id": "ask", "kind": "human", "prompt": "Ship it?", "output": "ok"},
                     {"id": "after", "kind": "transform", "set": {"n": "7"}},
                     {"id": "out", "kind": "output", "keys": ["n"]}],
           "edges": [{"from": "ask", "to": "after"}, {"from": "after", "to": "out"}]})
}

/// A flow that answers `Paris` to every question.
fn paris(name: &str) -> Value {
    json!({"version": 2, "name": name, "state": {"question": "string", "answer": "string"},
           "nodes": [{"id": "ask", "kind": "input", "fields": ["question"]},
                     {"id": "say", "kind": "transform", "set": {"answer": "'Paris'"}},
                     {"id": "out", "kind": "output", "keys": ["answer"]}],
           "edges": [{"from": "ask", "to": "say"}, {"from": "say", "to": "out"}]})
}

/// A remote provider entry named `name` (nothing listens at its address).
fn stand_in(name: &str) -> Value {
    json!({"name": name, "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m", "key": "stand-in-key"})
}

/// Two cases for [`paris`]: one passes, one fails.
const CAPITALS: &str = r#"{"id": "france", "input": {"question": "Capital of France?"}, "expected": "Paris", "scorers": [{"type": "contains"}]}
{"id": "spain", "input": {"question": "Capital of Spain?"}, "expected": "Madrid", "scorers": [{"type": "contains"}]}
"#;

/// An unsigned bundle of a [`paris`] flow named `bundled`, made once in a
/// data home of this machine.
fn unsigned_bundle() -> Vec<u8> {
    static MADE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    MADE.get_or_init(|| {
        let here = tempfile::tempdir().expect("home");
        let runtime = codexos_runtime::Runtime::open(codexos_runtime::Home::new(
            here.path().join("home"),
            Some(codexos_test_support::models_dir()),
        ))
        .expect("runtime");
        let flow = codexos_runtime::parse_flow(&paris("bundled").to_string()).expect("flow");
        runtime.save_flow(&flow).expect("saved");
        let contents = codexos_runtime::BundleContents {
            flows: vec!["bundled".to_owned()],
            agents: Vec::new(),
            templates: Vec::new(),
        };
        runtime
            .export_bundle("bundled", &contents, false)
            .expect("bundle")
    })
    .clone()
}

/// A session of `who` (one of the people of `team`), as the app signs in.
async fn signed_in(server: &Server, who: &str) -> codexos_server::team::client::TeamClient {
    codexos_server::team::client::TeamClient::sign_in(&server.base, who, PASSWORD)
        .await
        .unwrap_or_else(|error| panic!("{who} signs in: {error}"))
        .0
}

/// Who is who in workspace `team` (`otto` owns `other` and is no member).
const PEOPLE: [(&str, Option<Role>); 6] = [
    ("olga", Some(Role::Owner)),
    ("adam", Some(Role::Admin)),
    ("cora", Some(Role::Creator)),
    ("eve", Some(Role::Executor)),
    ("vic", Some(Role::Viewer)),
    ("otto", None),
];

struct Server {
    base: String,
    team: Arc<Team>,
    stop: CancellationToken,
    tokens: HashMap<String, String>,
    client: reqwest::Client,
    /// A run of `gate` waiting at `ask`.
    paused: String,
    _home: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn roomy() -> Limits {
    Limits {
        per_credential: 100_000,
        per_address: 100_000,
        max_body: 64 * 1024,
        max_upload: 1024 * 1024,
    }
}

async fn start(limits: Limits) -> Server {
    start_with(limits, Extras::default()).await
}

/// A TLS acceptor for a fresh self-signed `localhost` certificate, and a
/// client that trusts only it.
fn tls_pair(home: &std::path::Path) -> (codexos_server::team::tls::TlsAcceptor, reqwest::Client) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let (certificate, key) = (home.join("server.crt"), home.join("server.key"));
    std::fs::write(&certificate, made.cert.pem()).expect("write cert");
    std::fs::write(&key, made.key_pair.serialize_pem()).expect("write key");
    let acceptor = codexos_server::team::tls::acceptor(&codexos_server::team::tls::TlsFiles {
        certificate,
        key,
    })
    .expect("acceptor");
    let client = codexos_net::client()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(made.cert.pem().as_bytes()).expect("pem"),
        )
        .build()
        .expect("client");
    (acceptor, client)
}

/// Serves `team` on loopback `port` (0: a free one) until `stop`: its
/// address.
async fn serve(
    team: Arc<Team>,
    tls: Option<codexos_server::team::tls::TlsAcceptor>,
    port: u16,
    stop: CancellationToken,
) -> std::net::SocketAddr {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        codexos_server::team::serve_team(
            team,
            ([127, 0, 0, 1], port).into(),
            tls,
            stop,
            |address| {
                sender.send(address).expect("report address");
            },
        )
        .await
        .expect("serves");
    });
    receiver.await.expect("bound")
}

/// What a test server has beyond the defaults.
#[derive(Default)]
struct Extras<'a> {
    /// Serve TLS with a certificate made in this folder.
    tls: Option<&'a std::path::Path>,
    /// Sign in through this OIDC provider too.
    oidc: Option<codexos_server::team::oidc::OidcConfig>,
    /// Serve on this port (0: a free one).
    port: u16,
    /// The defaults of `codexos server`: webhooks to public addresses only,
    /// schedules at most once a minute.
    server_defaults: bool,
}

/// A test server's options: SQLite in `home`, or — with
/// `CODEXOS_TEST_STORE=postgres` (`make test` runs this suite both ways) —
/// a fresh database of the test PostgreSQL server.
fn options(home: &std::path::Path, limits: Limits) -> TeamOptions {
    let database = (std::env::var("CODEXOS_TEST_STORE").as_deref() == Ok("postgres"))
        .then(|| codexos_test_support::postgres::server().fresh_database());
    TeamOptions {
        database,
        claim_lease: Duration::from_secs(15),
        home: home.to_path_buf(),
        models: Some(codexos_test_support::models_dir()),
        limits,
        secure_cookies: false,
        webhook_retry: Duration::from_millis(50),
        oidc: None,
        private_webhooks: true,
        cron_floor: Duration::from_secs(1),
    }
}

/// Positive control: with `CODEXOS_TEST_STORE=postgres` the team really is on
/// PostgreSQL.
fn on_the_asked_database(team: Arc<Team>) -> Arc<Team> {
    if std::env::var("CODEXOS_TEST_STORE").as_deref() == Ok("postgres") {
        let location = team.store().path().to_string_lossy().into_owned();
        assert!(location.starts_with("postgres://"), "{location}");
    }
    team
}

async fn start_with(limits: Limits, extras: Extras<'_>) -> Server {
    let home = tempfile::tempdir().expect("home");
    let (acceptor, client) = match extras.tls {
        Some(folder) => {
            let (acceptor, client) = tls_pair(folder);
            (Some(acceptor), client)
        }
        None => (None, codexos_net::client().build().expect("client")),
    };
    let options = TeamOptions {
        secure_cookies: acceptor.is_some(),
        oidc: extras.oidc,
        private_webhooks: !extras.server_defaults,
        // The cron test fires every second.
        cron_floor: if extras.server_defaults {
            Duration::from_mins(1)
        } else {
            Duration::from_secs(1)
        },
        ..options(home.path(), limits)
    };
    let team = on_the_asked_database(Team::open(options).expect("team"));
    let mut tokens = HashMap::new();
    for (name, _) in PEOPLE.iter().chain(&[("zed", None)]) {
        team.add_account(name, Some(PASSWORD)).expect("account");
        let minted = team
            .create_token(name, "tests", &[Scope::Admin], 30)
            .expect("token");
        tokens.insert((*name).to_owned(), minted.token);
    }
    // Short answers: the matrix asks the local model a few times.
    let team_home = home.path().join("workspaces/team");
    std::fs::create_dir_all(&team_home).expect("workspace home");
    std::fs::write(team_home.join("config.toml"), "[llm]\nmax_tokens = 8\n").expect("config");
    team.add_workspace("team", "olga").expect("workspace");
    let corpus = codexos_test_support::corpus();
    team.runtime("team")
        .expect("runtime")
        .ingest(
            corpus.path(),
            Some("docs"),
            &|_| {},
            &CancellationToken::new(),
        )
        .await
        .expect("ingest");
    team.add_workspace("other", "otto").expect("other");
    for (name, role) in PEOPLE {
        if let Some(role) = role.filter(|role| *role != Role::Owner) {
            team.set_role("team", None, name, role).expect("role");
        }
        // Everyone of `team` may edit in `other`: where forks go.
        if role.is_some() {
            team.set_role("other", None, name, Role::Creator)
                .expect("creator in other");
        }
    }
    let stop = CancellationToken::new();
    let address = serve(
        Arc::clone(&team),
        acceptor.clone(),
        extras.port,
        stop.clone(),
    )
    .await;
    let base = if acceptor.is_some() {
        format!("https://localhost:{}", address.port())
    } else {
        format!("http://{address}")
    };
    let mut server = Server {
        base,
        team,
        stop,
        tokens,
        client,
        paused: String::new(),
        _home: home,
    };
    let (status, _) = server
        .call(
            "olga",
            "PUT",
            "/api/v1/workspaces/team/flows/gate",
            Some(gate("gate")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    server.paused = server.start_gate("olga").await;
    // A fork of `gate` in `team` itself, for the lineage endpoints.
    let (status, body) = server
        .call(
            "olga",
            "POST",
            "/api/v1/workspaces/team/flows/gate/fork",
            Some(json!({"workspace": "team", "name": "gate-copy"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    server
}

/// A JSON-RPC request to the MCP endpoint.
fn mcp_call(method: &str, params: &Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
}

/// A name no earlier call used.
fn fresh(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{prefix}-{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

impl Server {
    async fn call(
        &self,
        who: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, String) {
        let mut request = self.client.request(
            method.parse().expect("method"),
            format!("{}{path}", self.base),
        );
        if let Some(token) = self.tokens.get(who) {
            request = request.bearer_auth(token);
        } else if !who.is_empty() {
            request = request.bearer_auth(who);
        }
        match body {
            // A zip of the files named, as an upload sends them.
            Some(body) if body.get("$zip").is_some() => {
                let files: Vec<(String, String)> = body["$zip"]
                    .as_object()
                    .expect("files")
                    .iter()
                    .map(|(path, text)| (path.clone(), text.as_str().expect("text").to_owned()))
                    .collect();
                request = request
                    .header("content-type", "application/zip")
                    .body(zip_of(&files));
            }
            // An unsigned bundle of flow `bundled`, as a file holds it.
            Some(body) if body.get("$bundle").is_some() => {
                request = request
                    .header("content-type", "application/octet-stream")
                    .body(unsigned_bundle());
            }
            Some(body) => request = request.json(&body),
            None => {}
        }
        if path.ends_with("/mcp") {
            request = request.header("accept", "application/json, text/event-stream");
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        (status, response.text().await.expect("body"))
    }

    /// The status a call answers.
    async fn status(&self, who: &str, method: &str, path: &str, body: Option<Value>) -> StatusCode {
        self.call(who, method, path, body).await.0
    }

    async fn start_gate(&self, who: &str) -> String {
        let (status, body) = self
            .call(
                who,
                "POST",
                "/api/v1/workspaces/team/flows/gate/runs",
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let started: Value = serde_json::from_str(&body).expect("json");
        let id = started["runId"].as_str().expect("run id").to_owned();
        // Wait until it waits for a person.
        self.until(who, &id, "paused").await;
        id
    }

    /// Waits (up to 5 s) until run `id` of `team` stands at `status`, as
    /// `who` reads it.
    async fn until(&self, who: &str, id: &str, status: &str) {
        for _ in 0..100 {
            let (_, detail) = self
                .call(
                    who,
                    "GET",
                    &format!("/api/v1/workspaces/team/runs/{id}"),
                    None,
                )
                .await;
            if serde_json::from_str::<Value>(&detail).expect("json")["summary"]["status"] == status
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("run {id} is not {status}");
    }

    /// `notes` of `team`: a project uploaded and ingested over the API.
    async fn notes(&self) {
        let upload = "/api/v1/workspaces/team/projects/notes/sources";
        let files = json!({"$zip": {"README.md": NOTE, "guide/setup.md": "# Setup\n\nRun it."}});
        let (status, body) = self.call("olga", "POST", upload, Some(files)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let ingest = "/api/v1/workspaces/team/projects/notes/ingest";
        let (status, body) = self.call("olga", "POST", ingest, None).await;
        assert!(
            status.is_success() && body.contains("event: done"),
            "{body}"
        );
    }

    /// `pinned` of `team` on helper 1.0.0 (again), 1.0.1 published to move to.
    async fn pinned_on_old(&self) {
        for version in ["1.0.0", "1.0.1"] {
            let agent = Some(helper("helper", version));
            self.call("olga", "POST", "/api/v1/workspaces/team/agents", agent)
                .await;
        }
        let flow = Some(pinned("1.0.0"));
        let (status, body) = self
            .call("olga", "PUT", "/api/v1/workspaces/team/flows/pinned", flow)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Dataset `name` of `team` made by the owner from [`CAPITALS`] (already
    /// there is fine), and flow `paris` to evaluate over it.
    async fn capitals(&self, name: &str) {
        let made = Some(json!({"name": name, "format": "jsonl", "text": CAPITALS}));
        self.call("olga", "POST", "/api/v1/workspaces/team/datasets", made)
            .await;
        let flow = Some(paris("paris"));
        self.call("olga", "PUT", "/api/v1/workspaces/team/flows/paris", flow)
            .await;
    }

    /// The dataset, eval and provider a call of a datasets, evals or model
    /// settings endpoint acts on (put in place by the owner).
    async fn named_fixtures(&self, method: &str, tail: &str) -> (String, String, String) {
        let mut dataset = "capitals".to_owned();
        let mut eval = String::new();
        let mut provider = "local".to_owned();
        match (method, tail) {
            ("DELETE", "/llm/providers/{provider}") => {
                provider = fresh("doomed");
                let made = Some(json!({"provider": stand_in(&provider)}));
                let path = "/api/v1/workspaces/team/llm/providers";
                assert_eq!(
                    self.status("olga", "POST", path, made).await,
                    StatusCode::CREATED
                );
            }
            ("GET", "/datasets/{dataset}") | ("POST", "/flows/{flow}/evals") => {
                self.capitals("capitals").await;
            }
            // A dataset made by its first case (a run is a case once).
            ("POST", "/datasets/{dataset}/runs") => dataset = fresh("grown"),
            ("DELETE", "/datasets/{dataset}") => {
                dataset = fresh("doomed");
                self.capitals(&dataset).await;
            }
            ("GET" | "DELETE", "/evals/{eval}") | ("GET", "/evals/{eval}/baseline") => {
                eval = self.evaluated().await;
            }
            _ => {}
        }
        (dataset, eval, provider)
    }

    /// `scratch` of `team`: a project of one uploaded file, to remove.
    async fn scratch(&self) -> &'static str {
        let upload = "/api/v1/workspaces/team/projects/scratch/sources";
        let files = Some(json!({"$zip": {"a.md": "# A"}}));
        assert_eq!(
            self.status("olga", "POST", upload, files).await,
            StatusCode::CREATED
        );
        "scratch"
    }

    /// A stored eval of `paris` over `capitals`, made by the owner: its id.
    async fn evaluated(&self) -> String {
        self.capitals("capitals").await;
        let path = "/api/v1/workspaces/team/flows/paris/evals";
        let body = Some(json!({"dataset": "capitals"}));
        let (status, events) = self.call("olga", "POST", path, body).await;
        assert_eq!(status, StatusCode::OK, "{events}");
        let done = events
            .split("event: done\ndata: ")
            .nth(1)
            .and_then(|rest| rest.lines().next())
            .unwrap_or_else(|| panic!("no report: {events}"));
        serde_json::from_str::<Value>(done).expect("report")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// The body of one call of `endpoint` (at `tail` of the workspace).
    async fn body_of(&self, method: &str, tail: &str) -> Option<Value> {
        match (method, tail) {
            ("PUT", "/flows/{flow}") | ("POST", "/check") => Some(gate("gate")),
            ("POST", "/flows/{flow}/runs" | "/runs/{run}/rerun") => Some(json!({})),
            ("POST", "/runs/{run}/resume") => Some(json!({"answer": {"approved": true}})),
            ("POST", "/runs/{run}/fork") => Some(json!({"node": "ask", "edits": {}})),
            ("POST", "/search") => Some(json!({"query": "anything"})),
            ("POST", "/datasets") => {
                Some(json!({"name": fresh("set"), "format": "jsonl", "text": CAPITALS}))
            }
            ("POST", "/datasets/{dataset}/runs") => {
                Some(json!({"run": self.paused, "expected": "Paris"}))
            }
            ("POST", "/flows/{flow}/evals") => Some(json!({"dataset": "capitals"})),
            ("PUT", "/llm/policy") => Some(json!({"order": ["local"]})),
            ("POST", "/agents/{agent}/turns") => Some(json!({"task": "Say hi."})),
            ("POST", "/bundles" | "/bundles/check") => Some(json!({"$bundle": true})),
            ("POST", "/llm/providers") => Some(json!({"provider": stand_in(&fresh("remote"))})),
            ("POST", "/triggers") => Some(json!({"kind": "webhook", "flow": "gate"})),
            ("POST", "/webhooks") => Some(json!({
                "url": "http://127.0.0.1:9/",
                "events": ["run.cancelled"]
            })),
            ("POST", "/mcp") => Some(mcp_call("tools/list", &json!({}))),
            ("POST", "/ask") => Some(json!({"question": "what is this?"})),
            ("POST", "/chat") => {
                Some(json!({"messages": [{"role": "user", "content": "Say hi."}]}))
            }
            ("POST", "/agents") => Some(helper(&fresh("agent"), "1.0.0")),
            ("POST", "/flows/{flow}/repin") => Some(json!({"agent": "helper", "version": "1.0.1"})),
            ("POST", "/projects/{project}/sources") => Some(json!({"$zip": {"README.md": NOTE}})),
            ("POST", "/projects/{project}/sources/remove") => {
                Some(json!({"paths": ["gone.md", "guide/gone.md"]}))
            }
            ("PUT", "/vault/{secret}") => Some(json!({"value": SENTINEL})),
            ("PUT", "/members/{account}") => Some(json!({"role": "viewer"})),
            ("POST", "/flows/{flow}/fork") => {
                Some(json!({"workspace": "other", "name": fresh("fork")}))
            }
            ("POST", "/flows/{flow}/origin") => Some(json!({"version": self.newest("gate").await})),
            ("POST", "/shares") => Some(json!({"kind": "view", "run": self.paused})),
            ("POST", "/openai/v1/chat/completions") => Some(json!({
                "model": "codexos",
                "messages": [{"role": "user", "content": "Say hi."}],
                "max_tokens": 4
            })),
            _ => None,
        }
    }

    /// A run of `gate` whose step the owner answered, once it has ended.
    async fn answered_gate(&self) -> String {
        let id = self.start_gate("olga").await;
        let resume = format!("/api/v1/workspaces/team/runs/{id}/resume");
        let answer = Some(json!({"answer": {"approved": true}}));
        let (status, body) = self.call("olga", "POST", &resume, answer).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        self.until("olga", &id, "succeeded").await;
        id
    }

    /// The concrete path and body for one call of `endpoint`, after putting
    /// in place (as the owner) what it acts on.
    async fn prepare(&self, method: &str, path: &str) -> (String, Option<Value>) {
        let tail = path.trim_start_matches("/api/v1/workspaces/{workspace}");
        let mut run = self.paused.clone();
        let mut flow = "gate";
        let mut share = String::new();
        let mut made = String::new();
        let mut project = "notes";
        let mut query = "";
        let (dataset, eval, provider) = self.named_fixtures(method, tail).await;
        match (method, tail) {
            ("POST", "/flows/{flow}/evals") => flow = "paris",
            ("POST", "/agents/{agent}/turns") => self.pinned_on_old().await,
            ("POST", "/bundles") => query = "?allowUnsigned=true",
            ("DELETE", "/projects/{project}") => project = self.scratch().await,
            ("GET", "/analytics/runs") => query = "?by=flow&value=gate",
            ("POST", "/flows/{flow}/repin") => {
                flow = "pinned";
                self.pinned_on_old().await;
            }
            ("GET", "/projects/{project}/files" | "/projects/{project}/preview")
            | ("POST", "/projects/{project}/ingest") => {
                self.notes().await;
                if tail.ends_with("/preview") {
                    query = "?path=guide%2Fsetup.md";
                }
            }
            ("DELETE", "/triggers/{trigger}") => {
                made = self
                    .made("/triggers", json!({"kind": "webhook", "flow": "gate"}))
                    .await;
            }
            ("DELETE", "/webhooks/{hook}") | ("GET", "/webhooks/{hook}/deliveries") => {
                made = self
                    .made(
                        "/webhooks",
                        json!({"url": "http://127.0.0.1:9/", "events": ["run.cancelled"]}),
                    )
                    .await;
            }
            ("DELETE", "/flows/{flow}") => {
                flow = "scratch";
                self.call(
                    "olga",
                    "PUT",
                    "/api/v1/workspaces/team/flows/scratch",
                    Some(gate("scratch")),
                )
                .await;
            }
            ("POST", "/runs/{run}/resume") => run = self.start_gate("olga").await,
            // A fork starts from a node that ran: `ask`, once answered.
            ("POST", "/runs/{run}/fork") => run = self.answered_gate().await,
            ("GET" | "POST", "/flows/{flow}/origin") => flow = "gate-copy",
            ("DELETE", "/shares/{share}") => {
                let made = self
                    .share("olga", json!({"kind": "view", "run": self.paused}))
                    .await;
                made["share"]["id"]
                    .as_str()
                    .expect("id")
                    .clone_into(&mut share);
            }
            ("DELETE", "/vault/{secret}") => {
                self.call(
                    "olga",
                    "PUT",
                    "/api/v1/workspaces/team/vault/probe",
                    Some(json!({"value": SENTINEL})),
                )
                .await;
            }
            ("DELETE", "/members/{account}") => {
                self.call(
                    "olga",
                    "PUT",
                    "/api/v1/workspaces/team/members/zed",
                    Some(json!({"role": "viewer"})),
                )
                .await;
            }
            _ => {}
        }
        let body = self.body_of(method, tail).await;
        let path = path
            .replace("{workspace}", "team")
            .replace("{flow}", flow)
            .replace("{run}", &run)
            .replace("{other}", &self.paused)
            .replace("{secret}", "probe")
            .replace("{account}", "zed")
            .replace("{share}", &share)
            .replace("{trigger}", &made)
            .replace("{hook}", &made)
            .replace("{project}", project)
            .replace("{dataset}", &dataset)
            .replace("{eval}", &eval)
            .replace("{provider}", &provider)
            .replace("{agent}", "helper")
            + query;
        (path, body)
    }

    /// Something made by the owner under `tail` of `team` (a trigger, a
    /// webhook): its id.
    async fn made(&self, tail: &str, body: Value) -> String {
        let (status, made) = self
            .call(
                "olga",
                "POST",
                &format!("/api/v1/workspaces/team{tail}"),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        serde_json::from_str::<Value>(&made).expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// A share link of `team` made by `who` (asserting it was made).
    async fn share(&self, who: &str, body: Value) -> Value {
        let (status, made) = self
            .call(who, "POST", "/api/v1/workspaces/team/shares", Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        serde_json::from_str(&made).expect("json")
    }

    /// The newest saved version of a flow of `team`.
    async fn newest(&self, flow: &str) -> u64 {
        let (_, versions) = self
            .call(
                "olga",
                "GET",
                &format!("/api/v1/workspaces/team/flows/{flow}/versions"),
                None,
            )
            .await;
        let versions: Value = serde_json::from_str(&versions).expect("json");
        versions
            .as_array()
            .and_then(|all| all.last())
            .expect("a version")["version"]
            .as_u64()
            .expect("number")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_answers_every_role_as_the_table_says() {
    let server = start(roomy()).await;
    let mut bodies = String::new();
    let mut allowed = 0;
    let mut refused = 0;
    for endpoint in ENDPOINTS {
        let Access::Workspace(permission) = endpoint.access else {
            continue;
        };
        for (person, role) in PEOPLE {
            let (path, body) = server.prepare(endpoint.method, endpoint.path).await;
            let (status, text) = server.call(person, endpoint.method, &path, body).await;
            let what = format!(
                "{person} ({role:?}) {} {path}: {status} {text}",
                endpoint.method
            );
            match role {
                None => assert_eq!(status, StatusCode::NOT_FOUND, "{what}"),
                Some(role) if role.allows(permission) => {
                    allowed += 1;
                    // Positive control: the handler ran and did its work
                    // (cancel answers 409: the run is not running).
                    let expected = if endpoint.path.ends_with("/cancel") {
                        status == StatusCode::CONFLICT
                    } else if endpoint.path.ends_with("/evals") && endpoint.method == "POST" {
                        // A stream: the eval ran to its report.
                        status.is_success() && text.contains("event: done")
                    } else if endpoint.path.ends_with("/search") || endpoint.path.ends_with("/ask")
                    {
                        // No project is ingested: the runtime says so.
                        status.is_success()
                            || status == StatusCode::NOT_FOUND && text.contains("project")
                            || status == StatusCode::BAD_REQUEST
                    } else {
                        status.is_success()
                    };
                    assert!(expected, "{what}");
                }
                Some(_) => {
                    refused += 1;
                    assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                }
            }
            bodies.push_str(&text);
        }
    }
    // Every member's call was checked one way or the other, as many of
    // each as the table has.
    let (table_allowed, table_refused) = ENDPOINTS
        .iter()
        .filter_map(|endpoint| match endpoint.access {
            Access::Workspace(permission) => Some(permission),
            _ => None,
        })
        .flat_map(|permission| Role::ALL.map(|role| role.allows(permission)))
        .fold((0, 0), |(yes, no), allowed| {
            if allowed {
                (yes + 1, no)
            } else {
                (yes, no + 1)
            }
        });
    assert_eq!((allowed, refused), (table_allowed, table_refused));
    assert!(
        allowed > 60 && refused > 20,
        "allowed {allowed}, refused {refused}"
    );
    assert!(
        !bodies.contains(SENTINEL),
        "a response carried a secret's value"
    );
    // Positive control: the vault really holds the value the responses
    // never showed.
    server
        .call(
            "olga",
            "PUT",
            "/api/v1/workspaces/team/vault/probe",
            Some(json!({"value": SENTINEL})),
        )
        .await;
    let held = server
        .team
        .runtime("team")
        .expect("runtime")
        .secret_for("probe", "test")
        .expect("stored");
    assert_eq!(secrecy::ExposeSecret::expose_secret(&held), SENTINEL);
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_refused_when_missing_tampered_expired_revoked_or_out_of_scope() {
    let server = start(roomy()).await;
    let flows = "/api/v1/workspaces/team/flows";
    assert_eq!(
        server.status("eve", "GET", flows, None).await,
        StatusCode::OK,
        "positive control"
    );
    let (status, body) = server.call("", "GET", flows, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("sign in"), "{body}");
    let mut tampered = server.tokens["eve"].clone();
    let last = tampered.pop().expect("digit");
    tampered.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        server.status(&tampered, "GET", flows, None).await,
        StatusCode::UNAUTHORIZED
    );
    let expired = codexos_server::team::auth::mint(
        server.team.store(),
        "eve",
        codexos_store::team::CredentialKind::Token,
        "old",
        &[Scope::Admin],
        Duration::ZERO,
    )
    .expect("mint");
    let (status, body) = server.call(&expired.token, "GET", flows, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("expired"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_made_over_the_api_is_no_wider_nor_longer_lived_than_its_maker_and_is_revoked() {
    let server = start(roomy()).await;
    let flows = "/api/v1/workspaces/team/flows";
    // A read-only token made over the API: reads, cannot write, cannot
    // make a wider token, then is revoked.
    let (status, body) = server
        .call(
            "eve",
            "POST",
            "/api/v1/tokens",
            Some(json!({"label": "dashboards", "scopes": ["read"], "expiresInDays": 7})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let created: Value = serde_json::from_str(&body).expect("json");
    let read = created["token"].as_str().expect("token").to_owned();
    let id = created["credential"]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        server.status(&read, "GET", flows, None).await,
        StatusCode::OK
    );
    let (status, body) = server
        .call(
            &read,
            "POST",
            "/api/v1/workspaces/team/flows/gate/runs",
            Some(json!({})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "eve may run, her read token may not: {body}"
    );
    assert!(body.contains("scopes"), "{body}");
    let (status, _) = server
        .call(
            &read,
            "POST",
            "/api/v1/tokens",
            Some(json!({"label": "wider", "scopes": ["admin"]})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        server
            .status(&read, "DELETE", &format!("/api/v1/tokens/{id}"), None)
            .await,
        StatusCode::FORBIDDEN,
        "a read token cannot revoke tokens"
    );
    let (status, body) = server
        .call(
            "eve",
            "POST",
            "/api/v1/tokens",
            Some(json!({"label": "long", "scopes": ["read"], "expiresInDays": 365})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "eve's 30-day token cannot mint a 365-day one: {body}"
    );
    let listed = server.call("eve", "GET", "/api/v1/tokens", None).await.1;
    assert!(
        listed.contains("dashboards") && !listed.contains(&read[21..]),
        "{listed}"
    );
    assert_eq!(
        server
            .status("olga", "DELETE", &format!("/api/v1/tokens/{id}"), None)
            .await,
        StatusCode::NOT_FOUND,
        "only its owner revokes a token"
    );
    assert_eq!(
        server
            .status("eve", "DELETE", &format!("/api/v1/tokens/{id}"), None)
            .await,
        StatusCode::NO_CONTENT
    );
    let (status, body) = server.call(&read, "GET", flows, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("revoked"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_cannot_be_raised_past_their_own() {
    let server = start(roomy()).await;
    let member = |name: &str| format!("/api/v1/workspaces/team/members/{name}");
    let role = |name: &str| Some(json!({ "role": name }));
    assert_eq!(
        server
            .status("adam", "PUT", &member("zed"), role("admin"))
            .await,
        StatusCode::NO_CONTENT,
        "positive control"
    );
    assert_eq!(
        server
            .status("adam", "PUT", &member("zed"), role("owner"))
            .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server
            .status("adam", "PUT", &member("olga"), role("viewer"))
            .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server.status("adam", "DELETE", &member("olga"), None).await,
        StatusCode::FORBIDDEN
    );
    let narrow_owner = Some(json!({ "role": "viewer", "flow": "gate" }));
    assert_eq!(
        server
            .status("adam", "PUT", &member("olga"), narrow_owner)
            .await,
        StatusCode::FORBIDDEN,
        "an admin cannot narrow an owner through a grant"
    );
    let (status, body) = server
        .call("olga", "PUT", &member("olga"), role("admin"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "the last owner stays: {body}");
    assert_eq!(
        server
            .status("cora", "PUT", &member("zed"), role("viewer"))
            .await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_narrow_or_widen_a_role_on_one_flow() {
    let server = start(roomy()).await;
    let member = |name: &str| format!("/api/v1/workspaces/team/members/{name}");
    // A grant narrows: cora may edit flows but not `gate`.
    let grant = |role: &str| Some(json!({ "role": role, "flow": "gate" }));
    assert_eq!(
        server
            .status("olga", "PUT", &member("cora"), grant("viewer"))
            .await,
        StatusCode::NO_CONTENT
    );
    let gate_path = "/api/v1/workspaces/team/flows/gate";
    assert_eq!(
        server
            .status("cora", "PUT", gate_path, Some(gate("gate")))
            .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server
            .status(
                "cora",
                "PUT",
                "/api/v1/workspaces/team/flows/draft",
                Some(gate("draft"))
            )
            .await,
        StatusCode::OK
    );
    // And widens: vic (viewer) may run `gate`, not `draft`.
    assert_eq!(
        server
            .status("olga", "PUT", &member("vic"), grant("executor"))
            .await,
        StatusCode::NO_CONTENT
    );
    server.start_gate("vic").await;
    assert_eq!(
        server
            .status(
                "vic",
                "POST",
                "/api/v1/workspaces/team/flows/draft/runs",
                Some(json!({}))
            )
            .await,
        StatusCode::FORBIDDEN
    );
    // The vault's names are for creators up; values for nobody.
    assert_eq!(
        server
            .status("eve", "GET", "/api/v1/workspaces/team/vault", None)
            .await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn workspaces_do_not_see_each_other() {
    let server = start(roomy()).await;
    // Another workspace's owner sees nothing of this one, and this one's
    // run ids mean nothing in theirs.
    let run = format!("/api/v1/workspaces/team/runs/{}", server.paused);
    assert_eq!(
        server.status("olga", "GET", &run, None).await,
        StatusCode::OK,
        "positive control"
    );
    assert_eq!(
        server.status("otto", "GET", &run, None).await,
        StatusCode::NOT_FOUND
    );
    let elsewhere = format!("/api/v1/workspaces/other/runs/{}", server.paused);
    assert_eq!(
        server.status("otto", "GET", &elsewhere, None).await,
        StatusCode::NOT_FOUND
    );
    let (status, body) = server
        .call("olga", "GET", "/api/v1/workspaces/nowhere/flows", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_strings_in_every_path_parameter_are_refused_and_change_nothing() {
    let server = start(roomy()).await;
    let long = "a".repeat(300);
    let hostile = [
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E",
        "x'%20OR%20'1'%3D'1",
        "gate%22%3B%20DROP%20TABLE%20runs%3B--",
        "%00",
        "gate%2Fversions",
        ".hidden",
        "-rf",
        long.as_str(),
    ];
    let mut tried = 0;
    for endpoint in ENDPOINTS {
        let names: Vec<&str> = endpoint
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for name in &names {
            for value in hostile {
                let (_, body) = server.prepare(endpoint.method, endpoint.path).await;
                // The one parameter replaced, the others valid.
                let prepared = endpoint
                    .path
                    .replace(&format!("{{{name}}}"), value)
                    .replace("{workspace}", "team")
                    .replace("{flow}", "gate")
                    .replace("{run}", &server.paused)
                    .replace("{secret}", "probe")
                    .replace("{account}", "zed")
                    .replace("{token}", "0123456789abcdef")
                    .replace("{share}", "0123456789abcdef")
                    .replace("{trigger}", "0123456789abcdef")
                    .replace("{hook}", "0123456789abcdef")
                    .replace("{link}", "0123456789abcdef-00")
                    .replace("{dataset}", "capitals")
                    .replace("{eval}", "0123456789abcdef")
                    .replace("{provider}", "local")
                    .replace("{agent}", "helper")
                    .replace("{project}", "notes");
                let (status, text) = server.call("olga", endpoint.method, &prepared, body).await;
                // The guard refuses the value itself (400); only a value a
                // client resolves as `..` may reach another route instead
                // (404 or 405).
                let dots = value.contains("%2E%2E") || value.contains("..");
                assert!(
                    status == StatusCode::BAD_REQUEST && text.contains("invalid_input")
                        || dots
                            && (status == StatusCode::NOT_FOUND
                                || status == StatusCode::METHOD_NOT_ALLOWED),
                    "{} {prepared}: {status} {text}",
                    endpoint.method
                );
                tried += 1;
            }
        }
    }
    assert!(tried > 150, "{tried}");
    // Strings in bodies are data, not code.
    let (status, body) = server
        .call(
            "eve",
            "POST",
            "/api/v1/workspaces/team/search",
            Some(json!({"query": "' OR 1=1; DROP TABLE runs; --"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Nothing changed: the flow, the run and the audit chain are intact.
    let (status, _) = server
        .call("olga", "GET", "/api/v1/workspaces/team/flows/gate", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .call(
            "olga",
            "GET",
            &format!("/api/v1/workspaces/team/runs/{}", server.paused),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, check) = server
        .call("olga", "GET", "/api/v1/workspaces/team/audit/verify", None)
        .await;
    let check: Value = serde_json::from_str(&check).expect("json");
    assert!(
        check["broken"].is_null() && check["entries"].as_u64() > Some(0),
        "{check}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_need_their_csrf_token() {
    let server = start(roomy()).await;
    let login = |account: &str, password: &str| {
        server
            .client
            .post(format!("{}/api/v1/login", server.base))
            .json(&json!({ "account": account, "password": password }))
            .send()
    };
    let response = login("eve", PASSWORD).await.expect("login");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .expect("a session cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().expect("pair").to_owned();
    let csrf = response.json::<Value>().await.expect("json")["csrfToken"]
        .as_str()
        .expect("csrf")
        .to_owned();
    let with_cookie = |method: &str, path: &str, csrf: Option<&str>| {
        let mut request = server
            .client
            .request(
                method.parse().expect("method"),
                format!("{}{path}", server.base),
            )
            .header("cookie", &session);
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    assert_eq!(
        with_cookie("GET", "/api/v1/me", None)
            .await
            .expect("me")
            .status(),
        StatusCode::OK
    );
    let runs = "/api/v1/workspaces/team/flows/gate/runs";
    for wrong in [None, Some("0000")] {
        let refused = with_cookie("POST", runs, wrong).await.expect("post");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "csrf {wrong:?}");
    }
    assert_eq!(
        with_cookie("POST", runs, Some(&csrf))
            .await
            .expect("post")
            .status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        with_cookie("POST", "/api/v1/logout", Some(&csrf))
            .await
            .expect("logout")
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        with_cookie("GET", "/api/v1/me", None)
            .await
            .expect("me")
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logins_lock_after_repeated_failures() {
    let server = start(roomy()).await;
    let login = |account: &str, password: &str| {
        server
            .client
            .post(format!("{}/api/v1/login", server.base))
            .json(&json!({ "account": account, "password": password }))
            .send()
    };
    // Five wrong passwords lock the account, even against the right one;
    // another account is not affected.
    for _ in 0..5 {
        assert_eq!(
            login("vic", "not the password")
                .await
                .expect("login")
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = login("vic", PASSWORD).await.expect("login");
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked
        .text()
        .await
        .expect("body")
        .contains("too many failed logins"));
    assert_eq!(
        login("cora", PASSWORD).await.expect("login").status(),
        StatusCode::OK
    );
    server
        .team
        .set_password("vic", "another good password")
        .expect("reset");
    assert_eq!(
        login("vic", "another good password")
            .await
            .expect("login")
            .status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn floods_and_oversized_bodies_are_refused() {
    let server = start(Limits {
        per_credential: 5,
        per_address: 400,
        max_body: 4096,
        max_upload: 8192,
    })
    .await;
    let flows = "/api/v1/workspaces/team/flows";
    for _ in 0..5 {
        assert_eq!(
            server.status("eve", "GET", flows, None).await,
            StatusCode::OK
        );
    }
    let flooded = server
        .client
        .get(format!("{}{flows}", server.base))
        .bearer_auth(&server.tokens["eve"])
        .send()
        .await
        .expect("request");
    assert_eq!(flooded.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(flooded.headers().get("retry-after").is_some());
    assert_eq!(
        server.status("cora", "GET", flows, None).await,
        StatusCode::OK,
        "another token's own bucket"
    );
    let mut big = gate("gate");
    big["description"] = json!("x".repeat(8192));
    let (status, _) = server
        .call("adam", "PUT", &format!("{flows}/gate"), Some(big))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // One address: even public calls run out.
    let mut answered = 0;
    loop {
        let (status, _) = server.call("", "GET", "/api/v1/health", None).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        answered += 1;
        assert!(answered <= 400, "the address limit never applied");
    }
    assert!(answered > 300, "{answered}");
}

/// The events of an SSE body: (id, event name, data).
fn sse(body: &str) -> Vec<(Option<u64>, String, Value)> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty() && !block.starts_with(':'))
        .map(|block| {
            let mut id = None;
            let mut name = String::new();
            let mut data = Value::Null;
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("id: ") {
                    id = value.parse().ok();
                } else if let Some(value) = line.strip_prefix("event: ") {
                    value.clone_into(&mut name);
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(value).expect("data");
                }
            }
            (id, name, data)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_streams_its_events_in_order_pauses_resumes_and_changes_are_audited_by_caller() {
    let server = start(roomy()).await;
    let id = server.start_gate("eve").await;
    let events = format!("/api/v1/workspaces/team/runs/{id}/events");
    let (status, body) = server.call("vic", "GET", &events, None).await;
    assert_eq!(status, StatusCode::OK);
    let first = sse(&body);
    let ids: Vec<u64> = first.iter().filter_map(|(id, _, _)| *id).collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]) && ids[0] == 0,
        "{ids:?}"
    );
    assert_eq!(first[0].2["event"]["type"], "runStarted");
    let (_, end, data) = first.last().expect("end");
    assert_eq!(
        (end.as_str(), data["status"].as_str()),
        ("end", Some("paused"))
    );

    let (status, body) = server
        .call(
            "vic",
            "POST",
            &format!("/api/v1/workspaces/team/runs/{id}/resume"),
            Some(json!({"answer": {"approved": true}})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a viewer cannot approve: {body}"
    );
    let (status, body) = server
        .call(
            "eve",
            "POST",
            &format!("/api/v1/workspaces/team/runs/{id}/resume"),
            Some(json!({"answer": {"approved": true}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // Reconnecting with Last-Event-ID picks up after it, to the end.
    let last = *ids.last().expect("ids");
    let response = server
        .client
        .get(format!("{}{events}", server.base))
        .bearer_auth(&server.tokens["vic"])
        .header("last-event-id", last.to_string())
        .send()
        .await
        .expect("events");
    let rest = sse(&response.text().await.expect("body"));
    assert!(
        rest.iter()
            .filter_map(|(id, _, _)| *id)
            .all(|seq| seq > last),
        "{rest:?}"
    );
    let finished = rest
        .iter()
        .find(|(_, _, data)| data["event"]["type"] == "runFinished")
        .expect("finished");
    assert_eq!(finished.2["event"]["output"]["n"], 7);
    assert_eq!(rest.last().expect("end").2["status"], "succeeded");

    // Changes are recorded as the account that made them, from its address.
    assert_eq!(
        server
            .status(
                "adam",
                "PUT",
                "/api/v1/workspaces/team/vault/probe",
                Some(json!({"value": SENTINEL}))
            )
            .await,
        StatusCode::NO_CONTENT
    );
    let (_, log) = server
        .call(
            "adam",
            "GET",
            "/api/v1/workspaces/team/audit?action=secret",
            None,
        )
        .await;
    let log: Value = serde_json::from_str(&log).expect("json");
    assert_eq!(
        (log[0]["who"].as_str(), log[0]["origin"].as_str()),
        (Some("adam"), Some("127.0.0.1")),
        "{log}"
    );
    assert!(!log.to_string().contains(SENTINEL));
    let (_, log) = server
        .call(
            "adam",
            "GET",
            "/api/v1/workspaces/team/audit?action=flow",
            None,
        )
        .await;
    assert!(log.contains("\"who\":\"olga\""), "{log}");
}

#[test]
fn the_published_openapi_document_and_role_table_match_the_code() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let document = serde_json::to_string_pretty(&codexos_server::team::openapi_document())
        .expect("json")
        + "\n";
    let guide = std::fs::read_to_string(docs.join("server.md")).expect("docs/server.md");
    let (before, rest) = guide
        .split_once("<!-- roles:begin -->\n")
        .expect("begin marker");
    let (_, after) = rest.split_once("<!-- roles:end -->").expect("end marker");
    let table = codexos_server::team::roles::markdown_table();
    let updated = format!("{before}<!-- roles:begin -->\n{table}<!-- roles:end -->{after}");
    if std::env::var_os("CODEXOS_UPDATE_SCHEMAS").is_some() {
        std::fs::write(docs.join("openapi.json"), &document).expect("write");
        std::fs::write(docs.join("server.md"), &updated).expect("write");
    }
    let published = std::fs::read_to_string(docs.join("openapi.json")).unwrap_or_default();
    assert!(
        published == document && guide == updated,
        "docs/openapi.json or the role table in docs/server.md is out of date: run `CODEXOS_UPDATE_SCHEMAS=1 cargo test -p codexos-server --test it -- published`"
    );
    // Every path of the table is in the document, with who may call it.
    let parsed: Value = serde_json::from_str(&document).expect("json");
    for endpoint in ENDPOINTS {
        let operation = &parsed["paths"][endpoint.path][endpoint.method.to_lowercase()];
        assert!(
            operation["x-codexos-access"].is_string(),
            "{} {}",
            endpoint.method,
            endpoint.path
        );
    }
    // Every `$ref` resolves to a schema of the document.
    let mut refs = Vec::new();
    collect_refs(&parsed, &mut refs);
    assert!(refs.len() > 20, "{}", refs.len());
    for reference in refs {
        let name = reference
            .strip_prefix("#/components/")
            .unwrap_or_else(|| panic!("{reference}"));
        let (kind, name) = name.split_once('/').expect("kind/name");
        assert!(
            parsed["components"][kind][name].is_object(),
            "`{reference}` points at nothing"
        );
    }
}

/// Every `$ref` in `value`.
fn collect_refs(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(reference)) => into.push(reference.clone()),
                    _ => collect_refs(inner, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, into)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn share_links_open_what_they_share_to_whom_they_say_and_stop_when_revoked() {
    let server = start(roomy()).await;
    let view = server
        .share("cora", json!({"kind": "view", "run": server.paused}))
        .await;
    let link = view["link"].as_str().expect("link").to_owned();
    assert!(view["app"]
        .as_str()
        .expect("app")
        .starts_with("codexos://share?server="));
    // Anyone with a view link reads the run: no credential at all.
    let (status, opened) = server
        .call("", "GET", &format!("/api/v1/shared/{link}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    let opened: Value = serde_json::from_str(&opened).expect("json");
    assert_eq!(opened["run"]["summary"]["id"], server.paused.as_str());
    let page = server
        .client
        .get(format!("{}/share/{link}", server.base))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().await.expect("html");
    assert!(
        html.contains("<h1>gate</h1>") && html.contains("paused") && !html.contains("<script"),
        "{html}"
    );
    // One changed digit of the signature opens nothing; a view link runs nothing.
    let mut tampered = link.clone();
    let last = tampered.pop().expect("digit");
    tampered.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        server
            .status("", "GET", &format!("/api/v1/shared/{tampered}"), None)
            .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .status(
                "otto",
                "POST",
                &format!("/api/v1/shared/{link}/runs"),
                Some(json!({}))
            )
            .await,
        StatusCode::FORBIDDEN
    );

    // A run link: a signed-in account runs the flow, even from outside.
    let made = server
        .share("cora", json!({"kind": "run", "flow": "gate"}))
        .await;
    let run_link = made["link"].as_str().expect("link").to_owned();
    assert_eq!(
        server
            .status(
                "",
                "POST",
                &format!("/api/v1/shared/{run_link}/runs"),
                Some(json!({}))
            )
            .await,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = server
        .call(
            "otto",
            "POST",
            &format!("/api/v1/shared/{run_link}/runs"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn share_links_stop_when_revoked_or_expired() {
    let server = start(roomy()).await;
    let view = server
        .share("cora", json!({"kind": "view", "run": server.paused}))
        .await;
    let link = view["link"].as_str().expect("link").to_owned();
    assert_eq!(
        server
            .status("", "GET", &format!("/api/v1/shared/{link}"), None)
            .await,
        StatusCode::OK,
        "positive control"
    );
    // Revoked and expired links stop.
    let id = view["share"]["id"].as_str().expect("id");
    assert_eq!(
        server
            .status(
                "vic",
                "DELETE",
                &format!("/api/v1/workspaces/team/shares/{id}"),
                None
            )
            .await,
        StatusCode::FORBIDDEN,
        "a viewer cannot revoke"
    );
    assert_eq!(
        server
            .status(
                "cora",
                "DELETE",
                &format!("/api/v1/workspaces/team/shares/{id}"),
                None
            )
            .await,
        StatusCode::NO_CONTENT
    );
    let (status, body) = server
        .call("", "GET", &format!("/api/v1/shared/{link}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("revoked"), "{body}");
    let now = codexos_store::unix_ms();
    let old = codexos_store::team::Share {
        id: "00000000000000aa".to_owned(),
        workspace: "team".to_owned(),
        kind: "view".to_owned(),
        target: server.paused.clone(),
        created_by: "cora".to_owned(),
        created_at_ms: now - 10,
        expires_at_ms: now - 1,
        revoked_at_ms: None,
    };
    server.team.store().team_add_share(&old).expect("share");
    let (status, body) = server
        .call(
            "",
            "GET",
            &format!("/api/v1/shared/{}", server.team.share_link(&old)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("expired"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fork_keeps_its_lineage_and_updates_from_its_origin_after_showing_the_diff() {
    let server = start(roomy()).await;
    // vic only views `team` but may edit in `other`: she may fork from one
    // to the other, not into `team`.
    let fork = |who: &'static str, to: &str, name: &str| {
        server.call(
            who,
            "POST",
            "/api/v1/workspaces/team/flows/gate/fork",
            Some(json!({"workspace": to, "name": name})),
        )
    };
    assert_eq!(fork("vic", "team", "mine").await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        fork("vic", "nowhere", "mine").await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = fork("vic", "other", "mine").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        fork("vic", "other", "mine").await.0,
        StatusCode::BAD_REQUEST,
        "the name is taken"
    );
    let (_, copy) = server
        .call("vic", "GET", "/api/v1/workspaces/other/flows/mine", None)
        .await;
    let copy: Value = serde_json::from_str(&copy).expect("json");
    let forked_at = server.newest("gate").await;
    assert_eq!(
        copy["forkedFrom"],
        json!({"origin": "workspace:team", "flow": "gate", "version": forked_at})
    );
    let origin = "/api/v1/workspaces/other/flows/mine/origin";
    let (_, lineage) = server.call("vic", "GET", origin, None).await;
    let lineage: Value = serde_json::from_str(&lineage).expect("json");
    assert_eq!(lineage["behind"], false, "{lineage}");

    // The origin changes: the fork is behind, the diff shows the change,
    // and only the version whose diff was shown is applied.
    let mut changed = gate("gate");
    changed["description"] = json!("ships after approval");
    assert_eq!(
        server
            .status(
                "cora",
                "PUT",
                "/api/v1/workspaces/team/flows/gate",
                Some(changed)
            )
            .await,
        StatusCode::OK
    );
    let (_, lineage) = server.call("vic", "GET", origin, None).await;
    let lineage: Value = serde_json::from_str(&lineage).expect("json");
    assert_eq!(lineage["behind"], true, "{lineage}");
    assert!(
        lineage["diff"]
            .as_str()
            .expect("diff")
            .contains("+  \"description\": \"ships after approval\""),
        "{lineage}"
    );
    let latest = lineage["latestVersion"].as_u64().expect("latest");
    assert_eq!(
        server
            .status("vic", "POST", origin, Some(json!({"version": forked_at})))
            .await,
        StatusCode::CONFLICT,
        "a version whose diff was not shown"
    );
    assert_eq!(
        server
            .status("vic", "POST", origin, Some(json!({"version": latest})))
            .await,
        StatusCode::OK
    );
    let (_, copy) = server
        .call("vic", "GET", "/api/v1/workspaces/other/flows/mine", None)
        .await;
    let copy: Value = serde_json::from_str(&copy).expect("json");
    assert_eq!(copy["description"], "ships after approval");
    assert_eq!(
        (
            copy["name"].as_str(),
            copy["forkedFrom"]["version"].as_u64()
        ),
        (Some("mine"), Some(latest))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fork_link_lets_an_outsider_copy_the_flow_with_its_lineage() {
    let server = start(roomy()).await;
    // A fork link lets an outsider copy the flow into their own workspace.
    let made = server
        .share("cora", json!({"kind": "fork", "flow": "gate"}))
        .await;
    let link = made["link"].as_str().expect("link").to_owned();
    let (status, body) = server
        .call(
            "otto",
            "POST",
            &format!("/api/v1/shared/{link}/fork"),
            Some(json!({"workspace": "other", "name": "from-link"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.contains("workspace:team"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_client_signs_in_runs_and_follows_forks_shares_and_opens_a_link() {
    use codexos_server::team::client::{open_shared, TeamClient};
    let server = start(roomy()).await;
    let wrong = TeamClient::sign_in(&server.base, "eve", "not the password").await;
    assert!(wrong.is_err_and(|error| error.to_string().contains("wrong account name or password")));
    let (client, session) = TeamClient::sign_in(&server.base, "eve", PASSWORD)
        .await
        .expect("sign in");
    let team = session
        .memberships
        .iter()
        .find(|m| m.workspace == "team")
        .expect("team");
    assert_eq!(
        (team.role.as_str(), team.permissions.clone()),
        (
            "executor",
            vec!["view".to_owned(), "run".to_owned(), "approve".to_owned()]
        )
    );
    let flows = client.flows("team").await.expect("flows");
    let copy = flows
        .iter()
        .find(|flow| flow.name == "gate-copy")
        .expect("the fork");
    assert_eq!(
        copy.forked_from
            .as_ref()
            .map(|origin| origin.origin.as_str()),
        Some("workspace:team")
    );
    let run = client
        .start_run("team", "gate", json!({}))
        .await
        .expect("run");
    let seen = std::sync::Mutex::new(Vec::new());
    let end = client
        .follow("team", &run, &|event| {
            seen.lock().expect("lock").push(event.seq);
        })
        .await
        .expect("follow");
    assert_eq!(end, "paused");
    let seen = seen.into_inner().expect("seen");
    assert!(
        seen.len() >= 3 && seen.windows(2).all(|pair| pair[0] < pair[1]),
        "{seen:?}"
    );
    // The role the app shows is the one the server enforces.
    let refused = client
        .share("team", "run", "gate")
        .await
        .expect_err("an executor cannot share");
    assert!(
        refused.to_string().contains("this needs `edit`"),
        "{refused}"
    );
    client
        .fork("team", "gate", "other", Some("via-client"))
        .await
        .expect("fork");
    let (cora, _) = TeamClient::sign_in(&server.base, "cora", PASSWORD)
        .await
        .expect("cora");
    let link = cora.share("team", "view", &run).await.expect("share");
    let shared = open_shared(&server.base, &link.link).await.expect("open");
    assert_eq!(
        (
            shared.flow.as_str(),
            shared.status.as_str(),
            shared.run.as_str()
        ),
        ("gate", "paused", run.as_str())
    );
    client.sign_out().await.expect("sign out");
    assert!(
        client.flows("team").await.is_err(),
        "a session ended is refused"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn run_and_fork_links_are_opened_run_and_forked_by_the_app_client() {
    use codexos_server::team::client::{open_link, open_shared, TeamClient};
    let server = start(roomy()).await;
    let (client, _) = TeamClient::sign_in(&server.base, "eve", PASSWORD)
        .await
        .expect("sign in");
    let (cora, _) = TeamClient::sign_in(&server.base, "cora", PASSWORD)
        .await
        .expect("cora");
    // Run and fork links: what they share is seen without signing in,
    // used signed in.
    let run_link = cora.share("team", "run", "gate").await.expect("share");
    let fork_link = cora.share("team", "fork", "gate").await.expect("share");
    let opened = open_link(&server.base, &fork_link.link)
        .await
        .expect("open");
    assert_eq!(
        (
            opened.kind.as_str(),
            opened.flow.as_deref(),
            opened.run.is_none()
        ),
        ("fork", Some("gate"), true)
    );
    let refused = open_shared(&server.base, &run_link.link)
        .await
        .expect_err("a run link shows no run");
    assert!(refused.to_string().contains("run a flow"), "{refused}");
    let linked = client
        .run_link(&run_link.link, json!({}))
        .await
        .expect("run link");
    assert_eq!(
        client
            .follow("team", &linked, &|_| {})
            .await
            .expect("follow"),
        "paused"
    );
    let copy = client
        .fork_link(&fork_link.link, "other", Some("from-link"))
        .await
        .expect("fork link");
    assert_eq!(copy, "from-link");
    let forked = client.flows("other").await.expect("flows");
    let origin = forked
        .iter()
        .find(|flow| flow.name == "from-link")
        .and_then(|flow| flow.forked_from.clone())
        .expect("lineage");
    assert_eq!(
        (origin.origin.as_str(), origin.flow.as_str()),
        ("workspace:team", "gate")
    );
    let wrong_kind = client
        .fork_link(&run_link.link, "other", Some("nope"))
        .await
        .expect_err("a run link does not fork");
    assert!(
        wrong_kind.to_string().contains("not fork it"),
        "{wrong_kind}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn share_links_are_no_way_around_a_narrowing_grant() {
    let server = start(roomy()).await;
    // Olga makes a run link to `gate`; cora, narrowed to viewer on `gate`,
    // neither sees it in the list nor revokes it.
    let made = server
        .share("olga", json!({"kind": "run", "flow": "gate"}))
        .await;
    let id = made["share"]["id"].as_str().expect("id").to_owned();
    let listed =
        |who: &'static str| server.call(who, "GET", "/api/v1/workspaces/team/shares", None);
    assert!(
        listed("adam").await.1.contains(&id),
        "positive control: an admin sees it"
    );
    assert!(listed("cora").await.1.contains(&id), "a creator sees it");
    server
        .call(
            "olga",
            "PUT",
            "/api/v1/workspaces/team/members/cora",
            Some(json!({"role": "viewer", "flow": "gate"})),
        )
        .await;
    assert!(
        !listed("cora").await.1.contains(&id),
        "narrowed on `gate`, cora does not"
    );
    assert_eq!(
        server
            .status(
                "cora",
                "DELETE",
                &format!("/api/v1/workspaces/team/shares/{id}"),
                None
            )
            .await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lineage_is_the_servers_and_a_model_is_a_name() {
    let server = start(roomy()).await;
    // Lineage is the server's: a body cannot invent or drop it.
    let mut claimed = gate("claims");
    claimed["forkedFrom"] =
        json!({"origin": "workspace:other", "flow": "../../etc/passwd", "version": 1});
    assert_eq!(
        server
            .status(
                "adam",
                "PUT",
                "/api/v1/workspaces/team/flows/claims",
                Some(claimed)
            )
            .await,
        StatusCode::OK
    );
    let (_, saved) = server
        .call("adam", "GET", "/api/v1/workspaces/team/flows/claims", None)
        .await;
    assert!(
        serde_json::from_str::<Value>(&saved)
            .expect("json")
            .get("forkedFrom")
            .is_none(),
        "{saved}"
    );
    assert_eq!(
        server
            .status(
                "adam",
                "PUT",
                "/api/v1/workspaces/team/flows/gate-copy",
                Some(gate("gate-copy"))
            )
            .await,
        StatusCode::OK
    );
    let (_, copy) = server
        .call(
            "adam",
            "GET",
            "/api/v1/workspaces/team/flows/gate-copy",
            None,
        )
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&copy).expect("json")["forkedFrom"]["flow"],
        "gate",
        "kept through a save"
    );

    // A model is a name, never a file of the server's.
    let (status, body) = server
        .call(
            "eve",
            "POST",
            "/api/v1/workspaces/team/openai/v1/chat/completions",
            Some(json!({
                "model": "/etc/passwd", "messages": [{"role": "user", "content": "hi"}]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("not a model name"), "{body}");
    let (status, models) = server
        .call(
            "vic",
            "GET",
            "/api/v1/workspaces/team/openai/v1/models",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{models}");
    assert!(models.contains("\"codexos\""), "{models}");
}

/// The tool result of an MCP `tools/call` answered as JSON.
fn mcp_result(body: &str) -> Value {
    let answer: Value = serde_json::from_str(body).expect("json-rpc");
    answer["result"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn mcp_behind_the_sign_in_runs_library_flows_as_their_grants_allow() {
    let server = start(roomy()).await;
    let mcp = "/api/v1/workspaces/team/mcp";
    // Positive control: an executor lists the tools, the flows, and runs one.
    let (status, body) = server
        .call("eve", "POST", mcp, Some(mcp_call("tools/list", &json!({}))))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("run_flow"), "{body}");
    let call = |name: &str, arguments: Value| {
        mcp_call("tools/call", &json!({"name": name, "arguments": arguments}))
    };
    let (_, body) = server
        .call("eve", "POST", mcp, Some(call("list_flows", json!({}))))
        .await;
    let listed = mcp_result(&body);
    assert!(listed.to_string().contains("\"gate\""), "{body}");
    let home = server.team.options().home.display().to_string();
    assert!(!body.contains(&home), "a server path was sent: {body}");
    let (status, body) = server
        .call(
            "eve",
            "POST",
            mcp,
            Some(call("run_flow", json!({"flow": "gate"}))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ran = mcp_result(&body);
    assert_eq!(ran["isError"], false, "{body}");
    assert_eq!(ran["structuredContent"]["status"], "paused", "{body}");
    let run = ran["structuredContent"]["runId"].as_str().expect("run id");
    // The run is the workspace's, seen over REST.
    let (status, _) = server
        .call(
            "vic",
            "GET",
            &format!("/api/v1/workspaces/team/runs/{run}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // A grant that narrows eve on one flow holds over MCP too.
    server
        .call(
            "olga",
            "PUT",
            "/api/v1/workspaces/team/flows/narrow",
            Some(gate("narrow")),
        )
        .await;
    server
        .team
        .set_role("team", Some("narrow"), "eve", Role::Viewer)
        .expect("grant");
    let (_, body) = server
        .call(
            "eve",
            "POST",
            mcp,
            Some(call("run_flow", json!({"flow": "narrow"}))),
        )
        .await;
    let refused = mcp_result(&body);
    assert_eq!(refused["isError"], true, "{body}");
    assert!(body.contains("viewer"), "{body}");
    // No path on the server, however written.
    for flow in ["../../../etc/passwd", "/etc/passwd", "flows/gate.flow.json"] {
        let (_, body) = server
            .call(
                "eve",
                "POST",
                mcp,
                Some(call("run_flow", json!({"flow": flow}))),
            )
            .await;
        assert_eq!(mcp_result(&body)["isError"], true, "{flow}: {body}");
        assert!(body.contains("not a flow of this workspace"), "{body}");
    }
    // Without a credential, or as a viewer, MCP is not reached at all.
    let (status, _) = server
        .call("", "POST", mcp, Some(mcp_call("tools/list", &json!({}))))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server
        .call("vic", "POST", mcp, Some(mcp_call("tools/list", &json!({}))))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server.call("eve", "GET", mcp, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test(flavor = "multi_thread")]
async fn over_tls_the_api_answers_and_plain_http_gets_nothing() {
    let folder = tempfile::tempdir().expect("certificates");
    let server = start_with(
        roomy(),
        Extras {
            tls: Some(folder.path()),
            ..Extras::default()
        },
    )
    .await;
    // Positive control: a signed-in call over TLS, and the cookie is Secure.
    let (status, body) = server.call("eve", "GET", "/api/v1/me", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response = server
        .client
        .post(format!("{}/api/v1/login", server.base))
        .json(&json!({"account": "eve", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // Plain HTTP on the TLS port gets no answer.
    let plain = server.base.replace("https://", "http://");
    let refused = codexos_net::client()
        .build()
        .expect("client")
        .get(format!("{plain}/api/v1/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
    // Nor does a client that does not trust the certificate.
    let untrusting = codexos_net::client()
        .build()
        .expect("client")
        .get(format!("{}/api/v1/health", server.base))
        .send()
        .await;
    assert!(untrusting.is_err(), "{untrusting:?}");
    // Files that are not a certificate and key are refused, saying which.
    let wrong = folder.path().join("wrong.pem");
    std::fs::write(&wrong, "not a certificate").expect("write");
    let Err(error) = codexos_server::team::tls::acceptor(&codexos_server::team::tls::TlsFiles {
        certificate: wrong.clone(),
        key: folder.path().join("server.key"),
    }) else {
        panic!("a file that is no certificate was taken");
    };
    assert!(error.message.contains("wrong.pem"), "{error}");
}
