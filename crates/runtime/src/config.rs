//! `config.toml`: the settings of a data home.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Settings of a data home. Missing keys take their defaults; unknown keys are
/// an error, so a typo is reported instead of silently ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Airgapped mode: CodexOS opens no network connection at all (remote
    /// providers, downloads, web tools, remote specs and MCP servers, clones).
    pub offline: bool,
    /// How hard commits (run checkpoints, vault writes) go to disk:
    /// `normal` (default: survives a crash or `kill -9` of CodexOS, a power
    /// cut may lose the last commits) or `full` (an fsync per commit:
    /// survives a power cut too).
    pub durability: codexos_store::Durability,
    /// Which models to use.
    pub models: ModelsConfig,
    /// Local inference.
    pub llm: LlmConfig,
    /// Folder ingest.
    pub ingest: IngestConfig,
    /// Search and reranking.
    pub search: SearchConfig,
    /// Remote chat providers (`[[providers]]`), used in the order of `llm.policy`.
    pub providers: Vec<ProviderConfig>,
    /// Tools: permission rules, MCP servers, `OpenAPI` specs.
    pub tools: crate::ToolsConfig,
    /// Prices of remote models (`[[prices]]`), before the shipped table:
    /// `provider` (optional), `model` (a name or a `prefix*`), and dollars per
    /// million `input`, `output` and `cached` tokens.
    pub prices: Vec<codexos_llm::PriceEntry>,
    /// OpenTelemetry endpoints (`[[otlp]]`): every run that ends is sent to
    /// each as OTLP spans with the `GenAI` conventions (docs/telemetry.md).
    pub otlp: Vec<OtlpConfig>,
}

/// An OpenTelemetry endpoint runs are exported to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    /// Name (status, `codexos otel …`, Settings → Telemetry).
    pub name: String,
    /// URL: `http://127.0.0.1:4318` (HTTP: `/v1/traces` is added unless
    /// given) or `http://127.0.0.1:4317` (gRPC); `https://` for TLS.
    pub endpoint: String,
    /// `http/protobuf` (default) or `grpc`.
    #[serde(default)]
    pub protocol: codexos_otel::Protocol,
    /// Request headers (gRPC metadata) with plain values.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Headers whose values are vault secrets: header name → secret name
    /// (`Authorization = "langfuse-auth"`). Values never go into config.toml.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub secret_headers: std::collections::BTreeMap<String, String>,
    /// Send prompts' results, tool arguments and results, node writes and
    /// run outputs too (off: figures, names and errors only).
    #[serde(default)]
    pub capture_content: bool,
    /// Most run endings kept waiting while the endpoint is down; older ones
    /// are skipped and counted as dropped.
    #[serde(default = "default_otlp_backlog")]
    #[specta(type = u32)]
    pub max_backlog: u64,
    /// Seconds one export may take.
    #[serde(default = "default_otlp_timeout")]
    pub timeout_secs: u32,
}

fn default_otlp_backlog() -> u64 {
    100_000
}

fn default_otlp_timeout() -> u32 {
    10
}

/// A remote chat provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Name used in `llm.policy`, `--model` and traces.
    pub name: String,
    /// `openai` (Chat Completions: OpenAI, Mistral, vLLM, llama-server,
    /// Ollama …) or `anthropic` (Messages).
    pub kind: codexos_llm::ProviderKind,
    /// Base URL (`https://api.openai.com/v1`, `http://127.0.0.1:8000/v1`,
    /// `https://api.anthropic.com`).
    pub base_url: String,
    /// Model name the provider expects.
    pub model: String,
    /// Vault secret holding the API key (`codexos vault set NAME`); none for
    /// servers without authentication.
    #[serde(default)]
    pub key: Option<String>,
    /// Context window, when known: longer prompts skip this provider.
    #[serde(default)]
    pub context_size: Option<u32>,
    /// Whether the model can call tools.
    #[serde(default = "yes")]
    pub tools: bool,
    /// Seconds to wait for the answer to start, and between its pieces.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u32,
}

fn yes() -> bool {
    true
}

fn default_timeout() -> u32 {
    60
}

