//! A server workspace's model settings from the app: Settings → Providers
//! and Models read them there, admins reorder, add and remove providers
//! there, and a provider is tested there.

use codexos_runtime::{Completion, LlmSettings, ProviderConfig};
use serde_json::json;

use super::canvas::at;
use super::{Result, TeamClient};

impl TeamClient {
    /// The workspace's policy, providers, models and newest attempts (no
    /// secret names).
    pub async fn llm_settings(&self, workspace: &str) -> Result<LlmSettings> {
        self.fetch(reqwest::Method::GET, &at(workspace, &["llm"]), None)
            .await
    }

    /// Sets the workspace's provider order.
    pub async fn set_policy(&self, workspace: &str, order: &[String]) -> Result<()> {
        let path = at(workspace, &["llm", "policy"]);
        self.done(reqwest::Method::PUT, &path, Some(json!({ "order": order })))
            .await
    }

    /// Adds a remote provider there, its key (when given) into the
    /// workspace's vault.
    pub async fn add_provider(
        &self,
        workspace: &str,
        provider: &ProviderConfig,
        key_value: Option<&str>,
    ) -> Result<()> {
        let body = json!({ "provider": self.body_of(provider)?, "keyValue": key_value });
        let path = at(workspace, &["llm", "providers"]);
        self.done(reqwest::Method::POST, &path, Some(body)).await
    }

    /// Removes a provider there (its key stays in the vault).
    pub async fn remove_provider(&self, workspace: &str, name: &str) -> Result<()> {
        let path = at(workspace, &["llm", "providers", name]);
        self.done(reqwest::Method::DELETE, &path, None).await
    }

    /// One short request to a provider of the workspace, alone.
    pub async fn test_provider(&self, workspace: &str, name: &str) -> Result<Completion> {
        let path = at(workspace, &["llm", "providers", name, "test"]);
        self.fetch(reqwest::Method::POST, &path, None).await
    }
}
