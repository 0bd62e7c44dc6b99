//! A server's flow library as the app's canvas manages it: new flows (blank
//! or copied), versions and their diff, rolling back and bringing a deleted
//! flow back from its history, and how a run stands — the same results as
//! the runtime gives on this machine.

use codexos_runtime::{Flow, FlowEntry, FlowVersion, RunEvent, RunOutcome, RunStatus};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{ClientError, Result, TeamClient};

fn refused_with(status: u16, code: &str, message: String) -> ClientError {
    ClientError::Refused {
        status,
        code: code.to_owned(),
        message,
    }
}

impl TeamClient {
    fn entry(&self, workspace: &str, flow: Flow) -> FlowEntry {
        FlowEntry {
            name: flow.name.clone(),
            path: self.flow_address(workspace, &flow.name),
            flow: Some(flow),
            error: None,
        }
    }

    /// A new flow on the server: blank, or a copy of `from` (its lineage
    /// not carried: a copy is not a fork). Refuses a name that is taken.
    pub async fn create_flow(
        &self,
        workspace: &str,
        name: &str,
        from: Option<&str>,
    ) -> Result<FlowEntry> {
        let taken = self
            .flow_entries(workspace)
            .await?
            .iter()
            .any(|entry| entry.name == name);
        if taken {
            return Err(refused_with(
                409,
                "exists",
                format!("{workspace} already has a flow `{name}` — pick another name"),
            ));
        }
        let mut flow = match from {
            None => codexos_runtime::blank_flow(name)
                .map_err(|error| refused_with(400, "invalid", error.to_string()))?,
            Some(source) => self.flow(workspace, source).await?,
        };
        name.clone_into(&mut flow.name);
        flow.schema = None;
        flow.forked_from = None;
        self.save_flow(workspace, &flow).await?;
        Ok(self.entry(workspace, flow))
    }

    /// Refuses a project the workspace does not have.
    pub async fn require_project(&self, workspace: &str, name: &str) -> Result<()> {
        if self
            .projects(workspace)
            .await?
            .iter()
            .any(|known| known.name == name)
        {
            return Ok(());
        }
        Err(refused_with(
            404,
            "not_found",
            format!("{workspace} has no project `{name}` — pick one of its projects, or all"),
        ))
    }

    /// A flow's saved versions, oldest first; none for a flow never saved
    /// (as on this machine).
    pub async fn versions_kept(&self, workspace: &str, name: &str) -> Result<Vec<FlowVersion>> {
        match self.flow_versions(workspace, name).await {
            Err(ClientError::Refused { status: 404, .. }) => Ok(Vec::new()),
            other => other,
        }
    }

    async fn version(&self, workspace: &str, name: &str, version: u32) -> Result<FlowVersion> {
        self.versions_kept(workspace, name)
            .await?
            .into_iter()
            .find(|saved| saved.version == version)
            .ok_or_else(|| {
                refused_with(
                    404,
                    "not_found",
                    format!("{name} has no version {version} in {workspace}"),
                )
            })
    }

    /// A unified diff of two saved versions of a flow.
    pub async fn flow_diff(
        &self,
        workspace: &str,
        name: &str,
        from: u32,
        to: u32,
    ) -> Result<String> {
        let old = self.version(workspace, name, from).await?;
        let new = self.version(workspace, name, to).await?;
        Ok(codexos_runtime::versions_diff(&old, &new))
    }

    /// Saves `version` again as the newest (the server keeps the lineage
    /// it has).
    pub async fn rollback_flow(
        &self,
        workspace: &str,
        name: &str,
        version: u32,
    ) -> Result<FlowEntry> {
        let saved = self.version(workspace, name, version).await?;
        let flow =
            codexos_runtime::parse_flow(&saved.content).map_err(|error| ClientError::Protocol {
                server: self.server.clone(),
                message: format!("{name} v{version} cannot be read: {error}"),
            })?;
        self.save_flow(workspace, &flow).await?;
        Ok(self.entry(workspace, flow))
    }

    /// Writes a deleted flow's newest version back.
    pub async fn restore_flow(&self, workspace: &str, name: &str) -> Result<FlowEntry> {
        let newest = self
            .versions_kept(workspace, name)
            .await?
            .into_iter()
            .map(|saved| saved.version)
            .max()
            .ok_or_else(|| {
                refused_with(
                    404,
                    "not_found",
                    format!("{name} has no saved version in {workspace}"),
                )
            })?;
        self.rollback_flow(workspace, name, newest).await
    }

    /// Starts a run of the server's version of `flow`, which must be the
    /// one given (a flow changed on the server since it was read is not
    /// run).
    pub async fn start_run_of(&self, workspace: &str, flow: &Flow, input: Value) -> Result<String> {
        if &self.flow(workspace, &flow.name).await? != flow {
            return Err(refused_with(
                409,
                "changed",
                format!(
                    "{} changed on the server since it was opened here — the canvas reloads it in a moment; run it again then",
                    flow.name
                ),
            ));
        }
        self.start_run(workspace, &flow.name, input).await
    }

    /// Follows a run to its end or pause and answers how it stands. When
    /// `stop` is cancelled (now, or already before), the run is cancelled
    /// on the server and its end still streams back; a cancel the server
    /// refused is an error saying how the run ended instead.
    pub async fn follow_to_outcome(
        &self,
        workspace: &str,
        run: &str,
        after: Option<u64>,
        stop: &CancellationToken,
        on_event: &(dyn Fn(RunEvent) + Send + Sync),
    ) -> Result<RunOutcome> {
        let stopping = {
            let (client, workspace, run, stop) = (
                self.clone(),
                workspace.to_owned(),
                run.to_owned(),
                stop.clone(),
            );
            tokio::spawn(async move {
                stop.cancelled().await;
                client.cancel(&workspace, &run).await.err()
            })
        };
        let followed = self.follow_after(workspace, run, after, on_event).await;
        let refused = if stopping.is_finished() {
            stopping.await.ok().flatten()
        } else {
            stopping.abort();
            None
        };
        followed?;
        let outcome = self.run_outcome(workspace, run).await?;
        match refused {
            Some(why) if outcome.status != RunStatus::Cancelled => Err(refused_with(
                409,
                "not_stopped",
                format!(
                    "the server did not stop run {run} ({why}); it ended {}",
                    outcome.status.as_str()
                ),
            )),
            _ => Ok(outcome),
        }
    }

    /// How a run stands: its status, output, error or waiting node.
    pub async fn run_outcome(&self, workspace: &str, run: &str) -> Result<RunOutcome> {
        let detail = self.run_detail(workspace, run).await?;
        detail.outcome().ok_or_else(|| ClientError::Protocol {
            server: self.server.clone(),
            message: format!(
                "run {run} is `{}`, a status this app does not know",
                detail.summary.status
            ),
        })
    }
}