/// Search settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Reranker of hybrid searches: `auto` (a local cross-encoder when its
    /// files are present, else the remote API when configured, else
    /// handcrafted), `handcrafted`, `remote`, `cross-encoder` or `none`.
    pub reranker: crate::RerankChoice,
    /// Base URL of a Cohere-format rerank API (`https://api.cohere.com`).
    pub remote_url: Option<String>,
    /// Model the rerank API should use.
    pub remote_model: String,
    /// Vault secret holding the rerank API key.
    pub remote_key: String,
    /// Seconds before a rerank request is abandoned (handcrafted order then).
    pub remote_timeout_secs: u64,
    /// Folder in the models folder with an ONNX cross-encoder.
    pub cross_encoder: String,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            reranker: crate::RerankChoice::Auto,
            remote_url: None,
            remote_model: "rerank-v3.5".into(),
            remote_key: "vault://cohere".into(),
            remote_timeout_secs: 10,
            cross_encoder: "reranker".into(),
        }
    }
}

/// Default models, by file or folder name in the models folder (or a path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// GGUF chat model.
    pub chat: String,
    /// Embedding model folder.
    pub embedding: String,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        Self {
            chat: "SmolLM2-135M-Instruct.Q4_1.gguf".into(),
            embedding: "all-minilm-l6-v2".into(),
        }
    }
}

/// Local inference settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Decode threads; unset means half the cores.
    pub threads: Option<u32>,
    /// Context window in tokens.
    pub context_size: u32,
    /// Most tokens per answer.
    pub max_tokens: u32,
    /// Sampling temperature; 0 is greedy.
    pub temperature: f32,
    /// Requests the local model decodes together.
    pub parallel: u32,
    /// How llama.cpp's threads wait: `passive` (the default; keeps speed when
    /// other programs use the CPU) or `active` (spin).
    pub wait_policy: codexos_llm::WaitPolicy,
    /// `auto` renders the model's own Jinja template; `chatml` forces ChatML.
    pub chat_template: ChatTemplateChoice,
    /// Refuse every remote provider.
    pub offline: bool,
    /// Order of providers: `local` (the `models.chat` model), names of
    /// `[[providers]]`, or .gguf files in the models folder. Empty: local
    /// first, then every provider in file order.
    pub policy: Vec<String>,
    /// Consecutive failures that make the router skip a provider for a while.
    pub failure_threshold: u32,
    /// Seconds a failing provider is skipped.
    pub cooldown_secs: u32,
    /// When every provider failed and one asked to retry within this many
    /// seconds (429 Retry-After), wait for it once.
    pub max_retry_wait_secs: u32,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            threads: None,
            context_size: 4096,
            max_tokens: 512,
            temperature: 0.2,
            parallel: 4,
            wait_policy: codexos_llm::WaitPolicy::Passive,
            chat_template: ChatTemplateChoice::Auto,
            offline: false,
            policy: Vec::new(),
            failure_threshold: 3,
            cooldown_secs: 30,
            max_retry_wait_secs: 10,
        }
    }
}

/// Which chat template renders prompts for local models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatTemplateChoice {
    /// The Jinja template stored in the GGUF file.
    #[default]
    Auto,
    /// ChatML, for a model whose own template does not render.
    Chatml,
}

/// Ingest settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Larger files are skipped with a reason.
    pub max_file_bytes: u64,
    /// Parallel embedding workers (one ONNX Runtime thread each); unset
    /// means one per core.
    pub embed_threads: Option<usize>,
    /// Texts per ONNX Runtime call; unset means 1 (fastest on CPUs measured).
    pub embed_batch: Option<usize>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_file_bytes: codexos_rag::IngestOptions::default().max_file_bytes,
            embed_threads: None,
            embed_batch: None,
        }
    }
}

const TEMPLATE: &str = r#"# CodexOS settings for this data home. Delete a line to get its default back.

# Airgapped mode: no network connection at all (also: --offline, the app's switch).
offline = false

# How hard commits (run checkpoints, vault writes) go to disk. "normal": a
# commit survives CodexOS crashing or being killed; a power cut may lose the
# last few (the file stays sound). "full": an fsync per commit, survives a
# power cut too, at a cost per checkpoint (docs/performance.md).
durability = "normal"

