//! The REST API: routes, the guard that enforces [`super::roles`], and the
//! handlers (each a few lines over the workspace's runtime).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequestParts as _, MatchedPath, Path, Query, RawPathParams,
    Request, State,
};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use codexos_runtime::audit::AuditActor;
use codexos_runtime::{
    AskOptions, FlowRunOptions, RerankChoice, RunEvent, RunOutcome, Runtime, SearchMode,
    SearchRequest,
};
use codexos_store::team::CredentialKind;
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::roles::{endpoint_of, Access, Permission, Role, Scope, ENDPOINTS, WORKSPACE};
use super::{
    agents, analytics, auth, chat, checked_name, lock, oidc, projects, reruns, share, triggers,
    ApiError, Running, Team,
};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "codexos_session";

/// The header that carries a session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Who is calling: set by the guard for every signed-in request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) account: String,
    credential: String,
    /// An API token (not a session).
    token: bool,
    /// When the credential expires.
    expires_at_ms: u64,
    scopes: Vec<Scope>,
    pub(crate) address: String,
}

impl Caller {
    /// Acting for `account` without a request of theirs (a trigger they
    /// made): `via` names what acts, `origin` where from.
    pub(crate) fn acting_for(account: &str, via: &str, origin: &str) -> Self {
        Self {
            account: account.to_owned(),
            credential: via.to_owned(),
            token: true,
            expires_at_ms: u64::MAX,
            scopes: vec![Scope::Admin],
            address: origin.to_owned(),
        }
    }

    pub(crate) fn actor(&self) -> AuditActor {
        AuditActor {
            who: self.account.clone(),
            origin: self.address.clone(),
        }
    }

    pub(crate) fn may(&self, permission: Permission) -> bool {
        self.scopes.iter().any(|scope| scope.covers(permission))
    }

    /// Managing the account's credentials needs a session or an `admin`
    /// token.
    fn may_manage_credentials(&self) -> ApiResult<()> {
        if Permission::ALL
            .into_iter()
            .all(|permission| self.may(permission))
        {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "managing tokens needs a session or a token with the `admin` scope — sign in, or use such a token",
            ))
        }
    }
}

/// The caller's IP address, for every routed request.
#[derive(Debug, Clone)]
pub(crate) struct Address(pub(crate) String);

/// The workspace a request is about, with the caller's role there.
#[derive(Clone)]
pub(crate) struct Workspace {
    pub(crate) name: String,
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) role: Role,
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The routes of the team API, guarded.
pub fn router(team: Arc<Team>) -> Router {
    let limits = team.limiter.limits();
    let w = |tail: &str| format!("{WORKSPACE}{tail}");
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/openapi.json", get(openapi))
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/oidc/login", get(oidc::login))
        .route("/api/v1/oidc/callback", get(oidc::callback))
        .route("/api/v1/oidc/confirm", post(oidc::confirm))
        .route("/api/v1/oidc/handoff", post(oidc::handoff))
        .route("/api/v1/me", get(me))
        .route("/api/v1/tokens", get(tokens).post(create_token))
        .route(
            "/api/v1/tokens/{token}",
            axum::routing::delete(revoke_token),
        )
        .route(&w("/flows"), get(flows))
        .route(
            &w("/flows/{flow}"),
            get(flow).put(save_flow).delete(delete_flow),
        )
        .route(&w("/flows/{flow}/versions"), get(flow_versions))
        .route(&w("/check"), post(check_flow))
        .route(&w("/flows/{flow}/runs"), post(start_run))
        .route(&w("/flows/{flow}/fork"), post(share::fork))
        .route(
            &w("/flows/{flow}/origin"),
            get(share::origin).post(share::update_from_origin),
        )
        .route(&w("/shares"), get(share::shares).post(share::create_share))
        .route(
            &w("/shares/{share}"),
            axum::routing::delete(share::revoke_share),
        )
        .route("/api/v1/shared/{link}", get(share::shared))
        .route("/api/v1/shared/{link}/runs", post(share::shared_run))
        .route("/api/v1/shared/{link}/fork", post(share::shared_fork))
        .route("/share/{link}", get(share::shared_page))
        .route(&w("/runs"), get(runs))
        .route(&w("/runs/{run}"), get(run))
        .route(&w("/runs/{run}/events"), get(run_events))
        .route(&w("/runs/{run}/cancel"), post(cancel_run))
        .route(&w("/runs/{run}/resume"), post(resume_run))
        .route(&w("/runs/{run}/replay"), post(reruns::replay))
        .route(&w("/runs/{run}/rerun"), post(reruns::rerun))
        .route(&w("/runs/{run}/fork"), post(reruns::fork))
        .route(&w("/runs/{run}/compare/{other}"), get(reruns::compare))
        .route(&w("/runs/{run}/diff/{other}"), get(reruns::diff))
        .route(&w("/openai/v1/models"), get(openai_models))
        .route(&w("/openai/v1/chat/completions"), post(openai_completions))
        .route(&w("/mcp"), post(mcp))
        .route(
            &w("/triggers"),
            get(triggers::triggers).post(triggers::create_trigger),
        )
        .route(
            &w("/triggers/{trigger}"),
            axum::routing::delete(triggers::delete_trigger),
        )
        .route("/api/v1/hooks/{trigger}", post(triggers::receive))
        .route(
            &w("/webhooks"),
            get(triggers::hooks).post(triggers::create_hook),
        )
        .route(
            &w("/webhooks/{hook}"),
            axum::routing::delete(triggers::delete_hook),
        )
        .route(&w("/webhooks/{hook}/deliveries"), get(triggers::deliveries))
        .route(&w("/projects"), get(projects))
        .merge(projects::routes(limits.max_upload))
        .merge(super::evals::routes(limits.max_upload))
        .merge(super::bundles::routes(limits.max_upload))
        .route(&w("/search"), post(search))
        .route(&w("/ask"), post(ask))
        .route(&w("/chat"), post(chat::chat))
        .merge(agents::routes())
        .merge(super::llm::routes())
        .route(&w("/analytics"), get(analytics::dashboard))
        .route(&w("/analytics/runs"), get(analytics::figure_runs))
        .route(&w("/vault"), get(secrets))
        .route(&w("/vault/{secret}"), put(set_secret).delete(remove_secret))
        .route(&w("/members"), get(members))
        .route(
            &w("/members/{account}"),
            put(set_member).delete(remove_member),
        )
        .route(&w("/audit"), get(audit))
        .route(&w("/audit/verify"), get(audit_verify))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&team), guard))
        .fallback(|| async {
            ApiError::not_found("no such endpoint — the API is listed at /openapi.json")
        })
        .layer(middleware::from_fn_with_state(
            Arc::clone(&team),
            by_address,
        ))
        .layer(DefaultBodyLimit::max(limits.max_body))
        .with_state(team)
}

