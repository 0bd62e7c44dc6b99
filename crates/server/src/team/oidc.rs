//! Sign-in through an OIDC provider (authorization code flow with PKCE,
//! the provider found by discovery, the ID token checked against the
//! provider's published keys).
//!
//! Accounts are not made by signing in: an administrator adds the account
//! (`codexos server account add NAME --no-password`), and the provider's
//! claim (`preferred_username` by default) names it at the first sign-in,
//! which links the provider's subject to it for good — a later sign-in by
//! another subject with the same name is refused.
//!
//! The app signs in through the browser with a hand-off: it opens
//! `/api/v1/oidc/login?handoff=<SHA-256 of a secret it keeps>`, the person
//! signs in at the provider and confirms on the server's page (which shows
//! the code the app shows), and the app collects the session with the
//! secret itself (`POST /api/v1/oidc/handoff`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Form, Json};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use super::api::{cookie, cookie_value, session_cookie, start_session, Address, ApiResult};
use super::share::escape;
use super::{auth, lock, ApiError, Team};

/// How long a started sign-in may take.
const PENDING: Duration = Duration::from_mins(10);

/// How long a finished hand-off waits for the app.
const HANDOFF: Duration = Duration::from_mins(2);

/// Where the provider is and who this server is to it.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The provider's issuer URL (discovery at
    /// `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// This server's client id at the provider.
    pub client_id: String,
    /// Its client secret (none: a public client, PKCE only).
    pub client_secret: Option<String>,
    /// This server's URL as browsers reach it (the redirect URI is
    /// `<public_url>/api/v1/oidc/callback`).
    pub public_url: String,
    /// The ID-token claim that names the account.
    pub claim: String,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the client secret.
        formatter
            .debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("public_url", &self.public_url)
            .field("claim", &self.claim)
            .finish_non_exhaustive()
    }
}

/// The provider's endpoints and keys.
#[derive(Debug, Clone)]
struct Provider {
    authorization: String,
    token: String,
    userinfo: Option<String>,
    jwks_uri: String,
    keys: jsonwebtoken::jwk::JwkSet,
    fetched: Instant,
}

/// A sign-in between the redirect to the provider and its return.
struct Pending {
    verifier: String,
    nonce: String,
    /// The app's hand-off (SHA-256 hex of its secret), if the app asked.
    handoff: Option<String>,
    started: Instant,
}

/// A sign-in waiting for the app that asked for it (its session is made
/// when the app collects it).
struct Ready {
    account: String,
    /// Confirmed on the server's page by the person who signed in.
    confirmed: bool,
    /// The one-time token of the confirmation form.
    confirm: String,
    at: Instant,
}

/// OIDC sign-in state of a server.
pub(crate) struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    provider: tokio::sync::Mutex<Option<Provider>>,
    pending: Mutex<HashMap<String, Pending>>,
    /// By hand-off.
    ready: Mutex<HashMap<String, Ready>>,
}

/// The short code the app and the confirmation page both show.
#[must_use]
pub fn handoff_code(handoff: &str) -> String {
    let upper = handoff.to_ascii_uppercase();
    format!(
        "{}-{}",
        upper.get(..4).unwrap_or_default(),
        upper.get(4..8).unwrap_or_default()
    )
}

fn unavailable(message: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "provider",
        format!("the OIDC provider failed: {message}"),
    )
}

