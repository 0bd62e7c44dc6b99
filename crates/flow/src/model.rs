//! The flow file: a typed, versioned JSON document. Its JSON Schema is
//! generated from these types ([`schema`]) and published as
//! `docs/schema/flow.schema.json` (a golden test keeps it in step).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// The flow-file format this build writes. Older versions are migrated on
/// load ([`parse`]); newer ones are refused with the fix.
pub const FLOW_VERSION: u32 = 2;

/// A flow: typed state, nodes and the edges between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "CodexOS flow")]
pub struct Flow {
    /// Link to the schema, for editors (ignored).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Flow-file format version (see [`FLOW_VERSION`]).
    pub version: u32,
    /// Flow name: letters, digits, `-` and `_`; its version history is kept under it.
    pub name: String,
    /// What the flow does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The state keys and their types. Nodes read and write only these.
    #[serde(default)]
    pub state: BTreeMap<String, ValueType>,
    /// The nodes, each with a unique id.
    pub nodes: Vec<Node>,
    /// Plain edges; routers and loops name their other targets themselves.
    #[serde(default)]
    pub edges: Vec<Edge>,
    /// Tool permission overrides for this flow's runs: a tool name or glob
    /// (`shell`, `fs.*`, `github.*`) → `allow`, `ask` or `deny`. They apply
    /// after config.toml's `[tools.permissions]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub permissions: BTreeMap<String, ToolPermission>,
    /// A limit on the model usage of each run of this flow: tokens and/or
    /// dollars (remote calls priced by the price table), and whether crossing
    /// it stops the run or only warns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// Where this flow was forked from, when it is a fork: kept through
    /// saves, shown as its lineage, used by "update from origin".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<ForkOrigin>,
}

/// Where a forked flow came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForkOrigin {
    /// Where the original lives: `workspace:NAME` on the same team server,
    /// a server URL with its workspace, or `bundle:NAME` (an imported bundle).
    pub origin: String,
    /// The original flow's name.
    pub flow: String,
    /// The original's saved version that was copied (0 for a bundle's
    /// flow: bundles carry no version numbers).
    pub version: u32,
    /// The fingerprint of the key that signed the original, when it came
    /// signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

/// A limit on a run's model usage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Budget {
    /// Most tokens (prompt and generated, every model call) a run may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    #[specta(type = Option<u32>)]
    pub tokens: Option<u64>,
    /// Most dollars a run's priced model calls may cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub cost_usd: Option<f64>,
    /// `stop` (default): the call that crosses a limit fails the run; `warn`:
    /// the run says so once and goes on.
    #[serde(default)]
    pub on_exceed: BudgetAction,
}

impl Budget {
    /// Why this budget cannot work, with the fix (a limit of 0 tokens, or
    /// dollars that are negative or not a number).
    #[must_use]
    pub fn invalid(&self) -> Option<(String, String)> {
        if self.tokens == Some(0) {
            return Some((
                "`budget.tokens` is 0: every run would stop at its first model call".into(),
                "give a number of tokens of 1 or more, or remove `tokens`".into(),
            ));
        }
        if self
            .cost_usd
            .is_some_and(|dollars| !(dollars >= 0.0 && dollars.is_finite()))
        {
            return Some((
                "`budget.costUsd` is not a number of dollars of 0 or more".into(),
                "give dollars such as 0.50, or remove `costUsd`".into(),
            ));
        }
        None
    }
}

/// What crossing a budget does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema, specta::Type,
)]
#[serde(rename_all = "lowercase")]
pub enum BudgetAction {
    /// The run fails with the budget named.
    #[default]
    Stop,
    /// An event says so; the run goes on.
    Warn,
}

/// What a tool may do without asking, in a flow's `permissions`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, specta::Type,
)]
#[serde(rename_all = "lowercase")]
pub enum ToolPermission {
    /// Runs without asking.
    Allow,
    /// Asks before each call.
    Ask,
    /// Never runs.
    Deny,
}

/// The type of a state value or a port.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, specta::Type,
)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    /// Text.
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A JSON array.
    List,
    /// A JSON object.
    Object,
    /// Anything.
    Any,
}

impl ValueType {
    /// Whether a value of type `self` may be stored where `target` is declared.
    #[must_use]
    pub fn fits(self, target: ValueType) -> bool {
        self == target || self == Self::Any || target == Self::Any
    }

    /// Whether `value` has this type.
    #[must_use]
    pub fn admits(self, value: &Value) -> bool {
        match self {
            Self::Any => true,
            Self::String => value.is_string(),
            Self::Number => value.is_number(),
            Self::Boolean => value.is_boolean(),
            Self::List => value.is_array(),
            Self::Object => value.is_object(),
        }
    }

