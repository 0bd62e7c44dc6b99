//! Tools described by `tools/<name>/tool.toml`: a program with templated
//! arguments, run in the sandbox. The tool folders (the data home's
//! `tools/` and the project's `tools/`) are read at start and again on every
//! change; a broken manifest is reported on its source and skipped.
//!
//! ```toml
//! name = "word-count"
//! description = "Counts the words of a file of the project."
//! command = ["wc", "-w", "{{ path }}"]
//! timeout = 30
//!
//! [parameters]
//! type = "object"
//! required = ["path"]
//! properties.path = { type = "string", description = "file relative to the project root" }
//! ```
//!
//! Each element of `command` (and `stdin`) is a minijinja template over the
//! arguments; an element that renders empty is dropped, and an element that
//! is exactly `{{ name }}` for a list argument becomes one element per item.
//! Values never pass through a shell; an element starting with `./` names a
//! file of the tool's own folder. `[env]` values are literal text or
//! `{ vault = "NAME" }`, resolved from the vault at call time. Manifests of
//! a project's `tools/` folder cannot grant themselves `allow` (a cloned
//! repository is not trusted); the data home's can.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::references::Revealed;
use crate::registry::{Registry, SourceState};
use crate::sandbox::{self, Job};
use crate::tool::{CallContext, Effects, Permission, Tool, ToolInfo};
use crate::{Error, Result};

/// The manifest's file name.
pub const MANIFEST: &str = "tool.toml";

/// A `tool.toml` manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "CodexOS tool manifest (tools/<name>/tool.toml)")]
pub struct Manifest {
    /// Tool name: lower-case letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of the arguments (an object schema).
    #[serde(default = "empty_object")]
    #[schemars(with = "BTreeMap<String, Value>")]
    pub parameters: Value,
    /// Program and arguments; each a template over the arguments. An
    /// element starting with `./` (`./run.py`) is a file of the tool's folder.
    pub command: Vec<String>,
    /// Template of the text written to the program's standard input.
    #[serde(default)]
    pub stdin: Option<String>,
    /// Environment: literal text or `{ vault = "NAME" }`.
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
    /// Time limit in seconds (default 60, at most 3600).
    #[serde(default)]
    pub timeout: Option<u64>,
    /// Whether it needs the network (default false: it runs without any).
    #[serde(default)]
    pub network: bool,
    /// Whether it writes project files (default true: it may, in the project only).
    #[serde(default = "yes")]
    pub writes: bool,
    /// Its level: `allow`, `ask` (default) or `deny`.
    #[serde(default)]
    pub permission: Option<Permission>,
    /// `text` (default): the standard output as text; `json`: parsed.
    #[serde(default)]
    pub output: OutputKind,
}

/// An environment value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EnvValue {
    /// Literal text.
    Text(String),
    /// A vault secret by name.
    Vault {
        /// Secret name (`codexos vault set NAME`).
        vault: String,
    },
}

/// How the standard output is returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// Text.
    #[default]
    Text,
    /// JSON, parsed.
    Json,
}

fn empty_object() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

fn yes() -> bool {
    true
}

/// The manifest format's JSON Schema (published as `docs/schema/tool.schema.json`).
#[must_use]
pub fn manifest_schema() -> Value {
    schemars::schema_for!(Manifest).to_value()
}

/// Reads and checks a manifest.
pub fn read_manifest(path: &Path) -> Result<Manifest> {
    let text = std::fs::read_to_string(path).map_err(|error| Error::Manifest {
        path: path.to_path_buf(),
        message: error.to_string(),
    })?;
    parse_manifest(&text, path)
}

/// Parses and checks a manifest's text (`path` names it in errors). Never
/// panics, whatever the text (fuzzed: `fuzz/fuzz_targets/tool_manifest.rs`).
pub fn parse_manifest(text: &str, path: &Path) -> Result<Manifest> {
    let invalid = |message: String| Error::Manifest {
        path: path.to_path_buf(),
        message,
    };
    let manifest: Manifest = toml::from_str(text).map_err(|error| invalid(error.to_string()))?;
    let name_ok = !manifest.name.is_empty()
        && manifest
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if !name_ok {
        return Err(invalid(format!(
            "name `{}`: use lower-case letters, digits, `-`, `_` and `.`",
            manifest.name
        )));
    }
    if manifest
        .command
        .first()
        .is_none_or(|program| program.trim().is_empty())
    {
        return Err(invalid("`command` needs at least the program".into()));
    }
    if manifest.parameters.get("type").and_then(Value::as_str) != Some("object") {
        return Err(invalid(
            "`parameters` must be a JSON Schema with `type = \"object\"`".into(),
        ));
    }
    if manifest
        .timeout
        .is_some_and(|seconds| !(1..=3600).contains(&seconds))
    {
        return Err(invalid("`timeout` is in seconds, from 1 to 3600".into()));
    }
    if let Some(key) = pasted_key(&manifest.env) {
        return Err(invalid(crate::references::pasted_key_message(
            &format!("env `{key}`"),
            key,
        )));
    }
    let templates = manifest.command.iter().chain(manifest.stdin.iter());
    let environment = minijinja::Environment::new();
    for template in templates {
        environment
            .template_from_str(template)
            .map_err(|error| invalid(format!("template `{template}`: {error}")))?;
    }
    Ok(manifest)
}