fn address_of(request: &Request) -> String {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string())
}

/// Every request, routed or not: the per-address limit.
async fn by_address(State(team): State<Arc<Team>>, request: Request, next: Next) -> Response {
    let address = address_of(&request);
    let per_address = team.limiter.limits().per_address;
    if let Err(wait) = team.limiter.take(&format!("ip:{address}"), per_address) {
        return ApiError::rate_limited(wait, "from this address").into_response();
    }
    next.run(request).await
}

/// The credential a request carries: a bearer token, else the session
/// cookie (whose unsafe requests must carry the session's CSRF token).
fn credential_of(
    team: &Team,
    headers: &HeaderMap,
    method: &Method,
) -> ApiResult<(codexos_store::team::Credential, Vec<Scope>)> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let cookie = cookie_value(headers, SESSION_COOKIE);
    let (token, from_cookie) = match (bearer, cookie) {
        (Some(token), _) => (token, false),
        (None, Some(token)) => (token, true),
        (None, None) => {
            return Err(ApiError::unauthorized(
                "sign in first: send `Authorization: Bearer <token>` or the session cookie",
            ))
        }
    };
    let stored = match auth::check(team.store(), token)? {
        Ok(stored) => stored,
        Err(refusal) => return Err(ApiError::unauthorized(refusal.message())),
    };
    if from_cookie {
        if stored.credential.kind != CredentialKind::Session {
            return Err(ApiError::unauthorized(
                "the session cookie does not hold a session",
            ));
        }
        let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        let csrf = headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(auth::digest);
        if !safe && (csrf.is_none() || csrf != stored.csrf_hash) {
            return Err(ApiError::forbidden(format!(
                "a request signed in by cookie must send the session's CSRF token in `{CSRF_HEADER}`"
            )));
        }
    }
    let scopes = if stored.credential.kind == CredentialKind::Session {
        vec![Scope::Admin]
    } else {
        stored
            .credential
            .scopes
            .iter()
            .filter_map(|scope| Scope::parse(scope))
            .collect()
    };
    Ok((stored.credential, scopes))
}

