//! The two databases a store can live in — one SQLite file, or a schema of a
//! PostgreSQL database — behind one small, synchronous interface.
//!
//! Statements are written once, in the SQL both understand (`?N`
//! placeholders, `ON CONFLICT … DO …`, `RETURNING`); the few that cannot be
//! (JSON paths, full-text search) ask the connection's dialect ([`crate::Store::dialect`]). Values cross as
//! SQLite's five storage classes: parameters are anything `rusqlite` can
//! bind, and PostgreSQL gets each in the type its statement expects (an
//! integer for a `BIGINT`, text for `TEXT`, bytes for `BYTEA`); results come
//! back through [`FromDb`].
//!
//! PostgreSQL is reached with `tokio-postgres`, its connection driven by a
//! thread of its own, so a store call blocks its caller exactly as a SQLite
//! call does and works the same from async and plain threads. Statements are
//! prepared once per connection and cached. A connection that broke (the
//! server restarted) is replaced at the next call.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::ToSql;
use tokio_postgres::types::{FromSql, IsNull, Type};

/// An error of either database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// SQLite's.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL's (the server's message, or the connection's failure).
    #[error("{}", pg_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// A query that must return a row returned none.
    #[error("the query returned no rows")]
    NoRows,
    /// A value that is not of the type asked for.
    #[error("column {column}: {detail}")]
    Type {
        /// Zero-based column.
        column: usize,
        /// What was found.
        detail: String,
    },
}

/// PostgreSQL's own message (with its detail) rather than the driver's
/// generic "db error".
fn pg_message(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        };
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl DbError {
    /// Whether it is a unique or primary key violation.
    #[must_use]
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => {
                failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            }
            Self::Postgres(error) => {
                error.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }
}

/// Result of a statement.
pub type DbResult<T> = std::result::Result<T, DbError>;

/// `Ok(None)` for a query that found no row (as `rusqlite`'s extension).
pub(crate) trait Optional<T> {
    fn optional(self) -> DbResult<Option<T>>;
}

impl<T> Optional<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(DbError::NoRows | DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows)) => {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }
}

/// Which SQL a connection speaks, for the statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// How a transaction starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Begin {
    /// Locks as statements need them.
    Deferred,
    /// Writers queue for the whole transaction (SQLite's `BEGIN IMMEDIATE`;
    /// on PostgreSQL an advisory lock of the schema held to the commit):
    /// for a read followed by a write that depends on it.
    Immediate,
}

/// A PostgreSQL connection in one schema.
pub(crate) struct PgConn {
    client: tokio_postgres::Client,
    url: String,
    schema: String,
    /// `synchronous_commit` of the session: `off` for
    /// [`crate::Durability::Normal`], `on` for `Full`.
    synchronous_commit: &'static str,
    statements: RefCell<HashMap<String, tokio_postgres::Statement>>,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PgConn")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// Waits for a statement's round trip. On a worker of a multi-threaded
/// tokio runtime (the server's) the worker is handed back first
/// (`block_in_place`): a request waiting for PostgreSQL must not hold up
/// the others, as a SQLite call (CPU work, microseconds) does not.
fn wait<F: std::future::Future>(future: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| futures_executor::block_on(future))
        }
        _ => futures_executor::block_on(future),
    }
}

