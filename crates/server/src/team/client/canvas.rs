//! The calls the app's canvas, run inspector and history make when a
//! server's workspace is the one open: the same runtime types as on this
//! machine, read from the server's REST API.

use codexos_runtime::{Flow, FlowEntry, FlowProblem, FlowVersion, RunDetail, RunSummary};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json_of, ClientError, Result, TeamClient};

/// A flow saved on a server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteSaved {
    /// The version that holds it.
    pub version: u32,
    /// What the server's check finds in it.
    #[serde(default)]
    pub problems: Vec<FlowProblem>,
}

/// Asks a server's workspace for a conversation kept on this machine (the
/// app's chat in ask mode while that workspace is open).
#[derive(Debug, Clone)]
pub struct WorkspaceAsker {
    /// Signed in to the server.
    pub client: TeamClient,
    /// The workspace whose projects answer.
    pub workspace: String,
}

impl codexos_runtime::RemoteAsker for WorkspaceAsker {
    fn origin(&self) -> String {
        format!("{}/{}", self.client.server, self.workspace)
    }

    fn ask(
        &self,
        question: String,
        project: Option<String>,
    ) -> futures::future::BoxFuture<'static, std::result::Result<codexos_runtime::Answer, String>>
    {
        let asker = self.clone();
        Box::pin(async move {
            asker
                .client
                .ask(&asker.workspace, &question, project.as_deref())
                .await
                .map_err(|error| format!("{} answered: {error}", asker.client.server))
        })
    }

    fn chat(
        &self,
        history: Vec<codexos_runtime::ChatMessage>,
        model: Option<String>,
        on_token: std::sync::Arc<dyn Fn(String) + Send + Sync>,
    ) -> futures::future::BoxFuture<'static, std::result::Result<codexos_runtime::Answer, String>>
    {
        let asker = self.clone();
        Box::pin(async move {
            asker
                .client
                .chat(&asker.workspace, &history, model.as_deref(), &*on_token)
                .await
                .map_err(|error| format!("{} answered: {error}", asker.client.server))
        })
    }

    fn agent(
        &self,
        agent: String,
        task: String,
        project: Option<String>,
        stop: tokio_util::sync::CancellationToken,
        on_event: codexos_runtime::EventSink,
    ) -> futures::future::BoxFuture<'static, std::result::Result<codexos_runtime::RunOutcome, String>>
    {
        let asker = self.clone();
        Box::pin(async move {
            let (name, version) = agent
                .split_once('@')
                .map_or((agent.as_str(), None), |(name, version)| {
                    (name, Some(version))
                });
            asker
                .client
                .agent_turn(
                    &asker.workspace,
                    name,
                    version,
                    &task,
                    project.as_deref(),
                    &stop,
                    &|event| on_event(&event),
                )
                .await
                .map_err(|error| format!("{} answered: {error}", asker.client.server))
        })
    }
}

