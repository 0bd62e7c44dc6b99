//! `codexos server`: the team server (serve, and set up its accounts,
//! workspaces, members and tokens from the machine it runs on).

use std::io::BufRead as _;
use std::path::PathBuf;
use std::sync::Arc;

use codexos_runtime::Runtime;
use codexos_server::team::oidc::OidcConfig;
use codexos_server::team::roles::{Role, Scope};
use codexos_server::team::{Limits, Team, TeamOptions};
use tokio_util::sync::CancellationToken;

use crate::render;

/// `codexos server …`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The server home (`team.sqlite`, one data home per workspace);
    /// default: `server/` in the data home.
    #[arg(long, global = true)]
    home: Option<PathBuf>,
    /// Keep the server's and the workspaces' metadata in this PostgreSQL
    /// database (`postgres://user:password@host:port/db`) instead of SQLite
    /// files in the home; several servers may share it.
    #[arg(long, global = true, env = "CODEXOS_DATABASE")]
    database: Option<String>,
    #[command(subcommand)]
    command: Option<ServerCommand>,
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:7420")]
    bind: String,
    /// Requests per minute one credential may make.
    #[arg(long, default_value_t = Limits::default().per_credential)]
    per_credential: u32,
    /// Requests per minute one address may make.
    #[arg(long, default_value_t = Limits::default().per_address)]
    per_address: u32,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = Limits::default().max_body)]
    max_body: usize,
    /// Largest upload of a project's files in bytes (one batch: the app
    /// splits a folder into batches this size).
    #[arg(long, default_value_t = Limits::default().max_upload)]
    max_upload: usize,
    /// Mark the session cookie `Secure` (behind a TLS proxy; implied by
    /// `--tls-cert`).
    #[arg(long)]
    secure_cookies: bool,
    /// Serve HTTPS with this certificate chain (PEM; needs `--tls-key`).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Sign in through this OIDC provider too (its issuer URL; discovery
    /// and PKCE). The client secret, if any, is read from the environment
    /// variable `CODEXOS_OIDC_CLIENT_SECRET`.
    #[arg(long, requires_all = ["oidc_client_id", "public_url"])]
    oidc_issuer: Option<String>,
    /// This server's client id at the OIDC provider.
    #[arg(long, requires = "oidc_issuer")]
    oidc_client_id: Option<String>,
    /// The ID-token claim that names the CodexOS account.
    #[arg(long, default_value = "preferred_username")]
    oidc_claim: String,
    /// This server's URL as browsers reach it (for the OIDC redirect URI
    /// `<URL>/api/v1/oidc/callback`).
    #[arg(long)]
    public_url: Option<String>,
    /// Let outgoing webhooks reach loopback and private-network addresses
    /// (refused by default: a workspace admin must not make the server
    /// probe its own network).
    #[arg(long)]
    allow_private_webhooks: bool,
    /// The shortest time, in seconds, between two runs of a cron trigger.
    #[arg(long, default_value_t = 60)]
    cron_floor: u64,
    /// With --database: how long (milliseconds) a run's claim lasts
    /// without its server's heartbeat; a dead server's runs are taken over
    /// by another this long after it stopped.
    #[arg(long, default_value_t = 15_000)]
    claim_lease_ms: u64,
}

