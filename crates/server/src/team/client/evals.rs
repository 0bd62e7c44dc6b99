//! A server workspace's datasets and evals from the app: the Evals panel
//! lists, reads, creates and deletes datasets there, evaluates the
//! workspace's flows with progress streamed back (cancelling stops the
//! eval there), and reads, exports and deletes the stored reports.

use codexos_runtime::{DatasetInfo, DatasetView, EvalCase, EvalProgress, EvalReport, EvalSummary};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::canvas::{at, segment};
use super::{Result, TeamClient};

/// What an eval on a server is given (the flow and dataset are the
/// workspace's, by name; the baseline one of its evals).
#[derive(Debug, Clone, Default)]
pub struct RemoteEval {
    /// The workspace's dataset.
    pub dataset: String,
    /// Runs per case.
    pub repeat: u32,
    /// An eval id to compare with.
    pub baseline: Option<String>,
    /// Answer every call from the baseline's recording.
    pub replay: bool,
    /// Scorer specs.
    pub scorers: Vec<String>,
    /// `METRIC=VALUE` limits.
    pub thresholds: Vec<String>,
    /// The project the runs work on.
    pub project: Option<String>,
}

impl TeamClient {
    /// The workspace's datasets.
    pub async fn datasets(&self, workspace: &str) -> Result<Vec<DatasetInfo>> {
        self.fetch(reqwest::Method::GET, &at(workspace, &["datasets"]), None)
            .await
    }

    /// A dataset's cases.
    pub async fn dataset(&self, workspace: &str, name: &str) -> Result<DatasetView> {
        let path = at(workspace, &["datasets", name]);
        self.fetch(reqwest::Method::GET, &path, None).await
    }

    /// A new dataset from a JSONL or CSV file's text (`format` `jsonl` or
    /// `csv`).
    pub async fn create_dataset(
        &self,
        workspace: &str,
        name: &str,
        format: &str,
        text: &str,
    ) -> Result<DatasetInfo> {
        let body = json!({ "name": name, "format": format, "text": text });
        let path = at(workspace, &["datasets"]);
        self.fetch(reqwest::Method::POST, &path, Some(body)).await
    }

    /// Deletes a dataset.
    pub async fn delete_dataset(&self, workspace: &str, name: &str) -> Result<()> {
        let path = at(workspace, &["datasets", name]);
        self.done(reqwest::Method::DELETE, &path, None).await
    }

    /// Adds a stored run of the workspace to a dataset as a case.
    pub async fn add_run_to_dataset(
        &self,
        workspace: &str,
        dataset: &str,
        run: &str,
        expected: Option<&str>,
    ) -> Result<EvalCase> {
        let path = at(workspace, &["datasets", dataset, "runs"]);
        let body = json!({ "run": run, "expected": expected });
        self.fetch(reqwest::Method::POST, &path, Some(body)).await
    }

    /// The workspace's stored evals, newest first (of one flow when given).
    pub async fn evals(&self, workspace: &str, flow: Option<&str>) -> Result<Vec<EvalSummary>> {
        let query = flow.map_or_else(String::new, |flow| format!("?flow={}", segment(flow)));
        let path = at(workspace, &["evals"]) + &query;
        self.fetch(reqwest::Method::GET, &path, None).await
    }

    /// A stored eval's report.
    pub async fn eval_report(&self, workspace: &str, id: &str) -> Result<EvalReport> {
        let path = at(workspace, &["evals", id]);
        self.fetch(reqwest::Method::GET, &path, None).await
    }

    /// A stored eval as a baseline file holds it (with its recorded calls).
    pub async fn eval_baseline(&self, workspace: &str, id: &str) -> Result<Value> {
        let path = at(workspace, &["evals", id, "baseline"]);
        self.fetch(reqwest::Method::GET, &path, None).await
    }

    /// Deletes a stored eval (its runs stay).
    pub async fn delete_eval(&self, workspace: &str, id: &str) -> Result<()> {
        let path = at(workspace, &["evals", id]);
        self.done(reqwest::Method::DELETE, &path, None).await
    }

    /// Evaluates the workspace's `flow`, telling `progress` after each run;
    /// `cancel` stops it there (the connection is dropped).
    pub async fn run_eval(
        &self,
        workspace: &str,
        flow: &str,
        eval: &RemoteEval,
        progress: &(dyn Fn(EvalProgress) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<EvalReport> {
        let body = json!({
            "dataset": eval.dataset,
            "repeat": eval.repeat,
            "baseline": eval.baseline,
            "replay": eval.replay,
            "scorers": eval.scorers,
            "thresholds": eval.thresholds,
            "project": eval.project,
        });
        let path = at(workspace, &["flows", flow, "evals"]);
        let response = self.call(reqwest::Method::POST, &path, Some(body)).await?;
        let read = self.progress_then(response, progress, "the eval failed on the server");
        let ended = tokio::select! {
            ended = read => ended?,
            () = cancel.cancelled() => return Err(self.cancelled()),
        };
        ended.ok_or_else(|| self.cut_short("the eval (the server stopped it)"))
    }
}
