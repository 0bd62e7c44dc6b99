//! The team server: the runtime served headless to several people, with
//! accounts, roles per workspace, API tokens, sessions and limits.
//!
//! A server home holds `team.sqlite` (accounts, credentials, workspaces,
//! members, grants, failed logins and the server's own audit log) and one
//! CodexOS data home per workspace under `workspaces/<name>/`: each
//! workspace has its own flows, runs, projects, vault and audit log, so a
//! workspace's ids mean nothing in another.
//!
//! What each role may do is written once, in [`roles::ENDPOINTS`].

pub mod auth;
pub mod bench;
mod claims;
pub mod client;
pub mod roles;

mod agents;
mod analytics;
mod api;
pub mod bundles;
mod chat;
mod evals;
mod limits;
mod llm;
pub mod oidc;
mod openapi;
pub mod projects;
mod reruns;
mod share;
mod stream;
pub mod tls;
pub mod triggers;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use codexos_runtime::{ErrorCode, Home, Runtime};
use codexos_store::team::{Account, CredentialKind, Membership};
use codexos_store::Store;
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub(crate) use api::library_file;
pub use api::router;
pub use openapi::document as openapi_document;
use roles::{Role, Scope};

/// An error as the API answers it: a status and `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What failed and what to do.
    pub message: String,
    /// Seconds until a retry may succeed (sent as `Retry-After`).
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 429: over a rate limit; retry after `wait`.
    #[must_use]
    pub fn rate_limited(wait: std::time::Duration, what: &str) -> Self {
        let seconds = wait.as_secs().max(1);
        Self {
            retry_after: Some(seconds),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests {what} — try again in {seconds} s"),
            )
        }
    }

    /// 400: the request is wrong.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    /// 401: no valid credential.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: the caller may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 413: larger than it may be.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    /// 409: not in a state that allows it.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 429: locked after failed logins (the caller sets `retry_after`).
    pub fn locked(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "locked", message)
    }

    /// 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "code": self.code, "message": self.message });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<codexos_store::Error> for ApiError {
    fn from(error: codexos_store::Error) -> Self {
        tracing::error!(%error, "team database");
        Self::internal(format!("the server's database failed: {error}"))
    }
}

impl From<codexos_runtime::Error> for ApiError {
    fn from(error: codexos_runtime::Error) -> Self {
        let message = error.to_string();
        let (status, code) = match error.code() {
            ErrorCode::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorCode::InvalidInput | ErrorCode::ContextOverflow => {
                (StatusCode::BAD_REQUEST, "invalid_input")
            }
            ErrorCode::Refused => (StatusCode::FORBIDDEN, "refused"),
            ErrorCode::Cancelled => (StatusCode::CONFLICT, "cancelled"),
            ErrorCode::Tampered => (StatusCode::CONFLICT, "tampered"),
            ErrorCode::Model | ErrorCode::Provider | ErrorCode::Keychain => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Self::new(status, code, message)
    }
}

/// Request limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests per minute one credential may make.
    pub per_credential: u32,
    /// Requests per minute one address may make.
    pub per_address: u32,
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Largest upload of a project's files (one zip batch), in bytes.
    pub max_upload: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_credential: 600,
            per_address: 1200,
            max_body: 1024 * 1024,
            max_upload: 64 * 1024 * 1024,
        }
    }
}

/// How a team server is set up.
#[derive(Debug, Clone)]
pub struct TeamOptions {
    /// The server home (`team.sqlite`, `workspaces/`).
    pub home: PathBuf,
    /// Model files shared by the workspaces (`None`: each home's own).
    pub models: Option<PathBuf>,
    /// Request limits.
    pub limits: Limits,
    /// Mark cookies `Secure` (served over TLS or behind a TLS proxy).
    pub secure_cookies: bool,
    /// The wait before an outgoing webhook's first retry (doubling after).
    pub webhook_retry: Duration,
    /// Sign-in through an OIDC provider, besides passwords.
    pub oidc: Option<oidc::OidcConfig>,
    /// Let outgoing webhooks go to loopback and private addresses.
    pub private_webhooks: bool,
    /// The shortest time between two runs of a cron trigger.
    pub cron_floor: Duration,
    /// How long a run's claim lasts without renewal (servers sharing a
    /// database): a server that dies has its runs taken over by another
    /// this long after its last heartbeat.
    pub claim_lease: Duration,
    /// A PostgreSQL database (`postgres://…`) for the server's and every
    /// workspace's metadata, instead of SQLite files in the home (vectors
    /// and uploaded files stay in the home).
    pub database: Option<String>,
}

/// The schema of the server's own tables on PostgreSQL.
pub const TEAM_SCHEMA: &str = "team";