/// Enforces the endpoint table: who is calling, what the route needs,
/// whether their role (or grant on the flow) and their token's scopes
/// allow it. A route missing from the table is refused.
async fn guard(State(team): State<Arc<Team>>, request: Request, next: Next) -> Response {
    match admit(&team, request).await {
        Ok((request, Some(caller))) => {
            let actor = caller.actor();
            codexos_store::audit::acting_as(actor, next.run(request)).await
        }
        Ok((request, None)) => next.run(request).await,
        Err(error) => {
            let unauthorized = error.status == StatusCode::UNAUTHORIZED;
            let mut response = error.into_response();
            if unauthorized {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            response
        }
    }
}

async fn admit(team: &Arc<Team>, request: Request) -> ApiResult<(Request, Option<Caller>)> {
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_default();
    let Some(endpoint) = endpoint_of(request.method().as_str(), &matched) else {
        if ENDPOINTS.iter().any(|endpoint| endpoint.path == matched) {
            return Err(ApiError {
                status: StatusCode::METHOD_NOT_ALLOWED,
                code: "method_not_allowed",
                message: format!("`{matched}` does not take {}", request.method()),
                retry_after: None,
            });
        }
        return Err(ApiError::internal(format!(
            "`{} {matched}` is not in the permission table — refused",
            request.method()
        )));
    };
    let (mut parts, body) = request.into_parts();
    let params: BTreeMap<String, String> = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .map_err(|error| ApiError::invalid(error.to_string()))?
        .iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    for (name, value) in &params {
        if name == "run" || name == "other" {
            if !value.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
                || value.is_empty()
                || value.len() > 64
            {
                return Err(ApiError::invalid(format!("`{value}` is not a run id")));
            }
        } else {
            checked_name(value, &format!("a {name}"))?;
        }
    }
    let mut request = Request::from_parts(parts, body);
    let address = address_of(&request);
    request.extensions_mut().insert(Address(address.clone()));
    if endpoint.access == Access::Public {
        return Ok((request, None));
    }
    let (credential, scopes) = credential_of(team, request.headers(), request.method())?;
    if let Err(wait) = team.limiter.take(
        &format!("credential:{}", credential.id),
        team.limiter.limits().per_credential,
    ) {
        return Err(ApiError::rate_limited(wait, "with this credential"));
    }
    let caller = Caller {
        token: credential.kind == CredentialKind::Token,
        expires_at_ms: credential.expires_at_ms,
        account: credential.account,
        credential: credential.id,
        scopes,
        address,
    };
    if let Access::Workspace(permission) = endpoint.access {
        let workspace = admit_workspace(team, &caller, &params, permission)?;
        request.extensions_mut().insert(workspace);
    }
    request.extensions_mut().insert(caller.clone());
    Ok((request, Some(caller)))
}

fn admit_workspace(
    team: &Team,
    caller: &Caller,
    params: &BTreeMap<String, String>,
    permission: Permission,
) -> ApiResult<Workspace> {
    let name = params.get("workspace").cloned().unwrap_or_default();
    let member = || {
        // The same answer whether the workspace exists or not.
        ApiError::not_found(format!("no workspace `{name}` that you are a member of"))
    };
    let base = team
        .store()
        .team_role(&name, None, &caller.account)?
        .and_then(|role| Role::parse(&role))
        .ok_or_else(member)?;
    let runtime = team.runtime(&name)?;
    let flow = match (params.get("flow"), params.get("run")) {
        (Some(flow), _) => Some(flow.clone()),
        (None, Some(run)) => runtime
            .run_progress(run, Some(u64::MAX))
            .ok()
            .map(|(flow, _, _)| flow),
        (None, None) => None,
    };
    let role = on_flow(team, &caller.account, &name, flow.as_deref(), base)?;
    refuse_unless(caller, &name, flow.as_deref(), role, permission)?;
    Ok(Workspace {
        name,
        runtime,
        role,
    })
}

/// An account's role in a workspace, or its grant on `flow` there (which
/// wins); `None` for a non-member.
pub(crate) fn effective_role(
    team: &Team,
    account: &str,
    workspace: &str,
    flow: Option<&str>,
) -> ApiResult<Option<Role>> {
    let Some(base) = team
        .store()
        .team_role(workspace, None, account)?
        .and_then(|role| Role::parse(&role))
    else {
        return Ok(None);
    };
    on_flow(team, account, workspace, flow, base).map(Some)
}

/// The grant on `flow` if the account has one there, else `base`.
fn on_flow(
    team: &Team,
    account: &str,
    workspace: &str,
    flow: Option<&str>,
    base: Role,
) -> ApiResult<Role> {
    let Some(flow) = flow else {
        return Ok(base);
    };
    Ok(team
        .store()
        .team_role(workspace, Some(flow), account)?
        .and_then(|role| Role::parse(&role))
        .unwrap_or(base))
}

/// Refuses unless `role` (in `workspace`, on `flow`) and the caller's
/// scopes allow `permission`, saying what is missing.
pub(crate) fn refuse_unless(
    caller: &Caller,
    name: &str,
    flow: Option<&str>,
    role: Role,
    permission: Permission,
) -> ApiResult<()> {
    if !role.allows(permission) {
        let on = flow.map_or_else(String::new, |flow| format!(" on flow `{flow}`"));
        let needs = Role::ALL
            .into_iter()
            .find(|role| role.allows(permission))
            .map_or("owner", Role::as_str);
        return Err(ApiError::forbidden(format!(
            "your role in `{name}`{on} is {} — this needs `{}` (role {needs} or above); ask a workspace admin",
            role.as_str(),
            permission.as_str()
        )));
    }
    if !caller.may(permission) {
        return Err(ApiError::forbidden(format!(
            "this token's scopes do not include `{}` — create a token with a wider scope",
            permission.as_str()
        )));
    }
    Ok(())
}

async fn health() -> Json<Value> {
    Json(json!({ "ok": true, "version": env!("CARGO_PKG_VERSION") }))
}

async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LoginRequest {
    /// Account name.
    account: String,
    /// Its password.
    password: String,
}

/// The value of cookie `name` in a request.
pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// A `Set-Cookie` value: `HttpOnly`, `Secure` when the server says so
/// (`max_age` 0 removes it).
pub(crate) fn cookie(
    team: &Team,
    name: &str,
    value: &str,
    scope: &str,
    max_age: u64,
) -> HeaderValue {
    let secure = if team.options().secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; {scope}; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(crate) fn session_cookie(team: &Team, value: &str, max_age: u64) -> HeaderValue {
    cookie(
        team,
        SESSION_COOKIE,
        value,
        "SameSite=Strict; Path=/",
        max_age,
    )
}

async fn login(
    State(team): State<Arc<Team>>,
    Extension(Address(address)): Extension<Address>,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Response> {
    if let Err(wait) = team.limiter.take(&format!("login:{address}"), 20) {
        return Err(ApiError::rate_limited(wait, "to sign in from this address"));
    }
    let checking = Arc::clone(&team);
    let (account, password, from) = (body.account.clone(), body.password, address.clone());
    tokio::task::spawn_blocking(move || auth::login(checking.store(), &account, &password, &from))
        .await
        .map_err(|error| ApiError::internal(error.to_string()))??;
    let minted = start_session(&team, &body.account, &address, "password").await?;
    let mut response = Json(json!({
        "account": body.account,
        "csrfToken": minted.csrf,
        "expiresAtMs": minted.credential.expires_at_ms,
    }))
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&team, &minted.token, auth::SESSION.as_secs()),
    );
    Ok(response)
}

/// A new app session for `account`, recorded in the server's log with how
/// it was signed in (`via`).
pub(crate) async fn start_session(
    team: &Team,
    account: &str,
    address: &str,
    via: &str,
) -> ApiResult<auth::Minted> {
    let minted = auth::mint(
        team.store(),
        account,
        CredentialKind::Session,
        "session",
        &[Scope::Admin],
        auth::SESSION,
    )?;
    codexos_store::audit::acting_as(
        AuditActor {
            who: account.to_owned(),
            origin: address.to_owned(),
        },
        async {
            team.audit(
                "session.start",
                account,
                json!({ "id": minted.credential.id, "via": via }),
            );
        },
    )
    .await;
    Ok(minted)
}

async fn logout(
    State(team): State<Arc<Team>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Response> {
    team.store()
        .team_revoke(&caller.account, &caller.credential)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&team, "", 0));
    Ok(response)
}

