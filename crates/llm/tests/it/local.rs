//! The local engine on the real llama.cpp.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use codexos_llm::{
    ChatEvent, ChatMessage, ChatRequest, Completion, Error, FinishReason, LocalModel, ModelOptions,
    ToolChoice, ToolSpec,
};
use tokio_util::sync::CancellationToken;

pub use codexos_test_support::models_dir;

pub fn model_path() -> PathBuf {
    models_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf")
}

pub fn model() -> Arc<LocalModel> {
    static MODEL: OnceLock<Arc<LocalModel>> = OnceLock::new();
    Arc::clone(MODEL.get_or_init(|| {
        Arc::new(LocalModel::load(&model_path(), ModelOptions::default()).expect("SmolLM2 loads"))
    }))
}

pub async fn collect(
    model: &LocalModel,
    request: &ChatRequest,
    cancel: CancellationToken,
) -> (String, Vec<codexos_llm::ToolCall>, Completion) {
    let mut stream = model.chat(request, cancel).expect("generation starts");
    let mut streamed = String::new();
    let mut calls = Vec::new();
    while let Some(item) = stream.recv().await {
        match item.expect("generation succeeds") {
            ChatEvent::Token(text) => streamed.push_str(&text),
            ChatEvent::ToolCall(call) => calls.push(call),
            ChatEvent::Done(completion) => return (streamed, calls, completion),
        }
    }
    panic!("the stream ended without Done");
}

