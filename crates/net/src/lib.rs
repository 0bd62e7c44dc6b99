//! `codexos-net`: the one gate between CodexOS and the network.
//!
//! Every HTTP client in the engine is built by [`client`], which installs a
//! connector layer that refuses to open a connection while offline mode is
//! on — below every caller, so no code path can forget to check. Every
//! request goes out through [`send`], which sends it on a connection-less
//! client while offline, so a pooled keep-alive connection opened before the
//! switch cannot carry it either (clippy's `disallowed-methods` forbids
//! `RequestBuilder::send` elsewhere). Paths that do not use this crate's
//! reqwest (git2 clones, the MCP client's own HTTP stack) ask [`check`] before
//! they connect, and long-lived ones (MCP servers) watch the switch through
//! [`watch_offline`] and restart. The UI is held off the network by the app's
//! Content-Security-Policy.
//!
//! Offline mode is a property of the process, not of one object: it is what
//! `offline = true`, `--offline` and the app's switch promise ("this program
//! opens no network connection"), and a flag that has to be handed to every
//! client is one that sooner or later is not. Hence one process-wide switch.
//!
//! Sits at the bottom of the dependency graph (above reqwest only); `llm`,
//! `rag`, `tools` and `runtime` use it; `runtime` sets the switch.
//!
//! ```no_run
//! codexos_net::set_offline(true);
//! let client = codexos_net::client().build()?;
//! # async fn f(client: reqwest::Client) {
//! let error = codexos_net::send(client.get("https://example.com")).await.expect_err("offline");
//! assert!(codexos_net::is_refused(&error));
//! # }
//! # Ok::<(), reqwest::Error>(())
//! ```

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::LazyLock;
use std::task::{Context, Poll};

static OFFLINE: AtomicBool = AtomicBool::new(false);
static REFUSED: AtomicU64 = AtomicU64::new(0);
/// Tells long-lived connections (MCP servers) that the switch moved.
static SWITCH: LazyLock<tokio::sync::watch::Sender<bool>> =
    LazyLock::new(|| tokio::sync::watch::Sender::new(false));

/// A connection refused because offline mode is on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("offline mode is on: CodexOS opens no network connections (refused: {what}) — turn it off with `offline = false` in config.toml, without `--offline`, or with the offline switch in the app's Settings")]
pub struct Refused {
    /// What wanted the network.
    pub what: String,
}

/// Turns offline mode on or off for this process.
pub fn set_offline(offline: bool) {
    OFFLINE.store(offline, Ordering::SeqCst);
    SWITCH.send_if_modified(|current| std::mem::replace(current, offline) != offline);
}

/// The offline switch as a channel: its value now, and a wake-up whenever it
/// moves — for what holds a connection or a process across the switch.
#[must_use]
pub fn watch_offline() -> tokio::sync::watch::Receiver<bool> {
    SWITCH.subscribe()
}

/// Sends `request`. While offline mode is on the request goes to a fresh
/// client with no pooled connections, so it must open one, and the gate
/// refuses it: a keep-alive connection from before the switch never carries
/// it. The error is then reqwest's, with [`Refused`] among its causes.
#[expect(clippy::disallowed_methods, reason = "the one place requests are sent")]
pub async fn send(request: reqwest::RequestBuilder) -> reqwest::Result<reqwest::Response> {
    if !offline() {
        return request.send().await;
    }
    let (_, request) = request.build_split();
    let request = request?;
    client().build()?.execute(request).await
}

/// Whether offline mode is on.
#[must_use]
pub fn offline() -> bool {
    OFFLINE.load(Ordering::SeqCst)
}

/// Connections refused so far in this process.
#[must_use]
pub fn refused_count() -> u64 {
    REFUSED.load(Ordering::SeqCst)
}

/// For connections outside [`client`]: `Err` when offline mode is on.
pub fn check(what: &str) -> Result<(), Refused> {
    if offline() {
        REFUSED.fetch_add(1, Ordering::SeqCst);
        Err(Refused {
            what: what.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// A client builder whose connections pass the offline gate. Idle pooled
/// connections are dropped after 30 s, so a connection opened before offline
/// mode was switched on does not linger (callers above also refuse remote
/// work while offline).
#[expect(clippy::disallowed_methods, reason = "the one place clients are made")]
pub fn client() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connector_layer(Gate)
        .pool_idle_timeout(std::time::Duration::from_secs(30))
}

/// Whether `error` (or one of its causes) is an offline refusal.
#[must_use]
pub fn is_refused(error: &(dyn StdError + 'static)) -> bool {
    refusal(error).is_some()
}

fn refusal<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a Refused> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(refused) = error.downcast_ref::<Refused>() {
            return Some(refused);
        }
        current = error.source();
    }
    None
}

/// An error and its causes on one line; an offline refusal alone, since it
/// is the whole story. reqwest's own message ("error sending request") says
/// little without its causes.
#[must_use]
pub fn explain(error: &(dyn StdError + 'static)) -> String {
    if let Some(refused) = refusal(error) {
        return refused.to_string();
    }
    let mut message = error.to_string();
    let mut current = error.source();
    while let Some(cause) = current {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        current = cause.source();
    }
    message
}

/// The connector layer of [`client`].
#[derive(Debug, Clone, Copy)]
struct Gate;

impl<S> tower_layer::Layer<S> for Gate {
    type Service = GateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GateService { inner }
    }
}

#[derive(Debug, Clone)]
struct GateService<S> {
    inner: S,
}

type BoxError = Box<dyn StdError + Send + Sync>;

impl<S, R> tower_service::Service<R> for GateService<S>
where
    S: tower_service::Service<R, Error = BoxError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: R) -> Self::Future {
        // Checked when the connection is opened, not when the client was
        // built: the switch can change while the app runs.
        if let Err(refused) = check("an HTTP connection") {
            return Box::pin(std::future::ready(Err(Box::new(refused) as BoxError)));
        }
        let future = self.inner.call(request);
        Box::pin(future)
    }
}
