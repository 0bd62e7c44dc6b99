//! Saved, multi-turn conversations in three modes:
//!
//! - **ask**: each question retrieves from the ingested projects (one project
//!   or all) and is answered with citations; earlier turns go along as they
//!   were sent, excerpts included, so a follow-up can refer to them.
//! - **chat**: a plain conversation with a model of the policy (or one named).
//! - **agent**: each message runs a published agent (pinned `name@version`)
//!   as a one-node flow: a real run, with its tool calls, approvals and trace.
//!
//! Every message is stored in SQLite as it happens: the question before the
//! model starts, the answer when it ends — finished, stopped or failed, with
//! whatever text came. With the local model a turn reuses the KV state of the
//! one before (the prompt grows by appending, so its prefix is cached).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use codexos_flow::{EventKind, RunEvent, RunOutcome, RunStatus};
use codexos_llm::{ChatEvent, ChatMessage, Completion, FinishReason, Outcome};
use codexos_store::{ConversationSummary, MessageRow};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::ask::{fit, system_prompt as ask_system_prompt, user_prompt};
use crate::chat::drop_oldest_exchange;
use crate::exchanges::{ExchangeEnd, ExchangeKind, ExchangeTrace};
use crate::{Citation, Error, ErrorCode, FlowRunOptions, Result, Runtime, SearchMode};

/// The title of a conversation until its first question names it.
pub const UNTITLED: &str = "New conversation";

pub(crate) const CHAT_SYSTEM: &str =
    "You are CodexOS, a helpful and precise assistant for software developers. \
Answer clearly and concisely.";

/// What a conversation talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum ConversationMode {
    /// Questions answered from the ingested projects, with citations.
    Ask,
    /// A plain conversation with a model.
    Chat,
    /// A published agent, with its tools.
    Agent,
}

impl ConversationMode {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ask => "ask",
            Self::Chat => "chat",
            Self::Agent => "agent",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "ask" => Self::Ask,
            "agent" => Self::Agent,
            _ => Self::Chat,
        }
    }
}

/// Token counts and timing of an answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TurnStats {
    /// Provider that answered.
    pub provider: String,
    /// Model that answered.
    pub model: String,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Prompt tokens whose KV state was reused from the turn before.
    pub cached_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Generation speed.
    pub tokens_per_second: f32,
    /// Providers tried before the one that answered.
    pub fallbacks: u32,
}

impl TurnStats {
    fn from_completion(completion: &Completion) -> Self {
        Self {
            provider: completion.provider.clone(),
            model: completion.model.clone(),
            prompt_tokens: completion.prompt_tokens,
            cached_tokens: completion.cached_tokens,
            completion_tokens: completion.completion_tokens,
            tokens_per_second: completion.tokens_per_second,
            fallbacks: completion
                .attempts
                .iter()
                .filter(|attempt| attempt.outcome != Outcome::Ok)
                .count() as u32,
        }
    }
}

/// One tool call an agent made during a turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ToolStep {
    /// Tool name.
    pub tool: String,
    /// Its arguments, as JSON text.
    pub arguments: String,
    /// Whether it succeeded (none while it runs or when it never answered).
    pub ok: Option<bool>,
    /// Its result or error, shortened.
    pub summary: Option<String>,
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum TurnStatus {
    /// Answered.
    #[default]
    Done,
    /// Stopped by the user; the text is what came before.
    Cancelled,
    /// Failed; the error says why.
    Failed,
}

/// What is stored beside a message's text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageMeta {
    /// A question: what the model was sent (ask mode: excerpts and question).
    pub prompt: Option<String>,
    /// An answer: how it ended.
    pub status: TurnStatus,
    /// An answer that failed: why.
    pub error: Option<String>,
    /// The excerpts the answer was given (ask mode).
    pub citations: Vec<Citation>,
    /// The agent's tool calls (agent mode).
    pub tools: Vec<ToolStep>,
    /// Token counts and timing.
    pub stats: Option<TurnStats>,
    /// The run that answered (agent mode).
    pub run_id: Option<String>,
    /// Oldest exchanges left out because the conversation outgrew the context.
    pub dropped: u32,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConversationMessage {
    /// Position, from 0.
    pub index: u32,
    /// `user` or `assistant`.
    pub role: String,
    /// The text.
    pub text: String,
    /// Unix seconds.
    pub created_at: f64,
    /// Citations, tool calls, statistics, status.
    pub meta: MessageMeta,
}

impl ConversationMessage {
    fn from_row(row: MessageRow) -> Self {
        Self {
            index: row.index,
            role: row.role,
            text: row.text,
            created_at: row.created_at,
            // A meta text this build cannot read still shows the message.
            meta: serde_json::from_str(&row.meta).unwrap_or_default(),
        }
    }

    fn answered(&self) -> bool {
        self.role == "assistant" && self.meta.status == TurnStatus::Done
    }
}

/// A conversation with its messages.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// The header.
    pub summary: ConversationSummary,
    /// The messages in order.
    pub messages: Vec<ConversationMessage>,
}

/// Progress of a turn.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum TurnEvent {
    /// The question is stored (its index).
    Question {
        /// Its index.
        index: u32,
    },
    /// Retrieval is done (ask mode).
    Retrieved {
        /// The excerpts going into the prompt.
        citations: Vec<Citation>,
    },
    /// More answer text.
    Token {
        /// The new text.
        text: String,
    },
    /// The agent called a tool.
    ToolCall {
        /// Tool.
        tool: String,
        /// Arguments, as JSON text.
        arguments: String,
    },
    /// A tool answered.
    ToolResult {
        /// Tool.
        tool: String,
        /// Whether it succeeded.
        ok: bool,
        /// Result or error, shortened.
        summary: String,
    },
    /// The run the answer is: an agent's run as it starts, an ask or chat
    /// turn's once it ended (its id, for the run inspector).
    Run {
        /// Run id.
        run_id: String,
    },
}

