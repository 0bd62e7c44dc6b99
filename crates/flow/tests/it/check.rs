use codexos_flow::check::{check, OpenCatalog};
use codexos_flow::ports::{AgentSpec, Catalog};
use codexos_flow::{parse, Problem};

/// Knows one model (`small`, no tool calls), tools `fs.read`, secret `TOKEN`,
/// project `docs` and agent `helper@1.0.0` (which uses `fs.read`).
struct Strict;

impl Catalog for Strict {
    fn has_model(&self, name: &str) -> bool {
        name == "small"
    }
    fn model_calls_tools(&self, name: Option<&str>) -> Option<bool> {
        Some(name != Some("small"))
    }
    fn has_tool(&self, name: &str) -> bool {
        name == "fs.read"
    }
    fn has_secret(&self, name: &str) -> bool {
        name == "TOKEN"
    }
    fn agent(&self, name: &str, version: &str) -> Option<AgentSpec> {
        (name == "helper" && version == "1.0.0").then(|| AgentSpec {
            schema: None,
            name: "helper".into(),
            version: "1.0.0".into(),
            description: String::new(),
            system: "help".into(),
            tools: vec!["fs.read".into()],
            context_project: None,
            model: Some("small".into()),
            max_steps: 3,
            memory: false,
        })
    }
    fn agent_versions(&self, name: &str) -> Vec<String> {
        if name == "helper" {
            vec!["1.0.0".into()]
        } else {
            Vec::new()
        }
    }
    fn has_project(&self, name: &str) -> bool {
        name == "docs"
    }
}

fn problems(nodes: &str, edges: &str) -> Vec<Problem> {
    let text = format!(
        r#"{{"version": 2, "name": "c", "state": {{"q": "string", "n": "number", "hits": "list", "a": "string"}},
          "nodes": [{{"id": "in", "kind": "input", "fields": ["q"]}}, {nodes}, {{"id": "out", "kind": "output", "keys": ["a"]}}],
          "edges": [{edges}]}}"#
    );
    check(&parse(&text).expect("parses"), &Strict, None)
}

fn codes(problems: &[Problem]) -> Vec<(String, String)> {
    problems
        .iter()
        .filter(|problem| problem.severity == codexos_flow::Severity::Error)
        .map(|problem| {
            (
                problem.node.clone().unwrap_or_default(),
                problem.code.clone(),
            )
        })
        .collect()
}

fn pair(node: &str, code: &str) -> (String, String) {
    (node.to_owned(), code.to_owned())
}

#[test]
fn every_kind_of_mistake_is_reported_with_its_node_and_a_fix() {
    let found = problems(
        r#"{"id": "a", "kind": "transform", "set": {"n": "1"}}"#,
        r#"{"from": "in", "to": "a"}, {"from": "a", "to": "ghost"}"#,
    );
    assert_eq!(codes(&found), vec![pair("a", "dangling-edge")]);
    assert!(found.iter().all(|problem| !problem.fix.is_empty()));

    let found = problems(
        r#"{"id": "a", "kind": "transform", "set": {"n": "n + 1"}}, {"id": "b", "kind": "transform", "set": {"n": "n"}}"#,
        r#"{"from": "in", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "a"}"#,
    );
    assert_eq!(codes(&found), vec![pair("a", "unbounded-cycle")]);

    let found = problems(
        r#"{"id": "a", "kind": "retrieve", "query": "{{ q }}", "output": "n"}"#,
        r#"{"from": "in", "to": "a"}"#,
    );
    assert_eq!(codes(&found), vec![pair("a", "type-mismatch")]);

    let found = problems(
        r#"{"id": "a", "kind": "llm", "prompt": "{{ nope }}", "output": "zzz", "model": "big"}"#,
        r#"{"from": "in", "to": "a"}"#,
    );
    assert_eq!(
        codes(&found),
        vec![
            pair("a", "undeclared-state"),
            pair("a", "unknown-state"),
            pair("a", "unknown-model")
        ]
    );

    let found = problems(
        r#"{"id": "a", "kind": "parallel", "over": "q", "body": {"id": "b", "kind": "transform", "set": {"x": "item"}}}"#,
        r#"{"from": "in", "to": "a"}"#,
    );
    assert_eq!(codes(&found), vec![pair("a", "type-mismatch")]);

    let found = problems(
        r#"{"id": "t", "kind": "tool", "tool": "shell", "args": {"auth": "vault://MISSING"}}"#,
        r#"{"from": "in", "to": "t"}"#,
    );
    assert_eq!(
        codes(&found),
        vec![pair("t", "unknown-tool"), pair("t", "unknown-secret")]
    );

    let found = problems(
        r#"{"id": "g", "kind": "agent", "agent": "helper", "task": "{{ q }}", "output": "a"},
           {"id": "h", "kind": "agent", "agent": "helper@1.0.0", "task": "{{ q }}", "output": "a"},
           {"id": "r", "kind": "retrieve", "query": "{{ q }}", "project": "nowhere", "output": "hits"}"#,
        r#"{"from": "in", "to": "g"}, {"from": "g", "to": "h"}, {"from": "h", "to": "r"}"#,
    );
    assert_eq!(
        codes(&found),
        vec![
            pair("g", "unpinned-agent"),
            pair("h", "capability"),
            pair("r", "unknown-project")
        ]
    );
    let unpinned = found
        .iter()
        .find(|problem| problem.code == "unpinned-agent")
        .expect("reported");
    assert!(unpinned.fix.contains("helper@1.0.0"), "{unpinned:?}");

    let found = problems(
        r#"{"id": "x", "kind": "router", "routes": [{"when": "n >", "to": "out"}]}"#,
        r#"{"from": "in", "to": "x"}"#,
    );
    assert_eq!(codes(&found), vec![pair("x", "syntax")]);
}

