//! The registry: every source's tools, the permission policy and approvals.

use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::references::Revealed;
use crate::tool::{bound, CallContext, Effects, Permission, Tool, ToolInfo};
use crate::{schema, Error, Result};

/// The state of a tool source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", tag = "state", content = "message")]
pub enum SourceState {
    /// Its tools are available.
    Ready,
    /// Being started (an MCP server) or read.
    Starting,
    /// Failed; the message says why and what to do.
    Failed(String),
    /// Crashed and being restarted.
    Restarting(String),
    /// Stopped with the app.
    Stopped,
}

/// A tool source as listed by `tools list` and Settings → Tools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SourceInfo {
    /// `builtin`, `folder:/path/to/tools`, `openapi:petstore`, `mcp:github`.
    pub name: String,
    /// Its state.
    pub state: SourceState,
    /// Its tools' names.
    pub tools: Vec<String>,
    /// Problems that did not stop it (a broken manifest skipped, a duplicate name).
    pub problems: Vec<String>,
}

/// A tool as listed, with the permission the policy gives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolEntry {
    /// Name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its source's name.
    pub source: String,
    /// The level it runs at under the policy.
    pub permission: Permission,
    /// What it can do.
    pub effects: Effects,
    /// JSON Schema of its arguments.
    pub parameters: Value,
}

/// A source; its `info.tools` names are filled in when listed.
struct Source {
    info: SourceInfo,
    tools: Vec<Arc<dyn Tool>>,
}

/// Every tool source, in the order they were added (an earlier source wins
/// a name clash; the later one reports it).
#[derive(Default)]
pub struct Registry {
    sources: RwLock<Vec<Source>>,
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Adds or replaces a source's tools (hot reload replaces them whole).
    pub fn set_source(
        &self,
        name: &str,
        state: SourceState,
        tools: Vec<Arc<dyn Tool>>,
        problems: Vec<String>,
    ) {
        let mut sources = self.sources.write().unwrap_or_else(PoisonError::into_inner);
        let index = sources.iter().position(|source| source.info.name == name);
        let mut problems = problems;
        let mut kept: Vec<Arc<dyn Tool>> = Vec::new();
        for tool in tools {
            let tool_name = &tool.info().name;
            let clash = sources
                .iter()
                .enumerate()
                .filter(|(other, _)| Some(*other) != index)
                .find(|(_, source)| {
                    source
                        .tools
                        .iter()
                        .any(|known| &known.info().name == tool_name)
                });
            if let Some((_, source)) = clash {
                problems.push(format!(
                    "`{tool_name}` is already provided by `{}`; this one is skipped (rename it)",
                    source.info.name
                ));
            } else if kept.iter().any(|known| &known.info().name == tool_name) {
                problems.push(format!(
                    "`{tool_name}` is defined twice; the second is skipped"
                ));
            } else {
                kept.push(tool);
            }
        }
        let source = Source {
            info: SourceInfo {
                name: name.to_owned(),
                state,
                tools: Vec::new(),
                problems,
            },
            tools: kept,
        };
        match index {
            Some(index) => sources[index] = source,
            None => sources.push(source),
        }
    }

    /// Changes a source's state, keeping its tools (or dropping them when it
    /// is not ready).
    pub fn set_state(&self, name: &str, state: SourceState) {
        let mut sources = self.sources.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(source) = sources.iter_mut().find(|source| source.info.name == name) {
            if state != SourceState::Ready {
                source.tools.clear();
            }
            source.info.state = state;
        } else {
            sources.push(Source {
                info: SourceInfo {
                    name: name.to_owned(),
                    state,
                    tools: Vec::new(),
                    problems: Vec::new(),
                },
                tools: Vec::new(),
            });
        }
    }