/// A path segment or query value, percent-encoded (names come from the
/// window; the server checks them too).
pub(super) fn segment(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'@') {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// `/api/v1/workspaces/WORKSPACE/PART/…`, each part percent-encoded.
pub(super) fn at(workspace: &str, parts: &[&str]) -> String {
    let mut path = format!("/api/v1/workspaces/{}", segment(workspace));
    for part in parts {
        path.push('/');
        path.push_str(&segment(part));
    }
    path
}

impl TeamClient {
    pub(super) async fn fetch<T: for<'de> Deserialize<'de>>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T> {
        json_of(&self.server, self.call(method, path, body).await?).await
    }

    /// A call whose answer says only that it was done.
    pub(super) async fn done(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<()> {
        self.call(method, path, body).await.map(drop)
    }

    /// `value` as a request's JSON body.
    pub(super) fn body_of(&self, value: &impl serde::Serialize) -> Result<Value> {
        serde_json::to_value(value).map_err(|error| ClientError::Protocol {
            server: self.server.clone(),
            message: error.to_string(),
        })
    }

    /// The server's address.
    #[must_use]
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Whether `other` is this very session (not another sign-in).
    #[must_use]
    pub fn same_session(&self, other: &Self) -> bool {
        self.server == other.server && self.session == other.session
    }

    /// Where a workspace's flow is, as the canvas names its file.
    #[must_use]
    pub fn flow_address(&self, workspace: &str, flow: &str) -> String {
        format!("{}{}", self.server, at(workspace, &["flows", flow]))
    }

    /// A workspace's flows as the canvas lists them (a flow the server
    /// cannot read carries its error).
    pub async fn flow_entries(&self, workspace: &str) -> Result<Vec<FlowEntry>> {
        let listed: Vec<Value> = self
            .fetch(reqwest::Method::GET, &at(workspace, &["flows"]), None)
            .await?;
        Ok(listed
            .into_iter()
            .map(|entry| {
                let name = entry["name"].as_str().unwrap_or_default().to_owned();
                let (flow, error) =
                    match serde_json::from_value::<Option<Flow>>(entry["flow"].clone()) {
                        Ok(flow) => (flow, entry["error"].as_str().map(str::to_owned)),
                        Err(error) => (
                            None,
                            Some(format!("this app cannot read the server's flow: {error}")),
                        ),
                    };
                FlowEntry {
                    path: self.flow_address(workspace, &name),
                    name,
                    flow,
                    error,
                }
            })
            .collect())
    }

    /// A workspace's flow as stored on the server.
    pub async fn flow(&self, workspace: &str, name: &str) -> Result<Flow> {
        self.fetch(reqwest::Method::GET, &at(workspace, &["flows", name]), None)
            .await
    }

    /// Saves a flow on the server (a new version when it changed).
    pub async fn save_flow(&self, workspace: &str, flow: &Flow) -> Result<RemoteSaved> {
        let path = at(workspace, &["flows", &flow.name]);
        self.fetch(reqwest::Method::PUT, &path, Some(self.body_of(flow)?))
            .await
    }

    /// Deletes a flow on the server (its history is kept there).
    pub async fn delete_flow(&self, workspace: &str, name: &str) -> Result<()> {
        self.done(
            reqwest::Method::DELETE,
            &at(workspace, &["flows", name]),
            None,
        )
        .await
    }

    /// The server's check of a flow as edited (its agents, tools and
    /// sub-flows are the workspace's).
    pub async fn check_flow(&self, workspace: &str, flow: &Flow) -> Result<Vec<FlowProblem>> {
        let path = at(workspace, &["check"]);
        self.fetch(reqwest::Method::POST, &path, Some(self.body_of(flow)?))
            .await
    }

    /// A flow's saved versions, oldest first.
    pub async fn flow_versions(&self, workspace: &str, name: &str) -> Result<Vec<FlowVersion>> {
        let path = at(workspace, &["flows", name, "versions"]);
        self.fetch(reqwest::Method::GET, &path, None).await
    }

    /// The newest runs (of one flow).
    pub async fn runs(&self, workspace: &str, flow: Option<&str>) -> Result<Vec<RunSummary>> {
        let query = flow.map_or_else(String::new, |flow| format!("?flow={}", segment(flow)));
        let path = format!("{}{query}", at(workspace, &["runs"]));
        self.fetch(reqwest::Method::GET, &path, None).await
    }

    /// A run with its trace.
    pub async fn run_detail(&self, workspace: &str, run: &str) -> Result<RunDetail> {
        self.fetch(reqwest::Method::GET, &at(workspace, &["runs", run]), None)
            .await
    }

    /// Continues a paused or interrupted run on the server, answering its
    /// waiting step; follow it with [`Self::follow_after`].
    pub async fn resume(&self, workspace: &str, run: &str, answer: Option<Value>) -> Result<()> {
        let path = at(workspace, &["runs", run, "resume"]);
        self.done(
            reqwest::Method::POST,
            &path,
            Some(json!({ "answer": answer })),
        )
        .await
    }

    /// Asks the workspace's projects, or one of them (the server keeps the
    /// ask as a run).
    pub async fn ask(
        &self,
        workspace: &str,
        question: &str,
        project: Option<&str>,
    ) -> Result<codexos_runtime::Answer> {
        let body = json!({ "question": question, "project": project });
        self.fetch(reqwest::Method::POST, &at(workspace, &["ask"]), Some(body))
            .await
    }

    /// A chat turn answered by the workspace's models (`model`, else its
    /// policy): `history` is user and assistant messages, the question
    /// last; each piece of text goes to `on_token` as it comes. The turn is
    /// kept as a run there (`run_id`).
    pub async fn chat(
        &self,
        workspace: &str,
        history: &[codexos_runtime::ChatMessage],
        model: Option<&str>,
        on_token: &(dyn Fn(String) + Send + Sync),
    ) -> Result<codexos_runtime::Answer> {
        let messages: Vec<Value> = history
            .iter()
            .map(|message| {
                let role = match message.role {
                    codexos_runtime::Role::Assistant => "assistant",
                    _ => "user",
                };
                json!({ "role": role, "content": message.content })
            })
            .collect();
        let body = json!({ "messages": messages, "model": model });
        let response = self
            .call(reqwest::Method::POST, &at(workspace, &["chat"]), Some(body))
            .await?;
        let ended = self
            .read_events(response, |name, data| match name {
                "token" => {
                    let piece: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                    if let Some(text) = piece["text"].as_str() {
                        on_token(text.to_owned());
                    }
                    None
                }
                "done" => Some(
                    serde_json::from_str::<codexos_runtime::Answer>(data).map_err(|error| {
                        ClientError::Protocol {
                            server: self.server.clone(),
                            message: error.to_string(),
                        }
                    }),
                ),
                "error" => Some(Err(super::streamed_error(
                    data,
                    "the answer failed on the server",
                ))),
                _ => None,
            })
            .await?;
        ended.unwrap_or_else(|| Err(self.cut_short("the answer")))
    }

    /// The models a workspace answers with: `codexos` (its policy) first,
    /// then its providers and installed models.
    pub async fn models(&self, workspace: &str) -> Result<Vec<String>> {
        let listed: Value = self
            .fetch(
                reqwest::Method::GET,
                &at(workspace, &["openai", "v1", "models"]),
                None,
            )
            .await?;
        Ok(listed["data"]
            .as_array()
            .map(|models| {
                models
                    .iter()
                    .filter_map(|model| model["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The workspace's ingested projects.
    pub async fn projects(&self, workspace: &str) -> Result<Vec<codexos_runtime::ProjectSummary>> {
        self.fetch(reqwest::Method::GET, &at(workspace, &["projects"]), None)
            .await
    }

    /// Stops a run on the server.
    pub async fn cancel(&self, workspace: &str, run: &str) -> Result<()> {
        let path = at(workspace, &["runs", run, "cancel"]);
        self.done(reqwest::Method::POST, &path, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::{at, segment};

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(
            at("team", &["flows", "a b", "versions"]),
            "/api/v1/workspaces/team/flows/a%20b/versions"
        );
        assert_eq!(segment("gate-copy_2.v1"), "gate-copy_2.v1");
        assert_eq!(segment("../etc/passwd"), "..%2Fetc%2Fpasswd");
        assert_eq!(segment("a b?c#d"), "a%20b%3Fc%23d");
        assert_eq!(segment("é"), "%C3%A9");
    }
}
