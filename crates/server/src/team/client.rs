//! A client of the team server, for the desktop app: sign in (a session
//! with its CSRF token), list workspaces and flows, run a flow and follow its
//! events, fork, share, and open a share link. Every request goes through
//! `codexos_net` (the offline switch applies).

use codexos_runtime::{ForkOrigin, RunEvent};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::api::{CSRF_HEADER, SESSION_COOKIE};

mod agents;
mod analytics;
mod bundles;
mod canvas;
mod evals;
mod library;
mod links;
mod llm;
mod projects;
mod reruns;
mod vault;
pub use canvas::{RemoteSaved, WorkspaceAsker};
pub use evals::RemoteEval;
pub use links::{open_link, open_shared, OpenedLink};
pub use projects::project_name_for;

/// What went wrong talking to a team server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with a refusal.
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's code (`forbidden`, `unauthorized`, …).
        code: String,
        /// The server's message: what failed and what to do.
        message: String,
    },
    /// The server could not be reached.
    #[error("cannot reach the team server at {server}: {message} — check the address and that `codexos server` runs there")]
    Unreachable {
        /// Its address.
        server: String,
        /// The network error.
        message: String,
    },
    /// A file of this machine could not be read (an upload).
    #[error("{message}")]
    Local {
        /// What failed, with the path.
        message: String,
    },
    /// Stopped here before the server was done.
    #[error("stopped: {server} was not asked for more (what it had started goes on there)")]
    Cancelled {
        /// Its address.
        server: String,
    },
    /// The server answered something this client does not understand.
    #[error("the team server at {server} answered something unexpected: {message} — is it a CodexOS server of the same version?")]
    Protocol {
        /// Its address.
        server: String,
        /// What was wrong.
        message: String,
    },
}

/// Result alias of the client.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// A role of the signed-in account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TeamMembership {
    /// Workspace.
    pub workspace: String,
    /// The flow of a grant; `None` for the workspace role.
    pub flow: Option<String>,
    /// Role name.
    pub role: String,
    /// What it allows this session: `view`, `run`, `approve`, `edit`,
    /// `secrets`, `members` (from the server's table).
    pub permissions: Vec<String>,
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TeamSession {
    /// The server's address.
    pub server: String,
    /// The account.
    pub account: String,
    /// Its roles and grants.
    pub memberships: Vec<TeamMembership>,
}

/// A flow of a workspace, as the app lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RemoteFlow {
    /// Name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Where it was forked from.
    pub forked_from: Option<ForkOrigin>,
    /// Why it cannot be read, if it cannot.
    pub error: Option<String>,
}

/// A new share link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SharedLink {
    /// The link text (`<id>-<signature>`).
    pub link: String,
    /// The read-only web page (view links).
    pub url: String,
    /// The `codexos://` link.
    pub app: String,
}

/// What a view link opens: a run, read-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SharedRun {
    /// Its workspace.
    pub workspace: String,
    /// Its flow.
    pub flow: String,
    /// The run id.
    pub run: String,
    /// Its status.
    pub status: String,
    /// Its stored events, in order.
    pub events: Vec<RunEvent>,
}

/// A trigger of a workspace, as the app lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RemoteTrigger {
    /// Its id.
    pub id: String,
    /// `webhook` or `cron`.
    pub kind: String,
    /// The flow it runs.
    pub flow: String,
    /// A cron trigger's schedule.
    pub schedule: Option<String>,
    /// A webhook's URL.
    pub url: Option<String>,
    /// Whose role its runs use.
    pub created_by: String,
    /// When a cron trigger fires next (Unix ms).
    #[specta(type = Option<f64>)]
    pub next_at_ms: Option<u64>,
    /// When it last fired (Unix ms).
    #[specta(type = Option<f64>)]
    pub fired_at_ms: Option<u64>,
    /// The run it last started.
    pub last_run: Option<String>,
    /// Why its last firing started no run.
    pub last_error: Option<String>,
}

/// An outgoing webhook of a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RemoteWebhook {
    /// Its id.
    pub id: String,
    /// Where events go.
    pub url: String,
    /// The events it gets.
    pub events: Vec<String>,
    /// Only runs of this flow.
    pub flow: Option<String>,
    /// Who made it.
    pub created_by: String,
}

