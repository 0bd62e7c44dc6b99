//! End-to-end tests of the `codexos` binary on the real components: each test
//! gets its own `CODEXOS_HOME`, shares the models in `CODEXOS_MODELS`, and
//! talks to the real Secret Service (`make test` provides one).

mod analytics;
mod ask;
mod audit;
mod bad_input;
mod chat;
mod ci_action;
mod compare;
mod conversations;
mod crash;
mod eval;
mod flows;
mod git;
mod ingest_search;
mod otel;
mod postgres;
mod pull;
mod security;
mod server;
mod tools;
mod usage;
mod vault;
mod watch;

pub(crate) use codexos_test_support::{corpus, files_containing, models_dir};

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A fresh data home and a way to run `codexos` in it.
pub(crate) struct Cli {
    pub(crate) home: tempfile::TempDir,
    pub(crate) models: PathBuf,
    /// Extra environment for every run.
    pub(crate) env: Vec<(String, String)>,
}

impl Cli {
    pub(crate) fn new() -> Self {
        let cli = Self {
            home: tempfile::tempdir().expect("temp dir"),
            models: codexos_test_support::models_dir(),
            env: Vec::new(),
        };
        // Short, greedy answers keep the suite fast and repeatable.
        std::fs::write(
            cli.home.path().join("config.toml"),
            "[llm]\nmax_tokens = 96\ntemperature = 0.0\n",
        )
        .expect("write config");
        cli
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_codexos"));
        self.configure(&mut command, args);
        command
    }

    /// `codexos ARGS` inside a network namespace with no network at all.
    pub(crate) fn offline_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("unshare");
        command.args(["--net", "--", env!("CARGO_BIN_EXE_codexos")]);
        self.configure(&mut command, args);
        command
    }

    fn configure(&self, command: &mut Command, args: &[&str]) {
        command
            .args(args)
            .env("CODEXOS_HOME", self.home.path())
            .env("CODEXOS_MODELS", &self.models)
            // No test reaches a package registry: pulls go to a port nothing
            // listens on unless a test serves its own index there.
            .env("CODEXOS_PYPI_INDEX", "http://127.0.0.1:9/simple")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        for (key, value) in &self.env {
            command.env(key, value);
        }
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("codexos runs")
    }

    pub(crate) fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        pipe(self.command(args), input)
    }

    /// Runs and parses `--json` output, asserting success.
    pub(crate) fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let output = self.run(&all);
        assert_success(&output, args);
        serde_json::from_slice(&output.stdout).expect("valid JSON on stdout")
    }
}

/// Runs `command` with `input` on its standard input.
pub(crate) fn pipe(mut command: Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

pub(crate) fn assert_success(output: &Output, args: &[&str]) {
    assert!(
        output.status.success(),
        "codexos {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The error line of a failed run, asserting it failed with one line.
pub(crate) fn error_line(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "expected failure, got: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(lines.len(), 1, "one error line expected: {stderr}");
    lines[0].to_owned()
}
