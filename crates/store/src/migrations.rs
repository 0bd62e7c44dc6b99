//! Schema migrations, applied in order and tracked by `PRAGMA user_version`
//! (SQLite) or the `schema_version` table (PostgreSQL).

use std::path::PathBuf;

use crate::db::{Begin, Conn, DbError, Dialect};
use crate::{Error, Result};

/// Each entry upgrades the schema from its index to index + 1.
const MIGRATIONS: &[&str] = &[
    r"
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
",
    r"
    CREATE TABLE llm_attempts (
        id INTEGER PRIMARY KEY,
        request TEXT NOT NULL,
        at REAL NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        latency_ms INTEGER NOT NULL,
        first_token_ms INTEGER,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX llm_attempts_at ON llm_attempts(at);
",
    r"
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        flow TEXT NOT NULL,
        header TEXT NOT NULL,
        status TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT 'null',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX runs_created ON runs(created_at);
    CREATE TABLE run_nodes (
        id INTEGER PRIMARY KEY,
        run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        record TEXT NOT NULL
    );
    CREATE INDEX run_nodes_run ON run_nodes(run, id);
    CREATE TABLE run_events (
        run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        event TEXT NOT NULL,
        PRIMARY KEY (run, seq)
    ) WITHOUT ROWID;
    CREATE TABLE run_calls (
        run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        node TEXT NOT NULL,
        idx INTEGER NOT NULL,
        call TEXT NOT NULL,
        PRIMARY KEY (run, node, idx)
    ) WITHOUT ROWID;
    CREATE TABLE flow_versions (
        flow TEXT NOT NULL,
        version INTEGER NOT NULL,
        hash TEXT NOT NULL,
        content TEXT NOT NULL,
        path TEXT,
        note TEXT NOT NULL,
        saved_at INTEGER NOT NULL,
        PRIMARY KEY (flow, version)
    );
    CREATE TABLE agents (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        spec TEXT NOT NULL,
        published_at REAL NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE VIRTUAL TABLE memories USING fts5(namespace UNINDEXED, key UNINDEXED, value, updated_at UNINDEXED);
",
    r"
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        mode TEXT NOT NULL,
        target TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE conversation_messages (
        conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        role TEXT NOT NULL,
        text TEXT NOT NULL,
        meta TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (conversation, idx)
    ) WITHOUT ROWID;
",
    // Analytics: span facts derived from run events, daily roll-ups (see
    // analytics.rs); the facts of runs stored before are derived below.
    // `run_tags` holds what a fact needs of its run (its flow and project)
    // apart from `runs`, whose large header would be walked on every join.
    // Facts are never deleted, so their ids only grow (the roll-up's
    // watermark relies on it).
    r"
    CREATE TABLE span_facts (
        id INTEGER PRIMARY KEY,
        run TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        flow TEXT NOT NULL,
        project TEXT NOT NULL,
        node TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        ok INTEGER NOT NULL,
        latency_ms INTEGER,
        tokens_in INTEGER NOT NULL,
        tokens_out INTEGER NOT NULL,
        cached INTEGER NOT NULL,
        cost_usd REAL,
        unpriced INTEGER NOT NULL,
        fallbacks INTEGER NOT NULL,
        UNIQUE (run, seq)
    );
    CREATE INDEX span_facts_at ON span_facts(kind, at_ms);
    CREATE TABLE span_rollups (
        dim TEXT NOT NULL,
        day INTEGER NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        count INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        cancelled INTEGER NOT NULL,
        timed INTEGER NOT NULL,
        latency_sum INTEGER NOT NULL,
        tokens_in INTEGER NOT NULL,
        tokens_out INTEGER NOT NULL,
        cached INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        unpriced INTEGER NOT NULL,
        fallbacks INTEGER NOT NULL,
        fell_back INTEGER NOT NULL,
        histogram BLOB NOT NULL,
        PRIMARY KEY (dim, day, kind, value)
    ) WITHOUT ROWID;
    CREATE TABLE analytics_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE run_tags (
        run TEXT PRIMARY KEY,
        flow TEXT NOT NULL,
        project TEXT NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO run_tags (run, flow, project)
        SELECT id, flow, coalesce(json_extract(header, '$.input.project'), '') FROM runs;
",
    // OTLP export: per endpoint (a name, and the URL and protocol it had
    // when tracked: another target starts over), the last run ending (a
    // `run` span fact) sent, what was sent and dropped, the last error, and
    // a lease so two processes (the app and the CLI) take turns.
    r"
    CREATE TABLE otlp_cursors (
        endpoint TEXT PRIMARY KEY,
        target TEXT NOT NULL DEFAULT '',
        fact INTEGER NOT NULL,
        runs_sent INTEGER NOT NULL DEFAULT 0,
        spans_sent INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        dropped INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        last_attempt_ms INTEGER,
        last_sent_ms INTEGER,
        lease_owner TEXT,
        lease_until_ms INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
",
    // Evals: each report (its cases' runs stay in `runs`), with the figures
    // the list shows.
    r"
    CREATE TABLE evals (
        id TEXT PRIMARY KEY,
        flow TEXT NOT NULL,
        dataset TEXT NOT NULL,
        mode TEXT NOT NULL,
        started_at REAL NOT NULL,
        cases INTEGER NOT NULL,
        passed INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        report TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX evals_by_time ON evals (started_at DESC);
",
    // The audit log (see `audit.rs`): append-only, each entry's hash over
    // its fields and the hash before it.
    r"
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        who TEXT NOT NULL,
        origin TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE
    );
    CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_append_only_insert BEFORE INSERT ON audit
        WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit)
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: an entry goes after the last one'); END;
",
    // A team server's accounts, credentials and memberships (see `team.rs`);
    // empty in a desktop home.
    r"
    CREATE TABLE accounts (
        name TEXT PRIMARY KEY,
        password TEXT,
        created_at INTEGER NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE workspaces (
        name TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE members (
        workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        role TEXT NOT NULL,
        PRIMARY KEY (workspace, account)
    ) WITHOUT ROWID;
    CREATE TABLE grants (
        workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
        flow TEXT NOT NULL,
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        role TEXT NOT NULL,
        PRIMARY KEY (workspace, flow, account)
    ) WITHOUT ROWID;
    CREATE TABLE credentials (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        label TEXT NOT NULL,
        hash TEXT NOT NULL,
        scopes TEXT NOT NULL,
        csrf TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        last_used_at INTEGER,
        revoked_at INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX credentials_by_account ON credentials (account, kind);
    CREATE TABLE login_failures (
        account TEXT NOT NULL,
        address TEXT NOT NULL,
        at_ms INTEGER NOT NULL
    );
    CREATE INDEX login_failures_by_account ON login_failures (account, at_ms);
",
    // A team server's share links (see `team.rs`).
    r"
    CREATE TABLE shares (
        id TEXT PRIMARY KEY,
        workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX shares_by_workspace ON shares (workspace, created_at);
",
    // A team server's triggers, outgoing webhooks and their deliveries
    // (see `triggers.rs`).
    r"
    CREATE TABLE triggers (
        id TEXT PRIMARY KEY,
        workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        flow TEXT NOT NULL,
        schedule TEXT,
        input TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        next_at INTEGER,
        fired_at INTEGER,
        last_run TEXT,
        last_error TEXT
    ) WITHOUT ROWID;
    CREATE INDEX triggers_by_workspace ON triggers (workspace, created_at);
    CREATE INDEX triggers_due ON triggers (next_at) WHERE next_at IS NOT NULL;
    CREATE TABLE trigger_receipts (
        signature TEXT PRIMARY KEY,
        trigger_id TEXT NOT NULL,
        at_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE hooks (
        id TEXT PRIMARY KEY,
        workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        flow TEXT,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX hooks_by_workspace ON hooks (workspace, created_at);
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        hook TEXT NOT NULL REFERENCES hooks(id) ON DELETE CASCADE,
        event TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        status INTEGER,
        error TEXT,
        created_at INTEGER NOT NULL,
        delivered_at INTEGER
    );
    CREATE INDEX deliveries_due ON deliveries (next_at) WHERE state = 'pending';
    CREATE INDEX deliveries_by_hook ON deliveries (hook, id);
",
    // A team server's sign-ins through an OIDC provider: which account a
    // provider's subject is (see `team.rs`).
    r"
    CREATE TABLE oidc_links (
        issuer TEXT NOT NULL,
        subject TEXT NOT NULL,
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        linked_at INTEGER NOT NULL,
        PRIMARY KEY (issuer, subject),
        UNIQUE (issuer, account)
    ) WITHOUT ROWID;
",
    // Run claims of servers sharing a database (see `claims.rs`).
    r"
    CREATE TABLE run_claims (
        run TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        owner TEXT NOT NULL,
        lease_until_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX run_claims_lapsing ON run_claims (lease_until_ms);
",
];

/// The schema version that created the analytics tables.
const ANALYTICS: i64 = 5;

/// PostgreSQL starts at this version with [`POSTGRES_BASELINE`], the
/// schema every SQLite migration above adds up to; a later migration is
/// written for both (SQLite in [`MIGRATIONS`], PostgreSQL in
/// [`POSTGRES_MIGRATIONS`]).
const POSTGRES_BASE_VERSION: i64 = 12;

/// The schema of [`MIGRATIONS`] up to [`POSTGRES_BASE_VERSION`], in
/// PostgreSQL's types: integers are `BIGINT` (SQLite's are 64-bit), reals
/// `DOUBLE PRECISION`, blobs `BYTEA`; the full-text index of memories is a
/// `tsvector` expression index; the audit log's append-only rule is a
/// trigger function; `instr` and `json_extract` (as text) are functions of
/// the schema, so statements that use them are written once.
const POSTGRES_BASELINE: &str = r"
    CREATE FUNCTION instr(haystack TEXT, needle TEXT) RETURNS INTEGER
        LANGUAGE sql IMMUTABLE AS 'SELECT strpos(haystack, needle)';
    CREATE FUNCTION json_extract(document TEXT, path TEXT) RETURNS TEXT
        LANGUAGE sql IMMUTABLE
        AS $$ SELECT document::jsonb #>> string_to_array(substr(path, 3), '.') $$;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE projects (
        name TEXT PRIMARY KEY, root TEXT NOT NULL,
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL
    );
    CREATE TABLE files (
        project TEXT NOT NULL REFERENCES projects(name) ON DELETE CASCADE,
        path TEXT NOT NULL, hash TEXT NOT NULL, size BIGINT NOT NULL,
        chunks BIGINT NOT NULL, indexed_at BIGINT NOT NULL,
        PRIMARY KEY (project, path)
    );
    CREATE TABLE secrets (
        name TEXT PRIMARY KEY, nonce BYTEA NOT NULL, ciphertext BYTEA NOT NULL,
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL
    );
    CREATE TABLE verified_files (
        path TEXT PRIMARY KEY, size BIGINT NOT NULL, mtime BIGINT NOT NULL, sha256 TEXT NOT NULL
    );
    CREATE TABLE llm_attempts (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        request TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, provider TEXT NOT NULL,
        model TEXT NOT NULL, latency_ms BIGINT NOT NULL, first_token_ms BIGINT,
        prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL,
        outcome TEXT NOT NULL, detail TEXT NOT NULL
    );
    CREATE INDEX llm_attempts_at ON llm_attempts(at);
    CREATE TABLE runs (
        id TEXT PRIMARY KEY, flow TEXT NOT NULL, header TEXT NOT NULL, status TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT 'null',
        created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX runs_created ON runs(created_at);
    CREATE TABLE run_nodes (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        record TEXT NOT NULL
    );
    CREATE INDEX run_nodes_run ON run_nodes(run, id);
    CREATE TABLE run_events (
        run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq BIGINT NOT NULL, event TEXT NOT NULL,
        PRIMARY KEY (run, seq)
    );
    CREATE TABLE run_calls (
        run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        node TEXT NOT NULL, idx BIGINT NOT NULL, call TEXT NOT NULL,
        PRIMARY KEY (run, node, idx)
    );
    CREATE TABLE flow_versions (
        flow TEXT NOT NULL, version BIGINT NOT NULL, hash TEXT NOT NULL, content TEXT NOT NULL,
        path TEXT, note TEXT NOT NULL, saved_at BIGINT NOT NULL,
        PRIMARY KEY (flow, version)
    );
    CREATE TABLE agents (
        name TEXT NOT NULL, version TEXT NOT NULL, spec TEXT NOT NULL,
        published_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE memories (
        namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX memories_by_key ON memories (namespace, key);
    CREATE INDEX memories_words ON memories USING GIN (to_tsvector('simple', value));
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY, title TEXT NOT NULL, mode TEXT NOT NULL, target TEXT,
        created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE conversation_messages (
        conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        idx BIGINT NOT NULL, role TEXT NOT NULL, text TEXT NOT NULL, meta TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (conversation, idx)
    );
    CREATE TABLE span_facts (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        run TEXT NOT NULL, seq BIGINT NOT NULL, at_ms BIGINT NOT NULL, kind TEXT NOT NULL,
        flow TEXT NOT NULL, project TEXT NOT NULL, node TEXT NOT NULL, provider TEXT NOT NULL,
        model TEXT NOT NULL, ok BIGINT NOT NULL, latency_ms BIGINT, tokens_in BIGINT NOT NULL,
        tokens_out BIGINT NOT NULL, cached BIGINT NOT NULL, cost_usd DOUBLE PRECISION,
        unpriced BIGINT NOT NULL, fallbacks BIGINT NOT NULL,
        UNIQUE (run, seq)
    );
    CREATE INDEX span_facts_at ON span_facts(kind, at_ms);
    CREATE TABLE span_rollups (
        dim TEXT NOT NULL, day BIGINT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
        count BIGINT NOT NULL, failures BIGINT NOT NULL, cancelled BIGINT NOT NULL,
        timed BIGINT NOT NULL, latency_sum BIGINT NOT NULL, tokens_in BIGINT NOT NULL,
        tokens_out BIGINT NOT NULL, cached BIGINT NOT NULL, cost_usd DOUBLE PRECISION NOT NULL,
        unpriced BIGINT NOT NULL, fallbacks BIGINT NOT NULL, fell_back BIGINT NOT NULL,
        histogram BYTEA NOT NULL,
        PRIMARY KEY (dim, day, kind, value)
    );
    CREATE TABLE analytics_state (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
    CREATE TABLE run_tags (run TEXT PRIMARY KEY, flow TEXT NOT NULL, project TEXT NOT NULL);
    CREATE TABLE otlp_cursors (
        endpoint TEXT PRIMARY KEY, target TEXT NOT NULL DEFAULT '', fact BIGINT NOT NULL,
        runs_sent BIGINT NOT NULL DEFAULT 0, spans_sent BIGINT NOT NULL DEFAULT 0,
        rejected BIGINT NOT NULL DEFAULT 0, dropped BIGINT NOT NULL DEFAULT 0,
        last_error TEXT, last_attempt_ms BIGINT, last_sent_ms BIGINT,
        lease_owner TEXT, lease_until_ms BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE evals (
        id TEXT PRIMARY KEY, flow TEXT NOT NULL, dataset TEXT NOT NULL, mode TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL, cases BIGINT NOT NULL, passed BIGINT NOT NULL,
        ok BIGINT NOT NULL, report TEXT NOT NULL
    );
    CREATE INDEX evals_by_time ON evals (started_at DESC);
    CREATE TABLE audit (
        seq BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, who TEXT NOT NULL, origin TEXT NOT NULL,
        action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL, hash TEXT NOT NULL UNIQUE
    );
    CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            RAISE EXCEPTION 'the audit log is append-only';
        END IF;
        IF NEW.seq IS DISTINCT FROM (SELECT coalesce(max(seq), 0) + 1 FROM audit) THEN
            RAISE EXCEPTION 'the audit log is append-only: an entry goes after the last one';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER audit_append_only BEFORE INSERT OR UPDATE OR DELETE ON audit
        FOR EACH ROW EXECUTE FUNCTION audit_append_only();
    CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
        FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
    CREATE TABLE accounts (
        name TEXT PRIMARY KEY, password TEXT, created_at BIGINT NOT NULL,
        disabled BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE workspaces (name TEXT PRIMARY KEY, created_at BIGINT NOT NULL);
    CREATE TABLE members (
        workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        role TEXT NOT NULL,
        PRIMARY KEY (workspace, account)
    );
    CREATE TABLE grants (
        workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
        flow TEXT NOT NULL,
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        role TEXT NOT NULL,
        PRIMARY KEY (workspace, flow, account)
    );
    CREATE TABLE credentials (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        kind TEXT NOT NULL, label TEXT NOT NULL, hash TEXT NOT NULL, scopes TEXT NOT NULL,
        csrf TEXT, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
        last_used_at BIGINT, revoked_at BIGINT
    );
    CREATE INDEX credentials_by_account ON credentials (account, kind);
    CREATE TABLE login_failures (account TEXT NOT NULL, address TEXT NOT NULL, at_ms BIGINT NOT NULL);
    CREATE INDEX login_failures_by_account ON login_failures (account, at_ms);
    CREATE TABLE shares (
        id TEXT PRIMARY KEY,
        workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
        kind TEXT NOT NULL, target TEXT NOT NULL, created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, revoked_at BIGINT
    );
    CREATE INDEX shares_by_workspace ON shares (workspace, created_at);
    CREATE TABLE triggers (
        id TEXT PRIMARY KEY,
        workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
        kind TEXT NOT NULL, flow TEXT NOT NULL, schedule TEXT, input TEXT NOT NULL,
        created_by TEXT NOT NULL, created_at BIGINT NOT NULL, next_at BIGINT, fired_at BIGINT,
        last_run TEXT, last_error TEXT
    );
    CREATE INDEX triggers_by_workspace ON triggers (workspace, created_at);
    CREATE INDEX triggers_due ON triggers (next_at) WHERE next_at IS NOT NULL;
    CREATE TABLE trigger_receipts (
        signature TEXT PRIMARY KEY, trigger_id TEXT NOT NULL, at_ms BIGINT NOT NULL
    );
    CREATE TABLE hooks (
        id TEXT PRIMARY KEY,
        workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
        url TEXT NOT NULL, events TEXT NOT NULL, flow TEXT, created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX hooks_by_workspace ON hooks (workspace, created_at);
    CREATE TABLE deliveries (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        hook TEXT NOT NULL REFERENCES hooks(id) ON DELETE CASCADE,
        event TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0, next_at BIGINT NOT NULL, status BIGINT,
        error TEXT, created_at BIGINT NOT NULL, delivered_at BIGINT
    );
    CREATE INDEX deliveries_due ON deliveries (next_at) WHERE state = 'pending';
    CREATE INDEX deliveries_by_hook ON deliveries (hook, id);
    CREATE TABLE oidc_links (
        issuer TEXT NOT NULL, subject TEXT NOT NULL,
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        linked_at BIGINT NOT NULL,
        PRIMARY KEY (issuer, subject),
        UNIQUE (issuer, account)
    );
";

/// PostgreSQL's migrations after [`POSTGRES_BASE_VERSION`], in step with
/// [`MIGRATIONS`].
const POSTGRES_MIGRATIONS: &[&str] = &[
    // 13: run claims.
    r"
    CREATE TABLE run_claims (
        run TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        owner TEXT NOT NULL,
        lease_until_ms BIGINT NOT NULL
    );
    CREATE INDEX run_claims_lapsing ON run_claims (lease_until_ms);
",
];

impl crate::Store {
    /// The schema version of the store's database.
    pub fn schema_version(&self) -> Result<i64> {
        let connection = self.connection();
        let sql = match connection.dialect() {
            Dialect::Sqlite => "PRAGMA user_version",
            Dialect::Postgres => "SELECT coalesce(max(version), 0) FROM schema_version",
        };
        connection
            .query_row(sql, &[], |row| row.get(0))
            .map_err(migrate)
    }
}

/// The newest schema version this build knows.
pub(crate) fn supported() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the schema up to [`supported`], whichever the database.
pub(crate) fn run(connection: &mut Conn<'_>, location: &str) -> Result<()> {
    match connection.dialect() {
        Dialect::Sqlite => run_sqlite(connection, location),
        Dialect::Postgres => run_postgres(connection, location),
    }
}

fn migrate(source: impl Into<DbError>) -> Error {
    Error::Sql {
        action: "migrating the schema",
        source: source.into(),
    }
}

fn too_new(location: &str, found: i64) -> Error {
    Error::TooNew {
        path: PathBuf::from(location),
        found,
        supported: supported(),
    }
}

fn run_sqlite(connection: &mut Conn<'_>, location: &str) -> Result<()> {
    // Take the write lock before reading the version: two processes opening a
    // new home at once (the app and the CLI) must not both migrate it.
    let transaction = connection
        .transaction_with(Begin::Immediate)
        .map_err(migrate)?;
    let version: i64 = transaction
        .query_row("PRAGMA user_version", &[], |row| row.get(0))
        .map_err(migrate)?;
    if version > supported() {
        return Err(too_new(location, version));
    }
    for migration in MIGRATIONS.iter().skip(version as usize) {
        transaction.execute_batch(migration).map_err(migrate)?;
    }
    if version < ANALYTICS && supported() >= ANALYTICS {
        crate::analytics::derive_all_spans(&transaction)?;
    }
    transaction
        .execute_batch(&format!("PRAGMA user_version = {}", supported()))
        .map_err(migrate)?;
    transaction.commit().map_err(migrate)
}

fn run_postgres(connection: &mut Conn<'_>, location: &str) -> Result<()> {
    // The schema's write lock: servers starting together migrate once.
    let transaction = connection
        .transaction_with(Begin::Immediate)
        .map_err(migrate)?;
    transaction
        .execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .map_err(migrate)?;
    let version: Option<i64> = transaction
        .query_row("SELECT max(version) FROM schema_version", &[], |row| {
            row.get(0)
        })
        .map_err(migrate)?;
    let mut version = version.unwrap_or(0);
    if version > supported() {
        return Err(too_new(location, version));
    }
    if version < POSTGRES_BASE_VERSION {
        transaction
            .execute_batch(POSTGRES_BASELINE)
            .map_err(migrate)?;
        version = POSTGRES_BASE_VERSION;
    }
    let done = usize::try_from(version - POSTGRES_BASE_VERSION).unwrap_or(0);
    for migration in POSTGRES_MIGRATIONS.iter().skip(done) {
        transaction.execute_batch(migration).map_err(migrate)?;
    }
    transaction
        .execute_batch(&format!(
            "DELETE FROM schema_version; INSERT INTO schema_version VALUES ({})",
            supported()
        ))
        .map_err(migrate)?;
    transaction.commit().map_err(migrate)
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    /// A data home from before the analytics tables, with one stored run,
    /// is upgraded: the run's spans are derived from its stored events and
    /// show in the roll-ups.
    #[test]
    fn an_older_home_gets_the_analytics_of_the_runs_it_already_stored() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("codexos.sqlite");
        {
            let connection = rusqlite::Connection::open(&path).expect("open");
            for migration in &super::MIGRATIONS[..4] {
                connection.execute_batch(migration).expect("older schema");
            }
            connection
                .pragma_update(None, "user_version", 4)
                .expect("version");
            connection
                .execute(
                    "INSERT INTO runs (id, flow, header, status, created_at, updated_at)
                     VALUES ('r1', 'qa', '{\"input\": {\"project\": \"docs\"}}', 'failed', 0, 0)",
                    [],
                )
                .expect("run");
            // The events as the runtime stores them (camelCase, `type` tag).
            let events = [
                r#"{"run":"r1","seq":0,"atMs":86400000,"event":{"type":"runStarted","flow":"qa","mode":"start"}}"#,
                r#"{"run":"r1","seq":1,"atMs":86400100,"node":"ask","event":{"type":"modelCall","provider":"openai","model":"gpt-4o-mini","usage":{"prompt_tokens":12,"completion_tokens":3,"cached_tokens":0,"latency_ms":40,"cost_usd":0.5,"unpriced":false,"compute_ms":0,"attempts":[{"provider":"down","outcome":"failed"},{"provider":"openai","outcome":"ok"}]}}}"#,
                r#"{"run":"r1","seq":2,"atMs":86400200,"node":"ask","event":{"type":"nodeFinished","step":0,"durationMs":200,"writes":{},"next":["check"]}}"#,
                r#"{"run":"r1","seq":3,"atMs":86400300,"node":"check","event":{"type":"nodeFailed","error":"boom","retrying":true}}"#,
                r#"{"run":"r1","seq":4,"atMs":86400400,"node":"check","event":{"type":"nodeFailed","error":"boom","retrying":false}}"#,
                r#"{"run":"r1","seq":5,"atMs":86400500,"event":{"type":"runFinished","status":"failed","output":null,"error":"boom"}}"#,
            ];
            for (seq, event) in events.iter().enumerate() {
                connection
                    .execute(
                        "INSERT INTO run_events (run, seq, event) VALUES ('r1', ?1, ?2)",
                        params![seq as i64, event],
                    )
                    .expect("event");
            }
        }
        let store = crate::Store::open(&path).expect("upgraded");
        // The run, two node spans (a finish, a final failure; the retried
        // failure is not one) and a model call.
        assert_eq!(store.span_count().expect("count"), 4);
        assert_eq!(store.catch_up_rollups().expect("roll up"), 4);
        let all = store.rollups("all", 1, 1).expect("day 1");
        let kind = |kind: &str| {
            all.iter()
                .find(|rollup| rollup.kind == kind)
                .unwrap_or_else(|| panic!("no {kind} roll-up: {all:?}"))
        };
        assert_eq!((kind("run").count, kind("run").failures), (1, 1));
        assert_eq!(kind("run").latency_sum_ms, 500);
        assert_eq!((kind("node").count, kind("node").failures), (2, 1));
        let model = kind("model");
        assert_eq!(
            (
                model.tokens_in,
                model.tokens_out,
                model.fallbacks,
                model.fell_back
            ),
            (12, 3, 1, 1)
        );
        assert!((model.cost_usd - 0.5).abs() < 1e-12);
        let projects = store.rollups("project", 1, 1).expect("projects");
        assert!(
            projects.iter().all(|rollup| rollup.value == "docs"),
            "{projects:?}"
        );
        let nodes = store.rollups("node", 1, 1).expect("nodes");
        assert!(
            nodes
                .iter()
                .any(|rollup| rollup.value == "qa › check" && rollup.failures == 1),
            "{nodes:?}"
        );
        // Rolled up once: a second catch-up adds nothing.
        assert_eq!(store.catch_up_rollups().expect("again"), 0);
        let runs = store
            .span_runs("model", "gpt-4o-mini", 0, 2 * 86_400_000, 10)
            .expect("runs");
        assert_eq!(runs.len(), 1);
        assert!(store
            .span_runs("model", "other", 0, 2 * 86_400_000, 10)
            .expect("none")
            .is_empty());
    }

    #[test]
    fn concurrent_opens_of_a_new_database_migrate_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("codexos.sqlite");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || crate::Store::open(&path).map(drop))
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread").expect("every open succeeds");
        }
    }
}