/// The schema of a workspace's metadata on PostgreSQL: `ws_<name>`, or for
/// a name too long for an identifier (63 bytes), its start and a hash.
#[must_use]
pub fn workspace_schema(workspace: &str) -> String {
    if workspace.len() <= 60 {
        format!("ws_{workspace}")
    } else {
        use sha2::Digest as _;
        let digest = hex::encode(sha2::Sha256::digest(workspace.as_bytes()));
        format!("ws_{}_{}", &workspace[..40], &digest[..16])
    }
}

/// A run going on in this process: how to stop it, and what wakes the
/// streams following it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Running {
    /// Cancels the run (at its next step; checkpointed).
    pub(crate) cancel: CancellationToken,
    /// Notified at each of its events.
    pub(crate) wake: Arc<tokio::sync::Notify>,
}

/// A team server's state.
pub struct Team {
    options: TeamOptions,
    store: Store,
    workspaces: Mutex<HashMap<String, Arc<Runtime>>>,
    /// Runs started by this process and still going, by id.
    runs: Mutex<HashMap<String, Running>>,
    /// Projects being ingested over the API.
    ingests: projects::Ingests,
    limiter: limits::Limiter,
    /// Cancelled when the server stops: event streams end.
    shutdown: CancellationToken,
    /// The key that signs share links (`share.key` in the server home).
    share_key: Vec<u8>,
    /// What wakes the scheduler and the webhook sender.
    background: triggers::Background,
    /// This process's name in run claims (random per start).
    instance: String,
    /// OIDC sign-in, when set up.
    oidc: Option<oidc::Oidc>,
}

impl std::fmt::Debug for Team {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Team")
            .field("home", &self.options.home)
            .finish_non_exhaustive()
    }
}

