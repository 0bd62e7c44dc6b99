//! CodexOS as an MCP server (`codexos mcp`): other assistants (Claude
//! Desktop, Cursor, Codex, any MCP client) search and ask the ingested
//! projects and run flows. Tools: `search`, `ask`, `list_projects`,
//! `list_flows`, `run_flow`. Served over stdio ([`serve_stdio`]) or
//! streamable HTTP on 127.0.0.1 ([`serve_http`]).
//!
//! A flow run from here has nobody to approve its `ask` tools: they are
//! refused unless the server was started with an approver that allows them
//! (`codexos mcp --yes`).
//!
//! The team server mounts the same tools per workspace behind its sign-in
//! ([`McpServer::for_team`]): there every request carries an [`McpCaller`]
//! (who calls, and whether they may run a given flow), flows are named from
//! the workspace's library only (never a path on the server), and runs work
//! in the workspace's work folder.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use codexos_runtime::audit::AuditActor;

use codexos_runtime::{Approver, AskOptions, FlowRunOptions, Runtime, SearchMode, SearchRequest};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::{
    session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
};
use rmcp::{ErrorData, ServerHandler, ServiceExt as _};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// The MCP server over one runtime.
#[derive(Clone)]
pub struct McpServer {
    runtime: Arc<Runtime>,
    approver: Option<Arc<dyn Approver>>,
    /// Served by the team server: runs work here, and every request must
    /// carry an [`McpCaller`].
    team_work_folder: Option<PathBuf>,
}

/// Decides whether the caller may run a flow (by name): `Err` says why not.
pub type FlowGate = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Who calls, set by the team server on each HTTP request's extensions.
#[derive(Clone)]
pub struct McpCaller {
    /// Recorded as the actor of what the call changes.
    pub actor: AuditActor,
    /// Whether the caller may run a flow (a per-flow grant may narrow or
    /// widen the workspace role).
    pub may_run: FlowGate,
}

impl McpServer {
    /// A server; `approver` answers the `ask` tools of flows it runs.
    #[must_use]
    pub fn new(runtime: Arc<Runtime>, approver: Option<Arc<dyn Approver>>) -> Self {
        Self {
            runtime,
            approver,
            team_work_folder: None,
        }
    }

    /// A workspace's server on the team server: no approver (`ask` tools
    /// are refused), runs work in `work_folder`, flows by library name only.
    #[must_use]
    pub fn for_team(runtime: Arc<Runtime>, work_folder: PathBuf) -> Self {
        Self {
            runtime,
            approver: None,
            team_work_folder: Some(work_folder),
        }
    }

