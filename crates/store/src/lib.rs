//! `codexos-store`: the metadata database of one CodexOS data home.
//!
//! One SQLite file (WAL mode) holds what is small and relational: projects, the
//! per-file ingest ledger that makes re-ingest incremental, sealed vault records,
//! the checksum cache for model files, LLM attempts, flow runs (checkpoints,
//! events, recorded calls), flow versions, published agents, long-term
//! memory and saved chat conversations. Bulk data (chunks and vectors) lives in LanceDB, owned by `codexos-rag`. Nothing here knows about the engines above it:
//! `rag`, `vault` and `runtime` depend on this crate, never the other way round.
//!
//! ```no_run
//! let store = codexos_store::Store::open(std::path::Path::new("/tmp/home/codexos.sqlite"))?;
//! store.upsert_project("docs", std::path::Path::new("/srv/docs"))?;
//! assert!(store.project("docs")?.is_some());
//! # Ok::<(), codexos_store::Error>(())
//! ```

pub mod analytics;
pub mod audit;
pub mod claims;
mod conversations;
mod copy;
pub mod db;
pub mod evals;
mod migrations;
pub mod otlp;
mod runs;
pub mod team;
pub mod triggers;

pub use conversations::{ConversationSummary, MessageRow};
pub use copy::Copied;
pub use runs::{FlowVersion, RunRow, RunSummary};

/// How hard a commit (a run's checkpoint, a vault write) is pushed to disk:
/// SQLite's `synchronous` in WAL mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// `synchronous = NORMAL`: a commit survives CodexOS crashing or being
    /// killed (`kill -9`) — the operating system holds it — but a power cut
    /// or a kernel crash may lose the last commits (never corrupt the file).
    #[default]
    Normal,
    /// `synchronous = FULL`: every commit is synced to the disk (an fsync per
    /// checkpoint) and survives a power cut too.
    Full,
}

impl Durability {
    /// SQLite's name of the level.
    #[must_use]
    pub fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
        }
    }
}

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection};

use crate::db::{Backend, Conn, DbError, Optional};
use serde::Serialize;

/// Errors of the metadata store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database file could not be opened or created.
    #[error("cannot open the metadata database `{path}`: {source} — check that the data home is writable (see `codexos doctor`)")]
    Open {
        /// Database file.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: DbError,
    },
    /// The PostgreSQL database could not be reached.
    #[error("cannot connect to the PostgreSQL database {url}: {source} — check the URL, that the server runs and accepts this user (see docs/server.md)")]
    Connect {
        /// The URL, without its password.
        url: String,
        /// Underlying error.
        #[source]
        source: DbError,
    },
    /// The database was written by a newer CodexOS.
    #[error("the metadata database `{path}` has schema version {found}, newer than this CodexOS understands ({supported}) — upgrade CodexOS or use another CODEXOS_HOME")]
    TooNew {
        /// Database file.
        path: PathBuf,
        /// Version found on disk.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// This process no longer holds the run's claim: another server took
    /// it over (this one was cut off or paused past its lease), so this
    /// one stops writing to it.
    #[error("run `{run}` is now run by {} — this server stopped writing to it", holder.as_deref().map_or_else(|| "no server (its claim was given up)".to_owned(), |holder| format!("another server ({holder})")))]
    ClaimLost {
        /// The run.
        run: String,
        /// Who holds it now.
        holder: Option<String>,
    },
    /// A store could not be copied (nothing was committed).
    #[error("cannot copy the store: {0}")]
    Copy(String),
    /// A statement failed.
    #[error("metadata database error while {action}: {source}")]
    Sql {
        /// What the store was doing.
        action: &'static str,
        /// Underlying error.
        #[source]
        source: DbError,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn sql<E: Into<DbError>>(action: &'static str) -> impl FnOnce(E) -> Error {
    move |source| Error::Sql {
        action,
        source: source.into(),
    }
}

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A schema of a PostgreSQL database.
    Postgres {
        /// `postgres://…` URL or `key=value` connection string.
        url: String,
        /// The schema (created when missing).
        schema: String,
    },
}

/// Whether `text` names a PostgreSQL database (`postgres://` or
/// `postgresql://`).
#[must_use]
pub fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// A database URL fit to show: the password replaced by `***`.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url
            .split_whitespace()
            .map(|pair| {
                if pair.starts_with("password=") {
                    "password=***"
                } else {
                    pair
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    };
    let (authority, tail) = rest
        .split_once('/')
        .map_or((rest, None), |(a, t)| (a, Some(t)));
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_owned(),
    };
    match tail {
        Some(tail) => format!("{scheme}://{authority}/{tail}"),
        None => format!("{scheme}://{authority}"),
    }
}

/// A folder ingested under a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    /// Unique project name.
    pub name: String,
    /// Absolute path of the ingested folder.
    pub root: PathBuf,
    /// Unix seconds of the last completed ingest.
    pub updated_at: i64,
}