    /// The type's name as written in flow files.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::List => "list",
            Self::Object => "object",
            Self::Any => "any",
        }
    }
}

/// A directed edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// Source node id.
    pub from: String,
    /// Target node id.
    pub to: String,
}

/// Where a node sits on the canvas.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
pub struct Position {
    /// Horizontal.
    pub x: f64,
    /// Vertical.
    pub y: f64,
}

/// One node: what all kinds share, and its kind's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// Unique id within the flow.
    pub id: String,
    /// Label on the canvas.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Canvas position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// State key the node's result is written to (kinds with a result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Time limit of one attempt, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[specta(type = Option<f64>)]
    pub timeout_ms: Option<u64>,
    /// Further attempts after a failure.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// The kind and its settings.
    #[serde(flatten)]
    pub kind: NodeKind,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if signature"
)]
fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// Which flows a `router` sends the run to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// A condition over the state (an expression such as `score > 0.5`).
    pub when: String,
    /// Node to go to when it holds.
    pub to: String,
}

/// A `memory` node's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum MemoryOp {
    /// Store `value` (under `key`, replacing an older value of that key).
    Write,
    /// The value stored under `key`, or null.
    Read,
    /// The `k` memories that best match `query`.
    Search,
}

/// A `human` node's question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum HumanMode {
    /// Yes or no; a no fails the run.
    Approve,
    /// A value typed by the person.
    Input,
}

