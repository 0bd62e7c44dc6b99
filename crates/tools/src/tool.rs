//! The tool trait and what describes a tool.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::Result;

/// Largest tool result handed back (to a model, a flow, the CLI); longer
/// results are cut with a note saying how much was left out.
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// What a call may do without asking.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
    specta::Type,
)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Runs without asking.
    Allow,
    /// Asks the user (the CLI's prompt, the app's dialog) before each call.
    Ask,
    /// Never runs.
    Deny,
}

impl std::fmt::Display for Permission {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::Allow => "allow",
            Self::Ask => "ask",
            Self::Deny => "deny",
        })
    }
}

/// What a tool can do to the world; decides its default permission.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type,
)]
#[serde(rename_all = "camelCase")]
pub struct Effects {
    /// Changes files.
    pub writes: bool,
    /// Runs programs or code.
    pub runs_code: bool,
    /// Reaches the network.
    pub network: bool,
}

impl Effects {
    /// Reads only.
    pub const READ_ONLY: Self = Self {
        writes: false,
        runs_code: false,
        network: false,
    };

    /// `allow` for read-only tools, `ask` for the rest.
    #[must_use]
    pub fn default_permission(self) -> Permission {
        if self.writes || self.runs_code || self.network {
            Permission::Ask
        } else {
            Permission::Allow
        }
    }

    /// "writes files, runs code" — for approval prompts.
    #[must_use]
    pub fn describe(self) -> String {
        let mut parts = Vec::new();
        if self.writes {
            parts.push("writes files");
        }
        if self.runs_code {
            parts.push("runs code");
        }
        if self.network {
            parts.push("reaches the network");
        }
        if parts.is_empty() {
            "reads only".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// A tool's description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// Unique name (`fs.read`, `word-count`, `petstore.getPet`, `mcp.github.search`).
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of the arguments (an object).
    pub parameters: Value,
    /// What it can do.
    pub effects: Effects,
    /// Its level unless a policy says otherwise.
    pub permission: Permission,
    /// Where it comes from (`builtin`, `folder`, `openapi`, `mcp`, `runtime`).
    pub source: String,
}

impl ToolInfo {
    /// A description whose permission follows its effects.
    #[must_use]
    pub fn new(name: &str, description: &str, parameters: Value, effects: Effects) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            parameters,
            effects,
            permission: effects.default_permission(),
            source: String::new(),
        }
    }
}

/// Vault secrets by name, resolved at call time only.
pub trait Secrets: Send + Sync {
    /// The secret's value, or why it is unavailable.
    fn secret(&self, name: &str) -> std::result::Result<SecretString, String>;
}

/// No vault (tests, `tools call` without secrets).
pub struct NoSecrets;

impl Secrets for NoSecrets {
    fn secret(&self, name: &str) -> std::result::Result<SecretString, String> {
        Err(format!("no vault is available to read `{name}`"))
    }
}

/// Where and how a call runs.
#[derive(Clone)]
pub struct CallContext {
    /// The project folder: file tools see only it; programs write only in it.
    pub root: PathBuf,
    /// Offline mode: every network tool refuses.
    pub offline: bool,
    /// Vault access for secrets named by tools.
    pub secrets: Arc<dyn Secrets>,
    /// Folders kept read-only inside the sandbox even when inside the
    /// project (the CodexOS data home).
    pub protected: Vec<PathBuf>,
    /// Run programs without the sandbox when it is unavailable (an explicit
    /// choice: config `tools.unconfined = true`); otherwise they refuse.
    pub unconfined: bool,
    /// Vault secrets the flow's author referenced in the arguments
    /// (`vault://NAME`): resolved after the policy check, redacted from the
    /// result. Empty for a model's calls.
    pub references: Vec<String>,
    /// Why the arguments may come from untrusted content (retrieved text,
    /// tool output), when they may: an `ask` tool then needs a person's
    /// approval, which `--yes` does not give.
    pub untrusted: Option<String>,
    /// Cancels the call.
    pub cancel: CancellationToken,
    /// The user's home folder, hidden inside the sandbox like `/home` and
    /// `/root` (default: `$HOME`; tests give a temporary one).
    pub home: Option<PathBuf>,
    /// The values the registry resolved into this call's arguments: a
    /// program's command line must hold none of them (`/proc/PID/cmdline`
    /// is readable by every process).
    pub(crate) withheld: Arc<crate::references::Revealed>,
}

impl CallContext {
    /// A context for `root`: online, no vault, confined.
    #[must_use]
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            offline: false,
            secrets: Arc::new(NoSecrets),
            protected: Vec::new(),
            unconfined: false,
            references: Vec::new(),
            untrusted: None,
            cancel: CancellationToken::new(),
            home: std::env::var_os("HOME").map(PathBuf::from),
            withheld: Arc::default(),
        }
    }
}

/// A tool.
#[async_trait]
pub trait Tool: Send + Sync {
    /// Its description.
    fn info(&self) -> &ToolInfo;
    /// Runs it. The arguments already follow the schema; the permission was
    /// already granted.
    async fn call(&self, arguments: Value, context: &CallContext) -> Result<Value>;
}

/// `value` cut to [`OUTPUT_LIMIT`] bytes of JSON: a long string is cut with
/// a note; a large structure becomes its cut JSON text.
#[must_use]
pub fn bound(value: Value) -> Value {
    match value {
        Value::String(text) if text.len() > OUTPUT_LIMIT => Value::String(cut(&text, OUTPUT_LIMIT)),
        Value::String(text) => Value::String(text),
        other => {
            let text = other.to_string();
            if text.len() > OUTPUT_LIMIT {
                Value::String(cut(&text, OUTPUT_LIMIT))
            } else {
                other
            }
        }
    }
}

/// `text` cut to `limit` bytes (at a character boundary) with a note.
pub(crate) fn cut(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n… (output cut: {} of {} bytes shown)",
        &text[..end],
        end,
        text.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_effects() {
        assert_eq!(Effects::READ_ONLY.default_permission(), Permission::Allow);
        let writes = Effects {
            writes: true,
            ..Effects::READ_ONLY
        };
        assert_eq!(writes.default_permission(), Permission::Ask);
        assert_eq!(writes.describe(), "writes files");
    }

    #[test]
    fn long_output_is_cut_with_a_note() {
        let long = "é".repeat(OUTPUT_LIMIT);
        let Value::String(cut) = bound(Value::String(long)) else {
            panic!("a string stays a string")
        };
        assert!(cut.len() < OUTPUT_LIMIT + 100);
        assert!(cut.contains("output cut"));
        let array = Value::Array(vec![Value::String("x".repeat(1000)); 100]);
        assert!(bound(array)
            .as_str()
            .is_some_and(|text| text.contains("output cut")));
    }
}
