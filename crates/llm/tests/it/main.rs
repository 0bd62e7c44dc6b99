//! Integration tests of local inference with the real llama.cpp and the
//! SmolLM2-135M GGUF from `CODEXOS_MODELS` (`make test` sets it).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use codexos_llm::{
    ChatMessage, Completion, Error, FinishReason, GenerateOptions, Generation, LocalModel,
    ModelOptions,
};
use tokio_util::sync::CancellationToken;

fn model_path() -> PathBuf {
    std::env::var_os("CODEXOS_MODELS")
        .map(PathBuf::from)
        .expect("set CODEXOS_MODELS to the models folder (make test does it)")
        .join("SmolLM2-135M-Instruct.Q4_1.gguf")
}

fn model() -> Arc<LocalModel> {
    static MODEL: OnceLock<Arc<LocalModel>> = OnceLock::new();
    Arc::clone(MODEL.get_or_init(|| {
        Arc::new(LocalModel::load(&model_path(), ModelOptions::default()).expect("SmolLM2 loads"))
    }))
}

async fn collect(
    model: &Arc<LocalModel>,
    messages: Vec<ChatMessage>,
    options: GenerateOptions,
    cancel: CancellationToken,
) -> (String, Completion) {
    let mut stream = model
        .generate(&messages, options, cancel)
        .expect("generation starts");
    let mut streamed = String::new();
    while let Some(item) = stream.recv().await {
        match item.expect("generation succeeds") {
            Generation::Token(text) => streamed.push_str(&text),
            Generation::Done(completion) => return (streamed, completion),
        }
    }
    panic!("the stream ended without Done");
}

fn greedy(max_tokens: u32) -> GenerateOptions {
    GenerateOptions {
        max_tokens,
        temperature: 0.0,
        seed: 1,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_a_simple_question_and_streams_every_token() {
    let model = model();
    let (streamed, completion) = collect(
        &model,
        vec![ChatMessage::user(
            "What is the capital of France? Answer in one sentence.",
        )],
        greedy(48),
        CancellationToken::new(),
    )
    .await;
    assert!(completion.text.contains("Paris"), "{:?}", completion.text);
    assert_eq!(
        streamed, completion.text,
        "the stream carries the whole text"
    );
    assert_eq!(completion.finish, FinishReason::Stop);
    assert!(completion.prompt_tokens > 5 && completion.completion_tokens > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn max_tokens_and_cancellation_stop_generation() {
    let model = model();
    let long = vec![ChatMessage::user(
        "Write a long story about a lighthouse keeper.",
    )];
    let (_, limited) = collect(&model, long.clone(), greedy(5), CancellationToken::new()).await;
    assert_eq!(
        (limited.finish, limited.completion_tokens),
        (FinishReason::Length, 5)
    );

    let cancel = CancellationToken::new();
    let mut stream = model
        .generate(&long, greedy(400), cancel.clone())
        .expect("starts");
    let mut tokens = 0;
    let completion = loop {
        match stream.recv().await.expect("stream open").expect("ok") {
            Generation::Token(_) => {
                tokens += 1;
                if tokens == 3 {
                    cancel.cancel();
                }
            }
            Generation::Done(completion) => break completion,
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
    let small = Arc::new(
        LocalModel::load(
            &model_path(),
            ModelOptions {
                threads: 1,
                context_size: 256,
            },
        )
        .expect("loads"),
    );
    let prompt = "lighthouse ".repeat(600);
    let mut stream = small
        .generate(
            &[ChatMessage::user(prompt)],
            greedy(16),
            CancellationToken::new(),
        )
        .expect("starts");
    let error = stream
        .recv()
        .await
        .expect("one item")
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

#[test]
fn the_chat_template_comes_from_the_gguf() {
    let prompt = model()
        .render(&[ChatMessage::system("s"), ChatMessage::user("u")])
        .expect("renders");
    assert!(prompt.contains("<|im_start|>user\nu<|im_end|>"), "{prompt}");
    assert!(prompt.ends_with("<|im_start|>assistant\n"), "{prompt}");
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
        !info.supports_tools,
        "SmolLM2's template has no tools section"
    );
    assert_eq!(info.bytes, 98_362_432);
}