    /// Removes a source and its tools.
    pub fn remove_source(&self, name: &str) {
        self.sources
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|source| source.info.name != name);
    }

    /// The sources.
    #[must_use]
    pub fn sources(&self) -> Vec<SourceInfo> {
        self.sources
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|source| SourceInfo {
                tools: source
                    .tools
                    .iter()
                    .map(|tool| tool.info().name.clone())
                    .collect(),
                ..source.info.clone()
            })
            .collect()
    }

    /// A tool by name.
    #[must_use]
    pub fn tool(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.sources
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .flat_map(|source| source.tools.iter())
            .find(|tool| tool.info().name == name)
            .cloned()
    }

    /// Every tool with the level `policy` gives it, sorted by name.
    #[must_use]
    pub fn tools(&self, policy: &Policy) -> Vec<ToolEntry> {
        let sources = self.sources.read().unwrap_or_else(PoisonError::into_inner);
        let mut entries: Vec<ToolEntry> = sources
            .iter()
            .flat_map(|source| {
                source.tools.iter().map(|tool| {
                    let info = tool.info();
                    ToolEntry {
                        name: info.name.clone(),
                        description: info.description.clone(),
                        source: source.info.name.clone(),
                        permission: policy.decide(info).0,
                        effects: info.effects,
                        parameters: info.parameters.clone(),
                    }
                })
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries
    }

    fn unknown(&self, name: &str) -> Error {
        let sources = self.sources.read().unwrap_or_else(PoisonError::into_inner);
        let names = sources
            .iter()
            .flat_map(|source| source.tools.iter().map(|tool| tool.info().name.clone()));
        let hint = names
            .min_by_key(|known| strsim::levenshtein(known, name))
            .filter(|known| strsim::levenshtein(known, name) <= 3)
            .map(|known| format!(" — did you mean `{known}`?"))
            .unwrap_or_default();
        let pending: Vec<&str> = sources
            .iter()
            .filter(|source| source.info.state != SourceState::Ready)
            .map(|source| source.info.name.as_str())
            .collect();
        let hint = if hint.is_empty() && !pending.is_empty() {
            format!(" (not ready: {})", pending.join(", "))
        } else {
            hint
        };
        Error::UnknownTool {
            name: name.to_owned(),
            hint,
        }
    }

    /// Calls a tool: checks its arguments against its schema, applies the
    /// policy (asking `approver` for an `ask`), refuses network tools when
    /// offline, and bounds the result.
    pub async fn call(
        &self,
        name: &str,
        arguments: Value,
        policy: &Policy,
        approver: &dyn Approver,
        context: &CallContext,
    ) -> Result<Value> {
        let tool = self.tool(name).ok_or_else(|| self.unknown(name))?;
        let info = tool.info();
        let arguments = if arguments.is_null() {
            Value::Object(serde_json::Map::new())
        } else {
            arguments
        };
        let problems = schema::validate(&arguments, &info.parameters);
        if !problems.is_empty() {
            return Err(Error::InvalidArguments {
                tool: name.to_owned(),
                problems: problems.join("; "),
            });
        }
        if info.effects.network && context.offline {
            return Err(Error::Offline {
                tool: name.to_owned(),
            });
        }
        match policy.decide(info) {
            (Permission::Deny, rule) => {
                return Err(Error::Denied {
                    tool: name.to_owned(),
                    rule,
                })
            }
            (Permission::Ask, _) => {
                let request = ApprovalRequest {
                    tool: name.to_owned(),
                    description: info.description.clone(),
                    effects: info.effects,
                    arguments: arguments.clone(),
                    untrusted: context.untrusted.clone(),
                };
                if let Approval::Deny(reason) = approver.approve(&request).await {
                    return Err(Error::NotApproved {
                        tool: name.to_owned(),
                        reason,
                    });
                }
            }
            (Permission::Allow, _) => {}
        }
        let revealed = Arc::new(Revealed::fetch(
            name,
            &context.references,
            context.secrets.as_ref(),
        )?);
        let arguments = revealed.resolve(arguments);
        let mut context = context.clone();
        context.withheld = Arc::clone(&revealed);
        let result = tokio::select! {
            result = tool.call(arguments, &context) => result,
            () = context.cancel.cancelled() => Err(Error::Cancelled { tool: name.to_owned() }),
        };
        revealed.redact(result, name).map(bound)
    }
}

/// Permission rules: a tool name or glob (`mcp.github.*`, `fs.*`) → level.
/// The last matching rule wins, so per-flow rules added after the config's
/// override them.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<(globset::GlobMatcher, String, Permission, String)>,
}

impl Policy {
    /// Adds rules from `origin` (`config.toml`, `flow review-diff`). A bad
    /// glob is reported.
    pub fn extend<'a>(
        &mut self,
        rules: impl IntoIterator<Item = (&'a String, &'a Permission)>,
        origin: &str,
    ) -> std::result::Result<(), String> {
        for (pattern, permission) in rules {
            let glob = globset::GlobBuilder::new(pattern)
                .literal_separator(false)
                .build()
                .map_err(|error| format!("{origin}: permission rule `{pattern}`: {error}"))?;
            self.rules.push((
                glob.compile_matcher(),
                pattern.clone(),
                *permission,
                origin.to_owned(),
            ));
        }
        Ok(())
    }

    /// Whether no rule is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The level for `info` and the rule that decided it.
    #[must_use]
    pub fn decide(&self, info: &ToolInfo) -> (Permission, String) {
        self.rules
            .iter()
            .rev()
            .find(|(glob, _, _, _)| glob.is_match(&info.name))
            .map_or_else(
                || {
                    (
                        info.permission,
                        format!(
                            "`{}` default for a tool that {}",
                            info.permission,
                            info.effects.describe()
                        ),
                    )
                },
                |(_, pattern, permission, origin)| {
                    (
                        *permission,
                        format!("`{pattern} = \"{permission}\"` in {origin}"),
                    )
                },
            )
    }
}