/// `"name"`, quoted as an SQL identifier.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl PgConn {
    /// Connects to `url` (a `postgres://` URL or `key=value` string) and
    /// works in `schema`, created if missing.
    pub(crate) fn connect(
        url: &str,
        schema: &str,
        durability: crate::Durability,
    ) -> DbResult<Self> {
        let mut config: tokio_postgres::Config = url.parse()?;
        if config.get_connect_timeout().is_none() {
            // A database that does not answer is an error, not a hang.
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("codexos-postgres".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = sender.send(Err(error.to_string()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match config.connect(tokio_postgres::NoTls).await {
                        Ok((client, connection)) => {
                            let _ = sender.send(Ok(client));
                            // Ends when the client is dropped or the server
                            // goes away; the client then reports it.
                            let _ = connection.await;
                        }
                        Err(error) => {
                            let _ = sender.send(Err(pg_message(&error)));
                        }
                    }
                });
            })
            .map_err(|error| DbError::Type {
                column: 0,
                detail: format!("cannot start the PostgreSQL connection's thread: {error}"),
            })?;
        let client = receiver
            .recv()
            .map_err(|_| DbError::Type {
                column: 0,
                detail: "the PostgreSQL connection's thread ended".into(),
            })?
            .map_err(|detail| DbError::Type { column: 0, detail })?;
        let synchronous_commit = match durability {
            crate::Durability::Normal => "off",
            crate::Durability::Full => "on",
        };
        let connection = Self {
            client,
            url: url.to_owned(),
            schema: schema.to_owned(),
            synchronous_commit,
            statements: RefCell::new(HashMap::new()),
        };
        let schema = quote_identifier(schema);
        let setup = format!(
            "SET client_min_messages = warning;
             SET synchronous_commit = {synchronous_commit};
             CREATE SCHEMA IF NOT EXISTS {schema};
             SET search_path TO {schema}"
        );
        // Two servers creating one schema at the same moment: one of them
        // sees the other's (a unique violation) and simply tries again.
        if let Err(error) = connection.batch(&setup) {
            if !error.is_unique_violation() {
                return Err(error);
            }
            connection.batch(&setup)?;
        }
        Ok(connection)
    }

    fn batch(&self, sql: &str) -> DbResult<()> {
        wait(self.client.batch_execute(sql))?;
        Ok(())
    }

    fn statement(&self, sql: &str) -> DbResult<tokio_postgres::Statement> {
        if let Some(statement) = self.statements.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let statement = wait(self.client.prepare(&placeholders(sql)))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn query(&self, sql: &str, params: &[&dyn ToSql]) -> DbResult<Vec<tokio_postgres::Row>> {
        let statement = self.statement(sql)?;
        let values = pg_params(params)?;
        Ok(wait(self.client.query(&statement, &pg_refs(&values)))?)
    }

    fn execute(&self, sql: &str, params: &[&dyn ToSql]) -> DbResult<usize> {
        let statement = self.statement(sql)?;
        let values = pg_params(params)?;
        let count = wait(self.client.execute(&statement, &pg_refs(&values)))?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    /// The key of this schema's advisory write lock.
    fn lock_key(&self) -> i64 {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("codexos-write:{}", self.schema));
        i64::from_le_bytes(digest[..8].try_into().unwrap_or([0; 8]))
    }
}

/// A statement as PostgreSQL takes it: `?N` placeholders become `$N`, and
/// `LIKE` becomes `ILIKE` (SQLite's `LIKE` ignores ASCII case), outside
/// quoted text.
pub(crate) fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quoted = false;
    let mut chars = sql.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted && chars.peek().is_some_and(|(_, next)| next.is_ascii_digit()) => {
                out.push('$');
            }
            'L' if !quoted
                && (sql[at..].starts_with("LIKE ") || sql[at..].starts_with("LIKE\n"))
                && sql[..at].ends_with(|before: char| before.is_whitespace()) =>
            {
                out.push_str("IL");
            }
            _ => out.push(c),
        }
    }
    out
}

