//! Bundles into a workspace over the API: a bundle verified against the
//! workspace's trust list, and imported there all or nothing — its flows
//! (a new version when one exists, lineage kept with the signer), its
//! agents published, its templates. Installing never runs anything.
//!
//! The caller must be allowed to edit every flow the bundle writes (a
//! per-flow grant that narrows their role holds here too), and adding a
//! signer to the workspace's trust list is an admin's decision.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Extension, Json, Router};
use codexos_runtime::{BundleCheck, BundleImport, MAX_BUNDLE_BYTES};
use serde::{Deserialize, Serialize};

use super::api::{effective_role, refuse_unless, ApiResult, Caller, Workspace};
use super::roles::{Permission, WORKSPACE};
use super::{ApiError, Team};

/// How an import may proceed.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ImportQuery {
    /// Import an unsigned bundle (a tampered one never imports).
    #[serde(default)]
    allow_unsigned: bool,
    /// Add its unknown signer to the workspace's trust list (`secrets`:
    /// admins and owners) and import.
    #[serde(default)]
    trust_signer: bool,
    /// The fingerprint the user verified: a bundle signed by anyone else is
    /// refused.
    #[serde(default)]
    expected_signer: Option<String>,
}

/// What an import wrote into the workspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedBundle {
    /// What was checked.
    pub check: BundleCheck,
    /// Flows written (by name; a new version when one existed).
    pub flows: Vec<String>,
    /// Agents published (`name@version`).
    pub agents: Vec<String>,
    /// Templates written (by name).
    pub templates: Vec<String>,
    /// Whether the signer was added to the workspace's trust list.
    pub signer_added: bool,
}

/// 413 for a body larger than a bundle may be.
fn sized(body: &Bytes) -> ApiResult<()> {
    if body.len() > MAX_BUNDLE_BYTES {
        return Err(ApiError::too_large(format!(
            "a bundle is at most {} MiB",
            MAX_BUNDLE_BYTES / (1024 * 1024)
        )));
    }
    Ok(())
}

/// `POST …/bundles/check`: what the bundle holds, its signer and whether
/// the workspace trusts it (nothing written).
async fn check(Extension(ws): Extension<Workspace>, body: Bytes) -> ApiResult<Json<BundleCheck>> {
    sized(&body)?;
    Ok(Json(ws.runtime.check_bundle(&body)?.0))
}

/// `POST …/bundles`: verified, then imported all or nothing.
async fn import(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<ImportQuery>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ImportedBundle>)> {
    sized(&body)?;
    let (checked, _) = ws.runtime.check_bundle(&body)?;
    let may = |flow: Option<&str>, permission: Permission| {
        let role = effective_role(&team, &caller.account, &ws.name, flow)?
            .ok_or_else(|| ApiError::not_found(format!("no workspace `{}`", ws.name)))?;
        refuse_unless(&caller, &ws.name, flow, role, permission)
    };
    // Each flow it writes, as its grant allows (checked before any write).
    for flow in checked
        .files
        .iter()
        .filter_map(|file| file.strip_prefix("flow "))
    {
        may(Some(flow), Permission::Edit)?;
    }
    // Whatever the check found (the trust list may change before the
    // import looks again).
    if query.trust_signer {
        may(None, Permission::Secrets)?;
    }
    let imported = ws.runtime.import_bundle(
        &body,
        &BundleImport {
            allow_unsigned: query.allow_unsigned,
            trust_signer: query.trust_signer,
            expected_signer: query.expected_signer,
        },
    )?;
    let names = |paths: &[PathBuf]| -> Vec<String> {
        paths
            .iter()
            .filter_map(|path| path.file_name()?.to_str())
            .map(|name| name.strip_suffix(".flow.json").unwrap_or(name).to_owned())
            .collect()
    };
    Ok((
        StatusCode::CREATED,
        Json(ImportedBundle {
            flows: names(&imported.flows),
            templates: names(&imported.templates),
            agents: imported.agents,
            signer_added: imported.signer_added,
            check: imported.check,
        }),
    ))
}

/// The routes of bundles (a bundle may be as large as an upload allows).
pub(crate) fn routes(max_upload: usize) -> Router<Arc<Team>> {
    let w = |tail: &str| format!("{WORKSPACE}/bundles{tail}");
    Router::new()
        .route(
            &w(""),
            post(import).layer(DefaultBodyLimit::max(max_upload)),
        )
        .route(
            &w("/check"),
            post(check).layer(DefaultBodyLimit::max(max_upload)),
        )
}
