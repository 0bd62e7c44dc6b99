//! Anthropic Messages: request body, streamed events, whole responses.

use serde_json::{json, Value};

use super::{Decoder, Failure, PartialCalls};
use crate::sse::SseEvent;
use crate::{ChatEvent, ChatRequest, Completion, FinishReason, Role};

/// The request body for `model`: system text apart, tool calls and results as
/// content blocks.
pub(super) fn body(model: &str, request: &ChatRequest) -> Value {
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|message| message.role == Role::System)
        .map(|message| message.content.as_str())
        .collect();
    let messages: Vec<Value> = request
        .messages
        .iter()
        .filter(|message| message.role != Role::System)
        .map(|message| match message.role {
            Role::Tool => json!({"role": "user", "content": [{
                "type": "tool_result",
                "tool_use_id": message.tool_call_id.clone().unwrap_or_default(),
                "content": message.content,
            }]}),
            Role::Assistant if !message.tool_calls.is_empty() => {
                let mut blocks = Vec::new();
                if !message.content.is_empty() {
                    blocks.push(json!({"type": "text", "text": message.content}));
                }
                for call in &message.tool_calls {
                    let input: Value = serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
                    blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
                }
                json!({"role": "assistant", "content": blocks})
            }
            role => json!({"role": role.as_str(), "content": message.content}),
        })
        .collect();
    let mut body = json!({
        "model": model,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "messages": messages,
        "stream": true,
    });
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| json!({"name": tool.name, "description": tool.description, "input_schema": tool.parameters}))
            .collect();
        if request.tool_choice == crate::ToolChoice::Required {
            body["tool_choice"] = json!({"type": "any"});
        }
    }
    body
}

fn stop_reason(value: Option<&str>) -> Option<FinishReason> {
    match value? {
        "max_tokens" => Some(FinishReason::Length),
        "tool_use" => Some(FinishReason::ToolCalls),
        _ => Some(FinishReason::Stop),
    }
}

fn error_in(value: &Value) -> Option<(Failure, String)> {
    if value.get("type").and_then(Value::as_str) != Some("error") {
        return None;
    }
    let kind = value
        .pointer("/error/type")
        .and_then(Value::as_str)
        .unwrap_or("error");
    let message = value
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or(kind);
    let failure = match kind {
        "rate_limit_error" => Failure::RateLimited {
            retry_after_ms: None,
        },
        "authentication_error" | "permission_error" => Failure::Auth { status: 0 },
        "invalid_request_error" if message.contains("too long") => Failure::ContextTooLong,
        "invalid_request_error" => Failure::Rejected { status: 0 },
        _ => Failure::Server { status: 0 },
    };
    Some((failure, format!("{kind}: {message}")))
}

/// Takes a `tool_use` block's id and tool name.
fn name_call(call: &mut crate::ToolCall, block: &Value) {
    let text = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or_default();
    text("id").clone_into(&mut call.id);
    text("name").clone_into(&mut call.name);
}

/// State of one streamed answer.
#[derive(Debug, Default)]
pub(super) struct StreamDecoder {
    calls: PartialCalls,
    /// Content block index → tool call index.
    blocks: Vec<(u64, usize)>,
    finish: Option<FinishReason>,
    prompt_tokens: u32,
    completion_tokens: u32,
    cached_tokens: u32,
    started: bool,
}

impl StreamDecoder {
    /// A `content_block_delta`: text to stream, or a piece of a tool call's input.
    fn delta(&mut self, value: &Value, out: &mut Vec<ChatEvent>) {
        let delta = value.get("delta").cloned().unwrap_or(Value::Null);
        match delta.get("type").and_then(Value::as_str) {
            Some("text_delta") => {
                if let Some(text) = delta.get("text").and_then(Value::as_str) {
                    if !text.is_empty() {
                        out.push(ChatEvent::Token(text.to_owned()));
                    }
                }
            }
            Some("input_json_delta") => {
                let index = value.get("index").and_then(Value::as_u64).unwrap_or(0);
                if let Some(&(_, call_index)) =
                    self.blocks.iter().find(|(block, _)| *block == index)
                {
                    let partial = delta
                        .get("partial_json")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    self.calls.at(call_index).arguments.push_str(partial);
                }
            }
            _ => {}
        }
    }
}