[models]
# GGUF chat model: a file name in the models folder, or a path.
chat = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Embedding model folder (ONNX + tokenizer files) in the models folder.
embedding = "all-minilm-l6-v2"

[llm]
# threads = 1          # decode threads; default: half the cores
context_size = 4096
max_tokens = 512
temperature = 0.2
parallel = 4              # requests decoded together by the local model
wait_policy = "passive"   # passive keeps speed on a busy desktop; active spins
chat_template = "auto"    # the model's own Jinja template; "chatml" forces ChatML
offline = false           # true: as the top-level `offline` (kept for older files)
# Order of providers: "local" (models.chat), names of [[providers]] below, or
# .gguf files in the models folder. Empty: local first, then the providers.
policy = []
failure_threshold = 3     # consecutive failures before a provider is skipped…
cooldown_secs = 30        # …for this long
max_retry_wait_secs = 10  # wait out a short 429 Retry-After when all else failed

[ingest]
max_file_bytes = 4194304   # larger files are skipped and reported
# embed_threads = 2          # parallel embedding workers; default: one per core
# embed_batch = 1            # texts per ONNX Runtime call (see docs/performance.md)

[search]
# Reranker of hybrid searches: auto (a local cross-encoder when present, else
# the remote API when configured, else handcrafted), handcrafted, remote,
# cross-encoder or none.
reranker = "auto"
# remote_url = "https://api.cohere.com"   # Cohere-format /v1/rerank
remote_model = "rerank-v3.5"
remote_key = "vault://cohere"   # a vault secret: codexos vault set cohere
remote_timeout_secs = 10
cross_encoder = "reranker"   # models-folder name of an ONNX cross-encoder

# Remote chat providers. Keys live in the vault, never here:
#   codexos vault set openai
# [[providers]]
# name = "openai"
# kind = "openai"               # openai (Chat Completions) or anthropic (Messages)
# base_url = "https://api.openai.com/v1"
# model = "gpt-4o-mini"
# key = "vault://openai"        # a vault secret, resolved at call time
# context_size = 128000
# tools = true
# timeout_secs = 60

# Tools (docs/tools.md): permission rules, OpenAPI specs, MCP servers.
# [tools.permissions]
# "fs.write" = "allow"          # allow | ask | deny; names or globs, last match wins
# [[tools.mcp]]
# name = "github"
# command = ["npx", "-y", "@modelcontextprotocol/server-github"]
# env = { GITHUB_PERSONAL_ACCESS_TOKEN = { vault = "vault://github" } }
# [[tools.openapi]]
# name = "pets"
# spec = "/path/to/openapi.yaml"
# auth = { type = "bearer", secret = "vault://PETS_TOKEN" }

# Prices of remote models, dollars per million tokens (docs/llm.md): these
# come before the shipped list prices; a model no entry prices shows its cost
# as unknown. Local models are not priced: their compute time is traced.
# [[prices]]
# provider = "vllm"             # optional: only this [[providers]] name
# model = "*"                   # a model name, or a prefix ending in *
# input = 0.0
# output = 0.0
# cached = 0.0                  # cached prompt tokens (default: input)
"#;

