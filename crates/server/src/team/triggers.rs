//! Triggers and outgoing webhooks: runs started by a signed HTTP request
//! or a cron schedule, and run events sent, signed, to a URL with retries
//! and a delivery log.
//!
//! Signatures, both ways: `X-CodexOS-Signature: t=<unix seconds>,v1=<hex>`
//! where the hex is HMAC-SHA256 of `<t>.<body>` under the trigger's or
//! hook's secret; incoming requests may instead carry GitHub's
//! `X-Hub-Signature-256: sha256=<hex of HMAC(body)>`. A secret is derived
//! from the server's key and the trigger's id (nothing secret is stored):
//! deleting the trigger retires it.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use codexos_store::triggers::{Attempt, Hook, Trigger};
use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

use super::api::{
    effective_role, launch, library_flow, refuse_unless, run_options, ApiResult, Caller, Workspace,
};
use super::roles::Permission;
use super::{ApiError, Team};

/// How far a signed request's time may be from the server's.
const WINDOW_MS: u64 = 5 * 60 * 1000;

/// Attempts of one delivery before it is given up.
pub const MAX_ATTEMPTS: u32 = 8;

/// The events a hook can ask for.
pub const EVENTS: [&str; 5] = [
    "run.started",
    "run.succeeded",
    "run.failed",
    "run.paused",
    "run.cancelled",
];

fn mac(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as hmac::Mac>::new_from_slice(key).expect("HMAC takes any key length")
}

/// The secret of a trigger or hook (`purpose`: `trigger` or `hook`).
pub(crate) fn secret_of(team: &Team, purpose: &str, id: &str) -> String {
    let mut mac = mac(team.share_key());
    mac.update(format!("codexos-{purpose}-secret:{id}").as_bytes());
    format!("whsec_{}", hex::encode(mac.finalize().into_bytes()))
}

/// `t=<seconds>,v1=<hex>` over `body` at `seconds`.
#[must_use]
pub fn signature(secret: &str, seconds: u64, body: &[u8]) -> String {
    let mut mac = mac(secret.as_bytes());
    mac.update(format!("{seconds}.").as_bytes());
    mac.update(body);
    format!(
        "t={seconds},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Checks a request's signature; answers its hex (the replay key).
fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now_ms: u64) -> ApiResult<String> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let refused =
        |why: &str| ApiError::unauthorized(format!("the webhook request is refused: {why}"));
    let (expected, given) = if let Some(signed) = header("x-codexos-signature") {
        let field = |key: &str| {
            signed
                .split(',')
                .find_map(|part| part.trim().strip_prefix(key))
                .map(str::to_owned)
        };
        let seconds: u64 = field("t=")
            .and_then(|seconds| seconds.parse().ok())
            .ok_or_else(|| refused("`X-CodexOS-Signature` has no `t=` time"))?;
        let given = field("v1=").ok_or_else(|| refused("`X-CodexOS-Signature` has no `v1=`"))?;
        if now_ms.abs_diff(seconds.saturating_mul(1000)) > WINDOW_MS {
            return Err(refused(
                "its time is more than 5 minutes from the server's (a replay, or a wrong clock)",
            ));
        }
        (
            signature(secret, seconds, body),
            format!("t={seconds},v1={given}"),
        )
    } else if let Some(given) = header("x-hub-signature-256") {
        let mut mac = mac(secret.as_bytes());
        mac.update(body);
        (
            format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
            given.to_owned(),
        )
    } else {
        return Err(refused(
            "it carries no `X-CodexOS-Signature` (or `X-Hub-Signature-256`)",
        ));
    };
    // Compared in constant time: HMAC of both, then equality.
    let digest = |text: &str| {
        let mut mac = mac(secret.as_bytes());
        mac.update(text.as_bytes());
        mac.finalize().into_bytes()
    };
    if digest(&expected) != digest(&given) {
        return Err(refused(
            "the signature does not match this trigger's secret",
        ));
    }
    Ok(given)
}

/// A trigger as the API shows it (with a webhook's URL path).
fn shown(trigger: &Trigger) -> Value {
    let mut value = json!(trigger);
    value["input"] = serde_json::from_str(&trigger.input).unwrap_or_else(|_| json!({}));
    if trigger.kind == "webhook" {
        value["path"] = json!(format!("/api/v1/hooks/{}", trigger.id));
    }
    value
}

