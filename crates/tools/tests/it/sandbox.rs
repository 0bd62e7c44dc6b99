//! The escape suite: what a sandboxed program tries, and must fail to do.
//! Every test first proves the program ran (an exit code, and a positive
//! control in the same sandbox that succeeded) before it asserts that the
//! escape failed; an error from the tool runner fails the test. The home
//! folder the sandbox hides is a temporary one (outside `/tmp`, which the
//! sandbox replaces anyway): no test writes into the real `$HOME`.

use std::io::Read as _;
use std::time::{Duration, Instant};

use codexos_tools::sandbox::{availability, Availability, ProcessLimit};
use codexos_tools::CallContext;
use serde_json::{json, Value};

/// Calls a built-in from a plain test: its result, or `{"error": …}` (for
/// the tests of refusals; escapes go through [`ran`]).
fn call(context: &CallContext, tool: &str, arguments: Value) -> Value {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(super::call(context, tool, arguments))
        .unwrap_or_else(|error| json!({"error": error.to_string()}))
}

fn shell(context: &CallContext, command: &str) -> Value {
    call(
        context,
        "shell",
        json!({"command": command, "timeout_secs": 20}),
    )
}

/// `result`, once it is certain the program ran: no runner error, an exit
/// code present.
#[track_caller]
fn ran(result: &Value) -> &Value {
    assert!(
        result.get("error").is_none(),
        "the tool did not run: {result}"
    );
    assert!(result["exitCode"].is_i64(), "no exit code: {result}");
    result
}

fn stdout(result: &Value) -> String {
    format!(
        "{}{}",
        result["stdout"].as_str().unwrap_or(""),
        result["stderr"].as_str().unwrap_or("")
    )
}

/// A project, and a temporary home folder outside `/tmp` that the context
/// names as the user's (so only the sandbox's home hiding keeps it out).
struct Project {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
    context: CallContext,
}

fn project() -> Project {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join(".git")).expect(".git");
    std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/main\n").expect("HEAD");
    std::fs::write(dir.path().join("notes.txt"), "project file\n").expect("file");
    let home = tempfile::Builder::new()
        .prefix("codexos-home-")
        .tempdir_in("/var/tmp")
        .expect("temporary home");
    let mut context = CallContext::new(dir.path().to_path_buf());
    context.home = Some(home.path().to_path_buf());
    Project { dir, home, context }
}

#[test]
fn the_sandbox_is_available_with_a_process_limit() {
    let Availability::Bubblewrap { processes } = availability() else {
        panic!(
            "the sandbox must work on the test machine: {:?}",
            availability()
        );
    };
    let is_root = std::fs::metadata("/proc/self").is_ok_and(|meta| {
        use std::os::unix::fs::MetadataExt as _;
        meta.uid() == 0
    });
    // RLIMIT_NPROC does not bind root: root needs the cgroup.
    assert!(
        !is_root || matches!(processes, ProcessLimit::Cgroup(_)),
        "{processes:?}"
    );
}

