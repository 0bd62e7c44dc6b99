//! Work done in a task of its own whose progress streams to the client as
//! server-sent events (an ingest, a chat turn): events as it goes, then
//! `done` with its result or `error`.

use std::future::Future;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use codexos_store::audit::AuditActor;
use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::DropGuard;

use super::ApiError;

/// Where the work sends its events (gone quietly once the client left).
#[derive(Clone)]
pub(crate) struct Events(UnboundedSender<Event>);

impl Events {
    /// Sends `data` as event `name`.
    pub(crate) fn send(&self, name: &str, data: &impl Serialize) {
        let data = serde_json::to_string(data).unwrap_or_default();
        self.0.send(Event::default().event(name).data(data)).ok();
    }
}

/// The last event: `done` with the result, or `error` with its code and
/// message.
pub(crate) fn ending<T: Serialize>(result: codexos_runtime::Result<T>) -> Event {
    match result {
        Ok(value) => Event::default()
            .event("done")
            .data(serde_json::to_string(&value).unwrap_or_default()),
        Err(error) => {
            let error = ApiError::from(error);
            Event::default()
                .event("error")
                .data(json!({ "code": error.code, "message": error.message }).to_string())
        }
    }
}

/// Runs `work` in a task of its own, as `actor` in the audit log, and
/// streams its events, then the event it ends with. With `guard`, the
/// client leaving drops it (cancelling the work); without, the work goes on
/// to its end.
pub(crate) fn spawned<Work>(
    guard: Option<DropGuard>,
    actor: AuditActor,
    work: impl FnOnce(Events) -> Work,
) -> Response
where
    Work: Future<Output = Event> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let work = work(Events(sender.clone()));
    tokio::spawn(codexos_store::audit::acting_as(actor, async move {
        let last = work.await;
        sender.send(last).ok();
    }));
    let stream = futures::stream::unfold((receiver, guard), |(mut receiver, guard)| async move {
        let event = receiver.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(event), (receiver, guard)))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