/// What to do (default: serve).
#[derive(Debug, clap::Subcommand)]
pub enum ServerCommand {
    /// Accounts: add, set a password, list.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Workspaces: add (with an owner), list.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Roles in a workspace, or grants on one flow.
    #[command(subcommand)]
    Member(MemberCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `codexos db …`: the team server's databases.
#[derive(Debug, clap::Args)]
pub struct DbArgs {
    /// The server home (default: `server/` in the data home).
    #[arg(long, global = true)]
    home: Option<PathBuf>,
    /// The PostgreSQL database (`postgres://…`); without it, the SQLite
    /// files of the home.
    #[arg(long, global = true, env = "CODEXOS_DATABASE")]
    database: Option<String>,
    #[command(subcommand)]
    command: DbCommand,
}

/// What to do with the databases.
#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Brings the server's and every workspace's schema up to this
    /// version (`codexos server` does it too when it starts) and prints
    /// each one's version.
    Migrate,
    /// Moves a server home's SQLite metadata (the server's and every
    /// workspace's) into an empty PostgreSQL database, checking every
    /// table's rows; stop the server first. Then serve with `--database`.
    Copy {
        /// The PostgreSQL database to fill.
        #[arg(long)]
        to: String,
    },
}

/// `codexos server token …`.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Creates an API token for an account (printed once).
    Create {
        /// The account.
        account: String,
        /// What it is for.
        #[arg(long)]
        label: String,
        /// Scopes, comma-separated: read, run, edit, admin.
        #[arg(long, value_delimiter = ',', default_value = "read")]
        scope: Vec<String>,
        /// Days until it expires (1–365).
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
}

/// `codexos server account …`.
#[derive(Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// Adds an account; its password is read from the first line of stdin.
    Add {
        /// Login name.
        name: String,
        /// Add it without a password (it cannot sign in with one).
        #[arg(long)]
        no_password: bool,
    },
    /// Sets an account's password from the first line of stdin (and lifts
    /// a lock from failed logins).
    Passwd {
        /// Login name.
        name: String,
    },
    /// Lists the accounts.
    List,
}

/// `codexos server workspace …`.
#[derive(Debug, clap::Subcommand)]
pub enum WorkspaceCommand {
    /// Adds a workspace.
    Add {
        /// Its name.
        name: String,
        /// The account that owns it.
        #[arg(long)]
        owner: String,
    },
    /// Lists the workspaces.
    List,
}

/// `codexos server member …`.
#[derive(Debug, clap::Subcommand)]
pub enum MemberCommand {
    /// Gives an account a role: viewer, executor, creator, admin, owner.
    Set {
        /// Workspace.
        workspace: String,
        /// Account.
        account: String,
        /// Role.
        role: String,
        /// Only on this flow (a grant that narrows or widens the role).
        #[arg(long)]
        flow: Option<String>,
    },
    /// Lists a workspace's members and grants.
    List {
        /// Workspace.
        workspace: String,
    },
}

fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(
        !password.is_empty(),
        "give the password on stdin (e.g. `read -rs P; printf '%s\\n' \"$P\" | codexos server account add NAME`)"
    );
    Ok(password)
}

fn role(name: &str) -> anyhow::Result<Role> {
    Role::parse(name).ok_or_else(|| {
        anyhow::anyhow!("`{name}` is not a role: use viewer, executor, creator, admin or owner")
    })
}

/// Runs `codexos server`.
pub async fn server(
    runtime: &Arc<Runtime>,
    args: ServerArgs,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let options = TeamOptions {
        home: args
            .home
            .clone()
            .unwrap_or_else(|| runtime.home().root().join("server")),
        models: Some(runtime.home().models().to_path_buf()),
        limits: Limits {
            per_credential: args.per_credential,
            per_address: args.per_address,
            max_body: args.max_body,
            max_upload: args.max_upload,
        },
        secure_cookies: args.secure_cookies || args.tls_cert.is_some(),
        webhook_retry: std::time::Duration::from_secs(5),
        private_webhooks: args.allow_private_webhooks,
        cron_floor: std::time::Duration::from_secs(args.cron_floor),
        database: args.database.clone(),
        claim_lease: std::time::Duration::from_millis(args.claim_lease_ms),
        oidc: args.oidc_issuer.clone().map(|issuer| OidcConfig {
            issuer,
            client_id: args.oidc_client_id.clone().unwrap_or_default(),
            client_secret: std::env::var("CODEXOS_OIDC_CLIENT_SECRET")
                .ok()
                .filter(|secret| !secret.is_empty()),
            public_url: args.public_url.clone().unwrap_or_default(),
            claim: args.oidc_claim.clone(),
        }),
    };
    let tls = match (args.tls_cert.clone(), args.tls_key.clone()) {
        (Some(certificate), Some(key)) => Some(codexos_server::team::tls::acceptor(
            &codexos_server::team::tls::TlsFiles { certificate, key },
        )?),
        _ => None,
    };
    let team = Team::open(options)?;
    match args.command {
        None => serve(team, &args.bind, tls, json, cancel).await,
        Some(command) => setup(&team, command, json),
    }
}

