//! Grammar-constrained tool calls: the JSON Schemas of the offered tools become
//! a llama.cpp GBNF grammar that only admits `{"name": <a tool>, "arguments":
//! <that tool's arguments>}` followed by `</tool_call>`. Once a model opens a
//! tool call, every token it can sample keeps the call valid, so even a 0.5B
//! model returns a call that parses and matches its schema.
//!
//! The conversion covers what tool schemas use: objects (required properties
//! in order, optional ones after them), arrays, strings, enums and consts,
//! numbers, integers, booleans, null, `anyOf`/`oneOf` and type lists. Anything
//! else (`$ref`, `allOf`, patterns) falls back to "any JSON value" of the right
//! shape rather than failing.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::ToolSpec;

/// Marker a Hermes-format tool call opens with.
pub const CALL_OPEN: &str = "<tool_call>";
/// Marker a Hermes-format tool call closes with.
pub const CALL_CLOSE: &str = "</tool_call>";

const PRIMITIVES: &str = r#"ws ::= | " " | "\n" [ \t]{0,8}
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\""
integer ::= "-"? ( [0-9] | [1-9] [0-9]{1,15} )
number ::= integer ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,4} )?
boolean ::= "true" | "false"
null ::= "null"
value ::= object | array | string | number | boolean | null
object ::= "{" ws ( string ws ":" ws value ( "," ws string ws ":" ws value )* )? ws "}"
array ::= "[" ws ( value ( "," ws value )* )? ws "]"
"#;

/// Quotes `text` as a GBNF literal.
fn literal(text: &str) -> String {
    let mut quoted = String::from("\"");
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            _ => quoted.push(character),
        }
    }
    quoted.push('"');
    quoted
}

/// A GBNF literal matching `value` serialised as compact JSON.
fn json_literal(value: &Value) -> String {
    literal(&value.to_string())
}

/// Rule names may hold letters, digits and dashes.
fn rule_name(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name.trim_matches('-').to_owned()
}

/// An optional property after others: `( "," ws PAIR )?`.
fn then(pair: &str) -> String {
    format!(" ( \",\" ws {pair} )?")
}

#[derive(Default)]
struct Builder {
    rules: BTreeMap<String, String>,
}

impl Builder {
    /// Adds `body` under a name derived from `hint`, unique in the grammar.
    fn add(&mut self, hint: &str, body: String) -> String {
        let base = rule_name(hint);
        let base = if base.is_empty() {
            "r".to_owned()
        } else {
            base
        };
        let mut name = base.clone();
        let mut counter = 1;
        while self.rules.contains_key(&name) {
            counter += 1;
            name = format!("{base}-{counter}");
        }
        self.rules.insert(name.clone(), body);
        name
    }

