//! `OpenAPI` operations against a real HTTP server on 127.0.0.1.

use std::sync::Arc;

use axum::extract::{Json, Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use codexos_tools::openapi::{register, ApiConfig, Auth};
use codexos_tools::{CallContext, Policy, PreApproved, Refuse, Registry, Secrets, SourceState};
use secrecy::SecretString;
use serde_json::{json, Value};

struct Vault;

impl Secrets for Vault {
    fn secret(&self, name: &str) -> Result<SecretString, String> {
        (name == "PETS_TOKEN")
            .then(|| SecretString::from("s3cret-token"))
            .ok_or_else(|| format!("no secret `{name}`"))
    }
}

const SPEC: &str = r#"
openapi: 3.0.3
info: { title: Pets, version: "1" }
paths:
  /pets:
    get:
      operationId: listPets
      summary: Lists pets.
      parameters:
        - { name: limit, in: query, schema: { type: integer } }
    post:
      operationId: addPet
      summary: Adds a pet.
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: '#/components/schemas/Pet' }
  /pets/{id}:
    get:
      operationId: getPet
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties: { name: { type: string } }
"#;

async fn serve() -> String {
    let authorized = |headers: &HeaderMap| {
        headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            == Some("Bearer s3cret-token")
    };
    let app = axum::Router::new()
        .route(
            "/pets",
            get(move |headers: HeaderMap, Query(query): Query<std::collections::HashMap<String, String>>| async move {
                if !authorized(&headers) {
                    return Err(StatusCode::UNAUTHORIZED);
                }
                let limit: usize = query.get("limit").and_then(|limit| limit.parse().ok()).unwrap_or(10);
                Ok(Json(json!(["rex", "tom", "kit"].into_iter().take(limit).collect::<Vec<_>>())))
            })
            .post(move |headers: HeaderMap, Json(body): Json<Value>| async move {
                if !authorized(&headers) {
                    return Err(StatusCode::UNAUTHORIZED);
                }
                Ok((StatusCode::CREATED, Json(json!({"created": body["name"]}))))
            }),
        )
        .route(
            "/pets/{id}",
            get(|Path(id): Path<String>| async move {
                if id == "a b" {
                    Ok(Json(json!({"id": id})))
                } else {
                    Err((StatusCode::NOT_FOUND, "no such pet"))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread")]
async fn operations_become_tools_with_vault_auth() {
    let base = serve().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("pets.yaml");
    std::fs::write(&spec, SPEC).expect("spec");
    let registry = Registry::new();
    let config = ApiConfig {
        name: "pets".into(),
        spec: spec.display().to_string(),
        base_url: Some(base),
        auth: Some(Auth::Bearer {
            secret: "PETS_TOKEN".into(),
        }),
        permission: None,
        timeout: None,
    };
    register(&registry, &config, false).await;
    let policy = Policy::default();
    let tools = registry.tools(&policy);
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_str()).collect();
    assert_eq!(names, ["pets.addPet", "pets.getPet", "pets.listPets"]);
    // Reads of a local server are allowed; writes ask.
    assert_eq!(tools[2].permission, codexos_tools::Permission::Allow);
    assert_eq!(tools[0].permission, codexos_tools::Permission::Ask);
    assert_eq!(
        tools[0].parameters["properties"]["body"]["required"],
        json!(["name"]),
        "$ref resolved"
    );
    let mut context = CallContext::new(dir.path().to_path_buf());
    context.secrets = Arc::new(Vault);
    let no = Refuse("nobody to ask".into());
    let listed = registry
        .call("pets.listPets", json!({"limit": 2}), &policy, &no, &context)
        .await;
    assert_eq!(listed.expect("list"), json!(["rex", "tom"]));
    let refused = registry
        .call(
            "pets.addPet",
            json!({"body": {"name": "bo"}}),
            &policy,
            &no,
            &context,
        )
        .await;
    assert!(refused.is_err_and(|error| error.to_string().contains("not approved")));
    let added = registry
        .call(
            "pets.addPet",
            json!({"body": {"name": "bo"}}),
            &policy,
            &PreApproved,
            &context,
        )
        .await;
    assert_eq!(added.expect("add"), json!({"created": "bo"}));
    let bad_body = registry
        .call(
            "pets.addPet",
            json!({"body": {}}),
            &policy,
            &PreApproved,
            &context,
        )
        .await;
    assert!(bad_body.is_err_and(|error| error.to_string().contains("$.body: `name` is required")));
    let found = registry
        .call("pets.getPet", json!({"id": "a b"}), &policy, &no, &context)
        .await;
    assert_eq!(
        found.expect("get"),
        json!({"id": "a b"}),
        "path parameters are encoded"
    );
    let missing = registry
        .call("pets.getPet", json!({"id": "zed"}), &policy, &no, &context)
        .await;
    assert!(missing.is_err_and(
        |error| error.to_string().contains("404") && error.to_string().contains("no such pet")
    ));
    // Without the secret the call says which one to store.
    context.secrets = Arc::new(codexos_tools::NoSecrets);
    let unauthorized = registry
        .call("pets.listPets", json!({}), &policy, &no, &context)
        .await;
    assert!(
        unauthorized.is_err_and(|error| error.to_string().contains("codexos vault set PETS_TOKEN"))
    );
}

#[tokio::test]
async fn a_broken_spec_fails_its_source_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("broken.json");
    std::fs::write(&spec, "{\"swagger\": \"2.0\"}").expect("spec");
    let registry = Registry::new();
    let config = ApiConfig {
        name: "old".into(),
        spec: spec.display().to_string(),
        base_url: None,
        auth: None,
        permission: None,
        timeout: None,
    };
    register(&registry, &config, false).await;
    let state = &registry.sources()[0].state;
    assert!(
        matches!(state, SourceState::Failed(message) if message.contains("Swagger 2.0")),
        "{state:?}"
    );
}
