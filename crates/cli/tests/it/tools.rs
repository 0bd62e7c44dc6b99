//! Tools through the `codexos` binary: listing, calls and approvals in the
//! CLI, `codexos mcp` driven by real MCP clients (a hand-written JSON-RPC
//! exchange over stdio, and rmcp's client over stdio and HTTP), and one flow
//! using a built-in, a folder tool, an `OpenAPI` operation and an MCP tool.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codexos_tools::mcp::{supervise, ServerConfig};
use codexos_tools::{CallContext, NoSecrets, Policy, PreApproved, Registry, SourceState};
use serde_json::{json, Value};

use super::{assert_success, error_line, Cli};

/// A project folder named `notes` with one file.
struct Project(tempfile::TempDir);

impl Project {
    fn path(&self) -> std::path::PathBuf {
        self.0.path().join("notes")
    }
}

fn project() -> Project {
    let dir = tempfile::tempdir().expect("project");
    std::fs::create_dir(dir.path().join("notes")).expect("folder");
    std::fs::write(
        dir.path().join("notes/notes.md"),
        "# Notes\n\nThe launch code word is heliotrope.\n",
    )
    .expect("file");
    Project(dir)
}

#[test]
fn tools_are_listed_called_and_asks_are_approved_on_the_terminal() {
    let cli = Cli::new();
    let dir = project();
    let listed = cli.json(&["tools", "list"]);
    let tools = listed["tools"].as_array().expect("tools");
    let find = |name: &str| {
        tools
            .iter()
            .find(|tool| tool["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(find("fs.read")["permission"], "allow");
    assert_eq!(find("shell")["permission"], "ask");
    assert_eq!(
        find("todos")["source"]
            .as_str()
            .map(|source| source.starts_with("folder:")),
        Some(true)
    );
    assert_eq!(find("rag.search")["source"], "runtime");
    assert!(listed["sandbox"]
        .as_str()
        .is_some_and(|sandbox| sandbox.starts_with("bubblewrap")));

    let mut read = cli.command(&[
        "tools",
        "call",
        "fs.read",
        "--args",
        r#"{"path": "notes.md"}"#,
    ]);
    read.current_dir(dir.path());
    let output = read.output().expect("runs");
    assert_success(&output, &["tools", "call", "fs.read"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("heliotrope"));

    let shell = |answer: Option<&str>, extra: &[&str]| {
        let mut args = vec![
            "tools",
            "call",
            "shell",
            "--args",
            r#"{"command": "echo made > made.txt && cat made.txt"}"#,
        ];
        args.extend_from_slice(extra);
        let mut command = cli.command(&args);
        command.current_dir(dir.path());
        match answer {
            Some(answer) => super::pipe(command, answer),
            None => command.output().expect("runs"),
        }
    };
    let closed = shell(None, &[]);
    assert!(error_line(&closed).contains("not approved") && error_line(&closed).contains("--yes"));
    assert!(!dir.path().join("made.txt").exists());
    let declined = shell(Some("n\n"), &[]);
    assert!(error_line(&declined).contains("declined by the user"));
    let approved = shell(Some("y\n"), &[]);
    assert_success(&approved, &["tools", "call", "shell"]);
    assert!(String::from_utf8_lossy(&approved.stderr).contains("Allow it? [y/N]"));
    assert!(String::from_utf8_lossy(&approved.stdout).contains("made"));
    let pre_approved = shell(None, &["--yes"]);
    assert_success(&pre_approved, &["tools", "call", "shell", "--yes"]);

    // `deny` in the config wins over --yes.
    std::fs::write(
        cli.home.path().join("config.toml"),
        "[tools.permissions]\nshell = \"deny\"\n\"fs.*\" = \"ask\"\n",
    )
    .expect("config");
    let denied = shell(None, &["--yes"]);
    assert!(error_line(&denied)
        .contains("denied by the tool policy (`shell = \"deny\"` in config.toml"));
    let listed = cli.json(&["tools", "list"]);
    let read = listed["tools"]
        .as_array()
        .and_then(|tools| tools.iter().find(|tool| tool["name"] == "fs.read").cloned());
    assert_eq!(
        read.map(|tool| tool["permission"].clone()),
        Some(json!("ask"))
    );
    // `tools permit` changes a rule in place (the config's comments and
    // other rules kept): default removes it and --yes works again.
    assert_success(
        &cli.run(&["tools", "permit", "shell", "default"]),
        &["tools", "permit"],
    );
    let config = std::fs::read_to_string(cli.home.path().join("config.toml")).expect("config");
    assert!(
        !config.contains("shell") && config.contains("\"fs.*\" = \"ask\""),
        "{config}"
    );
    assert_success(
        &shell(None, &["--yes"]),
        &["tools", "call", "shell", "--yes"],
    );
    assert_success(
        &cli.run(&["tools", "permit", "shell", "deny"]),
        &["tools", "permit"],
    );
    assert!(error_line(&shell(None, &["--yes"])).contains("denied by the tool policy"));
    let bad_glob = error_line(&cli.run(&["tools", "permit", "fs.[", "allow"]));
    assert!(bad_glob.contains("fs.["), "{bad_glob}");
    let bad = cli.run(&["tools", "call", "fs.read", "--args", "{\"path\": 3}"]);
    assert!(error_line(&bad).contains("$.path: expected string"));
}

/// `codexos mcp` on stdio, as a child speaking JSON-RPC lines.
struct StdioServer {
    child: Child,
    input: ChildStdin,
    output: BufReader<std::process::ChildStdout>,
}

impl StdioServer {
    fn start(cli: &Cli) -> Self {
        let mut command = cli.command(&["mcp"]);
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("codexos mcp");
        let input = child.stdin.take().expect("stdin");
        let output = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            input,
            output,
        }
    }

    fn send(&mut self, message: &Value) {
        writeln!(self.input, "{message}").expect("write");
        self.input.flush().expect("flush");
    }

    fn request(&mut self, id: u64, method: &str, params: &Value) -> Value {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let mut line = String::new();
            let read = self.output.read_line(&mut line).expect("read");
            assert!(read > 0, "codexos mcp closed its output");
            let message: Value = serde_json::from_str(&line).expect("a JSON-RPC line");
            if message["id"] == id {
                return message;
            }
        }
    }
}

impl Drop for StdioServer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

#[test]
fn an_mcp_client_searches_a_project_through_codexos_mcp_on_stdio() {
    let cli = Cli::new();
    let dir = project();
    let ingested = cli.run(&["ingest", &dir.path().display().to_string()]);
    assert_success(&ingested, &["ingest"]);
    // The same search as a tool of the registry.
    let hits = cli.json(&[
        "tools",
        "call",
        "rag.search",
        "--args",
        r#"{"query": "launch code word", "k": 2}"#,
    ]);
    assert_eq!(hits[0]["path"], "notes.md", "{hits}");
    let mut server = StdioServer::start(&cli);
    let initialized = server.request(
        1,
        "initialize",
        &json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
    );
    assert_eq!(
        initialized["result"]["serverInfo"]["name"], "codexos",
        "{initialized}"
    );
    server.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let listed = server.request(2, "tools/list", &json!({}));
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["search", "ask", "list_projects", "list_flows", "run_flow"]
    );
    let found = server.request(
        3,
        "tools/call",
        &json!({"name": "search", "arguments": {"query": "launch code word", "project": "notes"}}),
    );
    let hits = &found["result"]["structuredContent"]["result"];
    assert_eq!(hits[0]["path"], "notes.md", "{found}");
    assert!(hits[0]["text"]
        .as_str()
        .is_some_and(|text| text.contains("heliotrope")));
    let projects = server.request(
        4,
        "tools/call",
        &json!({"name": "list_projects", "arguments": {}}),
    );
    assert_eq!(
        projects["result"]["structuredContent"]["result"][0]["name"],
        "notes"
    );
    let unknown = server.request(
        5,
        "tools/call",
        &json!({"name": "run_flow", "arguments": {"flow": "no-such-flow"}}),
    );
    assert_eq!(unknown["result"]["isError"], true);
    assert!(unknown["result"]["content"][0]["text"]
        .as_str()
        .is_some_and(|text| text.contains("no flow `no-such-flow`")));
}

fn server_config(cli: &Cli, name: &str, transport: Result<Vec<String>, String>) -> ServerConfig {
    let env = [
        ("CODEXOS_HOME", cli.home.path().display().to_string()),
        ("CODEXOS_MODELS", cli.models.display().to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), codexos_tools::folder::EnvValue::Text(value)))
    .collect();
    let (command, url) = match transport {
        Ok(command) => (Some(command), None),
        Err(url) => (None, Some(url)),
    };
    ServerConfig {
        name: name.to_owned(),
        command,
        url,
        env,
        bearer: None,
        timeout: Some(60),
        permission: None,
    }
}

