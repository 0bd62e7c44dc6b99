//! Flows in a data home: check, run, resume, replay, diff and fork runs;
//! keep every flow's version history; publish versioned agents. The engine
//! is `codexos-flow`; this module gives it the real ports.

pub(crate) mod agents;
pub(crate) mod compare;
mod library;
mod ports;
mod trace;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use codexos_flow::check::{self, Problem};
use codexos_flow::exec::EventSink;
use codexos_flow::memory::MemoryLog;
use codexos_flow::ports::{AgentSpec, NodeRecord, RunLog, RunStatus};
use codexos_flow::{Executor, Flow, Ports, RunEvent, RunOptions, RunOutcome, ToolPermission};
use codexos_store::{FlowVersion, RunSummary};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::{Error, Permission, Result, Runtime, ToolAccess};

pub use compare::{NodeComparison, NodeSide, RunComparison, RunSide, ToolSide};
pub use library::{blank_flow, flow_change, DeletedFlow, MissingFlow};
pub(crate) use ports::call_usage;
pub use trace::{CallTrace, NodeTrace, Usage};

/// Choices for a run.
#[derive(Clone, Default)]
pub struct FlowRunOptions {
    /// Answers to `human` nodes, by node id.
    pub answers: BTreeMap<String, Value>,
    /// Live events.
    pub on_event: Option<EventSink>,
    /// Folder the tools work in (default: the `project`'s root, else the
    /// current folder).
    pub root: Option<PathBuf>,
    /// Project the run is about: passed to the flow as input `project`.
    pub project: Option<String>,
    /// Who approves `ask` tool calls (the CLI's prompt, `--yes`, the app's
    /// dialog); without one they are refused with the way to allow them.
    pub approver: Option<Arc<dyn codexos_tools::Approver>>,
    /// A budget in place of the flow's own: for a new run, kept with the run
    /// (a resume honours it; the flow's versions do not change); for a
    /// resume, for that resume.
    pub budget: Option<codexos_flow::Budget>,
    /// The W3C `traceparent` of the request that starts the run (MCP over
    /// HTTP): its spans join that trace.
    pub trace_parent: Option<String>,
    /// Answer every call from this recording (an eval's replay): nothing
    /// is called, the run is stored as a replay.
    pub replay: Option<Arc<codexos_flow::record::Recording>>,
}

/// A run with everything stored about it, for `runs show` and the canvas.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RunDetail {
    /// The summary.
    pub summary: RunSummary,
    /// The flow as run.
    pub flow: Flow,
    /// The input.
    #[specta(type = codexos_flow::JsonValue)]
    pub input: Value,
    /// Run and node it was forked from.
    pub forked_from: Option<(String, String)>,
    /// Output, error or waiting node.
    #[specta(type = codexos_flow::JsonValue)]
    pub detail: Value,
    /// Node ids in the order they finished, with their step.
    #[specta(type = Vec<(f64, String)>)]
    pub finished: Vec<(u64, String)>,
    /// Recorded model/tool/retrieval/memory/human calls.
    pub calls: u32,
    /// Every stored event.
    pub events: Vec<RunEvent>,
    /// Node by node: writes, calls, errors and timings (the run inspector).
    pub nodes: Vec<NodeTrace>,
    /// Tokens, time and cost of the whole run's model calls.
    pub usage: trace::Usage,
    /// `ask` or `chat` for an ask or chat turn kept as a run (it is not
    /// resumed, forked or replayed).
    pub exchange: Option<String>,
}

impl RunDetail {
    /// How the run stands: its status, output, error or waiting node
    /// (`None` for a status this build does not know).
    #[must_use]
    pub fn outcome(&self) -> Option<RunOutcome> {
        let status: RunStatus =
            serde_json::from_value(Value::String(self.summary.status.clone())).ok()?;
        Some(RunOutcome {
            run_id: self.summary.id.clone(),
            status,
            output: self.detail.get("output").cloned().unwrap_or(Value::Null),
            error: self.detail["error"].as_str().map(str::to_owned),
            waiting: self.detail["waiting"].as_str().map(str::to_owned),
        })
    }
}

/// One node's outputs in a recorded run and a new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NodeDiff {
    /// Node id.
    pub node: String,
    /// What it wrote in the recorded run.
    #[specta(type = codexos_flow::JsonValue)]
    pub recorded: Value,
    /// What it wrote now (null when it did not run).
    #[specta(type = codexos_flow::JsonValue)]
    pub now: Value,
    /// Whether they are equal.
    pub same: bool,
}

