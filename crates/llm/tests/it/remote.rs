//! Remote providers against the scripted server: both protocols, streaming,
//! tool calls, and every failure classified.

use std::sync::Arc;

use codexos_llm::{
    ChatEvent, ChatMessage, ChatRequest, Completion, Error, Failure, FinishReason, Provider,
    ProviderInfo, ProviderKind, RemoteProvider, RemoteSettings, ToolSpec,
};
use tokio_util::sync::CancellationToken;

use crate::scripted;

pub fn remote(
    name: &str,
    kind: ProviderKind,
    base_url: String,
    key: Option<&str>,
) -> RemoteProvider {
    let key_value = key.map(str::to_owned);
    RemoteProvider::new(RemoteSettings {
        info: ProviderInfo {
            name: name.into(),
            kind,
            model: format!("{name}-model"),
            remote: true,
            context_size: Some(32_000),
            tools: true,
            timeout_secs: 2,
            key: key.map(|_| format!("{name}-key")),
        },
        base_url,
        key: key_value
            .map(|value| -> codexos_llm::KeySource { Arc::new(move || Ok(Some(value.clone()))) }),
    })
    .expect("client")
}

fn question() -> ChatRequest {
    ChatRequest::new(vec![
        ChatMessage::system("be brief"),
        ChatMessage::user("hello?"),
    ])
}

async fn run(
    provider: &RemoteProvider,
    request: &ChatRequest,
) -> Result<(String, Completion), Error> {
    let mut stream = provider.start(request, CancellationToken::new()).await?;
    let mut text = String::new();
    while let Some(item) = stream.recv().await {
        match item? {
            ChatEvent::Token(piece) => text.push_str(&piece),
            ChatEvent::ToolCall(_) => {}
            ChatEvent::Done(completion) => return Ok((text, completion)),
        }
    }
    panic!("no Done");
}

fn failure(error: &Error) -> Failure {
    match error {
        Error::Remote { failure, .. } => failure.clone(),
        other => panic!("not a remote failure: {other}"),
    }
}

#[tokio::test]
async fn openai_streams_text_and_usage() {
    let server = scripted::start().await;
    let provider = remote("ok", ProviderKind::Openai, server.openai("ok"), None);
    let (text, completion) = run(&provider, &question()).await.expect("answers");
    assert_eq!(text, "Hello from ok");
    assert_eq!(completion.text, text);
    assert_eq!(
        (completion.prompt_tokens, completion.completion_tokens),
        (9, 3)
    );
    assert_eq!(
        (completion.provider.as_str(), completion.model.as_str()),
        ("ok", "ok-model")
    );
    let body = server.seen.last_body("ok");
    assert_eq!(body["model"], "ok-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["messages"][0]["role"], "system");
}

#[tokio::test]
async fn openai_tool_calls_are_assembled_from_fragments() {
    let server = scripted::start().await;
    let provider = remote("tools", ProviderKind::Openai, server.openai("tools"), None);
    let request = question().with_tools(vec![ToolSpec {
        name: "get_weather".into(),
        description: "weather".into(),
        parameters: serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    }]);
    let (_, completion) = run(&provider, &request).await.expect("answers");
    assert_eq!(completion.finish, FinishReason::ToolCalls);
    assert_eq!(completion.tool_calls.len(), 1);
    assert_eq!(completion.tool_calls[0].arguments, "{\"city\":\"Oslo\"}");
    assert_eq!(
        server.seen.last_body("tools")["tools"][0]["function"]["name"],
        "get_weather"
    );
}

#[tokio::test]
async fn anthropic_streams_with_its_key_header() {
    let server = scripted::start().await;
    let provider = remote(
        "claude",
        ProviderKind::Anthropic,
        server.anthropic("claude"),
        Some("sk-ant-test"),
    );
    let (text, completion) = run(&provider, &question()).await.expect("answers");
    assert_eq!(text, "Bonjour");
    assert_eq!(
        (completion.prompt_tokens, completion.completion_tokens),
        (11, 2)
    );
    assert_eq!(server.seen.last_body("claude")["system"], "be brief");

    let wrong = remote(
        "claude",
        ProviderKind::Anthropic,
        server.anthropic("claude"),
        Some("sk-wrong"),
    );
    let error = run(&wrong, &question()).await.expect_err("refused");
    assert_eq!(failure(&error), Failure::Auth { status: 401 });
    let message = error.to_string();
    assert!(
        message.contains("claude") && message.contains("codexos vault set claude-key"),
        "{message}"
    );
}

#[tokio::test]
async fn failures_are_classified_with_the_fix() {
    let server = scripted::start().await;
    let cases = [
        (
            "ratelimit",
            Failure::RateLimited {
                retry_after_ms: Some(30_000),
            },
        ),
        ("error500", Failure::Server { status: 500 }),
        ("hang", Failure::Timeout),
        ("garbage", Failure::Malformed),
        ("auth", Failure::Auth { status: 401 }),
        ("long", Failure::ContextTooLong),
        ("nosuch", Failure::Rejected { status: 404 }),
    ];
    for (scenario, expected) in cases {
        let provider = remote(
            scenario,
            ProviderKind::Openai,
            server.openai(scenario),
            Some("wrong-key"),
        );
        let error = run(&provider, &question()).await.expect_err(scenario);
        assert_eq!(failure(&error), expected, "{scenario}: {error}");
        assert!(
            error
                .to_string()
                .contains(&format!("provider `{scenario}`")),
            "{error}"
        );
    }
    let overloaded = remote(
        "overloaded",
        ProviderKind::Anthropic,
        server.anthropic("overloaded"),
        None,
    );
    let error = run(&overloaded, &question()).await.expect_err("overloaded");
    assert_eq!(failure(&error), Failure::Server { status: 0 });
    assert!(error.to_string().contains("Overloaded"), "{error}");

    let closed = remote(
        "closed",
        ProviderKind::Openai,
        "http://127.0.0.1:9/v1".into(),
        None,
    );
    let error = run(&closed, &question()).await.expect_err("refused");
    assert_eq!(failure(&error), Failure::Connect, "{error}");
}

#[tokio::test]
async fn a_server_that_ignores_stream_still_answers() {
    let server = scripted::start().await;
    let provider = remote("whole", ProviderKind::Openai, server.openai("whole"), None);
    let (text, completion) = run(&provider, &question()).await.expect("answers");
    assert_eq!(text, "not streamed");
    assert_eq!(completion.completion_tokens, 2);
}

#[tokio::test]
async fn the_right_key_is_sent_as_a_bearer_token() {
    let server = scripted::start().await;
    let provider = remote(
        "auth",
        ProviderKind::Openai,
        server.openai("auth"),
        Some("right-key"),
    );
    let (text, _) = run(&provider, &question()).await.expect("authorised");
    assert_eq!(text, "authorised");
}