impl Config {
    /// Reads `path`, writing the commented defaults first when it is absent.
    /// A file that does not parse is left untouched and reported.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::write(path, TEMPLATE).map_err(|source| Error::Home {
                    path: path.to_path_buf(),
                    source,
                })?;
                Self::parse(TEMPLATE, path)
            }
            Err(source) => Err(Error::Home {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    fn parse(text: &str, path: &Path) -> Result<Self> {
        let config: Self = toml::from_str(text).map_err(|error| Error::Config {
            path: path.to_path_buf(),
            message: error.message().to_owned(),
            line: error
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1)),
        })?;
        config.check_secret_references(path)?;
        Ok(config)
    }

    /// Every key setting must name a vault secret. A value that looks like a
    /// pasted API key is refused without repeating it (the error would land
    /// in logs and terminals).
    fn check_secret_references(&self, path: &Path) -> Result<()> {
        let keys = self
            .providers
            .iter()
            .filter_map(|provider| {
                let field = format!("key of provider `{}`", provider.name);
                provider
                    .key
                    .as_deref()
                    .map(|key| (field, key, provider.name.as_str()))
            })
            .chain(std::iter::once((
                "search.remote_key".to_owned(),
                self.search.remote_key.as_str(),
                "cohere",
            )));
        for (field, reference, suggested) in keys {
            if codexos_tools::looks_like_key(reference)
                || codexos_vault::secret_name(reference).is_err()
            {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    message: format!(
                        "{field} must name a vault secret, not hold a key — keys never live in \
                         config.toml: store it with `codexos vault set {suggested}` (or Settings → \
                         Vault) and write `\"vault://{suggested}\"`"
                    ),
                    line: None,
                });
            }
        }
        // MCP env and bearer, OpenAPI auth: the same refusal, with the fix.
        let tools = self
            .tools
            .mcp
            .iter()
            .map(codexos_tools::mcp::ServerConfig::check_secrets);
        let apis = self
            .tools
            .openapi
            .iter()
            .map(codexos_tools::openapi::ApiConfig::check_secrets);
        if let Some(Err(error)) = tools.chain(apis).find(std::result::Result::is_err) {
            return Err(Error::Config {
                path: path.to_path_buf(),
                message: error.to_string(),
                line: None,
            });
        }
        Ok(())
    }
}

/// Config writes so far in this process: each gets its own temporary file.
static CONFIG_WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Edits the config file with `change`, keeping its comments and every
/// other setting; the file is replaced atomically.
fn edit(
    path: &Path,
    change: impl FnOnce(&mut toml_edit::DocumentMut) -> std::result::Result<(), String>,
) -> Result<()> {
    let io = |source| Error::Home {
        path: path.to_path_buf(),
        source,
    };
    let invalid = |message: String| Error::Config {
        path: path.to_path_buf(),
        message,
        line: None,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => TEMPLATE.to_owned(),
        Err(source) => return Err(io(source)),
    };
    let mut document: toml_edit::DocumentMut = text
        .parse()
        .map_err(|error: toml_edit::TomlError| invalid(error.message().to_owned()))?;
    change(&mut document).map_err(invalid)?;
    // A temporary file of its own per write (process and sequence number):
    // two writers at once never mix their text; the last rename wins whole.
    let sequence = CONFIG_WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temporary = path.with_extension(format!("toml.{}.{sequence}.tmp", std::process::id()));
    std::fs::write(&temporary, document.to_string()).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(|error| {
        std::fs::remove_file(&temporary).ok();
        io(error)
    })
}

/// Writes `llm.policy` into the config file.
pub(crate) fn write_policy(path: &Path, names: &[String]) -> Result<()> {
    edit(path, |document| set_policy(document, names))
}

/// The `[tools]` table of a config document (created, implicit, if absent).
fn tools_table(
    document: &mut toml_edit::DocumentMut,
) -> std::result::Result<&mut toml_edit::Table, String> {
    let tools = document
        .entry("tools")
        .or_insert_with(toml_edit::table)
        .as_table_mut()
        .ok_or("`tools` is not a table")?;
    tools.set_implicit(true);
    Ok(tools)
}

/// Sets (or removes) one rule of `[tools.permissions]` in the config file.
pub(crate) fn write_tool_permission(
    path: &Path,
    rule: &str,
    permission: Option<codexos_tools::Permission>,
) -> Result<()> {
    edit(path, |document| {
        let tools = tools_table(document)?;
        let rules = tools
            .entry("permissions")
            .or_insert_with(toml_edit::table)
            .as_table_like_mut()
            .ok_or("`tools.permissions` is not a table")?;
        match permission {
            Some(level) => {
                rules.insert(rule, toml_edit::value(level.to_string()));
            }
            None => {
                rules.remove(rule);
            }
        }
        Ok(())
    })
}

