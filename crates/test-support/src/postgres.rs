//! A real PostgreSQL server for tests: one cluster per test process, made
//! with Debian's `postgresql` binaries (`initdb`, `postgres`) in a
//! temporary folder, on a free loopback port, trusting local connections.
//!
//! Each caller gets its own schema name, so tests run side by side in one
//! database. The server stops (and its folder goes) when the test process
//! ends: a small shell watches the process and shuts the server down.
//! When the binaries are missing the tests fail with the fix; they never
//! skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The cluster of this test process.
#[derive(Debug)]
pub struct Postgres {
    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub url: String,
    /// Its data folder.
    pub data: PathBuf,
    /// The folder with `postgres`, `psql`, `pg_ctl`.
    pub bin: PathBuf,
}

/// The folder of PostgreSQL's server binaries (`CODEXOS_PG_BIN`, or the
/// newest `/usr/lib/postgresql/*/bin`).
///
/// # Panics
/// When none is installed, with the command that installs it.
#[must_use]
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CODEXOS_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("postgres").is_file())
        .collect();
    versions.sort();
    versions.pop().expect(
        "PostgreSQL's server is not installed: `apt-get install postgresql` (or set CODEXOS_PG_BIN to its bin folder)",
    )
}

/// The user and group a server runs as: PostgreSQL refuses root, so as
/// root it runs as the `postgres` user the Debian package creates.
fn server_user() -> Option<(u32, u32)> {
    let me = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid_line = me.lines().find(|line| line.starts_with("Uid:"))?;
    if uid_line.split_whitespace().nth(1)? != "0" {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres"))
            .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
            .flatten()
    })
}

fn as_server_user(command: &mut Command, user: Option<(u32, u32)>) -> &mut Command {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

fn start() -> Postgres {
    let bin = bin_dir();
    let user = server_user();
    let root = std::env::temp_dir().join(format!("codexos-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let data = root.join("data");
    std::fs::create_dir_all(&data).expect("the cluster's folder");
    if let Some((uid, gid)) = user {
        for dir in [&root, &data] {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid)).expect("chown to postgres");
        }
    }
    let status = as_server_user(
        Command::new(bin.join("initdb"))
            .args([
                "--auth=trust",
                "--username=postgres",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
                "-D",
            ])
            .arg(&data)
            .stdout(Stdio::null()),
        user,
    )
    .status()
    .expect("initdb runs");
    assert!(status.success(), "initdb failed for {}", data.display());
    let port = free_port();
    // The watcher: starts the server, and shuts it down (fast) and removes
    // its folder once this test process is gone.
    let script = format!(
        "\"$1\" -D \"$2\" -p {port} -k \"$3\" -c listen_addresses=127.0.0.1 -c fsync=off \
         -c max_connections=200 >\"$3/log\" 2>&1 & server=$!; \
         while [ -d /proc/{parent} ] && kill -0 $server 2>/dev/null; do sleep 0.5; done; \
         kill -INT $server 2>/dev/null; wait $server; rm -rf \"$3\"",
        parent = std::process::id()
    );
    // Not waited for: the watcher outlives this process by design (it
    // stops the server once the process is gone).
    #[expect(
        clippy::zombie_processes,
        reason = "the watcher outlives the test process"
    )]
    let _watcher = as_server_user(
        Command::new("sh")
            .args(["-c", &script, "pg-watch"])
            .arg(bin.join("postgres"))
            .arg(&data)
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        user,
    )
    .spawn()
    .expect("the PostgreSQL server starts");
    let started = Instant::now();
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|status| status.success());
        if ready {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "the test PostgreSQL server did not start in 60 s; its log: {}",
            std::fs::read_to_string(root.join("log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Postgres {
        url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        data,
        bin,
    }
}

/// This process's server, started on first use.
///
/// # Panics
/// When PostgreSQL is not installed or does not start.
pub fn server() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(start)
}

/// A schema name no other caller in this process gets (`t<pid>_<n>`).
#[must_use]
pub fn fresh_schema() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Postgres {
    /// A new, empty database of this server; its URL.
    ///
    /// # Panics
    /// When it cannot be created.
    #[must_use]
    pub fn fresh_database(&self) -> String {
        let name = format!("d{}", fresh_schema());
        let _created = self.psql(&format!("CREATE DATABASE {name}"));
        let base = self
            .url
            .rsplit_once('/')
            .map_or(self.url.as_str(), |(base, _)| base);
        format!("{base}/{name}")
    }

    /// Runs `sql` with `psql` against the database (as the superuser),
    /// returning its output; for tests that act behind the store's back.
    ///
    /// # Panics
    /// When `psql` fails.
    #[must_use]
    pub fn psql(&self, sql: &str) -> String {
        self.try_psql(sql)
            .unwrap_or_else(|error| panic!("psql failed: {error}"))
    }

    /// Like [`Postgres::psql`], returning the error instead of panicking.
    ///
    /// # Errors
    /// `psql`'s message when the statement fails.
    pub fn try_psql(&self, sql: &str) -> Result<String, String> {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url,
                "-c",
                sql,
            ])
            .output()
            .map_err(|error| error.to_string())?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        }
    }

    /// The data folder's path.
    #[must_use]
    pub fn data(&self) -> &Path {
        &self.data
    }
}
