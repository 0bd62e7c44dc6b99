//! Share links as the app opens them: a run to view read-only (no sign-in
//! needed), or a flow to run or to fork with its lineage (signed in to the
//! link's server).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{answer, http, json_of, normalize, ClientError, Result, SharedRun, TeamClient};

/// What a share link opens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct OpenedLink {
    /// The server that made it.
    pub server: String,
    /// The link's id.
    pub link: String,
    /// `view` (a run, read-only), `run` or `fork` (a flow).
    pub kind: String,
    /// The workspace it shares from.
    pub workspace: String,
    /// The run a view link shows.
    pub run: Option<SharedRun>,
    /// The flow a run or fork link offers.
    pub flow: Option<String>,
    /// What that flow does.
    pub description: String,
}

fn protocol(server: &str, message: String) -> ClientError {
    ClientError::Protocol {
        server: server.to_owned(),
        message,
    }
}

/// Opens a share link of `server` (no sign-in needed to see what it
/// shares).
pub async fn open_link(server: &str, link: &str) -> Result<OpenedLink> {
    let server = normalize(server);
    let path = format!("{server}/api/v1/shared/{}", super::canvas::segment(link));
    let response = answer(&server, http(&server)?.get(path)).await?;
    let opened: Value = json_of(&server, response).await?;
    let kind = opened["kind"].as_str().unwrap_or_default().to_owned();
    let workspace = opened["workspace"].as_str().unwrap_or_default().to_owned();
    let mut link = OpenedLink {
        server: server.clone(),
        link: link.to_owned(),
        kind,
        workspace: workspace.clone(),
        run: None,
        flow: None,
        description: String::new(),
    };
    match link.kind.as_str() {
        "view" => {
            let run = &opened["run"];
            let events = serde_json::from_value(run["events"].clone())
                .map_err(|error| protocol(&server, error.to_string()))?;
            let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
            link.run = Some(SharedRun {
                workspace,
                flow: text(&run["summary"]["flow"]),
                run: text(&run["summary"]["id"]),
                status: text(&run["summary"]["status"]),
                events,
            });
        }
        "run" | "fork" => {
            link.flow = opened["flow"]["name"].as_str().map(str::to_owned);
            opened["flow"]["description"]
                .as_str()
                .unwrap_or_default()
                .clone_into(&mut link.description);
        }
        other => {
            return Err(protocol(
                &server,
                format!("a share link of kind `{other}`, which this app does not know"),
            ))
        }
    }
    Ok(link)
}

/// What a view link opens: the run, read-only.
pub async fn open_shared(server: &str, link: &str) -> Result<SharedRun> {
    let opened = open_link(server, link).await?;
    opened.run.ok_or_else(|| ClientError::Refused {
        status: 400,
        code: "not_a_run".to_owned(),
        message: format!(
            "this link lets you {} a flow — sign in to use it",
            opened.kind
        ),
    })
}

impl TeamClient {
    /// Runs the flow of a run link: the new run's id (in the link's
    /// workspace).
    pub async fn run_link(&self, link: &str, input: Value) -> Result<String> {
        let path = format!("/api/v1/shared/{}/runs", super::canvas::segment(link));
        self.started(&path, json!({ "input": input })).await
    }

    /// Forks the flow of a fork link into `workspace` (where this account
    /// may edit), as `name` (default: the original's): the copy's name. The
    /// copy records where it came from.
    pub async fn fork_link(
        &self,
        link: &str,
        workspace: &str,
        name: Option<&str>,
    ) -> Result<String> {
        let path = format!("/api/v1/shared/{}/fork", super::canvas::segment(link));
        let made: Value = self
            .fetch(
                reqwest::Method::POST,
                &path,
                Some(json!({ "workspace": workspace, "name": name })),
            )
            .await?;
        made["name"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| protocol(&self.server, "no flow name in the answer".to_owned()))
    }
}