/// One file as last indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Path relative to the project root, `/`-separated.
    pub path: String,
    /// Hex sha256 of the file content.
    pub hash: String,
    /// Size in bytes.
    pub size: u64,
    /// Chunks stored for it.
    pub chunks: u32,
}

/// A vault record: ciphertext only, never a plaintext value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// Secret name.
    pub name: String,
    /// AEAD nonce.
    pub nonce: Vec<u8>,
    /// AEAD ciphertext with its tag.
    pub ciphertext: Vec<u8>,
}

/// The metadata database of one data home.
///
/// Statements are short and synchronous; the connection sits behind a mutex that
/// is never held across an `.await` by callers (every method returns before).
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    backend: Backend,
    /// Who claims the runs this store begins (team servers sharing a
    /// database), if anyone.
    claims: Mutex<Option<claims::ClaimOwner>>,
    /// Who acts, for the audit entries this process writes.
    actor: Mutex<audit::AuditActor>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// A count or time as SQLite's integer.
pub(crate) fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis()),
    )
    .unwrap_or(i64::MAX)
}

/// Unix milliseconds now, unsigned.
#[must_use]
pub fn unix_ms() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0)
}

/// A store in a fresh temporary folder, for tests.
///
/// On SQLite, or — with `CODEXOS_TEST_STORE=postgres` (`make test` runs the
/// suite both ways) — in a fresh schema of the test PostgreSQL server.
#[cfg(test)]
pub(crate) fn scratch() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = if std::env::var("CODEXOS_TEST_STORE").as_deref() == Ok("postgres") {
        let server = codexos_test_support::postgres::server();
        Store::connect(&server.url, &codexos_test_support::postgres::fresh_schema())
            .expect("store on PostgreSQL")
    } else {
        Store::open(&dir.path().join("codexos.sqlite")).expect("store")
    };
    (dir, store)
}

#[cfg(test)]
impl Store {
    /// A second store on the same database.
    pub(crate) fn reopen(&self) -> Self {
        Self::open_location(&self.location(), Durability::default()).expect("reopened")
    }
}

