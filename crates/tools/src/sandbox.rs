//! Running programs confined. On Linux every program a tool starts runs
//! under bubblewrap (`bwrap`, from the distribution's `bubblewrap`
//! package): the system is mounted read-only, the home folders are hidden
//! behind an empty read-only tmpfs, `/tmp` is private, writes succeed only
//! inside the project folder (its `.git` and the CodexOS data home stay
//! read-only), there is no network (a private, unconfigured network
//! namespace) unless the tool is granted it, and every namespace bwrap
//! supports is private. Limits: wall time (the whole process tree is killed),
//! address space (`prlimit --as`), the number of processes (a pids cgroup
//! when one can be created, else `RLIMIT_NPROC`, which user namespaces count
//! per sandbox), the size of `/tmp`, and output (kept up to a bound; a
//! process writing far more is killed).
//!
//! Elsewhere (macOS, Windows), or on Linux without bwrap, programs refuse to
//! run unless the user chose `tools.unconfined = true`; then they run with
//! only the time and output limits, and every result says so.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::tool::{cut, CallContext, OUTPUT_LIMIT};
use crate::{Error, Result};

/// Output beyond which a program is killed (what it wrote is kept up to
/// `STREAM_LIMIT` per stream).
const OUTPUT_KILL: usize = 16 * 1024 * 1024;
/// Output kept per stream: both fit in one tool result.
const STREAM_LIMIT: usize = OUTPUT_LIMIT / 2 - 1024;

/// Resource limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time.
    pub timeout: Duration,
    /// Address space, bytes.
    pub memory_bytes: u64,
    /// Processes and threads.
    pub processes: u32,
    /// Size of the private `/tmp`, bytes.
    pub tmp_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_mins(2),
            memory_bytes: 4 << 30,
            processes: 256,
            tmp_bytes: 512 << 20,
        }
    }
}

/// One program to run.
#[derive(Debug, Clone)]
pub struct Job {
    /// The tool running it (for errors).
    pub tool: String,
    /// Program (looked up in `PATH` inside the sandbox).
    pub program: String,
    /// Arguments.
    pub args: Vec<String>,
    /// Extra environment (secrets from the vault included; never put on a
    /// command line).
    pub env: Vec<(String, SecretString)>,
    /// Bytes written to its standard input.
    pub stdin: Option<Vec<u8>>,
    /// Whether it may use the network.
    pub network: bool,
    /// Folders it may read although they are hidden (the tool's own folder).
    pub readable: Vec<PathBuf>,
    /// Limits.
    pub limits: Limits,
}

impl Job {
    /// A job running `program args` with default limits and no network.
    #[must_use]
    pub fn new(tool: &str, program: &str, args: Vec<String>) -> Self {
        Self {
            tool: tool.to_owned(),
            program: program.to_owned(),
            args,
            env: Vec::new(),
            stdin: None,
            network: false,
            readable: Vec::new(),
            limits: Limits::default(),
        }
    }
}

/// What a program did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output (bounded).
    pub stdout: String,
    /// Standard error (bounded).
    pub stderr: String,
    /// Whether it ran in the sandbox.
    pub confined: bool,
}

impl Output {
    /// `{exitCode, stdout, stderr}` as a tool result.
    #[must_use]
    pub fn to_value(&self) -> serde_json::Value {
        let mut value = serde_json::json!({
            "exitCode": self.code,
            "stdout": self.stdout,
            "stderr": self.stderr,
        });
        if !self.confined {
            value["warning"] = "ran unconfined: no sandbox on this system".into();
        }
        value
    }
}

/// How processes are counted and limited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessLimit {
    /// A pids cgroup under this folder.
    Cgroup(PathBuf),
    /// `RLIMIT_NPROC` (counted per user namespace; ignored for root).
    Rlimit,
}

/// Whether programs can be confined here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// bubblewrap works.
    Bubblewrap {
        /// How processes are limited.
        processes: ProcessLimit,
    },
    /// No sandbox; why, and the fix.
    Unavailable(String),
}

/// Whether the sandbox works on this machine (probed once).
pub fn availability() -> &'static Availability {
    static PROBE: OnceLock<Availability> = OnceLock::new();
    PROBE.get_or_init(probe)
}

