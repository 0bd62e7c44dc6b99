//! A chat turn of the app's conversations, answered by a workspace: the
//! history comes with each turn (the conversation is kept by the client),
//! the answer streams back as server-sent events, and the turn is kept as
//! a run of the workspace (its trace), as an ask is.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Json};
use codexos_runtime::ChatMessage;
use serde::Deserialize;
use serde_json::json;

use super::api::{ApiResult, Caller, Workspace};
use super::{stream, ApiError, Team};

/// One message of the conversation so far.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChatLine {
    /// `user` or `assistant`.
    role: String,
    /// Its text.
    content: String,
}

/// A chat turn.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChatBody {
    /// The conversation so far, the question last.
    messages: Vec<ChatLine>,
    /// `codexos` (the workspace's policy, the default), a provider or an
    /// installed model — a name, never a path.
    #[serde(default)]
    model: Option<String>,
}

/// `POST …/chat`: `token` events with the answer's text as it comes, then
/// `done` with the answer (text, model, token counts, the run it is kept
/// as) or `error`. The client leaving stops the answer.
pub(crate) async fn chat(
    State(team): State<Arc<Team>>,
    Extension(ws): Extension<Workspace>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<ChatBody>,
) -> ApiResult<Response> {
    let model = body
        .model
        .filter(|model| !model.is_empty() && model != crate::POLICY_MODEL && model != "auto");
    if let Some(model) = &model {
        if model.contains(['/', '\\']) || model.starts_with('.') {
            return Err(ApiError::invalid(format!(
                "`{model}` is not a model name: use `codexos`, a provider or an installed model (GET …/openai/v1/models)"
            )));
        }
    }
    let history = body
        .messages
        .into_iter()
        .map(|line| match line.role.as_str() {
            "user" => Ok(ChatMessage::user(line.content)),
            "assistant" => Ok(ChatMessage::assistant(line.content)),
            other => Err(ApiError::invalid(format!(
                "`{other}` is not a role here: send `user` and `assistant` messages"
            ))),
        })
        .collect::<ApiResult<Vec<_>>>()?;
    if history
        .last()
        .is_none_or(|last| last.role != codexos_runtime::Role::User)
    {
        return Err(ApiError::invalid(
            "send the conversation so far with the question last (a `user` message)",
        ));
    }
    let runtime = Arc::clone(&ws.runtime);
    let cancel = team.shutdown.child_token();
    // The stream holds the guard: the client leaving cancels the answer.
    let guard = cancel.clone().drop_guard();
    Ok(stream::spawned(
        Some(guard),
        caller.actor(),
        move |events| async move {
            let on_token = |text: &str| events.send("token", &json!({ "text": text }));
            stream::ending(runtime.chat_for(history, model, &on_token, &cancel).await)
        },
    ))
}