impl Store {
    /// Opens (creating and migrating as needed) the database at `path`, at
    /// the default durability ([`Durability::Normal`]).
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, Durability::default())
    }

    /// Opens the database at `path` committing at `durability`.
    pub fn open_with(path: &Path, durability: Durability) -> Result<Self> {
        let open_error = |source: rusqlite::Error| Error::Open {
            path: path.to_path_buf(),
            source: source.into(),
        };
        let connection = Connection::open(path).map_err(open_error)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_error)?;
        // Switching a new file to WAL needs it alone: a process opening it at
        // the same moment gets SQLITE_BUSY without the busy handler being
        // asked, so that one step is retried here (up to the same 10 s).
        let mut attempts = 0;
        loop {
            match connection.pragma_update(None, "journal_mode", "WAL") {
                Err(rusqlite::Error::SqliteFailure(failure, _))
                    if failure.code == rusqlite::ErrorCode::DatabaseBusy && attempts < 200 =>
                {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                result => break result.map_err(open_error)?,
            }
        }
        connection
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(open_error)?;
        // Every statement goes through the cache (see `db`).
        connection.set_prepared_statement_cache_capacity(64);
        // WAL with NORMAL sync (the default): a commit survives the process
        // being killed (the OS holds it); only a power cut may lose the
        // newest commits. Run checkpoints rely on the first, and cost
        // microseconds for it; FULL adds an fsync per commit.
        connection
            .pragma_update(None, "synchronous", durability.pragma())
            .map_err(open_error)?;
        let store = Self {
            path: path.to_path_buf(),
            backend: Backend::Sqlite(Mutex::new(connection)),
            actor: Mutex::new(audit::AuditActor::default()),
            claims: Mutex::new(None),
        };
        migrations::run(&mut store.connection(), &store.path.to_string_lossy())?;
        Ok(store)
    }

    /// Connects to a PostgreSQL database (`postgres://user:password@host:port/db`
    /// or a `key=value` string) and keeps this store in `schema` (created
    /// and migrated as needed): one database holds a team server's stores,
    /// each in its own schema. Commits are durable as the server is set
    /// (`synchronous_commit`).
    pub fn connect(url: &str, schema: &str) -> Result<Self> {
        Self::connect_with(url, schema, Durability::Full)
    }

    /// Like [`Store::connect`], committing at `durability`: `Full` waits
    /// for each commit to reach the database server's disk
    /// (`synchronous_commit = on`, PostgreSQL's default); `Normal` does
    /// not (`off`: a commit survives CodexOS being killed, and the last
    /// ones may be lost if the database server crashes or loses power —
    /// never a corrupt database), as SQLite's `NORMAL`.
    pub fn connect_with(url: &str, schema: &str, durability: Durability) -> Result<Self> {
        let shown = redact_url(url);
        let connection =
            db::PgPool::connect(url, schema, durability).map_err(|source| Error::Connect {
                url: shown.clone(),
                source,
            })?;
        let store = Self {
            path: PathBuf::from(format!("{shown}#{schema}")),
            backend: Backend::Postgres(connection),
            actor: Mutex::new(audit::AuditActor::default()),
            claims: Mutex::new(None),
        };
        migrations::run(&mut store.connection(), &store.path.to_string_lossy())?;
        Ok(store)
    }

    /// Opens the store `location` names.
    pub fn open_location(location: &Location, durability: Durability) -> Result<Self> {
        match location {
            Location::Sqlite(path) => Self::open_with(path, durability),
            Location::Postgres { url, schema } => Self::connect_with(url, schema, durability),
        }
    }

    /// Where the store lives (with the password, if the URL has one).
    #[must_use]
    pub fn location(&self) -> Location {
        match &self.backend {
            Backend::Sqlite(_) => Location::Sqlite(self.path.clone()),
            Backend::Postgres(pool) => {
                let (url, schema) = pool.location();
                Location::Postgres { url, schema }
            }
        }
    }

    /// Which SQL the store's database speaks.
    #[must_use]
    pub fn dialect(&self) -> db::Dialect {
        match self.backend {
            Backend::Sqlite(_) => db::Dialect::Sqlite,
            Backend::Postgres(_) => db::Dialect::Postgres,
        }
    }

    /// Path of the database file (for PostgreSQL, its URL without the
    /// password and `#schema`).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connection(&self) -> Conn<'_> {
        self.backend.lock()
    }

    /// A random identifier of this data home, created on first use. Keychain
    /// entries are scoped by it so two homes never share or clobber a key.
    pub fn home_id(&self) -> Result<String> {
        if let Some(id) = self.meta("home_id")? {
            return Ok(id);
        }
        self.meta_or_set("home_id", &uuid::Uuid::new_v4().to_string())
    }

    /// A value of the home's metadata (`None` when never set).
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.connection()
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql("reading metadata"))
    }

    /// The value of `key`, set to `value` first if it has none (one
    /// statement: of two processes setting it at once, the first wins and
    /// both read its value).
    pub fn meta_or_set(&self, key: &str, value: &str) -> Result<String> {
        let connection = self.connection();
        connection
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![key, value],
            )
            .map_err(sql("writing metadata"))?;
        connection
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .map_err(sql("reading metadata"))
    }

    /// Sets a value of the home's metadata.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.connection()
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(sql("writing metadata"))?;
        Ok(())
    }

    /// Creates or updates a project, returning it.
    pub fn upsert_project(&self, name: &str, root: &Path) -> Result<Project> {
        let updated_at = now();
        self.connection()
            .execute(
                "INSERT INTO projects (name, root, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT(name) DO UPDATE SET root = excluded.root, updated_at = excluded.updated_at",
                params![name, root.to_string_lossy(), updated_at],
            )
            .map_err(sql("saving a project"))?;
        Ok(Project {
            name: name.to_owned(),
            root: root.to_path_buf(),
            updated_at,
        })
    }

    /// The project of that name, if any.
    pub fn project(&self, name: &str) -> Result<Option<Project>> {
        self.connection()
            .query_row(
                "SELECT name, root, updated_at FROM projects WHERE name = ?1",
                params![name],
                project_from_row,
            )
            .optional()
            .map_err(sql("reading a project"))
    }

    /// All projects, by name.
    pub fn projects(&self) -> Result<Vec<Project>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT name, root, updated_at FROM projects ORDER BY name")
            .map_err(sql("listing projects"))?;
        let rows = statement
            .query_map(&[], project_from_row)
            .map_err(sql("listing projects"))?;
        rows.collect::<crate::db::DbResult<_>>()
            .map_err(sql("listing projects"))
    }

    /// Content hash of every file indexed for a project, by relative path.
    pub fn file_hashes(&self, project: &str) -> Result<HashMap<String, String>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT path, hash FROM files WHERE project = ?1")
            .map_err(sql("reading the file ledger"))?;
        let rows = statement
            .query_map(params![project], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(sql("reading the file ledger"))?;
        rows.collect::<crate::db::DbResult<_>>()
            .map_err(sql("reading the file ledger"))
    }

    /// Every indexed file of a project, by path.
    pub fn project_files(&self, project: &str) -> Result<Vec<FileRecord>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT path, hash, size, chunks FROM files WHERE project = ?1 ORDER BY path")
            .map_err(sql("listing a project's files"))?;
        let rows = statement
            .query_map(params![project], |row| {
                Ok(FileRecord {
                    path: row.get(0)?,
                    hash: row.get(1)?,
                    size: row.get::<i64>(2)? as u64,
                    chunks: row.get(3)?,
                })
            })
            .map_err(sql("listing a project's files"))?;
        rows.collect::<crate::db::DbResult<_>>()
            .map_err(sql("listing a project's files"))
    }

    /// Records files as indexed (one transaction).
    pub fn record_files(&self, project: &str, files: &[FileRecord]) -> Result<()> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(sql("updating the file ledger"))?;
        {
            let mut statement = transaction
                .prepare(
                    "INSERT INTO files (project, path, hash, size, chunks, indexed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(project, path) DO UPDATE SET hash = excluded.hash,
                       size = excluded.size, chunks = excluded.chunks, indexed_at = excluded.indexed_at",
                )
                .map_err(sql("updating the file ledger"))?;
            let indexed_at = now();
            for file in files {
                statement
                    .execute(params![
                        project,
                        file.path,
                        file.hash,
                        file.size as i64,
                        file.chunks,
                        indexed_at
                    ])
                    .map_err(sql("updating the file ledger"))?;
            }
        }
        transaction
            .commit()
            .map_err(sql("updating the file ledger"))
    }

    /// Forgets files of a project (one transaction).
    pub fn remove_files(&self, project: &str, paths: &[String]) -> Result<()> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(sql("updating the file ledger"))?;
        for path in paths {
            transaction
                .execute(
                    "DELETE FROM files WHERE project = ?1 AND path = ?2",
                    params![project, path],
                )
                .map_err(sql("updating the file ledger"))?;
        }
        transaction
            .commit()
            .map_err(sql("updating the file ledger"))
    }

    /// Forgets a project's file ledger, so a later ingest indexes every file
    /// again (the first step of removing a project).
    pub fn forget_project_files(&self, project: &str) -> Result<()> {
        self.connection()
            .execute("DELETE FROM files WHERE project = ?1", params![project])
            .map_err(sql("forgetting the project's files"))?;
        Ok(())
    }

    /// Forgets a project (its ledger and its row).
    pub fn remove_project(&self, project: &str) -> Result<()> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(sql("removing the project"))?;
        transaction
            .execute("DELETE FROM files WHERE project = ?1", params![project])
            .map_err(sql("removing the project"))?;
        transaction
            .execute("DELETE FROM projects WHERE name = ?1", params![project])
            .map_err(sql("removing the project"))?;
        transaction.commit().map_err(sql("removing the project"))
    }

    /// Forgets every indexed file of every project, so the next ingest of
    /// each folder indexes it whole (after the chunk table was rebuilt).
    pub fn clear_file_ledger(&self) -> Result<()> {
        self.connection()
            .execute("DELETE FROM files", &[])
            .map_err(sql("clearing the file ledger"))?;
        Ok(())
    }

    /// Number of files and chunks recorded for a project.
    pub fn project_totals(&self, project: &str) -> Result<(u64, u64)> {
        self.connection()
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(chunks), 0) FROM files WHERE project = ?1",
                params![project],
                |row| Ok((row.get::<i64>(0)? as u64, row.get::<i64>(1)? as u64)),
            )
            .map_err(sql("counting a project's files"))
    }

    /// Stores (or replaces) a sealed secret.
    pub fn put_secret(&self, secret: &SealedSecret) -> Result<()> {
        self.put_secrets(std::slice::from_ref(secret))
    }

    /// The sealed secret of that name, if any.
    pub fn secret(&self, name: &str) -> Result<Option<SealedSecret>> {
        self.connection()
            .query_row(
                "SELECT name, nonce, ciphertext FROM secrets WHERE name = ?1",
                params![name],
                |row| {
                    Ok(SealedSecret {
                        name: row.get(0)?,
                        nonce: row.get(1)?,
                        ciphertext: row.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(sql("reading a secret"))
    }

    /// Names of all secrets, sorted.
    pub fn secret_names(&self) -> Result<Vec<String>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT name FROM secrets ORDER BY name")
            .map_err(sql("listing secrets"))?;
        let rows = statement
            .query_map(&[], |row| row.get(0))
            .map_err(sql("listing secrets"))?;
        rows.collect::<crate::db::DbResult<_>>()
            .map_err(sql("listing secrets"))
    }

    /// Every sealed secret, sorted by name.
    pub fn secrets(&self) -> Result<Vec<SealedSecret>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT name, nonce, ciphertext FROM secrets ORDER BY name")
            .map_err(sql("reading secrets"))?;
        let rows = statement
            .query_map(&[], |row| {
                Ok(SealedSecret {
                    name: row.get(0)?,
                    nonce: row.get(1)?,
                    ciphertext: row.get(2)?,
                })
            })
            .map_err(sql("reading secrets"))?;
        rows.collect::<crate::db::DbResult<_>>()
            .map_err(sql("reading secrets"))
    }

    /// Stores (or replaces) several sealed secrets in one transaction.
    pub fn put_secrets(&self, secrets: &[SealedSecret]) -> Result<()> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(sql("starting to save secrets"))?;
        let stamp = now();
        for secret in secrets {
            transaction
                .execute(
                    "INSERT INTO secrets (name, nonce, ciphertext, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
                     ON CONFLICT(name) DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext,
                       updated_at = excluded.updated_at",
                    params![secret.name, secret.nonce, secret.ciphertext, stamp],
                )
                .map_err(sql("saving a secret"))?;
        }
        transaction.commit().map_err(sql("committing secrets"))
    }

    /// Replaces sealed secrets and sets metadata in one transaction: after a
    /// crash either every record and value is the new one or none is (used
    /// when the vault's master key is rotated).
    pub fn reseal_secrets(&self, secrets: &[SealedSecret], meta: &[(&str, &str)]) -> Result<()> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(sql("starting to reseal secrets"))?;
        let stamp = now();
        for secret in secrets {
            transaction
                .execute(
                    "UPDATE secrets SET nonce = ?2, ciphertext = ?3, updated_at = ?4 WHERE name = ?1",
                    params![secret.name, secret.nonce, secret.ciphertext, stamp],
                )
                .map_err(sql("resealing a secret"))?;
        }
        for (key, value) in meta {
            transaction
                .execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    params![key, value],
                )
                .map_err(sql("writing metadata"))?;
        }
        transaction
            .commit()
            .map_err(sql("committing resealed secrets"))
    }

    /// Deletes a secret; `false` when there was none.
    pub fn delete_secret(&self, name: &str) -> Result<bool> {
        let deleted = self
            .connection()
            .execute("DELETE FROM secrets WHERE name = ?1", params![name])
            .map_err(sql("deleting a secret"))?;
        Ok(deleted > 0)
    }

    /// The sha256 recorded for a file of that size and modification time, if it
    /// was verified before (so multi-hundred-MB models are hashed once, not on
    /// every start).
    pub fn verified_checksum(&self, path: &Path, size: u64, mtime: i64) -> Result<Option<String>> {
        self.connection()
            .query_row(
                "SELECT sha256 FROM verified_files WHERE path = ?1 AND size = ?2 AND mtime = ?3",
                params![path.to_string_lossy(), size as i64, mtime],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql("reading the checksum cache"))
    }

    /// Remembers the sha256 of a file at that size and modification time.
    pub fn record_checksum(&self, path: &Path, size: u64, mtime: i64, sha256: &str) -> Result<()> {
        self.connection()
            .execute(
                "INSERT INTO verified_files (path, size, mtime, sha256) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, sha256 = excluded.sha256",
                params![path.to_string_lossy(), size as i64, mtime, sha256],
            )
            .map_err(sql("writing the checksum cache"))?;
        Ok(())
    }
}

