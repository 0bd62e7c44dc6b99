//! A server workspace's vault from the app: its secret names, and setting
//! or removing a secret. Values go to the server and never come back.

use serde_json::json;

use super::canvas::at;
use super::{Result, TeamClient};

impl TeamClient {
    /// The names of the workspace's secrets (never values), sorted.
    pub async fn secret_names(&self, workspace: &str) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .fetch(reqwest::Method::GET, &at(workspace, &["vault"]), None)
            .await?;
        names.sort();
        Ok(names)
    }

    /// Stores a secret in the workspace's vault (replacing one of that name).
    pub async fn set_secret(&self, workspace: &str, name: &str, value: &str) -> Result<()> {
        let path = at(workspace, &["vault", name]);
        self.done(reqwest::Method::PUT, &path, Some(json!({ "value": value })))
            .await
    }

    /// Removes a secret from the workspace's vault.
    pub async fn remove_secret(&self, workspace: &str, name: &str) -> Result<()> {
        let path = at(workspace, &["vault", name]);
        self.done(reqwest::Method::DELETE, &path, None).await
    }
}