/// One delivery of an outgoing webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RemoteDelivery {
    /// Its number.
    #[specta(type = f64)]
    pub id: i64,
    /// The event.
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last answer's status.
    pub status: Option<u16>,
    /// The last failure.
    pub error: Option<String>,
    /// When it was queued (Unix ms).
    #[specta(type = f64)]
    pub created_at_ms: u64,
}

/// A workspace's automation: its triggers, and its outgoing webhooks when
/// the session may see them (admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Automation {
    /// Triggers, newest first.
    pub triggers: Vec<RemoteTrigger>,
    /// Outgoing webhooks, newest first (`None`: not for this role).
    pub webhooks: Option<Vec<RemoteWebhook>>,
}

/// Something made with a secret shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct MadeWithSecret {
    /// Its id.
    pub id: String,
    /// Its URL (a webhook trigger's), if any.
    pub url: Option<String>,
    /// The signing secret, shown this once (none for a cron trigger).
    pub secret: Option<String>,
}

/// A sign-in through the server's OIDC provider, started: the page to open
/// in the person's browser, and the code that page will show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct OidcSignIn {
    /// The server's address.
    pub server: String,
    /// Open this in the browser.
    pub url: String,
    /// The code the server's confirmation page shows (compare before
    /// confirming).
    pub code: String,
}

/// The secret of a started OIDC sign-in: collects its session.
pub struct OidcSecret(String);

impl std::fmt::Debug for OidcSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("OidcSecret(…)")
    }
}

/// A server address as typed: a scheme added when missing, no trailing `/`.
#[must_use]
pub fn normalize(server: &str) -> String {
    let server = server.trim().trim_end_matches('/');
    if server.contains("://") {
        server.to_owned()
    } else {
        format!("http://{server}")
    }
}

/// A signed-in client.
#[derive(Clone)]
pub struct TeamClient {
    server: String,
    http: reqwest::Client,
    session: String,
    csrf: String,
}

impl std::fmt::Debug for TeamClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the session or its CSRF token.
        formatter
            .debug_struct("TeamClient")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

async fn answer(server: &str, request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
    let response = codexos_net::send(request)
        .await
        .map_err(|error| ClientError::Unreachable {
            server: server.to_owned(),
            message: error.to_string(),
        })?;
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    Err(ClientError::Refused {
        status,
        code: body["code"].as_str().unwrap_or("http").to_owned(),
        message: body["message"].as_str().map_or_else(
            || format!("the server answered {status}: {text}"),
            str::to_owned,
        ),
    })
}

/// The `error` event of a stream (`{code, message}`) as a refusal, with
/// the status its code has in an answer.
pub(super) fn streamed_error(data: &str, otherwise: &str) -> ClientError {
    let body: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    let status = match body["code"].as_str().unwrap_or_default() {
        "invalid_input" => 400,
        "forbidden" | "refused" => 403,
        "not_found" => 404,
        "conflict" | "cancelled" | "tampered" => 409,
        "unavailable" => 503,
        _ => 500,
    };
    ClientError::Refused {
        status,
        code: body["code"].as_str().unwrap_or("internal").to_owned(),
        message: body["message"].as_str().unwrap_or(otherwise).to_owned(),
    }
}

async fn json_of<T: for<'de> Deserialize<'de>>(
    server: &str,
    response: reqwest::Response,
) -> Result<T> {
    response
        .json()
        .await
        .map_err(|error| ClientError::Protocol {
            server: server.to_owned(),
            message: error.to_string(),
        })
}

fn http(server: &str) -> Result<reqwest::Client> {
    codexos_net::client()
        .build()
        .map_err(|error| ClientError::Unreachable {
            server: server.to_owned(),
            message: error.to_string(),
        })
}

impl TeamClient {
    /// Signs in with a password: a session of the server's length.
    pub async fn sign_in(
        server: &str,
        account: &str,
        password: &str,
    ) -> Result<(Self, TeamSession)> {
        let server = normalize(server);
        let http = http(&server)?;
        let response = answer(
            &server,
            http.post(format!("{server}/api/v1/login"))
                .json(&json!({ "account": account, "password": password })),
        )
        .await?;
        let session = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(|cookie| {
                cookie
                    .split(';')
                    .next()?
                    .trim()
                    .strip_prefix(&format!("{SESSION_COOKIE}="))
                    .map(str::to_owned)
            })
            .ok_or_else(|| ClientError::Protocol {
                server: server.clone(),
                message: "no session cookie in the answer to the sign-in".to_owned(),
            })?;
        let body: Value = json_of(&server, response).await?;
        let csrf = body["csrfToken"].as_str().unwrap_or_default().to_owned();
        let client = Self {
            server,
            http,
            session,
            csrf,
        };
        let session = client.session().await?;
        Ok((client, session))
    }

