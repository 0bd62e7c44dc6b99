//! Saved conversations for the Chat panel: thin commands over the runtime.

#![allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use codexos_runtime::{
    Conversation, ConversationMessage, ConversationMode, ConversationSummary, Turn, TurnEvent,
};
use serde::Serialize;
use std::sync::Arc;
use tauri::ipc::Channel;

use tauri::State;

use crate::commands::{send, IpcError};
use crate::AppState;

/// Saved conversations, newest first; `query` keeps those whose title or a
/// message contains it.
#[tauri::command]
#[specta::specta]
pub fn conversations(
    state: State<'_, AppState>,
    query: Option<String>,
) -> Result<Vec<ConversationSummary>, IpcError> {
    Ok(state.runtime()?.conversations(query.as_deref())?)
}

/// One conversation with its messages.
#[tauri::command]
#[specta::specta]
pub fn conversation(state: State<'_, AppState>, id: String) -> Result<Conversation, IpcError> {
    Ok(state.runtime()?.conversation(&id)?)
}

/// Starts a conversation: ask (a project or all), chat, or agent (a
/// published agent, pinned to its newest version when none is given).
#[tauri::command]
#[specta::specta]
pub async fn conversation_new(
    state: State<'_, AppState>,
    mode: ConversationMode,
    target: Option<String>,
) -> Result<ConversationSummary, IpcError> {
    if let Some(remote) = state.remote() {
        let runtime = state.runtime()?;
        return crate::remote::new_conversation(&runtime, &remote, mode, target).await;
    }
    Ok(state.runtime()?.new_conversation(mode, target.as_deref())?)
}

/// Sends a message (or regenerates / edits and resends from `resend_from`),
/// streaming the answer; returns the stored answer.
#[tauri::command]
#[specta::specta]
#[allow(clippy::too_many_arguments)]
pub async fn conversation_send(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    request_id: String,
    id: String,
    text: String,
    resend_from: Option<u32>,
    model: Option<String>,
    project: Option<String>,
    on_event: Channel<TurnEvent>,
) -> Result<ConversationMessage, IpcError> {
    let runtime = state.runtime()?;
    // With a server's workspace open, ask mode asks its projects there; the
    // conversation stays on this machine.
    let remote = state
        .remote()
        .map(|remote| Arc::new(remote.asker()) as Arc<dyn codexos_runtime::RemoteAsker>);
    let cancel = state.requests.start(&request_id);
    let turn = Turn {
        text,
        resend_from,
        model,
        approver: Some(crate::tools::DialogApprover::for_conversation(
            app, &state, &id,
        )),
        project,
        remote,
    };
    let answer = runtime
        .send_message(&id, turn, &|event| send(&on_event, event), &cancel)
        .await;
    state.requests.finish(&request_id);
    Ok(answer?)
}

/// Renames a conversation.
#[tauri::command]
#[specta::specta]
pub fn conversation_rename(
    state: State<'_, AppState>,
    id: String,
    title: String,
) -> Result<ConversationSummary, IpcError> {
    Ok(state.runtime()?.rename_conversation(&id, &title)?)
}

/// Deletes a conversation.
#[tauri::command]
#[specta::specta]
pub fn conversation_delete(state: State<'_, AppState>, id: String) -> Result<(), IpcError> {
    Ok(state.runtime()?.delete_conversation(&id)?)
}

/// A conversation as Markdown, also written to the data home's `exports/`.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConversationExport {
    /// The file written.
    pub path: String,
    /// Its text (for the clipboard).
    pub markdown: String,
}

/// Exports a conversation as Markdown.
#[tauri::command]
#[specta::specta]
pub fn conversation_export(
    state: State<'_, AppState>,
    id: String,
) -> Result<ConversationExport, IpcError> {
    let runtime = state.runtime()?;
    let (path, markdown) = runtime.export_conversation_file(&id)?;
    Ok(ConversationExport {
        markdown,
        path: path.to_string_lossy().into_owned(),
    })
}