/// A JSON value as an inline TOML value (`None` for null, which TOML lacks).
fn inline(value: &serde_json::Value) -> Option<toml_edit::Value> {
    use serde_json::Value;
    Some(match value {
        Value::Null => return None,
        Value::Bool(flag) => (*flag).into(),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => integer.into(),
            None => number.as_f64().unwrap_or_default().into(),
        },
        Value::String(text) => text.as_str().into(),
        Value::Array(items) => toml_edit::Value::Array(items.iter().filter_map(inline).collect()),
        Value::Object(fields) => {
            let mut table = toml_edit::InlineTable::new();
            for (key, item) in fields {
                if let Some(item) = inline(item) {
                    table.insert(key, item);
                }
            }
            toml_edit::Value::InlineTable(table)
        }
    })
}

/// `entry` as a TOML table: nested values inline (`auth = { type =
/// "bearer", … }`), nulls and empty lists or tables left out.
fn entry_table(path: &Path, entry: &impl Serialize) -> Result<toml_edit::Table> {
    let fields = serde_json::to_value(entry).map_err(|error| Error::Config {
        path: path.to_path_buf(),
        message: error.to_string(),
        line: None,
    })?;
    let mut table = toml_edit::Table::new();
    for (key, value) in fields.as_object().into_iter().flatten() {
        let empty = value.as_object().is_some_and(serde_json::Map::is_empty)
            || value.as_array().is_some_and(Vec::is_empty);
        if let (Some(value), false) = (inline(value), empty) {
            table.insert(key, toml_edit::Item::Value(value));
        }
    }
    Ok(table)
}

/// The list of tables at `key` in `parent` (created if absent).
fn table_list<'a>(
    parent: &'a mut toml_edit::Table,
    key: &str,
    shown: &str,
) -> std::result::Result<&'a mut toml_edit::ArrayOfTables, String> {
    parent
        .entry(key)
        .or_insert_with(|| toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or_else(|| format!("`{shown}` is not a list of tables"))
}

/// Removes the tables whose `name` is `name` from `list`; whether one was.
fn remove_named(list: &mut toml_edit::ArrayOfTables, name: &str) -> bool {
    let before = list.len();
    list.retain(|table| table.get("name").and_then(toml_edit::Item::as_str) != Some(name));
    list.len() != before
}

/// Appends `entry` to `[[tools.KIND]]` (`openapi`, `mcp`) in the config file.
pub(crate) fn add_tool_source(path: &Path, kind: &str, entry: &impl Serialize) -> Result<()> {
    let table = entry_table(path, entry)?;
    edit(path, |document| {
        let tools = tools_table(document)?;
        table_list(tools, kind, &format!("tools.{kind}"))?.push(table);
        Ok(())
    })
}

/// Removes the `[[tools.KIND]]` entry named `name`; whether there was one.
pub(crate) fn remove_tool_source(path: &Path, kind: &str, name: &str) -> Result<bool> {
    let mut removed = false;
    edit(path, |document| {
        let tools = tools_table(document)?;
        removed = remove_named(table_list(tools, kind, &format!("tools.{kind}"))?, name);
        Ok(())
    })?;
    Ok(removed)
}

/// Sets `llm.policy` in a config document.
fn set_policy(
    document: &mut toml_edit::DocumentMut,
    names: &[String],
) -> std::result::Result<(), String> {
    let llm = document
        .entry("llm")
        .or_insert_with(toml_edit::table)
        .as_table_like_mut()
        .ok_or("`llm` is not a table")?;
    let array: toml_edit::Array = names.iter().map(String::as_str).collect();
    llm.insert("policy", toml_edit::value(array));
    Ok(())
}

/// Appends a `[[providers]]` entry to the config file and, in the same
/// write, sets `llm.policy` to `policy` when given.
pub(crate) fn add_provider(
    path: &Path,
    provider: &ProviderConfig,
    policy: Option<&[String]>,
) -> Result<()> {
    let table = entry_table(path, provider)?;
    edit(path, |document| {
        table_list(document.as_table_mut(), "providers", "providers")?.push(table);
        policy.map_or(Ok(()), |names| set_policy(document, names))
    })
}

