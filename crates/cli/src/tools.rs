//! `codexos tools …` and `codexos mcp`, and the terminal's approvals.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;
use codexos_runtime::{
    ApiConfig, Approval, ApprovalRequest, Approver, Auth, McpServerConfig as ServerConfig,
    PreApproved, Runtime, ToolsOverview,
};
use tokio_util::sync::CancellationToken;

/// `codexos tools …`.
#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// Every tool (built-ins, tools/ folders, `OpenAPI`, MCP servers) with its
    /// source and permission, then the sources and their state.
    List {
        /// Also the tools of this project's `tools/` folder.
        #[arg(long)]
        project: Option<String>,
    },
    /// Calls one tool, in the current folder (or a project's).
    Call {
        /// Tool name (`codexos tools list`).
        name: String,
        /// Arguments, a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
        /// Work in this project's folder instead of the current one.
        #[arg(long)]
        project: Option<String>,
        /// Approve the call if its permission is `ask` (never overrides `deny`).
        #[arg(long)]
        yes: bool,
    },
    /// Imports an `OpenAPI` 3 spec (file or URL): one tool per operation,
    /// `NAME.<operationId>`; added to config.toml.
    AddOpenapi {
        /// Name of the API (prefix of its tools).
        name: String,
        /// The spec: a file or an http(s) URL, JSON or YAML.
        spec: String,
        /// Base URL of the calls (default: the spec's first server).
        #[arg(long)]
        base_url: Option<String>,
        /// Vault secret sent as `Authorization: Bearer …`.
        #[arg(long, conflicts_with = "api_key")]
        bearer: Option<String>,
        /// Vault secret sent as an API key (header `X-API-Key` unless --header or --query).
        #[arg(long)]
        api_key: Option<String>,
        /// Header carrying the API key.
        #[arg(long, requires = "api_key")]
        header: Option<String>,
        /// Query parameter carrying the API key.
        #[arg(long, requires = "api_key", conflicts_with = "header")]
        query: Option<String>,
    },
    /// Adds an MCP server: started once and its tools listed first (a
    /// server that fails changes nothing), then added to config.toml:
    /// `--url URL` (streamable HTTP) or the command after `--` (stdio).
    AddMcp {
        /// Name of the server (prefix of its tools).
        name: String,
        /// Streamable-HTTP URL.
        #[arg(long, conflicts_with = "command")]
        url: Option<String>,
        /// Environment of a stdio server: `KEY=VALUE`, or `KEY=vault:SECRET`.
        #[arg(long = "env")]
        env: Vec<String>,
        /// The server's command and arguments.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Removes an `OpenAPI` spec or MCP server from config.toml (its
    /// tools go with it).
    Rm {
        /// Its name (`codexos tools list` shows the sources).
        name: String,
    },
    /// Sets the permission of a tool name or glob in `[tools.permissions]`
    /// (`default` removes the rule); in force for the next call.
    Permit {
        /// A tool name or glob (`shell`, `github.*`).
        rule: String,
        /// The level.
        #[arg(value_enum)]
        level: Level,
    },
}

/// A permission level, or `default` to remove the rule.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Level {
    /// Runs without asking.
    Allow,
    /// Asks before each call.
    Ask,
    /// Never runs.
    Deny,
    /// Remove the rule: the tool's own default applies.
    Default,
}

/// Asks on the terminal (or reads the answer from standard input) before
/// an `ask` tool runs; no answer means no.
pub struct PromptApprover;