async fn serve(
    team: Arc<Team>,
    bind: &str,
    tls: Option<codexos_server::team::tls::TlsAcceptor>,
    json: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let address: std::net::SocketAddr = bind
        .parse()
        .map_err(|error| anyhow::anyhow!("`{bind}` is not an address to bind: {error}"))?;
    let home = team.options().home.clone();
    let scheme = if tls.is_some() { "https" } else { "http" };
    codexos_server::team::serve_team(team, address, tls, cancel.clone(), |bound| {
        if json {
            crate::chat::json_line(&serde_json::json!({"type": "listening", "url": format!("{scheme}://{bound}"), "home": home}));
        } else {
            eprintln!(
                "CodexOS team server on {scheme}://{bound} (home {}) — API at /api/v1, document at /openapi.json — Ctrl-C to stop",
                home.display()
            );
        }
    })
    .await
    .map_err(|error| anyhow::anyhow!("cannot serve on {address}: {error} — choose another --bind"))
}

fn setup(team: &Team, command: ServerCommand, json: bool) -> anyhow::Result<()> {
    match command {
        ServerCommand::Account(AccountCommand::Add { name, no_password }) => {
            let password = if no_password {
                None
            } else {
                Some(password_from_stdin()?)
            };
            team.add_account(&name, password.as_deref())?;
            report(
                json,
                &serde_json::json!({"added": name}),
                &format!("account {name} added"),
            )
        }
        ServerCommand::Account(AccountCommand::Passwd { name }) => {
            team.set_password(&name, &password_from_stdin()?)?;
            report(
                json,
                &serde_json::json!({"changed": name}),
                &format!("password of {name} changed"),
            )
        }
        ServerCommand::Account(AccountCommand::List) => {
            let accounts = team.accounts()?;
            if json {
                return render::print_json(&accounts);
            }
            for account in &accounts {
                let state = if account.disabled { "  (disabled)" } else { "" };
                println!("{}{state}", account.name);
            }
            Ok(())
        }
        ServerCommand::Workspace(WorkspaceCommand::Add { name, owner }) => {
            team.add_workspace(&name, &owner)?;
            report(
                json,
                &serde_json::json!({"added": name, "owner": owner}),
                &format!("workspace {name} added, owned by {owner}"),
            )
        }
        ServerCommand::Workspace(WorkspaceCommand::List) => {
            let workspaces = team.workspaces()?;
            if json {
                return render::print_json(&workspaces);
            }
            for workspace in &workspaces {
                println!("{workspace}");
            }
            Ok(())
        }
        ServerCommand::Member(MemberCommand::Set {
            workspace,
            account,
            role: name,
            flow,
        }) => {
            team.set_role(&workspace, flow.as_deref(), &account, role(&name)?)?;
            let on = flow
                .as_ref()
                .map_or_else(String::new, |flow| format!(" on flow {flow}"));
            report(
                json,
                &serde_json::json!({"workspace": workspace, "account": account, "role": name, "flow": flow}),
                &format!("{account} is {name} in {workspace}{on}"),
            )
        }
        ServerCommand::Member(MemberCommand::List { workspace }) => {
            let members = team.memberships(Some(&workspace), None)?;
            if json {
                return render::print_json(&members);
            }
            for member in &members {
                let on = member
                    .flow
                    .as_ref()
                    .map_or_else(String::new, |flow| format!("  (flow {flow})"));
                println!("{:<24} {}{on}", member.account, member.role);
            }
            Ok(())
        }
        ServerCommand::Token(TokenCommand::Create {
            account,
            label,
            scope,
            days,
        }) => create_token(team, &account, &label, &scope, days, json),
    }
}

fn report(json: bool, value: &serde_json::Value, text: &str) -> anyhow::Result<()> {
    if json {
        render::print_json(value)
    } else {
        println!("{text}");
        Ok(())
    }
}

