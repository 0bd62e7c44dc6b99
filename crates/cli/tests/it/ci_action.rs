//! The GitHub action (`action.yml`) run here without GitHub: its steps are
//! read from the file and run as a composite action would run them (inputs
//! and step outputs substituted, `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`
//! files, no keychain), in a temporary git repository with a sample flow,
//! dataset and baseline — live with a key from "CI secrets", then a signed
//! change that passes, one that regresses, and a tampered bundle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value as Yaml;

use crate::eval::{DATASET, QA_BROKEN, QA_FLOW, QA_RENAMED};
use crate::security::{completion, scripted};
use crate::{assert_success, files_containing, Cli};

/// What one run of the action left.
struct ActionRun {
    ok: bool,
    log: String,
    summary: String,
    outputs: BTreeMap<String, String>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// `${{ … }}` expressions of the action: inputs (given, else the default),
/// the action's folder, and earlier steps' outputs.
fn expand(
    text: &str,
    inputs: &BTreeMap<String, String>,
    steps: &BTreeMap<String, BTreeMap<String, String>>,
) -> String {
    let pattern = regex_lite::Regex::new(r"\$\{\{\s*([^}]+?)\s*\}\}").expect("pattern");
    pattern
        .replace_all(text, |captures: &regex_lite::Captures<'_>| {
            let expression = &captures[1];
            if let Some(name) = expression.strip_prefix("inputs.") {
                inputs
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| panic!("input `{name}` is not declared in action.yml"))
            } else if expression == "github.action_path" {
                repo_root().to_string_lossy().into_owned()
            } else if let Some(rest) = expression.strip_prefix("steps.") {
                let (step, key) = rest.split_once(".outputs.").expect("steps.ID.outputs.KEY");
                steps
                    .get(step)
                    .and_then(|outputs| outputs.get(key))
                    .cloned()
                    .unwrap_or_default()
            } else {
                panic!("an expression this runner does not know: {expression}")
            }
        })
        .into_owned()
}

fn text(value: &Yaml) -> String {
    match value {
        Yaml::String(text) => text.clone(),
        Yaml::Number(number) => number.to_string(),
        Yaml::Bool(flag) => flag.to_string(),
        _ => String::new(),
    }
}

fn run_action(repo: &Path, given: &[(&str, String)]) -> ActionRun {
    let action: Yaml = serde_yaml_ng::from_str(
        &std::fs::read_to_string(repo_root().join("action.yml")).expect("action.yml"),
    )
    .expect("action.yml is YAML");
    assert_eq!(text(&action["runs"]["using"]), "composite");
    let mut inputs = BTreeMap::new();
    for (name, spec) in action["inputs"].as_mapping().expect("inputs") {
        inputs.insert(text(name), text(&spec["default"]));
    }
    for (name, value) in given {
        assert!(
            inputs.contains_key(*name),
            "input `{name}` is not declared in action.yml"
        );
        inputs.insert((*name).to_owned(), value.clone());
    }
    let runner = tempfile::tempdir().expect("runner temp");
    let summary = runner.path().join("summary.md");
    let models = runner.path().join("no-models");
    std::fs::create_dir_all(&models).expect("models dir");
    let mut steps = BTreeMap::new();
    let mut log = String::new();
    for step in action["runs"]["steps"].as_sequence().expect("steps") {
        assert_eq!(text(&step["shell"]), "bash", "every step runs in bash");
        let id = text(&step["id"]);
        let output = runner.path().join(format!("output-{id}"));
        std::fs::write(&output, "").expect("output file");
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg(expand(&text(&step["run"]), &inputs, &steps))
            .current_dir(repo)
            // A CI runner: no keychain, no data home, no models.
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("CODEXOS_HOME")
            .env("CODEXOS_MODELS", &models)
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("RUNNER_TEMP", runner.path());
        if let Some(env) = step["env"].as_mapping() {
            for (key, value) in env {
                command.env(text(key), expand(&text(value), &inputs, &steps));
            }
        }
        let result = command.output().expect("bash runs");
        log.push_str(&String::from_utf8_lossy(&result.stdout));
        log.push_str(&String::from_utf8_lossy(&result.stderr));
        let outputs: BTreeMap<String, String> = std::fs::read_to_string(&output)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        steps.insert(id, outputs);
        if !result.status.success() {
            return ActionRun {
                ok: false,
                log,
                summary: std::fs::read_to_string(&summary).unwrap_or_default(),
                outputs: steps.remove("eval").unwrap_or_default(),
            };
        }
    }
    // The key from the secrets input is nowhere in plain text on disk.
    assert!(
        files_containing(runner.path(), b"sk-from-ci-secrets").is_empty(),
        "a secret on disk"
    );
    ActionRun {
        ok: true,
        log,
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        outputs: steps.remove("eval").unwrap_or_default(),
    }
}

