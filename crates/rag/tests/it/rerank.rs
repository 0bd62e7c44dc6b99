//! The reranking stage on real parts: a cross-encoder ONNX graph run by
//! fastembed on ONNX Runtime, and a Cohere-format rerank API served over
//! real HTTP on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use codexos_rag::{CrossEncoder, Hit, RemoteReranker, Reranker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn hit(path: &str, text: &str, score: f32) -> Hit {
    Hit {
        project: "p".into(),
        path: path.into(),
        start_line: 1,
        end_line: 2,
        heading: None,
        page: None,
        kind: "text".into(),
        language: None,
        commit: None,
        author_time: None,
        score,
        text: text.into(),
    }
}

fn candidates() -> Vec<Hit> {
    vec![
        hit(
            "long.md",
            "one two three four five six seven eight nine ten",
            0.9,
        ),
        hit("short.md", "one", 0.5),
        hit("medium.md", "one two three four", 0.7),
    ]
}

fn order(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|hit| hit.path.as_str()).collect()
}

/// A cross-encoder folder: the fixture graph (score = minus the document's
/// token count) with the MiniLM tokenizer files.
fn cross_encoder_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = codexos_test_support::fixtures().join("cross-encoder/model.onnx");
    std::fs::copy(fixture, dir.path().join("model.onnx")).expect("copy model");
    let tokenizer = codexos_test_support::models_dir().join("all-minilm-l6-v2");
    for file in &CrossEncoder::FILES[1..] {
        std::fs::copy(tokenizer.join(file), dir.path().join(file)).expect("copy tokenizer");
    }
    dir
}

fn runtime_library() -> std::path::PathBuf {
    // The embedder initialises ONNX Runtime for the process first.
    let _ = crate::embedder();
    codexos_test_support::models_dir().join("onnxruntime/libonnxruntime.so.1.31.1")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cross_encoder_reorders_candidates_by_its_own_scores() {
    let folder = cross_encoder_folder();
    assert!(CrossEncoder::present(folder.path()));
    let model = CrossEncoder::load(folder.path(), &runtime_library()).expect("loads");
    let scores = model
        .scores("one", &["a b c".to_owned(), "a".to_owned()])
        .expect("scores");
    assert!(scores[1] > scores[0], "{scores:?}");
    let mut hits = candidates();
    Reranker::CrossEncoder(Arc::new(model))
        .rerank("one", &mut hits)
        .await;
    assert_eq!(order(&hits), vec!["short.md", "medium.md", "long.md"]);
    assert!(hits[0].score > hits[2].score);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_corrupt_cross_encoder_is_named() {
    let empty = tempfile::tempdir().expect("temp dir");
    assert!(!CrossEncoder::present(empty.path()));
    let folder = cross_encoder_folder();
    std::fs::write(folder.path().join("model.onnx"), b"not a model").expect("write");
    let error = CrossEncoder::load(folder.path(), &runtime_library())
        .err()
        .expect("corrupt model refused");
    assert!(
        error.to_string().contains("cannot load the model")
            || error.to_string().contains("corrupt"),
        "{error}"
    );
}

/// A one-route HTTP server speaking Cohere's rerank format: it records each
/// request and answers with `respond(document_count)`.
async fn serve(respond: fn(usize) -> (u16, String)) -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            let (head, body) = loop {
                let read = stream.read(&mut buffer).await.expect("read");
                request.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|line| {
                            line.to_lowercase()
                                .strip_prefix("content-length:")
                                .map(|value| value.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break (head.to_owned(), body.to_owned());
                    }
                }
                if read == 0 {
                    break (text, String::new());
                }
            };
            let documents = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|json| json["documents"].as_array().map(Vec::len))
                .unwrap_or(0);
            log.lock().expect("log").push((head, body));
            let (status, reply) = respond(documents);
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
            stream.write_all(response.as_bytes()).await.expect("write");
        }
    });
    (format!("http://{address}"), seen)
}

fn remote(base_url: String) -> Reranker {
    Reranker::Remote(RemoteReranker {
        base_url,
        model: "rerank-test".into(),
        key: "sekret-key".to_owned().into(),
        timeout: Duration::from_secs(5),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_remote_reranker_speaks_cohere_format_with_the_key() {
    // Scores the last document highest, the first lowest.
    let (url, seen) = serve(|count| {
        let results: Vec<String> = (0..count)
            .map(|index| {
                format!(
                    "{{\"index\": {index}, \"relevance_score\": {}}}",
                    index as f32 / 10.0
                )
            })
            .collect();
        (200, format!("{{\"results\": [{}]}}", results.join(", ")))
    })
    .await;
    let mut hits = candidates();
    remote(url).rerank("which is best", &mut hits).await;
    assert_eq!(order(&hits), vec!["medium.md", "short.md", "long.md"]);
    let requests = seen.lock().expect("log");
    let (head, body) = &requests[0];
    assert!(head.starts_with("POST /v1/rerank "), "{head}");
    assert!(
        head.to_lowercase()
            .contains("authorization: bearer sekret-key"),
        "{head}"
    );
    let body: serde_json::Value = serde_json::from_str(body).expect("json body");
    assert_eq!(body["model"], "rerank-test");
    assert_eq!(body["query"], "which is best");
    assert_eq!(body["top_n"], 3);
    assert!(body["documents"][0]
        .as_str()
        .is_some_and(|doc| doc.starts_with("long.md\n")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_rerank_api_falls_back_to_handcrafted_order() {
    // The handcrafted stage lifts the chunk holding the query's identifier
    // (0.5 × 1.7 > 0.7), so only a fallback that really ran reorders these.
    let candidates = || {
        vec![
            hit("long.md", "one two three four five six seven eight", 0.9),
            hit("short.md", "one DEFAULT_PORT", 0.5),
            hit("medium.md", "one two three four", 0.7),
        ]
    };
    let expected = vec!["long.md", "short.md", "medium.md"];
    let (url, seen) = serve(|_| (500, "{\"message\": \"overloaded\"}".into())).await;
    let mut hits = candidates();
    remote(url).rerank("where is DEFAULT_PORT", &mut hits).await;
    assert_eq!(order(&hits), expected);
    assert_eq!(seen.lock().expect("log").len(), 1, "the API was asked");
    // Nothing listening at all: the same.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = closed.local_addr().expect("address");
    drop(closed);
    let mut hits = candidates();
    remote(format!("http://{address}"))
        .rerank("where is DEFAULT_PORT", &mut hits)
        .await;
    assert_eq!(order(&hits), expected);
}