/// When `schedule` (5 fields, or 6 with seconds first; UTC) next fires
/// after `after_ms`.
pub(crate) fn next_fire(schedule: &str, after_ms: u64) -> Result<u64, String> {
    let cron = croner::Cron::new(schedule)
        .with_seconds_optional()
        .parse()
        .map_err(|error| format!("`{schedule}` is not a cron schedule: {error}"))?;
    let after = chrono::DateTime::from_timestamp_millis(i64::try_from(after_ms).unwrap_or(0))
        .unwrap_or_default();
    let next = cron
        .find_next_occurrence(&after, false)
        .map_err(|error| format!("`{schedule}` never fires: {error}"))?;
    Ok(u64::try_from(next.timestamp_millis()).unwrap_or(u64::MAX))
}

/// How often `schedule` fires when that is more often than `floor`: the
/// shortest gap among its next few times from `first`.
fn too_often(schedule: &str, first: u64, floor: Duration) -> Option<Duration> {
    let mut at = first;
    let mut shortest = u64::MAX;
    for _ in 0..8 {
        let Ok(next) = next_fire(schedule, at) else {
            break;
        };
        shortest = shortest.min(next.saturating_sub(at));
        at = next;
    }
    let shortest = Duration::from_millis(shortest);
    (shortest < floor).then_some(shortest)
}

/// `POST …/triggers`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TriggerRequest {
    /// `webhook` (a signed request starts a run) or `cron` (a schedule).
    kind: String,
    /// The flow it runs (its runs follow your role on it).
    flow: String,
    /// For `cron`: 5 fields (minute hour day month weekday), or 6 with
    /// seconds first; UTC.
    #[serde(default)]
    schedule: Option<String>,
    /// The runs' input (an object; a webhook's request body is added as
    /// `event`).
    #[serde(default)]
    #[schema(value_type = Object)]
    input: Option<Value>,
}

pub(crate) async fn triggers(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
) -> ApiResult<Json<Value>> {
    let listed = team.store().team_triggers(&ws.name)?;
    Ok(Json(Value::Array(listed.iter().map(shown).collect())))
}

pub(crate) async fn create_trigger(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<TriggerRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    super::checked_name(&body.flow, "a flow")?;
    library_flow(&ws, &body.flow)?;
    // Its runs are started with the maker's role: it must allow them now.
    let role = effective_role(&team, &caller.account, &ws.name, Some(&body.flow))?
        .ok_or_else(|| ApiError::forbidden("you are not a member of this workspace"))?;
    refuse_unless(&caller, &ws.name, Some(&body.flow), role, Permission::Run)?;
    let input = body.input.unwrap_or_else(|| json!({}));
    if !input.is_object() {
        return Err(ApiError::invalid("`input` must be a JSON object"));
    }
    let now = codexos_store::unix_ms();
    let (schedule, next_at_ms) = match (body.kind.as_str(), body.schedule) {
        ("webhook", None) => (None, None),
        ("webhook", Some(_)) => {
            return Err(ApiError::invalid(
                "a webhook trigger has no `schedule` (did you mean kind `cron`?)",
            ))
        }
        ("cron", Some(schedule)) => {
            let next = next_fire(&schedule, now).map_err(ApiError::invalid)?;
            let floor = team.options().cron_floor;
            if let Some(every) = too_often(&schedule, next, floor) {
                return Err(ApiError::invalid(format!(
                    "`{schedule}` fires every {} s — this server runs a schedule at most once every {} s (`codexos server --cron-floor`)",
                    every.as_secs(),
                    floor.as_secs()
                )));
            }
            (Some(schedule), Some(next))
        }
        ("cron", None) => {
            return Err(ApiError::invalid(
                "a cron trigger needs a `schedule`, e.g. `0 9 * * 1-5` (09:00 UTC on weekdays)",
            ))
        }
        (other, _) => {
            return Err(ApiError::invalid(format!(
                "`{other}` is not a trigger kind: use `webhook` or `cron`"
            )))
        }
    };
    let trigger = Trigger {
        id: Team::random_id(),
        workspace: ws.name.clone(),
        kind: body.kind,
        flow: body.flow,
        schedule,
        input: input.to_string(),
        created_by: caller.account.clone(),
        created_at_ms: now,
        next_at_ms,
        fired_at_ms: None,
        last_run: None,
        last_error: None,
    };
    team.store().team_add_trigger(&trigger)?;
    team.audit(
        "trigger.add",
        &trigger.id,
        json!({ "workspace": ws.name, "flow": trigger.flow, "kind": trigger.kind }),
    );
    team.background.triggers.notify_one();
    let mut answer = shown(&trigger);
    if trigger.kind == "webhook" {
        // Shown once; derived again only to check requests.
        answer["secret"] = json!(secret_of(&team, "trigger", &trigger.id));
    }
    Ok((StatusCode::CREATED, Json(answer)))
}