#[test]
fn works_inside_the_project() {
    let Project {
        dir,
        context,
        home: _home,
    } = project();
    let result = shell(&context, "cat notes.txt && echo made > out.txt && pwd");
    assert_eq!(result["exitCode"], 0, "{result}");
    assert!(stdout(&result).contains("project file"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.txt")).expect("written"),
        "made\n"
    );
}

#[test]
fn cannot_read_a_secret_in_the_home_folder() {
    let Project {
        home,
        context,
        dir: _dir,
    } = project();
    let secret = home.path().join(".codexos-escape");
    std::fs::write(&secret, "TOP-SECRET-VALUE").expect("secret");
    std::fs::create_dir(home.path().join(".ssh")).expect(".ssh");
    std::fs::write(home.path().join(".ssh/id_ed25519"), "TOP-SECRET-KEY").expect("key");
    let result = shell(
        &context,
        &format!(
            "cat notes.txt; cat {0}; ls -a {1}; cat ~/.ssh/id_* 2>&1; echo root-entries:$(ls -A /root | wc -l) home-entries:$(ls -A /home | wc -l); echo ran-to-the-end",
            secret.display(),
            home.path().display()
        ),
    );
    // Positive control: it ran, read the project, and got to its end.
    let output = stdout(ran(&result));
    assert!(
        output.contains("project file") && output.contains("ran-to-the-end"),
        "{result}"
    );
    assert!(!output.contains("TOP-SECRET"), "{result}");
    // The machine's own home folders are empty inside (on the host, /root
    // holds at least the toolchain that built this test).
    assert!(
        std::fs::read_dir("/root").is_ok_and(|mut entries| entries.next().is_some()),
        "/root is empty on the host: the check below would prove nothing"
    );
    assert!(
        output.contains("root-entries:0 home-entries:0"),
        "/root or /home visible inside: {result}"
    );
    assert!(
        !result["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains(".codexos-escape"),
        "the home folder is empty inside: {result}"
    );
    let python = call(
        &context,
        "python",
        json!({"code": format!("print(open('notes.txt').read())\nprint(open({:?}).read())", secret.display().to_string())}),
    );
    // It ran, read the project file, then failed on the secret.
    assert!(stdout(ran(&python)).contains("project file"), "{python}");
    assert!(!python.to_string().contains("TOP-SECRET-VALUE"), "{python}");
    assert_ne!(python["exitCode"], 0, "{python}");
    assert!(stdout(&python).contains("FileNotFoundError"), "{python}");
}

#[test]
fn cannot_write_bashrc_or_outside_the_project() {
    let Project { dir, home, context } = project();
    let bashrc = home.path().join(".bashrc");
    std::fs::write(&bashrc, "# the user's own\n").expect("bashrc");
    let result = shell(
        &context,
        &format!(
            "echo pwned >> ~/.bashrc; echo pwned >> {0}; echo pwned > /usr/local/pwned; echo pwned > .git/config; echo inside > inside.txt; echo done",
            bashrc.display()
        ),
    );
    // Positive control: the same sandbox wrote inside the project.
    assert!(stdout(ran(&result)).contains("done"), "{result}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("inside.txt"))
            .ok()
            .as_deref(),
        Some("inside\n")
    );
    assert!(
        stdout(&result).contains("Read-only file system"),
        "{result}"
    );
    assert_eq!(
        std::fs::read_to_string(&bashrc).expect("bashrc"),
        "# the user's own\n",
        "~/.bashrc unchanged"
    );
    assert!(!std::path::Path::new("/usr/local/pwned").exists());
    assert!(
        !dir.path().join(".git/config").exists(),
        ".git is read-only"
    );
}

#[test]
fn cannot_connect_to_an_unlisted_local_listener() {
    let Project {
        context,
        dir: _dir,
        home: _home,
    } = project();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("address").port();
    listener.set_nonblocking(true).expect("non-blocking");
    let result = shell(
        &context,
        &format!("python3 -c \"print('PYTHON-RAN'); import socket; socket.create_connection(('127.0.0.1', {port}), 3); print('CONNECTED')\"; (exec 3<>/dev/tcp/127.0.0.1/{port}) && echo CONNECTED; echo done"),
    );
    // Positive control: python started and tried; the shell got to its end.
    let output = stdout(ran(&result));
    assert!(
        output.contains("PYTHON-RAN") && output.contains("done"),
        "{result}"
    );
    assert!(
        output.contains("Error"),
        "the attempt failed with an error: {result}"
    );
    assert!(!output.contains("CONNECTED"), "{result}");
    let accepted = listener.accept();
    assert!(accepted.is_err(), "the listener saw a connection");
}

#[test]
fn cannot_follow_a_symlink_out_of_the_project() {
    let Project { dir, home, context } = project();
    let outside = tempfile::tempdir_in(home.path()).expect("outside dir");
    std::fs::write(outside.path().join("private.txt"), "PRIVATE-DATA").expect("private");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).expect("symlink");
    let elsewhere = tempfile::tempdir().expect("tmp dir");
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("tmp-escape")).expect("symlink");
    let result = shell(
        &context,
        "cat notes.txt; cat escape/private.txt; echo x > escape/planted.txt; echo x > tmp-escape/planted.txt; ls escape tmp-escape; echo done",
    );
    let output = stdout(ran(&result));
    assert!(
        output.contains("project file") && output.contains("done"),
        "{result}"
    );
    assert!(!output.contains("PRIVATE-DATA"), "{result}");
    assert!(!outside.path().join("planted.txt").exists());
    assert!(!elsewhere.path().join("planted.txt").exists());
    let read = call(&context, "fs.read", json!({"path": "escape/private.txt"}));
    let error = read["error"].as_str().unwrap_or_default();
    assert!(error.contains("outside the project"), "{read}");
}

#[test]
fn a_fork_bomb_is_contained() {
    let Project {
        context,
        dir: _dir,
        home: _home,
    } = project();
    let started = Instant::now();
    // After the bomb, the shell itself never forks again (it waits on a
    // FIFO with the `read` builtin): bash retries a refused fork with
    // growing sleeps, which on a loaded machine can outlast the timeout
    // and would test bash's patience instead of the sandbox.
    let result = shell(
        &context,
        "mkfifo wait.fifo; exec 3<>wait.fifo; bomb() { bomb | bomb & }; bomb; read -t 5 -u 3; echo survived",
    );
    let took = started.elapsed();
    // It ran to its end: the bomb did not take the sandbox down with it.
    assert!(stdout(ran(&result)).contains("survived"), "{result}");
    assert!(took < Duration::from_mins(1), "took {took:?}: {result}");
    // The host still starts processes.
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("host can fork");
    assert!(child.wait().expect("wait").success());
    let mut count = String::new();
    std::fs::File::open("/proc/loadavg")
        .and_then(|mut file| file.read_to_string(&mut count))
        .expect("loadavg");
    let running: u32 = count
        .split_whitespace()
        .nth(3)
        .and_then(|field| field.split('/').nth(1))
        .and_then(|total| total.parse().ok())
        .unwrap_or_default();
    assert!(
        running < 5000,
        "{running} processes on the host after the bomb"
    );
    assert!(
        stdout(&result).contains("Resource temporarily unavailable")
            || stdout(&result).contains("fork: "),
        "the bomb hit the process limit: {result}"
    );
}

#[test]
fn large_output_is_bounded() {
    let Project {
        context,
        dir: _dir,
        home: _home,
    } = project();
    let result = shell(
        &context,
        "yes 0123456789 | head -c 3000000; echo; echo tail",
    );
    let text = result["stdout"].as_str().unwrap_or_default();
    assert!(
        text.len() < 70_000 && text.contains("output cut"),
        "{} bytes: {}",
        text.len(),
        &text[text.len().saturating_sub(200)..]
    );
    let endless = shell(&context, "yes");
    let error = endless["error"].as_str().unwrap_or("no error");
    assert!(error.contains("MiB of output"), "{error}");
}