/// One turn to send.
#[derive(Clone, Default)]
pub struct Turn {
    /// The question.
    pub text: String,
    /// Replace the messages from this index (a question) on: regenerate
    /// (same text) or edit and resend (new text).
    pub resend_from: Option<u32>,
    /// A provider or model file for ask and chat (default: the policy).
    pub model: Option<String>,
    /// Who approves an agent's `ask` tool calls.
    pub approver: Option<Arc<dyn codexos_tools::Approver>>,
    /// The project whose folder an agent's tools work in (default: the
    /// conversation's own folder in the data home).
    pub project: Option<String>,
    /// Ask mode: where the question goes instead of this machine's
    /// projects and models (a team server's workspace).
    pub remote: Option<Arc<dyn RemoteAsker>>,
}

/// Answers ask-mode questions somewhere else: a team server's workspace,
/// with its projects and models. The conversation stays on this machine.
pub trait RemoteAsker: Send + Sync {
    /// Where it asks (`http://host:7420/team`): a conversation started
    /// there is continued only there.
    fn origin(&self) -> String;

    /// The standalone question's answer (from one project, or all), or why
    /// there is none.
    fn ask(
        &self,
        question: String,
        project: Option<String>,
    ) -> futures::future::BoxFuture<'static, std::result::Result<crate::Answer, String>>;

    /// The answer to a chat turn (`history`: user and assistant messages,
    /// the question last) with `model` of that side (its default when
    /// `None`), each piece of text handed to `on_token` as it comes.
    fn chat(
        &self,
        history: Vec<ChatMessage>,
        model: Option<String>,
        on_token: Arc<dyn Fn(String) + Send + Sync>,
    ) -> futures::future::BoxFuture<'static, std::result::Result<crate::Answer, String>>;

    /// An agent's turn run there: `agent` (`name@version`) given `task`,
    /// its tools working in `project` of that side (else a folder of its
    /// own there); the run's events go to `on_event` as they come; `stop`
    /// cancels the run there. Tools that would ask first are refused there
    /// (no one to ask).
    fn agent(
        &self,
        agent: String,
        task: String,
        project: Option<String>,
        stop: CancellationToken,
        on_event: codexos_flow::exec::EventSink,
    ) -> futures::future::BoxFuture<'static, std::result::Result<RunOutcome, String>>;
}