    /// Starts a sign-in through the server's OIDC provider: open the
    /// answer's URL in the browser, then [`Self::finish_oidc`] with the
    /// secret. Nothing is sent yet.
    #[must_use]
    pub fn start_oidc(server: &str) -> (OidcSignIn, OidcSecret) {
        use sha2::Digest as _;
        let server = normalize(server);
        let secret = super::auth::random_hex(32);
        let handoff = hex::encode(sha2::Sha256::digest(secret.as_bytes()));
        let started = OidcSignIn {
            url: format!("{server}/api/v1/oidc/login?handoff={handoff}"),
            code: super::oidc::handoff_code(&handoff),
            server,
        };
        (started, OidcSecret(secret))
    }

    /// Waits (polling each second, until `deadline` or `cancel`) for the
    /// person to finish the sign-in in the browser, then takes its session.
    pub async fn finish_oidc(
        started: &OidcSignIn,
        secret: &OidcSecret,
        deadline: std::time::Instant,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<(Self, TeamSession)> {
        let server = started.server.clone();
        let http = http(&server)?;
        // The server learns of the sign-in when the browser opens its page:
        // until then it knows nothing of it (404); once it did, a 404 means
        // it expired.
        let mut known = false;
        loop {
            let response = match answer(
                &server,
                http.post(format!("{server}/api/v1/oidc/handoff"))
                    .json(&json!({ "secret": secret.0 })),
            )
            .await
            {
                Err(ClientError::Refused { status: 404, .. }) if !known => None,
                Err(error) => return Err(error),
                Ok(response) => Some(response),
            };
            known |= response.is_some();
            if let Some(response) =
                response.filter(|response| response.status() == reqwest::StatusCode::OK)
            {
                let body: Value = json_of(&server, response).await?;
                let field = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
                let client = Self {
                    session: field("session"),
                    csrf: field("csrfToken"),
                    server,
                    http,
                };
                let session = client.session().await?;
                return Ok((client, session));
            }
            if std::time::Instant::now() >= deadline {
                return Err(ClientError::Refused {
                    status: 408,
                    code: "timeout".to_owned(),
                    message: "the sign-in was not finished in the browser in time — start it again"
                        .to_owned(),
                });
            }
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                () = cancel.cancelled() => {
                    return Err(ClientError::Refused {
                        status: 499,
                        code: "cancelled".to_owned(),
                        message: "the sign-in was cancelled".to_owned(),
                    });
                }
            }
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.server))
            .header(
                reqwest::header::COOKIE,
                format!("{SESSION_COOKIE}={}", self.session),
            )
            .header(CSRF_HEADER, &self.csrf)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<reqwest::Response> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(&self.server, request).await
    }

    /// The account and its roles, as the server has them now.
    pub async fn session(&self) -> Result<TeamSession> {
        let me: Value = json_of(
            &self.server,
            self.call(reqwest::Method::GET, "/api/v1/me", None).await?,
        )
        .await?;
        Ok(TeamSession {
            server: self.server.clone(),
            account: me["account"].as_str().unwrap_or_default().to_owned(),
            memberships: serde_json::from_value(me["memberships"].clone()).map_err(|error| {
                ClientError::Protocol {
                    server: self.server.clone(),
                    message: error.to_string(),
                }
            })?,
        })
    }

    /// Ends the session on the server.
    pub async fn sign_out(&self) -> Result<()> {
        self.call(reqwest::Method::POST, "/api/v1/logout", None)
            .await?;
        Ok(())
    }

    /// A workspace's flows.
    pub async fn flows(&self, workspace: &str) -> Result<Vec<RemoteFlow>> {
        let listed: Vec<Value> = json_of(
            &self.server,
            self.call(
                reqwest::Method::GET,
                &format!("/api/v1/workspaces/{workspace}/flows"),
                None,
            )
            .await?,
        )
        .await?;
        Ok(listed
            .into_iter()
            .map(|entry| RemoteFlow {
                name: entry["name"].as_str().unwrap_or_default().to_owned(),
                description: entry["flow"]["description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                forked_from: serde_json::from_value(entry["flow"]["forkedFrom"].clone()).ok(),
                error: entry["error"].as_str().map(str::to_owned),
            })
            .collect())
    }

    /// Starts a run of a flow; its id.
    pub async fn start_run(&self, workspace: &str, flow: &str, input: Value) -> Result<String> {
        let path = canvas::at(workspace, &["flows", flow, "runs"]);
        self.started(&path, json!({ "input": input })).await
    }

    /// Follows a run's events until it ends (or pauses); the status it
    /// ended with.
    pub async fn follow(
        &self,
        workspace: &str,
        run: &str,
        on_event: &(dyn Fn(RunEvent) + Send + Sync),
    ) -> Result<String> {
        self.follow_after(workspace, run, None, on_event).await
    }

    /// [`Self::follow`], from the events after sequence number `after`
    /// (a resumed run: only what is new).
    pub async fn follow_after(
        &self,
        workspace: &str,
        run: &str,
        after: Option<u64>,
        on_event: &(dyn Fn(RunEvent) + Send + Sync),
    ) -> Result<String> {
        let query = after.map_or_else(String::new, |seq| format!("?after={seq}"));
        let response = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/workspaces/{workspace}/runs/{run}/events{query}"),
                None,
            )
            .await?;
        let ended = self
            .read_events(response, |name, data| match name {
                "run" => {
                    if let Ok(event) = serde_json::from_str::<RunEvent>(data) {
                        on_event(event);
                    }
                    None
                }
                "end" => {
                    let end: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                    Some(end["status"].as_str().unwrap_or("ended").to_owned())
                }
                _ => None,
            })
            .await?;
        Ok(ended.unwrap_or_else(|| "interrupted".to_owned()))
    }

    /// The error of work the app cancelled.
    pub(super) fn cancelled(&self) -> ClientError {
        ClientError::Cancelled {
            server: self.server.clone(),
        }
    }

    /// A stream that closed before its end event.
    pub(super) fn cut_short(&self, what: &str) -> ClientError {
        ClientError::Unreachable {
            server: self.server.clone(),
            message: format!("the connection closed before the end of {what}"),
        }
    }

    /// Reads a stream of server-sent events, giving each event's name and
    /// data to `on_event` until it answers something (returned) or the
    /// stream ends (`None`).
    pub(super) async fn read_events<T>(
        &self,
        response: reqwest::Response,
        mut on_event: impl FnMut(&str, &str) -> Option<T>,
    ) -> Result<Option<T>> {
        let mut stream = response.bytes_stream();
        // Bytes, not text: a chunk may end inside a character.
        let mut buffer: Vec<u8> = Vec::new();
        let mut scanned = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| ClientError::Unreachable {
                server: self.server.clone(),
                message: error.to_string(),
            })?;
            buffer.extend_from_slice(&chunk);
            // Look for the end of an event only in what is new.
            while let Some(found) = buffer[scanned..]
                .windows(2)
                .position(|pair| pair == b"\n\n")
            {
                let end = scanned + found;
                scanned = 0;
                let block = String::from_utf8_lossy(&buffer[..end + 2]).into_owned();
                buffer.drain(..end + 2);
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event: ") {
                        value.clone_into(&mut name);
                    } else if let Some(value) = line.strip_prefix("data: ") {
                        data.push_str(value);
                    }
                }
                if let Some(answer) = on_event(&name, &data) {
                    return Ok(Some(answer));
                }
            }
            // What is left holds no end: the next look starts at its last byte.
            scanned = buffer.len().saturating_sub(1);
        }
        Ok(None)
    }

    /// Follows work streamed as `progress` events then `done` (its result)
    /// or `error` (`failed` says what failed when the server gives no
    /// message); `None` when the stream ended first.
    pub(super) async fn progress_then<P, T>(
        &self,
        response: reqwest::Response,
        on_progress: impl Fn(P),
        failed: &str,
    ) -> Result<Option<T>>
    where
        P: serde::de::DeserializeOwned,
        T: serde::de::DeserializeOwned,
    {
        self.read_events(response, |name, data| match name {
            "progress" => {
                if let Ok(event) = serde_json::from_str::<P>(data) {
                    on_progress(event);
                }
                None
            }
            "done" => {
                Some(
                    serde_json::from_str::<T>(data).map_err(|error| ClientError::Protocol {
                        server: self.server.clone(),
                        message: error.to_string(),
                    }),
                )
            }
            "error" => Some(Err(streamed_error(data, failed))),
            _ => None,
        })
        .await?
        .transpose()
    }

    /// Forks a flow into `destination` (as `name`, default its own).
    pub async fn fork(
        &self,
        workspace: &str,
        flow: &str,
        destination: &str,
        name: Option<&str>,
    ) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/workspaces/{workspace}/flows/{flow}/fork"),
            Some(json!({ "workspace": destination, "name": name })),
        )
        .await?;
        Ok(())
    }

    /// A workspace's triggers and (for admins) outgoing webhooks.
    pub async fn automation(&self, workspace: &str) -> Result<Automation> {
        let mut triggers: Vec<RemoteTrigger> = json_of(
            &self.server,
            self.call(
                reqwest::Method::GET,
                &format!("/api/v1/workspaces/{workspace}/triggers"),
                None,
            )
            .await?,
        )
        .await?;
        for trigger in &mut triggers {
            if trigger.kind == "webhook" {
                trigger.url = Some(format!("{}/api/v1/hooks/{}", self.server, trigger.id));
            }
        }
        let webhooks = match self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/workspaces/{workspace}/webhooks"),
                None,
            )
            .await
        {
            Ok(response) => Some(json_of(&self.server, response).await?),
            Err(ClientError::Refused { status: 403, .. }) => None,
            Err(error) => return Err(error),
        };
        Ok(Automation { triggers, webhooks })
    }

    /// Adds a trigger: `webhook`, or `cron` with its schedule.
    pub async fn add_trigger(
        &self,
        workspace: &str,
        kind: &str,
        flow: &str,
        schedule: Option<&str>,
    ) -> Result<MadeWithSecret> {
        let made: Value = json_of(
            &self.server,
            self.call(
                reqwest::Method::POST,
                &format!("/api/v1/workspaces/{workspace}/triggers"),
                Some(json!({ "kind": kind, "flow": flow, "schedule": schedule })),
            )
            .await?,
        )
        .await?;
        Ok(MadeWithSecret {
            id: made["id"].as_str().unwrap_or_default().to_owned(),
            url: made["path"]
                .as_str()
                .map(|path| format!("{}{path}", self.server)),
            secret: made["secret"].as_str().map(str::to_owned),
        })
    }

    /// Adds an outgoing webhook for `events` (all when empty).
    pub async fn add_webhook(
        &self,
        workspace: &str,
        url: &str,
        events: &[String],
    ) -> Result<MadeWithSecret> {
        let events = (!events.is_empty()).then_some(events);
        let made: Value = json_of(
            &self.server,
            self.call(
                reqwest::Method::POST,
                &format!("/api/v1/workspaces/{workspace}/webhooks"),
                Some(json!({ "url": url, "events": events })),
            )
            .await?,
        )
        .await?;
        Ok(MadeWithSecret {
            id: made["id"].as_str().unwrap_or_default().to_owned(),
            url: None,
            secret: made["secret"].as_str().map(str::to_owned),
        })
    }

    /// Removes a `trigger` or `webhook` by id.
    pub async fn remove_automation(&self, workspace: &str, what: &str, id: &str) -> Result<()> {
        let folder = match what {
            "trigger" => "triggers",
            "webhook" => "webhooks",
            other => {
                return Err(ClientError::Refused {
                    status: 400,
                    code: "invalid_input".to_owned(),
                    message: format!("`{other}` is neither a trigger nor a webhook"),
                })
            }
        };
        self.call(
            reqwest::Method::DELETE,
            &format!("/api/v1/workspaces/{workspace}/{folder}/{id}"),
            None,
        )
        .await?;
        Ok(())
    }

    /// An outgoing webhook's newest deliveries.
    pub async fn deliveries(&self, workspace: &str, hook: &str) -> Result<Vec<RemoteDelivery>> {
        json_of(
            &self.server,
            self.call(
                reqwest::Method::GET,
                &format!("/api/v1/workspaces/{workspace}/webhooks/{hook}/deliveries?limit=20"),
                None,
            )
            .await?,
        )
        .await
    }

    /// A share link: `view` of a run, or `run`/`fork` of a flow.
    pub async fn share(&self, workspace: &str, kind: &str, target: &str) -> Result<SharedLink> {
        let body = if kind == "view" {
            json!({ "kind": kind, "run": target })
        } else {
            json!({ "kind": kind, "flow": target })
        };
        json_of(
            &self.server,
            self.call(
                reqwest::Method::POST,
                &format!("/api/v1/workspaces/{workspace}/shares"),
                Some(body),
            )
            .await?,
        )
        .await
    }
}
