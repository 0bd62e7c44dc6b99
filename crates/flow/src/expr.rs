//! Templates (`{{ key }}`) and expressions (`score > 0.5`) over the run
//! state, with minijinja: deterministic, sandboxed, no I/O.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use minijinja::Environment;
use serde_json::Value;

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut environment = Environment::new();
        environment.add_filter("json", |value: minijinja::Value| {
            serde_json::to_string(&value).unwrap_or_default()
        });
        environment
    })
}

/// Variables visible to templates and expressions.
pub type Scope = BTreeMap<String, Value>;

/// Renders a template against the scope.
pub fn render(template: &str, scope: &Scope) -> Result<String, String> {
    if !template.contains("{{") && !template.contains("{%") {
        return Ok(template.to_owned());
    }
    environment()
        .render_str(
            template,
            minijinja::Value::from(minijinja::value::Serde(scope)),
        )
        .map_err(|error| describe(&error))
}

/// Evaluates an expression to a JSON value.
pub fn evaluate(expression: &str, scope: &Scope) -> Result<Value, String> {
    let compiled = environment()
        .compile_expression(expression)
        .map_err(|error| describe(&error))?;
    let value = compiled
        .eval(minijinja::Value::from(minijinja::value::Serde(scope)))
        .map_err(|error| describe(&error))?;
    serde_json::to_value(&value).map_err(|error| error.to_string())
}

/// Evaluates a condition: true when the expression's value is truthy.
pub fn holds(expression: &str, scope: &Scope) -> Result<bool, String> {
    let compiled = environment()
        .compile_expression(expression)
        .map_err(|error| describe(&error))?;
    compiled
        .eval(minijinja::Value::from(minijinja::value::Serde(scope)))
        .map(|value| value.is_true())
        .map_err(|error| describe(&error))
}

/// Renders every string inside a JSON value as a template.
pub fn render_value(value: &Value, scope: &Scope) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) => Value::String(render(text, scope)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| render_value(item, scope))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, item)| Ok((key.clone(), render_value(item, scope)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Top-level variables a template refers to, or its syntax error.
pub fn template_variables(template: &str) -> Result<Vec<String>, String> {
    let environment = environment();
    let template = environment
        .template_from_str(template)
        .map_err(|error| describe(&error))?;
    let mut names: Vec<String> = template.undeclared_variables(false).into_iter().collect();
    names.sort();
    Ok(names)
}

/// Top-level variables an expression refers to, or its syntax error.
pub fn expression_variables(expression: &str) -> Result<Vec<String>, String> {
    let compiled = environment()
        .compile_expression(expression)
        .map_err(|error| describe(&error))?;
    let mut names: Vec<String> = compiled.undeclared_variables(false).into_iter().collect();
    names.sort();
    Ok(names)
}

fn describe(error: &minijinja::Error) -> String {
    match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        let mut scope = Scope::new();
        scope.insert("count".into(), Value::from(3));
        scope.insert("names".into(), serde_json::json!(["a", "b"]));
        scope
    }

    #[test]
    fn expressions_and_templates_see_the_state() {
        assert_eq!(evaluate("count + 1", &scope()), Ok(Value::from(4)));
        assert_eq!(
            evaluate("names + ['c']", &scope()),
            Ok(serde_json::json!(["a", "b", "c"]))
        );
        assert_eq!(
            holds("count >= 3 and names|length == 2", &scope()),
            Ok(true)
        );
        assert_eq!(
            render("{{ names|join(',') }}!", &scope()),
            Ok("a,b!".into())
        );
        assert_eq!(
            expression_variables("count > limit"),
            Ok(vec!["count".into(), "limit".into()])
        );
        assert!(evaluate("count +", &scope()).is_err());
    }
}