impl std::fmt::Debug for Turn {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Turn")
            .field("text", &self.text)
            .field("resend_from", &self.resend_from)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// A title from a first question: its first line, at most 60 characters.
fn title_from(text: &str) -> String {
    let line = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or(text)
        .trim();
    let mut title: String = line.chars().take(60).collect();
    if line.chars().count() > 60 {
        title.push('…');
    }
    title
}

/// The exchanges to send again: each answered question with its answer
/// (questions that were never answered, and failed or stopped answers, are
/// left out).
fn exchanges(
    messages: &[ConversationMessage],
) -> Vec<(&ConversationMessage, &ConversationMessage)> {
    messages
        .windows(2)
        .filter(|pair| pair[0].role == "user" && pair[1].answered())
        .map(|pair| (&pair[0], &pair[1]))
        .collect()
}

/// How much of the conversation so far an agent's task carries (characters;
/// about 2,000 tokens): the newest exchanges that fit, the rest left out.
const AGENT_HISTORY_CHARS: usize = 8_000;

/// What an agent is asked: the newest earlier exchanges that fit `budget`
/// characters, then the new message. Returns the task and how many earlier
/// exchanges were left out.
fn agent_task(messages: &[ConversationMessage], text: &str, budget: usize) -> (String, u32) {
    let earlier = exchanges(messages);
    let mut kept = Vec::new();
    let mut used = 0;
    for (question, answer) in earlier.iter().rev() {
        let size = question.text.len() + answer.text.len() + 24;
        if used + size > budget {
            break;
        }
        used += size;
        kept.push((question, answer));
    }
    let dropped = (earlier.len() - kept.len()) as u32;
    if kept.is_empty() {
        return (text.to_owned(), dropped);
    }
    let mut task = String::from("The conversation so far:\n\n");
    for (question, answer) in kept.into_iter().rev() {
        let _ = write!(
            task,
            "User: {}\n\nAssistant: {}\n\n",
            question.text, answer.text
        );
    }
    task.push_str("The user's new message (answer this one):\n\n");
    task.push_str(text);
    (task, dropped)
}

/// The one-node flow an agent conversation's turn runs: `agent`
/// (`name@version`) given the state's `task`, its reply the output.
pub fn agent_turn_flow(agent: &str) -> Result<codexos_flow::Flow> {
    agent_flow(agent, agent.split('@').next().unwrap_or(agent))
}

/// The one-node flow an agent turn runs.
fn agent_flow(agent: &str, name: &str) -> Result<codexos_flow::Flow> {
    let flow = json!({
        "version": 2,
        "name": format!("chat-{name}"),
        "description": format!("A chat turn with agent {agent} (made by the app's Chat panel)."),
        "state": { "task": "string", "reply": "string" },
        "nodes": [
            { "id": "message", "kind": "input", "fields": ["task"] },
            { "id": "agent", "kind": "agent", "agent": agent, "task": "{{ task }}", "output": "reply" },
            { "id": "reply", "kind": "output", "keys": ["reply"] }
        ],
        "edges": [
            { "from": "message", "to": "agent" },
            { "from": "agent", "to": "reply" }
        ]
    });
    Ok(codexos_flow::parse(&flow.to_string())?)
}

/// A conversation as Markdown: the title, then each message under its
/// speaker, answers with their sources and tool calls.
#[must_use]
pub fn conversation_markdown(conversation: &Conversation) -> String {
    let summary = &conversation.summary;
    let mut out = format!("# {}\n\n", summary.title);
    let about = match (ConversationMode::parse(&summary.mode), &summary.target) {
        (ConversationMode::Ask, Some(project)) => format!("Asked of project “{project}”"),
        (ConversationMode::Ask, None) => "Asked of all ingested projects".to_owned(),
        (ConversationMode::Chat, _) => "Chat with a model".to_owned(),
        (ConversationMode::Agent, target) => {
            format!("Chat with agent {}", target.as_deref().unwrap_or("?"))
        }
    };
    let _ = writeln!(out, "_{about} · exported from CodexOS_");
    for message in &conversation.messages {
        if message.role == "user" {
            let _ = write!(out, "\n## You\n\n{}\n", message.text);
            continue;
        }
        let speaker = message.meta.stats.as_ref().map_or_else(
            || "CodexOS".to_owned(),
            |stats| format!("CodexOS ({})", stats.model),
        );
        let _ = write!(out, "\n## {speaker}\n\n");
        if !message.meta.tools.is_empty() {
            for step in &message.meta.tools {
                let outcome = match step.ok {
                    Some(true) => "ok",
                    Some(false) => "failed",
                    None => "no answer",
                };
                let _ = writeln!(
                    out,
                    "- tool `{}` `{}` → {outcome}",
                    step.tool, step.arguments
                );
            }
            out.push('\n');
        }
        if !message.text.is_empty() {
            out.push_str(&message.text);
            out.push('\n');
        }
        match message.meta.status {
            TurnStatus::Done => {}
            TurnStatus::Cancelled => out.push_str("\n_(stopped)_\n"),
            TurnStatus::Failed => {
                let _ = write!(
                    out,
                    "\n_(failed: {})_\n",
                    message.meta.error.as_deref().unwrap_or("unknown error")
                );
            }
        }
        if !message.meta.citations.is_empty() {
            out.push_str("\nSources:\n");
            for citation in &message.meta.citations {
                let _ = writeln!(
                    out,
                    "- [{}] {}/{}",
                    citation.number, citation.project, citation.label
                );
            }
        }
    }
    out
}

/// What an agent's run did during a turn, gathered from its events.
#[derive(Debug, Default)]
struct AgentTrail {
    tools: Vec<ToolStep>,
    run_id: Option<String>,
    stats: Option<TurnStats>,
    /// The text streamed so far (what a stopped turn keeps).
    text: String,
}

impl AgentTrail {
    /// Keeps what `event` says; returns the turn event to show, if any.
    fn record(&mut self, event: &RunEvent) -> Option<TurnEvent> {
        match &event.event {
            EventKind::RunStarted { .. } if self.run_id.is_none() => {
                self.run_id = Some(event.run.clone());
                Some(TurnEvent::Run {
                    run_id: event.run.clone(),
                })
            }
            EventKind::Token { text } => {
                self.text.push_str(text);
                Some(TurnEvent::Token { text: text.clone() })
            }
            EventKind::ModelCall {
                provider, model, ..
            } => {
                let stats = self.stats.get_or_insert_with(TurnStats::default);
                stats.provider.clone_from(provider);
                stats.model.clone_from(model);
                None
            }
            EventKind::ToolCall { tool, arguments } => {
                let arguments = arguments.to_string();
                self.tools.push(ToolStep {
                    tool: tool.clone(),
                    arguments: arguments.clone(),
                    ok: None,
                    summary: None,
                });
                Some(TurnEvent::ToolCall {
                    tool: tool.clone(),
                    arguments,
                })
            }
            EventKind::ToolResult { tool, ok, summary } => {
                if let Some(step) = self
                    .tools
                    .iter_mut()
                    .rev()
                    .find(|step| &step.tool == tool && step.ok.is_none())
                {
                    step.ok = Some(*ok);
                    step.summary = Some(summary.clone());
                }
                Some(TurnEvent::ToolResult {
                    tool: tool.clone(),
                    ok: *ok,
                    summary: summary.clone(),
                })
            }
            _ => None,
        }
    }
}

/// Text, stream summary and error of a model turn, gathered as it streams.
struct Streamed {
    text: String,
    completion: Option<Completion>,
    error: Option<Error>,
}

impl Runtime {
    /// Starts a conversation. Ask mode may name a project (checked); agent
    /// mode names an agent (`name` takes its newest version, which the
    /// conversation then keeps).
    pub fn new_conversation(
        &self,
        mode: ConversationMode,
        target: Option<&str>,
    ) -> Result<ConversationSummary> {
        let target = target.map(str::trim).filter(|target| !target.is_empty());
        let target = match mode {
            ConversationMode::Ask => match target {
                Some(project) => Some(self.require_project(project)?.name),
                None => None,
            },
            ConversationMode::Chat => None,
            ConversationMode::Agent => {
                let reference = target.ok_or_else(|| Error::InvalidTurn {
                    message: "an agent conversation needs an agent — pick one of `codexos agents list` (in the app: the agent picker)".to_owned(),
                })?;
                let agent = self.agent(reference)?;
                Some(format!("{}@{}", agent.name, agent.version))
            }
        };
        let id = uuid::Uuid::new_v4().to_string();
        Ok(self
            .store
            .create_conversation(&id, mode.as_str(), target.as_deref(), UNTITLED)?)
    }

    /// Starts a conversation whose turns go to `remote` (a team server's
    /// workspace): an ask's `target` is a project of that side, an agent
    /// conversation's the agent there (`name@version`, resolved there),
    /// both checked there, not here. Its target records the side, so it is
    /// continued only there.
    pub fn new_remote_conversation(
        &self,
        remote: &dyn RemoteAsker,
        mode: ConversationMode,
        target: Option<&str>,
    ) -> Result<ConversationSummary> {
        let origin = remote.origin();
        let target = target
            .map(str::trim)
            .filter(|target| !target.is_empty() && mode != ConversationMode::Chat);
        if mode == ConversationMode::Agent && target.is_none() {
            return Err(Error::InvalidTurn {
                message: "an agent conversation needs an agent — pick one of the workspace's in the agent picker".to_owned(),
            });
        }
        let target = match target {
            Some(target) => format!("{REMOTE_TARGET}{origin}#{target}"),
            None => format!("{REMOTE_TARGET}{origin}"),
        };
        let id = uuid::Uuid::new_v4().to_string();
        Ok(self
            .store
            .create_conversation(&id, mode.as_str(), Some(&target), UNTITLED)?)
    }