pub fn greedy(messages: Vec<ChatMessage>, max_tokens: u32) -> ChatRequest {
    let mut request = ChatRequest::new(messages);
    request.max_tokens = max_tokens;
    request.temperature = 0.0;
    request
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_a_simple_question_and_streams_every_token() {
    let request = greedy(
        vec![ChatMessage::user(
            "What is the capital of France? Answer in one sentence.",
        )],
        48,
    );
    let (streamed, _, completion) = collect(&model(), &request, CancellationToken::new()).await;
    assert!(completion.text.contains("Paris"), "{:?}", completion.text);
    assert_eq!(
        streamed, completion.text,
        "the stream carries the whole text"
    );
    assert_eq!(completion.finish, FinishReason::Stop);
    assert!(completion.prompt_tokens > 5 && completion.completion_tokens > 0);
    assert!(completion.first_token_ms <= completion.elapsed_ms);
}

#[tokio::test(flavor = "multi_thread")]
async fn max_tokens_and_cancellation_stop_generation() {
    let model = model();
    let long = vec![ChatMessage::user(
        "Write a long story about a lighthouse keeper.",
    )];
    let (_, _, limited) = collect(&model, &greedy(long.clone(), 5), CancellationToken::new()).await;
    assert_eq!(
        (limited.finish, limited.completion_tokens),
        (FinishReason::Length, 5)
    );

    let cancel = CancellationToken::new();
    let mut stream = model
        .chat(&greedy(long, 400), cancel.clone())
        .expect("starts");
    let mut tokens = 0;
    let completion = loop {
        match stream.recv().await.expect("stream open").expect("ok") {
            ChatEvent::Token(_) => {
                tokens += 1;
                if tokens == 3 {
                    cancel.cancel();
                }
            }
            ChatEvent::ToolCall(_) => {}
            ChatEvent::Done(completion) => break completion,
        }
    };
    assert_eq!(completion.finish, FinishReason::Cancelled);
    assert!(
        completion.completion_tokens < 50,
        "stopped promptly: {}",
        completion.completion_tokens
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_longer_than_the_context_is_a_clear_error() {
    let small = LocalModel::load(
        &model_path(),
        ModelOptions {
            context_size: 256,
            parallel: 1,
            ..ModelOptions::default()
        },
    )
    .expect("loads");
    let prompt = "lighthouse ".repeat(600);
    let error = small
        .chat(
            &greedy(vec![ChatMessage::user(prompt)], 16),
            CancellationToken::new(),
        )
        .expect_err("overflow");
    assert!(
        matches!(
            error,
            Error::ContextOverflow {
                context_size: 256,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("context_size"),
        "the message says what to change: {error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_share_decode_batches() {
    let model = model();
    let questions = [
        "Name a color.",
        "Name a fruit.",
        "Name an animal.",
        "Name a city.",
    ];
    let handles: Vec<_> = questions
        .iter()
        .map(|question| {
            let model = Arc::clone(&model);
            let request = greedy(vec![ChatMessage::user(*question)], 24);
            tokio::spawn(async move { collect(&model, &request, CancellationToken::new()).await })
        })
        .collect();
    let mut most = 0;
    for handle in handles {
        let (text, _, completion) = handle.await.expect("task");
        assert!(!text.is_empty(), "each request gets its own answer");
        most = most.max(completion.concurrent);
    }
    assert!(
        most >= 2,
        "requests in flight together were decoded together (most {most})"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conversation_reuses_the_state_of_its_earlier_turns() {
    // Its own instance, so no other test takes the slot between the turns.
    let model = LocalModel::load(
        &model_path(),
        ModelOptions {
            parallel: 2,
            ..ModelOptions::default()
        },
    )
    .expect("loads");
    let mut messages = vec![ChatMessage::user("Tell me one fact about the Moon.")];
    let (_, _, first) = collect(
        &model,
        &greedy(messages.clone(), 32),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(first.cached_tokens, 0);
    messages.push(ChatMessage::assistant(first.text.clone()));
    messages.push(ChatMessage::user("And one about Mars?"));
    let (_, _, second) = collect(&model, &greedy(messages, 16), CancellationToken::new()).await;
    assert!(
        second.cached_tokens >= first.prompt_tokens,
        "turn 2 reused turn 1's prompt: {} cached of {}, turn 1 prompt {}",
        second.cached_tokens,
        second.prompt_tokens,
        first.prompt_tokens
    );
}

fn weather_tool() -> ToolSpec {
    ToolSpec {
        name: "get_weather".into(),
        description: "Current weather of a city".into(),
        parameters: serde_json::json!({
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
            },
            "required": ["city"]
        }),
    }
}

fn check_call(call: &codexos_llm::ToolCall) {
    assert_eq!(call.name, "get_weather");
    let arguments: serde_json::Value = serde_json::from_str(&call.arguments)
        .unwrap_or_else(|error| panic!("arguments parse ({error}): {}", call.arguments));
    assert!(arguments["city"].is_string(), "{arguments}");
    if let Some(unit) = arguments.get("unit") {
        assert!(unit == "celsius" || unit == "fahrenheit", "{arguments}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_required_tool_call_follows_the_schema_even_on_a_135m_model() {
    let mut request = greedy(vec![ChatMessage::user("What is the weather in Oslo?")], 64)
        .with_tools(vec![weather_tool()]);
    request.tool_choice = ToolChoice::Required;
    for seed in 0..3 {
        request.temperature = 0.8;
        request.seed = seed;
        let (text, calls, completion) = collect(&model(), &request, CancellationToken::new()).await;
        assert_eq!(
            calls.len(),
            1,
            "one call (text {text:?}, finish {:?})",
            completion.finish
        );
        check_call(&calls[0]);
        assert_eq!(completion.tool_calls, calls);
        assert_eq!(completion.finish, FinishReason::ToolCalls);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn qwen_calls_tools_validly_whenever_it_calls_them() {
    let Some(path) = codexos_test_support::model_or_skip("Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf")
    else {
        return;
    };
    let model = LocalModel::load(&path, ModelOptions::default()).expect("Qwen loads");
    assert!(model.supports_tools());
    let rendered = model
        .render(&ChatRequest::new(vec![ChatMessage::user("hi")]).with_tools(vec![weather_tool()]))
        .expect("renders");
    assert!(
        rendered.contains("<tools>") && rendered.contains("get_weather"),
        "the GGUF's own template renders the tools: {rendered}"
    );
    let mut calls_made = 0;
    for seed in 0..6 {
        let mut request = greedy(
            vec![ChatMessage::user(
                "What's the weather like in Oslo right now? Use the tool.",
            )],
            128,
        )
        .with_tools(vec![weather_tool()]);
        request.temperature = 0.7;
        request.seed = seed;
        let (text, calls, completion) = collect(&model, &request, CancellationToken::new()).await;
        eprintln!(
            "seed {seed}: {text:?} calls {calls:?} finish {:?}",
            completion.finish
        );
        for call in &calls {
            check_call(call);
        }
        if !calls.is_empty() {
            assert_eq!(completion.finish, FinishReason::ToolCalls);
            calls_made += 1;
        }
    }
    assert!(
        calls_made >= 3,
        "Qwen called the tool in {calls_made} of 6 runs"
    );
}

#[test]
fn the_chat_template_comes_from_the_gguf() {
    let prompt = model()
        .render(&ChatRequest::new(vec![
            ChatMessage::system("s"),
            ChatMessage::user("u"),
        ]))
        .expect("renders");
    assert!(prompt.contains("<|im_start|>user\nu<|im_end|>"), "{prompt}");
    assert!(prompt.ends_with("<|im_start|>assistant\n"), "{prompt}");
    let with_tools = model()
        .render(&ChatRequest::new(vec![ChatMessage::user("u")]).with_tools(vec![weather_tool()]))
        .expect("renders");
    assert!(
        with_tools.contains("<tools>"),
        "ChatML models get the built-in tools section: {with_tools}"
    );
}

#[test]
fn gguf_metadata_is_read_without_loading_the_model() {
    let info = codexos_llm::gguf_info(&model_path()).expect("metadata");
    assert_eq!(info.architecture.as_deref(), Some("llama"));
    assert_eq!(info.quantization.as_deref(), Some("Q4_1"));
    assert_eq!(info.context_length, Some(8192));
    assert_eq!(info.layers, Some(30));
    assert!(
        (130_000_000..140_000_000).contains(&info.parameters),
        "{} parameters",
        info.parameters
    );
    assert!(info.has_chat_template);
    assert!(
        info.supports_tools,
        "ChatML: the built-in tools template stands in"
    );
    assert_eq!(info.bytes, 98_362_432);
}
