//! Secrets never reach a command line: while tools holding a sentinel
//! secret run (`shell` and `python` given `vault://` references by a flow, a
//! folder tool given one in its manifest's env), every process's
//! `/proc/PID/cmdline` is read over and over, and none holds it. Each run
//! also proves it ran: the program reports the secret's length (it got the
//! value) and a marker argument of a child process is seen in the scan (the
//! scan sees the sandbox's processes).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use codexos_tools::{builtin, folder, CallContext, Policy, PreApproved, Registry, Secrets};
use secrecy::SecretString;
use serde_json::{json, Value};

struct Sentinel(String);

impl Secrets for Sentinel {
    fn secret(&self, name: &str) -> Result<SecretString, String> {
        if name == "SENTINEL" {
            Ok(SecretString::from(self.0.clone()))
        } else {
            Err(format!("no secret `{name}`"))
        }
    }
}

/// What a scan of every process's command line found.
#[derive(Default)]
struct Seen {
    markers: Vec<String>,
    leaks: Vec<String>,
    scans: usize,
}

/// Reads every `/proc/*/cmdline` until `stop`, noting the lines holding
/// `secret` and which of `markers` appeared.
fn scan(
    secret: String,
    markers: Vec<String>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Seen> {
    std::thread::spawn(move || {
        let mut seen = Seen::default();
        while !stop.load(Ordering::SeqCst) {
            let Ok(entries) = std::fs::read_dir("/proc") else {
                break;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                // Processes come and go between listing and reading.
                let Ok(bytes) = std::fs::read(entry.path().join("cmdline")) else {
                    continue;
                };
                let line = String::from_utf8_lossy(&bytes).replace('\0', " ");
                if line.contains(&secret) {
                    seen.leaks.push(line.clone());
                }
                for marker in &markers {
                    if line.contains(marker.as_str()) && !seen.markers.contains(marker) {
                        seen.markers.push(marker.clone());
                    }
                }
            }
            seen.scans += 1;
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        seen
    })
}

const ECHO_TOKEN: &str = r#"
name = "echo-token"
description = "Sleeps, then says how long its token is."
command = ["sh", "-c", "sleep 1.7343; printf %s \"$TOKEN\" | wc -c"]
permission = "allow"
writes = false
env = { TOKEN = { vault = "SENTINEL" } }

[parameters]
type = "object"
properties = {}
"#;

/// A folder tool named `name` whose command puts `template` (over its
/// `token` argument) on its command line.
fn argv_tool(name: &str, template: &str) -> String {
    format!(
        "name = \"{name}\"\ndescription = \"Puts its argument on its command line.\"\n\
         command = [\"echo\", \"{template}\"]\npermission = \"allow\"\nwrites = false\n\n\
         [parameters]\ntype = \"object\"\nrequired = [\"token\"]\nproperties.token = {{ type = \"string\" }}\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_is_ever_on_a_command_line() {
    let secret = format!("sentinel-{}-{}", std::process::id(), rand_suffix());
    let project = tempfile::tempdir().expect("project");
    let tools = tempfile::tempdir().expect("tools");
    for (name, manifest) in [
        ("echo-token", ECHO_TOKEN.to_owned()),
        ("argv-token", argv_tool("argv-token", "{{ token }}")),
        (
            "argv-filtered",
            argv_tool("argv-filtered", "{{ token | upper }}"),
        ),
    ] {
        std::fs::create_dir(tools.path().join(name)).expect("dir");
        std::fs::write(tools.path().join(name).join("tool.toml"), manifest).expect("manifest");
    }
    let registry = Registry::new();
    builtin::register(&registry);
    folder::load(&registry, tools.path(), true);
    let mut context = CallContext::new(project.path().to_path_buf());
    context.secrets = Arc::new(Sentinel(secret.clone()));
    context.references = vec!["SENTINEL".to_owned()];
    let call = |name: &'static str, arguments: Value| {
        let registry = Arc::clone(&registry);
        let context = context.clone();
        async move {
            registry
                .call(name, arguments, &Policy::default(), &PreApproved, &context)
                .await
        }
    };

    let markers: Vec<String> = ["1.7341", "1.7342", "1.7343"].map(str::to_owned).to_vec();
    let stop = Arc::new(AtomicBool::new(false));
    let scanner = scan(secret.clone(), markers.clone(), Arc::clone(&stop));
    let length = secret.len().to_string();
    let mut results = Vec::new();
    let shell = call(
        "shell",
        json!({ "command": "S='vault://SENTINEL'; sleep 1.7341; echo ${#S}" }),
    )
    .await
    .expect("shell ran");
    results.push(("shell", shell));
    let python = call(
        "python",
        json!({ "code": "import subprocess\ns = 'vault://SENTINEL'\nsubprocess.run(['sleep', '1.7342'])\nprint(len(s))" }),
    )
    .await
    .expect("python ran");
    results.push(("python", python));
    let folder_tool = call("echo-token", json!({}))
        .await
        .expect("folder tool ran");
    results.push((
        "echo-token",
        json!({ "stdout": folder_tool, "exitCode": 0 }),
    ));
    stop.store(true, Ordering::SeqCst);
    let seen = scanner.join().expect("scanner");

    for (tool, result) in results {
        assert_eq!(result["exitCode"], 0, "{tool}: {result}");
        assert_eq!(
            result["stdout"].as_str().map(str::trim),
            Some(length.as_str()),
            "{tool} did not get the secret's value: {result}"
        );
    }
    assert!(
        seen.scans > 10,
        "the scan hardly ran ({} scans)",
        seen.scans
    );
    assert_eq!(
        seen.markers.len(),
        markers.len(),
        "the scan missed a tool's process (saw {:?} of {markers:?})",
        seen.markers
    );
    assert!(
        seen.leaks.is_empty(),
        "secret on a command line: {:?}",
        seen.leaks
    );

    // A folder tool whose manifest would put the secret on its command line
    // is refused before anything starts; the same call with plain text runs.
    let plain = call("argv-token", json!({ "token": "plain-text" }))
        .await
        .expect("plain argument");
    assert_eq!(plain.as_str().map(str::trim), Some("plain-text"), "{plain}");
    let error = call("argv-token", json!({ "token": "vault://SENTINEL" }))
        .await
        .expect_err("a secret on the command line");
    let message = error.to_string();
    assert!(message.contains("command line"), "{message}");
    assert!(!message.contains(&secret), "{message}");
    // A filter in the template changes the value on the command line: the
    // argument is refused all the same (positive control first).
    let plain = call("argv-filtered", json!({ "token": "plain" }))
        .await
        .expect("plain argument");
    assert_eq!(plain.as_str().map(str::trim), Some("PLAIN"), "{plain}");
    let error = call("argv-filtered", json!({ "token": "vault://SENTINEL" }))
        .await
        .expect_err("a secret, upper-cased, on the command line");
    assert!(error.to_string().contains("`token`"), "{error}");
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos())
}
