//! A server workspace's analytics for the app's dashboard: the same
//! figures, and the runs behind one, as this machine's.

use codexos_runtime::{Dashboard, DashboardQuery, RunSummary};

use super::canvas::{at, segment};
use super::{Result, TeamClient};

/// `?name=value&…` of the values given, percent-encoded.
fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let joined: Vec<String> = pairs
        .iter()
        .filter_map(|(name, value)| value.map(|value| format!("{name}={}", segment(value))))
        .collect();
    if joined.is_empty() {
        String::new()
    } else {
        format!("?{}", joined.join("&"))
    }
}

impl TeamClient {
    /// The workspace's analytics dashboard.
    pub async fn dashboard(&self, workspace: &str, wanted: &DashboardQuery) -> Result<Dashboard> {
        let path = at(workspace, &["analytics"])
            + &query(&[
                ("from", wanted.from.as_deref()),
                ("to", wanted.to.as_deref()),
                ("by", Some(wanted.by.as_str())),
            ]);
        self.fetch(reqwest::Method::GET, &path, None).await
    }

    /// The runs behind one of its figures, newest first.
    pub async fn figure_runs(
        &self,
        workspace: &str,
        by: &str,
        value: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Vec<RunSummary>> {
        let path = at(workspace, &["analytics", "runs"])
            + &query(&[
                ("by", Some(by)),
                ("value", Some(value)),
                ("from", from),
                ("to", to),
            ]);
        self.fetch(reqwest::Method::GET, &path, None).await
    }
}