/// Whether `name` can name an account, workspace or secret: 1–64 of
/// letters, digits, `-`, `_`, `.`, starting with a letter or digit.
#[must_use]
pub fn plain_name(name: &str) -> bool {
    name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn checked_name<'a>(name: &'a str, what: &str) -> Result<&'a str, ApiError> {
    if plain_name(name) {
        Ok(name)
    } else {
        Err(ApiError::invalid(format!(
            "`{name}` cannot name {what}: use 1–64 letters, digits, `-`, `_` or `.`, starting with a letter or digit"
        )))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Team {
    /// Opens (creating as needed) a server home.
    pub fn open(options: TeamOptions) -> Result<Arc<Self>, ApiError> {
        std::fs::create_dir_all(options.home.join("workspaces")).map_err(|error| {
            ApiError::internal(format!(
                "cannot create the server home `{}`: {error}",
                options.home.display()
            ))
        })?;
        let store = match &options.database {
            // As `team.sqlite` (SQLite's NORMAL): a commit survives the server
            // being killed, not a power cut of the database's machine.
            Some(url) => Store::connect_with(url, TEAM_SCHEMA, codexos_store::Durability::Normal)?,
            None => Store::open(&options.home.join("team.sqlite"))?,
        };
        let share_key = share_key(&options.home.join("share.key"))?;
        if options.database.is_some() {
            same_key_as_the_other_servers(&store, &share_key)?;
        }
        let limiter = limits::Limiter::new(options.limits);
        let oidc = options.oidc.clone().map(oidc::Oidc::new).transpose()?;
        Ok(Arc::new(Self {
            options,
            store,
            workspaces: Mutex::new(HashMap::new()),
            runs: Mutex::new(HashMap::new()),
            ingests: Mutex::default(),
            limiter,
            shutdown: CancellationToken::new(),
            share_key,
            background: triggers::Background::default(),
            instance: format!("server-{}-{}", std::process::id(), &auth::random_hex(4)),
            oidc,
        }))
    }

    /// The server's database.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How the server was set up.
    #[must_use]
    pub fn options(&self) -> &TeamOptions {
        &self.options
    }

    /// Adds an account (`password`: none for one that signs in otherwise).
    pub fn add_account(&self, name: &str, password: Option<&str>) -> Result<(), ApiError> {
        checked_name(name, "an account")?;
        let hash = password.map(auth::hash_password).transpose()?;
        if !self.store.team_add_account(name, hash.as_deref())? {
            return Err(ApiError::conflict(format!("the account `{name}` exists")));
        }
        self.audit("account.add", name, json!({}));
        Ok(())
    }

    /// Sets a new password (and lifts a lock from failed logins).
    pub fn set_password(&self, name: &str, password: &str) -> Result<(), ApiError> {
        let hash = auth::hash_password(password)?;
        if !self.store.team_set_password(name, &hash)? {
            return Err(ApiError::not_found(format!("no account `{name}`")));
        }
        self.store.team_clear_login_failures(name)?;
        self.audit("account.password", name, json!({}));
        Ok(())
    }

    /// Every account.
    pub fn accounts(&self) -> Result<Vec<Account>, ApiError> {
        Ok(self.store.team_accounts()?)
    }

    /// Adds a workspace owned by `owner`.
    pub fn add_workspace(&self, name: &str, owner: &str) -> Result<(), ApiError> {
        checked_name(name, "a workspace")?;
        if self.store.team_account(owner)?.is_none() {
            return Err(ApiError::not_found(format!("no account `{owner}`")));
        }
        if !self.store.team_add_workspace(name)? {
            return Err(ApiError::conflict(format!("the workspace `{name}` exists")));
        }
        self.store
            .team_set_role(name, None, owner, Role::Owner.as_str())?;
        self.audit("workspace.add", name, json!({ "owner": owner }));
        self.runtime(name)?;
        Ok(())
    }

    /// The key that signs share links.
    pub(crate) fn share_key(&self) -> &[u8] {
        &self.share_key
    }

    /// The link text of a share (`<id>-<signature>`).
    #[must_use]
    pub fn share_link(&self, share: &codexos_store::team::Share) -> String {
        share::link_of(self, share)
    }

    /// 64 random bits as hex: an id nobody can guess.
    pub(crate) fn random_id() -> String {
        auth::random_hex(8)
    }

    /// Every workspace.
    pub fn workspaces(&self) -> Result<Vec<String>, ApiError> {
        Ok(self.store.team_workspaces()?)
    }

    /// Sets `account`'s role in `workspace` (on `flow` only, as a grant).
    pub fn set_role(
        &self,
        workspace: &str,
        flow: Option<&str>,
        account: &str,
        role: Role,
    ) -> Result<(), ApiError> {
        self.known_workspace(workspace)?;
        if self.store.team_account(account)?.is_none() {
            return Err(ApiError::not_found(format!("no account `{account}`")));
        }
        if let Some(flow) = flow {
            checked_name(flow, "a flow")?;
        }
        self.store
            .team_set_role(workspace, flow, account, role.as_str())?;
        self.audit(
            "member.set",
            account,
            json!({ "workspace": workspace, "flow": flow, "role": role.as_str() }),
        );
        Ok(())
    }

    /// Memberships and grants of a workspace, or of an account.
    pub fn memberships(
        &self,
        workspace: Option<&str>,
        account: Option<&str>,
    ) -> Result<Vec<Membership>, ApiError> {
        Ok(self.store.team_memberships(workspace, account)?)
    }

    /// Creates an API token for `account`.
    pub fn create_token(
        &self,
        account: &str,
        label: &str,
        scopes: &[Scope],
        days: u32,
    ) -> Result<auth::Minted, ApiError> {
        if !(1..=auth::MAX_TOKEN_DAYS).contains(&days) {
            return Err(ApiError::invalid(format!(
                "a token lives 1 to {} days",
                auth::MAX_TOKEN_DAYS
            )));
        }
        if scopes.is_empty() {
            return Err(ApiError::invalid(
                "a token needs at least one scope: read, run, edit or admin",
            ));
        }
        if label.trim().is_empty() || label.len() > 100 {
            return Err(ApiError::invalid(
                "a token needs a label of 1–100 characters",
            ));
        }
        if self.store.team_account(account)?.is_none() {
            return Err(ApiError::not_found(format!("no account `{account}`")));
        }
        let minted = auth::mint(
            &self.store,
            account,
            CredentialKind::Token,
            label,
            scopes,
            Duration::from_secs(u64::from(days) * 86_400),
        )?;
        self.audit(
            "token.create",
            account,
            json!({ "id": minted.credential.id, "label": label, "scopes": minted.credential.scopes, "days": days }),
        );
        Ok(minted)
    }

    fn known_workspace(&self, name: &str) -> Result<(), ApiError> {
        if self
            .store
            .team_workspaces()?
            .iter()
            .any(|known| known == name)
        {
            Ok(())
        } else {
            Err(ApiError::not_found(format!("no workspace `{name}`")))
        }
    }

    /// The runtime of a workspace, opened on first use (to set it up from
    /// the machine the server runs on: ingest a folder, …).
    pub fn runtime(&self, workspace: &str) -> Result<Arc<Runtime>, ApiError> {
        // Held while opening: two first requests open one runtime.
        let mut open = lock(&self.workspaces);
        if let Some(runtime) = open.get(workspace) {
            return Ok(Arc::clone(runtime));
        }
        self.known_workspace(workspace)?;
        let mut home = Home::new(
            self.options.home.join("workspaces").join(workspace),
            self.options.models.clone(),
        );
        if let Some(url) = &self.options.database {
            home = home.with_metadata(codexos_store::Location::Postgres {
                url: url.clone(),
                schema: workspace_schema(workspace),
            });
        }
        let runtime = Runtime::open(home)?;
        runtime.set_audit_origin("server");
        // Names from clients reach only the workspace's own datasets and
        // evals, never a file of the server's folder.
        runtime.by_name_only();
        if self.options.database.is_some() {
            runtime
                .store()
                .set_claims(codexos_store::claims::ClaimOwner {
                    owner: self.instance.clone(),
                    lease_ms: u64::try_from(self.options.claim_lease.as_millis())
                        .unwrap_or(u64::MAX),
                });
        }
        open.insert(workspace.to_owned(), Arc::clone(&runtime));
        Ok(runtime)
    }

    /// Records a change in the server's audit log.
    #[expect(
        clippy::needless_pass_by_value,
        reason = "callers build the detail in place"
    )]
    fn audit(&self, action: &str, target: &str, detail: serde_json::Value) {
        if let Err(error) = self.store.audit(action, target, &detail.to_string()) {
            tracing::error!(action, target, %error, "a change could not be recorded in the audit log");
        }
    }
}