/// One prompt at a time, even when parallel branches ask together.
static PROMPT: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[async_trait::async_trait]
impl Approver for PromptApprover {
    async fn approve(&self, request: &ApprovalRequest) -> Approval {
        let request = request.clone();
        tokio::task::spawn_blocking(move || {
            let _turn = PROMPT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let arguments = serde_json::to_string(&request.arguments).unwrap_or_default();
            let shown: String = arguments.chars().take(400).collect();
            let warning = request.untrusted.as_deref().map_or(String::new(), |why| {
                format!("\n  ! its arguments may come from untrusted content: {why}")
            });
            eprint!(
                "\n? `{}` wants to run — it {} — with {shown}{warning}\n  Allow it? [y/N] ",
                request.tool,
                request.effects.describe()
            );
            std::io::stderr().flush().ok();
            let mut answer = String::new();
            let read = std::io::stdin().lock().read_line(&mut answer);
            if !std::io::stdin().is_terminal() {
                // A piped answer is not echoed: end the prompt's line.
                eprintln!("{}", answer.trim());
            }
            match read {
                Ok(0) | Err(_) if request.untrusted.is_some() => Approval::Deny(
                    "no answer (standard input is closed), and `--yes` does not approve calls whose arguments may come from untrusted content — answer on a terminal, or allow the tool in config.toml `[tools.permissions]` if it is safe with any arguments".to_owned(),
                ),
                Ok(0) | Err(_) => {
                    Approval::Deny(
                        "no answer (standard input is closed) — rerun with `--yes`, or allow the tool in config.toml `[tools.permissions]`".to_owned(),
                    )
                }
                Ok(_) if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") => Approval::Approve,
                Ok(_) => Approval::Deny("declined by the user".to_owned()),
            }
        })
        .await
        .unwrap_or_else(|error| Approval::Deny(format!("the prompt failed: {error}")))
    }
}

/// `--yes`: approves every `ask` whose arguments come from trusted input;
/// a call that may carry untrusted content (retrieved text, tool output) is
/// still put to the terminal.
struct YesButAskUntrusted;

#[async_trait::async_trait]
impl Approver for YesButAskUntrusted {
    async fn approve(&self, request: &ApprovalRequest) -> Approval {
        if request.untrusted.is_some() {
            PromptApprover.approve(request).await
        } else {
            PreApproved.approve(request).await
        }
    }
}

/// `--yes` pre-approves what it may; else the terminal asks.
pub fn approver(yes: bool) -> Arc<dyn Approver> {
    if yes {
        Arc::new(YesButAskUntrusted)
    } else {
        Arc::new(PromptApprover)
    }
}

pub async fn tools(
    runtime: &Arc<Runtime>,
    command: ToolsCommand,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    match command {
        ToolsCommand::Permit { rule, level } => permit(runtime, &rule, level, json),
        ToolsCommand::List { project } => {
            let root = match project {
                Some(project) => Some(runtime.project_root(&project)?),
                None => std::env::current_dir().ok(),
            };
            let overview = runtime.tools_overview(root.as_deref()).await?;
            print_overview(&overview, json)
        }
        ToolsCommand::Call {
            name,
            args,
            project,
            yes,
        } => call(runtime, &name, &args, project, yes, json, cancel).await,
        ToolsCommand::AddOpenapi {
            name,
            spec,
            base_url,
            bearer,
            api_key,
            header,
            query,
        } => {
            let auth = match (bearer, api_key) {
                (Some(secret), _) => Some(Auth::Bearer { secret }),
                (None, Some(secret)) => Some(Auth::ApiKey {
                    secret,
                    header,
                    query,
                }),
                (None, None) => None,
            };
            let api = ApiConfig {
                name,
                spec,
                base_url,
                auth,
                permission: None,
                timeout: None,
            };
            print_added(&runtime.add_openapi(api).await?, json);
            Ok(())
        }
        ToolsCommand::AddMcp {
            name,
            url,
            env,
            command,
        } => {
            let variables = codexos_runtime::mcp_env(&env)?;
            let server = ServerConfig {
                name,
                command: (!command.is_empty()).then_some(command),
                url,
                env: variables,
                bearer: None,
                timeout: None,
                permission: None,
            };
            print_added(&runtime.add_mcp(server).await?, json);
            Ok(())
        }
        ToolsCommand::Rm { name } => {
            runtime.remove_tool_source(&name).await?;
            if json {
                println!("{}", serde_json::json!({ "removed": name }));
            } else {
                println!("removed {name} and its tools from config.toml");
            }
            Ok(())
        }
    }
}

/// The tools a new source brought.
fn print_added(tools: &[String], json: bool) {
    if json {
        println!("{}", serde_json::json!({ "tools": tools }));
    } else {
        println!("added {} tools: {}", tools.len(), tools.join(", "));
    }
}

