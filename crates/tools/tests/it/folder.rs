//! tools/ folder discovery and hot reload, on real files and programs.

use std::time::{Duration, Instant};

use codexos_tools::folder::{manifest_schema, source_name, watch};
use codexos_tools::{CallContext, Permission, Policy, PreApproved, Registry};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const COUNT: &str = r#"
name = "line-count"
description = "Counts the lines of files."
command = ["wc", "-l", "{{ paths }}"]
permission = "allow"
writes = false

[parameters]
type = "object"
required = ["paths"]
properties.paths = { type = "array", items = { type = "string" } }
"#;

async fn until(what: &str, check: impl Fn() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what} never happened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A project `tools/` folder whose manifest asks for `allow`.
fn untrusted_tools(project: &std::path::Path) -> std::path::PathBuf {
    let tools = project.join("tools");
    std::fs::create_dir_all(tools.join("sneaky")).expect("dir");
    std::fs::write(
        tools.join("sneaky/tool.toml"),
        "name = \"sneaky\"\ndescription = \"x\"\ncommand = [\"true\"]\npermission = \"allow\"\n",
    )
    .expect("manifest");
    tools
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_are_discovered_reloaded_and_broken_ones_skipped() {
    let home_tools = tempfile::tempdir().expect("tools dir");
    let project = tempfile::tempdir().expect("project");
    std::fs::write(project.path().join("a.txt"), "1\n2\n3\n").expect("file");
    std::fs::create_dir(home_tools.path().join("line-count")).expect("dir");
    std::fs::write(home_tools.path().join("line-count/tool.toml"), COUNT).expect("manifest");
    let project_tools = untrusted_tools(project.path());
    let registry = Registry::new();
    let cancel = CancellationToken::new();
    let _task = watch(
        std::sync::Arc::clone(&registry),
        vec![
            (home_tools.path().to_path_buf(), true),
            (project_tools.clone(), false),
        ],
        cancel.clone(),
    )
    .expect("watch");
    let policy = Policy::default();
    let tools = registry.tools(&policy);
    assert_eq!(
        tools
            .iter()
            .map(|tool| tool.name.as_str())
            .collect::<Vec<_>>(),
        ["line-count", "sneaky"]
    );
    assert_eq!(tools[0].permission, Permission::Allow);
    assert_eq!(
        tools[1].permission,
        Permission::Ask,
        "a project's manifest cannot grant itself allow"
    );
    let context = CallContext::new(project.path().to_path_buf());
    let counted = registry
        .call(
            "line-count",
            json!({"paths": ["a.txt"]}),
            &policy,
            &PreApproved,
            &context,
        )
        .await
        .expect("runs");
    assert_eq!(counted, json!("3 a.txt\n"));

    std::fs::create_dir(home_tools.path().join("shout")).expect("dir");
    std::fs::write(
        home_tools.path().join("shout/tool.toml"),
        "name = \"shout\"\ndescription = \"Upper-cases text.\"\ncommand = [\"tr\", \"a-z\", \"A-Z\"]\nstdin = \"{{ text }}\"\n[parameters]\ntype = \"object\"\nproperties.text = { type = \"string\" }\n",
    )
    .expect("manifest");
    std::fs::create_dir(home_tools.path().join("broken")).expect("dir");
    std::fs::write(
        home_tools.path().join("broken/tool.toml"),
        "name = \"broken\"\ncommand = [\n",
    )
    .expect("manifest");
    until("reload", || registry.tool("shout").is_some()).await;
    let shouted = registry
        .call(
            "shout",
            json!({"text": "hi"}),
            &policy,
            &PreApproved,
            &context,
        )
        .await
        .expect("shout");
    assert_eq!(shouted, json!("HI"));
    let source = source_name(home_tools.path());
    until("problem", || {
        registry.sources().iter().any(|info| {
            info.name == source
                && info
                    .problems
                    .iter()
                    .any(|problem| problem.contains("broken/tool.toml"))
        })
    })
    .await;
    std::fs::remove_dir_all(home_tools.path().join("shout")).expect("remove");
    until("removal", || registry.tool("shout").is_none()).await;
    // A failing program reports its exit code and error output.
    let failed = registry
        .call(
            "line-count",
            json!({"paths": ["absent.txt"]}),
            &policy,
            &PreApproved,
            &context,
        )
        .await;
    assert!(
        failed.is_err_and(|error| error.to_string().contains("exited with code 1")
            && error.to_string().contains("absent.txt"))
    );
    cancel.cancel();
}

#[test]
fn the_manifest_schema_is_published() {
    let schema = serde_json::to_string_pretty(&manifest_schema()).expect("schema") + "\n";
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema/tool.schema.json");
    if std::env::var_os("CODEXOS_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &schema).expect("write schema");
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == schema,
        "docs/schema/tool.schema.json is out of date: run `CODEXOS_UPDATE_SCHEMAS=1 cargo test -p codexos-tools`"
    );
}

#[tokio::test]
async fn shipped_example_tools_work() {
    let tools = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools");
    let (found, problems) = codexos_tools::folder::scan(&tools, true);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(found.len(), 3);
    let registry = Registry::new();
    codexos_tools::folder::load(&registry, &tools, true);
    let project = tempfile::tempdir().expect("project");
    std::fs::write(
        project.path().join("main.rs"),
        "fn main() {}\n// TODO: handle errors\n",
    )
    .expect("file");
    let made = std::process::Command::new("python3")
        .args(["-c", "import sqlite3; c = sqlite3.connect('data.db'); c.execute('create table t(x)'); c.execute('insert into t values (1), (2)'); c.commit()"])
        .current_dir(project.path())
        .status()
        .expect("python3");
    assert!(made.success());
    let context = CallContext::new(project.path().to_path_buf());
    let policy = Policy::default();
    let todos = registry
        .call("todos", json!({}), &policy, &PreApproved, &context)
        .await
        .expect("todos");
    assert_eq!(todos, json!("main.rs:2: TODO handle errors\n"));
    let rows = registry
        .call(
            "sqlite-query",
            json!({"database": "data.db", "sql": "select x from t order by x"}),
            &policy,
            &PreApproved,
            &context,
        )
        .await
        .expect("query");
    assert_eq!(rows["rows"], json!([{"x": 1}, {"x": 2}]));
    let write = registry
        .call(
            "sqlite-query",
            json!({"database": "data.db", "sql": "delete from t"}),
            &policy,
            &PreApproved,
            &context,
        )
        .await;
    assert!(
        write.is_err_and(|error| error.to_string().contains("readonly")),
        "the query is read-only"
    );
    let counted = registry
        .call(
            "line-count",
            json!({"paths": ["main.rs"]}),
            &policy,
            &PreApproved,
            &context,
        )
        .await
        .expect("count");
    assert_eq!(counted, json!("2 main.rs\n"));
}

#[test]
fn a_manifest_with_a_pasted_key_in_its_env_is_refused_with_the_fix() {
    const PASTED: &str = "ghp_0123456789abcdefABCDEF0123456789abcd";
    let manifest = |env: &str| {
        format!(
            "name = \"gh\"\ndescription = \"x\"\ncommand = [\"true\"]\nenv = {{ GITHUB_TOKEN = {env} }}\n\n[parameters]\ntype = \"object\"\n"
        )
    };
    let path = std::path::Path::new("tools/gh/tool.toml");
    // Positive controls: a vault name and a plain setting parse.
    codexos_tools::folder::parse_manifest(&manifest("{ vault = \"GITHUB_TOKEN\" }"), path)
        .expect("a vault reference");
    codexos_tools::folder::parse_manifest(&manifest("\"debug\""), path).expect("a plain value");
    for env in [
        format!("\"{PASTED}\""),
        format!("{{ vault = \"{PASTED}\" }}"),
    ] {
        let message = codexos_tools::folder::parse_manifest(&manifest(&env), path)
            .expect_err("a pasted key")
            .to_string();
        assert!(
            message.contains("codexos vault set GITHUB_TOKEN"),
            "{message}"
        );
        assert!(!message.contains(PASTED), "the key is repeated: {message}");
    }
}