impl Oidc {
    pub(crate) fn new(config: OidcConfig) -> Result<Self, ApiError> {
        let http = codexos_net::client()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| ApiError::internal(format!("no HTTP client: {error}")))?;
        Ok(Self {
            config,
            http,
            provider: tokio::sync::Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
            ready: Mutex::new(HashMap::new()),
        })
    }

    fn redirect_uri(&self) -> String {
        format!(
            "{}/api/v1/oidc/callback",
            self.config.public_url.trim_end_matches('/')
        )
    }

    async fn get_json(&self, url: &str) -> ApiResult<Value> {
        let response = codexos_net::send(self.http.get(url))
            .await
            .map_err(|error| unavailable(format!("{url}: {error}")))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("{url} answered {}", response.status())));
        }
        response
            .json()
            .await
            .map_err(|error| unavailable(format!("{url}: {error}")))
    }

    /// The provider, discovered once; its keys fetched again when `refresh`
    /// (a key id it does not know: the provider rotated its keys), at most
    /// once a minute.
    async fn provider(&self, refresh: bool) -> ApiResult<Provider> {
        let mut slot = self.provider.lock().await;
        if let Some(provider) = slot.as_ref() {
            if !refresh || provider.fetched.elapsed() < Duration::from_mins(1) {
                return Ok(provider.clone());
            }
        }
        let issuer = self.config.issuer.trim_end_matches('/');
        let found = self
            .get_json(&format!("{issuer}/.well-known/openid-configuration"))
            .await?;
        if found["issuer"]
            .as_str()
            .map(|found| found.trim_end_matches('/'))
            != Some(issuer)
        {
            return Err(unavailable(format!(
                "its discovery document names issuer {} — not {issuer}",
                found["issuer"]
            )));
        }
        let field = |name: &str| {
            found[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| unavailable(format!("its discovery document has no `{name}`")))
        };
        let (authorization, token, jwks_uri) = (
            field("authorization_endpoint")?,
            field("token_endpoint")?,
            field("jwks_uri")?,
        );
        if !found["code_challenge_methods_supported"]
            .as_array()
            .is_some_and(|methods| methods.iter().any(|method| method == "S256"))
        {
            return Err(unavailable("it does not announce PKCE with S256"));
        }
        let keys = serde_json::from_value(self.get_json(&jwks_uri).await?)
            .map_err(|error| unavailable(format!("its keys ({jwks_uri}): {error}")))?;
        let provider = Provider {
            authorization,
            token,
            userinfo: found["userinfo_endpoint"].as_str().map(str::to_owned),
            jwks_uri,
            keys,
            fetched: Instant::now(),
        };
        *slot = Some(provider.clone());
        Ok(provider)
    }

    fn forget_stale(&self) {
        lock(&self.pending).retain(|_, pending| pending.started.elapsed() < PENDING);
        lock(&self.ready).retain(|_, ready| ready.at.elapsed() < HANDOFF);
    }

    /// The provider's authorization URL for a new sign-in, and its state.
    async fn start(&self, handoff: Option<String>) -> ApiResult<(String, String)> {
        self.forget_stale();
        let provider = self.provider(false).await?;
        // 256 bits each; hex fits PKCE's verifier alphabet and length.
        let (state, nonce, verifier) = (
            auth::random_hex(32),
            auth::random_hex(32),
            auth::random_hex(32),
        );
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        let mut url = reqwest::Url::parse(&provider.authorization)
            .map_err(|error| unavailable(format!("its authorization endpoint: {error}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &self.redirect_uri())
            .append_pair("scope", "openid profile email")
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let mut pending = lock(&self.pending);
        if let Some(handoff) = &handoff {
            // One sign-in per hand-off: a link opened twice (or by someone
            // else) must not put another session in the app's place.
            let taken = pending
                .values()
                .any(|pending| pending.handoff.as_ref() == Some(handoff))
                || lock(&self.ready).contains_key(handoff);
            if taken {
                return Err(ApiError::conflict(
                    "this sign-in link was opened already — start the sign-in again from the app",
                ));
            }
        }
        pending.insert(
            state.clone(),
            Pending {
                verifier,
                nonce,
                handoff,
                started: Instant::now(),
            },
        );
        Ok((url.to_string(), state))
    }

    /// Exchanges `code` and checks the ID token: its claims.
    async fn finish(&self, code: &str, pending: &Pending) -> ApiResult<Value> {
        let provider = self.provider(false).await?;
        let mut request = self.http.post(&provider.token).form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri()),
            ("code_verifier", &pending.verifier),
            ("client_id", &self.config.client_id),
        ]);
        if let Some(secret) = &self.config.client_secret {
            request = request.basic_auth(&self.config.client_id, Some(secret));
        }
        let response = codexos_net::send(request)
            .await
            .map_err(|error| unavailable(format!("its token endpoint: {error}")))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(ApiError::unauthorized(format!(
                "the provider refused the sign-in code: {}",
                body["error_description"]
                    .as_str()
                    .or(body["error"].as_str())
                    .unwrap_or("no reason given")
            )));
        }
        let token = body["id_token"]
            .as_str()
            .ok_or_else(|| unavailable("its token answer has no `id_token`"))?;
        let mut claims = self.verify(token).await?;
        if claims["nonce"].as_str() != Some(pending.nonce.as_str()) {
            return Err(ApiError::unauthorized(
                "the ID token is not for this sign-in (its nonce differs)",
            ));
        }
        // Providers may keep profile claims to the UserInfo endpoint.
        let claim = self.config.claim.as_str();
        if claims.get(claim).is_none() || claim == "email" && claims.get("email_verified").is_none()
        {
            if let (Some(endpoint), Some(access)) =
                (&provider.userinfo, body["access_token"].as_str())
            {
                let info = self.userinfo(endpoint, access).await?;
                if info["sub"] != claims["sub"] {
                    return Err(ApiError::unauthorized(
                        "the provider's UserInfo is about another subject than the ID token",
                    ));
                }
                if let (Value::Object(claims), Value::Object(info)) = (&mut claims, info) {
                    for (key, value) in info {
                        claims.entry(key).or_insert(value);
                    }
                }
            }
        }
        Ok(claims)
    }

    async fn userinfo(&self, endpoint: &str, access: &str) -> ApiResult<Value> {
        let response = codexos_net::send(self.http.get(endpoint).bearer_auth(access))
            .await
            .map_err(|error| unavailable(format!("its UserInfo endpoint: {error}")))?;
        if !response.status().is_success() {
            return Err(unavailable(format!(
                "its UserInfo endpoint answered {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|error| unavailable(format!("its UserInfo endpoint: {error}")))
    }

    /// Checks an ID token's signature (the provider's key by its id, an
    /// asymmetric algorithm only), issuer, audience and expiry.
    async fn verify(&self, token: &str) -> ApiResult<Value> {
        use jsonwebtoken::Algorithm::{
            EdDSA, ES256, ES384, PS256, PS384, PS512, RS256, RS384, RS512,
        };
        let refused =
            |why: String| ApiError::unauthorized(format!("the ID token is refused: {why}"));
        let head =
            jsonwebtoken::decode_header(token).map_err(|error| refused(error.to_string()))?;
        if !matches!(
            head.alg,
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 | ES256 | ES384 | EdDSA
        ) {
            return Err(refused(format!("it is signed with {:?}", head.alg)));
        }
        let mut provider = self.provider(false).await?;
        let find = |provider: &Provider| match &head.kid {
            Some(kid) => provider.keys.find(kid).cloned(),
            None if provider.keys.keys.len() == 1 => provider.keys.keys.first().cloned(),
            None => None,
        };
        let key = if let Some(key) = find(&provider) {
            key
        } else {
            provider = self.provider(true).await?;
            find(&provider).ok_or_else(|| {
                refused(format!(
                    "its key is not among the provider's ({})",
                    provider.jwks_uri
                ))
            })?
        };
        let key = jsonwebtoken::DecodingKey::from_jwk(&key)
            .map_err(|error| refused(error.to_string()))?;
        let mut validation = jsonwebtoken::Validation::new(head.alg);
        validation.set_issuer(&[
            self.config.issuer.trim_end_matches('/'),
            &self.config.issuer,
        ]);
        validation.set_audience(&[&self.config.client_id]);
        validation.leeway = 60;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|error| refused(error.to_string()))
    }

    /// The account the claims sign in as: by the subject's link, else by
    /// the configured claim (an existing, unlinked account), linked now.
    fn account(&self, team: &Team, claims: &Value) -> ApiResult<String> {
        let issuer = self.config.issuer.trim_end_matches('/');
        let subject = claims["sub"]
            .as_str()
            .ok_or_else(|| ApiError::unauthorized("the ID token has no subject"))?;
        if let Some(account) = team.store().team_oidc_account(issuer, subject)? {
            return match team.store().team_account(&account)? {
                Some((found, _)) if !found.disabled => Ok(account),
                _ => Err(ApiError::forbidden(format!(
                    "the account `{account}` is disabled"
                ))),
            };
        }
        let claim = &self.config.claim;
        let name = claims[claim.as_str()].as_str().ok_or_else(|| {
            ApiError::forbidden(format!(
                "the provider sent no `{claim}` to name your CodexOS account — ask the server's administrator"
            ))
        })?;
        if claim == "email" && claims["email_verified"] != true {
            return Err(ApiError::forbidden(
                "the provider has not verified this email address",
            ));
        }
        match team.store().team_account(name)? {
            // Only an account made for single sign-on (no password) is
            // linked by name: a provider's user must not become a password
            // account (an admin) by choosing its name there.
            Some((account, None)) if !account.disabled => {}
            Some((account, _)) if account.disabled => {
                return Err(ApiError::forbidden(format!("the account `{name}` is disabled")))
            }
            Some(_) => {
                return Err(ApiError::forbidden(format!(
                    "the account `{name}` signs in with a password, not through the provider — ask the server's administrator"
                )))
            }
            None => {
                return Err(ApiError::forbidden(format!(
                    "there is no CodexOS account `{name}` on this server — ask its administrator to add it (`codexos server account add {name} --no-password`)"
                )))
            }
        }
        if !team.store().team_oidc_link(issuer, subject, name)? {
            return Err(ApiError::forbidden(format!(
                "the account `{name}` signs in as another identity of this provider — ask the server's administrator"
            )));
        }
        team.audit(
            "account.oidc_link",
            name,
            json!({ "issuer": issuer, "subject": subject }),
        );
        Ok(name.to_owned())
    }
}

fn configured(team: &Team) -> ApiResult<&Oidc> {
    team.oidc.as_ref().ok_or_else(|| {
        ApiError::not_found(
            "this server has no OIDC sign-in set up (see `codexos server --oidc-issuer`)",
        )
    })
}

/// A small page: no script, forms to this server only.
fn page(status: StatusCode, body: &str) -> Response {
    let mut response = (
        status,
        Html(format!(
            "<!doctype html><meta charset=utf-8><title>CodexOS sign-in</title>\
             <body style=\"font-family:sans-serif;max-width:32rem;margin:4rem auto\">{body}</body>"
        )),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn failed(error: &ApiError) -> Response {
    page(
        error.status,
        &format!("<h1>Not signed in</h1><p>{}</p>", escape(&error.message)),
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginQuery {
    /// For the app: SHA-256 (hex) of a secret it keeps, to collect the
    /// session with (`POST /api/v1/oidc/handoff`).
    handoff: Option<String>,
}

/// `GET /api/v1/oidc/login`: off to the provider.
pub(crate) async fn login(
    State(team): State<Arc<Team>>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let started = async {
        let oidc = configured(&team)?;
        if let Some(handoff) = &query.handoff {
            if handoff.len() != 64 || !handoff.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ApiError::invalid(
                    "`handoff` must be 64 hex digits (a SHA-256)",
                ));
            }
        }
        oidc.start(query.handoff.map(|handoff| handoff.to_ascii_lowercase()))
            .await
    };
    match started.await {
        Ok((url, state)) => match HeaderValue::from_str(&url) {
            Ok(location) => {
                let mut response = StatusCode::SEE_OTHER.into_response();
                response.headers_mut().insert(header::LOCATION, location);
                // The sign-in belongs to this browser: its callback must come
                // back with this cookie (`Lax`: the provider's redirect is a
                // cross-site navigation).
                response.headers_mut().insert(
                    header::SET_COOKIE,
                    state_cookie(&team, &auth::digest(&state), 600),
                );
                response
            }
            Err(error) => failed(&unavailable(error)),
        },
        Err(error) => failed(&error),
    }
}

/// The cookie that ties a sign-in to the browser that started it.
const STATE_COOKIE: &str = "codexos_oidc";

fn state_cookie(team: &Team, value: &str, max_age: u64) -> HeaderValue {
    cookie(
        team,
        STATE_COOKIE,
        value,
        "SameSite=Lax; Path=/api/v1/oidc",
        max_age,
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct CallbackQuery {
    /// The authorization code.
    code: Option<String>,
    /// The sign-in it belongs to.
    state: Option<String>,
    /// The provider's refusal.
    error: Option<String>,
    /// Its reason.
    error_description: Option<String>,
}

/// `GET /api/v1/oidc/callback`: back from the provider.
pub(crate) async fn callback(
    State(team): State<Arc<Team>>,
    Extension(Address(address)): Extension<Address>,
    headers: axum::http::HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let started_here = cookie_value(&headers, STATE_COOKIE);
    let mut response = match finish(&team, &address, query, started_here).await {
        Ok(response) => response,
        Err(error) => failed(&error),
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, state_cookie(&team, "", 0));
    response
}

async fn finish(
    team: &Team,
    address: &str,
    query: CallbackQuery,
    started_here: Option<&str>,
) -> ApiResult<Response> {
    let oidc = configured(team)?;
    if let Some(error) = query.error {
        return Err(ApiError::unauthorized(format!(
            "the provider did not sign you in: {}",
            query.error_description.unwrap_or(error)
        )));
    }
    let state = query.state.unwrap_or_default();
    if started_here != Some(auth::digest(&state).as_str()) {
        return Err(ApiError::unauthorized(
            "this sign-in was not started in this browser — start it again here",
        ));
    }
    let pending = lock(&oidc.pending)
        .remove(&state)
        .filter(|pending| pending.started.elapsed() < PENDING)
        .ok_or_else(|| {
            ApiError::unauthorized("this sign-in is unknown or took too long — start it again")
        })?;
    let code = query
        .code
        .ok_or_else(|| ApiError::invalid("the provider sent no code"))?;
    let claims = oidc.finish(&code, &pending).await?;
    let account = oidc.account(team, &claims)?;
    if let Some(handoff) = pending.handoff {
        let confirm = auth::random_hex(32);
        let code = handoff_code(&handoff);
        lock(&oidc.ready).insert(
            handoff,
            Ready {
                account: account.clone(),
                confirmed: false,
                confirm: confirm.clone(),
                at: Instant::now(),
            },
        );
        return Ok(page(
            StatusCode::OK,
            &format!(
                "<h1>Sign in to the CodexOS app?</h1><p>You signed in as <b>{}</b>. \
                 The app that asked shows the code <b>{code}</b>. If it does not, or you did \
                 not start this, close this page.</p>\
                 <form method=post action=\"/api/v1/oidc/confirm\">\
                 <input type=hidden name=confirm value=\"{}\">\
                 <button type=submit>Sign in to the app</button></form>",
                escape(&account),
                escape(&confirm)
            ),
        ));
    }
    let minted = start_session(team, &account, address, "oidc").await?;
    let mut response = page(
        StatusCode::OK,
        &format!(
            "<h1>Signed in</h1><p>This browser is signed in to CodexOS as <b>{}</b>.</p>",
            escape(&account)
        ),
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(team, &minted.token, auth::SESSION.as_secs()),
    );
    Ok(response)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmForm {
    /// The confirmation page's one-time token.
    confirm: String,
}

/// `POST /api/v1/oidc/confirm`: the person confirms the app's sign-in.
pub(crate) async fn confirm(
    State(team): State<Arc<Team>>,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let Ok(oidc) = configured(&team) else {
        return failed(&ApiError::not_found("no OIDC sign-in here"));
    };
    let mut ready = lock(&oidc.ready);
    match ready
        .values_mut()
        .find(|ready| ready.confirm == form.confirm && ready.at.elapsed() < HANDOFF)
    {
        Some(waiting) => {
            waiting.confirmed = true;
            page(
                StatusCode::OK,
                "<h1>Signed in</h1><p>Go back to the CodexOS app: it is signed in. You can close this page.</p>",
            )
        }
        None => failed(&ApiError::not_found(
            "this confirmation is unknown or expired — start the sign-in again from the app",
        )),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HandoffRequest {
    /// The secret whose SHA-256 the app sent as `handoff`.
    secret: String,
}

/// `POST /api/v1/oidc/handoff`: the app collects its session (once).
pub(crate) async fn handoff(
    State(team): State<Arc<Team>>,
    Extension(Address(address)): Extension<Address>,
    Json(body): Json<HandoffRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let oidc = configured(&team)?;
    oidc.forget_stale();
    let key = hex::encode(Sha256::digest(body.secret.as_bytes()));
    let collected = {
        let mut ready = lock(&oidc.ready);
        match ready.get(&key) {
            Some(waiting) if waiting.confirmed => ready.remove(&key).map(|ready| ready.account),
            Some(_) => return Ok((StatusCode::ACCEPTED, Json(json!({ "pending": "confirm" })))),
            None => None,
        }
    };
    if let Some(account) = collected {
        let minted = start_session(&team, &account, &address, "oidc").await?;
        return Ok((
            StatusCode::OK,
            Json(json!({
                "account": account,
                "session": minted.token,
                "csrfToken": minted.csrf,
                "expiresAtMs": minted.credential.expires_at_ms,
            })),
        ));
    }
    match () {
        () if lock(&oidc.pending)
            .values()
            .any(|pending| pending.handoff.as_deref() == Some(key.as_str())) =>
        {
            Ok((StatusCode::ACCEPTED, Json(json!({ "pending": "provider" }))))
        }
        () => Err(ApiError::not_found(
            "no sign-in is waiting for this hand-off (expired, or not started)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc() -> Oidc {
        Oidc::new(OidcConfig {
            // Nothing listens here: a check that reached the network fails
            // differently.
            issuer: "http://127.0.0.1:9".to_owned(),
            client_id: "codexos".to_owned(),
            client_secret: None,
            public_url: "http://127.0.0.1:7420".to_owned(),
            claim: "preferred_username".to_owned(),
        })
        .expect("oidc")
    }

    fn token(header: &str, claims: &str) -> String {
        let part = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        format!("{}.{}.c2ln", part(header), part(claims))
    }

    #[tokio::test]
    async fn tokens_with_a_shared_secret_or_no_signature_are_refused_before_any_key_is_fetched() {
        let claims = r#"{"sub":"eve","iss":"http://127.0.0.1:9","aud":"codexos","exp":9999999999}"#;
        let hs256 = oidc()
            .verify(&token(r#"{"alg":"HS256","typ":"JWT"}"#, claims))
            .await
            .expect_err("HS256 refused");
        assert!(hs256.message.contains("HS256"), "{hs256}");
        let none = oidc()
            .verify(&token(r#"{"alg":"none","typ":"JWT"}"#, claims))
            .await
            .expect_err("none refused");
        assert!(none.message.contains("refused"), "{none}");
        // Positive control: an RS256 token goes on to fetch the provider's
        // keys (and fails there, nothing listening).
        let rs256 = oidc()
            .verify(&token(r#"{"alg":"RS256","typ":"JWT","kid":"k"}"#, claims))
            .await
            .expect_err("no provider");
        assert!(rs256.message.contains("provider failed"), "{rs256}");
    }

    #[test]
    fn the_handoff_code_is_the_first_eight_hex_digits() {
        assert_eq!(handoff_code("abcdef0123456789"), "ABCD-EF01");
    }
}