    /// Conversations, newest first; with `query`, those whose title or a
    /// message contains it.
    pub fn conversations(&self, query: Option<&str>) -> Result<Vec<ConversationSummary>> {
        Ok(self.store.conversations(query, 500)?)
    }

    /// A conversation and its messages.
    pub fn conversation(&self, id: &str) -> Result<Conversation> {
        let summary = self
            .store
            .conversation(id)?
            .ok_or_else(|| Error::UnknownConversation { id: id.to_owned() })?;
        let messages = self
            .store
            .conversation_messages(id)?
            .into_iter()
            .map(ConversationMessage::from_row)
            .collect();
        Ok(Conversation { summary, messages })
    }

    /// Renames a conversation.
    pub fn rename_conversation(&self, id: &str, title: &str) -> Result<ConversationSummary> {
        let title = title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            return Err(Error::InvalidTurn {
                message: "a conversation title must be 1 to 200 characters".to_owned(),
            });
        }
        if !self.store.rename_conversation(id, title)? {
            return Err(Error::UnknownConversation { id: id.to_owned() });
        }
        Ok(self.conversation(id)?.summary)
    }

    /// Deletes a conversation and its messages.
    pub fn delete_conversation(&self, id: &str) -> Result<()> {
        if self.store.delete_conversation(id)? {
            self.audited("conversation.delete", id, serde_json::json!({}));
            Ok(())
        } else {
            Err(Error::UnknownConversation { id: id.to_owned() })
        }
    }

    /// A conversation as Markdown.
    pub fn export_conversation(&self, id: &str) -> Result<String> {
        Ok(conversation_markdown(&self.conversation(id)?))
    }

