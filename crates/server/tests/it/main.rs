//! The OpenAI-compatible endpoint on a real runtime (SmolLM2 from
//! `CODEXOS_MODELS`), driven over HTTP on 127.0.0.1.
#![expect(
    clippy::disallowed_methods,
    reason = "a test client of the server under test; offline mode is not in play"
)]

mod team;

use std::sync::Arc;

use codexos_runtime::{Home, Runtime};
use tokio_util::sync::CancellationToken;

struct Served {
    base: String,
    stop: CancellationToken,
    _home: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn serve() -> Served {
    let home = tempfile::tempdir().expect("home");
    std::fs::write(
        home.path().join("config.toml"),
        "[llm]\nmax_tokens = 48\ntemperature = 0.0\n",
    )
    .expect("config");
    let runtime = Runtime::open(Home::new(
        home.path().to_path_buf(),
        Some(codexos_test_support::models_dir()),
    ))
    .expect("runtime");
    let stop = CancellationToken::new();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let task_stop = stop.clone();
    tokio::spawn(async move {
        codexos_server::serve_openai(
            Arc::clone(&runtime),
            "127.0.0.1:0".parse().expect("address"),
            task_stop,
            |address| {
                sender.send(address).expect("report address");
            },
        )
        .await
        .expect("serves");
    });
    let address = receiver.await.expect("bound");
    Served {
        base: format!("http://{address}/v1"),
        stop,
        _home: home,
    }
}

fn question() -> serde_json::Value {
    serde_json::json!({
        "model": "codexos",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn models_lists_the_policy_and_local_files() {
    let served = serve().await;
    let listing: serde_json::Value = codexos_net::client()
        .build()
        .expect("client")
        .get(format!("{}/models", served.base))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = listing["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|model| model["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"codexos") && ids.contains(&"local"),
        "{ids:?}"
    );
    assert!(ids.contains(&"SmolLM2-135M-Instruct.Q4_1.gguf"), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_completion_has_text_and_usage() {
    let served = serve().await;
    let response: serde_json::Value = codexos_net::client()
        .build()
        .expect("client")
        .post(format!("{}/chat/completions", served.base))
        .json(&question())
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let text = response["choices"][0]["message"]["content"]
        .as_str()
        .expect("content");
    assert!(text.contains("Paris"), "{response}");
    assert_eq!(response["choices"][0]["finish_reason"], "stop");
    assert!(response["usage"]["prompt_tokens"].as_u64() > Some(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_completion_arrives_as_chunks_then_done() {
    let served = serve().await;
    let mut body = question();
    body["stream"] = true.into();
    body["stream_options"] = serde_json::json!({"include_usage": true});
    let response = codexos_net::client()
        .build()
        .expect("client")
        .post(format!("{}/chat/completions", served.base))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(response.headers()["content-type"]
        .to_str()
        .expect("type")
        .contains("text/event-stream"));
    let text = response.text().await.expect("body");
    let data: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    let chunks: Vec<serde_json::Value> = data[..data.len() - 1]
        .iter()
        .map(|chunk| serde_json::from_str(chunk).expect("chunk"))
        .collect();
    let content: String = chunks
        .iter()
        .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(content.contains("Paris"), "{content}");
    assert!(chunks
        .iter()
        .any(|chunk| chunk["choices"][0]["finish_reason"] == "stop"));
    assert!(chunks
        .iter()
        .any(|chunk| chunk["usage"]["completion_tokens"].as_u64() > Some(0)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_required_tool_call_comes_back_in_openai_format() {
    let served = serve().await;
    let body = serde_json::json!({
        "model": "local",
        "messages": [{"role": "user", "content": "What is the weather in Oslo?"}],
        "tools": [{"type": "function", "function": {
            "name": "get_weather",
            "description": "Current weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }}],
        "tool_choice": "required",
    });
    let response: serde_json::Value = codexos_net::client()
        .build()
        .expect("client")
        .post(format!("{}/chat/completions", served.base))
        .json(&body)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(
        response["choices"][0]["finish_reason"], "tool_calls",
        "{response}"
    );
    let call = &response["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: serde_json::Value =
        serde_json::from_str(call["function"]["arguments"].as_str().expect("string"))
            .expect("valid JSON");
    assert!(arguments["city"].is_string(), "{arguments}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_openai_style_errors() {
    let served = serve().await;
    let client = codexos_net::client().build().expect("client");
    let unknown = client
        .post(format!("{}/chat/completions", served.base))
        .json(&serde_json::json!({"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("request");
    assert_eq!(unknown.status(), 404);
    let error: serde_json::Value = unknown.json().await.expect("json");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("no-such-model")),
        "{error}"
    );
    let empty = client
        .post(format!("{}/chat/completions", served.base))
        .json(&serde_json::json!({"messages": []}))
        .send()
        .await
        .expect("request");
    assert_eq!(empty.status(), 400);
    let long = client
        .post(format!("{}/chat/completions", served.base))
        .json(&serde_json::json!({"messages": [{"role": "user", "content": "word ".repeat(6000)}]}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        long.status(),
        400,
        "too long for every provider of the policy"
    );
    let error: serde_json::Value = long.json().await.expect("json");
    assert_eq!(error["error"]["code"], "context_length_exceeded", "{error}");
}