async fn me(
    State(team): State<Arc<Team>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    // Each role with what it allows this credential to do: the app hides
    // or disables the rest (and the server refuses it anyway).
    let memberships: Vec<Value> = team
        .memberships(None, Some(&caller.account))?
        .into_iter()
        .map(|membership| {
            let permissions: Vec<&str> = Role::parse(&membership.role)
                .map(|role| {
                    Permission::ALL
                        .into_iter()
                        .filter(|permission| role.allows(*permission) && caller.may(*permission))
                        .map(Permission::as_str)
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "workspace": membership.workspace,
                "flow": membership.flow,
                "role": membership.role,
                "permissions": permissions,
            })
        })
        .collect();
    Ok(Json(json!({
        "account": caller.account,
        "scopes": caller.scopes,
        "memberships": memberships,
    })))
}

async fn tokens(
    State(team): State<Arc<Team>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(team.store().team_credentials(
        &caller.account,
        CredentialKind::Token
    )?)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TokenRequest {
    /// What the token is for.
    label: String,
    /// `read`, `run`, `edit`, `admin`: no wider than the caller's own.
    scopes: Vec<String>,
    /// Days until it expires (1–365; default 30).
    #[serde(default)]
    expires_in_days: Option<u32>,
}

async fn create_token(
    State(team): State<Arc<Team>>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<TokenRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.may_manage_credentials()?;
    let days = body.expires_in_days.unwrap_or(30);
    let expires = codexos_store::unix_ms() + u64::from(days) * 86_400_000;
    if caller.token && expires > caller.expires_at_ms {
        return Err(ApiError::forbidden(
            "a token cannot outlive the token that creates it — ask for fewer days, or sign in and create it from the session",
        ));
    }
    let mut scopes = Vec::new();
    for name in &body.scopes {
        let scope = Scope::parse(name).ok_or_else(|| {
            ApiError::invalid(format!(
                "`{name}` is not a scope: use read, run, edit or admin"
            ))
        })?;
        let within = Permission::ALL
            .into_iter()
            .filter(|permission| scope.covers(*permission))
            .all(|permission| caller.may(permission));
        if !within {
            return Err(ApiError::forbidden(format!(
                "a token cannot be wider than the credential that creates it (scope `{name}`)"
            )));
        }
        scopes.push(scope);
    }
    let minted = team.create_token(&caller.account, &body.label, &scopes, days)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": minted.token, "credential": minted.credential })),
    ))
}

async fn revoke_token(
    State(team): State<Arc<Team>>,
    Extension(caller): Extension<Caller>,
    Path(token): Path<String>,
) -> ApiResult<StatusCode> {
    caller.may_manage_credentials()?;
    let is_token = team
        .store()
        .team_credential(&token)?
        .is_some_and(|stored| stored.credential.kind == CredentialKind::Token);
    if is_token && team.store().team_revoke(&caller.account, &token)? {
        team.audit("token.revoke", &caller.account, json!({ "id": token }));
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "you have no live token `{token}`"
        )))
    }
}

async fn flows(Extension(ws): Extension<Workspace>) -> ApiResult<Json<Value>> {
    let entries: Vec<Value> = ws
        .runtime
        .flow_library()?
        .into_iter()
        .map(|entry| json!({ "name": entry.name, "flow": entry.flow, "error": entry.error }))
        .collect();
    Ok(Json(json!(entries)))
}

async fn flow(
    Extension(ws): Extension<Workspace>,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let path = library_flow(&ws, &name)?;
    Ok(Json(json!(codexos_runtime::read_flow(&path)?)))
}

pub(crate) fn library_flow(ws: &Workspace, name: &str) -> ApiResult<PathBuf> {
    library_file(&ws.runtime, name)
        .ok_or_else(|| ApiError::not_found(format!("no flow `{name}` in `{}`", ws.name)))
}

/// The file of flow `name` in a runtime's library, named exactly as stored:
/// on a case-insensitive disk `DEPLOY` must not reach `deploy` past a grant
/// on `deploy`, and nothing outside the library is tried.
pub(crate) fn library_file(runtime: &Runtime, name: &str) -> Option<PathBuf> {
    let file = format!("{name}.flow.json");
    let flows = runtime.home().flows();
    let exact = std::fs::read_dir(&flows)
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| entry.file_name().to_str() == Some(file.as_str()));
    let path = flows.join(file);
    (exact && path.is_file()).then_some(path)
}

async fn save_flow(
    Extension(ws): Extension<Workspace>,
    Path((_, name)): Path<(String, String)>,
    Json(flow): Json<codexos_runtime::Flow>,
) -> ApiResult<Json<Value>> {
    if flow.name != name {
        return Err(ApiError::invalid(format!(
            "the flow in the body is named `{}`, the path says `{name}`",
            flow.name
        )));
    }
    // Lineage is the server's record, not the client's: kept from the
    // flow as it is, whatever the body says.
    let mut flow = flow;
    flow.forked_from = library_flow(&ws, &name)
        .ok()
        .and_then(|path| codexos_runtime::read_flow(&path).ok())
        .and_then(|current| current.forked_from);
    let (_, version) = ws.runtime.save_flow(&flow)?;
    let problems = checked(&ws, &flow);
    Ok(Json(
        json!({ "name": name, "version": version, "problems": problems }),
    ))
}

/// The check of a flow as edited, against the workspace's agents, tools
/// and flows (the app's canvas checks a server's flow with it).
async fn check_flow(
    Extension(ws): Extension<Workspace>,
    Json(flow): Json<codexos_runtime::Flow>,
) -> Json<Value> {
    Json(json!(checked(&ws, &flow)))
}

