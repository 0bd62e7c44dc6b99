//! The offline gate against real TCP listeners on 127.0.0.1. One test: the
//! switch is process-wide, so its steps must not run in parallel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// An HTTP/1.1 server on 127.0.0.1 that counts connections and requests and
/// keeps connections alive (`keep_alive`) or closes each after one answer.
async fn server(keep_alive: bool) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (accepted, answered) = (Arc::clone(&connections), Arc::clone(&requests));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            let answered = Arc::clone(&answered);
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let Ok(read) = socket.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    pending.extend_from_slice(&buffer[..read]);
                    // Bodyless GETs: one request per blank line.
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        answered.fetch_add(1, Ordering::SeqCst);
                        let reply: &[u8] = if keep_alive {
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
                        } else {
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                        };
                        if socket.write_all(reply).await.is_err() || !keep_alive {
                            return;
                        }
                    }
                }
            });
        }
    });
    (format!("http://{address}/"), connections, requests)
}

async fn fetch(client: &reqwest::Client, url: &str) -> reqwest::Result<String> {
    codexos_net::send(client.get(url)).await?.text().await
}

#[tokio::test]
async fn offline_mode_refuses_new_connections_and_warm_ones_at_once() {
    let mut switch = codexos_net::watch_offline();
    assert!(!*switch.borrow_and_update());

    // 1. A cold client: refused before any connection is made.
    let (url, connections, _) = server(false).await;
    let client = codexos_net::client().build().expect("client");
    codexos_net::set_offline(true);
    assert!(
        switch.has_changed().expect("open"),
        "watchers were not told"
    );
    assert!(*switch.borrow_and_update());
    let before = codexos_net::refused_count();
    let error = fetch(&client, &url).await.expect_err("offline");
    assert!(codexos_net::is_refused(&error), "{error:?}");
    let message = codexos_net::explain(&error);
    assert!(message.contains("offline mode is on"), "{message}");
    assert!(codexos_net::check("a git clone").is_err());
    assert_eq!(codexos_net::refused_count(), before + 2);
    // A client built while offline is refused too.
    let late = codexos_net::client().build().expect("client");
    assert!(fetch(&late, &url).await.is_err());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "a connection reached the listener"
    );
    codexos_net::set_offline(false);
    assert_eq!(fetch(&client, &url).await.expect("online"), "ok");
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    assert!(codexos_net::check("a git clone").is_ok());

    // 2. A warm client (as the reranker's and the providers' are): its
    // keep-alive connection is reused while online (positive control: two
    // requests, one connection), and carries nothing once the switch is on.
    let (url, connections, requests) = server(true).await;
    let warm = codexos_net::client().build().expect("client");
    assert_eq!(fetch(&warm, &url).await.expect("first"), "ok");
    assert_eq!(fetch(&warm, &url).await.expect("second"), "ok");
    assert_eq!(requests.load(Ordering::SeqCst), 2);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "the connection was not pooled, so this test would prove nothing"
    );
    codexos_net::set_offline(true);
    let error = fetch(&warm, &url).await.expect_err("offline");
    assert!(codexos_net::is_refused(&error), "{error:?}");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        requests.load(Ordering::SeqCst),
        2,
        "a request went out on the pooled connection"
    );
    codexos_net::set_offline(false);
    assert_eq!(fetch(&warm, &url).await.expect("online again"), "ok");
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    assert!(switch.has_changed().expect("open"));
}
