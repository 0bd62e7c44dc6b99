//! Chat templates: the Jinja template stored in a GGUF file, rendered with
//! minijinja (with Python string methods, as Hugging Face templates expect),
//! tools section included. llama.cpp's built-in `apply_chat_template` only
//! recognises templates by shape and drops the tools section of Qwen's, so the
//! model would never learn which tools exist.

use minijinja::{Environment, Error as JinjaError, ErrorKind, Value};
use serde::Serialize;

use crate::{ChatMessage, ToolSpec};

/// The template used when a model file carries none: ChatML, with Hermes-style
/// tool calls (the format most small instruct models were tuned on).
pub const CHATML: &str = r#"{%- if tools %}<|im_start|>system
{% if messages[0].role == "system" %}{{ messages[0].content }}

{% endif %}You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{%- for tool in tools %}
{{ tool | tojson }}
{%- endfor %}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call><|im_end|>
{% elif messages[0].role == "system" %}<|im_start|>system
{{ messages[0].content }}<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == "system" %}{% if not loop.first %}<|im_start|>system
{{ message.content }}<|im_end|>
{% endif %}
{%- elif message.role == "tool" %}<|im_start|>user
<tool_response>
{{ message.content }}
</tool_response><|im_end|>
{% else %}<|im_start|>{{ message.role }}
{{ message.content }}
{%- for call in message.tool_calls or [] %}
<tool_call>
{"name": "{{ call.function.name }}", "arguments": {{ call.function.arguments | tojson }}}
</tool_call>
{%- endfor %}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}"#;

/// A compiled chat template.
#[derive(Debug)]
pub struct ChatTemplate {
    environment: Environment<'static>,
    /// Whether the template itself renders tool definitions.
    native_tools: bool,
    chatml: bool,
    bos: String,
    eos: String,
}

#[derive(Serialize)]
struct Function<'a> {
    name: &'a str,
    arguments: serde_json::Value,
}

#[derive(Serialize)]
struct Call<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: Function<'a>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<Call<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

#[derive(Serialize)]
struct ToolFunction<'a> {
    name: &'a str,
    description: &'a str,
    parameters: &'a serde_json::Value,
}

#[derive(Serialize)]
struct Tool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: ToolFunction<'a>,
}

fn raise_exception(message: String) -> Result<Value, JinjaError> {
    Err(JinjaError::new(ErrorKind::InvalidOperation, message))
}

