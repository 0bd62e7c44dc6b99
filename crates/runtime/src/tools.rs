//! The data home's tools: the built-ins, `rag.search` (here, since it needs
//! the RAG engine), the data home's `tools/` folder (trusted, watched), a
//! project's `tools/` folder (untrusted, read when a run uses it), and the
//! `OpenAPI` specs and MCP servers of config.toml (`[tools]`), started on
//! first use and stopped with the runtime.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use codexos_tools::{
    builtin, folder, mcp, openapi, Approver, CallContext, Effects, Permission, Policy, Registry,
    Secrets, SourceInfo, SourceState, Tool, ToolEntry, ToolInfo,
};
use schemars::JsonSchema;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::{Error, Result, Runtime, SearchMode, SearchRequest};

/// The config's permission rules and the file's mtime when they were read.
#[derive(Debug)]
pub(crate) struct PermissionCache {
    rules: BTreeMap<String, Permission>,
    modified: Option<FileStamp>,
}

/// What tells that the config file changed: its mtime alone misses two
/// writes within the clock's tick, so also its size and (Unix) its inode —
/// config writes replace the file, so each gets a new one.
type FileStamp = (Option<std::time::SystemTime>, u64, u64);

fn modified(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok(), meta.len(), inode))
}

impl PermissionCache {
    pub(crate) fn new(path: &Path, config: &crate::config::Config) -> Self {
        Self {
            rules: config.tools.permissions.clone(),
            modified: modified(path),
        }
    }

    /// Reads the rules again when the file changed.
    fn refresh(&mut self, path: &Path) {
        let now = modified(path);
        if now == self.modified {
            return;
        }
        match crate::config::Config::load_or_create(path) {
            Ok(config) => {
                self.rules = config.tools.permissions;
                self.modified = now;
            }
            Err(error) => {
                tracing::warn!(%error, "config.toml changed but does not parse; the last tool permissions stay in force");
            }
        }
    }
}

/// `[tools]` in config.toml.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolsConfig {
    /// Permission rules: a tool name or glob → `allow`, `ask` or `deny`.
    pub permissions: BTreeMap<String, Permission>,
    /// Run program tools without the sandbox where none is available
    /// (macOS, Windows, Linux without bubblewrap). Off: they refuse.
    pub unconfined: bool,
    /// MCP servers (`[[tools.mcp]]`).
    pub mcp: Vec<mcp::ServerConfig>,
    /// `OpenAPI` specs (`[[tools.openapi]]`).
    pub openapi: Vec<openapi::ApiConfig>,
}

/// The example tools copied into a new data home's `tools/` folder.
const EXAMPLE_TOOLS: [(&str, &str); 5] = [
    (
        "line-count/tool.toml",
        include_str!("../../../tools/line-count/tool.toml"),
    ),
    (
        "todos/tool.toml",
        include_str!("../../../tools/todos/tool.toml"),
    ),
    (
        "todos/todos.py",
        include_str!("../../../tools/todos/todos.py"),
    ),
    (
        "sqlite-query/tool.toml",
        include_str!("../../../tools/sqlite-query/tool.toml"),
    ),
    (
        "sqlite-query/query.py",
        include_str!("../../../tools/sqlite-query/query.py"),
    ),
];

/// The registry and what keeps its sources alive.
pub(crate) struct ToolHost {
    /// Read through [`Runtime::registry`], which loads the data home's
    /// `tools/` on first use (not at open: most commands never need tools).
    registry: Arc<Registry>,
    home_loaded: std::sync::Once,
    started: std::sync::Once,
    stop: CancellationToken,
    /// The specs and servers configured now.
    configured: std::sync::Mutex<Configured>,
}

/// The `OpenAPI` specs and MCP servers configured now: config.toml's at
/// open, plus those added and less those removed since.
struct Configured {
    mcp: Vec<mcp::ServerConfig>,
    openapi: Vec<openapi::ApiConfig>,
    /// Whether [`Runtime::start_tools`] ran: from then on a source added is
    /// started at once (before, `start_tools` starts it with the others).
    started: bool,
    /// What stops each MCP server's supervisor, and the supervisor, by name.
    stops: std::collections::HashMap<String, Supervisor>,
}

impl Configured {
    fn names(&self) -> impl Iterator<Item = &str> {
        self.mcp
            .iter()
            .map(|server| server.name.as_str())
            .chain(self.openapi.iter().map(|api| api.name.as_str()))
    }
}

