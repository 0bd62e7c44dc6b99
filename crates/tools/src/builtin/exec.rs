//! `shell` and `python`: programs in the sandbox.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::sandbox::{self, Job};
use crate::tool::CallContext;
use crate::Result;

/// Arguments of `shell`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShellArgs {
    /// The command line (bash).
    command: String,
    /// Time limit in seconds (default 120, at most 600).
    #[serde(default)]
    timeout_secs: Option<u64>,
}

/// Arguments of `python`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PythonArgs {
    /// The program (Python 3), given on standard input.
    code: String,
    /// Time limit in seconds (default 120, at most 600).
    #[serde(default)]
    timeout_secs: Option<u64>,
}

fn with_timeout(mut job: Job, seconds: Option<u64>) -> Job {
    if let Some(seconds) = seconds {
        job.limits.timeout = Duration::from_secs(seconds.clamp(1, 600));
    }
    job
}

/// bash's program for `shell`: the command comes in the environment, not on
/// the command line, where every process could read the secrets a flow put
/// in it; it leaves the environment before it runs.
const SHELL_RUNNER: &str =
    "__codexos_command=$CODEXOS_COMMAND; unset CODEXOS_COMMAND; eval \"$__codexos_command\"";

pub(crate) async fn shell(tool: &str, args: ShellArgs, context: &CallContext) -> Result<Value> {
    let mut job = Job::new(tool, "bash", vec!["-c".into(), SHELL_RUNNER.into()]);
    job.env
        .push(("CODEXOS_COMMAND".to_owned(), args.command.into()));
    let output = sandbox::run(&with_timeout(job, args.timeout_secs), context).await?;
    Ok(output.to_value())
}

pub(crate) async fn python(tool: &str, args: PythonArgs, context: &CallContext) -> Result<Value> {
    let mut job = Job::new(tool, "python3", vec!["-I".into(), "-".into()]);
    job.stdin = Some(args.code.into_bytes());
    let output = sandbox::run(&with_timeout(job, args.timeout_secs), context).await?;
    Ok(output.to_value())
}