/// A replay or a live re-run compared with the recording.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ReplayReport {
    /// The original run.
    pub run_id: String,
    /// How the new execution ended.
    pub outcome: RunOutcome,
    /// The original output.
    #[specta(type = codexos_flow::JsonValue)]
    pub recorded_output: Value,
    /// Node by node, in the recorded order.
    pub nodes: Vec<NodeDiff>,
    /// Whether every node and the output matched.
    pub identical: bool,
}

/// A published agent version.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AgentVersion {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The definition.
    pub spec: AgentSpec,
}

/// The store as a flow run log.
pub(crate) fn store_log(store: Arc<codexos_store::Store>) -> impl RunLog {
    ports::StoreLog(store)
}

fn content_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Reads and parses a flow file.
pub fn read_flow(path: &Path) -> Result<Flow> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        Error::Flow(codexos_flow::Error::Io {
            path: path.to_path_buf(),
            source,
        })
    })?;
    codexos_flow::parse(&text).map_err(|error| Error::FlowFile {
        path: path.to_path_buf(),
        source: error,
    })
}

impl Runtime {
    fn catalog(self: &Arc<Self>) -> ports::HomeCatalog {
        ports::HomeCatalog(Arc::clone(self))
    }

    pub(crate) fn executor(
        self: &Arc<Self>,
        root: PathBuf,
        log: Arc<dyn RunLog>,
        access: ToolAccess,
    ) -> Executor {
        Executor::new(Ports {
            model: Arc::new(ports::RouterModel(Arc::clone(self))),
            tools: Arc::new(ports::RegistryTools {
                runtime: Arc::clone(self),
                context: self.call_context(root.clone(), CancellationToken::new()),
                access,
            }),
            retriever: Arc::new(ports::Search(Arc::clone(self))),
            memory: Arc::new(ports::StoreMemory(Arc::clone(self))),
            subflows: Arc::new(ports::ChildFlows {
                runtime: Arc::clone(self),
                root,
            }),
            catalog: Arc::new(self.catalog()),
            log,
        })
    }

    /// The policy (config, then the flow's `permissions`) and approver of a run.
    pub(crate) fn tool_access(
        &self,
        flow: &str,
        permissions: &BTreeMap<String, ToolPermission>,
        approver: Option<Arc<dyn codexos_tools::Approver>>,
    ) -> Result<ToolAccess> {
        let rules: BTreeMap<String, Permission> = permissions
            .iter()
            .map(|(pattern, level)| {
                let level = match level {
                    ToolPermission::Allow => Permission::Allow,
                    ToolPermission::Ask => Permission::Ask,
                    ToolPermission::Deny => Permission::Deny,
                };
                (pattern.clone(), level)
            })
            .collect();
        Ok(ToolAccess {
            policy: self.tool_policy(&rules, &format!("flow `{flow}` permissions"))?,
            approver: approver.unwrap_or_else(|| {
                Arc::new(codexos_tools::Refuse(
                    "nobody is there to approve it — rerun with `--yes`, approve it in the app, or set the tool to `allow` in the flow's `permissions`".to_owned(),
                ))
            }),
        })
    }

    /// The tool access of a stored run (its flow's permissions).
    fn stored_access(
        &self,
        stored: &codexos_flow::ports::StoredRun,
        approver: Option<Arc<dyn codexos_tools::Approver>>,
    ) -> Result<ToolAccess> {
        let permissions: BTreeMap<String, ToolPermission> = stored
            .header
            .flow_json
            .get("permissions")
            .and_then(|value| serde_json::from_value(value.clone()).ok())
            .unwrap_or_default();
        self.tool_access(&stored.header.flow, &permissions, approver)
    }

    pub(crate) fn run_log(&self) -> Arc<dyn RunLog> {
        Arc::new(ports::StoreLog(Arc::clone(&self.store)))
    }

    /// Checks a flow against this data home (tools, models, secrets,
    /// agents, projects). `base` is its file's folder.
    pub fn check_flow(self: &Arc<Self>, flow: &Flow, base: Option<&Path>) -> Vec<Problem> {
        check::check(flow, &self.catalog(), base)
    }

    pub(crate) fn root_for(&self, options: &FlowRunOptions) -> Result<PathBuf> {
        if let Some(root) = &options.root {
            return Ok(root.clone());
        }
        if let Some(project) = &options.project {
            return Ok(self.require_project(project)?.root);
        }
        std::env::current_dir().map_err(|source| Error::Home {
            path: PathBuf::from("."),
            source,
        })
    }