#[test]
fn the_example_flows_and_fixtures_check_clean() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in [
        root.join("tests/it/fixtures"),
        root.join("../../examples/flows"),
    ] {
        for entry in std::fs::read_dir(&dir).expect("folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|ext| ext == "json") {
                let flow = parse(&std::fs::read_to_string(&path).expect("read"))
                    .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                let found = check(&flow, &OpenCatalog::default(), path.parent());
                let errors: Vec<_> = found
                    .iter()
                    .filter(|p| {
                        p.severity == codexos_flow::Severity::Error && p.code != "unknown-agent"
                    })
                    .collect();
                assert!(errors.is_empty(), "{}: {errors:?}", path.display());
            }
        }
    }
}

#[test]
fn the_published_schemas_match_the_types() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema");
    for (file, schema) in [
        ("flow.schema.json", codexos_flow::model::schema()),
        (
            "agent.schema.json",
            serde_json::to_value(schemars::schema_for!(AgentSpec)).expect("schema"),
        ),
    ] {
        let text = serde_json::to_string_pretty(&schema).expect("json") + "\n";
        let path = root.join(file);
        if std::env::var_os("CODEXOS_UPDATE_SCHEMAS").is_some() {
            std::fs::create_dir_all(&root).expect("mkdir");
            std::fs::write(&path, &text).expect("write");
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == text,
            "{file} is out of date: run `CODEXOS_UPDATE_SCHEMAS=1 cargo test -p codexos-flow`"
        );
    }
}

#[test]
fn a_budget_that_cannot_work_is_reported() {
    let flow = |budget: &str| {
        parse(&format!(
            r#"{{"version": 2, "name": "b", "budget": {budget}, "nodes": [{{"id": "in", "kind": "input"}}], "edges": []}}"#
        ))
        .expect("parses")
    };
    let found = |budget: &str| -> Vec<String> {
        check(&flow(budget), &Strict, None)
            .into_iter()
            .map(|problem| problem.code)
            .filter(|code| code.contains("budget"))
            .collect()
    };
    // Positive control: a budget that can work passes.
    assert_eq!(
        found(r#"{"tokens": 1000, "costUsd": 0.5}"#),
        Vec::<String>::new()
    );
    assert_eq!(found(r#"{"tokens": 0}"#), ["invalid-budget"]);
    assert_eq!(found(r#"{"costUsd": -1}"#), ["invalid-budget"]);
    assert_eq!(found(r#"{"onExceed": "warn"}"#), ["empty-budget"]);
}

#[test]
fn the_names_of_asks_and_chat_turns_are_reserved() {
    let named = |name: &str| {
        let text = format!(
            r#"{{"version": 2, "name": "{name}", "state": {{"q": "string"}},
              "nodes": [{{"id": "in", "kind": "input", "fields": ["q"]}}, {{"id": "out", "kind": "output", "keys": ["q"]}}],
              "edges": [{{"from": "in", "to": "out"}}]}}"#
        );
        codes(&check(&parse(&text).expect("parses"), &Strict, None))
    };
    // Positive control: the same flow under another name is clean.
    assert_eq!(named("my-ask"), Vec::<(String, String)>::new());
    for reserved in ["ask", "chat"] {
        assert_eq!(named(reserved), vec![pair("", "reserved-name")]);
    }
}
