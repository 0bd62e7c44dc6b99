//! A workspace's model settings over the API, as Settings → Providers /
//! Models shows them: the provider policy, the configured providers, the
//! models installed on the server and the newest router attempts; admins
//! reorder the policy and add or remove providers (a provider's key goes
//! into the workspace's vault, never back out); a provider is tested with
//! one short request.
//!
//! Installing models and offline mode stay with the server's machine:
//! models are files there, and offline mode is the whole process's.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router};
use codexos_runtime::{Completion, LlmSettings, ProviderConfig};
use serde::Deserialize;

use super::api::{ApiResult, Workspace};
use super::roles::WORKSPACE;
use super::{ApiError, Team};

/// The provider order.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyBody {
    /// Provider names, first tried first (`local` is the installed model).
    order: Vec<String>,
}

/// A remote provider to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ProviderBody {
    /// The `[[providers]]` entry: name, kind (`openai` or `anthropic`),
    /// base URL, model, key (a vault name), context size, tools, timeout.
    #[schema(value_type = Object)]
    provider: ProviderConfig,
    /// The API key, stored in the workspace's vault under the entry's key
    /// name (never sent back).
    #[serde(default)]
    key_value: Option<String>,
}

/// `GET …/llm`: the policy, offline, models, newest attempts and the
/// configured providers (no secret names: the vault lists those).
async fn settings(Extension(ws): Extension<Workspace>) -> ApiResult<Json<LlmSettings>> {
    Ok(Json(ws.runtime.llm_settings(false)?))
}

/// `PUT …/llm/policy`: checked, written to the workspace's config.toml,
/// used from the next request on.
async fn set_policy(
    Extension(ws): Extension<Workspace>,
    Json(body): Json<PolicyBody>,
) -> ApiResult<StatusCode> {
    ws.runtime.set_policy(body.order)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/llm/providers`: checked as on a machine (name free, kind, URL,
/// key a vault name), then written.
async fn add_provider(
    Extension(ws): Extension<Workspace>,
    Json(body): Json<ProviderBody>,
) -> ApiResult<StatusCode> {
    let key = body
        .key_value
        .filter(|value| !value.is_empty())
        .map(secrecy::SecretString::from);
    ws.runtime.add_provider(body.provider, key.as_ref())?;
    Ok(StatusCode::CREATED)
}

/// `DELETE …/llm/providers/{provider}` (its key stays in the vault).
async fn remove_provider(
    Extension(ws): Extension<Workspace>,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    ws.runtime.remove_provider(&name)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/llm/providers/{provider}/test`: one short request to it alone.
async fn test_provider(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<Json<Completion>> {
    // A name only: never a model file found elsewhere on the server.
    if !ws.runtime.knows_provider(&name) {
        return Err(ApiError::not_found(format!(
            "the workspace has no provider `{name}` — `GET …/llm` lists them"
        )));
    }
    let cancel = team.shutdown.child_token();
    Ok(Json(ws.runtime.test_provider(&name, &cancel).await?))
}

/// The routes of the model settings.
pub(crate) fn routes() -> Router<Arc<Team>> {
    let w = |tail: &str| format!("{WORKSPACE}/llm{tail}");
    Router::new()
        .route(&w(""), get(settings))
        .route(&w("/policy"), put(set_policy))
        .route(&w("/providers"), post(add_provider))
        .route(&w("/providers/{provider}"), delete(remove_provider))
        .route(&w("/providers/{provider}/test"), post(test_provider))
}
