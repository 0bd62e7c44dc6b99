//! The check before a run: structure, types, and that every tool, model,
//! secret, agent and project a flow names exists. A flow with an error does
//! not start; the canvas shows the problems on their nodes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::expr;
use crate::model::{Flow, Node, NodeKind, ValueType};
use crate::ports::Catalog;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The flow cannot run.
    Error,
    /// The flow runs, but probably not as meant.
    Warning,
}

/// One finding of the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// Node it is about (none for flow-wide problems).
    pub node: Option<String>,
    /// Stable code (`dangling-edge`, `unbounded-cycle`, …).
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

/// Checks a flow. `base` is the folder of its file, for subflow paths.
#[must_use]
pub fn check(flow: &Flow, catalog: &dyn Catalog, base: Option<&Path>) -> Vec<Problem> {
    let mut checker = Checker {
        flow,
        catalog,
        problems: Vec::new(),
    };
    checker.structure();
    checker.budget();
    for node in &flow.nodes {
        checker.node(node, &[]);
    }
    checker.secrets();
    if let Some(base) = base {
        checker.subflow_files(base);
    }
    checker.problems
}

/// Whether the problems include an error.
#[must_use]
pub fn has_errors(problems: &[Problem]) -> bool {
    problems
        .iter()
        .any(|problem| problem.severity == Severity::Error)
}

