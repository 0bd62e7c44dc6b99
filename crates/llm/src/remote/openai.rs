//! OpenAI Chat Completions: request body, streamed chunks, whole responses.

use serde_json::{json, Value};

use super::{Decoder, Failure, PartialCalls};
use crate::sse::SseEvent;
use crate::{ChatEvent, ChatRequest, Completion, FinishReason, Role};

/// The request body for `model`, streaming with usage.
pub(super) fn body(model: &str, request: &ChatRequest) -> Value {
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|message| {
            let mut value = json!({"role": message.role.as_str(), "content": message.content});
            if !message.tool_calls.is_empty() {
                value["tool_calls"] = message
                    .tool_calls
                    .iter()
                    .map(|call| json!({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}))
                    .collect();
                if message.content.is_empty() {
                    value["content"] = Value::Null;
                }
            }
            if message.role == Role::Tool {
                value["tool_call_id"] = json!(message.tool_call_id.clone().unwrap_or_default());
            }
            value
        })
        .collect();
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
    });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|tool| json!({"type": "function", "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters}}))
            .collect();
        if request.tool_choice == crate::ToolChoice::Required {
            body["tool_choice"] = json!("required");
        }
    }
    body
}

fn finish_reason(value: Option<&str>) -> Option<FinishReason> {
    match value? {
        "length" => Some(FinishReason::Length),
        "tool_calls" | "function_call" => Some(FinishReason::ToolCalls),
        _ => Some(FinishReason::Stop),
    }
}

/// Token counts a provider reported.
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    prompt: u32,
    completion: u32,
    cached: u32,
}

impl Usage {
    /// Takes the counts of a `usage` object, when `value` has one.
    fn read(&mut self, value: &Value) {
        let Some(usage) = value.get("usage").filter(|usage| usage.is_object()) else {
            return;
        };
        let number = |pointer: &str| {
            usage
                .pointer(pointer)
                .and_then(Value::as_u64)
                .map(|n| n as u32)
        };
        self.prompt = number("/prompt_tokens").unwrap_or(self.prompt);
        self.completion = number("/completion_tokens").unwrap_or(self.completion);
        self.cached = number("/prompt_tokens_details/cached_tokens").unwrap_or(self.cached);
    }

    fn apply(self, completion: &mut Completion) {
        completion.prompt_tokens = self.prompt;
        completion.completion_tokens = self.completion;
        completion.cached_tokens = self.cached;
    }
}

fn error_in(value: &Value) -> Option<(Failure, String)> {
    let error = value.get("error")?;
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| error.to_string(), str::to_owned);
    Some((Failure::Server { status: 0 }, message))
}

/// State of one streamed answer.
#[derive(Debug, Default)]
pub(super) struct StreamDecoder {
    calls: PartialCalls,
    finish: Option<FinishReason>,
    usage: Usage,
    chunks: u32,
}

impl Decoder for StreamDecoder {
    fn event(
        &mut self,
        event: &SseEvent,
        out: &mut Vec<ChatEvent>,
    ) -> Result<bool, (Failure, String)> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let value: Value = serde_json::from_str(data).map_err(|error| {
            (
                Failure::Malformed,
                format!("a chunk is not JSON ({error}): {}", super::excerpt(data)),
            )
        })?;
        if let Some(failure) = error_in(&value) {
            return Err(failure);
        }
        let Some(choices) = value.get("choices").and_then(Value::as_array) else {
            if value.get("usage").is_some() {
                self.usage.read(&value);
                return Ok(false);
            }
            return Err((
                Failure::Malformed,
                format!("a chunk has no choices: {}", super::excerpt(data)),
            ));
        };
        self.chunks += 1;
        self.usage.read(&value);
        for choice in choices {
            if let Some(reason) = finish_reason(choice.get("finish_reason").and_then(Value::as_str))
            {
                self.finish = Some(reason);
            }
            let Some(delta) = choice.get("delta") else {
                continue;
            };
            if let Some(text) = delta.get("content").and_then(Value::as_str) {
                if !text.is_empty() {
                    out.push(ChatEvent::Token(text.to_owned()));
                }
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let index = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                let partial = self.calls.at(index);
                if let Some(id) = call.get("id").and_then(Value::as_str) {
                    id.clone_into(&mut partial.id);
                }
                if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                    partial.name.push_str(name);
                }
                if let Some(arguments) = call.pointer("/function/arguments").and_then(Value::as_str)
                {
                    partial.arguments.push_str(arguments);
                }
            }
        }
        Ok(false)
    }

    fn finish(&mut self, completion: &mut Completion) {
        completion.tool_calls = self.calls.take();
        self.usage.apply(completion);
        if completion.completion_tokens == 0 {
            // No usage reported: one chunk is about one token.
            completion.completion_tokens = self.chunks;
        }
        completion.finish = match self.finish {
            Some(reason) => reason,
            None if !completion.tool_calls.is_empty() => FinishReason::ToolCalls,
            None => FinishReason::Stop,
        };
    }
}

