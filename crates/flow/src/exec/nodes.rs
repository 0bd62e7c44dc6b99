//! What each node kind does. Every call to a port goes through
//! [`Calls`], so it is recorded (or replayed).

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use super::{Outcome, RunContext, State};
use crate::event::{EventKind, RunEvent};
use crate::expr::{self, Scope};
use crate::model::{HumanMode, MemoryOp, Node, NodeKind};
use crate::ports::{AgentSpec, Message, ModelReply, ModelRequest, PortError, ToolCall, ToolUse};
use crate::record::Calls;
use crate::taint::{spotlight, spotlight_value, DATA_RULE};

/// Room for the critic's verdict: longer than most configured answer
/// limits, so a verdict is not cut in the middle of its JSON.
const CRITIC_TOKENS: u32 = 256;

/// Events a node produced while it works (flushed with its checkpoint).
pub(super) type Buffer = Arc<Mutex<Vec<RunEvent>>>;

fn push(buffer: &Buffer, event: RunEvent) {
    if let Ok(mut events) = buffer.lock() {
        events.push(event);
    }
}

/// The variables templates see: the state (without hidden keys), the run's
/// input, and local names (a parallel item).
fn scope(context: &RunContext, state: &State, local: &[(String, Value)]) -> Scope {
    let mut scope: Scope = state
        .iter()
        .filter(|(key, _)| !key.starts_with('#'))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    scope.insert("input".into(), context.input.clone());
    for (name, value) in local {
        scope.insert(name.clone(), value.clone());
    }
    scope
}

fn port(error: PortError) -> String {
    error.message
}

/// Runs `node` at `path` on a state snapshot.
/// Where a node runs: its path (`map/2` for an item), the item's local
/// bindings, and the sequence number of the event that started its attempt
/// (its span in the run's trace; items share their map node's).
pub(super) struct Place {
    pub(super) path: String,
    pub(super) local: Vec<(String, Value)>,
    pub(super) span: u64,
}

pub(super) fn execute(
    context: Arc<RunContext>,
    node: Arc<Node>,
    state: Arc<State>,
    place: Place,
    buffer: Buffer,
) -> BoxFuture<'static, Result<Outcome, String>> {
    let Place { path, local, span } = place;
    async move {
        let calls = Calls::new(
            &context.run_id,
            path.clone(),
            Arc::clone(&context.ports.log),
            context.options.replay.clone(),
        );
        let work = Work {
            context: &context,
            node: &node,
            state: &state,
            path: &path,
            local: &local,
            buffer: &buffer,
            calls: &calls,
            span,
        };
        work.run().await
    }
    .boxed()
}

struct Work<'a> {
    context: &'a Arc<RunContext>,
    node: &'a Arc<Node>,
    state: &'a Arc<State>,
    path: &'a str,
    local: &'a [(String, Value)],
    buffer: &'a Buffer,
    calls: &'a Calls,
    span: u64,
}