pub(crate) async fn delete_trigger(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    if !team.store().team_remove_trigger(&ws.name, &id)? {
        return Err(ApiError::not_found(format!(
            "no trigger `{id}` in `{}`",
            ws.name
        )));
    }
    team.audit("trigger.remove", &id, json!({ "workspace": ws.name }));
    Ok(StatusCode::NO_CONTENT)
}

/// Starts a run of `trigger`'s flow as its maker (whose role must still
/// allow it), from `origin`; records the firing.
async fn fire(
    team: &Arc<Team>,
    trigger: &Trigger,
    event: Option<Value>,
    origin: &str,
) -> ApiResult<String> {
    let outcome = fire_inner(team, trigger, event, origin).await;
    let (run, error) = match &outcome {
        Ok(run) => (Some(run.as_str()), None),
        Err(error) => (None, Some(error.message.as_str())),
    };
    team.store().team_trigger_fired(&trigger.id, run, error)?;
    outcome
}

async fn fire_inner(
    team: &Arc<Team>,
    trigger: &Trigger,
    event: Option<Value>,
    origin: &str,
) -> ApiResult<String> {
    let enabled = team
        .store()
        .team_account(&trigger.created_by)?
        .is_some_and(|(account, _)| !account.disabled);
    if !enabled {
        return Err(ApiError::forbidden(format!(
            "the trigger's maker `{}` is disabled or gone — remove the trigger, or make it again as someone else",
            trigger.created_by
        )));
    }
    let role = effective_role(
        team,
        &trigger.created_by,
        &trigger.workspace,
        Some(&trigger.flow),
    )?
    .ok_or_else(|| {
        ApiError::forbidden(format!(
            "the trigger's maker `{}` is no longer a member of `{}`",
            trigger.created_by, trigger.workspace
        ))
    })?;
    let caller = Caller::acting_for(
        &trigger.created_by,
        &format!("trigger:{}", trigger.id),
        origin,
    );
    refuse_unless(
        &caller,
        &trigger.workspace,
        Some(&trigger.flow),
        role,
        Permission::Run,
    )?;
    let ws = Workspace {
        name: trigger.workspace.clone(),
        runtime: team.runtime(&trigger.workspace)?,
        role,
    };
    let path = library_flow(&ws, &trigger.flow)?;
    let mut input: Value = serde_json::from_str(&trigger.input).unwrap_or_else(|_| json!({}));
    if let Some(event) = event {
        input["event"] = event;
    }
    let runtime = Arc::clone(&ws.runtime);
    let (_, Json(started)) =
        launch(
            team,
            &caller,
            (&ws.name, &trigger.flow),
            run_options(&ws, None)?,
            None,
            move |options, cancel| async move {
                runtime.run_flow_file(&path, input, options, cancel).await
            },
        )
        .await?;
    Ok(started["runId"].as_str().unwrap_or_default().to_owned())
}

/// `POST /api/v1/hooks/{trigger}`: a signed request starts a run.
pub(crate) async fn receive(
    State(team): State<Arc<Team>>,
    Extension(address): Extension<super::api::Address>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let trigger = team
        .store()
        .team_trigger(&id)?
        .filter(|trigger| trigger.kind == "webhook")
        .ok_or_else(|| ApiError::not_found(format!("no webhook trigger `{id}`")))?;
    let secret = secret_of(&team, "trigger", &trigger.id);
    let now = codexos_store::unix_ms();
    let signed = verify(&secret, &headers, &body, now)?;
    if !team
        .store()
        .team_receipt(&signed, &trigger.id, now.saturating_sub(24 * 3600 * 1000))?
    {
        return Err(ApiError::conflict(
            "this signed request was received before — a replay is not run again",
        ));
    }
    let event = serde_json::from_slice::<Value>(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let run = fire(
        &team,
        &trigger,
        Some(event),
        &format!("webhook {}", address.0),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "runId": run }))))
}

