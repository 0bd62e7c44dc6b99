//! `codexos conversations …`: the saved conversations the app's Chat panel
//! shows, from the terminal — a thin shell over the runtime.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Subcommand, ValueEnum};
use codexos_runtime::{ConversationMode, Runtime, Turn, TurnEvent, TurnStatus};
use tokio_util::sync::CancellationToken;

use crate::chat::write_out;
use crate::render::print_json;

/// A conversation's mode, on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    /// Questions answered from the ingested projects, with citations.
    Ask,
    /// A plain conversation with a model.
    Chat,
    /// A published agent, with its tools.
    Agent,
}

impl From<Mode> for ConversationMode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Ask => Self::Ask,
            Mode::Chat => Self::Chat,
            Mode::Agent => Self::Agent,
        }
    }
}

/// `codexos conversations …`.
#[derive(Debug, Subcommand)]
pub enum ConversationsCommand {
    /// Saved conversations, newest first.
    List {
        /// Only those whose title or a message contains this text.
        #[arg(long)]
        search: Option<String>,
    },
    /// Starts a conversation and prints its id.
    New {
        /// What it talks to.
        #[arg(long, value_enum, default_value = "chat")]
        mode: Mode,
        /// Ask mode: the project to answer from (default: all).
        #[arg(long)]
        project: Option<String>,
        /// Agent mode: the agent (`name` for its newest version, or
        /// `name@version`).
        #[arg(long)]
        agent: Option<String>,
    },
    /// Sends a message and streams the answer.
    Send {
        /// Conversation id.
        id: String,
        /// The message.
        text: String,
        /// A provider of the policy, or a .gguf in the models folder.
        #[arg(long)]
        model: Option<String>,
        /// Replace the messages from this index (a question) on: regenerate
        /// or edit and resend.
        #[arg(long)]
        resend_from: Option<u32>,
        /// Approve every `ask` tool call of an agent without asking.
        #[arg(long)]
        yes: bool,
        /// Agent mode: the project whose folder its tools work in (default:
        /// the conversation's own folder in the data home).
        #[arg(long)]
        project: Option<String>,
    },
    /// Prints a conversation.
    Show {
        /// Conversation id.
        id: String,
    },
    /// Renames a conversation.
    Rename {
        /// Conversation id.
        id: String,
        /// The new title.
        title: String,
    },
    /// Deletes a conversation.
    Rm {
        /// Conversation id.
        id: String,
    },
    /// Writes a conversation as Markdown (to stdout, or a file).
    Export {
        /// Conversation id.
        id: String,
        /// File to write.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

/// Runs `codexos conversations …`.
pub async fn conversations(
    runtime: &Arc<Runtime>,
    command: ConversationsCommand,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    match command {
        ConversationsCommand::List { search } => list(runtime, search.as_deref(), json),
        ConversationsCommand::New {
            mode,
            project,
            agent,
        } => {
            let mode = ConversationMode::from(mode);
            let target = match mode {
                ConversationMode::Ask => project,
                ConversationMode::Agent => agent,
                ConversationMode::Chat => None,
            };
            let summary = runtime.new_conversation(mode, target.as_deref())?;
            if json {
                return print_json(&summary);
            }
            println!("{}", summary.id);
            Ok(())
        }
        ConversationsCommand::Send {
            id,
            text,
            model,
            resend_from,
            yes,
            project,
        } => {
            let turn = Turn {
                text,
                resend_from,
                model,
                approver: Some(crate::tools::approver(yes)),
                project,
                remote: None,
            };
            send(runtime, &id, turn, json, cancel).await
        }
        ConversationsCommand::Show { id } => {
            let conversation = runtime.conversation(&id)?;
            if json {
                return print_json(&conversation);
            }
            print!("{}", codexos_runtime::conversation_markdown(&conversation));
            Ok(())
        }
        ConversationsCommand::Rename { id, title } => {
            let summary = runtime.rename_conversation(&id, &title)?;
            if json {
                return print_json(&summary);
            }
            println!("renamed to “{}”", summary.title);
            Ok(())
        }
        ConversationsCommand::Rm { id } => {
            runtime.delete_conversation(&id)?;
            if !json {
                println!("deleted conversation {id}");
            }
            Ok(())
        }
        ConversationsCommand::Export { id, out } => {
            let markdown = runtime.export_conversation(&id)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, markdown).map_err(|error| {
                        anyhow::anyhow!("cannot write `{}`: {error}", path.display())
                    })?;
                    if !json {
                        println!("wrote {}", path.display());
                    }
                }
                None => print!("{markdown}"),
            }
            Ok(())
        }
    }
}

fn list(runtime: &Runtime, search: Option<&str>, json: bool) -> anyhow::Result<()> {
    let list = runtime.conversations(search)?;
    if json {
        return print_json(&list);
    }
    if list.is_empty() {
        println!("no conversations — start one: codexos conversations new --mode chat");
    }
    for conversation in list {
        let target = conversation
            .target
            .as_deref()
            .map(|target| format!(" · {target}"))
            .unwrap_or_default();
        println!(
            "{}  {:<5}{target}  {} ({} messages)",
            conversation.id, conversation.mode, conversation.title, conversation.messages
        );
        if let Some(snippet) = conversation.snippet {
            println!("    {snippet}");
        }
    }
    Ok(())
}

async fn send(
    runtime: &Arc<Runtime>,
    id: &str,
    turn: Turn,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let progress = move |event: TurnEvent| {
        if json {
            if let Ok(line) = serde_json::to_string(&event) {
                write_out(&format!("{line}\n"));
            }
            return;
        }
        match event {
            TurnEvent::Token { text } => write_out(&text),
            TurnEvent::ToolCall { tool, arguments } => {
                eprintln!("  → {tool} {arguments}");
            }
            TurnEvent::ToolResult { tool, ok, .. } => {
                eprintln!("  ← {tool} {}", if ok { "ok" } else { "failed" });
            }
            TurnEvent::Retrieved { citations } => {
                eprintln!("  ({} excerpts)", citations.len());
            }
            TurnEvent::Question { .. } | TurnEvent::Run { .. } => {}
        }
    };
    let answer = runtime.send_message(id, turn, &progress, cancel).await?;
    if json {
        write_out(&format!(
            "{}\n",
            serde_json::json!({"type": "answer", "message": answer})
        ));
    } else {
        write_out("\n");
        if let Some(stats) = &answer.meta.stats {
            eprintln!(
                "  [{} · {} · {}+{} tokens, {} reused]",
                stats.provider,
                stats.model,
                stats.prompt_tokens,
                stats.completion_tokens,
                stats.cached_tokens
            );
        }
    }
    match answer.meta.status {
                TurnStatus::Done => Ok(()),
                TurnStatus::Cancelled => anyhow::bail!("stopped — the partial answer is saved"),
                TurnStatus::Failed => anyhow::bail!(
                    "{} (the question is saved: `codexos conversations send {id} \"SAME QUESTION\" --resend-from {}` retries it)",
                    answer.meta.error.unwrap_or_else(|| "the answer failed".to_owned()),
                    answer.index.saturating_sub(1)
                ),
            }
}
