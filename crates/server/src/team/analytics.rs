//! A workspace's analytics over the API: the dashboard the app shows (runs,
//! failures, tokens, cost, latency, fallbacks, day by day and by a
//! dimension) and the runs behind one of its figures. Anyone who may read
//! the workspace's runs reads them.

use axum::extract::Query;
use axum::{Extension, Json};
use codexos_runtime::{Dashboard, DashboardQuery, RunSummary};
use serde::Deserialize;

use super::api::{ApiResult, Workspace};
use super::ApiError;

/// The dashboard's range and breakdown.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnalyticsQuery {
    /// First day, `YYYY-MM-DD` (UTC; default 29 days before `to`).
    #[serde(default)]
    from: Option<String>,
    /// Last day, included (default today, UTC).
    #[serde(default)]
    to: Option<String>,
    /// `flow` (default), `node`, `provider`, `model` or `project`.
    #[serde(default)]
    by: Option<String>,
}

/// The runs behind a figure.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct FigureQuery {
    /// `all` or a dimension (`flow`, `node`, `provider`, `model`, `project`).
    by: String,
    /// The dimension's value (for `all`, anything).
    value: String,
    /// First day, `YYYY-MM-DD` (default as the dashboard's).
    #[serde(default)]
    from: Option<String>,
    /// Last day, included.
    #[serde(default)]
    to: Option<String>,
}

/// Most runs a figure lists.
const FIGURE_RUNS: u32 = 200;

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> codexos_runtime::Result<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::internal(error.to_string()))?
        .map_err(ApiError::from)
}

/// `GET …/analytics`: the dashboard.
pub(crate) async fn dashboard(
    Extension(ws): Extension<Workspace>,
    Query(query): Query<AnalyticsQuery>,
) -> ApiResult<Json<Dashboard>> {
    let query = DashboardQuery {
        from: query.from,
        to: query.to,
        by: query.by.unwrap_or_else(|| "flow".to_owned()),
    };
    let runtime = ws.runtime;
    Ok(Json(blocking(move || runtime.dashboard(&query)).await?))
}

/// `GET …/analytics/runs`: the runs behind a figure, newest first.
pub(crate) async fn figure_runs(
    Extension(ws): Extension<Workspace>,
    Query(query): Query<FigureQuery>,
) -> ApiResult<Json<Vec<RunSummary>>> {
    let runtime = ws.runtime;
    Ok(Json(
        blocking(move || {
            runtime.figure_runs(
                &query.by,
                &query.value,
                query.from.as_deref(),
                query.to.as_deref(),
                FIGURE_RUNS,
            )
        })
        .await?,
    ))
}
