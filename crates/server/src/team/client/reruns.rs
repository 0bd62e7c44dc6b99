//! A server's stored runs done again from the app's run inspector: replayed
//! from the recording, re-run live, forked from a node, compared — the
//! same reports as the runtime gives on this machine.

use std::collections::BTreeMap;

use codexos_runtime::{ReplayReport, RunComparison};
use serde_json::{json, Value};

use super::canvas::at;
use super::{ClientError, Result, TeamClient};

impl TeamClient {
    /// Replays a run from its recording on the server (nothing is stored
    /// there) and answers how it compares, node by node.
    pub async fn replay(&self, workspace: &str, run: &str) -> Result<ReplayReport> {
        let path = at(workspace, &["runs", run, "replay"]);
        self.fetch(reqwest::Method::POST, &path, None).await
    }

    /// Runs a run's flow again live on the server (on `model` when given):
    /// the new run's id — follow it, then [`Self::rerun_report`].
    pub async fn rerun(&self, workspace: &str, run: &str, model: Option<&str>) -> Result<String> {
        let path = at(workspace, &["runs", run, "rerun"]);
        self.started(&path, json!({ "model": model })).await
    }

    /// A new run on the server from the state just before `node` ran in
    /// `run`, with `edits` applied: its id.
    pub async fn fork_run(
        &self,
        workspace: &str,
        run: &str,
        node: &str,
        edits: BTreeMap<String, Value>,
    ) -> Result<String> {
        let path = at(workspace, &["runs", run, "fork"]);
        self.started(&path, json!({ "node": node, "edits": edits }))
            .await
    }

    /// Two of the workspace's runs side by side.
    pub async fn compare_runs(&self, workspace: &str, a: &str, b: &str) -> Result<RunComparison> {
        let path = at(workspace, &["runs", a, "compare", b]);
        self.fetch(reqwest::Method::GET, &path, None).await
    }

    /// Run `other` (a re-run of `run`) checked against `run`'s recording.
    pub async fn rerun_report(
        &self,
        workspace: &str,
        run: &str,
        other: &str,
    ) -> Result<ReplayReport> {
        let path = at(workspace, &["runs", run, "diff", other]);
        self.fetch(reqwest::Method::GET, &path, None).await
    }

    /// The id of the run a call started.
    pub(super) async fn started(&self, path: &str, body: Value) -> Result<String> {
        let started: Value = self.fetch(reqwest::Method::POST, path, Some(body)).await?;
        started["runId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Protocol {
                server: self.server.clone(),
                message: "no run id in the answer".to_owned(),
            })
    }
}
