//! MCP servers as tool sources (the client side; `codexos mcp`, the server
//! side, lives in `codexos-server`). A server is a command speaking MCP on
//! stdio or a streamable-HTTP URL. Each configured server is supervised:
//! started, its tools listed into the registry as `<server>.<tool>`,
//! restarted with backoff when it exits or cannot be reached (its tools
//! leave the registry meanwhile, and the source's state says why), and
//! stopped when the app stops. Calls have a time limit; a server that
//! hangs, crashes or speaks invalid JSON-RPC fails the call with the
//! server's name and what happened, never the app.
//!
//! Servers run as their own programs, outside the sandbox (they are
//! configured by the user, like an editor's MCP servers); their tools ask
//! before each call unless the config says otherwise. Offline mode holds for
//! them too: while it is on, a stdio server runs in a network namespace of
//! its own (no network; bubblewrap) or is not started when that cannot be
//! done, and an HTTP server is not reached. Each server is restarted when
//! the switch moves, so the app's switch takes effect at once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rmcp::model::{CallToolRequestParams, ContentBlock};
use rmcp::service::{Peer, RoleClient, RunningService};
use rmcp::ServiceExt as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncBufReadExt as _;
use tokio_util::sync::CancellationToken;

use crate::folder::EnvValue;
use crate::references::Revealed;
use crate::registry::{Registry, SourceState};
use crate::tool::{CallContext, Effects, Permission, Secrets, Tool, ToolInfo};
use crate::{Error, Result};

/// One MCP server (`[[tools.mcp]]` in config.toml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Name; its tools are `<name>.<tool>`.
    pub name: String,
    /// Program and arguments of a stdio server.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// URL of a streamable-HTTP server.
    #[serde(default)]
    pub url: Option<String>,
    /// Environment of a stdio server: text or `{ vault = "NAME" }`.
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
    /// Vault secret sent as `Authorization: Bearer …` to an HTTP server.
    #[serde(default)]
    pub bearer: Option<String>,
    /// Time limit of one call, seconds (default 60).
    #[serde(default)]
    pub timeout: Option<u64>,
    /// Level of its tools (default `ask`).
    #[serde(default)]
    pub permission: Option<Permission>,
}

impl ServerConfig {
    /// Refuses a pasted key in `env` or `bearer` (they take vault names).
    pub fn check_secrets(&self) -> Result<()> {
        let refuse = |field: String, suggested: &str| {
            Err(self.failed(crate::references::pasted_key_message(&field, suggested)))
        };
        if let Some(key) = crate::folder::pasted_key(&self.env) {
            return refuse(format!("env `{key}`"), key);
        }
        if self
            .bearer
            .as_deref()
            .is_some_and(crate::references::looks_like_key)
        {
            return refuse(
                "`bearer`".to_owned(),
                &format!("{}_TOKEN", self.name.to_uppercase()),
            );
        }
        Ok(())
    }

    /// The registry source name.
    #[must_use]
    pub fn source(&self) -> String {
        format!("mcp:{}", self.name)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.unwrap_or(60).max(1))
    }

    fn failed(&self, message: impl Into<String>) -> Error {
        Error::Mcp {
            server: self.name.clone(),
            message: message.into(),
        }
    }

    fn is_local(&self) -> bool {
        self.url.as_deref().is_none_or(|url| {
            let host = url
                .split("://")
                .nth(1)
                .unwrap_or(url)
                .split(['/', ':'])
                .next()
                .unwrap_or("");
            matches!(host, "127.0.0.1" | "localhost" | "[::1]")
        })
    }
}

type Service = RunningService<RoleClient, ()>;

/// Last lines a stdio server wrote to stderr, for crash reports.
#[derive(Clone, Default)]
struct StderrTail(Arc<Mutex<Vec<String>>>);

impl StderrTail {
    fn push(&self, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        lines.push(line);
        let excess = lines.len().saturating_sub(5);
        lines.drain(..excess);
    }

    fn text(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.is_empty() {
            String::new()
        } else {
            format!(" — its last output: {}", lines.join(" | "))
        }
    }
}