impl Decoder for StreamDecoder {
    fn event(
        &mut self,
        event: &SseEvent,
        out: &mut Vec<ChatEvent>,
    ) -> Result<bool, (Failure, String)> {
        if event.data.trim().is_empty() {
            return Ok(false);
        }
        let value: Value = serde_json::from_str(&event.data).map_err(|error| {
            (
                Failure::Malformed,
                format!(
                    "an event is not JSON ({error}): {}",
                    super::excerpt(&event.data)
                ),
            )
        })?;
        if let Some(failure) = error_in(&value) {
            return Err(failure);
        }
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(event.event.as_str());
        match kind {
            "message_start" => {
                self.started = true;
                let usage = |key: &str| {
                    value
                        .pointer(&format!("/message/usage/{key}"))
                        .and_then(Value::as_u64)
                        .unwrap_or(0) as u32
                };
                self.prompt_tokens = usage("input_tokens")
                    + usage("cache_read_input_tokens")
                    + usage("cache_creation_input_tokens");
                self.cached_tokens = usage("cache_read_input_tokens");
            }
            "content_block_start" => {
                let block = value.get("content_block").cloned().unwrap_or(Value::Null);
                if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                    let index = value.get("index").and_then(Value::as_u64).unwrap_or(0);
                    let call_index = self.blocks.len();
                    self.blocks.push((index, call_index));
                    name_call(self.calls.at(call_index), &block);
                }
            }
            "content_block_delta" => self.delta(&value, out),
            "message_delta" => {
                if let Some(reason) =
                    stop_reason(value.pointer("/delta/stop_reason").and_then(Value::as_str))
                {
                    self.finish = Some(reason);
                }
                if let Some(tokens) = value
                    .pointer("/usage/output_tokens")
                    .and_then(Value::as_u64)
                {
                    self.completion_tokens = tokens as u32;
                }
            }
            "message_stop" => return Ok(true),
            "ping" | "content_block_stop" => {}
            other if !self.started => {
                return Err((
                    Failure::Malformed,
                    format!("the stream began with `{other}`, not message_start"),
                ));
            }
            _ => {}
        }
        Ok(false)
    }

    fn finish(&mut self, completion: &mut Completion) {
        completion.tool_calls = self.calls.take();
        completion.prompt_tokens = self.prompt_tokens;
        completion.cached_tokens = self.cached_tokens;
        completion.completion_tokens = self.completion_tokens;
        completion.finish = self.finish.unwrap_or(FinishReason::Stop);
    }
}

/// A non-streamed response.
pub(super) fn whole(value: &Value, completion: &mut Completion) -> Result<(), (Failure, String)> {
    if let Some(failure) = error_in(value) {
        return Err(failure);
    }
    let blocks = value
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            (
                Failure::Malformed,
                format!("no content in {}", super::excerpt(&value.to_string())),
            )
        })?;
    let mut calls = PartialCalls::default();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => completion.text.push_str(
                block
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
            Some("tool_use") => {
                let index = calls.calls.len();
                let call = calls.at(index);
                name_call(call, block);
                call.arguments = block
                    .get("input")
                    .map_or_else(|| "{}".to_owned(), Value::to_string);
            }
            _ => {}
        }
    }
    completion.tool_calls = calls.take();
    let usage = |key: &str| {
        value
            .pointer(&format!("/usage/{key}"))
            .and_then(Value::as_u64)
            .unwrap_or(0) as u32
    };
    completion.prompt_tokens = usage("input_tokens");
    completion.completion_tokens = usage("output_tokens");
    completion.finish =
        stop_reason(value.get("stop_reason").and_then(Value::as_str)).unwrap_or(FinishReason::Stop);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatMessage, ToolCall};

    #[test]
    fn a_streamed_message_with_text_and_a_tool_use_is_normalised() {
        let events = [
            (
                "message_start",
                r#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":25,"output_tokens":1}}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            ("ping", r#"{"type":"ping"}"#),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me check."}}"#,
            ),
            (
                "content_block_stop",
                r#"{"type":"content_block_stop","index":0}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Os"}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"lo\"}"}}"#,
            ),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}}"#,
            ),
        ];
        let mut decoder = StreamDecoder::default();
        let mut out = Vec::new();
        for (event, data) in events {
            let done = decoder
                .event(
                    &SseEvent {
                        event: event.into(),
                        data: data.into(),
                    },
                    &mut out,
                )
                .expect("valid");
            assert!(!done);
        }
        assert!(decoder
            .event(
                &SseEvent {
                    event: "message_stop".into(),
                    data: r#"{"type":"message_stop"}"#.into()
                },
                &mut out
            )
            .expect("valid"));
        let mut completion = Completion::empty("a", "m");
        decoder.finish(&mut completion);
        assert_eq!(out, vec![ChatEvent::Token("Let me check.".into())]);
        assert_eq!(
            completion.tool_calls,
            vec![ToolCall {
                id: "toolu_1".into(),
                name: "get_weather".into(),
                arguments: "{\"city\": \"Oslo\"}".into()
            }]
        );
        assert_eq!(
            (
                completion.prompt_tokens,
                completion.completion_tokens,
                completion.finish
            ),
            (25, 30, FinishReason::ToolCalls)
        );
    }

    #[test]
    fn error_events_are_classified() {
        let mut decoder = StreamDecoder::default();
        let error = decoder
            .event(
                &SseEvent { event: "error".into(), data: r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.into() },
                &mut Vec::new(),
            )
            .expect_err("error");
        assert_eq!(error.0, Failure::Server { status: 0 });
        assert!(error.1.contains("Overloaded"));
    }

    #[test]
    fn system_goes_apart_and_tool_results_become_blocks() {
        let mut call = ChatMessage::assistant("checking");
        call.tool_calls.push(ToolCall {
            id: "t1".into(),
            name: "f".into(),
            arguments: "{\"a\":1}".into(),
        });
        let request = ChatRequest::new(vec![
            ChatMessage::system("be brief"),
            ChatMessage::user("u"),
            call,
            ChatMessage::tool_result("t1", "42"),
        ]);
        let body = body("claude", &request);
        assert_eq!(body["system"], "be brief");
        assert_eq!(body["messages"][1]["content"][1]["input"]["a"], 1);
        assert_eq!(body["messages"][2]["content"][0]["type"], "tool_result");
        assert_eq!(body["messages"][2]["content"][0]["tool_use_id"], "t1");
    }
}