/// A call waiting for the user's approval.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequest {
    /// Tool.
    pub tool: String,
    /// What it does.
    pub description: String,
    /// What it can do.
    pub effects: Effects,
    /// The arguments it would run with (secret references unresolved).
    pub arguments: Value,
    /// Why the arguments may come from untrusted content (retrieved text,
    /// tool output), when they may: such a call is shown as a warning and
    /// is never approved in advance.
    pub untrusted: Option<String>,
}

/// The user's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// Run it.
    Approve,
    /// Do not; why (told to the agent).
    Deny(String),
}

/// Decides `ask` calls: the CLI's prompt, the app's dialog.
#[async_trait]
pub trait Approver: Send + Sync {
    /// Approves or denies one call.
    async fn approve(&self, request: &ApprovalRequest) -> Approval;
}

/// Approves every `ask` (`--yes`), except calls whose arguments may come
/// from untrusted content: those still need a person. `deny` still denies.
pub struct PreApproved;

#[async_trait]
impl Approver for PreApproved {
    async fn approve(&self, request: &ApprovalRequest) -> Approval {
        match &request.untrusted {
            None => Approval::Approve,
            Some(why) => Approval::Deny(format!(
                "its arguments may come from untrusted content ({why}), and `--yes` does not cover \
                 such calls — approve it in the app, or set `{}` to `allow` in `[tools.permissions]` \
                 if it is safe with any arguments",
                request.tool
            )),
        }
    }
}

/// Nobody to ask: every `ask` is refused with this message.
pub struct Refuse(pub String);

#[async_trait]
impl Approver for Refuse {
    async fn approve(&self, _: &ApprovalRequest) -> Approval {
        Approval::Deny(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Echo(ToolInfo);

    #[async_trait]
    impl Tool for Echo {
        fn info(&self) -> &ToolInfo {
            &self.0
        }
        async fn call(&self, arguments: Value, _: &CallContext) -> Result<Value> {
            Ok(arguments)
        }
    }

    fn echo(name: &str, effects: Effects) -> Arc<dyn Tool> {
        Arc::new(Echo(ToolInfo::new(
            name,
            "echoes",
            json!({"type": "object", "properties": {"x": {"type": "number"}}}),
            effects,
        )))
    }

    #[tokio::test]
    async fn policy_approvals_and_schema() {
        let registry = Registry::new();
        let writes = Effects {
            writes: true,
            ..Effects::READ_ONLY
        };
        registry.set_source(
            "a",
            SourceState::Ready,
            vec![echo("read", Effects::READ_ONLY), echo("write", writes)],
            vec![],
        );
        registry.set_source("b", SourceState::Ready, vec![echo("read", writes)], vec![]);
        assert_eq!(registry.sources()[1].problems.len(), 1, "clash reported");
        let context = CallContext::new(".".into());
        let no = Refuse("no one to ask".into());
        let policy = Policy::default();
        let args = json!({"x": 1});
        assert!(registry
            .call("read", args.clone(), &policy, &no, &context)
            .await
            .is_ok());
        let refused = registry
            .call("write", args.clone(), &policy, &no, &context)
            .await;
        assert!(matches!(refused, Err(Error::NotApproved { .. })));
        assert!(registry
            .call("write", args.clone(), &policy, &PreApproved, &context)
            .await
            .is_ok());
        let mut strict = Policy::default();
        let rules = [
            ("*".to_owned(), Permission::Ask),
            ("wr*".to_owned(), Permission::Deny),
        ];
        strict
            .extend(
                rules.iter().map(|(pattern, level)| (pattern, level)),
                "test",
            )
            .expect("rules");
        let denied = registry
            .call("write", args.clone(), &strict, &PreApproved, &context)
            .await;
        assert!(
            matches!(&denied, Err(Error::Denied { rule, .. }) if rule.contains("wr*")),
            "{denied:?}"
        );
        assert!(matches!(
            registry.call("read", args, &strict, &no, &context).await,
            Err(Error::NotApproved { .. })
        ));
        let bad = registry
            .call("read", json!({"x": "one"}), &policy, &no, &context)
            .await;
        assert!(matches!(bad, Err(Error::InvalidArguments { .. })));
        let unknown = registry
            .call("raed", json!({}), &policy, &no, &context)
            .await;
        assert!(unknown.is_err_and(|error| error.to_string().contains("did you mean `read`")));
    }
}
