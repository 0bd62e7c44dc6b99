//! The `OpenAPI` 3.1 document of the team API, generated from the endpoint
//! table (paths, who may call them) and the request types (their schemas
//! derived by utoipa from the Rust structs). docs/openapi.json is this
//! document, checked by a golden test.

use serde_json::{json, Map, Value};
use utoipa::openapi::path::ParameterIn;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::api::{
    AskBody, AuditQuery, EventsQuery, ListQuery, LoginRequest, MemberBody, MemberQuery,
    ResumeRequest, RunRequest, SearchBody, SecretBody, TokenRequest,
};
use super::oidc::{CallbackQuery, HandoffRequest, LoginQuery};
use super::reruns::{RerunRequest, RunForkRequest};
use super::roles::{Access, Endpoint, Role, ENDPOINTS};
use super::share::{ForkRequest, ShareRequest, UpdateRequest};
use super::triggers::{DeliveriesQuery, HookRequest, TriggerRequest};

fn schema_of<T: ToSchema + PartialSchema>(schemas: &mut Map<String, Value>) -> Value {
    let name = T::name().into_owned();
    // The types it refers to, so every `$ref` resolves.
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    for (inner, schema) in nested {
        schemas.insert(inner, serde_json::to_value(schema).unwrap_or(Value::Null));
    }
    schemas.insert(
        name.clone(),
        serde_json::to_value(T::schema()).unwrap_or(Value::Null),
    );
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn query_of<T: IntoParams>() -> Vec<Value> {
    T::into_params(|| Some(ParameterIn::Query))
        .into_iter()
        .map(|parameter| serde_json::to_value(parameter).unwrap_or(Value::Null))
        .collect()
}

/// The request body and query parameters of an endpoint.
fn inputs(endpoint: &Endpoint, schemas: &mut Map<String, Value>) -> (Option<Value>, Vec<Value>) {
    let tail = endpoint
        .path
        .strip_prefix(super::roles::WORKSPACE)
        .unwrap_or(endpoint.path);
    let body = match (endpoint.method, tail) {
        ("POST", "/api/v1/login") => Some(schema_of::<LoginRequest>(schemas)),
        ("POST", "/api/v1/tokens") => Some(schema_of::<TokenRequest>(schemas)),
        ("PUT", "/flows/{flow}" | "/check") => Some(json!({
            "description": "A flow: the schema `codexos flow schema` prints",
            "type": "object"
        })),
        ("POST", "/openai/v1/chat/completions") => Some(json!({
            "description": "An OpenAI Chat Completions request (model `codexos` = the workspace's policy)",
            "type": "object"
        })),
        ("POST", "/flows/{flow}/runs" | "/api/v1/shared/{link}/runs") => {
            Some(schema_of::<RunRequest>(schemas))
        }
        ("POST", "/runs/{run}/resume") => Some(schema_of::<ResumeRequest>(schemas)),
        ("POST", "/runs/{run}/rerun") => Some(schema_of::<RerunRequest>(schemas)),
        ("POST", "/runs/{run}/fork") => Some(schema_of::<RunForkRequest>(schemas)),
        ("POST", "/search") => Some(schema_of::<SearchBody>(schemas)),
        ("POST", "/ask") => Some(schema_of::<AskBody>(schemas)),
        ("POST", "/chat") => Some(schema_of::<super::chat::ChatBody>(schemas)),
        ("POST", "/datasets") => Some(schema_of::<super::evals::DatasetBody>(schemas)),
        ("POST", "/datasets/{dataset}/runs") => Some(schema_of::<super::evals::CaseBody>(schemas)),
        ("POST", "/flows/{flow}/evals") => Some(schema_of::<super::evals::EvalBody>(schemas)),
        ("PUT", "/llm/policy") => Some(schema_of::<super::llm::PolicyBody>(schemas)),
        ("POST", "/llm/providers") => Some(schema_of::<super::llm::ProviderBody>(schemas)),
        ("POST", "/agents") => Some(json!({
            "description": "An agent: docs/schema/agent.schema.json (name, version, prompt, model, tools, …)",
            "type": "object"
        })),
        ("POST", "/flows/{flow}/repin") => Some(schema_of::<super::agents::RepinBody>(schemas)),
        ("POST", "/agents/{agent}/turns") => Some(schema_of::<super::agents::TurnBody>(schemas)),
        ("PUT", "/vault/{secret}") => Some(schema_of::<SecretBody>(schemas)),
        ("PUT", "/members/{account}") => Some(schema_of::<MemberBody>(schemas)),
        ("POST", "/projects/{project}/sources") => Some(json!({
            "description": "A zip archive of files under the project's folder (`/`-separated relative names; no links)",
            "type": "string",
            "format": "binary",
            "x-content-type": "application/zip"
        })),
        ("POST", "/bundles" | "/bundles/check") => Some(json!({
            "description": "A bundle file as `codexos bundle export` writes it",
            "type": "string",
            "format": "binary",
            "x-content-type": "application/octet-stream"
        })),
        ("POST", "/projects/{project}/sources/remove") => {
            Some(schema_of::<super::projects::RemoveBody>(schemas))
        }
        ("POST", "/flows/{flow}/fork" | "/api/v1/shared/{link}/fork") => {
            Some(schema_of::<ForkRequest>(schemas))
        }
        ("POST", "/flows/{flow}/origin") => Some(schema_of::<UpdateRequest>(schemas)),
        ("POST", "/shares") => Some(schema_of::<ShareRequest>(schemas)),
        ("POST", "/triggers") => Some(schema_of::<TriggerRequest>(schemas)),
        ("POST", "/api/v1/oidc/handoff") => Some(schema_of::<HandoffRequest>(schemas)),
        ("POST", "/webhooks") => Some(schema_of::<HookRequest>(schemas)),
        ("POST", "/mcp") => Some(
            json!({"type": "object", "description": "A JSON-RPC 2.0 message of the Model Context Protocol"}),
        ),
        ("POST", "/api/v1/hooks/{trigger}") => {
            Some(json!({"description": "Any body (JSON is passed to the run as `event`), signed"}))
        }
        _ => None,
    };
    let query = match (endpoint.method, tail) {
        ("GET", "/runs") => query_of::<ListQuery>(),
        ("GET", "/runs/{run}/events") => query_of::<EventsQuery>(),
        ("DELETE", "/members/{account}") => query_of::<MemberQuery>(),
        ("GET", "/audit") => query_of::<AuditQuery>(),
        ("GET", "/analytics") => query_of::<super::analytics::AnalyticsQuery>(),
        ("GET", "/evals") => query_of::<super::evals::EvalsQuery>(),
        ("POST", "/bundles") => query_of::<super::bundles::ImportQuery>(),
        ("GET", "/analytics/runs") => query_of::<super::analytics::FigureQuery>(),
        ("GET", "/projects/{project}/preview") => query_of::<super::projects::PreviewQuery>(),
        ("GET", "/webhooks/{hook}/deliveries") => query_of::<DeliveriesQuery>(),
        ("GET", "/api/v1/oidc/login") => query_of::<LoginQuery>(),
        ("GET", "/api/v1/oidc/callback") => query_of::<CallbackQuery>(),
        _ => Vec::new(),
    };
    (body, query)
}

fn operation(endpoint: &Endpoint, schemas: &mut Map<String, Value>) -> Value {
    let mut parameters: Vec<Value> = endpoint
        .path
        .split('/')
        .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            json!({
                "name": name,
                "in": "path",
                "required": true,
                "schema": { "type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$" }
            })
        })
        .collect();
    let (body, query) = inputs(endpoint, schemas);
    parameters.extend(query);
    let (access, roles) = match endpoint.access {
        Access::Public => ("public".to_owned(), Vec::new()),
        Access::Account => ("account".to_owned(), Vec::new()),
        Access::Workspace(permission) => (
            format!("workspace:{}", permission.as_str()),
            Role::ALL
                .into_iter()
                .filter(|role| role.allows(permission))
                .map(Role::as_str)
                .collect(),
        ),
    };
    let tag = endpoint
        .path
        .strip_prefix(super::roles::WORKSPACE)
        .and_then(|tail| tail.split('/').nth(1))
        .unwrap_or("account");
    let mut op = json!({
        "summary": endpoint.summary,
        "operationId": format!("{} {}", endpoint.method.to_lowercase(), endpoint.path),
        "tags": [tag],
        "parameters": parameters,
        "x-codexos-access": access,
        "responses": {
            "200": { "description": "Done" },
            "400": { "$ref": "#/components/responses/Error" },
            "401": { "$ref": "#/components/responses/Error" },
            "403": { "$ref": "#/components/responses/Error" },
            "404": { "$ref": "#/components/responses/Error" },
            "413": { "description": "The body is larger than the server accepts" },
            "429": { "$ref": "#/components/responses/Error" }
        }
    });
    if !roles.is_empty() {
        op["x-codexos-roles"] = json!(roles);
    }
    if endpoint.access == Access::Public {
        op["security"] = json!([]);
    }
    if let Some(mut body) = body {
        let media = body
            .as_object_mut()
            .and_then(|schema| schema.remove("x-content-type"))
            .and_then(|media| media.as_str().map(str::to_owned))
            .unwrap_or_else(|| "application/json".to_owned());
        op["requestBody"] = json!({
            "required": true,
            "content": { media: { "schema": body } }
        });
    }
    op
}