impl Work<'_> {
    fn scope(&self) -> Scope {
        scope(self.context, self.state, self.local)
    }

    /// The scope for prompts: values that may be untrusted are spotlighted
    /// (never used for tool arguments).
    fn prompt_scope(&self) -> Scope {
        let mut scope = self.scope();
        for (key, value) in &mut scope {
            if self.context.taint.key(key).is_some() {
                *value = spotlight_value(key, value);
            }
        }
        scope
    }

    fn emit(&self, event: EventKind) {
        push(self.buffer, self.context.event(Some(self.path), event));
    }

    fn render(&self, template: &str, scope: &Scope) -> Result<String, String> {
        expr::render(template, scope)
            .map_err(|message| format!("node `{}`: template `{template}`: {message}", self.path))
    }

    #[expect(clippy::too_many_lines, reason = "one arm per node kind")]
    async fn run(&self) -> Result<Outcome, String> {
        let id = self.node.id.as_str();
        match &self.node.kind {
            NodeKind::Input { fields } => {
                let input = self.context.input.as_object().cloned().unwrap_or_default();
                // Required fields first; any other declared key given is taken too.
                let mut writes = State::new();
                for (key, value) in &input {
                    if self.context.flow.state.contains_key(key) {
                        writes.insert(key.clone(), value.clone());
                    }
                }
                for field in fields {
                    let value = input.get(field).cloned().ok_or_else(|| {
                        format!("the run's input lacks `{field}` (node `{id}`) — pass it: --input '{{\"{field}\": …}}'")
                    })?;
                    writes.insert(field.clone(), value);
                }
                Ok(Outcome {
                    writes,
                    ..Outcome::default()
                })
            }
            NodeKind::Output { keys } => {
                let output: serde_json::Map<String, Value> = keys
                    .iter()
                    .map(|key| {
                        (
                            key.clone(),
                            self.state.get(key).cloned().unwrap_or(Value::Null),
                        )
                    })
                    .collect();
                Ok(Outcome {
                    output: Some(Value::Object(output)),
                    ..Outcome::default()
                })
            }
            NodeKind::Llm {
                system,
                prompt,
                model,
                output_schema,
                max_tokens,
                temperature,
            } => {
                let scope = self.prompt_scope();
                let mut system = self.render(system, &scope)?;
                if self.context.taint.inputs(id).is_some() {
                    if !system.is_empty() {
                        system.push_str("\n\n");
                    }
                    system.push_str(DATA_RULE);
                }
                let mut messages = Vec::new();
                if !system.is_empty() {
                    messages.push(Message::new("system", system));
                }
                messages.push(Message::new("user", self.render(prompt, &scope)?));
                let reply = self
                    .model(ModelRequest {
                        model: model.clone(),
                        messages,
                        tools: Vec::new(),
                        output_schema: output_schema.clone(),
                        max_tokens: *max_tokens,
                        temperature: *temperature,
                        trace: None,
                    })
                    .await?;
                let result = if output_schema.is_some() {
                    reply.value.ok_or_else(|| {
                        format!("node `{id}`: the model gave no structured answer")
                    })?
                } else {
                    Value::String(reply.text)
                };
                Ok(result_only(result))
            }
            NodeKind::Agent {
                agent,
                task,
                max_steps,
            } => {
                let untrusted = self.context.taint.inputs(id).map(str::to_owned);
                let task = self.render(task, &self.prompt_scope())?;
                let spec = self.agent_spec(agent)?;
                let answer = self
                    .agent(&spec, &task, untrusted, max_steps.unwrap_or(spec.max_steps))
                    .await?;
                Ok(result_only(Value::String(answer)))
            }
            NodeKind::Tool { tool, args } => {
                let arguments = expr::render_value(args, &self.scope())
                    .map_err(|message| format!("node `{id}`: arguments: {message}"))?;
                // Only references the author wrote are resolved, never ones
                // that arrive through templated state.
                let mut secrets: Vec<String> = crate::check::strings(args)
                    .into_iter()
                    .flat_map(crate::check::vault_references)
                    .map(str::to_owned)
                    .collect();
                secrets.sort();
                secrets.dedup();
                if let Some(name) = smuggled_reference(args, &arguments, &secrets) {
                    return Err(format!(
                        "node `{id}`: a templated value carries `vault://{name}` into the arguments — \
                         only references written in the flow file are resolved; write it there, outside `{{{{ }}}}`"
                    ));
                }
                let using = ToolUse {
                    secrets,
                    untrusted: self.context.taint.inputs(id).map(str::to_owned),
                };
                let result = self.tool(tool, &arguments, &using).await?;
                Ok(result_only(result))
            }
            NodeKind::Retrieve { query, project, k } => {
                let scope = self.scope();
                let query = self.render(query, &scope)?;
                let project = project
                    .as_deref()
                    .map(|project| self.render(project, &scope))
                    .transpose()?
                    .filter(|project| !project.is_empty());
                let request = json!({ "query": query, "project": project, "k": k });
                let retriever = Arc::clone(&self.context.ports.retriever);
                let hits: Vec<Value> = self
                    .calls
                    .call("retrieve", &request, async {
                        retriever.search(&query, project.as_deref(), *k).await
                    })
                    .await
                    .map_err(port)?;
                Ok(result_only(Value::Array(hits)))
            }
            NodeKind::Router { routes, default } => {
                let scope = self.scope();
                for route in routes {
                    let holds = expr::holds(&route.when, &scope).map_err(|message| {
                        format!("node `{id}`: condition `{}`: {message}", route.when)
                    })?;
                    if holds {
                        return Ok(next_only(vec![route.to.clone()]));
                    }
                }
                Ok(next_only(default.iter().cloned().collect()))
            }
            NodeKind::Loop { body, until, max } => {
                let counter = format!("#loop.{id}");
                let passes = self
                    .state
                    .get(&counter)
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let stop = passes > 0
                    && (passes >= u64::from(*max)
                        || match until {
                            Some(until) => {
                                expr::holds(until, &self.scope()).map_err(|message| {
                                    format!("node `{id}`: condition `{until}`: {message}")
                                })?
                            }
                            None => false,
                        });
                let mut writes = State::new();
                let next = if stop {
                    writes.insert(counter, Value::from(0));
                    self.context
                        .plain_edges
                        .get(id)
                        .cloned()
                        .unwrap_or_default()
                } else {
                    writes.insert(counter, Value::from(passes + 1));
                    vec![body.clone()]
                };
                Ok(Outcome {
                    writes,
                    next: Some(next),
                    ..Outcome::default()
                })
            }
            NodeKind::Parallel {
                over,
                item,
                concurrency,
                body,
            } => self.parallel(over, item, *concurrency, body).await,
            NodeKind::Reflect {
                subject,
                criteria,
                rounds,
                model,
            } => {
                let text = self
                    .state
                    .get(subject)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let revised = self
                    .reflect(text, criteria, *rounds, model.as_deref())
                    .await?;
                let mut writes = State::new();
                writes.insert(subject.clone(), Value::String(revised.clone()));
                Ok(Outcome {
                    result: Some(Value::String(revised)),
                    writes,
                    ..Outcome::default()
                })
            }
            NodeKind::Human { prompt, mode } => self.human(prompt, *mode).await,
            NodeKind::Memory {
                op,
                namespace,
                key,
                value,
                query,
                k,
            } => {
                let scope = self.scope();
                let key = key
                    .as_deref()
                    .map(|key| self.render(key, &scope))
                    .transpose()?;
                let value = value
                    .as_deref()
                    .map(|value| self.render(value, &scope))
                    .transpose()?;
                let query = query
                    .as_deref()
                    .map(|query| self.render(query, &scope))
                    .transpose()?;
                let result = self
                    .memory(
                        *op,
                        namespace,
                        key.as_deref(),
                        value.as_deref(),
                        query.as_deref(),
                        *k,
                    )
                    .await?;
                Ok(result_only(result))
            }
            NodeKind::Transform { set } => {
                if set.is_empty() {
                    return Ok(result_only(json!({})));
                }
                let scope = self.scope();
                let mut writes = State::new();
                for (key, expression) in set {
                    let value = expr::evaluate(expression, &scope).map_err(|message| {
                        format!("node `{id}`: `{key} = {expression}`: {message}")
                    })?;
                    writes.insert(key.clone(), value);
                }
                let result = Value::Object(writes.clone().into_iter().collect());
                Ok(Outcome {
                    result: Some(result),
                    writes: if self.local.is_empty() {
                        writes
                    } else {
                        State::new()
                    },
                    ..Outcome::default()
                })
            }
            NodeKind::Subflow { flow, input } => {
                let scope = self.scope();
                let mut values = serde_json::Map::new();
                for (key, expression) in input {
                    let value = expr::evaluate(expression, &scope)
                        .map_err(|message| format!("node `{id}`: input `{key}`: {message}"))?;
                    values.insert(key.clone(), value);
                }
                let path = match &self.context.options.base {
                    Some(base) => base.join(flow).to_string_lossy().into_owned(),
                    None => flow.clone(),
                };
                let request = json!({ "flow": flow, "input": values });
                let subflows = Arc::clone(&self.context.ports.subflows);
                let cancel = self.context.cancel.clone();
                let output: Value = self
                    .calls
                    .call("subflow", &request, async {
                        subflows
                            .run(&path, Value::Object(values.clone()), &cancel)
                            .await
                    })
                    .await
                    .map_err(port)?;
                Ok(result_only(output))
            }
        }
    }

    async fn model(&self, mut request: ModelRequest) -> Result<ModelReply, String> {
        request.trace = Some(crate::ports::CallTrace {
            run: self.context.run_id.clone(),
            node_seq: self.span,
            parent: self.context.trace_parent.clone(),
        });
        if let Some(error) = self.context.spent.stopped() {
            return Err(format!("node `{}`: {error}", self.path));
        }
        let model = Arc::clone(&self.context.ports.model);
        let context = Arc::clone(self.context);
        let path = self.path.to_owned();
        let on_token = move |text: &str| {
            context.event(
                Some(&path),
                EventKind::Token {
                    text: text.to_owned(),
                },
            );
        };
        let cancel = self.context.cancel.clone();
        let reply: ModelReply = self
            .calls
            .call("model", &request, async {
                model.complete(&request, &on_token, &cancel).await
            })
            .await
            .map_err(|error| format!("node `{}`: model: {}", self.path, error.message))?;
        if self.context.options.replay.is_some() && !reply.text.is_empty() {
            // A replay shows the recorded text as it was streamed.
            self.context.event(
                Some(self.path),
                EventKind::Token {
                    text: reply.text.clone(),
                },
            );
        }
        let mut usage = reply.usage.clone();
        usage.replayed = self.context.options.replay.is_some();
        self.emit(EventKind::ModelCall {
            provider: reply.provider.clone(),
            model: reply.model.clone(),
            usage: Box::new(usage),
        });
        let charge = self
            .context
            .spent
            .charge(self.context.budget.as_ref(), &reply.usage);
        if let Some(event) = charge.event {
            self.emit(event);
        }
        if let Some(error) = charge.error {
            return Err(format!("node `{}`: {error}", self.path));
        }
        Ok(reply)
    }

    async fn tool(&self, name: &str, arguments: &Value, using: &ToolUse) -> Result<Value, String> {
        self.emit(EventKind::ToolCall {
            tool: name.to_owned(),
            arguments: arguments.clone(),
        });
        let tools = Arc::clone(&self.context.ports.tools);
        let cancel = self.context.cancel.clone();
        let request = json!({ "tool": name, "arguments": arguments });
        let result: Result<Value, PortError> = self
            .calls
            .call("tool", &request, async {
                tools.call(name, arguments, using, &cancel).await
            })
            .await;
        let summary = match &result {
            Ok(value) => shorten(&value_text(value), 200),
            Err(error) => error.message.clone(),
        };
        self.emit(EventKind::ToolResult {
            tool: name.to_owned(),
            ok: result.is_ok(),
            summary,
        });
        result.map_err(|error| format!("node `{}`: tool `{name}`: {}", self.path, error.message))
    }

    fn agent_spec(&self, reference: &str) -> Result<AgentSpec, String> {
        let (name, version) = reference.split_once('@').ok_or_else(|| {
            format!(
                "node `{}`: agent `{reference}` has no version — pin `{reference}@VERSION`",
                self.path
            )
        })?;
        self.context.ports.catalog.agent(name, version).ok_or_else(|| {
            format!("node `{}`: agent `{reference}` is not published — run `codexos agents publish FILE`", self.path)
        })
    }

    /// The agent's system prompt: its own, plus project context and what
    /// it remembers, both marked as data.
    async fn agent_system(&self, spec: &AgentSpec, task: &str) -> Result<String, String> {
        let mut system = spec.system.clone();
        if let Some(project) = &spec.context_project {
            let request = json!({ "query": task, "project": project, "k": 4 });
            let retriever = Arc::clone(&self.context.ports.retriever);
            let hits: Vec<Value> = self
                .calls
                .call("retrieve", &request, async {
                    retriever.search(task, Some(project), 4).await
                })
                .await
                .map_err(port)?;
            system.push_str("\n\nContext from the project:\n");
            for hit in hits {
                let text = hit.get("text").and_then(Value::as_str).unwrap_or_default();
                let path = hit.get("path").and_then(Value::as_str).unwrap_or("project");
                system.push_str(&spotlight(path, text));
                system.push('\n');
            }
        }
        if spec.memory {
            let remembered = self
                .memory(MemoryOp::Search, &spec.name, None, None, Some(task), 3)
                .await?;
            if let Some(items) = remembered.as_array().filter(|items| !items.is_empty()) {
                system.push_str("\n\nWhat you remember from earlier tasks:\n");
                for item in items {
                    let value = item
                        .get("value")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    system.push_str(&spotlight("memory", value));
                    system.push('\n');
                }
            }
        }
        if spec.reads_untrusted_content() {
            system.push_str("\n\n");
            system.push_str(DATA_RULE);
        }
        Ok(system)
    }

    /// One tool call of an agent's loop: its result, spotlighted, for the
    /// model; from then on the agent's calls are untrusted.
    async fn agent_tool(
        &self,
        spec: &AgentSpec,
        name: &str,
        arguments: &Value,
        untrusted: &mut Option<String>,
    ) -> String {
        let using = ToolUse {
            secrets: Vec::new(),
            untrusted: untrusted.clone(),
        };
        let content = match self.tool(name, arguments, &using).await {
            Ok(value) => spotlight(name, &shorten(&value_text(&value), 8_000)),
            Err(message) => format!("error: {message}"),
        };
        untrusted.get_or_insert_with(|| {
            format!("agent `{}` read the output of tool `{name}`", spec.name)
        });
        content
    }

    /// A sub-agent: plan → act with tools → observe, until it answers
    /// without calling a tool or the step limit is reached.
    /// `untrusted` says why the task may carry untrusted content; tool
    /// calls are untrusted from then on, and from the first project
    /// context, memory or tool result the agent reads.
    async fn agent(
        &self,
        spec: &AgentSpec,
        task: &str,
        mut untrusted: Option<String>,
        max_steps: u32,
    ) -> Result<String, String> {
        let system = self.agent_system(spec, task).await?;
        if untrusted.is_none() {
            untrusted = reads_untrusted(spec);
        }
        let tools: Vec<_> = spec
            .tools
            .iter()
            .map(|name| {
                self.context.ports.tools.spec(name).ok_or_else(|| {
                    format!(
                        "node `{}`: agent `{}` uses tool `{name}`, which does not exist",
                        self.path, spec.name
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        let mut messages = vec![Message::new("system", system), Message::new("user", task)];
        let mut answer = String::new();
        for _ in 0..max_steps.max(1) {
            let reply = self
                .model(ModelRequest {
                    model: spec.model.clone(),
                    messages: messages.clone(),
                    tools: tools.clone(),
                    output_schema: None,
                    max_tokens: None,
                    temperature: None,
                    trace: None,
                })
                .await?;
            answer.clone_from(&reply.text);
            if reply.tool_calls.is_empty() {
                break;
            }
            messages.push(Message {
                role: "assistant".into(),
                content: reply.text.clone(),
                tool_calls: reply.tool_calls.clone(),
                tool_call_id: None,
            });
            for ToolCall {
                id,
                name,
                arguments,
            } in reply.tool_calls
            {
                let content = if spec.tools.contains(&name) {
                    self.agent_tool(spec, &name, &arguments, &mut untrusted)
                        .await
                } else {
                    format!(
                        "error: tool `{name}` is not available to this agent; use one of: {}",
                        spec.tools.join(", ")
                    )
                };
                messages.push(Message {
                    role: "tool".into(),
                    content,
                    tool_calls: Vec::new(),
                    tool_call_id: Some(id),
                });
            }
        }
        if spec.memory {
            let key = format!(
                "task-{}",
                &crate::record::request_hash(&Value::String(task.to_owned()))[..12]
            );
            let value = format!(
                "Task: {} — Answer: {}",
                shorten(task, 300),
                shorten(&answer, 600)
            );
            self.memory(
                MemoryOp::Write,
                &spec.name,
                Some(&key),
                Some(&value),
                None,
                0,
            )
            .await?;
        }
        Ok(answer)
    }

    async fn memory(
        &self,
        op: MemoryOp,
        namespace: &str,
        key: Option<&str>,
        value: Option<&str>,
        query: Option<&str>,
        k: u32,
    ) -> Result<Value, String> {
        let memory = Arc::clone(&self.context.ports.memory);
        let request = json!({ "op": op, "namespace": namespace, "key": key, "value": value, "query": query, "k": k });
        self.calls
            .call("memory", &request, async {
                match op {
                    MemoryOp::Write => memory
                        .write(
                            namespace,
                            key.unwrap_or_default(),
                            value.unwrap_or_default(),
                        )
                        .map(|()| json!({ "key": key, "stored": true })),
                    MemoryOp::Read => memory
                        .read(namespace, key.unwrap_or_default())
                        .map(|found| found.map_or(Value::Null, Value::String)),
                    MemoryOp::Search => memory
                        .search(namespace, query.unwrap_or_default(), k)
                        .map(Value::Array),
                }
            })
            .await
            .map_err(|error| format!("node `{}`: memory: {}", self.path, error.message))
    }

    async fn reflect(
        &self,
        mut text: String,
        criteria: &[String],
        rounds: u32,
        model: Option<&str>,
    ) -> Result<String, String> {
        let grading = json!({
            "type": "object",
            "properties": {
                "pass": { "type": "boolean" },
                "feedback": { "type": "string" }
            },
            // Feedback optional: a small model that rambles can still close
            // the verdict after `pass`.
            "required": ["pass"]
        });
        let list: String = criteria
            .iter()
            .flat_map(|criterion| ["- ", criterion.as_str(), "\n"])
            .collect();
        for round in 0..=rounds {
            let verdict = self
                .model(ModelRequest {
                    model: model.map(str::to_owned),
                    messages: vec![
                        Message::new("system", "You are a strict reviewer. Grade the text against every criterion. Answer with pass (true only if all criteria are met) and short feedback."),
                        Message::new("user", format!("Criteria:\n{list}\nText:\n<text>\n{text}\n</text>")),
                    ],
                    tools: Vec::new(),
                    output_schema: Some(grading.clone()),
                    max_tokens: Some(CRITIC_TOKENS),
                    temperature: None,
                    trace: None,
                })
                .await?;
            let value = verdict.value.unwrap_or(Value::Null);
            let passed = value.get("pass").and_then(Value::as_bool).unwrap_or(false);
            if passed || round == rounds {
                break;
            }
            let feedback = value
                .get("feedback")
                .and_then(Value::as_str)
                .unwrap_or("(no feedback)");
            let revision = self
                .model(ModelRequest {
                    model: model.map(str::to_owned),
                    messages: vec![
                        Message::new("system", "Revise the text so it meets every criterion. Answer with the revised text only."),
                        Message::new("user", format!("Criteria:\n{list}\nReviewer feedback: {feedback}\n\nText:\n{text}")),
                    ],
                    tools: Vec::new(),
                    output_schema: None,
                    max_tokens: None,
                    temperature: None,
                    trace: None,
                })
                .await?;
            if !revision.text.trim().is_empty() {
                text = revision.text;
            }
        }
        Ok(text)
    }

    async fn human(&self, prompt: &str, mode: HumanMode) -> Result<Outcome, String> {
        let id = self.node.id.as_str();
        let prompt = self.render(prompt, &self.scope())?;
        let answer = self.context.options.answers.get(id).cloned();
        if answer.is_none() && self.context.options.replay.is_none() {
            self.emit(EventKind::ApprovalRequested {
                prompt,
                mode: match mode {
                    HumanMode::Approve => "approve".into(),
                    HumanMode::Input => "input".into(),
                },
            });
            return Ok(Outcome {
                paused: true,
                ..Outcome::default()
            });
        }
        let request = json!({ "prompt": prompt, "mode": mode });
        let answer: Value = self
            .calls
            .call("human", &request, async {
                Ok(answer.unwrap_or(Value::Null))
            })
            .await
            .map_err(port)?;
        match mode {
            HumanMode::Approve => {
                let approved = answer
                    .get("approved")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if !approved {
                    let comment = answer.get("comment").and_then(Value::as_str).unwrap_or("");
                    return Err(format!(
                        "node `{id}`: not approved{}",
                        if comment.is_empty() {
                            String::new()
                        } else {
                            format!(": {comment}")
                        }
                    ));
                }
                Ok(result_only(answer))
            }
            HumanMode::Input => Ok(result_only(answer)),
        }
    }

    async fn parallel(
        &self,
        over: &str,
        item: &str,
        concurrency: u32,
        body: &Node,
    ) -> Result<Outcome, String> {
        let id = self.node.id.as_str();
        let items = expr::evaluate(over, &self.scope())
            .map_err(|message| format!("node `{id}`: `over` {over}: {message}"))?;
        let Value::Array(items) = items else {
            return Err(format!(
                "node `{id}`: `{over}` is not a list, so there is nothing to fan out over"
            ));
        };
        let body = Arc::new(body.clone());
        let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1) as usize));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, value) in items.into_iter().enumerate() {
            let context = Arc::clone(self.context);
            let body = Arc::clone(&body);
            let state = Arc::clone(self.state);
            let path = format!("{}/{index}", self.path);
            let mut local = self.local.to_vec();
            local.push((item.to_owned(), value));
            let buffer = Arc::clone(self.buffer);
            let limit = Arc::clone(&limit);
            let span = self.span;
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let outcome =
                    execute(context, body, state, Place { path, local, span }, buffer).await;
                (index, outcome)
            });
        }
        let mut results: Vec<(usize, Value)> = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (index, outcome) = joined.map_err(|error| {
                if error.is_panic() {
                    format!(
                        "node `{id}`: an item panicked — this is a bug; the run's events are kept"
                    )
                } else {
                    format!("node `{id}`: an item stopped: {error}")
                }
            })?;
            let outcome = outcome.map_err(|message| format!("item {index}: {message}"))?;
            results.push((index, outcome.result.unwrap_or(Value::Null)));
        }
        results.sort_by_key(|(index, _)| *index);
        Ok(result_only(Value::Array(
            results.into_iter().map(|(_, value)| value).collect(),
        )))
    }
}