    /// Records the flow's content as its next version when it changed.
    pub fn save_flow_version(
        &self,
        flow: &Flow,
        path: Option<&Path>,
        note: &str,
    ) -> Result<(u32, bool)> {
        let text = flow.to_pretty_json();
        let saved = self.store.save_flow_version(
            &flow.name,
            &text,
            &content_hash(&text),
            path.map(|path| path.to_string_lossy().into_owned())
                .as_deref(),
            note,
        )?;
        if saved.1 {
            self.audited(
                "flow.save",
                &flow.name,
                serde_json::json!({ "version": saved.0, "note": note }),
            );
        }
        Ok(saved)
    }

    /// Checks and runs a flow file. A flow that fails the check does not
    /// start (the error lists the problems).
    pub async fn run_flow_file(
        self: &Arc<Self>,
        path: &Path,
        input: Value,
        options: FlowRunOptions,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        let flow = read_flow(path)?;
        let base = path.parent().map(Path::to_path_buf);
        self.run_flow(flow, Some(path), base, input, options, cancel)
            .await
    }

    /// Checks and runs a flow.
    pub async fn run_flow(
        self: &Arc<Self>,
        flow: Flow,
        path: Option<&Path>,
        base: Option<PathBuf>,
        mut input: Value,
        options: FlowRunOptions,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        let root = self.root_for(&options)?;
        self.prepare_tools(&root).await;
        let mut problems = self.check_flow(&flow, base.as_deref());
        if options.replay.is_some() {
            // The recording answers every model, tool and retrieval call:
            // which models, tools, secrets and projects this home has, and
            // what its models can do, do not matter (agents are still
            // looked up: their specs are not recorded).
            problems.retain(|problem| {
                !matches!(
                    problem.code.as_str(),
                    "capability"
                        | "unknown-model"
                        | "unknown-tool"
                        | "unknown-secret"
                        | "unknown-project"
                )
            });
        }
        if check::has_errors(&problems) {
            return Err(Error::Flow(codexos_flow::Error::Check {
                flow: flow.name.clone(),
                problems,
            }));
        }
        if let (Some(project), Some(fields)) = (&options.project, input.as_object_mut()) {
            fields
                .entry("project")
                .or_insert_with(|| Value::String(project.clone()));
        }
        check_run_budget(&flow.name, options.budget.as_ref())?;
        self.save_flow_version(&flow, path, "run")?;
        let access = self.tool_access(&flow.name, &flow.permissions, options.approver.clone())?;
        let run_options = RunOptions {
            answers: options.answers,
            on_event: options.on_event,
            base,
            budget: options.budget,
            trace_parent: options.trace_parent,
            replay: options.replay,
            ..RunOptions::default()
        };
        let path = path.map(|path| path.to_string_lossy().into_owned());
        Ok(self
            .executor(root, self.run_log(), access)
            .start(Arc::new(flow), path, input, run_options, cancel)
            .await?)
    }

    /// A run id from a unique prefix of one.
    pub fn resolve_run(&self, prefix: &str) -> Result<String> {
        let ids = self.store.run_ids_with_prefix(prefix)?;
        match ids.as_slice() {
            [id] => Ok(id.clone()),
            [] => Err(Error::Flow(codexos_flow::Error::UnknownRun {
                id: prefix.into(),
            })),
            _ => Err(Error::AmbiguousRun {
                prefix: prefix.into(),
                matches: ids,
            }),
        }
    }

    pub(crate) fn stored_run(&self, id: &str) -> Result<codexos_flow::ports::StoredRun> {
        self.run_log()
            .load(id)
            .map_err(|error| {
                Error::Flow(codexos_flow::Error::Store {
                    message: error.message,
                })
            })?
            .ok_or_else(|| Error::Flow(codexos_flow::Error::UnknownRun { id: id.into() }))
    }

    fn base_of(stored: &codexos_flow::ports::StoredRun) -> Option<PathBuf> {
        stored
            .header
            .flow_path
            .as_deref()
            .and_then(|path| Path::new(path).parent())
            .map(Path::to_path_buf)
    }

    /// Where a stored run's tools work (its project's folder unless told
    /// otherwise) and the options to continue it with.
    fn continuation(
        &self,
        stored: &codexos_flow::ports::StoredRun,
        options: FlowRunOptions,
    ) -> Result<(PathBuf, RunOptions)> {
        check_run_budget(&stored.header.flow, options.budget.as_ref())?;
        let project = run_project(stored);
        let root = self.root_for(&FlowRunOptions {
            project: options.project.clone().or(project),
            ..options.clone()
        })?;
        let run_options = RunOptions {
            answers: options.answers,
            on_event: options.on_event,
            base: Self::base_of(stored),
            budget: options.budget,
            ..RunOptions::default()
        };
        Ok((root, run_options))
    }