struct Checker<'a> {
    flow: &'a Flow,
    catalog: &'a dyn Catalog,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(
        &mut self,
        severity: Severity,
        node: Option<&str>,
        code: &str,
        message: String,
        fix: String,
    ) {
        self.problems.push(Problem {
            severity,
            node: node.map(str::to_owned),
            code: code.to_owned(),
            message,
            fix,
        });
    }

    fn error(&mut self, node: &str, code: &str, message: String, fix: String) {
        self.report(Severity::Error, Some(node), code, message, fix);
    }

    fn budget(&mut self) {
        let Some(budget) = &self.flow.budget else {
            return;
        };
        if let Some((message, fix)) = budget.invalid() {
            self.report(Severity::Error, None, "invalid-budget", message, fix);
        }
        if budget.tokens.is_none() && budget.cost_usd.is_none() {
            self.report(
                Severity::Warning,
                None,
                "empty-budget",
                "`budget` sets neither `tokens` nor `costUsd`: it limits nothing".into(),
                "add a limit, or remove `budget`".into(),
            );
        }
    }

    fn structure(&mut self) {
        let flow = self.flow;
        if !valid_name(&flow.name) {
            self.report(
                Severity::Error,
                None,
                "invalid-name",
                format!("flow name `{}` is not a simple name", flow.name),
                "use letters, digits, `-` and `_` only".into(),
            );
        }
        if RESERVED_NAMES.contains(&flow.name.as_str()) {
            self.report(
                Severity::Error,
                None,
                "reserved-name",
                format!(
                    "flow name `{}` is taken by the runs CodexOS keeps for asks and chat turns",
                    flow.name
                ),
                "pick another name, e.g. `my-ask`".into(),
            );
        }
        let mut seen = HashSet::new();
        for node in &flow.nodes {
            if !seen.insert(node.id.as_str()) {
                self.error(
                    &node.id,
                    "duplicate-id",
                    format!("two nodes have the id `{}`", node.id),
                    "give each node its own id".into(),
                );
            }
            if node.id.is_empty() || node.id.contains('/') {
                self.error(
                    &node.id,
                    "invalid-id",
                    format!("node id `{}` is empty or contains `/`", node.id),
                    "use letters, digits, `-` and `_`".into(),
                );
            }
        }
        let ids: HashSet<&str> = flow.nodes.iter().map(|node| node.id.as_str()).collect();
        for (from, to) in flow.all_edges() {
            for end in [from, to] {
                if !ids.contains(end) {
                    let known = closest(end, ids.iter().copied());
                    self.error(
                        from,
                        "dangling-edge",
                        format!("edge `{from}` → `{to}` names node `{end}`, which does not exist"),
                        match known {
                            Some(name) => {
                                format!("did you mean `{name}`? Otherwise remove the edge")
                            }
                            None => "add the node or remove the edge".into(),
                        },
                    );
                }
            }
        }
        if flow.nodes.is_empty() {
            self.report(
                Severity::Error,
                None,
                "empty",
                "the flow has no nodes".into(),
                "add an input, some work and an output node".into(),
            );
            return;
        }
        if !flow
            .nodes
            .iter()
            .any(|node| matches!(node.kind, NodeKind::Output { .. }))
        {
            self.report(
                Severity::Warning,
                None,
                "no-output",
                "the flow has no output node, so its runs return nothing".into(),
                "add an `output` node listing the state keys to return".into(),
            );
        }
        self.cycles();
        self.reachability();
    }

    /// Every cycle must pass through a `loop` node, which bounds it.
    fn cycles(&mut self) {
        let flow = self.flow;
        let index: HashMap<&str, usize> = flow
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| (node.id.as_str(), i))
            .collect();
        let mut successors = vec![Vec::new(); flow.nodes.len()];
        for (from, to) in flow.all_edges() {
            if let (Some(&a), Some(&b)) = (index.get(from), index.get(to)) {
                successors[a].push(b);
            }
        }
        for component in strongly_connected(&successors) {
            let cyclic = component.len() > 1 || successors[component[0]].contains(&component[0]);
            if !cyclic {
                continue;
            }
            let bounded = component
                .iter()
                .any(|&i| matches!(flow.nodes[i].kind, NodeKind::Loop { .. }));
            if !bounded {
                let mut names: Vec<&str> = component
                    .iter()
                    .map(|&i| flow.nodes[i].id.as_str())
                    .collect();
                names.sort_unstable();
                self.error(
                    names[0],
                    "unbounded-cycle",
                    format!("nodes {} form a cycle with no bound", names.join(", ")),
                    "route the cycle through a `loop` node with `max` passes".into(),
                );
            }
        }
    }

    fn reachability(&mut self) {
        let flow = self.flow;
        let mut successors: HashMap<&str, Vec<&str>> = HashMap::new();
        for (from, to) in flow.all_edges() {
            successors.entry(from).or_default().push(to);
        }
        let mut reached: HashSet<&str> = HashSet::new();
        let entries = flow.entry_nodes();
        let mut stack: Vec<&str> = entries.iter().map(String::as_str).collect();
        while let Some(id) = stack.pop() {
            if reached.insert(id) {
                stack.extend(successors.get(id).into_iter().flatten().copied());
            }
        }
        for node in &flow.nodes {
            if !reached.contains(node.id.as_str()) {
                self.report(
                    Severity::Warning,
                    Some(&node.id),
                    "unreachable",
                    format!(
                        "node `{}` can never run: no path leads to it from an input",
                        node.id
                    ),
                    "connect it or remove it".into(),
                );
            }
        }
    }

    fn declared(&self, key: &str) -> Option<ValueType> {
        self.flow.state.get(key).copied()
    }

    fn writes(&mut self, node: &str, key: &str, produced: ValueType) {
        match self.declared(key) {
            None => self.error(
                node,
                "undeclared-state",
                format!("node `{node}` writes state key `{key}`, which the flow does not declare"),
                format!(
                    "add `\"{key}\": \"{}\"` to the flow's `state`",
                    produced.name()
                ),
            ),
            Some(declared) if !produced.fits(declared) => self.error(
                node,
                "type-mismatch",
                format!(
                    "node `{node}` writes a {} to `{key}`, declared as {}",
                    produced.name(),
                    declared.name()
                ),
                format!(
                    "declare `{key}` as `{}` or write it from another node",
                    produced.name()
                ),
            ),
            Some(_) => {}
        }
    }

    /// Checks that a template or expression parses and reads only declared
    /// state (plus the names in `local`).
    fn reads(&mut self, node: &str, text: &str, expression: bool, local: &[&str]) {
        let variables = if expression {
            expr::expression_variables(text)
        } else {
            expr::template_variables(text)
        };
        match variables {
            Err(message) => self.error(
                node,
                "syntax",
                format!(
                    "node `{node}`: cannot read {} `{text}`: {message}",
                    if expression { "expression" } else { "template" }
                ),
                "fix the expression (minijinja syntax: `count > 3`, `{{ name }}`)".into(),
            ),
            Ok(names) => {
                for name in names {
                    let builtin = matches!(
                        name.as_str(),
                        "input"
                            | "true"
                            | "false"
                            | "none"
                            | "loop"
                            | "range"
                            | "namespace"
                            | "dict"
                    );
                    if !builtin && !local.contains(&name.as_str()) && self.declared(&name).is_none()
                    {
                        self.error(
                            node,
                            "unknown-state",
                            format!("node `{node}` reads `{name}`, which is not a state key"),
                            format!("declare `{name}` in `state` and write it in an earlier node"),
                        );
                    }
                }
            }
        }
    }

    fn model(&mut self, node: &str, model: Option<&str>) {
        if let Some(model) = model {
            if !self.catalog.has_model(model) {
                self.error(
                    node,
                    "unknown-model",
                    format!("node `{node}` uses model `{model}`, which is neither a configured provider nor a model file"),
                    "run `codexos models pull NAME`, add a [[providers]] entry, or remove `model` to use the policy".into(),
                );
            }
        }
    }

    #[expect(clippy::too_many_lines, reason = "one arm per node kind")]
    fn node(&mut self, node: &Node, local: &[&str]) {
        let id = node.id.as_str();
        if let Some(produced) = node.kind.result_type() {
            if let Some(key) = &node.output {
                if local.is_empty() {
                    self.writes(id, key, produced);
                }
            }
        } else if let Some(key) = &node.output {
            self.report(
                Severity::Warning,
                Some(id),
                "ignored-output",
                format!(
                    "a {} node has no result, so `output: {key}` is ignored",
                    node.kind.name()
                ),
                "remove `output`".into(),
            );
        }
        match &node.kind {
            NodeKind::Input { fields } => {
                for field in fields {
                    if self.declared(field).is_none() {
                        self.error(
                            id,
                            "undeclared-state",
                            format!("input field `{field}` is not a state key"),
                            format!("add `\"{field}\": \"string\"` to `state`"),
                        );
                    }
                }
            }
            NodeKind::Output { keys } => {
                for key in keys {
                    if self.declared(key).is_none() {
                        self.error(
                            id,
                            "unknown-state",
                            format!("output key `{key}` is not a state key"),
                            format!("declare `{key}` in `state` or remove it from `keys`"),
                        );
                    }
                }
            }
            NodeKind::Llm {
                system,
                prompt,
                model,
                output_schema,
                ..
            } => {
                self.reads(id, system, false, local);
                self.reads(id, prompt, false, local);
                self.model(id, model.as_deref());
                if let Some(schema) = output_schema {
                    if schema.get("type").and_then(Value::as_str) != Some("object") {
                        self.error(
                            id,
                            "bad-schema",
                            "`outputSchema` must describe an object (`\"type\": \"object\"`)"
                                .into(),
                            "wrap the answer in an object with one property".into(),
                        );
                    } else if self.catalog.model_calls_tools(model.as_deref()) == Some(false) {
                        self.error(id, "capability", format!("node `{id}` asks for structured output, but its model cannot call tools"), "pick a model that supports tool calls, or drop `outputSchema`".into());
                    }
                }
            }
            NodeKind::Agent { agent, task, .. } => {
                self.reads(id, task, false, local);
                self.agent(id, agent);
            }
            NodeKind::Tool { tool, args } => {
                if !self.catalog.has_tool(tool) {
                    self.error(
                        id,
                        "unknown-tool",
                        format!("node `{id}` calls tool `{tool}`, which does not exist"),
                        "run `codexos tools list` for the tools available".into(),
                    );
                }
                for text in strings(args) {
                    self.reads(id, text, false, local);
                }
            }
            NodeKind::Retrieve { query, project, k } => {
                self.reads(id, query, false, local);
                if let Some(project) = project {
                    self.reads(id, project, false, local);
                    if !project.contains("{{") && !self.catalog.has_project(project) {
                        self.error(
                            id,
                            "unknown-project",
                            format!(
                                "node `{id}` searches project `{project}`, which is not ingested"
                            ),
                            format!("run `codexos ingest FOLDER --project {project}`"),
                        );
                    }
                }
                if *k == 0 {
                    self.error(
                        id,
                        "invalid-setting",
                        "`k` must be at least 1".into(),
                        "set `k` to the number of results wanted".into(),
                    );
                }
            }
            NodeKind::Router { routes, default } => {
                if routes.is_empty() && default.is_none() {
                    self.error(
                        id,
                        "invalid-setting",
                        "a router needs routes or a default".into(),
                        "add `routes: [{\"when\": …, \"to\": …}]`".into(),
                    );
                }
                for route in routes {
                    self.reads(id, &route.when, true, local);
                }
            }
            NodeKind::Parallel {
                over,
                item,
                concurrency,
                body,
            } => {
                self.reads(id, over, true, local);
                if let Some(declared) = self.declared(over.trim()) {
                    if !ValueType::List.fits(declared) {
                        self.error(
                            id,
                            "type-mismatch",
                            format!(
                                "node `{id}` fans out over `{over}`, declared as {}, not a list",
                                declared.name()
                            ),
                            format!("declare `{over}` as `list`"),
                        );
                    }
                }
                if *concurrency == 0 {
                    self.error(
                        id,
                        "invalid-setting",
                        "`concurrency` must be at least 1".into(),
                        "set it to the number of items to run at once".into(),
                    );
                }
                if matches!(
                    body.kind,
                    NodeKind::Input { .. }
                        | NodeKind::Output { .. }
                        | NodeKind::Router { .. }
                        | NodeKind::Loop { .. }
                        | NodeKind::Human { .. }
                ) {
                    self.error(
                        id,
                        "invalid-setting",
                        format!("a {} node cannot be a parallel body", body.kind.name()),
                        "use llm, agent, tool, retrieve, transform, reflect, memory or subflow"
                            .into(),
                    );
                }
                let mut inner: Vec<&str> = local.to_vec();
                inner.push(item.as_str());
                self.node(body, &inner);
            }
            NodeKind::Loop { until, max, .. } => {
                if let Some(until) = until {
                    self.reads(id, until, true, local);
                }
                if *max == 0 {
                    self.error(
                        id,
                        "invalid-setting",
                        "`max` must be at least 1".into(),
                        "set the most passes the loop may make".into(),
                    );
                }
            }
            NodeKind::Reflect {
                subject,
                criteria,
                model,
                ..
            } => {
                match self.declared(subject) {
                    None => self.error(
                        id,
                        "unknown-state",
                        format!("node `{id}` reviews `{subject}`, which is not a state key"),
                        format!("declare `{subject}` as `string`"),
                    ),
                    Some(declared) if !ValueType::String.fits(declared) => self.error(
                        id,
                        "type-mismatch",
                        format!(
                            "node `{id}` reviews `{subject}`, a {}, but reflection revises text",
                            declared.name()
                        ),
                        format!("declare `{subject}` as `string`"),
                    ),
                    Some(_) => {}
                }
                if criteria.is_empty() {
                    self.error(
                        id,
                        "invalid-setting",
                        "reflection needs at least one criterion".into(),
                        "list what a good answer does in `criteria`".into(),
                    );
                }
                self.model(id, model.as_deref());
                if self.catalog.model_calls_tools(model.as_deref()) == Some(false) {
                    self.error(id, "capability", format!("node `{id}`'s critic grades with a structured answer, but its model cannot call tools"), "pick a model that supports tool calls".into());
                }
            }
            NodeKind::Human { prompt, .. } => self.reads(id, prompt, false, local),
            NodeKind::Memory {
                op,
                key,
                value,
                query,
                ..
            } => {
                for text in [key, value, query].into_iter().flatten() {
                    self.reads(id, text, false, local);
                }
                let missing = match op {
                    crate::model::MemoryOp::Write => key.is_none() || value.is_none(),
                    crate::model::MemoryOp::Read => key.is_none(),
                    crate::model::MemoryOp::Search => query.is_none(),
                };
                if missing {
                    self.error(
                        id,
                        "invalid-setting",
                        format!(
                            "memory {op:?} needs {}",
                            match op {
                                crate::model::MemoryOp::Write => "`key` and `value`",
                                crate::model::MemoryOp::Read => "`key`",
                                crate::model::MemoryOp::Search => "`query`",
                            }
                        ),
                        "add the missing setting".into(),
                    );
                }
            }
            NodeKind::Transform { set } => {
                for (key, expression) in set {
                    self.reads(id, expression, true, local);
                    if local.is_empty() && self.declared(key).is_none() {
                        self.error(
                            id,
                            "undeclared-state",
                            format!("node `{id}` sets `{key}`, which the flow does not declare"),
                            format!("add `\"{key}\": \"any\"` to `state`"),
                        );
                    }
                }
            }
            NodeKind::Subflow { input, .. } => {
                for expression in input.values() {
                    self.reads(id, expression, true, local);
                }
            }
        }
    }

    fn agent(&mut self, node: &str, reference: &str) {
        let Some((name, version)) = reference.split_once('@') else {
            let latest = self.catalog.agent_versions(reference).pop();
            self.error(
                node,
                "unpinned-agent",
                format!("node `{node}` names agent `{reference}` without a version"),
                match latest {
                    Some(version) => format!("pin it: `{reference}@{version}` (the latest)"),
                    None => format!(
                        "publish it (`codexos agents publish FILE`) and pin `{reference}@VERSION`"
                    ),
                },
            );
            return;
        };
        let Some(spec) = self.catalog.agent(name, version) else {
            let versions = self.catalog.agent_versions(name);
            self.error(
                node,
                "unknown-agent",
                format!("agent `{name}@{version}` is not published"),
                if versions.is_empty() {
                    format!("publish it: `codexos agents publish {name}.agent.json`")
                } else {
                    format!("published versions: {}", versions.join(", "))
                },
            );
            return;
        };
        for tool in &spec.tools {
            if !self.catalog.has_tool(tool) {
                self.error(
                    node,
                    "unknown-tool",
                    format!("agent `{reference}` uses tool `{tool}`, which does not exist"),
                    "run `codexos tools list`; publish a new agent version without it".into(),
                );
            }
        }
        self.model(node, spec.model.as_deref());
        if !spec.tools.is_empty()
            && self.catalog.model_calls_tools(spec.model.as_deref()) == Some(false)
        {
            self.error(
                node,
                "capability",
                format!(
                    "agent `{reference}` has tools, but its model `{}` cannot call tools",
                    spec.model.as_deref().unwrap_or("(policy)")
                ),
                "pick a model that supports tool calls, or publish a version without tools".into(),
            );
        }
        if let Some(project) = &spec.context_project {
            if !self.catalog.has_project(project) {
                self.error(
                    node,
                    "unknown-project",
                    format!("agent `{reference}` reads project `{project}`, which is not ingested"),
                    format!("run `codexos ingest FOLDER --project {project}`"),
                );
            }
        }
    }

    /// Every `vault://NAME` the flow mentions must be in the vault.
    fn secrets(&mut self) {
        let flow = self.flow;
        for node in &flow.nodes {
            let value = serde_json::to_value(node).unwrap_or_default();
            for text in strings(&value) {
                for name in vault_references(text) {
                    if !self.catalog.has_secret(name) {
                        self.error(
                            &node.id,
                            "unknown-secret",
                            format!(
                                "node `{}` uses secret `{name}`, which is not in the vault",
                                node.id
                            ),
                            format!("run `codexos vault set {name}`"),
                        );
                    }
                }
            }
        }
    }

    fn subflow_files(&mut self, base: &Path) {
        for node in &self.flow.nodes {
            if let NodeKind::Subflow { flow, .. } = &node.kind {
                if !base.join(flow).is_file() {
                    self.error(
                        &node.id,
                        "missing-subflow",
                        format!("subflow file `{flow}` not found next to this flow"),
                        "fix the path (relative to this flow's folder)".into(),
                    );
                }
            }
        }
    }
}