/// `strftime_now` for the formats templates use (`%d %b %Y`, `%Y-%m-%d`),
/// from the system clock in UTC.
fn strftime_now(format: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    format
        .replace("%Y", &year.to_string())
        .replace("%m", &format!("{month:02}"))
        .replace("%d", &format!("{day:02}"))
        .replace("%b", MONTHS[(month - 1) as usize])
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl ChatTemplate {
    /// Compiles `source` (a Jinja chat template). `bos`/`eos` are the model's
    /// special tokens, which some templates print.
    pub fn new(source: &str, bos: &str, eos: &str) -> Result<Self, String> {
        let mut environment = Environment::new();
        minijinja_contrib::add_to_environment(&mut environment);
        environment
            .set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        environment.add_function("raise_exception", raise_exception);
        environment.add_function("strftime_now", strftime_now);
        environment
            .add_template_owned("chat", source.to_owned())
            .map_err(|error| describe(&error))?;
        Ok(Self {
            environment,
            native_tools: source.contains("tools"),
            chatml: source.contains("<|im_start|>"),
            bos: bos.to_owned(),
            eos: eos.to_owned(),
        })
    }

    /// The ChatML fallback.
    #[must_use]
    pub fn chatml() -> Self {
        Self::new(CHATML, "", "<|im_end|>")
            .unwrap_or_else(|error| unreachable!("the built-in template compiles: {error}"))
    }

    /// Whether the template renders a tools section of its own.
    #[must_use]
    pub fn native_tools(&self) -> bool {
        self.native_tools
    }

    /// Whether the template is ChatML (`<|im_start|>`), so the built-in
    /// ChatML template with tools can stand in for it.
    #[must_use]
    pub fn is_chatml(&self) -> bool {
        self.chatml
    }

    /// Renders the conversation, ending with the assistant's opening tag.
    pub fn render(&self, messages: &[ChatMessage], tools: &[ToolSpec]) -> Result<String, String> {
        let messages: Vec<Message<'_>> = messages
            .iter()
            .map(|message| Message {
                role: message.role.as_str(),
                content: &message.content,
                tool_calls: message
                    .tool_calls
                    .iter()
                    .map(|call| Call {
                        id: &call.id,
                        kind: "function",
                        function: Function {
                            name: &call.name,
                            arguments: serde_json::from_str(&call.arguments).unwrap_or_else(|_| {
                                serde_json::Value::String(call.arguments.clone())
                            }),
                        },
                    })
                    .collect(),
                tool_call_id: message.tool_call_id.as_deref(),
            })
            .collect();
        let tools: Vec<Tool<'_>> = tools
            .iter()
            .map(|tool| Tool {
                kind: "function",
                function: ToolFunction {
                    name: &tool.name,
                    description: &tool.description,
                    parameters: &tool.parameters,
                },
            })
            .collect();
        let template = self
            .environment
            .get_template("chat")
            .map_err(|error| describe(&error))?;
        let tools = if tools.is_empty() {
            Value::UNDEFINED
        } else {
            Value::from(minijinja::value::Serde(&tools))
        };
        template
            .render(minijinja::context! {
                messages => Value::from(minijinja::value::Serde(&messages)),
                tools => tools,
                add_generation_prompt => true,
                bos_token => &self.bos,
                eos_token => &self.eos,
            })
            .map_err(|error| describe(&error))
    }
}

/// minijinja's error with its cause chain, on one line.
fn describe(error: &JinjaError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ToolCall;

    fn weather() -> ToolSpec {
        ToolSpec {
            name: "get_weather".into(),
            description: "Current weather of a city".into(),
            parameters: serde_json::json!({
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"]
            }),
        }
    }

    #[test]
    fn chatml_renders_system_user_and_the_generation_prompt() {
        let text = ChatTemplate::chatml()
            .render(&[ChatMessage::system("s"), ChatMessage::user("u")], &[])
            .expect("renders");
        assert_eq!(
            text,
            "<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn chatml_renders_tools_calls_and_results() {
        let mut call = ChatMessage::assistant("");
        call.tool_calls.push(ToolCall {
            id: "c1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Oslo"}"#.into(),
        });
        let text = ChatTemplate::chatml()
            .render(
                &[
                    ChatMessage::user("weather in Oslo?"),
                    call,
                    ChatMessage::tool_result("c1", "rain"),
                ],
                &[weather()],
            )
            .expect("renders");
        assert!(
            text.contains(
                "<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\""
            ),
            "{text}"
        );
        assert!(text.contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"), "{text}");
        assert!(
            text.contains("<tool_response>\nrain\n</tool_response>"),
            "{text}"
        );
        assert!(text.ends_with("<|im_start|>assistant\n"));
    }

    #[test]
    fn python_methods_and_raise_exception_work() {
        let template = ChatTemplate::new(
            "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no tools here') }}{% endif %}[{{ m.content.strip() | upper }}]{% endfor %}",
            "",
            "",
        )
        .expect("compiles");
        assert_eq!(
            template
                .render(&[ChatMessage::user("  hi ")], &[])
                .expect("renders"),
            "[HI]"
        );
        let error = template
            .render(&[ChatMessage::tool_result("x", "y")], &[])
            .expect_err("raises");
        assert!(error.contains("no tools here"), "{error}");
    }

    #[test]
    fn a_broken_template_is_an_error_not_a_panic() {
        assert!(ChatTemplate::new("{% for %}", "", "").is_err());
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_423), (2025, 12, 1));
    }
}