/// A flow's check on a workspace. Sub-flow paths must stay in the
/// workspace's flows folder (relative, no `..`): one that leaves it is
/// reported without looking, so a check never tells whether a file
/// elsewhere on the server exists.
fn checked(ws: &Workspace, flow: &codexos_runtime::Flow) -> Vec<codexos_runtime::FlowProblem> {
    let leaving: Vec<codexos_runtime::FlowProblem> = flow
        .nodes
        .iter()
        .filter_map(|node| {
            let kind = serde_json::to_value(&node.kind).ok()?;
            let path = kind["flow"]
                .as_str()
                .filter(|_| kind["kind"] == "subflow")?;
            let inside = std::path::Path::new(path)
                .components()
                .all(|part| matches!(part, std::path::Component::Normal(_)));
            (!inside).then(|| codexos_runtime::FlowProblem {
                severity: codexos_runtime::FlowSeverity::Error,
                node: Some(node.id.clone()),
                code: "subflow-outside".to_owned(),
                message: format!("sub-flow `{path}` is outside the workspace's flows"),
                fix: "name a flow of this workspace by its file, e.g. `other.flow.json`".to_owned(),
            })
        })
        .collect();
    let base = ws.runtime.home().flows();
    let mut problems = ws
        .runtime
        .check_flow(flow, leaving.is_empty().then_some(base.as_path()));
    problems.extend(leaving);
    problems
}

async fn delete_flow(
    Extension(ws): Extension<Workspace>,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    library_flow(&ws, &name)?;
    ws.runtime.delete_flow(&name)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn flow_versions(
    Extension(ws): Extension<Workspace>,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(ws.runtime.flow_history(&name)?)))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RunRequest {
    /// The run's input (default `{}`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub(crate) input: Option<Value>,
    /// The project the run is about (its folder is where tools work).
    #[serde(default)]
    project: Option<String>,
}

/// Starts `work` as a background run and answers with its id once its
/// first event is stored (or with the error that kept it from starting).
pub(crate) async fn launch<F, Fut>(
    team: &Arc<Team>,
    caller: &Caller,
    what: (&str, &str),
    options: FlowRunOptions,
    reserved: Option<(String, Running)>,
    work: F,
) -> ApiResult<(StatusCode, Json<Value>)>
where
    F: FnOnce(FlowRunOptions, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = codexos_runtime::Result<RunOutcome>> + Send + 'static,
{
    let (first_sender, first) = tokio::sync::oneshot::channel::<String>();
    let first_sender = Mutex::new(Some(first_sender));
    // A resume reserves its run id (and its token) before it starts, so a
    // second resume of the same run is refused; a new run registers at its
    // first event.
    let (running, started) = match reserved {
        Some((id, running)) => (running, Arc::new(Mutex::new(Some(id)))),
        None => (Running::default(), Arc::default()),
    };
    let cancel = running.cancel.clone();
    let (registry, id_slot) = (Arc::clone(team), Arc::clone(&started));
    let (workspace, flow) = (what.0.to_owned(), what.1.to_owned());
    let mut options = options;
    options.on_event = Some(Arc::new(move |event: &RunEvent| {
        if let Some(sender) = lock(&first_sender).take() {
            lock(&registry.runs).insert(event.run.clone(), running.clone());
            *lock(&id_slot) = Some(event.run.clone());
            sender.send(event.run.clone()).ok();
            triggers::queue(
                &registry,
                &workspace,
                &flow,
                "run.started",
                json!({ "runId": event.run }),
            );
        }
        // Streams following the run look again now, not at their next poll.
        running.wake.notify_waiters();
    }));
    let work = work(options, cancel);
    // Dropped when the run's task ends, however it ends (a panic too): the
    // run leaves the registry and its streams look one last time.
    let id_taken = Arc::clone(&started);
    let unregister = Unregister {
        team: Arc::clone(team),
        started,
    };
    let (ended, workspace, flow) = (Arc::clone(team), what.0.to_owned(), what.1.to_owned());
    let task = tokio::spawn(codexos_store::audit::acting_as(
        caller.actor(),
        async move {
            let _unregister = unregister;
            let outcome = work.await;
            run_ended(&ended, &workspace, &flow, &outcome);
            // A run that could not go on gives its claim up (one that ended
            // or paused did so with its status; one still `running` here
            // was stopped with the server and keeps it until it lapses, so
            // another server takes it over).
            if let (Err(_), Some(id)) = (&outcome, lock(&id_taken).clone()) {
                if let Ok(runtime) = ended.runtime(&workspace) {
                    runtime.store().release_claim(&id).ok();
                }
            }
            outcome
        },
    ));
    match first.await {
        Ok(id) => {
            team.audit(
                "run.start",
                &id,
                json!({ "workspace": what.0, "flow": what.1 }),
            );
            Ok((StatusCode::ACCEPTED, Json(json!({ "runId": id }))))
        }
        Err(_) => match task.await {
            Ok(Ok(outcome)) => Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "runId": outcome.run_id })),
            )),
            Ok(Err(error)) => Err(error.into()),
            Err(error) => Err(ApiError::internal(format!(
                "the run's task failed: {error}"
            ))),
        },
    }
}

/// Queues the hooks' event for how a run ended (a run left running, as
/// when the server stops under it, has not ended).
fn run_ended(
    team: &Team,
    workspace: &str,
    flow: &str,
    outcome: &codexos_runtime::Result<RunOutcome>,
) {
    use codexos_runtime::RunStatus;
    let (event, detail) = match outcome {
        Ok(outcome) => {
            let event = match outcome.status {
                RunStatus::Running => return,
                RunStatus::Paused => "run.paused",
                RunStatus::Succeeded => "run.succeeded",
                RunStatus::Failed => "run.failed",
                RunStatus::Cancelled => "run.cancelled",
            };
            (
                event,
                json!({
                    "runId": outcome.run_id,
                    "status": outcome.status.as_str(),
                    "output": outcome.output,
                    "error": outcome.error,
                    "waiting": outcome.waiting,
                }),
            )
        }
        Err(error) => (
            "run.failed",
            json!({ "status": "failed", "error": error.to_string() }),
        ),
    };
    triggers::queue(team, workspace, flow, event, detail);
}