/// What stops an MCP server's supervisor, and the supervisor's task.
type Supervisor = (CancellationToken, tokio::task::JoinHandle<()>);

/// A configured `OpenAPI` spec or MCP server, as Settings → Tools lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConfiguredSource {
    /// Its name (prefix of its tools).
    pub name: String,
    /// `openapi` or `mcp`.
    pub kind: String,
    /// The registry source (`openapi:NAME`, `mcp:NAME`), for its state.
    pub source: String,
    /// The spec (file or URL), the server's URL, or its command line.
    pub target: String,
}

impl ToolHost {
    pub(crate) fn new(runtime: Weak<Runtime>, config: &ToolsConfig) -> Self {
        let registry = Registry::new();
        builtin::register(&registry);
        registry.set_source(
            "runtime",
            SourceState::Ready,
            vec![Arc::new(RagSearch::new(runtime))],
            Vec::new(),
        );
        Self {
            registry,
            home_loaded: std::sync::Once::new(),
            started: std::sync::Once::new(),
            stop: CancellationToken::new(),
            configured: std::sync::Mutex::new(Configured {
                mcp: config.mcp.clone(),
                openapi: config.openapi.clone(),
                started: false,
                stops: std::collections::HashMap::new(),
            }),
        }
    }

    fn configured(&self) -> std::sync::MutexGuard<'_, Configured> {
        self.configured
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for ToolHost {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Vault secrets for tools, by name, at call time.
struct VaultSecrets(Weak<Runtime>);

impl Secrets for VaultSecrets {
    fn secret(&self, name: &str) -> std::result::Result<SecretString, String> {
        let runtime = self.0.upgrade().ok_or("CodexOS is shutting down")?;
        runtime
            .secret_for(name, "tool")
            .map_err(|error| error.to_string())
    }
}

/// Every tool and source, for `tools list` and Settings → Tools.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ToolsOverview {
    /// Sources and their state.
    pub sources: Vec<SourceInfo>,
    /// Tools with the permission they run at.
    pub tools: Vec<ToolRow>,
    /// Whether programs run in the sandbox here (and why not).
    pub sandbox: String,
    /// The `OpenAPI` specs and MCP servers of config.toml (removable).
    pub configured: Vec<ConfiguredSource>,
}

/// One tool in a listing.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ToolRow {
    /// Name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Source.
    pub source: String,
    /// Level under the config's policy.
    pub permission: Permission,
    /// What it can do.
    pub effects: Effects,
    /// JSON Schema of its arguments.
    #[specta(type = codexos_flow::JsonValue)]
    pub parameters: Value,
}

impl From<ToolEntry> for ToolRow {
    fn from(entry: ToolEntry) -> Self {
        Self {
            name: entry.name,
            description: entry.description,
            source: entry.source,
            permission: entry.permission,
            effects: entry.effects,
            parameters: entry.parameters,
        }
    }
}

/// How a call is approved: who answers `ask`, and extra rules (a flow's).
#[derive(Clone)]
pub struct ToolAccess {
    /// Policy: config rules, then the flow's.
    pub(crate) policy: Policy,
    /// Who answers `ask`.
    pub(crate) approver: Arc<dyn Approver>,
}

impl Runtime {
    /// The registry.
    pub(crate) fn registry(&self) -> &Arc<Registry> {
        self.tools.home_loaded.call_once(|| self.load_home_tools());
        &self.tools.registry
    }

    /// Copies the example tools into the data home's `tools/` folder (once:
    /// only when the folder does not exist yet).
    pub(crate) fn install_example_tools(&self) -> Result<()> {
        let folder = self.home.tools();
        if folder.exists() {
            return Ok(());
        }
        for (file, text) in EXAMPLE_TOOLS {
            let path = folder.join(file);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| Error::Home {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&path, text).map_err(|source| Error::Home { path, source })?;
        }
        Ok(())
    }

    /// Installs the example tools in a new data home, then reads its
    /// `tools/` folder (watching it starts with [`Self::start_tools`]).
    fn load_home_tools(&self) {
        if let Err(error) = self.install_example_tools() {
            tracing::warn!("cannot install the example tools: {error}");
        }
        folder::load(&self.tools.registry, &self.home.tools(), true);
    }