    /// The expression (a rule name or inline alternatives) for `schema`.
    fn schema(&mut self, schema: &Value, hint: &str) -> String {
        let Some(object) = schema.as_object() else {
            // `true` or anything unexpected: any value.
            return "value".into();
        };
        if let Some(constant) = object.get("const") {
            return json_literal(constant);
        }
        if let Some(Value::Array(options)) = object.get("enum") {
            let alternatives: Vec<String> = options.iter().map(json_literal).collect();
            return if alternatives.is_empty() {
                "value".into()
            } else {
                format!("( {} )", alternatives.join(" | "))
            };
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(options)) = object.get(key) {
                let alternatives: Vec<String> = options
                    .iter()
                    .enumerate()
                    .map(|(index, option)| self.schema(option, &format!("{hint}-{index}")))
                    .collect();
                if !alternatives.is_empty() {
                    return format!("( {} )", alternatives.join(" | "));
                }
            }
        }
        match object.get("type") {
            Some(Value::String(kind)) => self.typed(kind, object, hint),
            Some(Value::Array(kinds)) => {
                let alternatives: Vec<String> = kinds
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|kind| self.typed(kind, object, &format!("{hint}-{kind}")))
                    .collect();
                if alternatives.is_empty() {
                    "value".into()
                } else {
                    format!("( {} )", alternatives.join(" | "))
                }
            }
            _ if object.contains_key("properties") => self.typed("object", object, hint),
            _ => "value".into(),
        }
    }

    fn typed(&mut self, kind: &str, object: &serde_json::Map<String, Value>, hint: &str) -> String {
        match kind {
            "string" => "string".into(),
            "integer" => "integer".into(),
            "number" => "number".into(),
            "boolean" => "boolean".into(),
            "null" => "null".into(),
            "array" => match object.get("items") {
                Some(items) => {
                    let item = self.schema(items, &format!("{hint}-item"));
                    let body = format!("\"[\" ws ( {item} ( \",\" ws {item} )* )? ws \"]\"");
                    self.add(hint, body)
                }
                None => "array".into(),
            },
            "object" => self.object(object, hint),
            _ => "value".into(),
        }
    }

    fn object(&mut self, object: &serde_json::Map<String, Value>, hint: &str) -> String {
        let Some(Value::Object(properties)) = object.get("properties") else {
            return "object".into();
        };
        if properties.is_empty() {
            return self.add(hint, "\"{\" ws \"}\"".into());
        }
        let required: Vec<&str> = object
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut mandatory = Vec::new();
        let mut optional = Vec::new();
        for (name, property) in properties {
            let value = self.schema(property, &format!("{hint}-{name}"));
            let pair = format!(
                "{} ws \":\" ws {value}",
                json_literal(&Value::String(name.clone()))
            );
            if required.contains(&name.as_str()) {
                mandatory.push(pair);
            } else {
                optional.push(pair);
            }
        }
        let mut body = String::from("\"{\" ws ");
        if mandatory.is_empty() {
            // No property is certain to come first, so each optional one may
            // open the list, followed by any of those after it.
            let openings: Vec<String> = (0..optional.len())
                .map(|first| {
                    let rest: String = optional[first + 1..]
                        .iter()
                        .map(|later| then(later))
                        .collect();
                    format!("( {}{rest} )", optional[first])
                })
                .collect();
            body.push_str("( ");
            body.push_str(&openings.join(" | "));
            body.push_str(" )?");
        } else {
            body.push_str(&mandatory.join(" \",\" ws "));
            body.extend(optional.iter().map(|later| then(later)));
        }
        body.push_str(" ws \"}\"");
        self.add(hint, body)
    }
}

/// The GBNF grammar for one Hermes-format tool call of any of `tools`,
/// starting right after `<tool_call>` and ending with `</tool_call>`.
#[must_use]
pub fn tool_call_grammar(tools: &[ToolSpec]) -> String {
    let mut builder = Builder::default();
    let mut calls = Vec::new();
    for tool in tools {
        let arguments = builder.schema(&tool.parameters, &format!("{}-arguments", tool.name));
        let body = format!(
            "{} ws \",\" ws \"\\\"arguments\\\"\" ws \":\" ws {arguments}",
            json_literal(&Value::String(tool.name.clone()))
        );
        calls.push(builder.add(&format!("call-{}", tool.name), body));
    }
    let mut grammar = format!(
        "root ::= \"\\n\"? \"{{\" ws \"\\\"name\\\"\" ws \":\" ws ( {} ) ws \"}}\" \"\\n\"? {}\n",
        calls.join(" | "),
        literal(CALL_CLOSE)
    );
    grammar.extend(
        builder
            .rules
            .iter()
            .map(|(name, body)| format!("{name} ::= {body}\n")),
    );
    grammar.push_str(PRIMITIVES);
    grammar
}