/// A non-streamed response.
pub(super) fn whole(value: &Value, completion: &mut Completion) -> Result<(), (Failure, String)> {
    if let Some(failure) = error_in(value) {
        return Err(failure);
    }
    let choice = value.pointer("/choices/0").ok_or_else(|| {
        (
            Failure::Malformed,
            format!("no choices in {}", super::excerpt(&value.to_string())),
        )
    })?;
    let message = choice.get("message").cloned().unwrap_or(Value::Null);
    message
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .clone_into(&mut completion.text);
    let mut calls = PartialCalls::default();
    for (index, call) in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let partial = calls.at(index);
        call.get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .clone_into(&mut partial.id);
        call.pointer("/function/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .clone_into(&mut partial.name);
        partial.arguments = match call.pointer("/function/arguments") {
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
    }
    completion.tool_calls = calls.take();
    let mut usage = Usage::default();
    usage.read(value);
    usage.apply(completion);
    completion.finish = finish_reason(choice.get("finish_reason").and_then(Value::as_str))
        .unwrap_or(FinishReason::Stop);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatMessage, ToolCall, ToolSpec};

    fn decode(chunks: &[&str]) -> (Vec<ChatEvent>, Completion) {
        let mut decoder = StreamDecoder::default();
        let mut out = Vec::new();
        for chunk in chunks {
            decoder
                .event(
                    &SseEvent {
                        event: String::new(),
                        data: (*chunk).to_owned(),
                    },
                    &mut out,
                )
                .expect("valid");
        }
        let mut completion = Completion::empty("p", "m");
        decoder.finish(&mut completion);
        (out, completion)
    }

    #[test]
    fn text_tool_call_fragments_and_usage_are_normalised() {
        let (events, completion) = decode(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_9","type":"function","function":{"name":"get_weather","arguments":"{\"ci"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\":\"Oslo\"}"}}]},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7}}"#,
            "[DONE]",
        ]);
        assert_eq!(events, vec![ChatEvent::Token("Hi".into())]);
        assert_eq!(
            completion.tool_calls,
            vec![ToolCall {
                id: "call_9".into(),
                name: "get_weather".into(),
                arguments: "{\"city\":\"Oslo\"}".into()
            }]
        );
        assert_eq!(
            (
                completion.prompt_tokens,
                completion.completion_tokens,
                completion.finish
            ),
            (12, 7, FinishReason::ToolCalls)
        );
    }

    #[test]
    fn garbage_and_error_chunks_are_failures() {
        let mut decoder = StreamDecoder::default();
        let mut out = Vec::new();
        let event = |data: &str| SseEvent {
            event: String::new(),
            data: data.to_owned(),
        };
        assert_eq!(
            decoder
                .event(&event("<html>"), &mut out)
                .expect_err("bad")
                .0,
            Failure::Malformed
        );
        assert_eq!(
            decoder
                .event(&event(r#"{"error":{"message":"overloaded"}}"#), &mut out)
                .expect_err("error"),
            (Failure::Server { status: 0 }, "overloaded".to_owned())
        );
    }

    #[test]
    fn bodies_carry_tools_calls_and_results() {
        let mut call = ChatMessage::assistant("");
        call.tool_calls.push(ToolCall {
            id: "c1".into(),
            name: "f".into(),
            arguments: "{}".into(),
        });
        let request = ChatRequest::new(vec![
            ChatMessage::user("u"),
            call,
            ChatMessage::tool_result("c1", "r"),
        ])
        .with_tools(vec![ToolSpec {
            name: "f".into(),
            description: "d".into(),
            parameters: json!({"type": "object"}),
        }]);
        let body = body("m", &request);
        assert_eq!(body["messages"][1]["content"], Value::Null);
        assert_eq!(
            body["messages"][1]["tool_calls"][0]["function"]["name"],
            "f"
        );
        assert_eq!(body["messages"][2]["tool_call_id"], "c1");
        assert_eq!(body["tools"][0]["function"]["parameters"]["type"], "object");
        assert_eq!(body["stream"], true);
    }
}