/// Where tools of a run without a project work: the workspace's `work/`
/// folder — not its flows (a run must not rewrite other flows), never the
/// folder the server was started from.
pub(crate) fn work_folder(ws: &Workspace) -> ApiResult<PathBuf> {
    let folder = ws.runtime.home().root().join("work");
    std::fs::create_dir_all(&folder).map_err(|error| {
        ApiError::internal(format!(
            "cannot create the workspace's work folder `{}`: {error}",
            folder.display()
        ))
    })?;
    Ok(folder)
}

pub(crate) fn run_options(ws: &Workspace, project: Option<String>) -> ApiResult<FlowRunOptions> {
    Ok(FlowRunOptions {
        root: if project.is_none() {
            Some(work_folder(ws)?)
        } else {
            None
        },
        project,
        ..FlowRunOptions::default()
    })
}

async fn start_run(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Path((_, name)): Path<(String, String)>,
    body: Option<Json<RunRequest>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = body.map(|Json(body)| body).unwrap_or_default();
    let path = library_flow(&ws, &name)?;
    let input = body.input.unwrap_or_else(|| json!({}));
    let runtime = Arc::clone(&ws.runtime);
    let what = (ws.name.as_str(), name.as_str());
    launch(&team, &caller, what, run_options(&ws, body.project)?, None, move |options, cancel| async move {
        runtime.run_flow_file(&path, input, options, cancel).await
    })
    .await
}

/// MCP over streamable HTTP, behind the guard: the caller rides on the
/// request to the tools (the audit actor, and the flow grant a run needs).
async fn mcp(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    mut request: Request,
) -> ApiResult<Response> {
    let gate = {
        let (team, caller, workspace) = (Arc::clone(&team), caller.clone(), ws.name.clone());
        Arc::new(move |flow: &str| {
            let role = effective_role(&team, &caller.account, &workspace, Some(flow))
                .map_err(|error| error.message.clone())?
                .ok_or_else(|| format!("you are no longer a member of `{workspace}`"))?;
            refuse_unless(&caller, &workspace, Some(flow), role, Permission::Run)
                .map_err(|error| error.message)
        })
    };
    request.extensions_mut().insert(crate::mcp::McpCaller {
        actor: caller.actor(),
        may_run: gate,
    });
    let server = crate::mcp::McpServer::for_team(Arc::clone(&ws.runtime), work_folder(&ws)?);
    let mut service = server.http_service(&team.shutdown, true);
    // Always ready: it serves each request on its own.
    let response = tower_service::Service::call(&mut service, request)
        .await
        .map_err(|error| ApiError::internal(format!("MCP failed: {error}")))?;
    Ok(response.map(axum::body::Body::new))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// At most this many (default 50, at most 500).
    limit: Option<u32>,
    /// Runs of this flow only.
    flow: Option<String>,
}

async fn runs(
    Extension(ws): Extension<Workspace>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    Ok(Json(json!(ws
        .runtime
        .runs(query.flow.as_deref(), limit)?)))
}