/// A parameter as PostgreSQL receives it: SQLite's value, encoded in the
/// type the statement expects.
#[derive(Debug)]
enum PgParam {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

fn pg_params(params: &[&dyn ToSql]) -> DbResult<Vec<PgParam>> {
    params
        .iter()
        .map(|param| {
            let output = param.to_sql()?;
            let value = match &output {
                ToSqlOutput::Borrowed(value) => *value,
                ToSqlOutput::Owned(value) => ValueRef::from(value),
                _ => ValueRef::Null,
            };
            Ok(match value {
                ValueRef::Null => PgParam::Null,
                ValueRef::Integer(number) => PgParam::Integer(number),
                ValueRef::Real(number) => PgParam::Real(number),
                ValueRef::Text(text) => PgParam::Text(String::from_utf8_lossy(text).into_owned()),
                ValueRef::Blob(bytes) => PgParam::Blob(bytes.to_vec()),
            })
        })
        .collect()
}

/// The parameters as the driver takes them.
fn pg_refs(values: &[PgParam]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    values
        .iter()
        .map(|value| value as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect()
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl tokio_postgres::types::ToSql for PgParam {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<IsNull, BoxError> {
        use tokio_postgres::types::ToSql as PgToSql;
        Ok(match self {
            Self::Null => IsNull::Yes,
            Self::Integer(number) => match *ty {
                Type::INT8 => PgToSql::to_sql(&number, ty, out)?,
                Type::INT4 => PgToSql::to_sql(&i32::try_from(*number)?, ty, out)?,
                Type::INT2 => PgToSql::to_sql(&i16::try_from(*number)?, ty, out)?,
                Type::BOOL => PgToSql::to_sql(&(*number != 0), ty, out)?,
                #[allow(clippy::cast_precision_loss)]
                Type::FLOAT8 => PgToSql::to_sql(&(*number as f64), ty, out)?,
                Type::TEXT | Type::VARCHAR => PgToSql::to_sql(&number.to_string(), ty, out)?,
                _ => return Err(format!("an integer cannot be a {ty}").into()),
            },
            Self::Real(number) => match *ty {
                Type::FLOAT8 => PgToSql::to_sql(&number, ty, out)?,
                #[allow(clippy::cast_possible_truncation)]
                Type::FLOAT4 => PgToSql::to_sql(&(*number as f32), ty, out)?,
                _ => return Err(format!("a real number cannot be a {ty}").into()),
            },
            Self::Text(text) => match *ty {
                Type::JSONB => {
                    out.extend_from_slice(&[1]);
                    out.extend_from_slice(text.as_bytes());
                    IsNull::No
                }
                Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::JSON
                | Type::UNKNOWN => {
                    out.extend_from_slice(text.as_bytes());
                    IsNull::No
                }
                _ => return Err(format!("text cannot be a {ty}").into()),
            },
            Self::Blob(bytes) => match *ty {
                Type::BYTEA => {
                    out.extend_from_slice(bytes);
                    IsNull::No
                }
                _ => return Err(format!("bytes cannot be a {ty}").into()),
            },
        })
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// A column as PostgreSQL sent it, before it becomes a Rust value.
struct Raw<'a> {
    ty: Type,
    bytes: Option<&'a [u8]>,
}

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Self {
            ty: ty.clone(),
            bytes: Some(raw),
        })
    }

    fn from_sql_null(ty: &Type) -> Result<Self, BoxError> {
        Ok(Self {
            ty: ty.clone(),
            bytes: None,
        })
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A PostgreSQL `NUMERIC` (what `SUM` of integers gives) as a float.
fn numeric(raw: &[u8]) -> Option<f64> {
    let word =
        |at: usize| -> Option<u16> { Some(u16::from_be_bytes([*raw.get(at)?, *raw.get(at + 1)?])) };
    let digits = word(0)?;
    let weight = i32::from(word(2)? as i16);
    let sign = word(4)?;
    if sign == 0xC000 {
        return Some(f64::NAN);
    }
    let mut value = 0.0_f64;
    for index in 0..usize::from(digits) {
        let digit = f64::from(word(8 + 2 * index)?);
        let power = weight - i32::try_from(index).ok()?;
        value += digit * 10_000_f64.powi(power);
    }
    Some(if sign == 0x4000 { -value } else { value })
}

impl Raw<'_> {
    fn text(&self) -> Result<String, String> {
        if !matches!(
            self.ty,
            Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::JSON
                | Type::JSONB
                | Type::UNKNOWN
        ) {
            return Err(format!("a {} is not text", self.ty));
        }
        let bytes = self.bytes.unwrap_or_default();
        let bytes = if self.ty == Type::JSONB {
            bytes.get(1..).unwrap_or_default()
        } else {
            bytes
        };
        String::from_utf8(bytes.to_vec()).map_err(|error| error.to_string())
    }

    fn integer(&self) -> Result<i64, String> {
        let bytes = self.bytes.unwrap_or_default();
        let fixed = |n: usize| -> Result<&[u8], String> {
            (bytes.len() == n)
                .then_some(bytes)
                .ok_or_else(|| format!("a {} of {} bytes", self.ty, bytes.len()))
        };
        Ok(match self.ty {
            Type::INT8 => i64::from_be_bytes(fixed(8)?.try_into().map_err(|_| "int8")?),
            Type::INT4 => i64::from(i32::from_be_bytes(
                fixed(4)?.try_into().map_err(|_| "int4")?,
            )),
            Type::INT2 => i64::from(i16::from_be_bytes(
                fixed(2)?.try_into().map_err(|_| "int2")?,
            )),
            Type::OID => i64::from(u32::from_be_bytes(fixed(4)?.try_into().map_err(|_| "oid")?)),
            Type::BOOL => i64::from(fixed(1)?[0] != 0),
            #[allow(clippy::cast_possible_truncation)]
            Type::NUMERIC => numeric(bytes).ok_or("a malformed numeric")?.round() as i64,
            #[allow(clippy::cast_possible_truncation)]
            Type::FLOAT8 | Type::FLOAT4 => self.real()?.round() as i64,
            _ => return Err(format!("a {} is not an integer", self.ty)),
        })
    }

    fn real(&self) -> Result<f64, String> {
        let bytes = self.bytes.unwrap_or_default();
        Ok(match self.ty {
            Type::FLOAT8 => f64::from_be_bytes(bytes.try_into().map_err(|_| "float8")?),
            Type::FLOAT4 => f64::from(f32::from_be_bytes(bytes.try_into().map_err(|_| "float4")?)),
            Type::NUMERIC => numeric(bytes).ok_or("a malformed numeric")?,
            #[allow(clippy::cast_precision_loss)]
            _ => self.integer()? as f64,
        })
    }
}

/// A Rust value a column can be read as, from either database.
pub trait FromDb: rusqlite::types::FromSql + Sized {
    /// The value of a PostgreSQL column (`None`: SQL `NULL`).
    #[doc(hidden)]
    fn from_pg(raw: &RawValue<'_>) -> Result<Self, String>;
}

/// A PostgreSQL column for [`FromDb`].
pub struct RawValue<'a>(Raw<'a>);

impl<T: FromDb> FromDb for Option<T> {
    fn from_pg(raw: &RawValue<'_>) -> Result<Self, String> {
        if raw.0.bytes.is_none() {
            return Ok(None);
        }
        T::from_pg(raw).map(Some)
    }
}

fn required<'r>(raw: &'r RawValue<'_>) -> Result<&'r Raw<'r>, String> {
    if raw.0.bytes.is_none() {
        Err("NULL where a value is required".into())
    } else {
        Ok(&raw.0)
    }
}

impl FromDb for String {
    fn from_pg(raw: &RawValue<'_>) -> Result<Self, String> {
        required(raw)?.text()
    }
}

impl FromDb for Vec<u8> {
    fn from_pg(raw: &RawValue<'_>) -> Result<Self, String> {
        Ok(required(raw)?.bytes.unwrap_or_default().to_vec())
    }
}

impl FromDb for i64 {
    fn from_pg(raw: &RawValue<'_>) -> Result<Self, String> {
        required(raw)?.integer()
    }
}

impl FromDb for f64 {
    fn from_pg(raw: &RawValue<'_>) -> Result<Self, String> {
        required(raw)?.real()
    }
}

impl FromDb for bool {
    fn from_pg(raw: &RawValue<'_>) -> Result<Self, String> {
        Ok(required(raw)?.integer()? != 0)
    }
}

impl FromDb for rusqlite::types::Value {
    fn from_pg(raw: &RawValue<'_>) -> Result<Self, String> {
        let raw = &raw.0;
        if raw.bytes.is_none() {
            return Ok(Self::Null);
        }
        Ok(match raw.ty {
            Type::INT2 | Type::INT4 | Type::INT8 | Type::BOOL | Type::OID => {
                Self::Integer(raw.integer()?)
            }
            Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => Self::Real(raw.real()?),
            Type::BYTEA => Self::Blob(raw.bytes.unwrap_or_default().to_vec()),
            _ => Self::Text(raw.text()?),
        })
    }
}

macro_rules! narrow_integer {
    ($($t:ty),*) => {$(
        impl FromDb for $t {
            fn from_pg(raw: &RawValue<'_>) -> Result<Self, String> {
                let wide = required(raw)?.integer()?;
                <$t>::try_from(wide).map_err(|_| format!("{wide} is out of range"))
            }
        }
    )*};
}

narrow_integer!(i32, u32, u16, u8);

/// One row of a result.
pub(crate) enum Row<'r, 's> {
    Sqlite(&'r rusqlite::Row<'s>),
    Postgres(&'r tokio_postgres::Row),
}

impl Row<'_, '_> {
    /// The value of column `index`.
    pub(crate) fn get<T: FromDb>(&self, index: usize) -> DbResult<T> {
        match self {
            Self::Sqlite(row) => Ok(row.get::<_, T>(index)?),
            Self::Postgres(row) => {
                let raw: Raw<'_> = row.try_get(index)?;
                T::from_pg(&RawValue(raw)).map_err(|detail| DbError::Type {
                    column: index,
                    detail,
                })
            }
        }
    }
}

/// Connections a PostgreSQL store keeps: calls from several threads go
/// out at once (each statement is a round trip), where one SQLite file
/// serves them one at a time in-process.
pub(crate) const POOL: usize = 4;

/// A store's PostgreSQL connections.
#[derive(Debug)]
pub(crate) struct PgPool {
    connections: Vec<Mutex<PgConn>>,
    next: std::sync::atomic::AtomicUsize,
}

impl PgPool {
    /// [`POOL`] connections to `url`, working in `schema`.
    pub(crate) fn connect(
        url: &str,
        schema: &str,
        durability: crate::Durability,
    ) -> DbResult<Self> {
        let connections = (0..POOL)
            .map(|_| PgConn::connect(url, schema, durability).map(Mutex::new))
            .collect::<DbResult<Vec<_>>>()?;
        Ok(Self {
            connections,
            next: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The URL and schema of the connections.
    pub(crate) fn location(&self) -> (String, String) {
        let first = self.connections[0]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (first.url.clone(), first.schema.clone())
    }

    /// A free connection (or, when all are busy, the next in turn once
    /// free), replaced first if it broke.
    fn lock(&self) -> MutexGuard<'_, PgConn> {
        let count = self.connections.len();
        let start = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % count;
        let free = (0..count).find_map(|offset| {
            match self.connections[(start + offset) % count].try_lock() {
                Ok(guard) => Some(guard),
                Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            }
        });
        let mut guard = free.unwrap_or_else(|| {
            self.connections[start]
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        });
        if guard.client.is_closed() {
            let durability = if guard.synchronous_commit == "on" {
                crate::Durability::Full
            } else {
                crate::Durability::Normal
            };
            if let Ok(fresh) = PgConn::connect(&guard.url, &guard.schema, durability) {
                *guard = fresh;
            }
        }
        guard
    }
}

/// Where a store keeps its connection.
#[derive(Debug)]
pub(crate) enum Backend {
    Sqlite(Mutex<rusqlite::Connection>),
    Postgres(PgPool),
}

impl Backend {
    /// The connection, held until the guard drops. A broken PostgreSQL
    /// connection is replaced; when that fails too, the broken one is
    /// returned and its statements say why.
    pub(crate) fn lock(&self) -> Conn<'_> {
        // A panic while holding the lock leaves the database consistent
        // (open transactions roll back), so a poisoned lock is reused.
        match self {
            Self::Sqlite(connection) => Conn::Sqlite(
                connection
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ),
            Self::Postgres(pool) => Conn::Postgres(pool.lock()),
        }
    }
}

/// A locked connection of either database.
pub(crate) enum Conn<'a> {
    Sqlite(MutexGuard<'a, rusqlite::Connection>),
    Postgres(MutexGuard<'a, PgConn>),
}

impl Conn<'_> {
    /// Which SQL it speaks.
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) => Dialect::Sqlite,
            Self::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs one statement, returning the rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: &[&dyn ToSql]) -> DbResult<usize> {
        match self {
            Self::Sqlite(connection) => Ok(connection.prepare_cached(sql)?.execute(params)?),
            Self::Postgres(connection) => connection.execute(sql, params),
        }
    }