/// Removes the `[[providers]]` entry named `name` and, in the same write,
/// sets `llm.policy` to `policy` when given; whether there was an entry.
pub(crate) fn remove_provider(path: &Path, name: &str, policy: Option<&[String]>) -> Result<bool> {
    let mut removed = false;
    edit(path, |document| {
        removed = remove_named(
            table_list(document.as_table_mut(), "providers", "providers")?,
            name,
        );
        policy.map_or(Ok(()), |names| set_policy(document, names))
    })?;
    Ok(removed)
}

/// Appends an `[[otlp]]` entry.
pub(crate) fn add_otlp(path: &Path, endpoint: &OtlpConfig) -> Result<()> {
    // Header maps go inline (`headers = { Authorization = "…" }`).
    let table = entry_table(path, endpoint)?;
    edit(path, |document| {
        table_list(document.as_table_mut(), "otlp", "otlp")?.push(table);
        Ok(())
    })
}

/// Removes the `[[otlp]]` entry named `name`; whether there was one.
pub(crate) fn remove_otlp(path: &Path, name: &str) -> Result<bool> {
    let mut removed = false;
    edit(path, |document| {
        removed = remove_named(table_list(document.as_table_mut(), "otlp", "otlp")?, name);
        Ok(())
    })?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_parses_to_the_defaults() {
        let parsed = Config::parse(TEMPLATE, Path::new("config.toml")).expect("parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let error = Config::parse(
            "[llm]\ncontext_size = \"big\"\n",
            Path::new("/h/config.toml"),
        )
        .expect_err("bad type");
        let message = error.to_string();
        assert!(message.contains("/h/config.toml"), "{message}");
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn the_policy_is_written_with_comments_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, TEMPLATE).expect("write");
        write_policy(&path, &["openai".into(), "local".into()]).expect("writes");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("# CodexOS settings"), "comments kept");
        let parsed = Config::parse(&text, &path).expect("parses");
        assert_eq!(parsed.llm.policy, vec!["openai", "local"]);
        assert_eq!(parsed.llm.max_tokens, 512);
    }

    #[test]
    fn tool_sources_are_appended_and_read_back() {
        use codexos_tools::{
            folder::EnvValue,
            mcp::ServerConfig,
            openapi::{ApiConfig, Auth},
        };
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, TEMPLATE).expect("write");
        let api = ApiConfig {
            name: "pets".into(),
            spec: "/specs/pets.yaml".into(),
            base_url: None,
            auth: Some(Auth::ApiKey {
                secret: "PETS".into(),
                header: Some("X-Key".into()),
                query: None,
            }),
            permission: Some(codexos_tools::Permission::Allow),
            timeout: None,
        };
        let server = ServerConfig {
            name: "gh".into(),
            command: Some(vec!["npx".into(), "server".into()]),
            url: None,
            env: [(
                "TOKEN".to_owned(),
                EnvValue::Vault {
                    vault: "github".into(),
                },
            )]
            .into(),
            bearer: None,
            timeout: Some(30),
            permission: None,
        };
        add_tool_source(&path, "openapi", &api).expect("adds the API");
        add_tool_source(&path, "mcp", &server).expect("adds the server");
        add_tool_source(
            &path,
            "mcp",
            &ServerConfig {
                name: "two".into(),
                ..server.clone()
            },
        )
        .expect("adds another");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("# CodexOS settings"), "comments kept");
        let parsed = Config::parse(&text, &path).expect("parses");
        assert_eq!(parsed.tools.openapi, vec![api]);
        assert_eq!(parsed.tools.mcp.len(), 2);
        assert_eq!(parsed.tools.mcp[0], server);
        // Removed by name: only that entry goes; an unknown name is no change.
        assert!(remove_tool_source(&path, "mcp", "gh").expect("removes"));
        assert!(!remove_tool_source(&path, "mcp", "gh").expect("no change"));
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("# CodexOS settings"), "comments kept");
        let parsed = Config::parse(&text, &path).expect("parses");
        assert_eq!(parsed.tools.openapi.len(), 1);
        let names: Vec<&str> = parsed.tools.mcp.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["two"]);
    }

    #[test]
    fn providers_are_appended_and_removed_with_comments_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, TEMPLATE).expect("write");
        let provider = ProviderConfig {
            name: "vllm".into(),
            kind: codexos_llm::ProviderKind::Openai,
            base_url: "http://127.0.0.1:8000/v1".into(),
            model: "qwen".into(),
            key: None,
            context_size: Some(8192),
            tools: true,
            timeout_secs: 60,
        };
        add_provider(
            &path,
            &provider,
            Some(&["local".to_owned(), "vllm".to_owned()]),
        )
        .expect("adds");
        let text = std::fs::read_to_string(&path).expect("read");
        let parsed = Config::parse(&text, &path).expect("parses");
        assert_eq!(parsed.providers, vec![provider]);
        assert_eq!(parsed.llm.policy, ["local", "vllm"]);
        assert!(remove_provider(&path, "vllm", Some(&["local".to_owned()])).expect("removes"));
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("# CodexOS settings"), "comments kept");
        assert!(Config::parse(&text, &path)
            .expect("parses")
            .providers
            .is_empty());
    }

    #[test]
    fn keys_are_vault_references_and_a_pasted_key_is_refused_without_being_repeated() {
        let provider = |key: &str| {
            format!(
                "[[providers]]\nname = \"openai\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\nkey = \"{key}\"\n"
            )
        };
        for good in ["vault://openai", "openai", "OPENAI_API_KEY"] {
            Config::parse(&provider(good), Path::new("c.toml")).expect(good);
        }
        for pasted in [
            "sk-proj-8c1f0e6b2a9d4f7e",
            "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUv",
            "3f9a1c7e5b2d8f6a4c0e9b1d7f3a5c8e2b6d0f4a",
            "vault://has space",
        ] {
            let message = Config::parse(&provider(pasted), Path::new("c.toml"))
                .expect_err(pasted)
                .to_string();
            assert!(message.contains("must name a vault secret"), "{message}");
            assert!(
                !message.contains(pasted),
                "the key is not repeated: {message}"
            );
        }
    }

    #[test]
    fn every_field_that_can_hold_a_secret_refuses_a_pasted_key() {
        const PASTED: &str = "sk-proj-8c1f0e6b2a9d4f7e1a2b";
        let configs = [
            ("provider key", "[[providers]]\nname = \"o\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\nkey = \"{}\"\n"),
            ("rerank key", "[search]\nremote_key = \"{}\"\n"),
            ("MCP env text", "[[tools.mcp]]\nname = \"gh\"\ncommand = [\"gh-mcp\"]\nenv = {{ GITHUB_TOKEN = \"{}\" }}\n"),
            ("MCP env vault name", "[[tools.mcp]]\nname = \"gh\"\ncommand = [\"gh-mcp\"]\nenv = {{ GITHUB_TOKEN = {{ vault = \"{}\" }} }}\n"),
            ("MCP bearer", "[[tools.mcp]]\nname = \"gh\"\nurl = \"http://127.0.0.1:1/mcp\"\nbearer = \"{}\"\n"),
            ("OpenAPI bearer", "[[tools.openapi]]\nname = \"pets\"\nspec = \"p.yaml\"\nauth = {{ type = \"bearer\", secret = \"{}\" }}\n"),
            ("OpenAPI key", "[[tools.openapi]]\nname = \"pets\"\nspec = \"p.yaml\"\nauth = {{ type = \"apiKey\", secret = \"{}\", header = \"X-Key\" }}\n"),
        ];
        for (field, template) in configs {
            // Positive control: the same config naming a vault secret parses.
            let good = template
                .replace("{}", "vault://GOOD_NAME")
                .replace("{{", "{")
                .replace("}}", "}");
            Config::parse(&good, Path::new("c.toml"))
                .unwrap_or_else(|error| panic!("{field}: {error}"));
            let pasted = template
                .replace("{}", PASTED)
                .replace("{{", "{")
                .replace("}}", "}");
            let message = Config::parse(&pasted, Path::new("c.toml"))
                .expect_err(field)
                .to_string();
            assert!(message.contains("vault"), "{field}: {message}");
            assert!(
                !message.contains(PASTED),
                "{field} repeated the key: {message}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(Config::parse("[llm]\ncontext = 1\n", Path::new("c.toml")).is_err());
    }
}