/// The node kinds. Text fields marked *template* take `{{ key }}` references
/// to state; fields marked *expression* are evaluated over the state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(
    tag = "kind",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub enum NodeKind {
    /// Takes the run's input into the state: every key that is declared in
    /// `state`; the listed ones must be present.
    Input {
        /// Input keys that are required.
        #[serde(default)]
        fields: Vec<String>,
    },
    /// Ends the run; its result is these state keys.
    Output {
        /// State keys that make up the run's output.
        #[serde(default)]
        keys: Vec<String>,
    },
    /// One model call.
    Llm {
        /// System prompt (template).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        system: String,
        /// User prompt (template).
        prompt: String,
        /// Model or provider name; the configured policy when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        /// JSON Schema the answer must follow; the result is then an object.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[specta(type = Option<crate::JsonValue>)]
        output_schema: Option<Value>,
        /// Answer length limit in tokens.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_tokens: Option<u32>,
        /// Sampling temperature.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        temperature: Option<f32>,
    },
    /// A published sub-agent: plans, calls its tools and observes until done.
    Agent {
        /// `name@version` of a published agent.
        agent: String,
        /// The task (template).
        task: String,
        /// Overrides the agent's step limit.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_steps: Option<u32>,
    },
    /// One tool call.
    Tool {
        /// Tool name.
        tool: String,
        /// Arguments; strings inside are templates.
        #[serde(default)]
        #[specta(type = crate::JsonValue)]
        args: Value,
    },
    /// Searches an ingested project.
    Retrieve {
        /// Query (template).
        query: String,
        /// Project name (template); every project when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project: Option<String>,
        /// Results wanted.
        #[serde(default = "default_k")]
        k: u32,
    },
    /// Picks the next node by the first condition that holds.
    Router {
        /// Conditions, tried in order.
        routes: Vec<Route>,
        /// Where to go when none holds; the run ends on this branch when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    /// Runs `body` once per item of a list, at most `concurrency` at a time;
    /// the results are a list in the items' order.
    Parallel {
        /// State key of the list (expression allowed).
        over: String,
        /// Name of the item inside the body.
        #[serde(default = "default_item", rename = "as")]
        item: String,
        /// Items in flight at once.
        #[serde(default = "default_concurrency")]
        concurrency: u32,
        /// The node run for each item (its `output` is ignored).
        body: Box<Node>,
    },
    /// Runs the nodes from `body` (which lead back here) until `until`
    /// holds or `max` passes were made; then follows its edges.
    Loop {
        /// First node of the loop body.
        body: String,
        /// Stop condition, checked after each pass (expression).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
        /// Most passes.
        max: u32,
    },
    /// A critic grades `subject` against the criteria; a reviser improves
    /// it with the critique until it passes or `rounds` revisions were made.
    Reflect {
        /// State key holding the text under review (revised in place).
        subject: String,
        /// What a good answer does.
        criteria: Vec<String>,
        /// Revisions at most.
        #[serde(default = "default_rounds")]
        rounds: u32,
        /// Model or provider for critic and reviser.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
    /// Pauses the run for a person: an approval or a value.
    Human {
        /// What to ask (template).
        prompt: String,
        /// Approval or input.
        #[serde(default = "default_human")]
        mode: HumanMode,
    },
    /// Reads, writes or searches long-term memory.
    Memory {
        /// Operation.
        op: MemoryOp,
        /// Memory namespace, usually an agent name.
        namespace: String,
        /// Key (template) for read and write.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// Value (template) for write.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
        /// Query (template) for search.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<String>,
        /// Results for search.
        #[serde(default = "default_k")]
        k: u32,
    },
    /// Sets state keys from expressions: deterministic, no model.
    Transform {
        /// State key → expression.
        set: BTreeMap<String, String>,
    },
    /// Runs another flow file with inputs from this one's state.
    Subflow {
        /// Path of the flow file, relative to this one.
        flow: String,
        /// Input key → expression.
        #[serde(default)]
        input: BTreeMap<String, String>,
    },
}

fn default_k() -> u32 {
    6
}
fn default_item() -> String {
    "item".into()
}
fn default_concurrency() -> u32 {
    4
}
fn default_rounds() -> u32 {
    2
}
fn default_human() -> HumanMode {
    HumanMode::Approve
}

impl NodeKind {
    /// The kind's name as written in flow files.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Input { .. } => "input",
            Self::Output { .. } => "output",
            Self::Llm { .. } => "llm",
            Self::Agent { .. } => "agent",
            Self::Tool { .. } => "tool",
            Self::Retrieve { .. } => "retrieve",
            Self::Router { .. } => "router",
            Self::Parallel { .. } => "parallel",
            Self::Loop { .. } => "loop",
            Self::Reflect { .. } => "reflect",
            Self::Human { .. } => "human",
            Self::Memory { .. } => "memory",
            Self::Transform { .. } => "transform",
            Self::Subflow { .. } => "subflow",
        }
    }

    /// The node kinds a flow may use.
    pub const NAMES: [&'static str; 14] = [
        "input",
        "output",
        "llm",
        "agent",
        "tool",
        "retrieve",
        "router",
        "parallel",
        "loop",
        "reflect",
        "human",
        "memory",
        "transform",
        "subflow",
    ];

    /// Type of the value the kind writes to its `output` key; `None` for
    /// kinds without a result.
    #[must_use]
    pub fn result_type(&self) -> Option<ValueType> {
        match self {
            Self::Llm { output_schema, .. } => Some(if output_schema.is_some() {
                ValueType::Object
            } else {
                ValueType::String
            }),
            Self::Agent { .. } | Self::Reflect { .. } => Some(ValueType::String),
            Self::Retrieve { .. } | Self::Parallel { .. } => Some(ValueType::List),
            Self::Human { mode, .. } => Some(match mode {
                HumanMode::Approve => ValueType::Object,
                HumanMode::Input => ValueType::Any,
            }),
            Self::Memory { op, .. } => Some(match op {
                MemoryOp::Search => ValueType::List,
                MemoryOp::Read => ValueType::Any,
                MemoryOp::Write => ValueType::Object,
            }),
            Self::Tool { .. } | Self::Subflow { .. } => Some(ValueType::Any),
            Self::Input { .. }
            | Self::Output { .. }
            | Self::Router { .. }
            | Self::Loop { .. }
            | Self::Transform { .. } => None,
        }
    }
}

impl Flow {
    /// The node with this id.
    #[must_use]
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|node| node.id == id)
    }

    /// Every edge of the graph: plain edges, router routes and defaults, and
    /// loop bodies, as `(from, to)`.
    #[must_use]
    pub fn all_edges(&self) -> Vec<(&str, &str)> {
        let mut edges: Vec<(&str, &str)> = self
            .edges
            .iter()
            .map(|edge| (edge.from.as_str(), edge.to.as_str()))
            .collect();
        for node in &self.nodes {
            match &node.kind {
                NodeKind::Router { routes, default } => {
                    edges.extend(
                        routes
                            .iter()
                            .map(|route| (node.id.as_str(), route.to.as_str())),
                    );
                    edges.extend(default.iter().map(|to| (node.id.as_str(), to.as_str())));
                }
                NodeKind::Loop { body, .. } => edges.push((node.id.as_str(), body.as_str())),
                _ => {}
            }
        }
        edges
    }

    /// Nodes a run starts at: the `input` nodes, or else every node without
    /// an incoming edge. Sorted by id.
    #[must_use]
    pub fn entry_nodes(&self) -> Vec<String> {
        let mut inputs: Vec<String> = self
            .nodes
            .iter()
            .filter(|node| matches!(node.kind, NodeKind::Input { .. }))
            .map(|node| node.id.clone())
            .collect();
        if inputs.is_empty() {
            let targets: std::collections::HashSet<&str> =
                self.all_edges().into_iter().map(|(_, to)| to).collect();
            inputs = self
                .nodes
                .iter()
                .filter(|node| !targets.contains(node.id.as_str()))
                .map(|node| node.id.clone())
                .collect();
        }
        inputs.sort();
        inputs
    }

    /// The flow as pretty JSON, as it is written to disk.
    #[must_use]
    pub fn to_pretty_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Reads a flow file's text: checks it is JSON, migrates older versions to