    /// The streamable-HTTP service of this server, stateless (every request
    /// stands alone), stopped by `stop`. `any_host`: accept every `Host`
    /// (behind the team server's sign-in); otherwise loopback names only,
    /// against DNS rebinding of an unauthenticated local server.
    #[must_use]
    pub fn http_service(
        self,
        stop: &CancellationToken,
        any_host: bool,
    ) -> StreamableHttpService<Self, LocalSessionManager> {
        let mut config =
            StreamableHttpServerConfig::default().with_cancellation_token(stop.child_token());
        if any_host {
            config = config
                .disable_allowed_hosts()
                .with_legacy_session_mode(false)
                .with_json_response(true);
        }
        StreamableHttpService::new(
            move || Ok(self.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        )
    }
}

fn tool(name: &'static str, description: &'static str, schema: Value) -> Tool {
    let Value::Object(schema) = schema else {
        unreachable!("the schemas below are objects")
    };
    Tool::new(name, description, Arc::new(schema))
}

fn tools() -> Vec<Tool> {
    vec![
        tool(
            "search",
            "Searches the projects ingested in CodexOS (hybrid vector + keyword search, reranked). Answers the best excerpts with their project, file, lines and score.",
            json!({"type": "object", "properties": {
                "query": {"type": "string", "description": "what to look for"},
                "project": {"type": "string", "description": "only this project (see list_projects)"},
                "k": {"type": "integer", "minimum": 1, "maximum": 50, "description": "number of results (default 8)"}
            }, "required": ["query"]}),
        ),
        tool(
            "ask",
            "Answers a question from the ingested projects with CodexOS's model policy (local model first), citing the excerpts used.",
            json!({"type": "object", "properties": {
                "question": {"type": "string"},
                "project": {"type": "string", "description": "only this project"}
            }, "required": ["question"]}),
        ),
        tool(
            "list_projects",
            "Lists the projects ingested in CodexOS with their folder and size.",
            json!({"type": "object", "properties": {}}),
        ),
        tool(
            "list_flows",
            "Lists the flows of CodexOS's flow library with their description and inputs.",
            json!({"type": "object", "properties": {}}),
        ),
        tool(
            "run_flow",
            "Runs a CodexOS flow (by library name or file path) to its end and answers its output and run id.",
            json!({"type": "object", "properties": {
                "flow": {"type": "string", "description": "flow name (see list_flows) or path"},
                "input": {"type": "object", "description": "the flow's input"},
                "project": {"type": "string", "description": "project the run works on"}
            }, "required": ["flow"]}),
        ),
    ]
}

fn text(value: &str) -> String {
    value.to_owned()
}

impl McpServer {
    /// The ingested projects (on a team server without their folders: the
    /// server's files are not its clients' business).
    fn projects(&self) -> Result<Value, String> {
        let projects = self.runtime.projects().map_err(|error| error.to_string())?;
        let mut listed = json!(projects);
        if self.team_work_folder.is_some() {
            for project in listed.as_array_mut().into_iter().flatten() {
                if let Some(project) = project.as_object_mut() {
                    project.remove("root");
                }
            }
        }
        Ok(listed)
    }

    /// The file of `flow`: on a team server from the workspace's library
    /// only, never a file the name happens to match in the server's working
    /// folder; elsewhere a library name or a path.
    fn flow_path(&self, flow: &str) -> Result<PathBuf, String> {
        if self.team_work_folder.is_none() {
            return self
                .runtime
                .find_flow(flow)
                .map_err(|error| error.to_string());
        }
        crate::team::library_file(&self.runtime, flow).ok_or_else(|| {
            format!("`{flow}` is not a flow of this workspace — name one from list_flows")
        })
    }