    /// Continues an unfinished run (killed, failed, cancelled or waiting
    /// for a person) from its last checkpoint. A run waiting at a `human`
    /// node needs `answer` (`{"approved": true}`, or the value asked for).
    pub async fn resume_run(
        self: &Arc<Self>,
        id: &str,
        answer: Option<Value>,
        mut options: FlowRunOptions,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        let stored = self.stored_run(id)?;
        codexos_flow::rerunnable(&stored.header)?;
        if let Some(node) = stored.waiting() {
            let answer = answer.ok_or_else(|| Error::AnswerNeeded {
                run: id.to_owned(),
                node: node.to_owned(),
            })?;
            options.answers.insert(node.to_owned(), answer);
        }
        let access = self.stored_access(&stored, options.approver.clone())?;
        let (root, run_options) = self.continuation(&stored, options)?;
        self.prepare_tools(&root).await;
        Ok(self
            .executor(root, self.run_log(), access)
            .resume(id, run_options, cancel)
            .await?)
    }

    /// Re-executes a run from its recording — no model, no network — and
    /// compares it node by node with the original. Stores nothing.
    pub async fn replay_run(
        self: &Arc<Self>,
        id: &str,
        on_event: Option<EventSink>,
        cancel: CancellationToken,
    ) -> Result<ReplayReport> {
        let stored = self.stored_run(id)?;
        codexos_flow::rerunnable(&stored.header)?;
        let scratch = Arc::new(MemoryLog::default());
        let options = RunOptions {
            on_event,
            base: Self::base_of(&stored),
            ..RunOptions::default()
        };
        let root = std::env::temp_dir();
        let outcome = self
            .executor(
                root,
                Arc::clone(&scratch) as Arc<dyn RunLog>,
                self.stored_access(&stored, None)?,
            )
            .replay(
                &stored,
                Arc::clone(&scratch) as Arc<dyn RunLog>,
                options,
                cancel,
            )
            .await?;
        let replayed = scratch
            .load(&outcome.run_id)
            .ok()
            .flatten()
            .map(|run| run.nodes)
            .unwrap_or_default();
        Ok(compare(id, &stored, &replayed, outcome))
    }

    /// Runs a recorded run's flow again live, with the same input, project
    /// and human answers (and another model when given), and reports where
    /// the outputs diverge. The new run is stored. `options` gives the
    /// events' sink and the work folder; its answers and project are the
    /// recording's.
    pub async fn diff_run(
        self: &Arc<Self>,
        id: &str,
        model: Option<&str>,
        options: FlowRunOptions,
        cancel: CancellationToken,
    ) -> Result<ReplayReport> {
        let stored = self.stored_run(id)?;
        codexos_flow::rerunnable(&stored.header)?;
        let mut flow: Flow =
            serde_json::from_value(stored.header.flow_json.clone()).map_err(|error| {
                Error::Flow(codexos_flow::Error::Encode {
                    message: error.to_string(),
                })
            })?;
        if let Some(model) = model {
            for node in &mut flow.nodes {
                if let codexos_flow::NodeKind::Llm { model: chosen, .. }
                | codexos_flow::NodeKind::Reflect { model: chosen, .. } = &mut node.kind
                {
                    *chosen = Some(model.to_owned());
                }
            }
        }
        let answers: BTreeMap<String, Value> = stored
            .calls
            .iter()
            .filter(|call| call.kind == "human")
            .filter_map(|call| Some((call.node.clone(), call.response.get("ok")?.clone())))
            .collect();
        let options = FlowRunOptions {
            answers,
            project: run_project(&stored),
            ..options
        };
        let path = stored.header.flow_path.as_deref().map(Path::new);
        let base = Self::base_of(&stored);
        let outcome = self
            .run_flow(
                flow,
                path,
                base,
                stored.header.input.clone(),
                options,
                cancel,
            )
            .await?;
        let live = self.stored_run(&outcome.run_id)?.nodes;
        Ok(compare(id, &stored, &live, outcome))
    }

    /// Run `other` (a later run of the same flow, e.g. a live re-run)
    /// checked against run `id`'s recording, node by node: what
    /// [`Self::diff_run`] reports, for a re-run that ran elsewhere.
    pub fn rerun_report(&self, id: &str, other: &str) -> Result<ReplayReport> {
        let stored = self.stored_run(id)?;
        let outcome = self.run_detail(other)?.outcome().ok_or_else(|| {
            Error::Flow(codexos_flow::Error::Store {
                message: format!("run {other} has a status this build does not know"),
            })
        })?;
        let now = self.stored_run(other)?.nodes;
        Ok(compare(id, &stored, &now, outcome))
    }