/// `POST …/webhooks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct HookRequest {
    /// Where to POST events (`http://` or `https://`).
    url: String,
    /// Which events (default all): `run.started`, `run.succeeded`,
    /// `run.failed`, `run.paused`, `run.cancelled`.
    #[serde(default)]
    events: Option<Vec<String>>,
    /// Only runs of this flow.
    #[serde(default)]
    flow: Option<String>,
}

pub(crate) async fn hooks(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(team.store().team_hooks(&ws.name)?)))
}

pub(crate) async fn create_hook(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<HookRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let url = reqwest::Url::parse(&body.url)
        .map_err(|error| ApiError::invalid(format!("`{}` is not a URL: {error}", body.url)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ApiError::invalid(format!(
            "`{}` is not an http:// or https:// URL",
            body.url
        )));
    }
    let events = body
        .events
        .unwrap_or_else(|| EVENTS.iter().map(|event| (*event).to_owned()).collect());
    if let Some(unknown) = events
        .iter()
        .find(|event| !EVENTS.contains(&event.as_str()))
    {
        return Err(ApiError::invalid(format!(
            "`{unknown}` is not an event: use {}",
            EVENTS.join(", ")
        )));
    }
    if events.is_empty() {
        return Err(ApiError::invalid("a webhook needs at least one event"));
    }
    if let Some(flow) = &body.flow {
        super::checked_name(flow, "a flow")?;
    }
    reachable(&team, &url).await?;
    let hook = Hook {
        id: Team::random_id(),
        workspace: ws.name.clone(),
        url: url.to_string(),
        events,
        flow: body.flow,
        created_by: caller.account.clone(),
        created_at_ms: codexos_store::unix_ms(),
    };
    team.store().team_add_hook(&hook)?;
    team.audit(
        "webhook.add",
        &hook.id,
        json!({ "workspace": ws.name, "url": hook.url, "events": hook.events }),
    );
    let mut answer = json!(hook);
    answer["secret"] = json!(secret_of(&team, "hook", &hook.id));
    Ok((StatusCode::CREATED, Json(answer)))
}

pub(crate) async fn delete_hook(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    if !team.store().team_remove_hook(&ws.name, &id)? {
        return Err(ApiError::not_found(format!(
            "no webhook `{id}` in `{}`",
            ws.name
        )));
    }
    team.audit("webhook.remove", &id, json!({ "workspace": ws.name }));
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveriesQuery {
    /// At most this many, newest first (default 50, at most 500).
    limit: Option<u32>,
}

pub(crate) async fn deliveries(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Path((_, id)): Path<(String, String)>,
    Query(query): Query<DeliveriesQuery>,
) -> ApiResult<Json<Value>> {
    team.store()
        .team_hook(&id)?
        .filter(|hook| hook.workspace == ws.name)
        .ok_or_else(|| ApiError::not_found(format!("no webhook `{id}` in `{}`", ws.name)))?;
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    Ok(Json(json!(team.store().team_deliveries(&id, limit)?)))
}

/// Whether `ip` is on the public internet (not this machine, a private
/// network, link-local — cloud metadata — or shared address space).
fn public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 100 && (64..128).contains(&b)
                || a == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || first & 0xfe00 == 0xfc00
                || first & 0xffc0 == 0xfe80)
        }
    }
}

/// Where `url` connects: its addresses, refused when one is not public
/// (unless the server allows private webhooks), so a workspace admin
/// cannot make the server reach into its own network.
async fn reachable(team: &Team, url: &reqwest::Url) -> ApiResult<Vec<std::net::SocketAddr>> {
    let host = url
        .host_str()
        .ok_or_else(|| ApiError::invalid(format!("`{url}` has no host")))?;
    let port = url.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|error| ApiError::invalid(format!("cannot resolve `{host}`: {error}")))?
        .collect();
    if addresses.is_empty() {
        return Err(ApiError::invalid(format!(
            "`{host}` resolves to no address"
        )));
    }
    if !team.options().private_webhooks {
        if let Some(private) = addresses.iter().find(|address| !public(address.ip())) {
            return Err(ApiError::invalid(format!(
                "`{host}` is {} — not a public address; webhooks go to public addresses only unless the server runs with --allow-private-webhooks",
                private.ip()
            )));
        }
    }
    Ok(addresses)
}