/// A tool from a manifest.
pub struct FolderTool {
    info: ToolInfo,
    manifest: Manifest,
    folder: PathBuf,
}

impl FolderTool {
    /// The tool of `manifest`, found in `folder`; `trusted` folders may
    /// grant `allow`.
    #[must_use]
    pub fn new(manifest: Manifest, folder: PathBuf, source: &str, trusted: bool) -> Self {
        let effects = Effects {
            writes: manifest.writes,
            runs_code: true,
            network: manifest.network,
        };
        let mut info = ToolInfo::new(
            &manifest.name,
            &manifest.description,
            manifest.parameters.clone(),
            effects,
        );
        source.clone_into(&mut info.source);
        if let Some(permission) = manifest.permission {
            info.permission = if trusted || permission != Permission::Allow {
                permission
            } else {
                Permission::Ask
            };
        }
        Self {
            info,
            manifest,
            folder,
        }
    }

    fn render(&self, arguments: &Value) -> Result<(Vec<String>, Option<String>)> {
        let environment = minijinja::Environment::new();
        let context = minijinja::Value::from(minijinja::value::Serde(arguments));
        let render = |template: &str| {
            environment.render_str(template, &context).map_err(|error| {
                Error::failed(&self.info.name, format!("template `{template}`: {error}"))
            })
        };
        let mut argv = Vec::new();
        for template in &self.manifest.command {
            let bare = template
                .trim()
                .strip_prefix("{{")
                .and_then(|inner| inner.strip_suffix("}}"))
                .map(str::trim)
                .filter(|name| name.chars().all(|c| c.is_alphanumeric() || c == '_'));
            if let Some(Value::Array(items)) = bare.and_then(|name| arguments.get(name)) {
                argv.extend(items.iter().map(|item| match item {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                }));
                continue;
            }
            let rendered = render(template)?;
            if let Some(file) = template.strip_prefix("./") {
                // The tool's own files (`./run.py`) are found in its folder.
                argv.push(self.folder.join(file).to_string_lossy().into_owned());
            } else if !rendered.is_empty() {
                argv.push(rendered);
            }
        }
        let stdin = self.manifest.stdin.as_deref().map(render).transpose()?;
        Ok((argv, stdin))
    }
}

#[async_trait]
impl Tool for FolderTool {
    fn info(&self) -> &ToolInfo {
        &self.info
    }

    async fn call(&self, arguments: Value, context: &CallContext) -> Result<Value> {
        let name = &self.info.name;
        self.refuse_secrets_in_command(&arguments, context)?;
        let (mut argv, stdin) = self.render(&arguments)?;
        if argv.is_empty() {
            return Err(Error::failed(name, "the command rendered empty"));
        }
        let program = argv.remove(0);
        let mut job = Job::new(name, &program, argv);
        job.stdin = stdin.map(String::into_bytes);
        job.network = self.manifest.network;
        job.readable = vec![self.folder.clone()];
        job.limits.timeout = Duration::from_secs(self.manifest.timeout.unwrap_or(60));
        let names = vault_names(&self.manifest.env);
        let revealed = Revealed::fetch(name, &names, context.secrets.as_ref())?;
        for (key, value) in &self.manifest.env {
            let value = match value {
                EnvValue::Text(text) => text.clone().into(),
                EnvValue::Vault { vault } => revealed.value(vault).cloned().ok_or_else(|| {
                    Error::failed(name, format!("the vault secret `{vault}` was not fetched"))
                })?,
            };
            job.env.push((key.clone(), value));
        }
        // A program that prints its secret does not get it into a trace.
        let result = self.finish(sandbox::run(&job, context).await);
        revealed.redact(result, name)
    }
}