/// Servers sharing one database must sign with one key (share links, hook
/// secrets): the first records a fingerprint of its key, the others must
/// match it.
fn same_key_as_the_other_servers(store: &Store, key: &[u8]) -> Result<(), ApiError> {
    use sha2::Digest as _;
    let fingerprint = hex::encode(sha2::Sha256::digest(key));
    if store.meta_or_set("share_key_sha256", &fingerprint)? == fingerprint {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "this server's share.key differs from the one the servers on this database sign with: copy share.key from the first server's home into this one's, or links and webhook secrets would not verify",
        ))
    }
}

/// The share-link key at `path`, made (32 random bytes, owner-only) when
/// missing. Losing it invalidates every link.
fn share_key(path: &std::path::Path) -> Result<Vec<u8>, ApiError> {
    let failed = |error: std::io::Error| {
        ApiError::internal(format!(
            "cannot read or create the share-link key `{}`: {error}",
            path.display()
        ))
    };
    match std::fs::read(path) {
        Ok(key) if key.len() == 32 => return Ok(key),
        Ok(_) => {
            return Err(ApiError::internal(format!(
                "the share-link key `{}` is not 32 bytes — restore it from a backup, or delete it (every share link stops working)",
                path.display()
            )))
        }
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(failed(error)),
        Err(_) => {}
    }
    let mut key = vec![0_u8; 32];
    argon2::password_hash::rand_core::RngCore::fill_bytes(
        &mut argon2::password_hash::rand_core::OsRng,
        &mut key,
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(failed)?;
    std::io::Write::write_all(&mut file, &key).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    Ok(key)
}

/// Serves the team API on `address` (over TLS with `tls`) until `stop` is
/// cancelled; `ready` gets the bound address (useful with port 0).
pub async fn serve_team(
    team: Arc<Team>,
    address: SocketAddr,
    tls: Option<tls::TlsAcceptor>,
    stop: CancellationToken,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;
    let listener = tokio::net::TcpListener::bind(address).await?;
    ready(listener.local_addr()?);
    let watcher = Arc::clone(&team);
    tokio::spawn(async move {
        stop.cancelled().await;
        // Event streams end; runs still going stop at their next step
        // (checkpointed: resumable).
        watcher.shutdown.cancel();
        for running in lock(&watcher.runs).values() {
            running.cancel.cancel();
        }
    });
    // Cron triggers and outgoing webhooks, until the server stops.
    tokio::spawn(triggers::schedule(Arc::clone(&team)));
    if team.options.database.is_some() {
        // Run claims: this server's heartbeat, and runs of servers that
        // died taken over.
        tokio::spawn(claims::keep(Arc::clone(&team)));
    }
    tokio::spawn(triggers::deliver(Arc::clone(&team)));
    let shutdown = team.shutdown.clone();
    let service = router(Arc::clone(&team)).into_make_service_with_connect_info::<SocketAddr>();
    let stopped = async move { shutdown.cancelled().await };
    // Both listeners go through `tap_io`, whose connections carry their
    // peer's address for the per-address limits and the audit log.
    if let Some(acceptor) = tls {
        let listener = tls::TlsListener::new(listener, acceptor)?.tap_io(|_| {});
        axum::serve(listener, service)
            .with_graceful_shutdown(stopped)
            .await
    } else {
        let listener = listener.tap_io(|stream| {
            stream.set_nodelay(true).ok();
        });
        axum::serve(listener, service)
            .with_graceful_shutdown(stopped)
            .await
    }
}