fn probe() -> Availability {
    if !cfg!(target_os = "linux") {
        return Availability::Unavailable(
            "no sandbox is implemented on this platform; set `tools.unconfined = true` in config.toml to run program tools unconfined".to_owned(),
        );
    }
    let trial = std::process::Command::new("bwrap")
        .args([
            "--ro-bind",
            "/",
            "/",
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "true",
        ])
        .stdin(Stdio::null())
        .output();
    match trial {
        Ok(output) if output.status.success() => Availability::Bubblewrap {
            processes: pids_root().map_or(ProcessLimit::Rlimit, ProcessLimit::Cgroup),
        },
        Ok(output) => Availability::Unavailable(format!(
            "bubblewrap cannot create a sandbox here ({}) — allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or the AppArmor profile for bwrap)",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(error) => Availability::Unavailable(format!(
            "bubblewrap is not installed ({error}) — install it (`apt install bubblewrap`, `dnf install bubblewrap`)"
        )),
    }
}

/// `program args` for a program that runs outside the sandbox (an MCP
/// server) but must die whole: under bubblewrap with the whole file system,
/// in a process namespace of its own (when the first process dies, every
/// process it started dies with it — a server restarted when the offline
/// switch moves leaves no child behind with network). With `offline`, also
/// in a network namespace of its own (its own loopback, no route anywhere)
/// with `/run` (the session bus, container sockets) hidden. `Err` says why
/// bubblewrap cannot do it here.
pub fn contained(
    program: &str,
    args: &[String],
    offline: bool,
) -> std::result::Result<(String, Vec<String>), String> {
    if let Availability::Unavailable(reason) = availability() {
        return Err(reason.clone());
    }
    let mut wrapped: Vec<String> = [
        "--dev-bind",
        "/",
        "/",
        "--unshare-pid",
        "--proc",
        "/proc",
        "--die-with-parent",
    ]
    .map(str::to_owned)
    .to_vec();
    if offline {
        wrapped.extend(["--unshare-net", "--tmpfs", "/run"].map(str::to_owned));
    }
    wrapped.push("--".to_owned());
    wrapped.push(program.to_owned());
    wrapped.extend(args.iter().cloned());
    Ok(("bwrap".to_owned(), wrapped))
}

/// A writable pids cgroup hierarchy: cgroup v1's `pids` controller, or the
/// v2 root with `pids` enabled for children.
fn pids_root() -> Option<PathBuf> {
    let v1 = Path::new("/sys/fs/cgroup/pids");
    let v2 = Path::new("/sys/fs/cgroup");
    let candidates = [
        (v1.join("tasks").exists()).then(|| v1.to_path_buf()),
        std::fs::read_to_string(v2.join("cgroup.subtree_control"))
            .ok()
            .filter(|controllers| controllers.split_whitespace().any(|name| name == "pids"))
            .map(|_| v2.to_path_buf()),
    ];
    candidates.into_iter().flatten().find(|root| {
        let trial = root.join(format!("codexos-probe-{}", uuid::Uuid::new_v4().simple()));
        let works = std::fs::create_dir(&trial).is_ok() && trial.join("pids.max").exists();
        // A failed removal leaves an empty cgroup behind, which is harmless.
        std::fs::remove_dir(&trial).ok();
        works
    })
}

/// A pids cgroup for one run, removed when dropped.
struct PidsGroup(PathBuf);

impl PidsGroup {
    fn create(root: &Path, limit: u32) -> Option<Self> {
        let path = root.join(format!("codexos-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&path).ok()?;
        let group = Self(path);
        std::fs::write(group.0.join("pids.max"), limit.to_string()).ok()?;
        Some(group)
    }
}

impl Drop for PidsGroup {
    fn drop(&mut self) {
        // The processes are gone by now (the sandbox's pid namespace died
        // with its first process); an empty group is removable at once.
        if let Err(error) = std::fs::remove_dir(&self.0) {
            tracing::debug!("cannot remove cgroup {}: {error}", self.0.display());
        }
    }
}

fn home_folders(home: Option<&Path>) -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = ["/home", "/root"]
        .iter()
        .map(PathBuf::from)
        .filter(|path| path.is_dir())
        .collect();
    if let Some(home) = home.map(Path::to_path_buf) {
        if home.is_dir()
            && !folders.iter().any(|folder| home.starts_with(folder))
            && home != Path::new("/")
        {
            folders.push(home);
        }
    }
    folders
}

fn bwrap_args(job: &Job, root: &Path, protected: &[PathBuf], home: Option<&Path>) -> Vec<String> {
    let mut args: Vec<String> = [
        "--die-with-parent",
        "--new-session",
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
    ]
    .map(str::to_owned)
    .to_vec();
    let path = |path: &Path| path.to_string_lossy().into_owned();
    if job.network {
        args.push("--share-net".into());
    } else {
        // Sockets of the session (D-Bus, the keyring, agents) live here.
        args.extend(["--tmpfs".into(), "/run".into()]);
    }
    args.extend([
        "--size".into(),
        job.limits.tmp_bytes.to_string(),
        "--tmpfs".into(),
        "/tmp".into(),
    ]);
    let hidden = home_folders(home);
    for folder in &hidden {
        args.extend(["--tmpfs".into(), path(folder)]);
    }
    for folder in &job.readable {
        if folder.exists() {
            args.extend(["--ro-bind".into(), path(folder), path(folder)]);
        }
    }
    args.extend(["--bind".into(), path(root), path(root)]);
    let git = root.join(".git");
    if git.exists() {
        args.extend(["--ro-bind".into(), path(&git), path(&git)]);
    }
    for folder in protected {
        if folder.starts_with(root) && folder.exists() {
            args.extend(["--ro-bind".into(), path(folder), path(folder)]);
        }
    }
    for folder in &hidden {
        args.extend(["--remount-ro".into(), path(folder)]);
    }
    args.extend(["--chdir".into(), path(root), "--".into()]);
    args
}

/// The command line running `job`: the program, its arguments, whether
/// it is confined, and the pids cgroup it joins.
struct CommandLine {
    program: String,
    args: Vec<String>,
    confined: bool,
    group: Option<PidsGroup>,
}

fn command_line(job: &Job, context: &CallContext, root: &Path) -> Result<CommandLine> {
    let processes = match availability() {
        Availability::Bubblewrap { processes } => processes,
        Availability::Unavailable(reason) => {
            if !context.unconfined {
                return Err(Error::NoSandbox {
                    tool: job.tool.clone(),
                    reason: reason.clone(),
                });
            }
            tracing::warn!("`{}` runs unconfined: {reason}", job.tool);
            return Ok(CommandLine {
                program: job.program.clone(),
                args: job.args.clone(),
                confined: false,
                group: None,
            });
        }
    };
    let protected: Vec<PathBuf> = context
        .protected
        .iter()
        .filter_map(|folder| folder.canonicalize().ok())
        .collect();
    let mut args = bwrap_args(job, root, &protected, context.home.as_deref());
    args.extend([
        "prlimit".to_owned(),
        format!("--as={}", job.limits.memory_bytes),
        "--core=0".to_owned(),
    ]);
    let group = match processes {
        ProcessLimit::Cgroup(cgroups) => Some(
            PidsGroup::create(cgroups, job.limits.processes).ok_or_else(|| Error::NoSandbox {
                tool: job.tool.clone(),
                reason: "cannot create a pids cgroup for the run".into(),
            })?,
        ),
        ProcessLimit::Rlimit => {
            args.push(format!("--nproc={}", job.limits.processes));
            None
        }
    };
    args.extend(["--".to_owned(), job.program.clone()]);
    args.extend(job.args.iter().cloned());
    let Some(group) = group else {
        return Ok(CommandLine {
            program: "bwrap".to_owned(),
            args,
            confined: true,
            group: None,
        });
    };
    // Join the cgroup first, so every process of the sandbox is counted.
    let mut wrapped = vec![
        "-c".to_owned(),
        "echo $$ > \"$1/cgroup.procs\" && shift && exec \"$@\"".to_owned(),
        "sh".to_owned(),
        group.0.to_string_lossy().into_owned(),
        "bwrap".to_owned(),
    ];
    wrapped.extend(args);
    Ok(CommandLine {
        program: "/bin/sh".to_owned(),
        args: wrapped,
        confined: true,
        group: Some(group),
    })
}

/// Refuses a job whose command line would carry a secret resolved into the
/// call's arguments: every process on the machine can read another's
/// command line, so secrets go through the environment or standard input.
fn refuse_secrets_in_arguments(job: &Job, context: &CallContext) -> Result<()> {
    let exposed = std::iter::once(&job.program)
        .chain(&job.args)
        .any(|argument| context.withheld.appears_in_text(argument));
    if exposed {
        return Err(Error::failed(
            &job.tool,
            format!(
                "a vault secret would be on the command line of `{}`, where every process on \
                 this machine can read it — give it to the program through its standard input \
                 or the manifest's [env] (`{{ vault = \"NAME\" }}`) instead",
                job.program
            ),
        ));
    }
    Ok(())
}

/// A cleared environment with the basics, the home the sandbox hides, and
/// the job's own variables (its secrets among them: never on the command
/// line).
fn set_environment(command: &mut tokio::process::Command, job: &Job, context: &CallContext) {
    command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .env("TMPDIR", "/tmp")
        .env(
            "HOME",
            context
                .home
                .clone()
                .map_or_else(|| "/tmp".into(), PathBuf::into_os_string),
        );
    for (name, value) in &job.env {
        command.env(name, value.expose_secret());
    }
}

/// Runs `job` in `context.root`, confined (see the module docs).
pub async fn run(job: &Job, context: &CallContext) -> Result<Output> {
    let root = context.root.canonicalize().map_err(|error| {
        Error::failed(
            &job.tool,
            format!(
                "the project folder `{}` is unreadable: {error}",
                context.root.display()
            ),
        )
    })?;
    refuse_secrets_in_arguments(job, context)?;
    let CommandLine {
        program,
        args,
        confined,
        group,
    } = command_line(job, context, &root)?;
    let mut command = tokio::process::Command::new(&program);
    set_environment(&mut command, job, context);
    command
        .args(&args)
        .current_dir(&root)
        .stdin(if job.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|source| Error::Spawn {
        tool: job.tool.clone(),
        program: program.clone(),
        source,
    })?;
    if let (Some(bytes), Some(mut stdin)) = (job.stdin.clone(), child.stdin.take()) {
        tokio::spawn(async move {
            // A program that exits without reading its input is not an error.
            if let Err(error) = stdin.write_all(&bytes).await {
                tracing::debug!("stdin not fully read: {error}");
            }
        });
    }
    let overflow = CancellationToken::new();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let reading = async {
        tokio::join!(
            read_bounded(stdout, &overflow),
            read_bounded(stderr, &overflow)
        )
    };
    tokio::pin!(reading);
    let too_much = || {
        Error::failed(
            &job.tool,
            format!(
                "it wrote more than {} MiB of output and was stopped",
                OUTPUT_KILL >> 20
            ),
        )
    };
    let ended = tokio::select! {
        outputs = &mut reading => if overflow.is_cancelled() { Err(too_much()) } else { Ok(outputs) },
        () = tokio::time::sleep(job.limits.timeout) => Err(Error::TimedOut { tool: job.tool.clone(), seconds: job.limits.timeout.as_secs() }),
        () = context.cancel.cancelled() => Err(Error::Cancelled { tool: job.tool.clone() }),
        () = overflow.cancelled() => Err(too_much()),
    };
    let ((stdout, stdout_total), (stderr, stderr_total)) = match ended {
        Ok(outputs) => outputs,
        Err(error) => {
            if let Err(kill) = child.kill().await {
                tracing::warn!("cannot kill `{}`: {kill}", job.tool);
            }
            drop(group);
            return Err(error);
        }
    };
    let status = child.wait().await.map_err(|source| Error::Spawn {
        tool: job.tool.clone(),
        program,
        source,
    })?;
    drop(group);
    Ok(Output {
        code: status.code(),
        stdout: text(&stdout, stdout_total),
        stderr: text(&stderr, stderr_total),
        confined,
    })
}

fn text(bytes: &[u8], total: usize) -> String {
    let mut text = cut(&String::from_utf8_lossy(bytes), STREAM_LIMIT);
    if total > bytes.len() {
        write!(text, " ({total} bytes written in all)").ok();
    }
    text
}

/// Reads a stream, keeping the first `STREAM_LIMIT` bytes (plus a few, so
/// the cut is visible); signals `overflow` past [`OUTPUT_KILL`].
async fn read_bounded(
    stream: Option<impl AsyncRead + Unpin>,
    overflow: &CancellationToken,
) -> (Vec<u8>, usize) {
    let mut kept = Vec::new();
    let mut total = 0;
    let Some(mut stream) = stream else {
        return (kept, total);
    };
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = stream.read(&mut buffer) => read,
            () = overflow.cancelled() => break,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(count) => {
                total += count;
                let room = (STREAM_LIMIT + 1024).saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..count.min(room)]);
                if total > OUTPUT_KILL {
                    overflow.cancel();
                    break;
                }
            }
        }
    }
    (kept, total)
}
