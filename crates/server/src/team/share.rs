//! Share links and forks.
//!
//! A share link reads `<id>-<signature>`: the id finds the row (workspace,
//! kind, target, expiry, revocation), the signature — HMAC-SHA256 over the
//! id, workspace, kind, target and expiry with the server's share key,
//! truncated to 128 bits — proves the server made it, so ids cannot be
//! guessed or edited into another link. Kinds: `view` (a run's trace,
//! read-only, to anyone with the link), `run` and `fork` (a flow, for a
//! signed-in account).
//!
//! A fork is a copy of a flow that records its origin (`forkedFrom`):
//! `workspace:NAME`, the flow and the version copied. "Update from origin"
//! shows the diff to the origin's newest version, then applies exactly the
//! version whose diff was shown.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use codexos_runtime::{flow_change, read_flow, Flow, ForkOrigin, Runtime};
use codexos_store::team::Share;
use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

use super::api::{
    effective_role, launch, library_flow, refuse_unless, run_options, ApiResult, Caller, Workspace,
};
use super::roles::Permission;
use super::{checked_name, ApiError, Team};

/// Longest life of a share link.
pub const MAX_SHARE_DAYS: u32 = 90;

fn signature(key: &[u8], share: &Share) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    for part in [
        share.id.as_str(),
        share.workspace.as_str(),
        share.kind.as_str(),
        share.target.as_str(),
        &share.expires_at_ms.to_string(),
    ] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// The link text of a share.
pub(crate) fn link_of(team: &Team, share: &Share) -> String {
    format!("{}-{}", share.id, signature(team.share_key(), share))
}

/// The share a link names, checked: signature, not revoked, not expired.
fn open_link(team: &Team, link: &str) -> ApiResult<Share> {
    let refused = || ApiError::not_found("this share link is not valid — ask for a new one");
    let (id, given) = link.split_once('-').ok_or_else(refused)?;
    let share = team.store().team_share(id)?.ok_or_else(refused)?;
    let expected = signature(team.share_key(), &share);
    // Constant time: the signature is what an attacker would try to forge.
    let same = expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(refused());
    }
    if share.revoked_at_ms.is_some() {
        return Err(ApiError::not_found(
            "this share link was revoked — ask for a new one",
        ));
    }
    if share.expires_at_ms <= codexos_store::unix_ms() {
        return Err(ApiError::not_found(
            "this share link has expired — ask for a new one",
        ));
    }
    Ok(share)
}

/// What a new share link opens.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ShareRequest {
    /// `view` (a run, read-only), `run` or `fork` (a flow).
    kind: String,
    /// The run of a `view` link.
    #[serde(default)]
    run: Option<String>,
    /// The flow of a `run` or `fork` link.
    #[serde(default)]
    flow: Option<String>,
    /// Days until it expires (1–90; default 7).
    #[serde(default)]
    expires_in_days: Option<u32>,
}