impl FolderTool {
    /// Refuses a call whose arguments carry a resolved vault secret into
    /// the command templates, whatever the template does with it (a filter
    /// or a slice would hide it from a plain search of the command line):
    /// secrets reach a folder tool through `stdin` or the manifest's env.
    fn refuse_secrets_in_command(&self, arguments: &Value, context: &CallContext) -> Result<()> {
        if context.withheld.is_empty() {
            return Ok(());
        }
        let environment = minijinja::Environment::new();
        for template in &self.manifest.command {
            let Ok(compiled) = environment.template_from_str(template) else {
                continue;
            };
            for variable in compiled.undeclared_variables(false) {
                let holds_secret = arguments
                    .get(&variable)
                    .is_some_and(|value| context.withheld.appears_in(value));
                if holds_secret {
                    return Err(Error::failed(
                        &self.info.name,
                        format!(
                            "argument `{variable}` holds a vault secret and the manifest puts it on \
                             the command line, where every process on this machine can read it — \
                             give it through the manifest's `stdin` template or its [env] \
                             (`{{ vault = \"NAME\" }}`) instead"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn finish(&self, output: Result<sandbox::Output>) -> Result<Value> {
        let name = &self.info.name;
        let output = output?;
        if output.code != Some(0) {
            let mut message = match output.code {
                Some(code) => format!("exited with code {code}"),
                None => "was killed by a signal".to_owned(),
            };
            let detail = if output.stderr.trim().is_empty() {
                &output.stdout
            } else {
                &output.stderr
            };
            if !detail.trim().is_empty() {
                message.push_str(": ");
                message.push_str(detail.trim());
            }
            return Err(Error::failed(name, message));
        }
        match self.manifest.output {
            OutputKind::Text => Ok(Value::String(output.stdout)),
            OutputKind::Json => serde_json::from_str(&output.stdout).map_err(|error| {
                Error::failed(
                    name,
                    format!("its output is not the JSON its manifest promises: {error}"),
                )
            }),
        }
    }
}

/// The vault secrets an environment names.
/// The first variable of `env` holding what looks like a pasted key (as
/// text, or where a vault name belongs).
pub(crate) fn pasted_key(env: &BTreeMap<String, EnvValue>) -> Option<&str> {
    env.iter()
        .find(|(key, value)| match value {
            EnvValue::Text(text) => crate::references::looks_like_key_in(key, text),
            EnvValue::Vault { vault } => crate::references::looks_like_key(vault),
        })
        .map(|(key, _)| key.as_str())
}

pub(crate) fn vault_names(env: &BTreeMap<String, EnvValue>) -> Vec<String> {
    env.values()
        .filter_map(|value| match value {
            EnvValue::Vault { vault } => Some(vault.clone()),
            EnvValue::Text(_) => None,
        })
        .collect()
}

/// The source name of a tools folder.
#[must_use]
pub fn source_name(folder: &Path) -> String {
    format!("folder:{}", folder.display())
}

/// Reads every `*/tool.toml` under `folder`: the tools, and the problems of
/// the manifests that were skipped.
#[must_use]
pub fn scan(folder: &Path, trusted: bool) -> (Vec<Arc<dyn Tool>>, Vec<String>) {
    let source = source_name(folder);
    let mut tools: Vec<Arc<dyn Tool>> = Vec::new();
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(folder) else {
        return (tools, problems);
    };
    let mut folders: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.join(MANIFEST).is_file())
        .collect();
    folders.sort();
    for tool_folder in folders {
        match read_manifest(&tool_folder.join(MANIFEST)) {
            Ok(manifest) => tools.push(Arc::new(FolderTool::new(
                manifest,
                tool_folder,
                &source,
                trusted,
            ))),
            Err(error) => problems.push(error.to_string()),
        }
    }
    (tools, problems)
}

/// Registers the tools of `folder` (replacing what it had).
pub fn load(registry: &Registry, folder: &Path, trusted: bool) {
    let (tools, problems) = scan(folder, trusted);
    for problem in &problems {
        tracing::warn!("{problem}");
    }
    registry.set_source(&source_name(folder), SourceState::Ready, tools, problems);
}

/// Keeps `folders` (each with its trust) loaded: reads them now, then again
/// after every change, until `cancel`. The watcher lives as long as the
/// returned task.
pub fn watch(
    registry: Arc<Registry>,
    folders: Vec<(PathBuf, bool)>,
    cancel: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>> {
    use notify::Watcher as _;
    for (folder, trusted) in &folders {
        load(&registry, folder, *trusted);
    }
    let (sender, mut changes) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            for path in event.paths {
                // The receiver is gone only when the watch stopped.
                sender.send(path).ok();
            }
        }
    })
    .map_err(|error| Error::Manifest {
        path: PathBuf::from("tools"),
        message: format!("cannot watch the tools folders: {error}"),
    })?;
    for (folder, _) in &folders {
        if let Err(error) = std::fs::create_dir_all(folder)
            .map_err(notify::Error::io)
            .and_then(|()| watcher.watch(folder, notify::RecursiveMode::Recursive))
        {
            registry.set_state(
                &source_name(folder),
                SourceState::Failed(format!("cannot watch `{}`: {error}", folder.display())),
            );
        }
    }
    Ok(tokio::spawn(async move {
        let _watcher = watcher;
        loop {
            let first = tokio::select! {
                path = changes.recv() => path,
                () = cancel.cancelled() => None,
            };
            let Some(first) = first else { break };
            // Editors write in several steps: settle, then reload once.
            let mut touched = vec![first];
            let settle = tokio::time::sleep(Duration::from_millis(200));
            tokio::pin!(settle);
            loop {
                tokio::select! {
                    Some(path) = changes.recv() => touched.push(path),
                    () = &mut settle => break,
                }
            }
            for (folder, trusted) in &folders {
                if touched.iter().any(|path| path.starts_with(folder)) {
                    load(&registry, folder, *trusted);
                }
            }
        }
    }))
}