/// One provider tried for one LLM request, as stored for traces and cost.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRecord {
    /// Identifier shared by the attempts of one request.
    pub request: String,
    /// Provider name.
    pub provider: String,
    /// Model.
    pub model: String,
    /// Milliseconds the attempt took.
    pub latency_ms: u32,
    /// Milliseconds to its first token.
    pub first_token_ms: Option<u32>,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Generated tokens.
    pub completion_tokens: u32,
    /// `ok`, `skipped` or `failed`.
    pub outcome: String,
    /// Why it was skipped or failed.
    pub detail: String,
}

impl Store {
    /// Appends the attempts of one request, stamped now.
    pub fn record_attempts(&self, attempts: &[AttemptRecord]) -> Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |elapsed| elapsed.as_secs_f64());
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(sql("recording LLM attempts"))?;
        for attempt in attempts {
            transaction
                .execute(
                    "INSERT INTO llm_attempts (request, at, provider, model, latency_ms, first_token_ms,
                     prompt_tokens, completion_tokens, outcome, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        attempt.request,
                        now,
                        attempt.provider,
                        attempt.model,
                        attempt.latency_ms,
                        attempt.first_token_ms,
                        attempt.prompt_tokens,
                        attempt.completion_tokens,
                        attempt.outcome,
                        attempt.detail
                    ],
                )
                .map_err(sql("recording LLM attempts"))?;
        }
        transaction.commit().map_err(sql("recording LLM attempts"))
    }

    /// The newest `limit` attempts, newest first.
    pub fn recent_attempts(&self, limit: u32) -> Result<Vec<AttemptRecord>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT request, provider, model, latency_ms, first_token_ms, prompt_tokens,
                 completion_tokens, outcome, detail FROM llm_attempts ORDER BY id DESC LIMIT ?1",
            )
            .map_err(sql("reading LLM attempts"))?;
        let rows = statement
            .query_map(params![limit], |row| {
                Ok(AttemptRecord {
                    request: row.get(0)?,
                    provider: row.get(1)?,
                    model: row.get(2)?,
                    latency_ms: row.get(3)?,
                    first_token_ms: row.get(4)?,
                    prompt_tokens: row.get(5)?,
                    completion_tokens: row.get(6)?,
                    outcome: row.get(7)?,
                    detail: row.get(8)?,
                })
            })
            .map_err(sql("reading LLM attempts"))?;
        rows.collect::<crate::db::DbResult<Vec<_>>>()
            .map_err(sql("reading LLM attempts"))
    }
}

