//! `OpenAPI` 3 operations as tools: each operation of a spec (a file or a
//! URL, JSON or YAML) becomes `<api>.<operationId>`, its path, query and
//! header parameters and its JSON body (`body`) mapped into one argument
//! schema (local `$ref`s resolved). Auth comes from the vault: a bearer
//! token or an API key in a header or the query.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::references::Revealed;
use crate::registry::{Registry, SourceState};
use crate::tool::{CallContext, Effects, Permission, Tool, ToolInfo};
use crate::{Error, Result};

/// One API (`[[tools.openapi]]` in config.toml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Name; its tools are `<name>.<operationId>`.
    pub name: String,
    /// The spec: a file path or an `http(s)://` URL (JSON or YAML).
    pub spec: String,
    /// Base URL of the calls (default: the spec's first `servers` entry).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Authentication.
    #[serde(default)]
    pub auth: Option<Auth>,
    /// Level of its tools (default: `allow` for reads of a local server, else `ask`).
    #[serde(default)]
    pub permission: Option<Permission>,
    /// Time limit of one call, seconds (default 60).
    #[serde(default)]
    pub timeout: Option<u64>,
}

impl ApiConfig {
    /// Refuses a pasted key where `auth` takes a vault name.
    pub fn check_secrets(&self) -> Result<()> {
        let Some(Auth::Bearer { secret } | Auth::ApiKey { secret, .. }) = &self.auth else {
            return Ok(());
        };
        if crate::references::looks_like_key(secret) {
            return Err(Error::OpenApi {
                spec: self.name.clone(),
                message: crate::references::pasted_key_message(
                    "`auth.secret`",
                    &format!("{}_KEY", self.name.to_uppercase()),
                ),
            });
        }
        Ok(())
    }
}

/// How calls authenticate; secrets by vault name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum Auth {
    /// `Authorization: Bearer <secret>`.
    Bearer {
        /// Vault secret name.
        secret: String,
    },
    /// An API key in a header (default `X-API-Key`) or a query parameter.
    ApiKey {
        /// Vault secret name.
        secret: String,
        /// Header name.
        #[serde(default)]
        header: Option<String>,
        /// Query parameter name (instead of a header).
        #[serde(default)]
        query: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Path,
    Query,
    Header,
}

struct Operation {
    info: ToolInfo,
    method: reqwest::Method,
    path: String,
    base: String,
    parameters: Vec<(String, Place)>,
    api: ApiConfig,
}

fn invalid(spec: &str, message: impl Into<String>) -> Error {
    Error::OpenApi {
        spec: spec.to_owned(),
        message: message.into(),
    }
}

async fn read_spec(config: &ApiConfig, offline: bool) -> Result<String> {
    if config.spec.starts_with("http://") || config.spec.starts_with("https://") {
        if offline {
            return Err(invalid(&config.spec, "offline mode: the spec URL cannot be fetched; save the spec to a file and point `spec` at it"));
        }
        let client = codexos_net::client().build().map_err(|error| {
            invalid(
                &config.spec,
                format!("cannot build an HTTP client: {error}"),
            )
        })?;
        let response = codexos_net::send(client.get(&config.spec))
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| {
                invalid(
                    &config.spec,
                    format!("cannot fetch it: {}", codexos_net::explain(&error)),
                )
            })?;
        return response
            .text()
            .await
            .map_err(|error| invalid(&config.spec, format!("cannot read it: {error}")));
    }
    std::fs::read_to_string(&config.spec)
        .map_err(|error| invalid(&config.spec, format!("cannot read it: {error}")))
}

/// Parses a spec (JSON or YAML) and checks it is `OpenAPI` 3.
pub fn parse(spec: &str, text: &str) -> Result<Value> {
    let document: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text)
            .map_err(|error| invalid(spec, format!("invalid JSON: {error}")))?
    } else {
        serde_yaml_ng::from_str(text)
            .map_err(|error| invalid(spec, format!("invalid YAML: {error}")))?
    };
    match document.get("openapi").and_then(Value::as_str) {
        Some(version) if version.starts_with('3') => Ok(document),
        Some(version) => Err(invalid(
            spec,
            format!("OpenAPI {version} is not supported; CodexOS reads OpenAPI 3.x"),
        )),
        None if document.get("swagger").is_some() => Err(invalid(
            spec,
            "Swagger 2.0 is not supported; convert it to OpenAPI 3 (e.g. with swagger2openapi)",
        )),
        None => Err(invalid(
            spec,
            "not an OpenAPI document (no `openapi` field)",
        )),
    }
}