async fn ready(registry: &Registry, source: &str) {
    let started = Instant::now();
    loop {
        let state = registry
            .sources()
            .into_iter()
            .find(|info| info.name == source)
            .map(|info| info.state);
        match state {
            Some(SourceState::Ready) => return,
            Some(SourceState::Restarting(message)) => panic!("{source}: {message}"),
            _ => {}
        }
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "{source} never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `codexos mcp --port 0` in `cli`'s home: the process and its `/mcp` URL.
pub(crate) fn mcp_over_http(cli: &Cli) -> (Child, String) {
    let mut http = cli
        .command(&["mcp", "--port", "0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("codexos mcp --port");
    let mut banner = String::new();
    BufReader::new(http.stderr.take().expect("stderr"))
        .read_line(&mut banner)
        .expect("banner");
    let url = banner
        .trim()
        .strip_prefix("MCP on ")
        .expect("address line")
        .to_owned();
    (http, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mcp_client_uses_codexos_mcp_over_stdio_and_http() {
    let cli = Cli::new();
    let (mut http, url) = mcp_over_http(&cli);
    let registry = Registry::new();
    let cancel = tokio_util::sync::CancellationToken::new();
    let binary = env!("CARGO_BIN_EXE_codexos").to_owned();
    supervise(
        Arc::clone(&registry),
        server_config(&cli, "local", Ok(vec![binary, "mcp".into()])),
        Arc::new(NoSecrets),
        codexos_net::watch_offline(),
        cancel.clone(),
    );
    supervise(
        Arc::clone(&registry),
        server_config(&cli, "remote", Err(url)),
        Arc::new(NoSecrets),
        codexos_net::watch_offline(),
        cancel.clone(),
    );
    ready(&registry, "mcp:local").await;
    ready(&registry, "mcp:remote").await;
    let context = CallContext::new(std::env::temp_dir());
    for name in ["local.list_flows", "remote.list_flows"] {
        let flows = registry
            .call(name, json!({}), &Policy::default(), &PreApproved, &context)
            .await
            .expect("list_flows");
        let names: Vec<&str> = flows["result"]
            .as_array()
            .expect("flows")
            .iter()
            .filter_map(|flow| flow["name"].as_str())
            .collect();
        assert!(names.contains(&"rag-qa"), "{name}: {flows}");
    }
    cancel.cancel();
    http.kill().ok();
    http.wait().ok();
}

/// A static HTTP server (python3) for an API whose one operation is a file.
struct StaticServer(Child, u16);

impl StaticServer {
    fn start(folder: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("address")
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(folder)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 http.server");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "http.server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self(child, port)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

const MIXED_FLOW: &str = r#"{
  "version": 2,
  "name": "four-sources",
  "state": { "text": "any", "lines": "any", "pets": "any", "flows": "any" },
  "permissions": { "local.*": "allow" },
  "nodes": [
    { "id": "start", "kind": "input" },
    { "id": "read", "kind": "tool", "tool": "fs.read", "args": { "path": "notes.md" }, "output": "text" },
    { "id": "count", "kind": "tool", "tool": "line-count", "args": { "paths": ["notes.md"] }, "output": "lines" },
    { "id": "api", "kind": "tool", "tool": "pets.listPets", "args": {}, "output": "pets" },
    { "id": "mcp", "kind": "tool", "tool": "local.list_projects", "args": {}, "output": "flows" },
    { "id": "done", "kind": "output", "keys": ["text", "lines", "pets", "flows"] }
  ],
  "edges": [
    { "from": "start", "to": "read" }, { "from": "read", "to": "count" }, { "from": "count", "to": "api" },
    { "from": "api", "to": "mcp" }, { "from": "mcp", "to": "done" }
  ]
}"#;

/// A data home whose config has the `pets` API (served from a folder by
/// python3) and `codexos mcp` itself as the MCP server `local`.
fn four_sources(cli: &Cli, extra_config: &str) -> (StaticServer, tempfile::TempDir) {
    let api = tempfile::tempdir().expect("api folder");
    std::fs::write(api.path().join("pets.json"), r#"["rex", "tom"]"#).expect("pets");
    let server = StaticServer::start(api.path());
    let spec = api.path().join("spec.json");
    std::fs::write(
        &spec,
        json!({"openapi": "3.0.0", "info": {"title": "pets", "version": "1"},
               "paths": {"/pets.json": {"get": {"operationId": "listPets", "summary": "Lists pets."}}}})
        .to_string(),
    )
    .expect("spec");
    let binary = env!("CARGO_BIN_EXE_codexos");
    std::fs::write(
        cli.home.path().join("config.toml"),
        format!(
            "{extra_config}\n[[tools.openapi]]\nname = \"pets\"\nspec = {spec:?}\nbase_url = \"http://127.0.0.1:{}\"\n\n[[tools.mcp]]\nname = \"local\"\ncommand = [{binary:?}, \"mcp\"]\n",
            server.1,
            spec = spec.display().to_string(),
        ),
    )
    .expect("config");
    (server, api)
}

#[test]
fn one_flow_calls_a_builtin_a_folder_tool_an_openapi_operation_and_an_mcp_tool() {
    let cli = Cli::new();
    let dir = project();
    let _api = four_sources(&cli, "");
    let flow = dir.path().join("four.flow.json");
    std::fs::write(&flow, MIXED_FLOW).expect("flow");
    let mut run = cli.command(&["run", &flow.display().to_string(), "--json"]);
    run.current_dir(dir.path());
    let output = run.output().expect("run");
    assert_success(&output, &["run", "four-sources"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let outcome: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<Value>(line).ok())
        .expect("outcome");
    let result = &outcome["outcome"]["output"];
    assert!(
        result["text"]
            .as_str()
            .is_some_and(|text| text.contains("heliotrope")),
        "{outcome}"
    );
    assert_eq!(result["lines"], "3 notes.md\n");
    assert_eq!(result["pets"], json!(["rex", "tom"]));
    assert_eq!(result["flows"]["result"], json!([]), "{outcome}");

    // An `ask` tool in a flow is refused without approval, and the run says why.
    let shell_flow = dir.path().join("shell.flow.json");
    std::fs::write(
        &shell_flow,
        r#"{"version": 2, "name": "shell-step", "state": {"out": "any"},
            "nodes": [{"id": "start", "kind": "input"},
                      {"id": "sh", "kind": "tool", "tool": "shell", "args": {"command": "echo ran > ran.txt"}, "output": "out", "retries": 0},
                      {"id": "done", "kind": "output", "keys": ["out"]}],
            "edges": [{"from": "start", "to": "sh"}, {"from": "sh", "to": "done"}]}"#,
    )
    .expect("flow");
    let mut refused = cli.command(&["run", &shell_flow.display().to_string()]);
    refused.current_dir(dir.path());
    let refused = refused.output().expect("run");
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(text.contains("`shell` was not approved"), "{text}");
    assert!(!dir.path().join("ran.txt").exists());
    let mut approved = cli.command(&["run", &shell_flow.display().to_string(), "--yes"]);
    approved.current_dir(dir.path());
    assert_success(
        &approved.output().expect("run"),
        &["run", "shell-step", "--yes"],
    );
    assert!(dir.path().join("ran.txt").exists());
}

/// An OpenAI-compatible provider on 127.0.0.1 that plays an agent calling
/// four tools, one per turn, then answering. It refuses tool names outside
/// `[a-zA-Z0-9_-]`, as OpenAI does.
struct ScriptedProvider(u16);

impl ScriptedProvider {
    const CALLS: [(&'static str, &'static str); 4] = [
        ("fs_read", r#"{"path": "notes.md"}"#),
        ("line-count", r#"{"paths": ["notes.md"]}"#),
        ("pets_listPets", "{}"),
        ("local_list_projects", "{}"),
    ];

    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                Self::answer(stream);
            }
        });
        Self(port)
    }

    fn answer(mut stream: std::net::TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if let Some(value) = line.to_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        std::io::Read::read_exact(&mut reader, &mut body).expect("body");
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let names: Vec<&str> = request["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|tool| tool["function"]["name"].as_str())
            .collect();
        let valid = names.iter().all(|name| {
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        let done = request["messages"].as_array().map_or(0, |messages| {
            messages
                .iter()
                .filter(|message| message["role"] == "tool")
                .count()
        });
        let (status, reply) = if !valid {
            (
                "400 Bad Request",
                json!({"error": {"message": format!("invalid tool names {names:?}")}}),
            )
        } else if let Some((name, arguments)) = Self::CALLS.get(done) {
            let call = json!({"id": format!("call_{done}"), "type": "function", "function": {"name": name, "arguments": arguments}});
            (
                "200 OK",
                json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [call]}, "finish_reason": "tool_calls"}]}),
            )
        } else {
            (
                "200 OK",
                json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Used all four tools."}, "finish_reason": "stop"}]}),
            )
        };
        let text = reply.to_string();
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
            text.len()
        );
        stream.write_all(response.as_bytes()).ok();
    }
}

#[test]
fn an_agent_uses_a_builtin_a_folder_tool_an_openapi_operation_and_an_mcp_tool_in_one_run() {
    let cli = Cli::new();
    let dir = project();
    let provider = ScriptedProvider::start();
    let _api = four_sources(
        &cli,
        &format!(
            "[llm]\npolicy = [\"scripted\"]\n\n[[providers]]\nname = \"scripted\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{}/v1\"\nmodel = \"agent-script\"\n",
            provider.0
        ),
    );
    let agent = dir.path().join("worker.agent.json");
    std::fs::write(
        &agent,
        json!({"name": "worker", "version": "1.0.0", "description": "Uses every kind of tool.",
               "system": "Use the tools.", "tools": ["fs.read", "line-count", "pets.listPets", "local.list_projects"],
               "maxSteps": 6})
        .to_string(),
    )
    .expect("agent");
    assert_success(
        &cli.run(&["agents", "publish", &agent.display().to_string()]),
        &["agents", "publish"],
    );
    let flow = dir.path().join("agent.flow.json");
    std::fs::write(
        &flow,
        json!({"version": 2, "name": "agent-tools", "state": {"result": "string"},
               "permissions": {"local.*": "allow"},
               "nodes": [{"id": "start", "kind": "input"},
                         {"id": "work", "kind": "agent", "agent": "worker@1.0.0", "task": "Gather facts.", "output": "result"},
                         {"id": "done", "kind": "output", "keys": ["result"]}],
               "edges": [{"from": "start", "to": "work"}, {"from": "work", "to": "done"}]})
        .to_string(),
    )
    .expect("flow");
    let mut run = cli.command(&["run", &flow.display().to_string(), "--json"]);
    run.current_dir(dir.path());
    let output = run.output().expect("run");
    assert_success(&output, &["run", "agent-tools"]);
    let events: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let results: Vec<(String, String)> = events
        .iter()
        .filter(|event| event["event"]["type"] == "toolResult")
        .map(|event| {
            (
                event["event"]["tool"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                event["event"].to_string(),
            )
        })
        .collect();
    let tools: Vec<&str> = results.iter().map(|(tool, _)| tool.as_str()).collect();
    assert_eq!(
        tools,
        [
            "fs.read",
            "line-count",
            "pets.listPets",
            "local.list_projects"
        ],
        "{events:?}"
    );
    assert!(
        results[0].1.contains("heliotrope") && results[2].1.contains("rex"),
        "{results:?}"
    );
    let outcome = events.last().expect("outcome");
    assert_eq!(
        outcome["outcome"]["output"]["result"], "Used all four tools.",
        "{outcome}"
    );
}

#[test]
fn openapi_specs_and_mcp_servers_are_added_from_the_cli() {
    let cli = Cli::new();
    let api = tempfile::tempdir().expect("api folder");
    std::fs::write(api.path().join("pets.json"), r#"["rex"]"#).expect("pets");
    let server = StaticServer::start(api.path());
    let spec = api.path().join("spec.yaml");
    std::fs::write(
        &spec,
        format!(
            "openapi: 3.0.3\ninfo: {{title: pets, version: '1'}}\nservers: [{{url: 'http://127.0.0.1:{}'}}]\npaths:\n  /pets.json:\n    get: {{operationId: listPets}}\n",
            server.1
        ),
    )
    .expect("spec");
    let spec = spec.display().to_string();
    let added = cli.json(&["tools", "add-openapi", "pets", &spec]);
    assert_eq!(added["tools"], json!(["pets.listPets"]));
    let called = cli.json(&["tools", "call", "pets.listPets"]);
    assert_eq!(called, json!(["rex"]));
    let config = std::fs::read_to_string(cli.home.path().join("config.toml")).expect("config");
    let again = cli.run(&["tools", "add-openapi", "pets", &spec]);
    assert!(error_line(&again).contains("`pets` is configured already"));
    let old = api.path().join("old.yaml");
    std::fs::write(&old, "swagger: '2.0'\n").expect("old spec");
    let refused = cli.run(&["tools", "add-openapi", "old", &old.display().to_string()]);
    assert!(error_line(&refused).contains("Swagger 2.0 is not supported"));
    assert_eq!(
        std::fs::read_to_string(cli.home.path().join("config.toml")).expect("config"),
        config,
        "a refused spec changes nothing"
    );
    let binary = env!("CARGO_BIN_EXE_codexos");
    // (`--json` first: everything after `--` is the server's command.)
    let output = cli.run(&["--json", "tools", "add-mcp", "self", "--", binary, "mcp"]);
    assert_success(&output, &["tools", "add-mcp"]);
    let added: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(added["tools"]
        .as_array()
        .expect("tools")
        .contains(&json!("self.search")));
    let names = listed_tools(&cli);
    assert!(
        names.contains(&"self.search".to_owned()) && names.contains(&"pets.listPets".to_owned()),
        "{names:?}"
    );
    refused_servers_change_nothing(&cli, binary);
    // Removed: out of config.toml, its tools and its permission rules gone;
    // an unknown name says what is configured.
    cli.json(&["tools", "permit", "self.search", "allow"]);
    cli.json(&["tools", "permit", "selfish.tool", "deny"]);
    let removed = cli.json(&["tools", "rm", "self"]);
    assert_eq!(removed["removed"], "self");
    cli.json(&["tools", "rm", "pets"]);
    let config = std::fs::read_to_string(cli.home.path().join("config.toml")).expect("config");
    assert!(
        !config.contains("name = \"self\"") && !config.contains("name = \"pets\""),
        "{config}"
    );
    assert!(
        !config.contains("\"self.search\""),
        "its rule went: {config}"
    );
    assert!(
        config.contains("\"selfish.tool\""),
        "another source's rule stays: {config}"
    );
    let names = listed_tools(&cli);
    assert!(
        !names
            .iter()
            .any(|name| name.starts_with("self.") || name.starts_with("pets.")),
        "{names:?}"
    );
    let unknown = cli.run(&["tools", "rm", "self"]);
    assert!(
        error_line(&unknown).contains("no `OpenAPI` spec or MCP server named `self`"),
        "{}",
        error_line(&unknown)
    );
}

/// MCP servers that cannot be used are refused with the reason, and
/// config.toml stays as it was.
fn refused_servers_change_nothing(cli: &Cli, binary: &str) {
    // A server that cannot start is refused, with the reason, and nothing
    // is written.
    let before = std::fs::read_to_string(cli.home.path().join("config.toml")).expect("config");
    let broken = cli.run(&[
        "tools",
        "add-mcp",
        "broken",
        "--",
        binary,
        "no-such-command",
    ]);
    assert!(!broken.status.success());
    assert!(
        error_line(&broken).contains("MCP server `broken`"),
        "{}",
        error_line(&broken)
    );
    let missing = cli.run(&["tools", "add-mcp", "gone", "--", "/no/such/program"]);
    assert!(
        error_line(&missing).contains("MCP server `gone`"),
        "{}",
        error_line(&missing)
    );
    assert_eq!(
        std::fs::read_to_string(cli.home.path().join("config.toml")).expect("config"),
        before,
        "a server that fails changes nothing"
    );
    // A key in the command line would land in config.toml: refused, never repeated.
    let keyed = cli.run(&[
        "tools",
        "add-mcp",
        "keyed",
        "--",
        binary,
        "mcp",
        "--token",
        "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789",
    ]);
    let line = error_line(&keyed);
    assert!(
        line.contains("looks like a key") && !line.contains("abcdefghijklmnop"),
        "{line}"
    );
}

/// The names `tools list` shows.
fn listed_tools(cli: &Cli) -> Vec<String> {
    cli.json(&["tools", "list"])["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str().map(str::to_owned))
        .collect()
}
