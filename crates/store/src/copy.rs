//! Moving a store from SQLite to PostgreSQL: every table's rows, in one
//! transaction on the target, checked after.
//!
//! The target must be empty (a fresh schema, migrated): a move never merges.
//! Rows keep their ids; identity sequences continue after the largest; the
//! audit log is copied in order, so its chain (and `audit verify`) holds.
//! The copy is read from a SQLite store opened by this process, so nothing
//! writes to it meanwhile as long as the server using it is stopped (the
//! command says so).

use rusqlite::types::Value;

use crate::db::{Conn, Dialect};
use crate::{sql, Error, Result, Store};

/// The tables of a store, parents before children (foreign keys), and
/// whether their `id` column is an identity to move past after the copy.
const TABLES: &[(&str, bool)] = &[
    ("meta", false),
    ("projects", false),
    ("files", false),
    ("secrets", false),
    ("verified_files", false),
    ("llm_attempts", true),
    ("runs", false),
    ("run_nodes", true),
    ("run_events", false),
    ("run_calls", false),
    ("flow_versions", false),
    ("agents", false),
    ("memories", false),
    ("conversations", false),
    ("conversation_messages", false),
    ("span_facts", true),
    ("span_rollups", false),
    ("analytics_state", false),
    ("run_tags", false),
    ("otlp_cursors", false),
    ("evals", false),
    ("audit", false),
    ("accounts", false),
    ("workspaces", false),
    ("members", false),
    ("grants", false),
    ("credentials", false),
    ("login_failures", false),
    ("shares", false),
    ("triggers", false),
    ("trigger_receipts", false),
    ("hooks", false),
    ("deliveries", true),
    ("oidc_links", false),
];

/// Rows moved per table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Copied {
    /// Table name.
    pub table: &'static str,
    /// Rows read from the source and found in the target.
    pub rows: u64,
}

fn columns(source: &Conn<'_>, table: &str) -> Result<Vec<String>> {
    source
        .query_map(&format!("PRAGMA table_info({table})"), &[], |row| {
            row.get::<String>(1)
        })
        .map_err(sql("reading a table's columns"))?
        .collect::<crate::db::DbResult<Vec<_>>>()
        .map_err(sql("reading a table's columns"))
}

fn count(connection: &Conn<'_>, table: &str) -> Result<u64> {
    connection
        .query_row(&format!("SELECT count(*) FROM {table}"), &[], |row| {
            row.get::<i64>(0)
        })
        .map(|count| u64::try_from(count).unwrap_or(0))
        .map_err(sql("counting rows"))
}

impl Store {
    /// The first table holding rows, if any (a copy's target must hold
    /// none).
    pub fn first_filled_table(&self) -> Result<Option<&'static str>> {
        let connection = self.connection();
        for (table, _) in TABLES {
            if count(&connection, table)? > 0 {
                return Ok(Some(table));
            }
        }
        Ok(None)
    }

    /// Copies every row of this (SQLite) store into `target` (PostgreSQL,
    /// migrated and empty), in one transaction on the target, and checks
    /// that each table holds as many rows as the source.
    ///
    /// `progress` hears each table as it is done.
    pub fn copy_into(
        &self,
        target: &Self,
        mut progress: impl FnMut(&Copied),
    ) -> Result<Vec<Copied>> {
        let mut source = self.connection();
        let mut destination = target.connection();
        if source.dialect() != Dialect::Sqlite || destination.dialect() != Dialect::Postgres {
            return Err(refused(
                "a copy goes from a SQLite store to a PostgreSQL one",
            ));
        }
        for (table, _) in TABLES {
            if count(&destination, table)? > 0 {
                return Err(refused(&format!(
                    "the target already holds rows (in `{table}`): copy into an empty database or schema"
                )));
            }
        }
        // Writers to the source wait until the copy is done (SQLite's write
        // lock): what is read is one consistent state, and nothing written
        // meanwhile is left behind.
        let source = source
            .transaction_with(crate::db::Begin::Immediate)
            .map_err(sql("locking the source for the copy"))?;
        let transaction = destination
            .transaction()
            .map_err(sql("starting the copy"))?;
        let mut copied = Vec::new();
        for (table, identity) in TABLES {
            let names = columns(&source, table)?;
            let order = if *table == "audit" {
                " ORDER BY seq"
            } else {
                ""
            };
            let rows = source
                .query_map(
                    &format!("SELECT {} FROM {table}{order}", names.join(", ")),
                    &[],
                    |row| {
                        (0..names.len())
                            .map(|index| row.get::<Value>(index))
                            .collect::<crate::db::DbResult<Vec<Value>>>()
                    },
                )
                .map_err(sql("reading rows to copy"))?;
            let insert = format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                (1..=names.len())
                    .map(|index| format!("?{index}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut moved = 0_u64;
            for row in rows {
                let row = row.map_err(sql("reading rows to copy"))?;
                let params: Vec<&dyn rusqlite::ToSql> = row
                    .iter()
                    .map(|value| value as &dyn rusqlite::ToSql)
                    .collect();
                transaction.execute(&insert, &params).map_err(|source| {
                    Error::Copy(format!(
                        "a row of `{table}` was refused: {source}; nothing was committed"
                    ))
                })?;
                moved += 1;
            }
            if *identity && moved > 0 {
                transaction
                    .execute_batch(&format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    ))
                    .map_err(sql("moving an identity past the copied rows"))?;
            }
            let found = count(&transaction, table)?;
            if found != moved {
                return Err(refused(&format!(
                    "`{table}`: {moved} rows read but {found} in the target; nothing was committed"
                )));
            }
            let entry = Copied { table, rows: moved };
            progress(&entry);
            copied.push(entry);
        }
        transaction.commit().map_err(sql("committing the copy"))?;
        Ok(copied)
    }
}

fn refused(detail: &str) -> Error {
    Error::Copy(detail.to_owned())
}