/// Queues `event` of a run for the hooks that want it.
pub(crate) fn queue(team: &Team, workspace: &str, flow: &str, event: &str, detail: Value) {
    let mut payload = json!({
        "event": event,
        "workspace": workspace,
        "flow": flow,
        "at": codexos_store::unix_ms(),
    });
    if let (Value::Object(payload), Value::Object(detail)) = (&mut payload, detail) {
        payload.extend(detail);
    }
    match team
        .store()
        .team_queue_event(workspace, flow, event, &payload.to_string())
    {
        Ok(0) => {}
        Ok(_) => team.background.deliveries.notify_one(),
        Err(error) => tracing::error!(%error, event, "a webhook delivery could not be queued"),
    }
}

/// What wakes the background work.
#[derive(Debug, Default)]
pub(crate) struct Background {
    /// A trigger was added.
    pub(crate) triggers: tokio::sync::Notify,
    /// A delivery was queued.
    pub(crate) deliveries: tokio::sync::Notify,
}

/// Waits until `at_ms` (at most `cap`), or until woken.
async fn sleep_until(at_ms: Option<u64>, cap: Duration, wake: &tokio::sync::Notify) {
    let wait = at_ms.map_or(cap, |at| {
        Duration::from_millis(at.saturating_sub(codexos_store::unix_ms())).min(cap)
    });
    tokio::select! {
        () = tokio::time::sleep(wait) => {}
        () = wake.notified() => {}
    }
}

/// Fires due cron triggers until the server stops. Each is claimed first
/// (its next time moved on atomically), so a trigger fires once per due
/// time however many servers share the database; one missed while the
/// server was down fires once when it comes back.
pub(crate) async fn schedule(team: Arc<Team>) {
    let stop = team.shutdown.clone();
    while !stop.is_cancelled() {
        let now = codexos_store::unix_ms();
        match team.store().team_due_triggers(now) {
            Ok(due) => {
                for trigger in due {
                    let (Some(due_at), Some(schedule)) = (trigger.next_at_ms, &trigger.schedule)
                    else {
                        continue;
                    };
                    let next = next_fire(schedule, now);
                    match team.store().team_claim_trigger(
                        &trigger.id,
                        due_at,
                        next.as_ref().ok().copied(),
                    ) {
                        Ok(true) => {
                            if let Err(error) = fire(&team, &trigger, None, "cron").await {
                                tracing::warn!(trigger = trigger.id, %error, "a cron trigger started no run");
                            }
                            // Said where the trigger is listed, not only in
                            // the server's log.
                            if let Err(error) = next {
                                let why = format!("{error} — it fires no more");
                                team.store()
                                    .team_trigger_fired(&trigger.id, None, Some(&why))
                                    .ok();
                            }
                        }
                        Ok(false) => {}
                        Err(error) => tracing::error!(%error, "claiming a cron trigger"),
                    }
                }
            }
            Err(error) => tracing::error!(%error, "reading due triggers"),
        }
        let next = team.store().team_next_trigger_at().ok().flatten();
        tokio::select! {
            () = sleep_until(next, Duration::from_secs(30), &team.background.triggers) => {}
            () = stop.cancelled() => {}
        }
    }
}

/// When attempt `attempts` (1-based) failed, the wait before the next.
fn backoff(base: Duration, attempts: u32) -> Duration {
    base.saturating_mul(1 << attempts.saturating_sub(1).min(16))
        .min(Duration::from_hours(1))
}

/// Sends due deliveries until the server stops: signed, 10 s each, retried
/// with exponential backoff up to [`MAX_ATTEMPTS`].
pub(crate) async fn deliver(team: Arc<Team>) {
    let stop = team.shutdown.clone();
    while !stop.is_cancelled() {
        let due = team
            .store()
            // Leased past the 10 s a send may take.
            .team_take_due_deliveries(codexos_store::unix_ms(), 32, 60_000)
            .unwrap_or_else(|error| {
                tracing::error!(%error, "reading due deliveries");
                Vec::new()
            });
        let sends = due.into_iter().map(|(delivery, url)| {
            let team = Arc::clone(&team);
            async move {
                let attempt = send(&team, &delivery, &url).await;
                if let Err(error) = team.store().team_delivery_attempt(delivery.id, &attempt) {
                    tracing::error!(%error, "recording a delivery attempt");
                }
            }
        });
        futures::future::join_all(sends).await;
        let next = team.store().team_next_delivery_at().ok().flatten();
        tokio::select! {
            () = sleep_until(next, Duration::from_secs(30), &team.background.deliveries) => {}
            () = stop.cancelled() => {}
        }
    }
}