/// The document served at `/openapi.json`.
#[must_use]
pub fn document() -> Value {
    let mut schemas = Map::new();
    let mut paths = Map::new();
    for endpoint in ENDPOINTS {
        let op = operation(endpoint, &mut schemas);
        let item = paths
            .entry(endpoint.path.to_owned())
            .or_insert_with(|| json!({}));
        item[endpoint.method.to_lowercase()] = op;
    }
    schemas.insert(
        "Error".to_owned(),
        json!({
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": { "type": "string", "description": "Stable machine-readable code" },
                "message": { "type": "string", "description": "What failed and what to do" }
            }
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "CodexOS team server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The CodexOS runtime served to a team. Every endpoint but the public ones needs an API token (`Authorization: Bearer cxo_…`) or a session cookie (whose unsafe requests carry `X-CSRF-Token`). `x-codexos-access` and `x-codexos-roles` say who may call each one."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "Error": {
                    "description": "An error",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
                }
            },
            "securitySchemes": {
                "token": { "type": "http", "scheme": "bearer", "description": "A personal API token, `cxo_<id>_<secret>`" },
                "session": { "type": "apiKey", "in": "cookie", "name": super::api::SESSION_COOKIE }
            }
        },
        "security": [{ "token": [] }, { "session": [] }]
    })
}