    /// Starts the tool sources that run in the background (once): the
    /// watch on the data home's `tools/`, the `OpenAPI` specs and the MCP
    /// servers. Needs a tokio runtime.
    pub fn start_tools(self: &Arc<Self>) {
        self.tools.started.call_once(|| {
            let registry = Arc::clone(self.registry());
            let stop = self.tools.stop.clone();
            if let Err(error) = folder::watch(
                Arc::clone(&registry),
                vec![(self.home.tools(), true)],
                stop.clone(),
            ) {
                tracing::warn!("{error}");
                folder::load(&registry, &self.home.tools(), true);
            }
            let mut configured = self.tools.configured();
            configured.started = true;
            for server in configured.mcp.clone() {
                let name = server.name.clone();
                let supervisor = self.supervise_mcp(server);
                configured.stops.insert(name, supervisor);
            }
            for api in configured.openapi.clone() {
                let registry = Arc::clone(&registry);
                let offline = self.offline();
                let name = api.name.clone();
                registry.set_state(&format!("openapi:{name}"), SourceState::Starting);
                let task =
                    tokio::spawn(async move { openapi::register(&registry, &api, offline).await });
                configured
                    .stops
                    .insert(name, (self.tools.stop.child_token(), task));
            }
        });
    }

    /// Starts supervising an MCP server.
    fn supervise_mcp(self: &Arc<Self>, server: mcp::ServerConfig) -> Supervisor {
        let stop = self.tools.stop.child_token();
        let secrets: Arc<dyn Secrets> = Arc::new(VaultSecrets(Arc::downgrade(self)));
        let task = mcp::supervise(
            Arc::clone(self.registry()),
            server,
            secrets,
            codexos_net::watch_offline(),
            stop.clone(),
        );
        (stop, task)
    }

    /// Stops the MCP servers and the folder watch.
    pub fn stop_tools(&self) {
        self.tools.stop.cancel();
    }