    /// Starts a new run from the checkpoint before `node` in run `id`, with
    /// `edits` applied to the state.
    pub async fn fork_run(
        self: &Arc<Self>,
        id: &str,
        node: &str,
        edits: BTreeMap<String, Value>,
        options: FlowRunOptions,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        let stored = self.stored_run(id)?;
        codexos_flow::rerunnable(&stored.header)?;
        let access = self.stored_access(&stored, options.approver.clone())?;
        let (root, run_options) = self.continuation(&stored, options)?;
        self.prepare_tools(&root).await;
        Ok(self
            .executor(root, self.run_log(), access)
            .fork(id, node, edits, run_options, cancel)
            .await?)
    }

    /// Two stored runs side by side, node by node, with the first node
    /// where they part ways.
    pub fn compare_runs(&self, a: &str, b: &str) -> Result<RunComparison> {
        let first = self.stored_run(a)?;
        let second = self.stored_run(b)?;
        Ok(compare::compare_runs(&first, &second))
    }

    /// The newest runs.
    pub fn runs(&self, flow: Option<&str>, limit: u32) -> Result<Vec<RunSummary>> {
        Ok(self.store.runs(flow, limit)?)
    }

    /// A run's flow, status and stored events after `after` (all with
    /// `None`): what a live follower polls.
    pub fn run_progress(
        &self,
        id: &str,
        after: Option<u64>,
    ) -> Result<(String, String, Vec<RunEvent>)> {
        let (flow, status) = self
            .store
            .run_status(id)?
            .ok_or_else(|| Error::Flow(codexos_flow::Error::UnknownRun { id: id.into() }))?;
        let events = self
            .store
            .run_events_since(id, after)?
            .iter()
            .filter_map(|text| serde_json::from_str(text).ok())
            .collect();
        Ok((flow, status, events))
    }

    /// Everything about one run.
    pub fn run_detail(&self, id: &str) -> Result<RunDetail> {
        let row = self
            .store
            .run(id)?
            .ok_or_else(|| Error::Flow(codexos_flow::Error::UnknownRun { id: id.into() }))?;
        let stored = ports::decode_run(&row).map_err(|error| {
            Error::Flow(codexos_flow::Error::Store {
                message: error.message,
            })
        })?;
        let flow = serde_json::from_value(stored.header.flow_json.clone()).map_err(|error| {
            Error::Flow(codexos_flow::Error::Encode {
                message: error.to_string(),
            })
        })?;
        let nodes = trace::traces(&stored);
        let mut usage = trace::Usage::default();
        for node in &nodes {
            usage.add(&node.usage);
        }
        Ok(RunDetail {
            summary: row.summary,
            flow,
            input: stored.header.input.clone(),
            forked_from: stored.header.forked_from.clone(),
            detail: serde_json::from_str(&row.detail).unwrap_or(Value::Null),
            finished: stored
                .nodes
                .iter()
                .map(|record| (record.step, record.node.clone()))
                .collect(),
            calls: stored.calls.len() as u32,
            nodes,
            usage,
            exchange: stored.header.exchange.clone(),
            events: stored.events,
        })
    }

    /// The latest version of every flow this home has run or saved.
    pub fn flows(&self) -> Result<Vec<FlowVersion>> {
        Ok(self.store.flows()?)
    }

    /// A flow's version history, oldest first.
    pub fn flow_history(&self, name: &str) -> Result<Vec<FlowVersion>> {
        let versions = self.store.flow_versions(name)?;
        if versions.is_empty() {
            return Err(Error::UnknownFlow { name: name.into() });
        }
        Ok(versions)
    }

    fn flow_version(&self, name: &str, version: u32) -> Result<FlowVersion> {
        self.flow_history(name)?
            .into_iter()
            .find(|saved| saved.version == version)
            .ok_or_else(|| Error::UnknownFlowVersion {
                name: name.into(),
                version,
            })
    }

    /// A unified diff between two versions of a flow (`to` = latest when
    /// absent).
    pub fn flow_diff(&self, name: &str, from: u32, to: Option<u32>) -> Result<String> {
        let history = self.flow_history(name)?;
        let to = to.unwrap_or_else(|| history.last().map_or(1, |saved| saved.version));
        let old = self.flow_version(name, from)?;
        let new = self.flow_version(name, to)?;
        Ok(versions_diff(&old, &new))
    }