fn create_token(
    team: &Team,
    account: &str,
    label: &str,
    scope: &[String],
    days: u32,
    json: bool,
) -> anyhow::Result<()> {
    let scopes = scope
        .iter()
        .map(|name| {
            Scope::parse(name.trim()).ok_or_else(|| {
                anyhow::anyhow!("`{name}` is not a scope: use read, run, edit or admin")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let minted = team.create_token(account, label, &scopes, days)?;
    if json {
        return render::print_json(
            &serde_json::json!({"token": minted.token, "credential": minted.credential}),
        );
    }
    println!("{}", minted.token);
    eprintln!(
        "token {} for {account} ({}) — shown once; it expires in {days} day(s)",
        minted.credential.id,
        minted.credential.scopes.join(", ")
    );
    Ok(())
}

/// A `codexos server` process on `port` over the bench home, once it
/// listens.
async fn bench_server(home: &std::path::Path, port: u16) -> anyhow::Result<tokio::process::Child> {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--json")
        .arg("server")
        .arg("--home")
        .arg(home)
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--per-credential", &u32::MAX.to_string()])
        .args(["--per-address", &u32::MAX.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no output from the server"))?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(std::time::Duration::from_mins(1), lines.next_line())
        .await
        .map_err(|_| anyhow::anyhow!("the bench server did not start within 60 s"))??;
    anyhow::ensure!(
        line.is_some_and(|line| line.contains("listening")),
        "the bench server did not start"
    );
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(child)
}

/// The load against a separate server process killed with SIGKILL after
/// `kill_after` and started again over the same home.
async fn bench_killed(
    clients: usize,
    duration: std::time::Duration,
    kill_after: std::time::Duration,
) -> anyhow::Result<codexos_server::team::bench::ServerBench> {
    use codexos_server::team::bench;
    anyhow::ensure!(
        kill_after < duration,
        "--kill-after must fall within --seconds"
    );
    let home = tempfile::tempdir()?;
    let token = bench::prepare(home.path(), None)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = bench_server(home.path(), port).await?;
    let target = bench::Target {
        base: format!("http://127.0.0.1:{port}"),
        token: token.clone(),
    };
    let began = std::time::Instant::now();
    let loading = tokio::spawn(async move { bench::load(&target, clients, duration).await });
    tokio::time::sleep(kill_after).await;
    server.start_kill()?;
    server.wait().await?;
    let mut server = bench_server(home.path(), port).await?;
    let seen = loading.await?;
    let wall = began.elapsed().as_secs_f64();
    server.start_kill()?;
    server.wait().await?;
    Ok(bench::settle(home.path(), token, seen, clients, wall).await?)
}

/// `codexos bench server`.
/// `codexos bench server …`.
#[derive(Debug, clap::Args)]
pub struct ServerBenchArgs {
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Serve from a separate `codexos server` process and kill it with
    /// SIGKILL this many seconds in, then start it again: clients
    /// reconnect and resume their runs.
    #[arg(long)]
    kill_after: Option<u64>,
    /// Also run the same load with the metadata in this (empty)
    /// PostgreSQL database, right after SQLite, and print both and
    /// their ratio.
    #[arg(long, conflicts_with = "kill_after")]
    database: Option<String>,
}

/// Runs `codexos bench server`.
pub async fn bench(
    setup: &codexos_runtime::BenchSetup,
    args: ServerBenchArgs,
    json: bool,
) -> anyhow::Result<()> {
    let ServerBenchArgs {
        clients,
        seconds,
        kill_after,
        database,
    } = args;
    let database = database.as_deref();
    anyhow::ensure!(
        clients > 0 && seconds > 0,
        "give at least one client and one second"
    );
    if let Some(url) = database {
        anyhow::ensure!(
            codexos_store::is_postgres_url(url),
            "--database takes a postgres:// URL (of an empty database)"
        );
    }
    let spinner = render::spinner(json, "clients starting runs and following their events…");
    let duration = std::time::Duration::from_secs(seconds);
    let mut sqlite = match kill_after {
        Some(kill_after) => {
            bench_killed(
                clients,
                duration,
                std::time::Duration::from_secs(kill_after),
            )
            .await?
        }
        None => codexos_server::team::bench::run(clients, duration, None).await?,
    };
    sqlite.killed_after_s = kill_after;
    // The same load, right after, with the metadata in PostgreSQL.
    let postgres = match database {
        Some(url) => Some(codexos_server::team::bench::run(clients, duration, Some(url)).await?),
        None => None,
    };
    spinner.finish_and_clear();
    match &postgres {
        None => crate::show(setup, json, &sqlite, |bench, _| {
            print_bench(bench, "SQLite (WAL, synchronous = NORMAL)");
            Ok(())
        })?,
        Some(pg) => {
            let pair = BenchPair {
                postgres_over_sqlite: Ratios {
                    starts_per_second: pg.starts_per_second / sqlite.starts_per_second,
                    start_p99: pg.start_p99_ms / sqlite.start_p99_ms,
                    complete_p99: pg.complete_p99_ms / sqlite.complete_p99_ms,
                    events_per_second: pg.events_per_second / sqlite.events_per_second,
                },
                sqlite: sqlite.clone(),
                postgres: pg.clone(),
            };
            crate::show(setup, json, &pair, |pair, _| {
                print_bench(&pair.sqlite, "SQLite (WAL, synchronous = NORMAL)");
                print_bench(&pair.postgres, "PostgreSQL (synchronous_commit = off)");
                let ratio = &pair.postgres_over_sqlite;
                println!(
                    "PostgreSQL / SQLite: runs/s ×{:.2}, start p99 ×{:.2}, whole run p99 ×{:.2}, events/s ×{:.2}",
                    ratio.starts_per_second, ratio.start_p99, ratio.complete_p99, ratio.events_per_second
                );
                Ok(())
            })?;
        }
    }
    // A figure with a failed check is not a figure.
    for bench in std::iter::once(&sqlite).chain(postgres.as_ref()) {
        anyhow::ensure!(
            bench.unfinished == 0 && bench.mismatched == 0 && bench.failed == 0,
            "the load's checks failed: {} runs not succeeded, {} with events missing, doubled or out of order, {} failed requests",
            bench.unfinished,
            bench.mismatched,
            bench.failed
        );
    }
    Ok(())
}

/// The same load on SQLite then PostgreSQL.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct BenchPair {
    sqlite: codexos_server::team::bench::ServerBench,
    postgres: codexos_server::team::bench::ServerBench,
    postgres_over_sqlite: Ratios,
}

/// PostgreSQL's figure over SQLite's.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Ratios {
    starts_per_second: f64,
    start_p99: f64,
    complete_p99: f64,
    events_per_second: f64,
}

fn print_bench(bench: &codexos_server::team::bench::ServerBench, storage: &str) {
    println!(
        "team server on loopback, {storage}, {} clients for {:.1} s",
        bench.clients, bench.seconds
    );
    println!(
        "  runs started: {} ({:.1}/s) — start p50 {:.1} ms, p99 {:.1} ms",
        bench.runs, bench.starts_per_second, bench.start_p50_ms, bench.start_p99_ms
    );
    println!(
        "  start → end event as a client sees it: p50 {:.1} ms, p99 {:.1} ms",
        bench.complete_p50_ms, bench.complete_p99_ms
    );
    println!(
        "  events delivered: {} ({:.1}/s)",
        bench.events, bench.events_per_second
    );
    if let Some(kill_after) = bench.killed_after_s {
        println!(
            "  server process killed (SIGKILL) {kill_after} s in and started again: {} streams reconnected, {} runs resumed by their clients, {} unknown to any client resumed afterwards",
            bench.reconnects, bench.resumed, bench.orphans
        );
    }
    println!(
        "  checks: {} runs not succeeded, {} with events missing/doubled/out of order, {} failed requests",
        bench.unfinished, bench.mismatched, bench.failed
    );
    for failure in &bench.failures {
        println!("    failure: {failure}");
    }
}

/// Every store of a server home: `("team" | "ws <name>", location)`.
fn server_stores(
    home: &std::path::Path,
    database: Option<&str>,
    listed_in: Option<&[String]>,
) -> anyhow::Result<Vec<(String, codexos_store::Location)>> {
    use codexos_server::team::{workspace_schema, TEAM_SCHEMA};
    use codexos_store::Location;
    let team = match database {
        Some(url) => Location::Postgres {
            url: url.to_owned(),
            schema: TEAM_SCHEMA.to_owned(),
        },
        None => Location::Sqlite(home.join("team.sqlite")),
    };
    let workspaces = match listed_in {
        Some(names) => names.to_vec(),
        None => codexos_store::Store::open_location(&team, codexos_store::Durability::default())?
            .team_workspaces()?,
    };
    let mut stores = vec![("team".to_owned(), team)];
    for workspace in workspaces {
        let location = match database {
            Some(url) => Location::Postgres {
                url: url.to_owned(),
                schema: workspace_schema(&workspace),
            },
            None => Location::Sqlite(
                home.join("workspaces")
                    .join(&workspace)
                    .join("codexos.sqlite"),
            ),
        };
        stores.push((format!("workspace {workspace}"), location));
    }
    Ok(stores)
}

/// Runs `codexos db …`.
pub fn db(runtime: &Arc<Runtime>, args: DbArgs, json: bool) -> anyhow::Result<()> {
    let home = args
        .home
        .clone()
        .unwrap_or_else(|| runtime.home().root().join("server"));
    anyhow::ensure!(
        args.database.is_some() || home.join("team.sqlite").is_file(),
        "`{}` is not a server home (no team.sqlite): give --home, or --database for PostgreSQL",
        home.display()
    );
    if let Some(url) = &args.database {
        anyhow::ensure!(
            codexos_store::is_postgres_url(url),
            "--database takes a postgres:// URL"
        );
    }
    match args.command {
        DbCommand::Migrate => {
            let mut report = Vec::new();
            for (name, location) in server_stores(&home, args.database.as_deref(), None)? {
                let store = codexos_store::Store::open_location(
                    &location,
                    codexos_store::Durability::default(),
                )?;
                let version = store.schema_version()?;
                if !json {
                    println!("{name}: schema {version}");
                }
                report.push(serde_json::json!({"store": name, "version": version}));
            }
            if json {
                render::print_json(&report)?;
            }
            Ok(())
        }
        DbCommand::Copy { to } => {
            anyhow::ensure!(
                codexos_store::is_postgres_url(&to),
                "--to takes a postgres:// URL"
            );
            anyhow::ensure!(
                args.database.is_none(),
                "copy reads the home's SQLite files: leave out --database (the target is --to)"
            );
            let mut report = Vec::new();
            let workspaces =
                codexos_store::Store::open(&home.join("team.sqlite"))?.team_workspaces()?;
            let sources = server_stores(&home, None, Some(&workspaces))?;
            let targets = server_stores(&home, Some(&to), Some(&workspaces))?;
            // Every target empty before anything is copied: a refusal
            // changes nothing anywhere.
            for (name, target) in &targets {
                let target = codexos_store::Store::open_location(
                    target,
                    codexos_store::Durability::default(),
                )?;
                if let Some(table) = target.first_filled_table()? {
                    anyhow::bail!(
                        "cannot copy the store: the target already holds rows ({name}, `{table}`): copy into an empty database"
                    );
                }
            }
            for ((name, source), (_, target)) in sources.iter().zip(&targets) {
                if let codexos_store::Location::Sqlite(path) = source {
                    if !path.is_file() {
                        // Never opened: nothing to move (it starts empty there).
                        report.push(serde_json::json!({"store": name, "rows": 0, "tables": []}));
                        continue;
                    }
                }
                let source = codexos_store::Store::open_location(
                    source,
                    codexos_store::Durability::default(),
                )?;
                let target = codexos_store::Store::open_location(
                    target,
                    codexos_store::Durability::default(),
                )?;
                let copied = source.copy_into(&target, |_| {})?;
                let rows: u64 = copied.iter().map(|table| table.rows).sum();
                if !json {
                    println!(
                        "{name}: {rows} rows in {} tables copied and checked",
                        copied.len()
                    );
                }
                report.push(serde_json::json!({"store": name, "rows": rows, "tables": copied}));
            }
            if json {
                render::print_json(&report)?;
            } else {
                eprintln!(
                    "done: serve with `codexos server --home {} --database {}` (the home keeps vectors, files and share.key)",
                    home.display(),
                    codexos_store::redact_url(&to)
                );
            }
            Ok(())
        }
    }
}