/// The secrets a server is started with (env, bearer), to take back out of
/// whatever it says: tool results and the stderr lines errors quote.
fn server_secrets(config: &ServerConfig, secrets: &dyn Secrets) -> Result<Revealed> {
    let mut names = crate::folder::vault_names(&config.env);
    names.extend(config.bearer.clone());
    Revealed::fetch(&config.source(), &names, secrets)
}

/// What the source's state says of a server started while offline.
pub const OFFLINE_NOTE: &str = "offline mode: running in a network namespace without network";

async fn connect(
    config: &ServerConfig,
    tail: &StderrTail,
    revealed: &Arc<Revealed>,
    offline: bool,
) -> Result<Service> {
    // Fetched by `server_secrets`, so every name is there.
    let resolve = |name: &str| {
        revealed.value(name).ok_or_else(|| Error::Secret {
            tool: config.source(),
            name: name.to_owned(),
            message: "not fetched from the vault".to_owned(),
        })
    };
    let starting = async {
        match (&config.command, &config.url) {
            (Some(command), None) => {
                let (program, args) = command
                    .split_first()
                    .ok_or_else(|| config.failed("`command` is empty"))?;
                // Said plainly before bubblewrap would say it its own way.
                if !on_path(program) {
                    return Err(config.failed(format!(
                        "cannot start `{program}`: no such program (give its full path, or install it)"
                    )));
                }
                // Contained where bubblewrap works, so a restart leaves no
                // child behind; offline, that is the only way it may run.
                let (program, args) = match crate::sandbox::contained(program, args, offline) {
                    Ok(wrapped) => wrapped,
                    Err(reason) if offline => {
                        return Err(config.failed(format!(
                            "offline mode is on and this stdio server cannot be cut off from \
                             the network here, so it was not started: {reason}"
                        )));
                    }
                    Err(_) => (program.clone(), args.to_vec()),
                };
                let program = &program;
                let mut process = tokio::process::Command::new(program);
                // The vault's passphrase (CI runners) is never a server's business.
                process
                    .args(args)
                    .kill_on_drop(true)
                    .env_remove("CODEXOS_VAULT_PASSPHRASE");
                if offline {
                    // The session bus could start a process outside the namespace.
                    process.env_remove("DBUS_SESSION_BUS_ADDRESS");
                }
                for (key, value) in &config.env {
                    match value {
                        EnvValue::Text(text) => process.env(key, text),
                        EnvValue::Vault { vault } => {
                            use secrecy::ExposeSecret as _;
                            process.env(key, resolve(vault)?.expose_secret())
                        }
                    };
                }
                let (transport, stderr) = rmcp::transport::TokioChildProcess::builder(process)
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .map_err(|error| config.failed(format!("cannot start `{program}`: {error}")))?;
                if let Some(stderr) = stderr {
                    let tail = tail.clone();
                    let revealed = Arc::clone(revealed);
                    tokio::spawn(async move {
                        let mut lines = tokio::io::BufReader::new(stderr).lines();
                        while let Ok(Some(line)) = lines.next_line().await {
                            tail.push(revealed.redact_text(&line));
                        }
                    });
                }
                ().serve(transport).await.map_err(|error| {
                    config.failed(format!("it did not start MCP: {error}{}", tail.text()))
                })
            }
            (None, Some(url)) => {
                if offline {
                    return Err(config.failed(format!(
                        "offline mode is on, so the server at `{url}` was not reached"
                    )));
                }
                codexos_net::check(&format!("the MCP server `{url}`"))
                    .map_err(|refused| config.failed(refused.to_string()))?;
                install_crypto();
                let mut transport_config =
                    rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(url.as_str());
                if let Some(name) = &config.bearer {
                    use secrecy::ExposeSecret as _;
                    transport_config = transport_config.auth_header(resolve(name)?.expose_secret());
                }
                let transport =
                    rmcp::transport::StreamableHttpClientTransport::from_config(transport_config);
                ().serve(transport)
                    .await
                    .map_err(|error| config.failed(format!("cannot reach `{url}`: {error}")))
            }
            _ => Err(config.failed("give either `command` (stdio) or `url` (streamable HTTP)")),
        }
    };
    tokio::time::timeout(config.timeout().min(Duration::from_secs(30)), starting)
        .await
        .map_err(|_| {
            config.failed(format!(
                "it did not answer `initialize` in time{}",
                tail.text()
            ))
        })?
}