fn base_url(team: &Team, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("127.0.0.1:7420");
    let scheme = if team.options().secure_cookies {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

fn described(team: &Team, share: &Share, base: &str) -> Value {
    let link = link_of(team, share);
    json!({
        "share": share,
        "link": link,
        "url": format!("{base}/share/{link}"),
        "app": format!("codexos://share?server={}&link={link}", urlencode(base)),
    })
}

fn urlencode(text: &str) -> String {
    text.bytes().fold(String::new(), |mut out, byte| {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            write!(out, "%{byte:02X}").ok();
        }
        out
    })
}

pub(crate) async fn create_share(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Json(body): Json<ShareRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let days = body.expires_in_days.unwrap_or(7);
    if !(1..=MAX_SHARE_DAYS).contains(&days) {
        return Err(ApiError::invalid(format!(
            "a share link lives 1 to {MAX_SHARE_DAYS} days"
        )));
    }
    let target = match (body.kind.as_str(), body.run, body.flow) {
        ("view", Some(run), None) => {
            let (flow, _, _) = ws.runtime.run_progress(&run, Some(u64::MAX))?;
            // Sharing a run shares what its flow's runs show.
            let role = effective_role(&team, &caller.account, &ws.name, Some(&flow))?
                .unwrap_or(ws.role);
            refuse_unless(&caller, &ws.name, Some(&flow), role, Permission::Edit)?;
            run
        }
        ("run" | "fork", None, Some(flow)) => {
            library_flow(&ws, &flow)?;
            let role = effective_role(&team, &caller.account, &ws.name, Some(&flow))?
                .unwrap_or(ws.role);
            refuse_unless(&caller, &ws.name, Some(&flow), role, Permission::Edit)?;
            flow
        }
        _ => {
            return Err(ApiError::invalid(
                "a share link is `{\"kind\": \"view\", \"run\": ID}`, or `{\"kind\": \"run\"|\"fork\", \"flow\": NAME}`",
            ))
        }
    };
    let now = codexos_store::unix_ms();
    let share = Share {
        id: Team::random_id(),
        workspace: ws.name.clone(),
        kind: body.kind,
        target,
        created_by: caller.account.clone(),
        created_at_ms: now,
        expires_at_ms: now + u64::from(days) * 86_400_000,
        revoked_at_ms: None,
    };
    team.store().team_add_share(&share)?;
    team.audit(
        "share.create",
        &share.id,
        json!({ "workspace": share.workspace, "kind": share.kind, "target": share.target, "days": days }),
    );
    let base = base_url(&team, &headers);
    Ok((StatusCode::CREATED, Json(described(&team, &share, &base))))
}

/// Whether the caller may see and revoke `share`: it made it, or its role
/// (with the grant on the shared flow) may edit that flow — a link is never
/// a way around a narrowing grant.
fn may_manage(team: &Team, ws: &Workspace, caller: &Caller, share: &Share) -> ApiResult<bool> {
    if share.created_by == caller.account {
        return Ok(true);
    }
    let flow = if share.kind == "view" {
        match ws.runtime.run_progress(&share.target, Some(u64::MAX)) {
            Ok((flow, _, _)) => flow,
            Err(_) => return Ok(false),
        }
    } else {
        share.target.clone()
    };
    let role = effective_role(team, &caller.account, &ws.name, Some(&flow))?.unwrap_or(ws.role);
    Ok(refuse_unless(caller, &ws.name, Some(&flow), role, Permission::Edit).is_ok())
}

pub(crate) async fn shares(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let base = base_url(&team, &headers);
    let mut listed = Vec::new();
    for share in team.store().team_shares(&ws.name)? {
        if may_manage(&team, &ws, &caller, &share)? {
            listed.push(described(&team, &share, &base));
        }
    }
    Ok(Json(json!(listed)))
}

pub(crate) async fn revoke_share(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mine = team
        .store()
        .team_share(&id)?
        .filter(|share| share.workspace == ws.name);
    if let Some(share) = &mine {
        if !may_manage(&team, &ws, &caller, share)? {
            return Err(ApiError::forbidden(
                "you may revoke the links you made, or links to flows you may edit",
            ));
        }
    }
    if mine.is_some() && team.store().team_revoke_share(&ws.name, &id)? {
        team.audit("share.revoke", &id, json!({ "workspace": ws.name }));
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "`{}` has no live share link `{id}`",
            ws.name
        )))
    }
}

/// What a link opens, as JSON.
pub(crate) async fn shared(
    State(team): State<Arc<Team>>,
    Path(link): Path<String>,
) -> ApiResult<Json<Value>> {
    let share = open_link(&team, &link)?;
    let runtime = team.runtime(&share.workspace)?;
    let opened = if share.kind == "view" {
        json!({ "kind": share.kind, "workspace": share.workspace, "expiresAtMs": share.expires_at_ms, "run": runtime.run_detail(&share.target)? })
    } else {
        let path = runtime
            .home()
            .flows()
            .join(format!("{}.flow.json", share.target));
        json!({ "kind": share.kind, "workspace": share.workspace, "expiresAtMs": share.expires_at_ms, "flow": read_flow(&path)? })
    };
    Ok(Json(opened))
}

/// Text made safe inside HTML (text and quoted attributes).
pub(crate) fn escape(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
        out
    })
}

/// The read-only web page of a shared run: no script, nothing to change.
pub(crate) async fn shared_page(
    State(team): State<Arc<Team>>,
    Path(link): Path<String>,
) -> Response {
    let page = match open_link(&team, &link).and_then(|share| {
        if share.kind != "view" {
            return Err(ApiError::not_found(
                "this link opens a flow, not a run — open it in the CodexOS app",
            ));
        }
        let runtime = team.runtime(&share.workspace)?;
        Ok(trace_page(&share, &runtime.run_detail(&share.target)?))
    }) {
        Ok(page) => (StatusCode::OK, Html(page)).into_response(),
        Err(error) => (
            error.status,
            Html(format!(
                "<!doctype html><meta charset=utf-8><title>CodexOS</title><p>{}</p>",
                escape(&error.message)
            )),
        )
            .into_response(),
    };
    let mut page = page;
    let headers = page.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    page
}

