//! `codexos chat`, `codexos serve --openai` and `codexos providers`: thin
//! shells over the runtime's router.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use codexos_runtime::{ChatEvent, ChatMessage, ChatOptions, Completion, Outcome, Runtime};
use tokio_util::sync::CancellationToken;

/// Writes streamed text to stdout at once.
pub(crate) fn write_out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (`| head`) just stops the echo.
    if stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        tracing::debug!("stdout closed while streaming");
    }
}

/// One JSON line on stdout.
pub(crate) fn json_line(value: &serde_json::Value) {
    write_out(&format!("{value}\n"));
}

/// What one line of `chat --json` input may be: plain text, or a JSON object
/// with `content` (and optionally `role`).
fn parse_input(line: &str) -> ChatMessage {
    if let Ok(serde_json::Value::Object(object)) = serde_json::from_str(line) {
        if let Some(content) = object.get("content").and_then(serde_json::Value::as_str) {
            let role = object.get("role").and_then(serde_json::Value::as_str);
            return match role {
                Some("system") => ChatMessage::system(content),
                _ => ChatMessage::user(content),
            };
        }
    }
    ChatMessage::user(line)
}

/// Streams one answer (the runtime keeps the turn as a run); returns its
/// summary.
async fn answer(
    runtime: &Runtime,
    history: &mut Vec<ChatMessage>,
    options: &ChatOptions,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<Completion> {
    let on_dropped = |dropped: usize| {
        let message = format!(
            "the conversation no longer fits the context window; its {dropped} oldest exchange(s) were dropped"
        );
        if json {
            json_line(&serde_json::json!({"type": "warning", "message": message}));
        } else {
            eprintln!("warning: {message}");
        }
    };
    let on_event = |event: &ChatEvent| match event {
        ChatEvent::Token(text) => {
            if json {
                json_line(&serde_json::json!({"type": "token", "text": text}));
            } else {
                write_out(text);
            }
        }
        ChatEvent::ToolCall(call) => {
            if json {
                json_line(&serde_json::json!({"type": "toolCall", "call": call}));
            }
        }
        ChatEvent::Done(completion) => {
            if json {
                json_line(&serde_json::json!({"type": "done", "completion": completion}));
            } else {
                write_out("\n");
                let fell_back = completion
                    .attempts
                    .iter()
                    .filter(|attempt| attempt.outcome != Outcome::Ok)
                    .count();
                let note = if fell_back > 0 {
                    format!(
                        ", after {fell_back} other provider(s) — see `codexos providers attempts`"
                    )
                } else {
                    String::new()
                };
                eprintln!(
                    "  [{} · {} · {} tokens, {:.0} tok/s{note}]",
                    completion.provider,
                    completion.model,
                    completion.completion_tokens,
                    completion.tokens_per_second
                );
            }
        }
    };
    Ok(runtime
        .chat_turn(history, options, &on_dropped, &on_event, cancel)
        .await?)
}

/// `codexos chat`: a conversation on standard input. Each line is a user
/// turn; the history is kept, so the local model reuses its earlier state.
pub(crate) async fn chat(
    runtime: &Arc<Runtime>,
    options: ChatOptions,
    system: Option<String>,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let interactive = std::io::stdin().is_terminal() && !json;
    if interactive {
        let policy: Vec<String> = runtime
            .providers()?
            .into_iter()
            .map(|provider| provider.name)
            .collect();
        eprintln!(
            "chatting with {}{} — /reset starts over, /exit or Ctrl-D leaves",
            options.model.clone().unwrap_or_else(|| policy.join(" → ")),
            if runtime.offline() { " (offline)" } else { "" }
        );
    }
    let mut history: Vec<ChatMessage> = system.iter().map(ChatMessage::system).collect();
    let (lines_sender, mut lines) = tokio::sync::mpsc::unbounded_channel();
    // Standard input is read on its own thread so Ctrl-C stays responsive.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if lines_sender.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        if interactive {
            write_out("you> ");
        }
        let line = tokio::select! {
            () = cancel.cancelled() => break,
            line = lines.recv() => line,
        };
        let Some(line) = line else { break };
        let line = line?;
        let text = line.trim();
        match text {
            "" => continue,
            "/exit" | "/quit" => break,
            "/reset" => {
                history.retain(|message| message.role == codexos_runtime::Role::System);
                continue;
            }
            _ => {}
        }
        let message = parse_input(text);
        history.push(message);
        let turn = cancel.child_token();
        let completion = answer(runtime, &mut history, &options, json, &turn).await;
        match completion {
            Ok(completion) => {
                let mut reply = ChatMessage::assistant(completion.text.clone());
                reply.tool_calls = completion.tool_calls;
                history.push(reply);
            }
            Err(error) if interactive => {
                // Keep the conversation; the user can retry or change course.
                history.pop();
                eprintln!("error: {error:#}");
            }
            Err(error) => return Err(error),
        }
        if cancel.is_cancelled() {
            break;
        }
    }
    Ok(())
}

/// `codexos serve --openai`.
pub(crate) async fn serve(
    runtime: &Arc<Runtime>,
    host: &str,
    port: u16,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let address: std::net::SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(|error| anyhow::anyhow!("invalid address {host}:{port}: {error}"))?;
    codexos_server::serve_openai(Arc::clone(runtime), address, cancel.clone(), |bound| {
        if json {
            json_line(&serde_json::json!({"type": "listening", "url": format!("http://{bound}/v1")}));
        } else {
            eprintln!(
                "OpenAI-compatible API on http://{bound}/v1 (model \"codexos\" = the policy) — Ctrl-C to stop"
            );
        }
    })
    .await
    .map_err(|error| anyhow::anyhow!("cannot serve on {address}: {error} — choose another --port"))
}

/// `codexos providers test NAME`: one short request to that provider alone.
pub(crate) async fn test_provider(
    runtime: &Arc<Runtime>,
    name: &str,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let completion = runtime.test_provider(name, cancel).await?;
    if json {
        json_line(&serde_json::json!({"provider": name, "ok": true, "completion": completion}));
    } else {
        println!(
            "{name}: ok in {} ms (first token {} ms) — \"{}\"",
            completion.elapsed_ms,
            completion.first_token_ms,
            completion.text.trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_and_plain_lines_become_messages() {
        assert_eq!(parse_input("hello"), ChatMessage::user("hello"));
        assert_eq!(
            parse_input(r#"{"role":"system","content":"be brief"}"#),
            ChatMessage::system("be brief")
        );
        assert_eq!(parse_input(r#"{"content":"hi"}"#), ChatMessage::user("hi"));
        assert_eq!(parse_input("{not json"), ChatMessage::user("{not json"));
    }
}