fn print_overview(overview: &ToolsOverview, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(overview)?);
        return Ok(());
    }
    let width = overview
        .tools
        .iter()
        .map(|tool| tool.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let source_width = overview
        .tools
        .iter()
        .map(|tool| tool.source.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "{:width$}  {:source_width$}  {:10}  DESCRIPTION",
        "NAME", "SOURCE", "PERMISSION"
    );
    for tool in &overview.tools {
        let description: String = tool.description.chars().take(70).collect();
        println!(
            "{:width$}  {:source_width$}  {:10}  {description}",
            tool.name,
            tool.source,
            tool.permission.to_string()
        );
    }
    println!();
    for source in &overview.sources {
        let state = match &source.state {
            codexos_runtime::ToolSourceState::Ready => {
                format!("ready, {} tools", source.tools.len())
            }
            codexos_runtime::ToolSourceState::Starting => "starting".to_owned(),
            codexos_runtime::ToolSourceState::Failed(message) => format!("failed: {message}"),
            codexos_runtime::ToolSourceState::Restarting(message) => {
                format!("restarting: {message}")
            }
            codexos_runtime::ToolSourceState::Stopped => "stopped".to_owned(),
        };
        println!("source {}: {state}", source.name);
        for problem in &source.problems {
            println!("  skipped: {problem}");
        }
    }
    println!("sandbox: {}", overview.sandbox);
    Ok(())
}

/// `codexos mcp`: CodexOS as an MCP server on stdio, or on HTTP with `--port`.
pub async fn mcp(
    runtime: &Arc<Runtime>,
    port: Option<u16>,
    host: &str,
    yes: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let approver: Option<Arc<dyn Approver>> =
        yes.then(|| Arc::new(PreApproved) as Arc<dyn Approver>);
    let server = codexos_server::mcp::McpServer::new(Arc::clone(runtime), approver);
    runtime.start_tools();
    match port {
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!("codexos mcp speaks MCP on standard input/output; start it from an MCP client (see the README), or use --port for HTTP");
            }
            codexos_server::mcp::serve_stdio(server).await?;
        }
        Some(port) => {
            let address: std::net::SocketAddr = format!("{host}:{port}").parse()?;
            codexos_server::mcp::serve_http(server, address, cancel.clone(), |address| {
                eprintln!("MCP on http://{address}/mcp");
            })
            .await?;
        }
    }
    runtime.stop_tools();
    Ok(())
}

/// `codexos tools permit RULE LEVEL`.
fn permit(runtime: &Runtime, rule: &str, level: Level, json: bool) -> anyhow::Result<()> {
    let permission = match level {
        Level::Allow => Some(codexos_runtime::Permission::Allow),
        Level::Ask => Some(codexos_runtime::Permission::Ask),
        Level::Deny => Some(codexos_runtime::Permission::Deny),
        Level::Default => None,
    };
    runtime.set_tool_permission(rule, permission)?;
    if json {
        return crate::render::print_json(&runtime.tool_permissions());
    }
    match permission {
        Some(level) => {
            println!("`{rule}` is now {level} (config.toml [tools.permissions])");
        }
        None => println!("removed the rule for `{rule}`: its default applies"),
    }
    Ok(())
}

/// `codexos tools call NAME --args JSON`.
async fn call(
    runtime: &Arc<Runtime>,
    name: &str,
    args: &str,
    project: Option<String>,
    yes: bool,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let arguments: serde_json::Value = serde_json::from_str(args).map_err(|error| {
        anyhow::anyhow!(
            "--args is not JSON ({error}); give an object, like '{{\"path\": \"README.md\"}}'"
        )
    })?;
    let root: PathBuf = match project {
        Some(project) => runtime.project_root(&project)?,
        None => std::env::current_dir()?,
    };
    let result = runtime
        .call_tool(name, arguments, root, approver(yes), cancel.clone())
        .await?;
    match (&result, json) {
        (serde_json::Value::String(text), false) => println!("{text}"),
        _ => println!("{}", serde_json::to_string_pretty(&result)?),
    }
    Ok(())
}