/// [`FLOW_VERSION`] and checks it against the schema's types. Errors name
/// the line and column, or the node.
pub fn parse(text: &str) -> Result<Flow> {
    let mut value: Value = serde_json::from_str(text).map_err(|source| Error::Json {
        line: source.line(),
        column: source.column(),
        message: source.to_string(),
    })?;
    migrate(&mut value)?;
    let flow: Flow = serde_json::from_value(value.clone()).map_err(|source| Error::Schema {
        node: locate_bad_node(&value),
        message: source.to_string(),
    })?;
    Ok(flow)
}

/// The node whose settings fail to deserialize, for a precise message.
fn locate_bad_node(value: &Value) -> Option<String> {
    value
        .get("nodes")?
        .as_array()?
        .iter()
        .find(|node| serde_json::from_value::<Node>((*node).clone()).is_err())
        .map(|node| {
            node.get("id")
                .and_then(Value::as_str)
                .unwrap_or("(a node without an id)")
                .to_owned()
        })
}

/// Upgrades a flow document in place, one version at a time.
///
/// - 1 → 2: the `llm` node's `schema` setting is renamed `outputSchema`,
///   and `loop` nodes' `times` becomes `max`.
fn migrate(value: &mut Value) -> Result<()> {
    let version = value
        .get("version")
        .and_then(Value::as_u64)
        .ok_or(Error::Version { found: None })?;
    let version = u32::try_from(version).map_err(|_| Error::Version {
        found: Some(version),
    })?;
    if version == 0 || version > FLOW_VERSION {
        return Err(Error::Version {
            found: Some(u64::from(version)),
        });
    }
    if version < 2 {
        if let Some(nodes) = value.get_mut("nodes").and_then(Value::as_array_mut) {
            for node in nodes.iter_mut().filter_map(Value::as_object_mut) {
                let kind = node.get("kind").and_then(Value::as_str).unwrap_or_default();
                let renames: &[(&str, &str)] = match kind {
                    "llm" => &[("schema", "outputSchema")],
                    "loop" => &[("times", "max")],
                    _ => &[],
                };
                for (old, new) in renames {
                    if let Some(setting) = node.remove(*old) {
                        node.insert((*new).to_owned(), setting);
                    }
                }
            }
        }
    }
    value["version"] = Value::from(FLOW_VERSION);
    Ok(())
}

/// The flow file's JSON Schema.
#[must_use]
pub fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Flow)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_one_files_are_migrated() {
        let flow = parse(
            r#"{"version":1,"name":"old","nodes":[
                {"id":"a","kind":"llm","prompt":"hi","schema":{"type":"object"}},
                {"id":"l","kind":"loop","body":"a","times":3}]}"#,
        )
        .expect("migrates");
        assert_eq!(flow.version, FLOW_VERSION);
        assert!(matches!(
            &flow.nodes[0].kind,
            NodeKind::Llm {
                output_schema: Some(_),
                ..
            }
        ));
        assert!(matches!(flow.nodes[1].kind, NodeKind::Loop { max: 3, .. }));
    }

    #[test]
    fn unknown_versions_and_bad_json_are_explained() {
        let newer = parse(r#"{"version":99,"name":"x","nodes":[]}"#).expect_err("too new");
        assert!(newer.to_string().contains("99"), "{newer}");
        let broken = parse("{\n \"version\": 2,\n \"name\": }").expect_err("bad json");
        assert!(broken.to_string().contains("line 3"), "{broken}");
        let bad = parse(r#"{"version":2,"name":"x","nodes":[{"id":"n1","kind":"teleport"}]}"#)
            .expect_err("unknown kind");
        assert!(bad.to_string().contains("n1"), "{bad}");
        assert!(bad.to_string().contains("teleport"), "{bad}");
    }

    #[test]
    fn a_flow_round_trips() {
        let text = r#"{"version":2,"name":"t","state":{"x":"number"},"nodes":[
            {"id":"p","kind":"parallel","over":"xs","as":"x","body":{"id":"b","kind":"transform","set":{"y":"x"}}}]}"#;
        let flow = parse(text).expect("parses");
        assert_eq!(parse(&flow.to_pretty_json()).expect("again"), flow);
    }
}
