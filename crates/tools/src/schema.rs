//! Checking tool arguments against their JSON Schema: the subset tool
//! schemas use (`type`, `properties`, `required`, `additionalProperties`,
//! `items`, `enum`, `minimum`/`maximum`, `minLength`/`maxLength`). Unknown
//! keywords are ignored, so a richer schema is never wrongly refused.

use serde_json::Value;

/// The problems of `value` against `schema`, each with its JSON path
/// (`$.path: expected a string, got a number`); empty when it follows it.
#[must_use]
pub fn validate(value: &Value, schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    check(value, schema, "$", &mut problems);
    problems
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.as_f64().is_some_and(|number| number.fract() == 0.0),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn check(value: &Value, schema: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(name)) => vec![name.as_str()],
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|name| has_type(value, name)) {
        problems.push(format!(
            "{path}: expected {}, got {}",
            types.join(" or "),
            type_name(value)
        ));
        return;
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(value) {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            problems.push(format!("{path}: must be one of {}", list.join(", ")));
        }
    }
    match value {
        Value::Object(object) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            if let Some(Value::Array(required)) = schema.get("required") {
                for name in required.iter().filter_map(Value::as_str) {
                    if !object.contains_key(name) {
                        problems.push(format!("{path}: `{name}` is required"));
                    }
                }
            }
            for (key, item) in object {
                let child = format!("{path}.{key}");
                match properties.and_then(|properties| properties.get(key)) {
                    Some(property) => check(item, property, &child, problems),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            let known: Vec<&str> = properties
                                .map(|properties| properties.keys().map(String::as_str).collect())
                                .unwrap_or_default();
                            problems.push(format!(
                                "{path}: unknown argument `{key}` (known: {})",
                                known.join(", ")
                            ));
                        }
                        Some(extra @ Value::Object(_)) => check(item, extra, &child, problems),
                        _ => {}
                    },
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    check(item, item_schema, &format!("{path}[{index}]"), problems);
                }
            }
        }
        Value::String(text) => {
            let length = text.chars().count() as f64;
            if schema
                .get("minLength")
                .and_then(Value::as_f64)
                .is_some_and(|min| length < min)
            {
                problems.push(format!("{path}: too short"));
            }
            if schema
                .get("maxLength")
                .and_then(Value::as_f64)
                .is_some_and(|max| length > max)
            {
                problems.push(format!("{path}: too long"));
            }
        }
        Value::Number(number) => {
            let number = number.as_f64().unwrap_or_default();
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
                if number < min {
                    problems.push(format!("{path}: must be at least {min}"));
                }
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
                if number > max {
                    problems.push(format!("{path}: must be at most {max}"));
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_each_problem_with_its_path() {
        let schema = json!({
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "lines": {"type": "array", "items": {"type": "integer", "minimum": 1}},
                "mode": {"enum": ["a", "b"]}
            },
            "required": ["path"],
            "additionalProperties": false
        });
        assert!(validate(&json!({"path": "x", "lines": [1, 2]}), &schema).is_empty());
        let problems = validate(
            &json!({"lines": [0, "2"], "mode": "c", "other": 1}),
            &schema,
        );
        assert_eq!(
            problems,
            [
                "$: `path` is required",
                "$.lines[0]: must be at least 1",
                "$.lines[1]: expected integer, got a string",
                "$.mode: must be one of \"a\", \"b\"",
                "$: unknown argument `other` (known: path, lines, mode)",
            ]
        );
        assert_eq!(
            validate(&json!("text"), &schema),
            ["$: expected object, got a string"]
        );
    }
}