/// Parses the text of one call (what came between the markers) into its name
/// and arguments, checking the name against the offered tools.
pub fn parse_call(text: &str, tools: &[ToolSpec]) -> Result<(String, String), String> {
    let value: Value = serde_json::from_str(text.trim())
        .map_err(|error| format!("the tool call is not valid JSON ({error}): {text}"))?;
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the tool call names no tool: {text}"))?;
    if !tools.iter().any(|tool| tool.name == name) {
        return Err(format!(
            "the model called `{name}`, which is not an offered tool"
        ));
    }
    let arguments = value
        .get("arguments")
        .or_else(|| value.get("parameters"))
        .cloned()
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    let arguments = match arguments {
        // Some models send the arguments as a JSON string.
        Value::String(text) => text,
        other => other.to_string(),
    };
    Ok((name.to_owned(), arguments))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str, parameters: Value) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: String::new(),
            parameters,
        }
    }

    #[test]
    fn required_then_optional_properties_in_order() {
        let grammar = tool_call_grammar(&[tool(
            "get_weather",
            json!({"type": "object", "properties": {
                "city": {"type": "string"},
                "unit": {"enum": ["c", "f"]},
                "days": {"type": "integer"}
            }, "required": ["city"]}),
        )]);
        assert!(grammar.starts_with("root ::= \"\\n\"? \"{\" ws \"\\\"name\\\"\" ws \":\" ws ( call-get-weather ) ws \"}\" \"\\n\"? \"</tool_call>\"\n"), "{grammar}");
        assert!(grammar.contains("call-get-weather ::= \"\\\"get_weather\\\"\" ws \",\" ws \"\\\"arguments\\\"\" ws \":\" ws get-weather-arguments\n"), "{grammar}");
        assert!(grammar.contains(
            "get-weather-arguments ::= \"{\" ws \"\\\"city\\\"\" ws \":\" ws string ( \",\" ws \"\\\"unit\\\"\" ws \":\" ws ( \"\\\"c\\\"\" | \"\\\"f\\\"\" ) )? ( \",\" ws \"\\\"days\\\"\" ws \":\" ws integer )? ws \"}\"\n"
        ), "{grammar}");
    }

    #[test]
    fn all_optional_properties_may_each_come_first() {
        let grammar = tool_call_grammar(&[tool(
            "t",
            json!({"type": "object", "properties": {"a": {"type": "boolean"}, "b": {"type": "null"}}}),
        )]);
        assert!(grammar.contains(
            "t-arguments ::= \"{\" ws ( ( \"\\\"a\\\"\" ws \":\" ws boolean ( \",\" ws \"\\\"b\\\"\" ws \":\" ws null )? ) | ( \"\\\"b\\\"\" ws \":\" ws null ) )? ws \"}\""
        ), "{grammar}");
    }

    #[test]
    fn arrays_type_lists_and_unknowns() {
        let grammar = tool_call_grammar(&[tool(
            "x y",
            json!({"type": "object", "properties": {
                "tags": {"type": "array", "items": {"type": "string"}},
                "limit": {"type": ["integer", "null"]},
                "ref": {"$ref": "#/defs/a"}
            }, "required": ["tags", "limit", "ref"]}),
        )]);
        assert!(
            grammar.contains(
                "x-y-arguments-tags ::= \"[\" ws ( string ( \",\" ws string )* )? ws \"]\""
            ),
            "{grammar}"
        );
        assert!(grammar.contains("( integer | null )"), "{grammar}");
        assert!(
            grammar.contains("\"\\\"ref\\\"\" ws \":\" ws value"),
            "{grammar}"
        );
    }

    #[test]
    fn rule_names_stay_unique() {
        let grammar = tool_call_grammar(&[
            tool("a", json!({"type": "object", "properties": {}})),
            tool("A", json!({"type": "object", "properties": {}})),
        ]);
        assert!(
            grammar.contains("a-arguments ::= ") && grammar.contains("a-arguments-2 ::= "),
            "{grammar}"
        );
    }

    #[test]
    fn literals_escape_quotes_and_newlines() {
        assert_eq!(literal("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }

    #[test]
    fn calls_parse_and_unknown_tools_are_refused() {
        let tools = [tool("get_weather", json!({}))];
        assert_eq!(
            parse_call(
                "\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n",
                &tools
            ),
            Ok(("get_weather".into(), "{\"city\":\"Oslo\"}".into()))
        );
        assert!(parse_call("{\"name\": \"rm_rf\"}", &tools)
            .expect_err("unknown")
            .contains("rm_rf"));
        assert!(parse_call("{not json", &tools).is_err());
    }
}
