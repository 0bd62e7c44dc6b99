//! A server workspace's agents and tools from the app: the Agents panel
//! and the canvas list, publish and pin the workspace's agents there, and
//! the chat's agent mode runs a turn there.

use codexos_runtime::{
    AgentPin, AgentSpec, AgentVersion, FlowEntry, RunEvent, RunOutcome, ToolsOverview,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::canvas::at;
use super::{Result, TeamClient};

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
    /// run's events go to `on_event` as they come. `stop` cancels the run
    /// there (also when it comes before the run started).
    #[allow(clippy::too_many_arguments)]
    pub async fn agent_turn(
        &self,
        workspace: &str,
        agent: &str,
        version: Option<&str>,
        task: &str,
        project: Option<&str>,
        stop: &CancellationToken,
        on_event: &(dyn Fn(RunEvent) + Send + Sync),
    ) -> Result<RunOutcome> {
        let path = at(workspace, &["agents", agent, "turns"]);
        let body = json!({ "task": task, "version": version, "project": project });
        let run = self.started(&path, body).await?;
        self.follow_to_outcome(workspace, &run, None, stop, on_event)
            .await
    }
}