    /// Writes version `version` back to the flow's file (or `path`) and
    /// records it as the newest version. Returns the file and the new
    /// version number.
    pub fn flow_rollback(
        &self,
        name: &str,
        version: u32,
        path: Option<&Path>,
    ) -> Result<(PathBuf, u32)> {
        let saved = self.flow_version(name, version)?;
        let latest_path = self
            .flow_history(name)?
            .into_iter()
            .rev()
            .find_map(|saved| saved.path);
        let target = path
            .map(Path::to_path_buf)
            .or_else(|| latest_path.map(PathBuf::from))
            .ok_or_else(|| Error::UnknownFlow { name: name.into() })?;
        std::fs::write(&target, &saved.content).map_err(|source| Error::Home {
            path: target.clone(),
            source,
        })?;
        let flow = codexos_flow::parse(&saved.content)?;
        let (new_version, _) =
            self.save_flow_version(&flow, Some(&target), &format!("rollback to v{version}"))?;
        Ok((target, new_version))
    }

    /// Publishes an agent file. Published versions never change: a version
    /// that exists is an error naming the next free one.
    pub fn publish_agent(&self, path: &Path) -> Result<AgentVersion> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Home {
            path: path.to_path_buf(),
            source,
        })?;
        let spec: AgentSpec = serde_json::from_str(&text).map_err(|error| Error::AgentFile {
            path: path.to_path_buf(),
            message: error.to_string(),
        })?;
        let version = semver_parts(&spec.version).ok_or_else(|| Error::AgentFile {
            path: path.to_path_buf(),
            message: format!("version `{}` is not MAJOR.MINOR.PATCH", spec.version),
        })?;
        for tool in &spec.tools {
            if !self.knows_tool(tool) {
                return Err(Error::AgentFile {
                    path: path.to_path_buf(),
                    message: format!(
                        "tool `{tool}` does not exist — `codexos tools list` shows the tools"
                    ),
                });
            }
        }
        let stored = serde_json::to_string(&spec).map_err(|error| Error::AgentFile {
            path: path.to_path_buf(),
            message: error.to_string(),
        })?;
        if !self
            .store
            .publish_agent(&spec.name, &spec.version, &stored)?
        {
            let next = format!("{}.{}.{}", version.0, version.1, version.2 + 1);
            return Err(Error::AgentExists {
                name: spec.name,
                version: spec.version,
                next,
            });
        }
        self.audited(
            "agent.publish",
            &spec.name,
            serde_json::json!({ "version": spec.version, "tools": spec.tools }),
        );
        Ok(AgentVersion {
            name: spec.name.clone(),
            version: spec.version.clone(),
            spec,
        })
    }

    /// Every published agent version.
    pub fn agents(&self) -> Result<Vec<AgentVersion>> {
        let mut agents: Vec<AgentVersion> = self
            .store
            .agents()?
            .into_iter()
            .filter_map(|(name, version, spec)| {
                Some(AgentVersion {
                    name,
                    version,
                    spec: serde_json::from_str(&spec).ok()?,
                })
            })
            .collect();
        agents.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| semver_parts(&a.version).cmp(&semver_parts(&b.version)))
        });
        Ok(agents)
    }

    /// One agent: `name@version`, or the latest version of `name`.
    pub fn agent(&self, reference: &str) -> Result<AgentVersion> {
        let (name, version) = reference
            .split_once('@')
            .map_or((reference, None), |(name, version)| (name, Some(version)));
        self.agents()?
            .into_iter()
            .rfind(|agent| {
                agent.name == name && version.is_none_or(|version| agent.version == version)
            })
            .ok_or_else(|| Error::UnknownAgent {
                reference: reference.into(),
            })
    }
}

/// Writes `folder/NAME.flow.json` (creating the folder): to a partial file
/// renamed into place, so a crash never leaves half a flow file.
pub(crate) fn write_flow_file(folder: &Path, flow: &Flow) -> Result<PathBuf> {
    write_in_place(
        folder,
        &format!("{}.flow.json", flow.name),
        flow.to_pretty_json().as_bytes(),
    )
}

