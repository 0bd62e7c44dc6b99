//! A server workspace's agents and tools from the app: the Agents panel
//! and the canvas list, publish and pin the workspace's agents there, and
//! the chat's agent mode runs a turn there.

/// Cancels a run of the server when dropped before [`Self::disarm`]: a
/// turn the app stopped (its future dropped) stops there too.
struct CancelOnDrop {
    client: TeamClient,
    workspace: String,
    run: Option<String>,
}

impl CancelOnDrop {
    fn disarm(&mut self) {
        self.run = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(run) = self.run.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, workspace) = (self.client.clone(), self.workspace.clone());
            runtime.spawn(async move {
                // Already ended is fine.
                client.cancel(&workspace, &run).await.ok();
            });
        }
    }
}

use codexos_runtime::{
    AgentPin, AgentSpec, AgentVersion, FlowEntry, RunEvent, RunOutcome, RunStatus, ToolsOverview,
};
use serde_json::json;

use super::canvas::at;
use super::{ClientError, Result, TeamClient};

impl TeamClient {
    /// Every published agent version of the workspace.
    pub async fn agents(&self, workspace: &str) -> Result<Vec<AgentVersion>> {
        self.fetch(reqwest::Method::GET, &at(workspace, &["agents"]), None)
            .await
    }

    /// Publishes an agent there as a new immutable version.
    pub async fn publish_agent(&self, workspace: &str, spec: &AgentSpec) -> Result<AgentVersion> {
        let body = self.body_of(spec)?;
        self.fetch(
            reqwest::Method::POST,
            &at(workspace, &["agents"]),
            Some(body),
        )
        .await
    }

    /// The agent nodes of the workspace's flows and the versions they pin.
    pub async fn agent_pins(&self, workspace: &str) -> Result<Vec<AgentPin>> {
        let path = at(workspace, &["agents", "pins"]);
        self.fetch(reqwest::Method::GET, &path, None).await
    }

    /// Moves a flow's nodes using `agent` to its published `version`.
    pub async fn repin_agent(
        &self,
        workspace: &str,
        flow: &str,
        agent: &str,
        version: &str,
    ) -> Result<FlowEntry> {
        let path = at(workspace, &["flows", flow, "repin"]);
        let body = json!({ "agent": agent, "version": version });
        self.fetch(reqwest::Method::POST, &path, Some(body)).await
    }

    /// The workspace's tools and their sources' states.
    pub async fn tools(&self, workspace: &str) -> Result<ToolsOverview> {
        self.fetch(reqwest::Method::GET, &at(workspace, &["tools"]), None)
            .await
    }

    /// A turn of an agent conversation run there: `agent` (its `version`,
    /// else the newest) given `task`, its tools in `project` there; the
    /// run's events go to `on_event` as they come. Dropping the future
    /// cancels the run there.
    pub async fn agent_turn(
        &self,
        workspace: &str,
        agent: &str,
        version: Option<&str>,
        task: &str,
        project: Option<&str>,
        on_event: &(dyn Fn(RunEvent) + Send + Sync),
    ) -> Result<RunOutcome> {
        let path = at(workspace, &["agents", agent, "turns"]);
        let body = json!({ "task": task, "version": version, "project": project });
        let run = self.started(&path, body).await?;
        let mut guard = CancelOnDrop {
            client: self.clone(),
            workspace: workspace.to_owned(),
            run: Some(run.clone()),
        };
        self.follow(workspace, &run, on_event).await?;
        guard.disarm();
        let detail = self.run_detail(workspace, &run).await?;
        let status =
            RunStatus::parse(&detail.summary.status).ok_or_else(|| ClientError::Protocol {
                server: self.server.clone(),
                message: format!("run {run} ended `{}`", detail.summary.status),
            })?;
        let text = |key: &str| detail.detail[key].as_str().map(str::to_owned);
        Ok(RunOutcome {
            status,
            output: detail.detail["output"].clone(),
            error: text("error"),
            waiting: text("waiting"),
            run_id: run,
        })
    }
}