    /// Runs statements separated by `;` (no parameters).
    pub(crate) fn execute_batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Self::Sqlite(connection) => Ok(connection.execute_batch(sql)?),
            Self::Postgres(connection) => connection.batch(sql),
        }
    }

    /// The first row of a query, mapped ([`DbError::NoRows`] when none).
    pub(crate) fn query_row<T>(
        &self,
        sql: &str,
        params: &[&dyn ToSql],
        map: impl FnOnce(&Row<'_, '_>) -> DbResult<T>,
    ) -> DbResult<T> {
        match self {
            Self::Sqlite(connection) => {
                let mut statement = connection.prepare_cached(sql)?;
                let mut rows = statement.query(params)?;
                match rows.next()? {
                    Some(row) => map(&Row::Sqlite(row)),
                    None => Err(DbError::NoRows),
                }
            }
            Self::Postgres(connection) => match connection.query(sql, params)?.first() {
                Some(row) => map(&Row::Postgres(row)),
                None => Err(DbError::NoRows),
            },
        }
    }

    /// Every row of a query, mapped.
    pub(crate) fn query_map<T>(
        &self,
        sql: &str,
        params: &[&dyn ToSql],
        mut map: impl FnMut(&Row<'_, '_>) -> DbResult<T>,
    ) -> DbResult<std::vec::IntoIter<DbResult<T>>> {
        let mut out = Vec::new();
        match self {
            Self::Sqlite(connection) => {
                let mut statement = connection.prepare_cached(sql)?;
                let mut rows = statement.query(params)?;
                while let Some(row) = rows.next()? {
                    out.push(map(&Row::Sqlite(row)));
                }
            }
            Self::Postgres(connection) => {
                for row in connection.query(sql, params)? {
                    out.push(map(&Row::Postgres(&row)));
                }
            }
        }
        Ok(out.into_iter())
    }

    /// A statement to run (prepared and cached on first use).
    #[expect(
        clippy::unnecessary_wraps,
        reason = "shaped as rusqlite's, which the store's callers are written against"
    )]
    pub(crate) fn prepare(&self, sql: &str) -> DbResult<Stmt<'_, '_>> {
        Ok(Stmt {
            conn: self,
            sql: sql.to_owned(),
        })
    }

    /// Same as [`Conn::prepare`] (every statement is cached).
    pub(crate) fn prepare_cached(&self, sql: &str) -> DbResult<Stmt<'_, '_>> {
        self.prepare(sql)
    }

    /// Starts a transaction that rolls back unless committed.
    pub(crate) fn transaction(&mut self) -> DbResult<Tx<'_, '_>> {
        self.transaction_with(Begin::Deferred)
    }

    /// Starts a transaction the way `begin` says.
    pub(crate) fn transaction_with(&mut self, begin: Begin) -> DbResult<Tx<'_, '_>> {
        match (&*self, begin) {
            (_, Begin::Deferred) => self.execute_batch("BEGIN")?,
            (Self::Sqlite(_), Begin::Immediate) => self.execute_batch("BEGIN IMMEDIATE")?,
            (Self::Postgres(connection), Begin::Immediate) => {
                let key = connection.lock_key();
                if let Err(error) =
                    self.execute_batch(&format!("BEGIN; SELECT pg_advisory_xact_lock({key})"))
                {
                    // The transaction began but the lock failed (a timeout,
                    // a cancel): it must not stay open on the connection.
                    let _ = self.execute_batch("ROLLBACK");
                    return Err(error);
                }
            }
        }
        Ok(Tx {
            conn: self,
            done: Cell::new(false),
        })
    }
}