/// Writes `folder/name` (creating the folder) through a partial file renamed
/// into place: a crash never leaves half a file, and a reader sees the old
/// content or the new.
pub(crate) fn write_in_place(folder: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    std::fs::create_dir_all(folder).map_err(|source| Error::Home {
        path: folder.to_path_buf(),
        source,
    })?;
    let path = folder.join(name);
    let partial = folder.join(format!(".{name}.partial"));
    std::fs::write(&partial, bytes)
        .and_then(|()| std::fs::rename(&partial, &path))
        .map_err(|source| Error::Home {
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

/// Whether `name` can name a flow file: letters, digits, `-` and `_`.
pub(crate) fn valid_flow_name(name: &str) -> bool {
    crate::plain_name(name, &[])
}

/// The JSON Schema of flow files.
#[must_use]
pub fn flow_schema() -> Value {
    codexos_flow::model::schema()
}

/// The JSON Schema of agent files.
#[must_use]
pub fn agent_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(AgentSpec)).unwrap_or_default()
}

/// A new agent file's content.
#[must_use]
pub fn agent_template(name: &str) -> String {
    let spec = AgentSpec {
        schema: Some("https://codexos.dev/schema/agent.schema.json".into()),
        name: name.to_owned(),
        version: "0.1.0".into(),
        description: format!("What {name} is for."),
        system: format!("You are {name}. Work step by step; call a tool when you need a fact from the project; answer briefly."),
        tools: vec!["fs.read".into(), "fs.list".into()],
        context_project: None,
        model: None,
        max_steps: 4,
        memory: false,
    };
    let mut text = serde_json::to_string_pretty(&spec).unwrap_or_default();
    text.push('\n');
    text
}

/// The project a stored run was given (its input `project`).
fn run_project(stored: &codexos_flow::ports::StoredRun) -> Option<String> {
    stored
        .header
        .input
        .get("project")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn semver_parts(version: &str) -> Option<(u64, u64, u64)> {
    let mut parts = version.split('.').map(|part| part.parse::<u64>().ok());
    let parsed = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(parsed)
}

fn writes_by_node(records: &[NodeRecord]) -> Vec<(String, Value)> {
    records
        .iter()
        .map(|record| {
            (
                record.node.clone(),
                serde_json::to_value(&record.writes).unwrap_or_default(),
            )
        })
        .collect()
}

/// A budget given for one run or resume, refused as the flow check refuses a
/// flow's own budget that cannot work.
fn check_run_budget(flow: &str, budget: Option<&codexos_flow::Budget>) -> Result<()> {
    match budget.and_then(codexos_flow::Budget::invalid) {
        Some((message, fix)) => Err(Error::Flow(codexos_flow::Error::Check {
            flow: flow.to_owned(),
            problems: vec![codexos_flow::Problem {
                severity: codexos_flow::check::Severity::Error,
                node: None,
                code: "invalid-budget".into(),
                message,
                fix,
            }],
        })),
        None => Ok(()),
    }
}

fn compare(
    id: &str,
    stored: &codexos_flow::ports::StoredRun,
    new: &[NodeRecord],
    outcome: RunOutcome,
) -> ReplayReport {
    let recorded = writes_by_node(&stored.nodes);
    let mut now = writes_by_node(new);
    let mut nodes = Vec::new();
    for (node, before) in recorded {
        let position = now.iter().position(|(other, _)| *other == node);
        let after = position.map_or(Value::Null, |index| now.remove(index).1);
        nodes.push(NodeDiff {
            same: after == before,
            node,
            recorded: before,
            now: after,
        });
    }
    for (node, after) in now {
        nodes.push(NodeDiff {
            node,
            recorded: Value::Null,
            same: false,
            now: after,
        });
    }
    let recorded_output = stored
        .events
        .iter()
        .rev()
        .find_map(|event| match &event.event {
            codexos_flow::EventKind::RunFinished { output, .. } => Some(output.clone()),
            _ => None,
        })
        .unwrap_or(Value::Null);
    let identical = nodes.iter().all(|node| node.same)
        && outcome.output == recorded_output
        && outcome.status == RunStatus::Succeeded;
    ReplayReport {
        run_id: id.to_owned(),
        outcome,
        recorded_output,
        nodes,
        identical,
    }
}

/// The example flows and agents shipped in the repository's `examples/`.
const EXAMPLE_FLOWS: [(&str, &str); 5] = [
    (
        "rag-qa.flow.json",
        include_str!("../../../examples/flows/rag-qa.flow.json"),
    ),
    (
        "review-diff.flow.json",
        include_str!("../../../examples/flows/review-diff.flow.json"),
    ),
    (
        "plan-execute.flow.json",
        include_str!("../../../examples/flows/plan-execute.flow.json"),
    ),
    (
        "map-reduce.flow.json",
        include_str!("../../../examples/flows/map-reduce.flow.json"),
    ),
    (
        "summarize-file.flow.json",
        include_str!("../../../examples/flows/summarize-file.flow.json"),
    ),
];
const EXAMPLE_AGENTS: [&str; 2] = [
    include_str!("../../../examples/agents/planner.agent.json"),
    include_str!("../../../examples/agents/executor.agent.json"),
];

/// A unified diff of two saved versions of a flow (`name vN` headers).
#[must_use]
pub fn versions_diff(old: &FlowVersion, new: &FlowVersion) -> String {
    similar::TextDiff::from_lines(&old.content, &new.content)
        .unified_diff()
        .header(
            &format!("{} v{}", old.flow, old.version),
            &format!("{} v{}", new.flow, new.version),
        )
        .to_string()
}

/// A flow file in the data home's flows folder.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FlowEntry {
    /// Flow name (the file's, when it cannot be read).
    pub name: String,
    /// The file.
    pub path: String,
    /// The flow, when the file parses.
    pub flow: Option<Flow>,
    /// Why it does not.
    pub error: Option<String>,
}

impl Runtime {
    /// Copies the example flows into the flows folder (those not there yet)
    /// and publishes the example agents (those not published yet).
    pub fn install_examples(&self) -> Result<()> {
        self.install_examples_except(&[])
    }

    /// [`Self::install_examples`], leaving out the flows named in `skipped`.
    fn install_examples_except(&self, skipped: &[String]) -> Result<()> {
        let folder = self.home.flows();
        std::fs::create_dir_all(&folder).map_err(|source| Error::Home {
            path: folder.clone(),
            source,
        })?;
        for (file, text) in EXAMPLE_FLOWS {
            let path = folder.join(file);
            let name = file.trim_end_matches(".flow.json");
            if !path.exists() && !skipped.iter().any(|saved| saved == name) {
                let text = text.replace(
                    "\"$schema\": \"../../docs/schema/flow.schema.json\",\n  ",
                    "",
                );
                std::fs::write(&path, text).map_err(|source| Error::Home { path, source })?;
            }
        }
        for text in EXAMPLE_AGENTS {
            let spec: AgentSpec = serde_json::from_str(text).map_err(|error| Error::AgentFile {
                path: PathBuf::from("examples/agents"),
                message: error.to_string(),
            })?;
            let stored = serde_json::to_string(&spec).map_err(|error| Error::AgentFile {
                path: PathBuf::from("examples/agents"),
                message: error.to_string(),
            })?;
            self.store
                .publish_agent(&spec.name, &spec.version, &stored)?;
        }
        Ok(())
    }

    /// A flow file by path, or by name in the flow library.
    pub fn find_flow(&self, name_or_path: &str) -> Result<PathBuf> {
        let path = Path::new(name_or_path);
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        self.flow_library()?
            .into_iter()
            .find(|entry| entry.name == name_or_path)
            .map(|entry| PathBuf::from(entry.path))
            .ok_or_else(|| Error::UnknownFlow {
                name: name_or_path.to_owned(),
            })
    }

    /// The flow files of the flows folder, examples installed on first use.
    pub fn flow_library(&self) -> Result<Vec<FlowEntry>> {
        let folder = self.home.flows();
        if !folder.exists() {
            // A new data home gets the examples. One whose folder went
            // (deleted outside the app) gets back the examples never changed
            // (a changed one, like the user's own flows, is in its history:
            // `missing_flows` offers it back as it was).
            let saved: Vec<String> = self
                .store
                .flows()?
                .into_iter()
                .map(|version| version.flow)
                .collect();
            self.install_examples_except(&saved)?;
        }
        let mut entries = Vec::new();
        let listing = std::fs::read_dir(&folder).map_err(|source| Error::Home {
            path: folder.clone(),
            source,
        })?;
        for entry in listing.flatten() {
            let path = entry.path();
            let Some(file) = path.file_name().and_then(|name| name.to_str()) else {
                continue;
            };
            let Some(stem) = file.strip_suffix(".flow.json") else {
                continue;
            };
            let (flow, error) = match read_flow(&path) {
                Ok(flow) => (Some(flow), None),
                Err(error) => (None, Some(error.to_string())),
            };
            entries.push(FlowEntry {
                name: flow
                    .as_ref()
                    .map_or_else(|| stem.to_owned(), |flow| flow.name.clone()),
                path: path.to_string_lossy().into_owned(),
                flow,
                error,
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Writes a flow to the flows folder (`NAME.flow.json`), recording a
    /// version when it changed. Returns the file and the version.
    pub fn save_flow(&self, flow: &Flow) -> Result<(PathBuf, u32)> {
        if !valid_flow_name(&flow.name) {
            return Err(Error::Flow(codexos_flow::Error::Schema {
                node: None,
                message: format!(
                    "flow name `{}` must be letters, digits, `-` and `_`",
                    flow.name
                ),
            }));
        }
        let path = write_flow_file(&self.home.flows(), flow)?;
        let (version, _) = self.save_flow_version(flow, Some(&path), "save")?;
        Ok((path, version))
    }
}