fn git(repo: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=CI test",
            "-c",
            "user.email=ci@example.invalid",
        ])
        .args(args)
        .current_dir(repo)
        .output()
        .expect("git");
    assert!(
        status.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// Signs `flow` into `.codexos/qa.codexos-bundle` as `author`.
fn sign(author: &Cli, repo: &Path, flow: &str) {
    let path = repo.join(".codexos/qa.flow.json");
    std::fs::write(&path, flow).expect("flow");
    let bundle = repo.join(".codexos/qa.codexos-bundle");
    std::fs::remove_file(&bundle).ok();
    assert_success(
        &author.run(&[
            "bundle",
            "export",
            bundle.to_str().expect("path"),
            "--flow",
            path.to_str().expect("path"),
        ]),
        &["bundle", "export"],
    );
}

/// A provider stand-in answering by the question, and grading as a judge.
fn stand_in() -> crate::security::Scripted {
    scripted(Box::new(|seen, _| {
        let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap_or_default();
        let asked = body["messages"].to_string();
        let answer = if asked.contains("You grade the answer") {
            r#"{"score": 0.8, "reason": "fine"}"#
        } else if asked.contains("capital of France") {
            "Paris [docs/geo.md]."
        } else if asked.contains("2+2") {
            "4"
        } else if asked.contains("sky blue") {
            "Rayleigh scattering."
        } else {
            "I do not know."
        };
        completion(answer, &[])
    }))
}

/// A git repository with the flow, its dataset and a config whose provider
/// key is a vault reference.
fn sample_repo(url: &str) -> tempfile::TempDir {
    let repo = tempfile::tempdir().expect("repo");
    let root = repo.path();
    git(root, &["init", "-q"]);
    std::fs::create_dir_all(root.join(".codexos")).expect("folder");
    std::fs::write(root.join(".codexos/qa.jsonl"), DATASET).expect("dataset");
    std::fs::write(
        root.join(".codexos/config.toml"),
        format!(
            "[llm]\nmax_tokens = 64\ntemperature = 0.0\npolicy = [\"stand-in\"]\n\n\
             [[providers]]\nname = \"stand-in\"\nkind = \"openai\"\nbase_url = \"{url}/v1\"\nmodel = \"gpt-4o-mini\"\nkey = \"vault://STANDIN_KEY\"\ntimeout_secs = 10\n"
        ),
    )
    .expect("config");
    std::fs::write(root.join(".codexos/qa.flow.json"), QA_FLOW).expect("flow");

    repo
}

/// The action in live mode on `main`: the key comes from the secrets input,
/// the report becomes the baseline.
fn record_baseline(root: &Path, server: &crate::security::Scripted, codexos: &str) {
    // main: a live eval with the key from CI secrets records the baseline.
    let live = run_action(
        root,
        &[
            ("codexos", codexos.to_owned()),
            ("flow", ".codexos/qa.flow.json".into()),
            ("dataset", ".codexos/qa.jsonl".into()),
            ("mode", "live".into()),
            ("config", ".codexos/config.toml".into()),
            ("secrets", "STANDIN_KEY=sk-from-ci-secrets\n".into()),
            ("thresholds", "pass-rate=0.75\n".into()),
            ("report", ".codexos/baseline.json".into()),
        ],
    );
    assert!(live.ok, "{}", live.log);
    let requests = server.seen.lock().expect("seen").clone();
    assert_eq!(
        requests.len(),
        5,
        "four cases and a judge call: {}",
        live.log
    );
    assert!(
        requests
            .iter()
            .all(|seen| seen.head.contains("Bearer sk-from-ci-secrets")),
        "the key from the secrets input reached the provider through the vault"
    );
    assert_eq!(live.outputs.get("ok").map(String::as_str), Some("true"));
    assert!(
        live.summary.contains("✅ passed") && live.summary.contains("| pass rate | 75.0% (3/4) |"),
        "{}",
        live.summary
    );
    assert!(root.join(".codexos/baseline.json").is_file());
}

/// The action in replay mode on the signed bundle, with `extra` inputs.
fn run_replay(root: &Path, codexos: &str, extra: &[(&'static str, String)]) -> ActionRun {
    let mut inputs = vec![
        ("codexos", codexos.to_owned()),
        ("flow", "qa".into()),
        ("bundle", ".codexos/qa.codexos-bundle".into()),
        ("trusted-signer", ".codexos/signer.pub.json".into()),
        ("dataset", ".codexos/qa.jsonl".into()),
        ("baseline", ".codexos/baseline.json".into()),
        ("junit", "out/junit.xml".into()),
        ("markdown", "out/summary.md".into()),
    ];
    inputs.extend_from_slice(extra);
    run_action(root, &inputs)
}

/// A tampered bundle and one signed by a key the repository does not name
/// stop at the verify step; the author's own bundle then passes.
fn refused_bundles(root: &Path, author: &Cli, codexos: &str) {
    let replay = |extra: &[(&'static str, String)]| run_replay(root, codexos, extra);
    // A bundle changed after signing is refused before anything runs.
    let bundle = root.join(".codexos/qa.codexos-bundle");
    let mut bytes = std::fs::read(&bundle).expect("bundle");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&bundle, bytes).expect("tamper");
    let tampered = replay(&[]);
    assert!(!tampered.ok);
    assert!(
        tampered.log.contains("is not signed by the trusted signer"),
        "refused at the verify step: {}",
        tampered.log
    );
    assert!(
        !tampered.log.contains("cases passed"),
        "nothing was evaluated: {}",
        tampered.log
    );
    assert!(tampered.summary.is_empty(), "{}", tampered.summary);
    assert!(
        !root.join("out/junit.xml").exists(),
        "the last run's results were cleared"
    );

    // A bundle signed well, but by a key the repository does not name.
    let stranger = Cli::new();
    assert_success(
        &stranger.run(&["keys", "generate", "--name", "Stranger"]),
        &["keys", "generate"],
    );
    sign(&stranger, root, QA_FLOW);
    let untrusted = replay(&[]);
    assert!(!untrusted.ok);
    assert!(
        untrusted.log.contains("NOT on your trust list")
            && untrusted
                .log
                .contains("is not signed by the trusted signer"),
        "{}",
        untrusted.log
    );
    // Positive control: the author's own bundle of the same flow passes.
    sign(author, root, QA_FLOW);
    assert!(replay(&[]).ok);
}

#[test]
fn the_action_gates_changes_on_a_baseline_with_no_key_in_replay() {
    let server = stand_in();
    let repo = sample_repo(&server.url);
    let root = repo.path();
    let codexos = env!("CARGO_BIN_EXE_codexos").to_owned();
    record_baseline(root, &server, &codexos);

    // The author signs the flow; the repository keeps the signer's identity.
    let author = Cli::new();
    assert_success(
        &author.run(&["keys", "generate", "--name", "Flow author"]),
        &["keys", "generate"],
    );
    let identity = root.join(".codexos/signer.pub.json");
    assert_success(
        &author.run(&["keys", "show", "--public", identity.to_str().expect("path")]),
        &["keys", "show"],
    );
    sign(&author, root, QA_FLOW);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "baseline"]);

    let replay = |extra: &[(&'static str, String)]| run_replay(root, &codexos, extra);

    // A change that keeps every request (nodes renamed): passes, offline.
    sign(&author, root, QA_RENAMED);
    git(root, &["commit", "-qam", "rename nodes"]);
    let passing = replay(&[]);
    assert!(passing.ok, "{}", passing.log);
    assert_eq!(
        server.seen.lock().expect("seen").len(),
        5,
        "a replay calls no provider"
    );
    assert_eq!(passing.outputs.get("ok").map(String::as_str), Some("true"));
    assert!(
        passing.summary.contains("✅ passed")
            && passing
                .summary
                .contains("| pass rate | 75.0% (3/4) | 75.0% |"),
        "{}",
        passing.summary
    );
    let junit = std::fs::read_to_string(root.join("out/junit.xml")).expect("junit");
    assert!(junit.contains("tests=\"4\" failures=\"1\""), "{junit}");

    // A change that spoils answers: regressions past the threshold fail it.
    sign(&author, root, QA_BROKEN);
    git(root, &["commit", "-qam", "trim answers"]);
    let failing = replay(&[]);
    assert!(!failing.ok, "a regression fails the check: {}", failing.log);
    assert_eq!(failing.outputs.get("ok").map(String::as_str), Some("false"));
    assert!(
        failing.summary.contains("❌ failed") && failing.summary.contains("⬇ regressed"),
        "{}",
        failing.summary
    );
    assert!(
        failing.log.contains("thresholds not met: regressions 0"),
        "{}",
        failing.log
    );
    // … unless the threshold allows them.
    let allowed = replay(&[("thresholds", "regressions=3\n".into())]);
    assert!(allowed.ok, "{}", allowed.log);

    refused_bundles(root, &author, &codexos);
}
