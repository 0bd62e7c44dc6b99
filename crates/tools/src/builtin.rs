//! The built-in tools: files (`fs.read`, `fs.list`, `fs.search`,
//! `fs.write`, `fs.patch`), git (`git.status`, `git.diff`, `git.log`,
//! `git.commit`), programs (`shell`, `python`, in the sandbox) and
//! `web.fetch`. File tools see only the project folder: a path (or a
//! symlink) that leads out of it is refused.

mod exec;
mod fs;
mod git;
mod patch;
mod web;

use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::registry::{Registry, SourceState};
use crate::tool::{CallContext, Effects, Tool, ToolInfo};
use crate::{Error, Result};

/// The source name of the built-ins.
pub const SOURCE: &str = "builtin";

/// The JSON Schema of `T`, as a tool's parameters.
#[must_use]
pub fn parameters<T: JsonSchema>() -> Value {
    let mut schema = schemars::schema_for!(T).to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    schema
}

/// Parses arguments already checked against the schema.
pub(crate) fn arguments<T: DeserializeOwned>(tool: &str, arguments: Value) -> Result<T> {
    serde_json::from_value(arguments).map_err(|error| Error::InvalidArguments {
        tool: tool.to_owned(),
        problems: error.to_string(),
    })
}

#[derive(Clone, Copy)]
enum Kind {
    Read,
    List,
    Search,
    Write,
    Patch,
    GitStatus,
    GitDiff,
    GitLog,
    GitCommit,
    Shell,
    Python,
    WebFetch,
}

struct Builtin {
    info: ToolInfo,
    kind: Kind,
}

const WRITES: Effects = Effects {
    writes: true,
    runs_code: false,
    network: false,
};
const RUNS: Effects = Effects {
    writes: true,
    runs_code: true,
    network: false,
};
const NETWORK: Effects = Effects {
    writes: false,
    runs_code: false,
    network: true,
};

fn all() -> Vec<Builtin> {
    let tool = |name: &str, description: &str, parameters: Value, effects: Effects, kind: Kind| {
        let mut info = ToolInfo::new(name, description, parameters, effects);
        SOURCE.clone_into(&mut info.source);
        Builtin { info, kind }
    };
    vec![
        tool("fs.read", "Reads a text file of the project (optionally a range of lines).", parameters::<fs::ReadArgs>(), Effects::READ_ONLY, Kind::Read),
        tool("fs.list", "Lists the files under a folder of the project (git-ignored files skipped; at most 500).", parameters::<fs::ListArgs>(), Effects::READ_ONLY, Kind::List),
        tool("fs.search", "Searches the project's text files for a string or a regular expression; answers `path:line: text` lines.", parameters::<fs::SearchArgs>(), Effects::READ_ONLY, Kind::Search),
        tool("fs.write", "Writes a file of the project (created or replaced whole).", parameters::<fs::WriteArgs>(), WRITES, Kind::Write),
        tool("fs.patch", "Applies a unified diff to the project's files; refuses the whole patch if any hunk does not match.", parameters::<patch::PatchArgs>(), WRITES, Kind::Patch),
        tool("git.status", "Shows the project's changed, staged and untracked files.", parameters::<git::StatusArgs>(), Effects::READ_ONLY, Kind::GitStatus),
        tool("git.diff", "Shows the project's uncommitted changes as a unified diff, or the changes since a revision.", parameters::<git::DiffArgs>(), Effects::READ_ONLY, Kind::GitDiff),
        tool("git.log", "Lists recent commits (optionally of one path).", parameters::<git::LogArgs>(), Effects::READ_ONLY, Kind::GitLog),
        tool("git.commit", "Commits changes: the given paths, or every change to tracked files.", parameters::<git::CommitArgs>(), WRITES, Kind::GitCommit),
        tool("shell", "Runs a shell command (bash) in the project folder, sandboxed: writes only in the project, no network.", parameters::<exec::ShellArgs>(), RUNS, Kind::Shell),
        tool("python", "Runs Python 3 code in the project folder, sandboxed: writes only in the project, no network.", parameters::<exec::PythonArgs>(), RUNS, Kind::Python),
        tool("web.fetch", "Fetches a web page and answers its readable text (or the body of a text or JSON response).", parameters::<web::FetchArgs>(), NETWORK, Kind::WebFetch),
    ]
}

/// The built-in tools' names.
#[must_use]
pub fn names() -> Vec<String> {
    all().into_iter().map(|tool| tool.info.name).collect()
}

/// Adds the built-ins to `registry` as the `builtin` source.
pub fn register(registry: &Registry) {
    let tools = all()
        .into_iter()
        .map(|tool| Arc::new(tool) as Arc<dyn Tool>)
        .collect();
    registry.set_source(SOURCE, SourceState::Ready, tools, Vec::new());
}

/// Runs blocking file or git work off the async threads.
async fn blocking<T: Send + 'static>(
    tool: &str,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| Error::failed(tool, format!("the tool panicked: {error}")))?
}

#[async_trait]
impl Tool for Builtin {
    fn info(&self) -> &ToolInfo {
        &self.info
    }

    async fn call(&self, args: Value, context: &CallContext) -> Result<Value> {
        let name = self.info.name.clone();
        let root = context.root.clone();
        match self.kind {
            Kind::Read => {
                let args = arguments(&name, args)?;
                blocking(&name.clone(), move || fs::read(&name, &root, &args)).await
            }
            Kind::List => {
                let args = arguments(&name, args)?;
                blocking(&name.clone(), move || fs::list(&name, &root, &args)).await
            }
            Kind::Search => {
                let args = arguments(&name, args)?;
                blocking(&name.clone(), move || fs::search(&name, &root, &args)).await
            }
            Kind::Write => {
                let args = arguments(&name, args)?;
                blocking(&name.clone(), move || fs::write(&name, &root, &args)).await
            }
            Kind::Patch => {
                let args = arguments(&name, args)?;
                blocking(&name.clone(), move || patch::apply(&name, &root, &args)).await
            }
            Kind::GitStatus => blocking(&name.clone(), move || git::status(&name, &root)).await,
            Kind::GitDiff => {
                let args = arguments(&name, args)?;
                blocking(&name.clone(), move || git::diff(&name, &root, &args)).await
            }
            Kind::GitLog => {
                let args = arguments(&name, args)?;
                blocking(&name.clone(), move || git::log(&name, &root, &args)).await
            }
            Kind::GitCommit => {
                let args = arguments(&name, args)?;
                blocking(&name.clone(), move || git::commit(&name, &root, &args)).await
            }
            Kind::Shell => exec::shell(&name, arguments(&name, args)?, context).await,
            Kind::Python => exec::python(&name, arguments(&name, args)?, context).await,
            Kind::WebFetch => web::fetch(&name, arguments(&name, args)?).await,
        }
    }
}