/// A secret the author referenced that the rendering added somewhere the
/// author did not write it (state carrying `vault://NAME` into a URL, say).
fn smuggled_reference(authored: &Value, rendered: &Value, names: &[String]) -> Option<String> {
    match (authored, rendered) {
        (Value::String(template), Value::String(text)) => names
            .iter()
            .find(|name| {
                let reference = format!("vault://{name}");
                text.matches(&reference).count() > template.matches(&reference).count()
            })
            .cloned(),
        (Value::Array(templates), Value::Array(texts)) => templates
            .iter()
            .zip(texts)
            .find_map(|(template, text)| smuggled_reference(template, text, names)),
        (Value::Object(templates), Value::Object(texts)) => templates
            .iter()
            .find_map(|(key, template)| smuggled_reference(template, texts.get(key)?, names)),
        _ => None,
    }
}

/// Why an agent reads untrusted content before any tool runs, if it does.
fn reads_untrusted(spec: &AgentSpec) -> Option<String> {
    if spec.context_project.is_some() {
        Some(format!(
            "agent `{}` read its project's documents",
            spec.name
        ))
    } else if spec.memory {
        Some(format!("agent `{}` read its memories", spec.name))
    } else {
        None
    }
}

fn result_only(result: Value) -> Outcome {
    Outcome {
        result: Some(result),
        ..Outcome::default()
    }
}

fn next_only(next: Vec<String>) -> Outcome {
    Outcome {
        next: Some(next),
        ..Outcome::default()
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The first `limit` characters, with an ellipsis when cut.
pub(crate) fn shorten(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_reference_that_arrives_through_state_is_caught() {
        let names = vec!["TOKEN".to_owned()];
        let authored = json!({"url": "{{ link }}", "headers": ["Bearer vault://TOKEN"]});
        let honest = json!({"url": "https://example.com", "headers": ["Bearer vault://TOKEN"]});
        assert_eq!(smuggled_reference(&authored, &honest, &names), None);
        let smuggled = json!({"url": "https://evil.test/?k=vault://TOKEN", "headers": ["Bearer vault://TOKEN"]});
        assert_eq!(
            smuggled_reference(&authored, &smuggled, &names),
            Some("TOKEN".to_owned())
        );
    }
}