/// Names in `vault://NAME` references inside a text.
#[must_use]
pub fn vault_references(text: &str) -> Vec<&str> {
    text.match_indices("vault://")
        .map(|(start, _)| {
            let rest = &text[start + "vault://".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Every string inside a JSON value.
pub(crate) fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(fields) => fields.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// Flow names of the runs kept for asks and chat turns.
pub const RESERVED_NAMES: [&str; 2] = ["ask", "chat"];

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The known name closest to a misspelt one (by edit distance ≤ 2).
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|candidate| (distance(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, candidate)| candidate)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

/// Tarjan's strongly connected components, iteratively.
fn strongly_connected(successors: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let count = successors.len();
    let mut index = vec![usize::MAX; count];
    let mut low = vec![0; count];
    let mut on_stack = vec![false; count];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next = 0;
    for root in 0..count {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work = vec![(root, 0usize)];
        while let Some(&mut (node, ref mut child)) = work.last_mut() {
            if *child == 0 && index[node] == usize::MAX {
                index[node] = next;
                low[node] = next;
                next += 1;
                stack.push(node);
                on_stack[node] = true;
            }
            if let Some(&target) = successors[node].get(*child) {
                *child += 1;
                if index[target] == usize::MAX {
                    work.push((target, 0));
                } else if on_stack[target] {
                    low[node] = low[node].min(index[target]);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[node]);
                }
                if low[node] == index[node] {
                    let mut component = Vec::new();
                    while let Some(member) = stack.pop() {
                        on_stack[member] = false;
                        component.push(member);
                        if member == node {
                            break;
                        }
                    }
                    components.push(component);
                }
            }
        }
    }
    components
}

/// A catalog where everything exists: for checking structure and types
/// only (`codexos flow check --offline-catalog` and tests of pure logic).
#[derive(Debug, Default)]
pub struct OpenCatalog {
    /// Agents it knows.
    pub agents: BTreeMap<(String, String), crate::ports::AgentSpec>,
}

impl Catalog for OpenCatalog {
    fn has_model(&self, _: &str) -> bool {
        true
    }
    fn model_calls_tools(&self, _: Option<&str>) -> Option<bool> {
        None
    }
    fn has_tool(&self, _: &str) -> bool {
        true
    }
    fn has_secret(&self, _: &str) -> bool {
        true
    }
    fn agent(&self, name: &str, version: &str) -> Option<crate::ports::AgentSpec> {
        self.agents
            .get(&(name.to_owned(), version.to_owned()))
            .cloned()
    }
    fn agent_versions(&self, name: &str) -> Vec<String> {
        self.agents
            .keys()
            .filter(|(agent, _)| agent == name)
            .map(|(_, version)| version.clone())
            .collect()
    }
    fn has_project(&self, _: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_find_cycles() {
        let graph = vec![vec![1], vec![2], vec![0], vec![3], vec![]];
        let mut sizes: Vec<usize> = strongly_connected(&graph).iter().map(Vec::len).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![1, 1, 3]);
        assert_eq!(distance("retreive", "retrieve"), 2);
        assert_eq!(
            vault_references("Bearer vault://GH_TOKEN, vault://x"),
            vec!["GH_TOKEN", "x"]
        );
    }
}