/// A statement of a [`Conn`].
pub(crate) struct Stmt<'c, 'a> {
    conn: &'c Conn<'a>,
    sql: String,
}

impl Stmt<'_, '_> {
    pub(crate) fn execute(&mut self, params: &[&dyn ToSql]) -> DbResult<usize> {
        self.conn.execute(&self.sql, params)
    }

    pub(crate) fn query_map<T>(
        &mut self,
        params: &[&dyn ToSql],
        map: impl FnMut(&Row<'_, '_>) -> DbResult<T>,
    ) -> DbResult<std::vec::IntoIter<DbResult<T>>> {
        self.conn.query_map(&self.sql, params, map)
    }

    pub(crate) fn query_row<T>(
        &mut self,
        params: &[&dyn ToSql],
        map: impl FnOnce(&Row<'_, '_>) -> DbResult<T>,
    ) -> DbResult<T> {
        self.conn.query_row(&self.sql, params, map)
    }
}

/// An open transaction: commit it, or it rolls back when dropped.
pub(crate) struct Tx<'c, 'a> {
    conn: &'c Conn<'a>,
    done: Cell<bool>,
}

impl<'a> std::ops::Deref for Tx<'_, 'a> {
    type Target = Conn<'a>;

    fn deref(&self) -> &Conn<'a> {
        self.conn
    }
}

impl Tx<'_, '_> {
    /// Commits (a commit that fails rolls back when `self` drops).
    pub(crate) fn commit(self) -> DbResult<()> {
        let committed = self.conn.execute_batch("COMMIT");
        self.done.set(committed.is_ok());
        committed
    }
}

impl Drop for Tx<'_, '_> {
    fn drop(&mut self) {
        if !self.done.get() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_become_dollars_outside_quoted_text() {
        assert_eq!(
            super::placeholders(
                "SELECT '?1 LIKE ', x FROM t WHERE a = ?1 AND b = ?12 AND c LIKE ?2"
            ),
            "SELECT '?1 LIKE ', x FROM t WHERE a = $1 AND b = $12 AND c ILIKE $2"
        );
    }

    #[test]
    fn numerics_decode() {
        // 12345.67: digits [1, 2345, 6700], weight 1, positive, scale 2.
        let raw = [0, 3, 0, 1, 0, 0, 0, 2, 0, 1, 0x09, 0x29, 0x1A, 0x2C];
        let value = super::numeric(&raw).expect("numeric");
        assert!((value - 12_345.67).abs() < 1e-9, "{value}");
    }
}