    /// Waits (at most `limit`) until no source is still starting.
    pub async fn tools_ready(self: &Arc<Self>, limit: Duration) {
        self.start_tools();
        let started = Instant::now();
        while started.elapsed() < limit
            && self
                .registry()
                .sources()
                .iter()
                .any(|source| source.state == SourceState::Starting)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Before a run in `root`: the background sources ready (a few seconds
    /// at most) and the project's own tools read.
    pub(crate) async fn prepare_tools(self: &Arc<Self>, root: &Path) {
        self.tools_ready(Duration::from_secs(10)).await;
        self.load_project_tools(root);
    }

    /// Reads a project's own `tools/` folder (untrusted: its tools ask).
    pub(crate) fn load_project_tools(&self, root: &Path) {
        let folder = root.join("tools");
        if folder.join(".").is_dir() && folder != self.home.tools() {
            folder::load(self.registry(), &folder, false);
        }
    }

    /// The config's permission rules, then `extra` (a flow's).
    pub(crate) fn tool_policy(
        &self,
        extra: &BTreeMap<String, Permission>,
        origin: &str,
    ) -> Result<Policy> {
        let mut policy = Policy::default();
        let rules = self.tool_permissions();
        policy
            .extend(&rules, "config.toml [tools.permissions]")
            .and_then(|()| policy.extend(extra, origin))
            .map_err(|message| Error::Config {
                path: self.home.config(),
                message,
                line: None,
            })?;
        Ok(policy)
    }

    /// The permission rules of config.toml's `[tools.permissions]`, as
    /// they apply now (a tool name or glob → level). The file is read again
    /// when it changed since (the CLI's `tools permit`, an editor); a file
    /// that no longer parses keeps the last rules that did, with a warning.
    #[must_use]
    pub fn tool_permissions(&self) -> BTreeMap<String, Permission> {
        let mut cache = self
            .permissions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.refresh(&self.home.config());
        cache.rules.clone()
    }

    /// Sets the permission rule for `rule` (a tool name or glob), or removes
    /// it (`None`): written to config.toml (comments kept) and in force for
    /// every call from now on. A bad glob changes nothing.
    pub fn set_tool_permission(&self, rule: &str, permission: Option<Permission>) -> Result<()> {
        let rule = rule.trim();
        let path = self.home.config();
        let config_error = |message: String| Error::Config {
            path: path.clone(),
            message,
            line: None,
        };
        if rule.is_empty() {
            return Err(config_error(
                "a permission rule needs a tool name or glob (`fs.write`, `github.*`)".to_owned(),
            ));
        }
        // Held from reading the rules to storing them: two changes at once
        // (the app and the CLI in one process) cannot lose one.
        let mut cache = self
            .permissions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.refresh(&path);
        let mut rules = cache.rules.clone();
        match permission {
            Some(level) => {
                rules.insert(rule.to_owned(), level);
            }
            None => {
                if rules.remove(rule).is_none() {
                    return Err(config_error(format!(
                        "no permission rule `{rule}` in [tools.permissions] — the rules are listed in Settings → Tools and in config.toml"
                    )));
                }
            }
        }
        Policy::default()
            .extend(&rules, "the new rule")
            .map_err(config_error)?;
        crate::config::write_tool_permission(&path, rule, permission)?;
        cache.rules = rules;
        cache.modified = modified(&path);
        self.audited("tool.permission", rule, serde_json::json!({ "permission": permission.map(|permission| format!("{permission:?}").to_lowercase()) }));
        Ok(())
    }

    /// The context of calls working in `root`.
    pub(crate) fn call_context(
        self: &Arc<Self>,
        root: PathBuf,
        cancel: CancellationToken,
    ) -> CallContext {
        let mut context = CallContext::new(root);
        context.offline = self.offline();
        context.secrets = Arc::new(VaultSecrets(Arc::downgrade(self)));
        context.protected = vec![self.home.root().to_path_buf()];
        context.unconfined = self.config.tools.unconfined;
        context.cancel = cancel;
        context
    }

    /// Every source and tool (the project's `tools/` included when `root`
    /// is given), waiting a few seconds for servers still starting.
    pub async fn tools_overview(self: &Arc<Self>, root: Option<&Path>) -> Result<ToolsOverview> {
        self.tools_ready(Duration::from_secs(10)).await;
        if let Some(root) = root {
            self.load_project_tools(root);
        }
        let policy = self.tool_policy(&BTreeMap::new(), "")?;
        let sandbox = match codexos_tools::sandbox::availability() {
            codexos_tools::sandbox::Availability::Bubblewrap { processes } => format!(
                "bubblewrap ({})",
                match processes {
                    codexos_tools::sandbox::ProcessLimit::Cgroup(_) => "process limit: pids cgroup",
                    codexos_tools::sandbox::ProcessLimit::Rlimit => "process limit: RLIMIT_NPROC",
                }
            ),
            codexos_tools::sandbox::Availability::Unavailable(reason)
                if self.config.tools.unconfined =>
            {
                format!("none — programs run unconfined: {reason}")
            }
            codexos_tools::sandbox::Availability::Unavailable(reason) => {
                format!("none — program tools refuse to run: {reason}")
            }
        };
        Ok(ToolsOverview {
            sources: self.registry().sources(),
            tools: self
                .registry()
                .tools(&policy)
                .into_iter()
                .map(ToolRow::from)
                .collect(),
            sandbox,
            configured: self.configured_tool_sources(),
        })
    }

    /// Whether `name` is a tool here, or will be once its source (a
    /// configured MCP server or `OpenAPI` spec still starting) is ready.
    pub(crate) fn knows_tool(&self, name: &str) -> bool {
        self.registry().tool(name).is_some()
            || self.tools.configured().names().any(|source| {
                name.strip_prefix(source)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
    }

    /// The `OpenAPI` specs and MCP servers configured now.
    #[must_use]
    pub fn configured_tool_sources(&self) -> Vec<ConfiguredSource> {
        let configured = self.tools.configured();
        let servers = configured.mcp.iter().map(|server| ConfiguredSource {
            name: server.name.clone(),
            kind: "mcp".to_owned(),
            source: server.source(),
            target: server
                .url
                .clone()
                .or_else(|| server.command.as_ref().map(|command| command.join(" ")))
                .unwrap_or_default(),
        });
        let apis = configured.openapi.iter().map(|api| ConfiguredSource {
            name: api.name.clone(),
            kind: "openapi".to_owned(),
            source: format!("openapi:{}", api.name),
            target: api.spec.clone(),
        });
        servers.chain(apis).collect()
    }

    fn check_new_source(&self, name: &str) -> Result<()> {
        if !crate::plain_name(name, &[]) {
            return Err(Error::InvalidSourceName {
                name: name.to_owned(),
            });
        }
        let taken = self.tools.configured().names().any(|known| known == name)
            || self.registry().sources().iter().any(|source| {
                source.name == format!("openapi:{name}") || source.name == format!("mcp:{name}")
            });
        if taken {
            return Err(Error::ToolSourceExists {
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Imports an `OpenAPI` spec: reads it (file or URL), makes its
    /// operations into tools now, and adds it to config.toml. Answers the
    /// tools' names. A spec that cannot be used changes nothing.
    pub async fn add_openapi(self: &Arc<Self>, mut api: openapi::ApiConfig) -> Result<Vec<String>> {
        self.check_new_source(&api.name)?;
        api.check_secrets()?;
        let is_url = api.spec.starts_with("http://") || api.spec.starts_with("https://");
        if !is_url {
            if let Ok(absolute) = std::fs::canonicalize(&api.spec) {
                api.spec = absolute.to_string_lossy().into_owned();
            }
        }
        let tools = openapi::load(&api, self.offline()).await?;
        let names = tools.iter().map(|tool| tool.info().name.clone()).collect();
        // Checked again under the lock: another add may have taken the name
        // while the spec was read.
        let mut configured = self.tools.configured();
        if configured.names().any(|known| known == api.name) {
            return Err(Error::ToolSourceExists { name: api.name });
        }
        crate::config::add_tool_source(&self.home.config(), "openapi", &api)?;
        self.registry().set_source(
            &format!("openapi:{}", api.name),
            SourceState::Ready,
            tools,
            Vec::new(),
        );
        self.audited(
            "tool-source.add",
            &api.name,
            serde_json::json!({
                "kind": "openapi",
                "spec": if api.spec.contains("://") { Self::audit_url(&api.spec) } else { api.spec.clone() },
                "tools": &names,
            }),
        );
        configured.openapi.push(api);
        Ok(names)
    }

    /// Adds an MCP server: starts it once and lists its tools (a server
    /// that cannot start, or answer, changes nothing and says why), then
    /// writes it to config.toml and keeps it running. Answers its tools.
    pub async fn add_mcp(self: &Arc<Self>, server: mcp::ServerConfig) -> Result<Vec<String>> {
        self.check_new_source(&server.name)?;
        server.check_secrets()?;
        let words = server.command.iter().flatten().chain(server.url.iter());
        if words
            .into_iter()
            .any(|word| codexos_tools::looks_like_key(word))
        {
            return Err(Error::Tool(codexos_tools::Error::Mcp {
                server: server.name,
                message: "its command or URL holds what looks like a key, which would be written to config.toml — pass it through the environment as KEY=vault:SECRET (or `bearer` for an HTTP server)".into(),
            }));
        }
        if server.command.as_ref().is_some_and(Vec::is_empty)
            || server.command.is_some() == server.url.is_some()
        {
            return Err(Error::Tool(codexos_tools::Error::Mcp {
                server: server.name,
                message: "give either a command (stdio) or a URL (streamable HTTP)".into(),
            }));
        }
        let secrets = VaultSecrets(Arc::downgrade(self));
        // Started with the process's offline mode, as the supervisor will.
        let tools = mcp::probe(&server, &secrets, self.offline()).await?;
        // Checked again under the lock: another add may have taken the name
        // while the server was probed.
        let mut configured = self.tools.configured();
        if configured.names().any(|known| known == server.name) {
            return Err(Error::ToolSourceExists { name: server.name });
        }
        crate::config::add_tool_source(&self.home.config(), "mcp", &server)?;
        if configured.started {
            let supervisor = self.supervise_mcp(server.clone());
            configured.stops.insert(server.name.clone(), supervisor);
        }
        self.audited(
            "tool-source.add",
            &server.name,
            serde_json::json!({
                "kind": "mcp",
                // The program, not its arguments (they may hold a token).
                "program": server.command.as_ref().and_then(|command| command.first()),
                "url": server.url.as_deref().map(Self::audit_url),
                "tools": &tools,
            }),
        );
        configured.mcp.push(server);
        Ok(tools)
    }

    /// Removes an `OpenAPI` spec or MCP server: out of config.toml, its
    /// server stopped and its tools gone from the registry.
    pub async fn remove_tool_source(&self, name: &str) -> Result<()> {
        let (kind, supervisor) = {
            let mut configured = self.tools.configured();
            let kind = if configured.mcp.iter().any(|server| server.name == name) {
                "mcp"
            } else if configured.openapi.iter().any(|api| api.name == name) {
                "openapi"
            } else {
                let known: Vec<&str> = configured.names().collect();
                return Err(Error::UnknownToolSource {
                    name: name.to_owned(),
                    known: if known.is_empty() {
                        "none is".to_owned()
                    } else {
                        format!("configured: {}", known.join(", "))
                    },
                });
            };
            crate::config::remove_tool_source(&self.home.config(), kind, name)?;
            configured.mcp.retain(|server| server.name != name);
            configured.openapi.retain(|api| api.name != name);
            (kind, configured.stops.remove(name))
        };
        if let Some((stop, mut task)) = supervisor {
            stop.cancel();
            // Its last word is "stopped"; the source goes after it. A task
            // still connecting (or reading a spec) is ended outright, so it
            // cannot register its tools again afterwards.
            if tokio::time::timeout(Duration::from_secs(10), &mut task)
                .await
                .is_err()
            {
                tracing::warn!("tool source `{name}` did not stop within 10 s; ending it");
                task.abort();
                task.await.ok();
            }
        }
        self.registry().remove_source(&format!("{kind}:{name}"));
        // Its permission rules go with it: another source given this name
        // later starts from the defaults.
        let prefix = format!("{name}.");
        for rule in self.tool_permissions().into_keys() {
            if rule.starts_with(&prefix) {
                self.set_tool_permission(&rule, None)?;
            }
        }
        self.audited("tool-source.remove", name, serde_json::json!({}));
        Ok(())
    }

    /// A project's folder, where its tools work.
    pub fn project_root(&self, name: &str) -> Result<PathBuf> {
        Ok(self.require_project(name)?.root)
    }

    /// Calls one tool in `root` (`tools call`).
    pub async fn call_tool(
        self: &Arc<Self>,
        name: &str,
        arguments: Value,
        root: PathBuf,
        approver: Arc<dyn Approver>,
        cancel: CancellationToken,
    ) -> Result<Value> {
        self.prepare_tools(&root).await;
        let policy = self.tool_policy(&BTreeMap::new(), "")?;
        let context = self.call_context(root, cancel);
        Ok(self
            .registry()
            .call(name, arguments, &policy, approver.as_ref(), &context)
            .await?)
    }
}

/// The environment of a stdio MCP server from `KEY=VALUE` or
/// `KEY=vault:SECRET` lines (the CLI's `--env`, the app's form).
pub fn mcp_env(pairs: &[String]) -> Result<BTreeMap<String, folder::EnvValue>> {
    let mut variables = BTreeMap::new();
    let lines = pairs
        .iter()
        .map(|pair| pair.trim())
        .filter(|pair| !pair.is_empty());
    for (index, pair) in lines.enumerate() {
        // (The line is never repeated: its value may be a secret.)
        let (key, value) = pair
            .split_once('=')
            .filter(|(key, _)| !key.trim().is_empty())
            .ok_or(Error::McpEnvLine { line: index + 1 })?;
        let value = match value.strip_prefix("vault:") {
            Some(secret) => folder::EnvValue::Vault {
                vault: secret.to_owned(),
            },
            None => folder::EnvValue::Text(value.to_owned()),
        };
        variables.insert(key.trim().to_owned(), value);
    }
    Ok(variables)
}

/// A stdio MCP server's command line, split as a POSIX shell would
/// (quotes kept together).
pub fn mcp_command(line: &str) -> Result<Vec<String>> {
    match shlex::split(line) {
        Some(words) if !words.is_empty() => Ok(words),
        Some(_) => Err(Error::McpCommand { empty: true }),
        None => Err(Error::McpCommand { empty: false }),
    }
}

/// Search hits as tools answer them: project, path, lines, score, text.
#[must_use]
pub fn hits_json(hits: &[crate::SearchHit]) -> Value {
    Value::Array(
        hits.iter()
            .map(|hit| {
                json!({
                    "project": hit.project,
                    "path": hit.path,
                    "lines": [hit.start_line, hit.end_line],
                    "score": hit.score,
                    "text": hit.text,
                })
            })
            .collect(),
    )
}

/// `rag.search`: hybrid search over the ingested projects.
struct RagSearch {
    info: ToolInfo,
    runtime: Weak<Runtime>,
}

/// Arguments of `rag.search`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    /// What to look for.
    query: String,
    /// Only this project (default: all).
    #[serde(default)]
    project: Option<String>,
    /// Number of results (default 5, at most 50).
    #[serde(default)]
    k: Option<u32>,
}

impl RagSearch {
    fn new(runtime: Weak<Runtime>) -> Self {
        let mut info = ToolInfo::new(
            "rag.search",
            "Searches the ingested projects (hybrid: vectors + keywords, reranked); answers the best chunks with their file, lines and score.",
            builtin::parameters::<SearchArgs>(),
            Effects::READ_ONLY,
        );
        "runtime".clone_into(&mut info.source);
        Self { info, runtime }
    }
}

#[async_trait]
impl Tool for RagSearch {
    fn info(&self) -> &ToolInfo {
        &self.info
    }

    async fn call(&self, arguments: Value, _: &CallContext) -> codexos_tools::Result<Value> {
        let failed = |message: String| codexos_tools::Error::Failed {
            tool: "rag.search".into(),
            message,
        };
        let args: SearchArgs =
            serde_json::from_value(arguments).map_err(|error| failed(error.to_string()))?;
        let runtime = self
            .runtime
            .upgrade()
            .ok_or_else(|| failed("CodexOS is shutting down".into()))?;
        let request = SearchRequest::new(
            args.k.unwrap_or(5).clamp(1, 50),
            SearchMode::Hybrid,
            args.project.as_deref(),
        );
        let hits = runtime
            .search(&args.query, &request)
            .await
            .map_err(|error| failed(error.to_string()))?;
        Ok(hits_json(&hits))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use codexos_tools::Permission;
    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    use crate::{Home, Runtime};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_permission_rule_set_at_run_time_is_saved_and_obeyed() {
        let home = tempfile::tempdir().expect("temp dir");
        let root = home.path().join("home");
        let runtime = Runtime::open(Home::new(root.clone(), None)).expect("runtime");
        let folder = tempfile::tempdir().expect("folder");
        std::fs::write(folder.path().join("a.txt"), "a").expect("file");
        let list = |runtime: &Arc<Runtime>| {
            let runtime = Arc::clone(runtime);
            let folder = folder.path().to_path_buf();
            async move {
                runtime
                    .call_tool(
                        "fs.list",
                        json!({"path": "."}),
                        folder,
                        Arc::new(codexos_tools::Refuse("nobody to ask in this test".into())),
                        CancellationToken::new(),
                    )
                    .await
            }
        };
        // Positive control: fs.list reads freely by default.
        list(&runtime).await.expect("fs.list runs by default");

        runtime
            .set_tool_permission("fs.*", Some(Permission::Deny))
            .expect("rule set");
        let denied = list(&runtime).await.expect_err("denied now");
        assert!(denied.to_string().contains("fs.*"), "{denied}");
        let config = std::fs::read_to_string(root.join("config.toml")).expect("config");
        assert!(config.contains("\"fs.*\" = \"deny\""), "{config}");
        assert!(
            config.contains("# Tools (docs/tools.md)"),
            "comments kept: {config}"
        );
        // Another process (a reopened runtime) reads the same rule.
        drop(runtime);
        let runtime = Runtime::open(Home::new(root.clone(), None)).expect("reopened");
        assert_eq!(
            runtime.tool_permissions().get("fs.*"),
            Some(&Permission::Deny)
        );
        // A bad glob changes nothing; removing the rule restores the default.
        assert!(runtime
            .set_tool_permission("fs.[", Some(Permission::Allow))
            .is_err());
        assert_eq!(runtime.tool_permissions().len(), 1);
        // A change made elsewhere (another process: the CLI, an editor) is
        // seen by this one without a restart, and nothing is lost when both
        // change rules.
        let other = Runtime::open(Home::new(root.clone(), None)).expect("second runtime");
        other
            .set_tool_permission("shell", Some(Permission::Deny))
            .expect("set elsewhere");
        assert_eq!(
            runtime.tool_permissions().get("shell"),
            Some(&Permission::Deny)
        );
        runtime
            .set_tool_permission("python", Some(Permission::Allow))
            .expect("set here");
        assert_eq!(
            other.tool_permissions().len(),
            3,
            "{:?}",
            other.tool_permissions()
        );
        runtime.set_tool_permission("fs.*", None).expect("removed");
        list(&runtime).await.expect("fs.list runs again");
        assert!(
            runtime.set_tool_permission("fs.*", None).is_err(),
            "nothing to remove"
        );
    }
}
