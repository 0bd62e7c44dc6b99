//! Bundles into a server's workspace from the app: Settings → Bundles
//! verifies a bundle file of this machine against the workspace's trust
//! list and imports it there.

use codexos_runtime::BundleCheck;

use super::canvas::at;
use super::{answer, json_of, Result, TeamClient};
use crate::team::bundles::ImportedBundle;

impl TeamClient {
    async fn send_bundle<T: for<'de> serde::Deserialize<'de>>(
        &self,
        path: &str,
        bytes: Vec<u8>,
    ) -> Result<T> {
        let request = self
            .request(reqwest::Method::POST, path)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes);
        json_of(&self.server, answer(&self.server, request).await?).await
    }

    /// What a bundle holds and whether the workspace trusts its signer.
    pub async fn check_bundle(&self, workspace: &str, bytes: Vec<u8>) -> Result<BundleCheck> {
        self.send_bundle(&at(workspace, &["bundles", "check"]), bytes)
            .await
    }

    /// Imports a bundle into the workspace, all or nothing.
    pub async fn import_bundle(
        &self,
        workspace: &str,
        bytes: Vec<u8>,
        allow_unsigned: bool,
        trust_signer: bool,
        expected_signer: Option<&str>,
    ) -> Result<ImportedBundle> {
        let expected = expected_signer.map_or_else(String::new, |fingerprint| {
            format!("&expectedSigner={}", super::canvas::segment(fingerprint))
        });
        let path = at(workspace, &["bundles"])
            + &format!("?allowUnsigned={allow_unsigned}&trustSigner={trust_signer}{expected}");
        self.send_bundle(&path, bytes).await
    }
}