/// rustls needs a process-wide crypto provider for HTTPS servers.
fn install_crypto() {
    // Fails only when one is installed already, which is what we want.
    rustls::crypto::ring::default_provider()
        .install_default()
        .ok();
}

/// A tool of an MCP server.
struct McpTool {
    info: ToolInfo,
    remote: String,
    server: String,
    peer: Peer<RoleClient>,
    timeout: Duration,
    /// The server's own secrets, taken out of its answers.
    revealed: Arc<Revealed>,
}

#[async_trait]
impl Tool for McpTool {
    fn info(&self) -> &ToolInfo {
        &self.info
    }

    async fn call(&self, arguments: Value, _: &CallContext) -> Result<Value> {
        let result = self.ask(arguments).await;
        self.revealed.redact(result, &self.info.name)
    }
}

impl McpTool {
    async fn ask(&self, arguments: Value) -> Result<Value> {
        let failed = |message: String| Error::Failed {
            tool: self.info.name.clone(),
            message: format!("MCP server `{}`: {message}", self.server),
        };
        let mut request = CallToolRequestParams::new(self.remote.clone());
        if let Value::Object(object) = arguments {
            request = request.with_arguments(object);
        }
        let result = tokio::time::timeout(self.timeout, self.peer.call_tool(request))
            .await
            .map_err(|_| Error::TimedOut {
                tool: self.info.name.clone(),
                seconds: self.timeout.as_secs(),
            })?
            .map_err(|error| failed(format!("{error} (it will be restarted if it stopped)")))?;
        let texts: Vec<String> = result
            .content
            .iter()
            .map(|block| match block {
                ContentBlock::Text(text) => text.text.clone(),
                ContentBlock::Image(_) => "[image]".to_owned(),
                ContentBlock::Audio(_) => "[audio]".to_owned(),
                ContentBlock::Resource(_) => "[resource]".to_owned(),
                ContentBlock::ResourceLink(link) => format!("[resource {}]", link.uri),
                _ => "[content]".to_owned(),
            })
            .collect();
        if result.is_error == Some(true) {
            return Err(failed(texts.join("\n")));
        }
        Ok(result
            .structured_content
            .unwrap_or_else(|| Value::String(texts.join("\n"))))
    }
}

async fn list_tools(
    config: &ServerConfig,
    service: &Service,
    revealed: &Arc<Revealed>,
) -> Result<Vec<Arc<dyn Tool>>> {
    let listed = tokio::time::timeout(config.timeout(), service.peer().list_all_tools())
        .await
        .map_err(|_| config.failed("`tools/list` timed out"))?
        .map_err(|error| config.failed(format!("`tools/list` failed: {error}")))?;
    let effects = Effects {
        writes: true,
        runs_code: true,
        network: !config.is_local(),
    };
    Ok(listed
        .into_iter()
        .map(|tool| {
            let mut info = ToolInfo::new(
                &format!("{}.{}", config.name, tool.name),
                tool.description.as_deref().unwrap_or(""),
                Value::Object((*tool.input_schema).clone()),
                effects,
            );
            info.source = config.source();
            info.permission = config.permission.unwrap_or(Permission::Ask);
            Arc::new(McpTool {
                info,
                remote: tool.name.to_string(),
                server: config.name.clone(),
                peer: service.peer().clone(),
                timeout: config.timeout(),
                revealed: Arc::clone(revealed),
            }) as Arc<dyn Tool>
        })
        .collect())
}

