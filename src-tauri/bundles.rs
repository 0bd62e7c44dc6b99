//! Settings → Bundles: this home's signing identity, the trust list, and
//! signed bundles exported, verified and imported — thin commands over the
//! runtime (the same code paths as `codexos keys` and `codexos bundle`).

#![allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use std::path::{Path, PathBuf};

use codexos_runtime::{BundleCheck, BundleContents, BundleImport, Signer};
use serde::Serialize;
use tauri::State;

use crate::commands::IpcError;
use crate::AppState;

/// A signer as shown: the name it claims and the fingerprint of its keys.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SignerView {
    /// The name (not verified: the keys are what is trusted).
    pub name: String,
    /// SHA-256 over both public keys, first 16 bytes, hex.
    pub fingerprint: String,
}

impl From<&Signer> for SignerView {
    fn from(signer: &Signer) -> Self {
        Self {
            name: signer.name.clone(),
            fingerprint: signer.fingerprint(),
        }
    }
}

/// The signing identity and the trust list.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BundleKeys {
    /// This home's signer, when it has keys.
    pub identity: Option<SignerView>,
    /// Signers whose bundles import without a question.
    pub trusted: Vec<SignerView>,
}

/// What a bundle holds and who vouches for it.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BundleView {
    /// Bundle name.
    pub name: String,
    /// Unix seconds it was made.
    #[specta(type = f64)]
    pub created_at: u64,
    /// `flow NAME`, `agent NAME@VERSION`, `template NAME`.
    pub files: Vec<String>,
    /// The signer, when signed (its signatures verified).
    pub signer: Option<SignerView>,
    /// Whether the signer is on the trust list.
    pub trusted: bool,
}

impl From<&BundleCheck> for BundleView {
    fn from(check: &BundleCheck) -> Self {
        Self {
            name: check.name.clone(),
            created_at: check.created_at,
            files: check.files.clone(),
            signer: check.signer.as_ref().map(SignerView::from),
            trusted: check.trusted,
        }
    }
}

/// What an import wrote.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BundleImportView {
    /// What was checked.
    pub check: BundleView,
    /// Flows written.
    pub flows: Vec<String>,
    /// Agents published (`name@version`).
    pub agents: Vec<String>,
    /// Templates written.
    pub templates: Vec<String>,
    /// Whether the signer was added to the trust list.
    pub signer_added: bool,
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|path| path.to_string_lossy().into_owned())
        .collect()
}

/// The signing identity and the trust list.
#[tauri::command]
#[specta::specta]
pub fn bundle_keys(state: State<'_, AppState>) -> Result<BundleKeys, IpcError> {
    let runtime = state.runtime()?;
    Ok(BundleKeys {
        identity: runtime.signing_identity()?.as_ref().map(SignerView::from),
        trusted: runtime
            .trust_list()?
            .signers
            .iter()
            .map(SignerView::from)
            .collect(),
    })
}

/// Makes this home's signing keys (kept in the vault).
#[tauri::command]
#[specta::specta]
pub fn bundle_generate_keys(
    state: State<'_, AppState>,
    name: String,
) -> Result<SignerView, IpcError> {
    Ok(SignerView::from(
        &state.runtime()?.generate_signing_keys(&name, false)?,
    ))
}

/// Removes a signer from the trust list.
#[tauri::command]
#[specta::specta]
pub fn bundle_untrust(
    state: State<'_, AppState>,
    fingerprint: String,
) -> Result<SignerView, IpcError> {
    Ok(SignerView::from(
        &state.runtime()?.untrust_signer(&fingerprint)?,
    ))
}

/// Writes a bundle of flows and agents to the data home's `exports/`;
/// returns the file.
#[tauri::command]
#[specta::specta]
pub fn bundle_export(
    state: State<'_, AppState>,
    name: String,
    flows: Vec<String>,
    agents: Vec<String>,
    signed: bool,
) -> Result<String, IpcError> {
    if state.remote().is_some() {
        return Err(crate::remote::only_here(
            "Exporting a bundle (of this machine's flows and agents)",
        ));
    }
    let contents = BundleContents {
        flows,
        agents,
        templates: Vec::new(),
    };
    let path = state
        .runtime()?
        .export_bundle_file(&name, &contents, signed)?;
    Ok(path.to_string_lossy().into_owned())
}

/// Verifies a bundle file without importing it — against the trust list of
/// the server's workspace while one is open.
#[tauri::command]
#[specta::specta]
pub async fn bundle_check(
    state: State<'_, AppState>,
    path: String,
) -> Result<BundleView, IpcError> {
    let runtime = state.runtime()?;
    let bytes = runtime.read_bundle(Path::new(&path))?;
    if let Some(remote) = state.remote() {
        let check = remote.client.check_bundle(&remote.workspace, bytes).await?;
        return Ok(BundleView::from(&check));
    }
    let (check, _) = runtime.check_bundle(&bytes)?;
    Ok(BundleView::from(&check))
}

/// Verifies and imports a bundle file (all or nothing) — into the server's
/// workspace while one is open; `expected_signer` is the fingerprint shown
/// when it was verified.
#[tauri::command]
#[specta::specta]
pub async fn bundle_import(
    state: State<'_, AppState>,
    path: String,
    allow_unsigned: bool,
    trust_signer: bool,
    expected_signer: Option<String>,
) -> Result<BundleImportView, IpcError> {
    let runtime = state.runtime()?;
    let bytes = runtime.read_bundle(Path::new(&path))?;
    if let Some(remote) = state.remote() {
        let imported = remote
            .client
            .import_bundle(
                &remote.workspace,
                bytes,
                allow_unsigned,
                trust_signer,
                expected_signer.as_deref(),
            )
            .await?;
        return Ok(BundleImportView {
            check: BundleView::from(&imported.check),
            flows: imported.flows,
            agents: imported.agents,
            templates: imported.templates,
            signer_added: imported.signer_added,
        });
    }
    let imported = runtime.import_bundle(
        &bytes,
        &BundleImport {
            allow_unsigned,
            trust_signer,
            expected_signer,
        },
    )?;
    Ok(BundleImportView {
        check: BundleView::from(&imported.check),
        flows: names(&imported.flows),
        agents: imported.agents,
        templates: names(&imported.templates),
        signer_added: imported.signer_added,
    })
}
