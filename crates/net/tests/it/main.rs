//! The offline gate against a real TCP listener on 127.0.0.1. One test: the
//! switch is process-wide.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[tokio::test]
async fn offline_mode_refuses_before_any_connection_is_made() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buffer = [0u8; 1024];
                let _read = socket.read(&mut buffer).await;
                let _written = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    let url = format!("http://{address}/");
    let client = codexos_net::client().build().expect("client");

    codexos_net::set_offline(true);
    let before = codexos_net::refused_count();
    let error = client.get(&url).send().await.expect_err("offline");
    assert!(codexos_net::is_refused(&error), "{error:?}");
    let message = codexos_net::explain(&error);
    assert!(message.contains("offline mode is on"), "{message}");
    assert!(codexos_net::check("a git clone").is_err());
    assert_eq!(codexos_net::refused_count(), before + 2);
    // A client built while offline is refused too.
    let late = codexos_net::client().build().expect("client");
    assert!(late.get(&url).send().await.is_err());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "a connection reached the listener"
    );

    codexos_net::set_offline(false);
    let body = client
        .get(&url)
        .send()
        .await
        .expect("online")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert!(codexos_net::check("a git clone").is_ok());
}