/// Starts the server once, lists its tools and stops it again: what
/// adding a server checks before anything is saved. Answers the tools'
/// names (`<name>.<tool>`); the error says why the server cannot be used
/// (program not found, no answer, `tools/list` failed, with its stderr).
pub async fn probe(
    config: &ServerConfig,
    secrets: &dyn Secrets,
    offline: bool,
) -> Result<Vec<String>> {
    let revealed = Arc::new(server_secrets(config, secrets)?);
    let tail = StderrTail::default();
    let service = match connect(config, &tail, &revealed, offline).await {
        Ok(service) => service,
        Err(Error::Mcp { server, message }) => {
            return Err(Error::Mcp {
                server,
                message: format!("{message}{}", tail.text()),
            })
        }
        Err(error) => return Err(error),
    };
    let listed = list_tools(config, &service, &revealed).await;
    service.cancellation_token().cancel();
    Ok(listed?
        .iter()
        .map(|tool| tool.info().name.clone())
        .collect())
}

/// Supervises one server until `cancel`: connects, registers its tools,
/// and restarts it (backoff 1 s doubling to 60 s) whenever it stops — and at
/// once whenever `offline` (the switch, [`codexos_net::watch_offline`])
/// moves, so a server started online never runs on into offline mode.
pub fn supervise(
    registry: Arc<Registry>,
    config: ServerConfig,
    secrets: Arc<dyn Secrets>,
    mut offline: tokio::sync::watch::Receiver<bool>,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    // Starting from now, so whoever waits for the sources waits for this one.
    registry.set_state(&config.source(), SourceState::Starting);
    tokio::spawn(async move {
        let source = config.source();
        let mut failures: u32 = 0;
        loop {
            registry.set_state(&source, SourceState::Starting);
            let tail = StderrTail::default();
            let offline_now = *offline.borrow_and_update();
            let started = match server_secrets(&config, secrets.as_ref()) {
                Ok(revealed) => {
                    let revealed = Arc::new(revealed);
                    connect(&config, &tail, &revealed, offline_now)
                        .await
                        .map(|service| (service, revealed))
                }
                Err(error) => Err(error),
            };
            let problem = match started {
                Ok((service, revealed)) => match list_tools(&config, &service, &revealed).await {
                    Ok(tools) => {
                        failures = 0;
                        let notes = if offline_now {
                            vec![OFFLINE_NOTE.to_owned()]
                        } else {
                            Vec::new()
                        };
                        registry.set_source(&source, SourceState::Ready, tools, notes);
                        let stop = service.cancellation_token();
                        let quit = tokio::select! {
                            quit = service.waiting() => quit,
                            () = switched(&mut offline, offline_now) => {
                                stop.cancel();
                                tracing::info!("MCP server `{}`: offline mode switched; restarting it", config.name);
                                continue;
                            }
                            () = cancel.cancelled() => {
                                stop.cancel();
                                registry.set_state(&source, SourceState::Stopped);
                                return;
                            }
                        };
                        format!("it stopped ({quit:?}){}", tail.text())
                    }
                    Err(error) => error.to_string(),
                },
                Err(error) => error.to_string(),
            };
            failures += 1;
            let wait = Duration::from_secs(1 << failures.min(6)).min(Duration::from_mins(1));
            tracing::warn!(
                "MCP server `{}`: {problem}; restarting in {} s",
                config.name,
                wait.as_secs()
            );
            registry.set_state(
                &source,
                SourceState::Restarting(format!("{problem}; restarting in {} s", wait.as_secs())),
            );
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = switched(&mut offline, offline_now) => {}
                () = cancel.cancelled() => {
                    registry.set_state(&source, SourceState::Stopped);
                    return;
                }
            }
        }
    })
}

/// Resolves when the offline switch leaves `was`; never when its sender is
/// gone (the switch then stays where it is).
async fn switched(offline: &mut tokio::sync::watch::Receiver<bool>, was: bool) {
    if offline.wait_for(|now| *now != was).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Whether `program` names an executable file: a path, or a name found on
/// `PATH`.
fn on_path(program: &str) -> bool {
    let executable = |path: &std::path::Path| {
        path.metadata().is_ok_and(|meta| {
            #[cfg(unix)]
            let runnable = {
                use std::os::unix::fs::PermissionsExt as _;
                meta.permissions().mode() & 0o111 != 0
            };
            #[cfg(not(unix))]
            let runnable = true;
            meta.is_file() && runnable
        })
    };
    if program.contains('/') {
        return executable(std::path::Path::new(program));
    }
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|folder| executable(&folder.join(program)))
    })
}