    /// Writes a conversation as Markdown into the data home's `exports/`
    /// folder (named after its title); returns the file and the Markdown.
    pub fn export_conversation_file(&self, id: &str) -> Result<(PathBuf, String)> {
        let conversation = self.conversation(id)?;
        let slug: String = conversation
            .summary
            .title
            .chars()
            .map(|c| {
                if c.is_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .split('-')
            .filter(|part| !part.is_empty())
            .take(8)
            .collect::<Vec<_>>()
            .join("-");
        let short: String = id.chars().take(8).collect();
        let name = format!(
            "{}-{short}.md",
            if slug.is_empty() {
                "conversation"
            } else {
                &slug
            }
        );
        let markdown = conversation_markdown(&conversation);
        let path = crate::flows::write_in_place(&self.home.exports(), &name, markdown.as_bytes())?;
        Ok((path, markdown))
    }

    /// Sends one turn and returns the stored answer. The question is stored
    /// first; the answer is stored however the turn ends — a stopped or
    /// failed answer keeps its partial text and says why. Errors are only
    /// those before anything was stored (no such conversation, an index that
    /// is not a question, an empty message).
    pub async fn send_message(
        self: &Arc<Self>,
        id: &str,
        turn: Turn,
        progress: &(dyn Fn(TurnEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<ConversationMessage> {
        let text = turn.text.trim().to_owned();
        if text.is_empty() {
            return Err(Error::InvalidTurn {
                message: "the message is empty — type a question first".to_owned(),
            });
        }
        let conversation = self.conversation(id)?;
        same_side(&conversation.summary, turn.remote.as_deref())?;
        let mut messages = conversation.messages;
        if let Some(from) = turn.resend_from {
            match messages.get(from as usize) {
                Some(message) if message.role == "user" => {
                    self.store.truncate_conversation(id, from)?;
                    messages.truncate(from as usize);
                }
                _ => {
                    return Err(Error::InvalidTurn {
                        message: format!(
                            "message {from} of conversation `{id}` is not a question — only a question can be regenerated or edited and resent"
                        ),
                    })
                }
            }
        }
        let mode = ConversationMode::parse(&conversation.summary.mode);
        let target = conversation.summary.target.clone();
        if conversation.summary.title == UNTITLED && messages.is_empty() {
            self.store.rename_conversation(id, &title_from(&text))?;
        }
        // The question is stored before the model starts: a crash loses at
        // most the answer in progress.
        let index = self.store.append_message(id, "user", &text, "{}")?;
        progress(TurnEvent::Question { index });
        let (answer, meta, prompt) = match (mode, turn.remote.clone()) {
            (ConversationMode::Agent, _) => {
                // A server's agent conversation names its agent after `#`.
                let agent = match target.as_deref().and_then(remote_side) {
                    Some((_, agent)) => agent.unwrap_or_default(),
                    None => target.as_deref().unwrap_or_default(),
                };
                let (answer, meta) = self
                    .agent_turn(id, agent, &messages, &text, &turn, progress, cancel)
                    .await;
                (answer, meta, None)
            }
            (ConversationMode::Ask, Some(remote)) => {
                let project = target
                    .as_deref()
                    .and_then(remote_side)
                    .and_then(|(_, project)| project.map(str::to_owned));
                remote_turn(remote.as_ref(), project, &messages, &text, progress, cancel).await
            }
            (ConversationMode::Chat, Some(remote)) => {
                remote_chat(remote.as_ref(), &turn, &messages, &text, progress, cancel).await
            }
            (ConversationMode::Chat | ConversationMode::Ask, _) => {
                self.model_turn(
                    id,
                    mode,
                    target.as_deref(),
                    &messages,
                    &text,
                    &turn,
                    progress,
                    cancel,
                )
                .await
            }
        };
        if let Some(prompt) = prompt {
            // What the model saw, for the next turn's history.
            let meta = MessageMeta {
                prompt: Some(prompt),
                ..MessageMeta::default()
            };
            self.store.set_message_meta(
                id,
                index,
                &serde_json::to_string(&meta).map_err(|error| json_error(&error))?,
            )?;
        }
        let stored = serde_json::to_string(&meta).map_err(|error| json_error(&error))?;
        let index = self
            .store
            .append_message(id, "assistant", &answer, &stored)?;
        Ok(ConversationMessage {
            index,
            role: "assistant".to_owned(),
            text: answer,
            created_at: now(),
            meta,
        })
    }

    /// An ask or chat turn: the history, retrieval for ask, the model. The
    /// turn is kept as a run (its trace; `meta.run_id`).
    /// Returns the answer text, its meta and (ask) the prompt as sent.
    #[allow(clippy::too_many_arguments)]
    async fn model_turn(
        &self,
        conversation: &str,
        mode: ConversationMode,
        project: Option<&str>,
        messages: &[ConversationMessage],
        text: &str,
        turn: &Turn,
        progress: &(dyn Fn(TurnEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> (String, MessageMeta, Option<String>) {
        let mut meta = MessageMeta::default();
        let (system, kind) = match mode {
            ConversationMode::Ask => (ask_system_prompt(), ExchangeKind::Ask),
            _ => (CHAT_SYSTEM.to_owned(), ExchangeKind::Chat),
        };
        let mut trace = ExchangeTrace::start(
            kind,
            serde_json::json!({ "question": text, "project": project, "conversation": conversation }),
            None,
        );
        let mut history = vec![ChatMessage::system(system.clone())];
        for (question, answer) in exchanges(messages) {
            let sent = question
                .meta
                .prompt
                .clone()
                .unwrap_or_else(|| question.text.clone());
            history.push(ChatMessage::user(sent));
            history.push(ChatMessage::assistant(answer.text.clone()));
        }
        let mut prompt = text.to_owned();
        if mode == ConversationMode::Ask {
            let query = follow_up_query(messages, text);
            match self
                .ask_prompt(project, &query, text, turn, &mut history, &mut trace)
                .await
            {
                Ok((citations, sent, dropped)) => {
                    trace.retrieved(&query, project, ASK_K, Ok(&citations));
                    progress(TurnEvent::Retrieved {
                        citations: citations.clone(),
                    });
                    meta.citations = citations;
                    meta.dropped = dropped;
                    prompt = sent;
                }
                Err(error) => {
                    let message = error.to_string();
                    trace.retrieved(&query, project, ASK_K, Err(message.clone()));
                    let options = crate::ChatOptions {
                        model: turn.model.clone(),
                        ..crate::ChatOptions::default()
                    };
                    meta.run_id = self.keep_exchange(
                        trace,
                        &history,
                        &options,
                        ExchangeEnd::of(None, Some(&error)),
                    );
                    return (String::new(), failed(meta, &error), None);
                }
            }
        }
        history.push(ChatMessage::user(prompt.clone()));
        let options = crate::ChatOptions {
            model: turn.model.clone(),
            trace_parent: Some(trace.answering()),
            ..crate::ChatOptions::default()
        };
        let streamed = match self.chat_conversation(&mut history, &options, cancel).await {
            Ok((stream, dropped)) => {
                meta.dropped += dropped as u32;
                collect(stream, progress).await
            }
            Err(error) => Streamed {
                text: String::new(),
                completion: None,
                error: Some(error),
            },
        };
        meta.run_id = self.keep_exchange(
            trace,
            &history,
            &options,
            ExchangeEnd::of(streamed.completion.as_ref(), streamed.error.as_ref()),
        );
        if let Some(run_id) = &meta.run_id {
            progress(TurnEvent::Run {
                run_id: run_id.clone(),
            });
        }
        let sent = (mode == ConversationMode::Ask).then_some(prompt);
        let text = streamed.text.trim().to_owned();
        if let Some(completion) = &streamed.completion {
            meta.stats = Some(TurnStats::from_completion(completion));
            if completion.finish == FinishReason::Cancelled {
                meta.status = TurnStatus::Cancelled;
            }
        }
        if let Some(error) = streamed.error {
            meta = failed(meta, &error);
        }
        (text, meta, sent)
    }

    /// Ask mode: retrieves for `query` and fits the excerpts beside the
    /// history (oldest exchanges dropped while the history takes more than
    /// half the context). Returns the citations, the prompt and how many
    /// exchanges were dropped.
    async fn ask_prompt(
        &self,
        project: Option<&str>,
        query: &str,
        text: &str,
        turn: &Turn,
        history: &mut Vec<ChatMessage>,
        trace: &mut ExchangeTrace,
    ) -> Result<(Vec<Citation>, String, u32)> {
        let hits = self
            .search(
                query,
                &crate::SearchRequest::new(ASK_K as u32, SearchMode::Hybrid, project),
            )
            .await?;
        trace.searched();
        let (context_size, count) = self.token_counter(turn.model.as_deref()).await;
        let history_tokens = |history: &[ChatMessage]| -> usize {
            history
                .iter()
                .map(|message| count(&message.content) + 4)
                .sum()
        };
        let mut dropped = 0;
        while history_tokens(history) > context_size / 2 && history.len() > 1 {
            // Drop the oldest exchange (the last question is not in yet).
            history.push(ChatMessage::user(String::new()));
            let went = drop_oldest_exchange(history);
            history.pop();
            if !went {
                break;
            }
            dropped += 1;
        }
        let budget = context_size
            .saturating_sub(self.config.llm.max_tokens as usize)
            .saturating_sub(history_tokens(history) + count(text) + 64);
        let citations = fit(&hits, budget, |piece| count(piece));
        let prompt = user_prompt(text, &citations);
        Ok((citations, prompt, dropped))
    }

    /// Where an agent turn's tools work: the project given (the app's
    /// selected one), else a folder of the conversation's own — never the
    /// data home's flows or the process's current folder.
    fn agent_folder(&self, id: &str, project: Option<&str>) -> Result<PathBuf> {
        project.map_or_else(
            || {
                let scratch = self.home.root().join("conversations").join(id);
                std::fs::create_dir_all(&scratch)
                    .map(|()| scratch.clone())
                    .map_err(|source| Error::Home {
                        path: scratch,
                        source,
                    })
            },
            |project| self.project_root(project),
        )
    }

    /// An agent turn: a one-node flow run of the pinned agent.
    #[allow(clippy::too_many_arguments)]
    async fn agent_turn(
        self: &Arc<Self>,
        id: &str,
        agent: &str,
        messages: &[ConversationMessage],
        text: &str,
        turn: &Turn,
        progress: &(dyn Fn(TurnEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> (String, MessageMeta) {
        let name = agent.split('@').next().unwrap_or(agent);
        let flow = match agent_flow(agent, name) {
            Ok(flow) => flow,
            Err(error) => return (String::new(), failed(MessageMeta::default(), &error)),
        };
        let trail: Arc<Mutex<AgentTrail>> = Arc::default();
        // Run events come from the executor's tasks; they are turned into
        // turn events here and kept for the stored answer.
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<TurnEvent>();
        let sink_trail = Arc::clone(&trail);
        let on_event: codexos_flow::exec::EventSink = Arc::new(move |event: &RunEvent| {
            let turn_event = sink_trail
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .record(event);
            if let Some(turn_event) = turn_event {
                let _ = sender.send(turn_event);
            }
        });
        let (task, dropped) = agent_task(messages, text, AGENT_HISTORY_CHARS);
        // A server's workspace runs its agent there, in its project there;
        // stopping here stops the run there, which ends the turn.
        let mut run: futures::future::BoxFuture<'_, Result<RunOutcome>> =
            if let Some(remote) = &turn.remote {
                let started = remote.agent(
                    agent.to_owned(),
                    task,
                    turn.project.clone(),
                    cancel.clone(),
                    on_event,
                );
                // Not raced against `cancel`: the side stops its run on it (also
                // one still starting) and answers how it ended.
                Box::pin(async move {
                    started
                        .await
                        .map_err(|message| Error::InvalidTurn { message })
                })
            } else {
                let root = match self.agent_folder(id, turn.project.as_deref()) {
                    Ok(root) => root,
                    Err(error) => return (String::new(), failed(MessageMeta::default(), &error)),
                };
                let options = FlowRunOptions {
                    answers: BTreeMap::new(),
                    on_event: Some(on_event),
                    root: Some(root),
                    project: None,
                    approver: turn.approver.clone(),
                    ..FlowRunOptions::default()
                };
                let input = json!({ "task": task });
                Box::pin(self.run_flow(flow, None, None, input, options, cancel.clone()))
            };
        let outcome = loop {
            tokio::select! {
                outcome = &mut run => break outcome,
                Some(event) = receiver.recv() => progress(event),
            }
        };
        while let Ok(event) = receiver.try_recv() {
            progress(event);
        }
        let trail = std::mem::take(
            &mut *trail
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let meta = MessageMeta {
            tools: trail.tools,
            stats: trail.stats,
            run_id: trail.run_id,
            dropped,
            ..MessageMeta::default()
        };
        // A stopped or failed run has no output: keep what it streamed.
        agent_reply(outcome, meta, trail.text)
    }
}

/// An agent turn's answer: the run's reply (what it streamed when it
/// stopped or failed before one) and its meta with the run's status.
fn agent_reply(
    outcome: Result<RunOutcome>,
    mut meta: MessageMeta,
    streamed: String,
) -> (String, MessageMeta) {
    match outcome {
        Ok(outcome) => {
            meta.run_id = Some(outcome.run_id.clone());
            let reply = match &outcome.output {
                Value::Object(fields) => fields.get("reply").cloned().unwrap_or(Value::Null),
                other => other.clone(),
            };
            let reply = match reply {
                Value::String(text) => text,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            match outcome.status {
                RunStatus::Succeeded => {}
                RunStatus::Cancelled => meta.status = TurnStatus::Cancelled,
                _ => {
                    meta.status = TurnStatus::Failed;
                    meta.error = Some(outcome.error.unwrap_or_else(|| {
                        format!("the agent's run ended {:?}", outcome.status).to_lowercase()
                    }));
                }
            }
            let reply = if reply.trim().is_empty() && meta.status != TurnStatus::Done {
                streamed
            } else {
                reply
            };
            (reply.trim().to_owned(), meta)
        }
        Err(error) => (streamed.trim().to_owned(), failed(meta, &error)),
    }
}

/// The target prefix of a conversation that asks elsewhere:
/// `remote:ORIGIN` or `remote:ORIGIN#PROJECT`.
pub const REMOTE_TARGET: &str = "remote:";

/// The origin and project of a conversation that asks elsewhere.
#[must_use]
pub fn remote_side(target: &str) -> Option<(&str, Option<&str>)> {
    let rest = target.strip_prefix(REMOTE_TARGET)?;
    Some(match rest.rsplit_once('#') {
        Some((origin, project)) => (origin, Some(project)),
        None => (rest, None),
    })
}

/// Refuses a turn sent to the other side than the conversation's: one
/// started on a server's workspace continues only there, one started here
/// only here (its history and project belong to that side).
fn same_side(conversation: &ConversationSummary, remote: Option<&dyn RemoteAsker>) -> Result<()> {
    let side = conversation.target.as_deref().and_then(remote_side);
    let refusal = match (side, remote) {
        (Some((origin, _)), Some(asker)) if asker.origin() == origin => None,
        (Some((origin, _)), _) => Some(format!(
            "this conversation asks {origin} — open that workspace from the header's switcher to continue it, or start a new one"
        )),
        (None, Some(_)) if conversation.mode == ConversationMode::Ask.as_str() => Some(
            "this conversation asks this machine's projects — switch the workspace to “This machine” to continue it, or start a new one".to_owned(),
        ),
        (None, Some(_)) => Some(format!(
            "a {} conversation uses this machine's models and agents — switch the workspace to “This machine” to continue it",
            conversation.mode
        )),
        (None, None) => None,
    };
    refusal.map_or(Ok(()), |message| Err(Error::InvalidTurn { message }))
}

/// An ask turn answered elsewhere: the follow-up rewritten into a
/// standalone question, sent, and its answer, excerpts and run kept as a
/// local turn's are. Returns the answer text, its meta and the question sent.
async fn remote_turn(
    remote: &dyn RemoteAsker,
    project: Option<String>,
    messages: &[ConversationMessage],
    text: &str,
    progress: &(dyn Fn(TurnEvent) + Send + Sync),
    cancel: &CancellationToken,
) -> (String, MessageMeta, Option<String>) {
    let mut meta = MessageMeta::default();
    let query = follow_up_query(messages, text);
    let asked = tokio::select! {
        asked = remote.ask(query.clone(), project) => asked,
        () = cancel.cancelled() => {
            meta.status = TurnStatus::Cancelled;
            return (String::new(), meta, Some(query));
        }
    };
    match asked {
        Ok(answer) => {
            progress(TurnEvent::Retrieved {
                citations: answer.citations.clone(),
            });
            progress(TurnEvent::Token {
                text: answer.text.clone(),
            });
            (kept_answer(&mut meta, answer, progress), meta, Some(query))
        }
        Err(message) => (String::new(), failed_remotely(meta, message), Some(query)),
    }
}

/// An answer from elsewhere kept as a local turn's: its run announced, its
/// excerpts, counts and run in `meta`; its text.
fn kept_answer(
    meta: &mut MessageMeta,
    answer: crate::Answer,
    progress: &(dyn Fn(TurnEvent) + Send + Sync),
) -> String {
    if let Some(run_id) = &answer.run_id {
        progress(TurnEvent::Run {
            run_id: run_id.clone(),
        });
    }
    meta.citations = answer.citations;
    meta.stats = Some(TurnStats::from_completion(&answer.completion));
    meta.run_id = answer.run_id;
    answer.text.trim().to_owned()
}

/// A turn the other side refused or failed, with its reason.
fn failed_remotely(mut meta: MessageMeta, message: String) -> MessageMeta {
    meta.status = TurnStatus::Failed;
    meta.error = Some(message);
    meta
}

/// A chat turn answered elsewhere: the answered exchanges and the question
/// sent, the answer streamed back token by token and kept as a local
/// turn's is. Returns the answer text and its meta.
async fn remote_chat(
    remote: &dyn RemoteAsker,
    turn: &Turn,
    messages: &[ConversationMessage],
    text: &str,
    progress: &(dyn Fn(TurnEvent) + Send + Sync),
    cancel: &CancellationToken,
) -> (String, MessageMeta, Option<String>) {
    let mut meta = MessageMeta::default();
    let mut history = Vec::new();
    for (question, answer) in exchanges(messages) {
        history.push(ChatMessage::user(question.text.clone()));
        history.push(ChatMessage::assistant(answer.text.clone()));
    }
    history.push(ChatMessage::user(text));
    let (sender, mut tokens) = tokio::sync::mpsc::unbounded_channel::<String>();
    let on_token = Arc::new(move |piece: String| {
        sender.send(piece).ok();
    });
    let mut answering = remote.chat(history, turn.model.clone(), on_token);
    let mut streamed = String::new();
    let answered = loop {
        tokio::select! {
            answered = &mut answering => break Some(answered),
            Some(piece) = tokens.recv() => {
                streamed.push_str(&piece);
                progress(TurnEvent::Token { text: piece });
            }
            () = cancel.cancelled() => break None,
        }
    };
    // Pieces that came with the end.
    while let Ok(piece) = tokens.try_recv() {
        streamed.push_str(&piece);
        progress(TurnEvent::Token { text: piece });
    }
    match answered {
        None => {
            meta.status = TurnStatus::Cancelled;
            (streamed.trim().to_owned(), meta, None)
        }
        Some(Ok(answer)) => (kept_answer(&mut meta, answer, progress), meta, None),
        Some(Err(message)) => (
            streamed.trim().to_owned(),
            failed_remotely(meta, message),
            None,
        ),
    }
}

fn failed(mut meta: MessageMeta, error: &Error) -> MessageMeta {
    if error.code() == ErrorCode::Cancelled {
        meta.status = TurnStatus::Cancelled;
    } else {
        meta.status = TurnStatus::Failed;
        meta.error = Some(error.to_string());
    }
    meta
}

/// Excerpts an ask-mode turn retrieves.
const ASK_K: usize = 6;

/// What an ask-mode turn searches for: a short follow-up ("and its
/// tests?") together with the question before it, so retrieval knows what
/// "it" is.
fn follow_up_query(messages: &[ConversationMessage], text: &str) -> String {
    let previous = exchanges(messages)
        .last()
        .map(|(question, _)| question.text.clone());
    match previous {
        Some(previous) if text.split_whitespace().count() <= 6 => format!("{previous}\n{text}"),
        _ => text.to_owned(),
    }
}

async fn collect(
    mut stream: codexos_llm::EventStream,
    progress: &(dyn Fn(TurnEvent) + Send + Sync),
) -> Streamed {
    let mut streamed = Streamed {
        text: String::new(),
        completion: None,
        error: None,
    };
    while let Some(item) = stream.recv().await {
        match item {
            Ok(ChatEvent::Token(text)) => {
                streamed.text.push_str(&text);
                progress(TurnEvent::Token { text });
            }
            Ok(ChatEvent::ToolCall(_)) => {}
            Ok(ChatEvent::Done(completion)) => {
                if !completion.text.is_empty() {
                    streamed.text.clone_from(&completion.text);
                }
                streamed.completion = Some(completion);
                break;
            }
            Err(error) => {
                streamed.error = Some(error.into());
                break;
            }
        }
    }
    if streamed.completion.is_none() && streamed.error.is_none() {
        streamed.error = Some(Error::Task {
            message: "the answer stream ended before the model finished — regenerate to try again"
                .to_owned(),
        });
    }
    streamed
}

fn json_error(error: &serde_json::Error) -> Error {
    Error::Task {
        message: format!("cannot store a message: {error}"),
    }
}

pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(index: u32, role: &str, text: &str, status: TurnStatus) -> ConversationMessage {
        ConversationMessage {
            index,
            role: role.to_owned(),
            text: text.to_owned(),
            created_at: 0.0,
            meta: MessageMeta {
                status,
                ..MessageMeta::default()
            },
        }
    }

    #[test]
    fn only_answered_exchanges_are_sent_again() {
        let messages = vec![
            message(0, "user", "q1", TurnStatus::Done),
            message(1, "assistant", "a1", TurnStatus::Done),
            message(
                2,
                "user",
                "q2 (crashed before its answer)",
                TurnStatus::Done,
            ),
            message(3, "user", "q3", TurnStatus::Done),
            message(4, "assistant", "partial", TurnStatus::Cancelled),
            message(5, "user", "q4", TurnStatus::Done),
            message(6, "assistant", "a4", TurnStatus::Done),
        ];
        let sent: Vec<_> = exchanges(&messages)
            .into_iter()
            .map(|(question, answer)| (question.text.as_str(), answer.text.as_str()))
            .collect();
        assert_eq!(sent, [("q1", "a1"), ("q4", "a4")]);
        let (task, dropped) = agent_task(&messages, "next?", 10_000);
        assert_eq!(dropped, 0);
        assert!(task.starts_with("The conversation so far:"), "{task}");
        assert!(task.contains("User: q4\n\nAssistant: a4"), "{task}");
        assert!(!task.contains("partial"), "{task}");
        assert!(task.ends_with("next?"));
        assert_eq!(agent_task(&[], "first", 10_000), ("first".to_owned(), 0));
        // A small budget keeps the newest exchange only.
        let (short, dropped) = agent_task(&messages, "next?", 30);
        assert_eq!(dropped, 1);
        assert!(short.contains("q4") && !short.contains("q1"), "{short}");
    }

    #[test]
    fn titles_come_from_the_first_line_and_are_cut() {
        assert_eq!(title_from("\n  How do I build?\nmore"), "How do I build?");
        let long = "x".repeat(80);
        assert_eq!(title_from(&long).chars().count(), 61);
    }

    #[test]
    fn the_agent_flow_checks_and_names_the_agent() {
        let flow = agent_flow("planner@1.0.0", "planner").expect("parses");
        assert_eq!(flow.name, "chat-planner");
        assert_eq!(flow.nodes.len(), 3);
    }

    #[test]
    fn markdown_has_speakers_sources_tools_and_endings() {
        let mut answer = message(1, "assistant", "It builds with make.", TurnStatus::Done);
        answer.meta.stats = Some(TurnStats {
            model: "qwen".into(),
            ..TurnStats::default()
        });
        answer.meta.citations = vec![Citation {
            number: 1,
            project: "docs".into(),
            path: "README.md".into(),
            start_line: 1,
            end_line: 3,
            page: None,
            score: 0.5,
            label: "README.md:1-3".into(),
            text: "make".into(),
        }];
        let mut stopped = message(3, "assistant", "half", TurnStatus::Cancelled);
        stopped.meta.tools = vec![ToolStep {
            tool: "fs.list".into(),
            arguments: "{}".into(),
            ok: Some(true),
            summary: None,
        }];
        let conversation = Conversation {
            summary: ConversationSummary {
                id: "c".into(),
                title: "Build".into(),
                mode: "ask".into(),
                target: Some("docs".into()),
                created_at: 0.0,
                updated_at: 0.0,
                messages: 4,
                snippet: None,
            },
            messages: vec![
                message(0, "user", "How to build?", TurnStatus::Done),
                answer,
                message(2, "user", "And test?", TurnStatus::Done),
                stopped,
            ],
        };
        let markdown = conversation_markdown(&conversation);
        assert!(
            markdown.starts_with("# Build\n\n_Asked of project “docs”"),
            "{markdown}"
        );
        assert!(markdown.contains("## You\n\nHow to build?\n"), "{markdown}");
        assert!(
            markdown.contains("## CodexOS (qwen)\n\nIt builds with make.\n"),
            "{markdown}"
        );
        assert!(markdown.contains("- [1] docs/README.md:1-3"), "{markdown}");
        assert!(
            markdown.contains("- tool `fs.list` `{}` → ok"),
            "{markdown}"
        );
        assert!(markdown.contains("half\n\n_(stopped)_"), "{markdown}");
    }

    /// In one process (the app), each turn reuses the local model's KV state
    /// of the turn before: the prompt only grows by appending.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_turn_reuses_the_model_state_of_the_turn_before() {
        let home = tempfile::tempdir().expect("temp dir");
        let root = home.path().join("home");
        std::fs::create_dir_all(&root).expect("home");
        std::fs::write(
            root.join("config.toml"),
            "[llm]\nmax_tokens = 32\ntemperature = 0.0\n",
        )
        .expect("config");
        let home_paths = crate::Home::new(root, Some(codexos_test_support::models_dir()));
        let runtime = Runtime::open(home_paths).expect("runtime");
        let id = runtime
            .new_conversation(ConversationMode::Chat, None)
            .expect("created")
            .id;
        let cancel = CancellationToken::new();
        let mut answers = Vec::new();
        for question in ["Name a colour.", "Name another one.", "And a third?"] {
            let turn = Turn {
                text: question.to_owned(),
                ..Turn::default()
            };
            let answer = runtime
                .send_message(&id, turn, &|_| {}, &cancel)
                .await
                .expect("sent");
            assert_eq!(answer.meta.status, TurnStatus::Done, "{answer:?}");
            answers.push(answer.meta.stats.expect("stats"));
        }
        assert_eq!(
            answers[0].provider, "local",
            "positive control: the local model answered"
        );
        for pair in answers.windows(2) {
            assert!(
                pair[1].cached_tokens >= pair[0].prompt_tokens,
                "turn reused the one before: {pair:?}"
            );
        }
        assert_eq!(runtime.conversation(&id).expect("read").messages.len(), 6);
    }
}