fn trace_page(share: &Share, run: &codexos_runtime::RunDetail) -> String {
    let mut rows = String::new();
    for node in &run.nodes {
        let writes = clip(&node.writes.to_string(), 400);
        let state = match (&node.error, node.ended_ms) {
            (Some(error), _) => format!("error: {error}"),
            (None, Some(_)) => "done".to_owned(),
            (None, None) => "started".to_owned(),
        };
        write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(&node.node),
            escape(node.kind.as_deref().unwrap_or("")),
            escape(&state),
            escape(&writes),
        )
        .ok();
    }
    let mut events = String::new();
    for event in &run.events {
        let line = serde_json::to_string(&event.event).unwrap_or_default();
        write!(
            events,
            "<li><b>{}</b> {} <code>{}</code></li>",
            event.seq,
            escape(event.node.as_deref().unwrap_or("")),
            escape(&clip(&line, 300))
        )
        .ok();
    }
    format!(
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width'>\
         <title>{flow} — shared run</title>\
         <style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:70em;color:#111}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}code{{white-space:pre-wrap;word-break:break-all}}</style>\
         <h1>{flow}</h1><p>Run <code>{id}</code> in workspace <b>{workspace}</b> — <b>{status}</b>. Read-only, shared by {by}; the link expires {expires}.</p>\
         <h2>Nodes</h2><table><tr><th>Node</th><th>Kind</th><th>State</th><th>Wrote</th></tr>{rows}</table>\
         <h2>Events</h2><ol start=0>{events}</ol></html>",
        flow = escape(&run.summary.flow),
        id = escape(&run.summary.id),
        workspace = escape(&share.workspace),
        status = escape(&run.summary.status),
        by = escape(&share.created_by),
        expires = share.expires_at_ms / 1000,
    )
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        text.chars().take(max).collect::<String>() + "…"
    }
}

/// Where a fork goes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ForkRequest {
    /// The workspace the copy goes to (you need `edit` there).
    workspace: String,
    /// The copy's name (default: the original's).
    #[serde(default)]
    name: Option<String>,
}

/// A flow's newest saved version and its number, read together from the
/// version history (a flow never saved yet is saved first).
fn newest(runtime: &Arc<Runtime>, ws: &Workspace, flow: &str) -> ApiResult<(Flow, u32)> {
    if let Some(saved) = runtime.flow_history(flow)?.pop() {
        let parsed = serde_json::from_str(&saved.content).map_err(|error| {
            ApiError::internal(format!(
                "version {} of flow `{flow}` cannot be read: {error}",
                saved.version
            ))
        })?;
        return Ok((parsed, saved.version));
    }
    let current = read_flow(&library_flow(ws, flow)?)?;
    let (_, version) = runtime.save_flow(&current)?;
    Ok((current, version))
}

/// Copies `flow` (of `source`, at its newest version) into `request`'s
/// workspace, checking the caller may edit there.
fn fork_into(
    team: &Team,
    caller: &Caller,
    source: &Workspace,
    flow_name: &str,
    request: &ForkRequest,
) -> ApiResult<Value> {
    let (flow, version) = newest(&source.runtime, source, flow_name)?;
    let destination = checked_name(&request.workspace, "a workspace")?;
    let name = checked_name(request.name.as_deref().unwrap_or(&flow.name), "a flow")?;
    let role =
        effective_role(team, &caller.account, destination, Some(name))?.ok_or_else(|| {
            ApiError::not_found(format!(
                "no workspace `{destination}` that you are a member of"
            ))
        })?;
    refuse_unless(caller, destination, Some(name), role, Permission::Edit)?;
    let origin = ForkOrigin {
        origin: format!("workspace:{}", source.name),
        flow: flow.name.clone(),
        version,
        signer: None,
    };
    let entry = team.runtime(destination)?.fork_flow(&flow, name, origin)?;
    Ok(json!({ "workspace": destination, "name": entry.name, "flow": entry.flow }))
}

pub(crate) async fn fork(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Path((_, name)): Path<(String, String)>,
    Json(body): Json<ForkRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    library_flow(&ws, &name)?;
    Ok((
        StatusCode::CREATED,
        Json(fork_into(&team, &caller, &ws, &name, &body)?),
    ))
}