/// A client for `url` that connects only to the address [`reachable`]
/// found for its host (10 s, no redirects).
async fn pinned_client(team: &Team, url: &str) -> Result<reqwest::Client, String> {
    let parsed = reqwest::Url::parse(url).map_err(|error| error.to_string())?;
    let address = reachable(team, &parsed)
        .await
        .map_err(|error| error.message)?[0];
    let host = parsed.host_str().unwrap_or_default();
    codexos_net::client()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .resolve(host, address)
        .build()
        .map_err(|error| error.to_string())
}

async fn send(team: &Team, delivery: &codexos_store::triggers::Delivery, url: &str) -> Attempt {
    let secret = secret_of(team, "hook", &delivery.hook);
    let seconds = codexos_store::unix_ms() / 1000;
    let attempts = delivery.attempts + 1;
    let retry_at_ms = (attempts < MAX_ATTEMPTS).then(|| {
        let wait = backoff(team.options().webhook_retry, attempts);
        codexos_store::unix_ms() + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)
    });
    // Checked again at each attempt, and the connection pinned to the
    // address checked: a name that resolves elsewhere later gains nothing.
    let client = match pinned_client(team, url).await {
        Ok(client) => client,
        Err(error) => {
            return Attempt::Failed {
                status: None,
                error,
                retry_at_ms,
            }
        }
    };
    let request = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", concat!("CodexOS/", env!("CARGO_PKG_VERSION")))
        .header("x-codexos-event", &delivery.event)
        .header("x-codexos-delivery", delivery.id.to_string())
        .header(
            "x-codexos-signature",
            signature(&secret, seconds, delivery.payload.as_bytes()),
        )
        .body(delivery.payload.clone());
    let answer = codexos_net::send(request).await;
    match answer {
        Ok(answer) if answer.status().is_success() => Attempt::Delivered {
            status: answer.status().as_u16(),
        },
        Ok(answer) => Attempt::Failed {
            status: Some(answer.status().as_u16()),
            error: format!("answered {}", answer.status()),
            retry_at_ms,
        },
        Err(error) => Attempt::Failed {
            status: None,
            error: error.to_string(),
            retry_at_ms,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_schedules_fire_at_their_next_time() {
        // 2026-01-01T00:00:00Z.
        let midnight = 1_767_225_600_000;
        assert_eq!(
            next_fire("*/15 * * * *", midnight),
            Ok(midnight + 15 * 60_000)
        );
        assert_eq!(next_fire("*/2 * * * * *", midnight), Ok(midnight + 2_000));
        assert!(next_fire("not a schedule", midnight).is_err());
    }

    #[test]
    fn schedules_firing_more_often_than_the_floor_are_found() {
        let midnight = 1_767_225_600_000;
        let minute = Duration::from_mins(1);
        assert_eq!(
            too_often("* * * * * *", midnight + 1000, minute),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            too_often("*/10 * * * * *", midnight + 10_000, minute),
            Some(Duration::from_secs(10))
        );
        // Positive control: every minute, and weekdays at nine, pass.
        assert_eq!(too_often("* * * * *", midnight + 60_000, minute), None);
        assert_eq!(
            too_often("0 9 * * 1-5", midnight + 9 * 3_600_000, minute),
            None
        );
    }

    #[test]
    fn retries_back_off_exponentially_to_an_hour() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 1), Duration::from_secs(5));
        assert_eq!(backoff(base, 3), Duration::from_secs(20));
        assert_eq!(backoff(base, 30), Duration::from_hours(1));
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!public(private.parse().expect("ip")), "{private}");
        }
        for open in ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(public(open.parse().expect("ip")), "{open}");
        }
    }

    #[test]
    fn signatures_cover_time_and_body() {
        let signed = signature("whsec_x", 1_700_000_000, b"{}");
        assert!(signed.starts_with("t=1700000000,v1="));
        assert_ne!(signed, signature("whsec_x", 1_700_000_001, b"{}"));
        assert_ne!(signed, signature("whsec_x", 1_700_000_000, b"{ }"));
        assert_ne!(signed, signature("whsec_y", 1_700_000_000, b"{}"));
    }
}
