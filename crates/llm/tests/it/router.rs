//! The router: fallback order, Retry-After, the circuit breaker and offline
//! mode, asserted from the recorded attempts; the local model as a candidate.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use codexos_llm::{
    ChatEvent, ChatMessage, ChatRequest, Completion, Error, LocalModel, LocalProvider, ModelLoader,
    Outcome, Provider, ProviderKind, Router, RouterSettings,
};
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::remote::remote;
use crate::{local, scripted};

async fn ask(router: &Arc<Router>, request: &ChatRequest) -> Result<Completion, Error> {
    let mut stream = router
        .chat(request, None, &CancellationToken::new())
        .await?;
    while let Some(item) = stream.recv().await {
        if let ChatEvent::Done(completion) = item? {
            return Ok(completion);
        }
    }
    panic!("no Done");
}

/// Provider and outcome kind of each attempt, in order.
type Outcomes = Vec<(String, &'static str)>;

fn outcomes(attempts: &[codexos_llm::Attempt]) -> Outcomes {
    attempts
        .iter()
        .map(|attempt| {
            let kind = match attempt.outcome {
                Outcome::Ok => "ok",
                Outcome::Skipped(_) => "skipped",
                Outcome::Failed(_) => "failed",
            };
            (attempt.provider.clone(), kind)
        })
        .collect()
}

fn pairs(expected: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    expected
        .iter()
        .map(|(name, kind)| ((*name).to_owned(), *kind))
        .collect()
}

fn question() -> ChatRequest {
    ChatRequest::new(vec![ChatMessage::user("hello?")])
}

fn provider(server: &scripted::Server, scenario: &str) -> Arc<dyn Provider> {
    Arc::new(remote(
        scenario,
        ProviderKind::Openai,
        server.openai(scenario),
        None,
    ))
}

#[tokio::test]
async fn requests_fall_back_in_policy_order_and_every_attempt_is_recorded() {
    let server = scripted::start().await;
    let router = Arc::new(Router::new(
        vec![
            provider(&server, "error500"),
            provider(&server, "hang"),
            provider(&server, "garbage"),
            provider(&server, "ratelimit"),
            provider(&server, "backup"),
            provider(&server, "ok"),
        ],
        RouterSettings::default(),
    ));
    let completion = ask(&router, &question()).await.expect("the backup answers");
    assert_eq!(completion.text, "Hello from backup");
    assert_eq!(
        outcomes(&completion.attempts),
        pairs(&[
            ("error500", "failed"),
            ("hang", "failed"),
            ("garbage", "failed"),
            ("ratelimit", "failed"),
            ("backup", "ok")
        ])
    );
    let ok = &completion.attempts[4];
    assert_eq!((ok.prompt_tokens, ok.completion_tokens), (9, 3));
    assert!(ok.first_token_ms.is_some());
    assert_eq!(
        server.seen.count("ok"),
        0,
        "nothing after the first success"
    );

    // The rate-limited provider is skipped for its Retry-After.
    let again = ask(&router, &question()).await.expect("answers");
    let skipped = &again.attempts[3];
    assert_eq!(
        (
            skipped.provider.as_str(),
            matches!(skipped.outcome, Outcome::Skipped(_))
        ),
        ("ratelimit", true)
    );
    assert_eq!(server.seen.count("ratelimit"), 1);
}

#[tokio::test]
async fn a_provider_that_keeps_failing_is_skipped_by_its_circuit() {
    let server = scripted::start().await;
    let router = Arc::new(Router::new(
        vec![provider(&server, "error500"), provider(&server, "ok")],
        RouterSettings {
            failure_threshold: 2,
            cooldown: Duration::from_mins(1),
            ..RouterSettings::default()
        },
    ));
    for _ in 0..2 {
        let completion = ask(&router, &question()).await.expect("fallback answers");
        assert_eq!(
            outcomes(&completion.attempts),
            pairs(&[("error500", "failed"), ("ok", "ok")])
        );
    }
    let third = ask(&router, &question()).await.expect("answers");
    assert_eq!(
        outcomes(&third.attempts),
        pairs(&[("error500", "skipped"), ("ok", "ok")])
    );
    match &third.attempts[0].outcome {
        Outcome::Skipped(reason) => {
            assert!(reason.contains("circuit open after 2 failures"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.seen.count("error500"), 2);
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out_when_nothing_else_answers() {
    let server = scripted::start().await;
    let router = Arc::new(Router::new(
        vec![provider(&server, "ratelimit-once")],
        RouterSettings::default(),
    ));
    let completion = ask(&router, &question())
        .await
        .expect("answers after waiting");
    assert_eq!(completion.text, "after waiting");
    assert_eq!(
        outcomes(&completion.attempts),
        pairs(&[("ratelimit-once", "failed"), ("ratelimit-once", "ok")])
    );
}

#[tokio::test]
async fn when_everything_fails_the_error_lists_every_attempt() {
    let server = scripted::start().await;
    let router = Arc::new(Router::new(
        vec![provider(&server, "error500"), provider(&server, "auth")],
        RouterSettings::default(),
    ));
    let error = ask(&router, &question()).await.expect_err("nobody answers");
    let Error::Exhausted { attempts, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(
        outcomes(attempts),
        pairs(&[("error500", "failed"), ("auth", "failed")])
    );
    let message = error.to_string();
    assert!(
        message.contains("error500")
            && message.contains("server error (500)")
            && message.contains("key refused (401)"),
        "{message}"
    );
}

#[tokio::test]
async fn offline_mode_never_calls_a_remote_provider() {
    let server = scripted::start().await;
    let router = Arc::new(Router::new(
        vec![provider(&server, "ok")],
        RouterSettings {
            offline: true,
            ..RouterSettings::default()
        },
    ));
    let error = ask(&router, &question()).await.expect_err("offline");
    assert!(error.to_string().contains("offline mode is on"), "{error}");
    assert_eq!(server.seen.count("ok"), 0, "no request left the machine");
    router.set_offline(false);
    assert!(ask(&router, &question()).await.is_ok());
}

#[tokio::test]
async fn tools_and_long_prompts_skip_providers_that_cannot_take_them() {
    let server = scripted::start().await;
    let router = Arc::new(Router::new(
        vec![
            Arc::new(
                codexos_llm::RemoteProvider::new(codexos_llm::RemoteSettings {
                    info: codexos_llm::ProviderInfo {
                        name: "tiny".into(),
                        kind: ProviderKind::Openai,
                        model: "tiny".into(),
                        remote: true,
                        context_size: Some(10),
                        tools: false,
                        timeout_secs: 2,
                        key: None,
                    },
                    base_url: server.openai("ok"),
                    key: None,
                })
                .expect("client"),
            ) as Arc<dyn Provider>,
            provider(&server, "backup"),
        ],
        RouterSettings::default(),
    ));
    let long = ChatRequest::new(vec![ChatMessage::user("a long question ".repeat(20))]);
    let completion = ask(&router, &long).await.expect("answers");
    assert_eq!(
        outcomes(&completion.attempts),
        pairs(&[("tiny", "skipped"), ("backup", "ok")])
    );
    assert_eq!(server.seen.count("ok"), 0);
}

struct Loader(Arc<LocalModel>);

impl ModelLoader for Loader {
    fn load(&self, _path: PathBuf) -> BoxFuture<'_, codexos_llm::Result<Arc<LocalModel>>> {
        Box::pin(async move { Ok(Arc::clone(&self.0)) })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_remote_first_falls_back_to_the_local_model() {
    let server = scripted::start().await;
    let local = Arc::new(LocalProvider::new(
        "local",
        local::model_path(),
        4096,
        true,
        Arc::new(Loader(local::model())),
    ));
    let router = Arc::new(Router::new(
        vec![provider(&server, "error500"), local],
        RouterSettings::default(),
    ));
    let mut request = ChatRequest::new(vec![ChatMessage::user("What is the capital of France?")]);
    request.temperature = 0.0;
    request.max_tokens = 24;
    let completion = ask(&router, &request).await.expect("local answers");
    assert_eq!(
        outcomes(&completion.attempts),
        pairs(&[("error500", "failed"), ("local", "ok")])
    );
    assert_eq!(completion.provider, "local");
    assert!(!completion.text.is_empty());
}

#[tokio::test]
async fn a_prompt_too_long_everywhere_is_reported_as_such_with_its_attempts() {
    let server = scripted::start().await;
    let router = Arc::new(Router::new(
        vec![provider(&server, "long")],
        RouterSettings::default(),
    ));
    let error = ask(&router, &question()).await.expect_err("too long");
    assert!(error.is_context_overflow(), "{error}");
    assert!(
        error.to_string().starts_with("the prompt is too long"),
        "{error}"
    );
    let Error::Exhausted { attempts, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(outcomes(attempts), pairs(&[("long", "failed")]));
}

#[tokio::test]
async fn the_sink_gets_every_request_s_attempts_even_after_a_mid_stream_failure() {
    let server = scripted::start().await;
    let seen: Arc<std::sync::Mutex<Vec<Outcomes>>> = Arc::default();
    let sink_seen = Arc::clone(&seen);
    let sink: codexos_llm::AttemptSink =
        Arc::new(move |attempts| sink_seen.lock().expect("lock").push(outcomes(attempts)));
    let router = Arc::new(
        Router::new(
            vec![provider(&server, "breaks"), provider(&server, "ok")],
            RouterSettings::default(),
        )
        .with_sink(sink),
    );
    // The first token came from `breaks`: its later failure is reported, not
    // hidden behind `ok`, and still recorded.
    let error = ask(&router, &question())
        .await
        .expect_err("broke mid-stream");
    assert!(error.to_string().contains("upstream reset"), "{error}");
    let failing = Arc::new(
        Router::new(
            vec![provider(&server, "error500")],
            RouterSettings::default(),
        )
        .with_sink({
            let seen = Arc::clone(&seen);
            Arc::new(move |attempts| seen.lock().expect("lock").push(outcomes(attempts)))
        }),
    );
    assert!(ask(&failing, &question()).await.is_err());
    assert_eq!(
        *seen.lock().expect("lock"),
        vec![
            pairs(&[("breaks", "failed")]),
            pairs(&[("error500", "failed")])
        ]
    );
    assert_eq!(server.seen.count("ok"), 0);
}
