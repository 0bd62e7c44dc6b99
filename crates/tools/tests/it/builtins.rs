//! The built-in tools on real files and a real repository.

use codexos_tools::CallContext;
use serde_json::json;

#[tokio::test]
async fn git_tools_on_a_real_repository() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repository = git2::Repository::init(dir.path()).expect("init");
    let mut config = repository.config().expect("config");
    config.set_str("user.name", "Tester").expect("name");
    config
        .set_str("user.email", "t@example.com")
        .expect("email");
    std::fs::write(dir.path().join("a.txt"), "one\n").expect("file");
    let context = CallContext::new(dir.path().to_path_buf());
    let call =
        |name: &'static str, arguments: serde_json::Value| super::call(&context, name, arguments);
    let first = call(
        "git.commit",
        json!({"message": "first", "paths": ["a.txt"]}),
    )
    .await
    .expect("commit");
    assert_eq!(first["summary"], "first");
    std::fs::write(dir.path().join("a.txt"), "one\ntwo\n").expect("edit");
    std::fs::write(dir.path().join("b.txt"), "new\n").expect("new");
    let status = call("git.status", json!({})).await.expect("status");
    assert_eq!(
        status["changes"],
        json!([
            {"path": "a.txt", "state": "modified", "staged": false},
            {"path": "b.txt", "state": "untracked", "staged": false},
        ])
    );
    let diff = call("git.diff", json!({"path": "a.txt"}))
        .await
        .expect("diff");
    assert!(diff
        .as_str()
        .is_some_and(|text| text.contains("+two") && !text.contains("b.txt")));
    call("git.commit", json!({"message": "second"}))
        .await
        .expect("commit tracked");
    let log = call("git.log", json!({"max": 5})).await.expect("log");
    assert_eq!(log.as_array().map(Vec::len), Some(2));
    assert_eq!(log[0]["summary"], "second");
    let nothing = call("git.commit", json!({"message": "empty"})).await;
    assert!(nothing.is_err_and(|error| error.to_string().contains("nothing to commit")));
    // fs.patch through the registry, then the change shows in the diff.
    let patch = "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n";
    call("fs.patch", json!({"diff": patch}))
        .await
        .expect("patch");
    let diff = call("git.diff", json!({})).await.expect("diff");
    assert!(diff.as_str().is_some_and(|text| text.contains("+TWO")));
}

#[tokio::test]
async fn web_fetch_is_refused_offline_and_reads_pages_online() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|| async {
            axum::response::Html("<html><head><title>T</title></head><body><p>Readable text.</p><script>no()</script></body></html>")
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let dir = tempfile::tempdir().expect("temp dir");
    let mut context = CallContext::new(dir.path().to_path_buf());
    let url = format!("http://{address}/");
    let page = super::call(&context, "web.fetch", json!({"url": url}))
        .await
        .expect("fetch");
    assert_eq!(page, json!("# T\n\nReadable text.\n\n"));
    context.offline = true;
    let refused = super::call(&context, "web.fetch", json!({"url": url})).await;
    assert!(refused.is_err_and(|error| error.to_string().contains("offline mode")));
}
