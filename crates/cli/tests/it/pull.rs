//! `models pull URL`: an interrupted download continues with an HTTP Range
//! request, the result is checked as GGUF (and against `--sha256`), and
//! nothing appears under the final name until it is whole.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::{assert_success, error_line, Cli};

const SMOLLM2_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
/// Bytes sent before the first response is cut off.
const CUT_AT: u64 = 5 << 20;

/// A one-file HTTP server with Range support whose first full download
/// breaks off after [`CUT_AT`] bytes. Returns its URL and the Range headers
/// it saw (empty string: none).
fn serve(file: PathBuf) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&ranges);
    std::thread::spawn(move || {
        for (count, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut range = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    value.trim().trim_end_matches('-').clone_into(&mut range);
                }
            }
            seen.lock().expect("lock").push(range.clone());
            let mut body = std::fs::File::open(&file).expect("file");
            let size = body.metadata().expect("size").len();
            let start: u64 = range.parse().unwrap_or(0);
            let header = if start > 0 {
                format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{size}\r\nConnection: close\r\n\r\n",
                    size - start,
                    size - 1
                )
            } else {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n")
            };
            if stream.write_all(header.as_bytes()).is_err() {
                continue;
            }
            body.seek(SeekFrom::Start(start)).expect("seek");
            let limit = if count == 0 { CUT_AT } else { size - start };
            let mut chunk = body.take(limit);
            // A client that went away is fine; dropping the stream ends a
            // cut-off response early.
            if let Err(error) = std::io::copy(&mut chunk, &mut stream) {
                eprintln!("test server: {error}");
            }
        }
    });
    (
        format!("http://{address}/org/repo/resolve/main/tiny.gguf"),
        ranges,
    )
}

#[test]
fn an_interrupted_url_pull_continues_where_it_stopped() {
    let cli = Cli::new();
    let models = tempfile::tempdir().expect("models");
    let (url, ranges) = serve(crate::models_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf"));
    let pull = |args: &[&str]| {
        let mut command = cli.command(args);
        command.env("CODEXOS_MODELS", models.path());
        command.output().expect("runs")
    };
    let broken = pull(&["models", "pull", &url]);
    let line = error_line(&broken);
    assert!(line.contains("run the pull again to continue"), "{line}");
    assert!(
        !models.path().join("tiny.gguf").exists(),
        "nothing under the final name"
    );
    let partial = models.path().join("tiny.gguf.partial");
    assert_eq!(
        std::fs::metadata(&partial).expect("partial kept").len(),
        CUT_AT
    );

    let output = pull(&["models", "pull", &url, "--sha256", SMOLLM2_SHA256, "--json"]);
    assert_success(&output, &["models", "pull"]);
    let pulled: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(pulled["name"], "tiny.gguf");
    assert_eq!(pulled["sha256"], SMOLLM2_SHA256);
    assert_eq!(
        *ranges.lock().expect("lock"),
        vec![String::new(), CUT_AT.to_string()],
        "the second request asked only for the rest"
    );
    assert!(models.path().join("tiny.gguf").is_file());
    assert!(!partial.exists());

    // An existing file is never overwritten; a wrong checksum leaves nothing.
    let again = pull(&["models", "pull", &url]);
    assert!(error_line(&again).contains("already exists"));
    std::fs::remove_file(models.path().join("tiny.gguf")).expect("remove");
    let wrong = pull(&["models", "pull", &url, "--sha256", &"0".repeat(64)]);
    assert!(error_line(&wrong).contains("sha256 is"), "checksum named");
    assert!(!models.path().join("tiny.gguf").exists());
    assert!(
        !partial.exists(),
        "a download that failed its check is not kept"
    );
}