    /// `trace_parent`: the W3C `traceparent` of the HTTP request (a run it
    /// starts joins that trace).
    async fn dispatch(
        &self,
        name: &str,
        arguments: &Value,
        trace_parent: Option<String>,
        caller: Option<&McpCaller>,
    ) -> Result<Value, String> {
        let argument = |key: &str| arguments.get(key).and_then(Value::as_str);
        let cancel = CancellationToken::new();
        match name {
            "search" => {
                let query = argument("query").ok_or("`query` is required")?;
                let k = arguments
                    .get("k")
                    .and_then(Value::as_u64)
                    .unwrap_or(8)
                    .clamp(1, 50);
                let request = SearchRequest::new(
                    u32::try_from(k).unwrap_or(8),
                    SearchMode::Hybrid,
                    argument("project"),
                );
                let hits = self
                    .runtime
                    .search(query, &request)
                    .await
                    .map_err(|error| error.to_string())?;
                Ok(codexos_runtime::hits_json(&hits))
            }
            "ask" => {
                let question = argument("question").ok_or("`question` is required")?;
                let options = AskOptions {
                    project: argument("project").map(text),
                    trace_parent,
                    ..AskOptions::default()
                };
                let answer = self
                    .runtime
                    .ask(question, &options, &|_| {}, &cancel)
                    .await
                    .map_err(|error| error.to_string())?;
                Ok(
                    json!({"answer": answer.text, "model": answer.model, "citations": answer.citations, "run": answer.run_id}),
                )
            }
            "list_projects" => self.projects(),
            "list_flows" => {
                let library = self
                    .runtime
                    .flow_library()
                    .map_err(|error| error.to_string())?;
                // A team server's files are not its clients' business.
                let team = self.team_work_folder.is_some();
                Ok(json!(library
                    .iter()
                    .map(|entry| json!({
                        "name": entry.name,
                        "path": (!team).then_some(&entry.path),
                        "description": entry.flow.as_ref().map(|flow| flow.description.clone()),
                        "error": entry.error,
                    }))
                    .collect::<Vec<_>>()))
            }
            "run_flow" => {
                let flow = argument("flow").ok_or("`flow` is required")?;
                if let Some(caller) = caller {
                    if !crate::team::plain_name(flow) {
                        return Err(format!(
                            "`{flow}` is not a flow of this workspace — name one from list_flows"
                        ));
                    }
                    (caller.may_run)(flow)?;
                }
                let path = self.flow_path(flow)?;
                let project = argument("project").map(text);
                let options = FlowRunOptions {
                    root: self.team_work_folder.clone().filter(|_| project.is_none()),
                    project,
                    approver: self.approver.clone(),
                    trace_parent,
                    ..FlowRunOptions::default()
                };
                let input = arguments.get("input").cloned().unwrap_or_else(|| json!({}));
                let outcome = self
                    .runtime
                    .run_flow_file(&path, input, options, cancel)
                    .await
                    .map_err(|error| error.to_string())?;
                Ok(json!({
                    "runId": outcome.run_id,
                    "status": outcome.status,
                    "output": outcome.output,
                    "error": outcome.error,
                    "waiting": outcome.waiting,
                }))
            }
            other => Err(format!(
                "no tool `{other}`; the tools are search, ask, list_projects, list_flows, run_flow"
            )),
        }
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("codexos", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "CodexOS: search and ask the user's ingested projects, and run their agent flows.",
            )
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        // Over HTTP the request's headers ride along (none on stdio).
        let parts = context.extensions.get::<http::request::Parts>();
        let trace_parent = parts
            .and_then(|parts| parts.headers.get("traceparent"))
            .and_then(|value| value.to_str().ok())
            .and_then(codexos_otel::TraceParent::parse)
            .map(|parent| parent.to_string());
        let caller = parts.and_then(|parts| parts.extensions.get::<McpCaller>().cloned());
        let dispatched = match (&caller, &self.team_work_folder) {
            (None, Some(_)) => Err(
                "this MCP endpoint serves signed-in callers only — send an API token".to_owned(),
            ),
            (Some(caller), _) => {
                codexos_store::audit::acting_as(
                    caller.actor.clone(),
                    self.dispatch(&request.name, &arguments, trace_parent, Some(caller)),
                )
                .await
            }
            (None, None) => {
                self.dispatch(&request.name, &arguments, trace_parent, None)
                    .await
            }
        };
        let result = match dispatched {
            Ok(value) => {
                let body = serde_json::to_string_pretty(&value).unwrap_or_default();
                let mut result = CallToolResult::success(vec![ContentBlock::text(body)]);
                result.structured_content = Some(if value.is_object() {
                    value
                } else {
                    json!({"result": value})
                });
                result
            }
            Err(message) => CallToolResult::error(vec![ContentBlock::text(message)]),
        };
        Ok(result.into())
    }
}

/// Serves MCP on standard input and output until the client disconnects.
pub async fn serve_stdio(server: McpServer) -> std::io::Result<()> {
    let running = Box::pin(server.serve(rmcp::transport::stdio()))
        .await
        .map_err(std::io::Error::other)?;
    running.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}

/// Serves MCP over streamable HTTP at `http://{address}/mcp` until `stop`.
pub async fn serve_http(
    server: McpServer,
    address: SocketAddr,
    stop: CancellationToken,
    on_ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let service = server.http_service(&stop, false);
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind(address).await?;
    on_ready(listener.local_addr()?);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}