fn project_from_row(row: &crate::db::Row<'_, '_>) -> crate::db::DbResult<Project> {
    Ok(Project {
        name: row.get(0)?,
        root: PathBuf::from(row.get::<String>(1)?),
        updated_at: row.get(2)?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_durability_asked_for_is_the_one_sqlite_runs() {
        let dir = tempfile::tempdir().expect("dir");
        for (durability, expected) in [(super::Durability::Normal, 1), (super::Durability::Full, 2)]
        {
            let store =
                super::Store::open_with(&dir.path().join("d.sqlite"), durability).expect("open");
            let level: i64 = store
                .connection()
                .query_row("PRAGMA synchronous", &[], |row| row.get(0))
                .expect("pragma");
            assert_eq!(level, expected, "{durability:?}");
        }
    }

    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("codexos.sqlite")).expect("open");
        (dir, store)
    }

    #[test]
    fn home_id_is_stable_and_survives_reopen() {
        let (dir, store) = store();
        let id = store.home_id().expect("id");
        assert_eq!(store.home_id().expect("id"), id);
        drop(store);
        let reopened = Store::open(&dir.path().join("codexos.sqlite")).expect("reopen");
        assert_eq!(reopened.home_id().expect("id"), id);
    }

    #[test]
    fn file_ledger_round_trips() {
        let (_dir, store) = store();
        store.upsert_project("p", Path::new("/x")).expect("project");
        let record = FileRecord {
            path: "a.md".into(),
            hash: "h1".into(),
            size: 3,
            chunks: 2,
        };
        store
            .record_files("p", std::slice::from_ref(&record))
            .expect("record");
        store
            .record_files(
                "p",
                &[FileRecord {
                    hash: "h2".into(),
                    ..record
                }],
            )
            .expect("update");
        assert_eq!(store.file_hashes("p").expect("hashes")["a.md"], "h2");
        assert_eq!(store.project_totals("p").expect("totals"), (1, 2));
        store.remove_files("p", &["a.md".into()]).expect("remove");
        assert!(store.file_hashes("p").expect("hashes").is_empty());
    }

    #[test]
    fn secrets_are_stored_as_given() {
        let (_dir, store) = store();
        let sealed = SealedSecret {
            name: "k".into(),
            nonce: vec![1; 24],
            ciphertext: vec![2; 40],
        };
        store.put_secret(&sealed).expect("put");
        assert_eq!(store.secret("k").expect("get"), Some(sealed));
        assert_eq!(store.secret_names().expect("names"), vec!["k".to_owned()]);
        assert!(store.delete_secret("k").expect("delete"));
        assert!(!store.delete_secret("k").expect("delete again"));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("codexos.sqlite");
        {
            let connection = Connection::open(&path).expect("open");
            connection
                .pragma_update(None, "user_version", 999)
                .expect("version");
        }
        let error = Store::open(&path).expect_err("too new");
        assert!(matches!(error, Error::TooNew { found: 999, .. }));
    }
}
