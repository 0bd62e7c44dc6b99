//! CodexOS as an MCP server (`codexos mcp`): other assistants (Claude
//! Desktop, Cursor, Codex, any MCP client) search and ask the ingested
//! projects and run flows. Tools: `search`, `ask`, `list_projects`,
//! `list_flows`, `run_flow`. Served over stdio ([`serve_stdio`]) or
//! streamable HTTP on 127.0.0.1 ([`serve_http`]).
//!
//! A flow run from here has nobody to approve its `ask` tools: they are
//! refused unless the server was started with an approver that allows them
//! (`codexos mcp --yes`).

use std::net::SocketAddr;
use std::sync::Arc;

use codexos_runtime::{Approver, AskOptions, FlowRunOptions, Runtime, SearchMode, SearchRequest};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler, ServiceExt as _};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// The MCP server over one runtime.
#[derive(Clone)]
pub struct McpServer {
    runtime: Arc<Runtime>,
    approver: Option<Arc<dyn Approver>>,
}

impl McpServer {
    /// A server; `approver` answers the `ask` tools of flows it runs.
    #[must_use]
    pub fn new(runtime: Arc<Runtime>, approver: Option<Arc<dyn Approver>>) -> Self {
        Self { runtime, approver }
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
    /// `trace_parent`: the W3C `traceparent` of the HTTP request (a run it
    /// starts joins that trace).
    async fn dispatch(
        &self,
        name: &str,
        arguments: &Value,
        trace_parent: Option<String>,
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
            "list_projects" => {
                let projects = self.runtime.projects().map_err(|error| error.to_string())?;
                Ok(json!(projects))
            }
            "list_flows" => {
                let library = self
                    .runtime
                    .flow_library()
                    .map_err(|error| error.to_string())?;
                Ok(json!(library
                    .iter()
                    .map(|entry| json!({
                        "name": entry.name,
                        "path": entry.path,
                        "description": entry.flow.as_ref().map(|flow| flow.description.clone()),
                        "error": entry.error,
                    }))
                    .collect::<Vec<_>>()))
            }
            "run_flow" => {
                let flow = argument("flow").ok_or("`flow` is required")?;
                let path = self
                    .runtime
                    .find_flow(flow)
                    .map_err(|error| error.to_string())?;
                let options = FlowRunOptions {
                    project: argument("project").map(text),
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
        let trace_parent = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.headers.get("traceparent"))
            .and_then(|value| value.to_str().ok())
            .and_then(codexos_otel::TraceParent::parse)
            .map(|parent| parent.to_string());
        let result = match self.dispatch(&request.name, &arguments, trace_parent).await {
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
    let running = server
        .serve(rmcp::transport::stdio())
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
    use rmcp::transport::streamable_http_server::{
        session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
    };
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_cancellation_token(stop.child_token()),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind(address).await?;
    on_ready(listener.local_addr()?);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}