/// `value` with local `$ref`s replaced by what they point to (to a depth).
fn resolve(document: &Value, value: &Value, depth: usize) -> Value {
    if depth > 12 {
        return json!({});
    }
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref") {
                return reference
                    .strip_prefix('#')
                    .and_then(|pointer| document.pointer(pointer))
                    .map_or_else(|| json!({}), |target| resolve(document, target, depth + 1));
            }
            Value::Object(
                object
                    .iter()
                    .map(|(key, item)| (key.clone(), resolve(document, item, depth + 1)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| resolve(document, item, depth + 1))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn operation_name(method: &str, path: &str, operation: &Value) -> String {
    operation
        .get("operationId")
        .and_then(Value::as_str)
        .map_or_else(
            || {
                let mut name = method.to_owned();
                for part in path.split('/').filter(|part| !part.is_empty()) {
                    name.push('_');
                    name.push_str(part.trim_matches(['{', '}']));
                }
                name
            },
            str::to_owned,
        )
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Parameters mapped into an argument schema.
struct Mapped {
    properties: Map<String, Value>,
    required: Vec<Value>,
    parameters: Vec<(String, Place)>,
}

/// The argument schema's properties and required names for these
/// parameters, and where each goes in the request.
fn map_parameters<'a>(all: impl Iterator<Item = &'a Value>) -> Mapped {
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut parameters: Vec<(String, Place)> = Vec::new();
    for parameter in all {
        let (Some(name), Some(place)) = (
            parameter.get("name").and_then(Value::as_str),
            parameter.get("in").and_then(Value::as_str),
        ) else {
            continue;
        };
        let place = match place {
            "path" => Place::Path,
            "query" => Place::Query,
            "header" => Place::Header,
            _ => continue,
        };
        let mut schema = parameter
            .get("schema")
            .cloned()
            .unwrap_or_else(|| json!({"type": "string"}));
        if let (Some(description), Value::Object(object)) =
            (parameter.get("description"), &mut schema)
        {
            object.insert("description".into(), description.clone());
        }
        properties.insert(name.to_owned(), schema);
        if place == Place::Path || parameter.get("required") == Some(&Value::Bool(true)) {
            required.push(Value::String(name.to_owned()));
        }
        parameters.retain(|(known, _)| known != name);
        parameters.push((name.to_owned(), place));
    }
    Mapped {
        properties,
        required,
        parameters,
    }
}

/// The tools of one spec.
pub fn operations(config: &ApiConfig, document: &Value) -> Result<Vec<Arc<dyn Tool>>> {
    let base = config
        .base_url
        .clone()
        .or_else(|| {
            document
                .pointer("/servers/0/url")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .filter(|url| url.starts_with("http://") || url.starts_with("https://"))
        .ok_or_else(|| {
            invalid(
                &config.spec,
                "no absolute server URL in the spec; set `base_url`",
            )
        })?;
    let base = base.trim_end_matches('/').to_owned();
    let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|prefix| base.starts_with(prefix));
    let paths = document
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid(&config.spec, "no `paths`"))?;
    let mut tools: Vec<Arc<dyn Tool>> = Vec::new();
    for (path, item) in paths {
        let item = resolve(document, item, 0);
        let shared: Vec<Value> = item
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let own: Vec<Value> = operation
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let Mapped {
                mut properties,
                mut required,
                parameters,
            } = map_parameters(shared.iter().chain(own.iter()));
            if let Some(body) = operation.get("requestBody") {
                let schema = body
                    .pointer("/content/application~1json/schema")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                properties.insert("body".into(), schema);
                if body.get("required") == Some(&Value::Bool(true)) {
                    required.push("body".into());
                }
            }
            let description = operation
                .get("summary")
                .or_else(|| operation.get("description"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let name = format!(
                "{}.{}",
                config.name,
                operation_name(method, path, operation)
            );
            let reads = matches!(method, "get" | "head" | "options");
            let effects = Effects {
                writes: !reads,
                runs_code: false,
                network: !local,
            };
            let mut info = ToolInfo::new(
                &name,
                &format!("{} ({} {path})", description, method.to_uppercase()),
                json!({"type": "object", "properties": properties, "required": required}),
                effects,
            );
            info.source = format!("openapi:{}", config.name);
            if let Some(permission) = config.permission {
                info.permission = permission;
            }
            tools.push(Arc::new(Operation {
                info,
                method: reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
                    .unwrap_or(reqwest::Method::GET),
                path: path.clone(),
                base: base.clone(),
                parameters,
                api: config.clone(),
            }));
        }
    }
    Ok(tools)
}

/// Reads a spec (file or URL) and makes its operations into tools.
pub async fn load(config: &ApiConfig, offline: bool) -> Result<Vec<Arc<dyn Tool>>> {
    let text = read_spec(config, offline).await?;
    let document = parse(&config.spec, &text)?;
    let tools = operations(config, &document)?;
    if tools.is_empty() {
        return Err(invalid(&config.spec, "it has no operations"));
    }
    Ok(tools)
}

/// Reads a spec and registers its operations as the `openapi:<name>`
/// source (or the source's failure).
pub async fn register(registry: &Registry, config: &ApiConfig, offline: bool) {
    let source = format!("openapi:{}", config.name);
    match load(config, offline).await {
        Ok(tools) => registry.set_source(&source, SourceState::Ready, tools, Vec::new()),
        Err(error) => {
            tracing::warn!("{error}");
            registry.set_state(&source, SourceState::Failed(error.to_string()));
        }
    }
}

fn encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            write!(encoded, "%{byte:02X}").ok();
        }
    }
    encoded
}

fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

impl Operation {
    /// The HTTP request of one call, authenticated from the vault.
    fn request(
        &self,
        arguments: &Value,
        context: &CallContext,
    ) -> Result<(reqwest::RequestBuilder, Revealed)> {
        let name = &self.info.name;
        let mut path = self.path.clone();
        let mut query: BTreeMap<String, String> = BTreeMap::new();
        let mut headers = reqwest::header::HeaderMap::new();
        for (parameter, place) in &self.parameters {
            let Some(value) = arguments.get(parameter) else {
                continue;
            };
            match place {
                Place::Path => {
                    path = path.replace(&format!("{{{parameter}}}"), &encode(&as_text(value)));
                }
                Place::Query => {
                    query.insert(parameter.clone(), as_text(value));
                }
                Place::Header => {
                    if let (Ok(key), Ok(value)) = (
                        reqwest::header::HeaderName::from_bytes(parameter.as_bytes()),
                        reqwest::header::HeaderValue::from_str(&as_text(value)),
                    ) {
                        headers.insert(key, value);
                    }
                }
            }
        }
        let client = codexos_net::client()
            .timeout(Duration::from_secs(self.api.timeout.unwrap_or(60)))
            .build()
            .map_err(|error| Error::failed(name, error.to_string()))?;
        let mut request = client
            .request(self.method.clone(), format!("{}{path}", self.base))
            .headers(headers);
        let mut revealed = Vec::new();
        if let Some(auth) = &self.api.auth {
            let (Auth::Bearer { secret: reference }
            | Auth::ApiKey {
                secret: reference, ..
            }) = auth;
            let secret = context
                .secrets
                .secret(reference)
                .map_err(|message| Error::Secret {
                    tool: name.clone(),
                    name: reference.clone(),
                    message,
                })?;
            revealed.push((reference.clone(), secret.clone()));
            let value = secret.expose_secret();
            request = match auth {
                Auth::Bearer { .. } => request.bearer_auth(value),
                Auth::ApiKey {
                    query: Some(parameter),
                    ..
                } => request.query(&[(parameter, value)]),
                Auth::ApiKey { header, .. } => {
                    request.header(header.as_deref().unwrap_or("X-API-Key"), value)
                }
            };
        }
        if !query.is_empty() {
            request = request.query(&query);
        }
        if let Some(body) = arguments.get("body") {
            request = request.json(body);
        }
        Ok((request, Revealed::new(revealed)))
    }
}

#[async_trait]
impl Tool for Operation {
    fn info(&self) -> &ToolInfo {
        &self.info
    }

    async fn call(&self, arguments: Value, context: &CallContext) -> Result<Value> {
        let (request, revealed) = self.request(&arguments, context)?;
        // An error can quote the URL, and a key may sit in its query.
        let result = self.send(request).await;
        revealed.redact(result, &self.info.name)
    }
}

impl Operation {
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value> {
        let name = &self.info.name;
        let response = codexos_net::send(request).await.map_err(|error| {
            Error::failed(
                name,
                format!(
                    "{} {}: {}",
                    self.method,
                    self.path,
                    codexos_net::explain(&error)
                ),
            )
        })?;
        let status = response.status();
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|kind| kind.contains("json"));
        let text = response
            .text()
            .await
            .map_err(|error| Error::failed(name, format!("reading the answer: {error}")))?;
        if !status.is_success() {
            let excerpt: String = text.chars().take(500).collect();
            return Err(Error::failed(name, format!("HTTP {status}: {excerpt}")));
        }
        if is_json {
            serde_json::from_str(&text).map_err(|error| {
                Error::failed(name, format!("the answer is not valid JSON: {error}"))
            })
        } else {
            Ok(Value::String(text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_specs_are_explained() {
        assert!(parse("x", "{").is_err_and(|error| error.to_string().contains("invalid JSON")));
        assert!(parse("x", "swagger: '2.0'")
            .is_err_and(|error| error.to_string().contains("Swagger 2.0")));
        assert!(parse("x", "a: [").is_err_and(|error| error.to_string().contains("invalid YAML")));
        assert!(parse("x", "openapi: 3.0.0\npaths: {}").is_ok());
    }
}