pub(crate) async fn shared_fork(
    State(team): State<Arc<Team>>,
    Extension(caller): Extension<Caller>,
    Path(link): Path<String>,
    Json(body): Json<ForkRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let share = open_link(&team, &link)?;
    if share.kind != "fork" {
        return Err(ApiError::forbidden(format!(
            "this link lets you {} it, not fork it",
            share.kind
        )));
    }
    let source = Workspace {
        name: share.workspace.clone(),
        runtime: team.runtime(&share.workspace)?,
        role: super::roles::Role::Viewer,
    };
    Ok((
        StatusCode::CREATED,
        Json(fork_into(&team, &caller, &source, &share.target, &body)?),
    ))
}

pub(crate) async fn shared_run(
    State(team): State<Arc<Team>>,
    Extension(caller): Extension<Caller>,
    Path(link): Path<String>,
    body: Option<Json<super::api::RunRequest>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let share = open_link(&team, &link)?;
    if share.kind != "run" {
        return Err(ApiError::forbidden(format!(
            "this link lets you {} it, not run it",
            share.kind
        )));
    }
    if !caller.may(Permission::Run) {
        return Err(ApiError::forbidden(
            "this token's scopes do not include `run` — create a token with a wider scope",
        ));
    }
    let runtime = team.runtime(&share.workspace)?;
    let ws = Workspace {
        name: share.workspace.clone(),
        runtime: Arc::clone(&runtime),
        role: super::roles::Role::Executor,
    };
    let path = library_flow(&ws, &share.target)?;
    let input = body
        .as_ref()
        .and_then(|Json(body)| body.input.clone())
        .unwrap_or_else(|| json!({}));
    let options = run_options(&ws, None)?;
    let what = (share.workspace.as_str(), share.target.as_str());
    launch(&team, &caller, what, options, None, move |options, cancel| async move {
        runtime.run_flow_file(&path, input, options, cancel).await
    })
    .await
}

/// A fork's lineage and what updating it would change.
pub(crate) async fn origin(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (ours, origin, theirs, latest) = lineage(&team, &ws, &caller, &name)?;
    let diff = flow_change(
        &ours,
        &theirs,
        (
            &format!("{name} (this fork, from v{})", origin.version),
            &format!("{} {} v{latest}", origin.origin, origin.flow),
        ),
    );
    Ok(Json(json!({
        "forkedFrom": origin,
        "latestVersion": latest,
        "behind": latest > origin.version,
        "diff": diff,
    })))
}

fn lineage(
    team: &Team,
    ws: &Workspace,
    caller: &Caller,
    name: &str,
) -> ApiResult<(Flow, ForkOrigin, Flow, u32)> {
    let ours = read_flow(&library_flow(ws, name)?)?;
    let origin = ours.forked_from.clone().ok_or_else(|| {
        ApiError::conflict(format!("flow `{name}` is not a fork: it has no origin"))
    })?;
    let source = origin.origin.strip_prefix("workspace:").ok_or_else(|| {
        ApiError::conflict(format!(
            "`{}` is not a workspace of this server: update it from where it came",
            origin.origin
        ))
    })?;
    checked_name(source, "a workspace")?;
    checked_name(&origin.flow, "a flow")?;
    let role =
        effective_role(team, &caller.account, source, Some(&origin.flow))?.ok_or_else(|| {
            ApiError::not_found(format!("no workspace `{source}` that you are a member of"))
        })?;
    refuse_unless(caller, source, Some(&origin.flow), role, Permission::View)?;
    let origin_ws = Workspace {
        name: source.to_owned(),
        runtime: team.runtime(source)?,
        role,
    };
    let (theirs, latest) = newest(&origin_ws.runtime, &origin_ws, &origin.flow)?;
    Ok((ours, origin, theirs, latest))
}

/// The version whose diff was shown.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UpdateRequest {
    /// The origin's version the diff was shown for (`latestVersion`).
    version: u32,
}

pub(crate) async fn update_from_origin(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Path((_, name)): Path<(String, String)>,
    Json(body): Json<UpdateRequest>,
) -> ApiResult<Json<Value>> {
    let (_, _, theirs, latest) = lineage(&team, &ws, &caller, &name)?;
    if body.version != latest {
        return Err(ApiError::conflict(format!(
            "the origin is at version {latest} now, not {} — look at its diff again",
            body.version
        )));
    }
    let entry = ws.runtime.update_fork(&name, &theirs, latest)?;
    Ok(Json(json!({ "name": entry.name, "flow": entry.flow })))
}