async fn run(
    Extension(ws): Extension<Workspace>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(ws.runtime.run_detail(&id)?)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsQuery {
    /// Only events after this sequence number (also read from
    /// `Last-Event-ID` when reconnecting).
    after: Option<u64>,
}

async fn run_events(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Path((_, id)): Path<(String, String)>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    ws.runtime.run_progress(&id, Some(u64::MAX))?;
    let reconnect = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let after = query.after.max(reconnect);
    let runtime = Arc::clone(&ws.runtime);
    let stream = futures::stream::unfold(Some(after), move |state| {
        let (team, runtime, id) = (Arc::clone(&team), Arc::clone(&runtime), id.clone());
        async move {
            let after = state?;
            loop {
                // Listen before looking, so a wake-up in between is kept.
                let wake = lock(&team.runs)
                    .get(&id)
                    .map(|running| Arc::clone(&running.wake));
                let mut woken = wake.as_deref().map(|wake| Box::pin(wake.notified()));
                if let Some(woken) = woken.as_mut() {
                    woken.as_mut().enable();
                }
                let (_, status, events) = match runtime.run_progress(&id, after) {
                    Ok(progress) => progress,
                    Err(error) => {
                        let event = Event::default()
                            .event("error")
                            .data(json!({ "message": error.to_string() }).to_string());
                        return Some((vec![event], None));
                    }
                };
                if let Some(last) = events.last() {
                    return Some((sse_batch(&events), Some(Some(last.seq))));
                }
                // Running here until its task ends (its stored status may
                // lag: a resume is still `paused` until its first step).
                let live = lock(&team.runs).contains_key(&id)
                    || runtime.store().claim_holder(&id).is_ok_and(|holder| {
                        holder.is_some_and(|(owner, _)| owner != team.instance)
                    });
                if !live {
                    // The run may have ended between the read and the
                    // check: what it stored last is sent before the end,
                    // and its status is read again (it may have ended with
                    // no event left to send).
                    let mut status = status;
                    if let Ok((_, late_status, late)) = runtime.run_progress(&id, after) {
                        if let Some(last) = late.last() {
                            return Some((sse_batch(&late), Some(Some(last.seq))));
                        }
                        status = late_status;
                    }
                    // Running in the database but not here: the server
                    // stopped under it (resume it).
                    let status = if status == "running" {
                        "interrupted"
                    } else {
                        status.as_str()
                    };
                    let end = Event::default()
                        .event("end")
                        .data(json!({ "status": status }).to_string());
                    return Some((vec![end], None));
                }
                // Woken by the run's next event (the wake comes as the event
                // is made, before it is stored: the poll catches what that
                // wake-up found not yet stored) and when its task ends.
                let woken = async {
                    match woken {
                        Some(woken) => woken.await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = woken => {}
                    () = tokio::time::sleep(Duration::from_millis(250)) => {}
                    () = team.shutdown.cancelled() => return None,
                }
            }
        }
    })
    .flat_map(futures::stream::iter)
    .map(Ok::<_, Infallible>);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Takes a run out of the registry when its task ends.
struct Unregister {
    team: Arc<Team>,
    started: Arc<Mutex<Option<String>>>,
}

impl Drop for Unregister {
    fn drop(&mut self) {
        if let Some(id) = lock(&self.started).take() {
            if let Some(running) = lock(&self.team.runs).remove(&id) {
                running.wake.notify_waiters();
            }
        }
    }
}

/// Stored events as server-sent events: `id:` the sequence number.
fn sse_batch(events: &[RunEvent]) -> Vec<Event> {
    events
        .iter()
        .map(|event| {
            Event::default()
                .id(event.seq.to_string())
                .event("run")
                .data(serde_json::to_string(event).unwrap_or_default())
        })
        .collect()
}

async fn cancel_run(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    ws.runtime.run_progress(&id, Some(u64::MAX))?;
    let running = lock(&team.runs).get(&id).cloned();
    match running {
        Some(running) => {
            running.cancel.cancel();
            Ok(StatusCode::ACCEPTED)
        }
        None => Err(ApiError::conflict(format!(
            "run `{id}` is not running on this server"
        ))),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ResumeRequest {
    /// The answer to the step waiting for a person (`{"approved": true}`
    /// or the value it asks for).
    #[serde(default)]
    #[schema(value_type = Object)]
    answer: Option<Value>,
}

async fn resume_run(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
    body: Option<Json<ResumeRequest>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let answer = body.and_then(|Json(body)| body.answer);
    resume(&team, &ws, &caller, id, answer).await
}

/// Resumes a run in this process: refused while it runs here, or (servers
/// sharing a database) while another live server holds its claim.
pub(crate) async fn resume(
    team: &Arc<Team>,
    ws: &Workspace,
    caller: &Caller,
    id: String,
    answer: Option<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let runtime = Arc::clone(&ws.runtime);
    let detail = ws.runtime.run_detail(&id)?;
    let what = (ws.name.clone(), detail.summary.flow.clone());
    // A resumed run works where it worked before: its project's folder, or
    // the workspace's work folder.
    let options = super::reruns::continued(ws, &detail)?;
    // A run that has just paused (or ended) is stored so before its task
    // here is done: a client answering at once waits for that, not a 409.
    for _ in 0..40 {
        let finishing = lock(&team.runs).contains_key(&id)
            && ws
                .runtime
                .run_progress(&id, Some(u64::MAX))
                .is_ok_and(|(_, status, _)| status != "running");
        if !finishing {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let running = Running::default();
    {
        let mut runs = lock(&team.runs);
        if runs.contains_key(&id) {
            return Err(ApiError::conflict(format!(
                "run `{id}` is running — wait for it to pause or end, or cancel it"
            )));
        }
        runs.insert(id.clone(), running.clone());
    }
    let claim = ws.runtime.store().claim_run(&id);
    let refusal = match claim {
        Ok(codexos_store::claims::Claim::Held) => None,
        Ok(codexos_store::claims::Claim::Elsewhere { owner, until_ms }) => {
            let left = until_ms.saturating_sub(codexos_store::unix_ms()) / 1000 + 1;
            Some(ApiError::conflict(format!(
                "run `{id}` is running on another server ({owner}) — follow its events; if that server died, it is taken over within {left} s"
            )))
        }
        Err(error) => Some(error.into()),
    };
    if let Some(refusal) = refusal {
        lock(&team.runs).remove(&id);
        return Err(refusal);
    }
    let started =
        launch(
            team,
            caller,
            (&what.0, &what.1),
            options,
            Some((id.clone(), running)),
            {
                let id = id.clone();
                move |options, cancel| async move {
                    runtime.resume_run(&id, answer, options, cancel).await
                }
            },
        )
        .await;
    if started.is_err() {
        ws.runtime.store().release_claim(&id).ok();
    }
    started
}

async fn projects(Extension(ws): Extension<Workspace>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(ws.runtime.projects()?)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SearchBody {
    /// What to look for.
    query: String,
    /// One project (default: all).
    #[serde(default)]
    project: Option<String>,
    /// How many hits (default 8, at most 50).
    #[serde(default)]
    k: Option<u32>,
    /// `hybrid` (default), `dense` or `bm25`.
    #[serde(default)]
    mode: Option<String>,
    /// Only paths matching this glob (`src/**/*.rs`, `*.md`).
    #[serde(default)]
    path: Option<String>,
    /// Only this kind: `markdown`, `code`, `pdf`, `json`, `html`, `text`.
    #[serde(default)]
    kind: Option<String>,
    /// Only this language: `rust`, `python` …
    #[serde(default)]
    language: Option<String>,
    /// Only chunks whose lines changed at or after this time (Unix seconds).
    #[serde(default)]
    since: Option<i64>,
    /// The project as of this git revision (ingested with one).
    #[serde(default)]
    rev: Option<String>,
    /// `auto` (default), `none`, `handcrafted`, `remote` or `cross-encoder`.
    #[serde(default)]
    rerank: Option<String>,
}

impl SearchBody {
    /// The engine's request, or 400 naming the value it does not know.
    fn request(&self) -> ApiResult<SearchRequest> {
        let mode = self
            .mode
            .as_deref()
            .map_or(Ok(SearchMode::Hybrid), str::parse)
            .map_err(ApiError::invalid)?;
        let rerank = self
            .rerank
            .as_deref()
            .map_or(Ok(RerankChoice::Auto), str::parse)
            .map_err(ApiError::invalid)?;
        let mut request = SearchRequest::new(
            self.k.unwrap_or(8).clamp(1, 50),
            mode,
            self.project.as_deref(),
        );
        request.filter.path.clone_from(&self.path);
        request.filter.kind.clone_from(&self.kind);
        request.filter.language.clone_from(&self.language);
        request.filter.since = self.since;
        request.rev.clone_from(&self.rev);
        request.rerank = rerank;
        Ok(request)
    }
}

async fn search(
    Extension(ws): Extension<Workspace>,
    Json(body): Json<SearchBody>,
) -> ApiResult<Json<Value>> {
    let request = body.request()?;
    Ok(Json(json!(ws.runtime.search(&body.query, &request).await?)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AskBody {
    /// The question.
    question: String,
    /// One project (default: all).
    #[serde(default)]
    project: Option<String>,
    /// Excerpts to retrieve (default 6, at most 20).
    #[serde(default)]
    k: Option<u32>,
}

async fn ask(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Json(body): Json<AskBody>,
) -> ApiResult<Json<Value>> {
    let options = AskOptions {
        project: body.project,
        k: body.k.unwrap_or(6).clamp(1, 20) as usize,
        ..AskOptions::default()
    };
    let answer = ws
        .runtime
        .ask(
            &body.question,
            &options,
            &|_| {},
            &team.shutdown.child_token(),
        )
        .await?;
    Ok(Json(json!(answer)))
}

async fn secrets(Extension(ws): Extension<Workspace>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(ws.runtime.secret_names()?)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretBody {
    /// The value: stored encrypted, never sent back.
    value: String,
}

async fn set_secret(
    Extension(ws): Extension<Workspace>,
    Path((_, name)): Path<(String, String)>,
    Json(body): Json<SecretBody>,
) -> ApiResult<StatusCode> {
    ws.runtime
        .set_secret(&name, &secrecy::SecretString::from(body.value))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_secret(
    Extension(ws): Extension<Workspace>,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    ws.runtime.remove_secret(&name)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn members(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(team.memberships(Some(&ws.name), None)?)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberBody {
    /// `viewer`, `executor`, `creator`, `admin` or `owner`.
    role: String,
    /// A grant on this flow only, instead of the workspace role.
    #[serde(default)]
    flow: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberQuery {
    /// Remove the grant on this flow only.
    flow: Option<String>,
}

/// Whether the caller may change `account`'s role (grant on `flow`) to
/// `new` (`None`: remove it): never above their own, never someone above
/// them, and a workspace keeps an owner.
fn may_change_role(
    team: &Team,
    ws: &Workspace,
    account: &str,
    flow: Option<&str>,
    new: Option<Role>,
) -> ApiResult<()> {
    let current = team
        .store()
        .team_memberships(Some(&ws.name), Some(account))?
        .into_iter()
        .find(|membership| membership.flow.as_deref() == flow)
        .and_then(|membership| Role::parse(&membership.role));
    let workspace_role = team
        .store()
        .team_role(&ws.name, None, account)?
        .and_then(|role| Role::parse(&role));
    let above = |role: Option<Role>| role.is_some_and(|role| role > ws.role);
    if above(new) || above(current) || above(workspace_role) {
        return Err(ApiError::forbidden(format!(
            "your role is {} — you cannot give or change a role above it",
            ws.role.as_str()
        )));
    }
    if flow.is_none() && current == Some(Role::Owner) && new != Some(Role::Owner) {
        let owners = team
            .memberships(Some(&ws.name), None)?
            .into_iter()
            .filter(|membership| {
                membership.flow.is_none() && membership.role == Role::Owner.as_str()
            })
            .count();
        if owners <= 1 {
            return Err(ApiError::conflict(format!(
                "`{account}` is the last owner of `{}` — make someone else owner first",
                ws.name
            )));
        }
    }
    Ok(())
}

async fn set_member(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Path((_, account)): Path<(String, String)>,
    Json(body): Json<MemberBody>,
) -> ApiResult<StatusCode> {
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::invalid(format!(
            "`{}` is not a role: use viewer, executor, creator, admin or owner",
            body.role
        ))
    })?;
    may_change_role(&team, &ws, &account, body.flow.as_deref(), Some(role))?;
    team.set_role(&ws.name, body.flow.as_deref(), &account, role)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_member(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Path((_, account)): Path<(String, String)>,
    Query(query): Query<MemberQuery>,
) -> ApiResult<StatusCode> {
    may_change_role(&team, &ws, &account, query.flow.as_deref(), None)?;
    if team
        .store()
        .team_remove_role(&ws.name, query.flow.as_deref(), &account)?
    {
        team.audit(
            "member.remove",
            &account,
            json!({ "workspace": ws.name, "flow": query.flow }),
        );
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "`{account}` has no such role in `{}`",
            ws.name
        )))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Entries whose action is this or under it (`secret` takes `secret.use`).
    action: Option<String>,
    /// Entries whose target or detail holds this.
    text: Option<String>,
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
}

async fn audit(
    Extension(ws): Extension<Workspace>,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(ws.runtime.audit_entries(
        query.action.as_deref().unwrap_or(""),
        query.text.as_deref().unwrap_or(""),
        query.limit.unwrap_or(100).clamp(1, 1000),
    )?)))
}

async fn audit_verify(Extension(ws): Extension<Workspace>) -> ApiResult<Json<Value>> {
    let runtime = Arc::clone(&ws.runtime);
    let check = tokio::task::spawn_blocking(move || runtime.audit_verify(None))
        .await
        .map_err(|error| ApiError::internal(error.to_string()))??;
    Ok(Json(json!(check)))
}

/// The OpenAI-compatible models list, for this workspace's runtime.
async fn openai_models(Extension(ws): Extension<Workspace>) -> Response {
    crate::models(State(ws.runtime)).await
}

/// OpenAI-compatible chat completions with this workspace's models and
/// policy, behind the server's sign-in.
async fn openai_completions(
    Extension(ws): Extension<Workspace>,
    headers: HeaderMap,
    Json(request): Json<crate::CompletionRequest>,
) -> Response {
    // A model is named, never a path on the server's disk.
    if request.model.contains(['/', '\\']) || request.model.starts_with('.') {
        return ApiError::invalid(format!(
            "`{}` is not a model name: use `codexos`, a provider or an installed model (GET …/openai/v1/models)",
            request.model
        ))
        .into_response();
    }
    crate::completions(State(ws.runtime), headers, Json(request)).await
}
