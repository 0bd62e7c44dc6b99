//! Schema migrations, applied in order and tracked by `PRAGMA user_version`.

use std::path::Path;

use rusqlite::Connection;

use crate::{Error, Result};

/// Each entry upgrades the schema from its index to index + 1.
const MIGRATIONS: &[&str] = &[r"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE projects (
        name TEXT PRIMARY KEY,
        root TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE files (
        project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
        path TEXT NOT NULL,
        hash TEXT NOT NULL,
        size INTEGER NOT NULL,
        chunks INTEGER NOT NULL,
        indexed_at INTEGER NOT NULL,
        PRIMARY KEY (project, path)
    );
    CREATE TABLE secrets (
        name TEXT PRIMARY KEY,
        nonce BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE verified_files (
        path TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime INTEGER NOT NULL,
        sha256 TEXT NOT NULL
    );
"];

pub(crate) fn run(connection: &mut Connection, path: &Path) -> Result<()> {
    let migrate = |source| Error::Sql {
        action: "migrating the schema",
        source,
    };
    let version: i64 = connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(migrate)?;
    let supported = MIGRATIONS.len() as i64;
    if version > supported {
        return Err(Error::TooNew {
            path: path.to_path_buf(),
            found: version,
            supported,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let transaction = connection.transaction().map_err(migrate)?;
        transaction.execute_batch(migration).map_err(migrate)?;
        transaction
            .pragma_update(None, "user_version", index as i64 + 1)
            .map_err(migrate)?;
        transaction.commit().map_err(migrate)?;
    }
    Ok(())
}
