//! Flow runs, flow versions, published agents and long-term memory. The
//! store keeps their JSON as given; `codexos-flow` owns the shapes.

use rusqlite::params;

use crate::db::Optional;
use serde::{Deserialize, Serialize};

use crate::{sql, Result, Store};

pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

/// A run as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// Run id.
    pub id: String,
    /// Flow name.
    pub flow: String,
    /// `running`, `paused`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// Unix seconds it started.
    pub created_at: f64,
    /// Unix seconds of its last change.
    pub updated_at: f64,
}

/// Everything stored about a run, as JSON texts.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// The summary.
    pub summary: RunSummary,
    /// The run header.
    pub header: String,
    /// Status detail (output, error or waiting node).
    pub detail: String,
    /// Node records in order.
    pub nodes: Vec<String>,
    /// Recorded calls.
    pub calls: Vec<String>,
    /// Events in order.
    pub events: Vec<String>,
}

/// One saved version of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FlowVersion {
    /// Flow name.
    pub flow: String,
    /// Version number, from 1.
    pub version: u32,
    /// sha256 of the content.
    pub hash: String,
    /// The flow file's text.
    pub content: String,
    /// File it was saved from or to.
    pub path: Option<String>,
    /// Why it was saved (`run`, `save`, `rollback to 3`).
    pub note: String,
    /// Unix seconds.
    #[specta(type = f64)]
    pub saved_at: i64,
}

impl Store {
    /// Stores a new run (`project`: the project it works on, or empty).
    pub fn begin_run(&self, id: &str, flow: &str, project: &str, header: &str) -> Result<()> {
        let now = now();
        let mut connection = self.connection();
        let transaction = connection.transaction().map_err(sql("storing a new run"))?;
        transaction
            .execute(
                "INSERT INTO runs (id, flow, header, status, created_at, updated_at) VALUES (?1, ?2, ?3, 'running', ?4, ?4)",
                params![id, flow, header, now],
            )
            .map_err(sql("storing a new run"))?;
        transaction
            .execute(
                "INSERT INTO run_tags (run, flow, project) VALUES (?1, ?2, ?3)
                 ON CONFLICT (run) DO UPDATE SET flow = excluded.flow, project = excluded.project",
                params![id, flow, project],
            )
            .map_err(sql("storing a new run"))?;
        crate::claims::claim_new(&transaction, self.claim_owner().as_ref(), id)?;
        transaction.commit().map_err(sql("storing a new run"))
    }

    /// Appends events `(seq, json)` and the analytics facts derived from
    /// them.
    pub fn run_events(
        &self,
        run: &str,
        events: &[(u64, String)],
        facts: &[crate::analytics::SpanFact],
    ) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(sql("storing run events"))?;
        crate::claims::fence(&transaction, self.claim_owner().as_ref(), run)?;
        insert_events(&transaction, run, events)?;
        crate::analytics::insert_facts(&transaction, run, facts)?;
        transaction.commit().map_err(sql("storing run events"))
    }

    /// A node's checkpoint, its events and their analytics facts, in one
    /// transaction.
    pub fn run_node_done(
        &self,
        run: &str,
        record: &str,
        events: &[(u64, String)],
        facts: &[crate::analytics::SpanFact],
    ) -> Result<()> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(sql("checkpointing a node"))?;
        crate::claims::fence(&transaction, self.claim_owner().as_ref(), run)?;
        transaction
            .prepare_cached("INSERT INTO run_nodes (run, record) VALUES (?1, ?2)")
            .and_then(|mut statement| statement.execute(params![run, record]))
            .map_err(sql("checkpointing a node"))?;
        insert_events(&transaction, run, events)?;
        crate::analytics::insert_facts(&transaction, run, facts)?;
        transaction.commit().map_err(sql("checkpointing a node"))
    }

    /// Records (or re-records, on a retry) one call.
    pub fn run_call(&self, run: &str, node: &str, index: u32, call: &str) -> Result<()> {
        let owner = self.claim_owner();
        let mut connection = self.connection();
        let transaction = connection.transaction().map_err(sql("recording a call"))?;
        crate::claims::fence(&transaction, owner.as_ref(), run)?;
        transaction
            .execute(
                "INSERT INTO run_calls (run, node, idx, call) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (run, node, idx) DO UPDATE SET call = excluded.call",
                params![run, node, index, call],
            )
            .map_err(sql("recording a call"))?;
        transaction.commit().map_err(sql("recording a call"))
    }

    /// Sets a run's status; a run that ended or paused gives up its claim.
    pub fn set_run_status(&self, run: &str, status: &str, detail: &str) -> Result<()> {
        let owner = self.claim_owner();
        let mut connection = self.connection();
        let transaction = connection.transaction().map_err(sql("updating a run"))?;
        crate::claims::fence(&transaction, owner.as_ref(), run)?;
        transaction
            .execute(
                "UPDATE runs SET status = ?2, detail = ?3, updated_at = ?4 WHERE id = ?1",
                params![run, status, detail, now()],
            )
            .map_err(sql("updating a run"))?;
        if status != "running" {
            crate::claims::release(&transaction, owner.as_ref(), run)?;
        }
        transaction.commit().map_err(sql("updating a run"))
    }

    /// The sequence number after the run's last event.
    pub fn run_next_seq(&self, run: &str) -> Result<u64> {
        let next: Option<i64> = self
            .connection()
            .query_row(
                "SELECT MAX(seq) + 1 FROM run_events WHERE run = ?1",
                params![run],
                |row| row.get(0),
            )
            .map_err(sql("reading run events"))?;
        Ok(next.map_or(0, |next| next.max(0) as u64))
    }

    /// Everything about a run.
    pub fn run(&self, id: &str) -> Result<Option<RunRow>> {
        let connection = self.connection();
        let row = connection
            .query_row(
                "SELECT id, flow, status, created_at, updated_at, header, detail FROM runs WHERE id = ?1",
                params![id],
                |row| {
                    Ok((
                        RunSummary {
                            id: row.get(0)?,
                            flow: row.get(1)?,
                            status: row.get(2)?,
                            created_at: row.get(3)?,
                            updated_at: row.get(4)?,
                        },
                        row.get::<String>(5)?,
                        row.get::<String>(6)?,
                    ))
                },
            )
            .optional()
            .map_err(sql("reading a run"))?;
        let Some((summary, header, detail)) = row else {
            return Ok(None);
        };
        let texts = |query: &str| -> Result<Vec<String>> {
            let mut statement = connection.prepare(query).map_err(sql("reading a run"))?;
            let rows = statement
                .query_map(params![id], |row| row.get(0))
                .map_err(sql("reading a run"))?;
            rows.collect::<crate::db::DbResult<Vec<String>>>()
                .map_err(sql("reading a run"))
        };
        Ok(Some(RunRow {
            summary,
            header,
            detail,
            nodes: texts("SELECT record FROM run_nodes WHERE run = ?1 ORDER BY id")?,
            calls: texts("SELECT call FROM run_calls WHERE run = ?1 ORDER BY node, idx")?,
            events: texts("SELECT event FROM run_events WHERE run = ?1 ORDER BY seq")?,
        }))
    }

    /// A run's flow and status.
    pub fn run_status(&self, id: &str) -> Result<Option<(String, String)>> {
        self.connection()
            .query_row(
                "SELECT flow, status FROM runs WHERE id = ?1",
                params![id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(sql("reading a run's status"))
    }

    /// Events of a run after `after` (all with `None`), in order.
    pub fn run_events_since(&self, run: &str, after: Option<u64>) -> Result<Vec<String>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT event FROM run_events WHERE run = ?1 AND seq > ?2 ORDER BY seq")
            .map_err(sql("reading run events"))?;
        let after = after.map_or(-1, |after| after as i64);
        let rows = statement
            .query_map(params![run, after], |row| row.get(0))
            .map_err(sql("reading run events"))?;
        rows.collect::<crate::db::DbResult<Vec<String>>>()
            .map_err(sql("reading run events"))
    }

    /// The newest runs, newest first; of one flow when given.
    pub fn runs(&self, flow: Option<&str>, limit: u32) -> Result<Vec<RunSummary>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT id, flow, status, created_at, updated_at FROM runs
                 WHERE CAST(?1 AS TEXT) IS NULL OR flow = ?1 ORDER BY created_at DESC, id LIMIT ?2",
            )
            .map_err(sql("listing runs"))?;
        let rows = statement
            .query_map(params![flow, limit], |row| {
                Ok(RunSummary {
                    id: row.get(0)?,
                    flow: row.get(1)?,
                    status: row.get(2)?,
                    created_at: row.get(3)?,
                    updated_at: row.get(4)?,
                })
            })
            .map_err(sql("listing runs"))?;
        rows.collect::<crate::db::DbResult<Vec<_>>>()
            .map_err(sql("listing runs"))
    }

    /// Run ids starting with `prefix`.
    pub fn run_ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT id FROM runs WHERE substr(id, 1, length(?1)) = ?1 LIMIT 5")
            .map_err(sql("finding a run"))?;
        let rows = statement
            .query_map(params![prefix], |row| row.get(0))
            .map_err(sql("finding a run"))?;
        rows.collect::<crate::db::DbResult<Vec<String>>>()
            .map_err(sql("finding a run"))
    }

    /// Saves `content` as the flow's next version unless it equals the
    /// latest; returns the version that holds it and whether it is new.
    pub fn save_flow_version(
        &self,
        flow: &str,
        content: &str,
        hash: &str,
        path: Option<&str>,
        note: &str,
    ) -> Result<(u32, bool)> {
        let mut connection = self.connection();
        // Immediate: the next version is read, then written.
        let transaction = connection
            .transaction_with(crate::db::Begin::Immediate)
            .map_err(sql("saving a flow version"))?;
        let latest: Option<(u32, String)> = transaction
            .query_row(
                "SELECT version, hash FROM flow_versions WHERE flow = ?1 ORDER BY version DESC LIMIT 1",
                params![flow],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(sql("saving a flow version"))?;
        if let Some((version, latest_hash)) = &latest {
            if latest_hash == hash {
                return Ok((*version, false));
            }
        }
        let version = latest.map_or(1, |(version, _)| version + 1);
        transaction
            .execute(
                "INSERT INTO flow_versions (flow, version, hash, content, path, note, saved_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![flow, version, hash, content, path, note, super::now()],
            )
            .map_err(sql("saving a flow version"))?;
        transaction.commit().map_err(sql("saving a flow version"))?;
        Ok((version, true))
    }

    /// A flow's versions, oldest first (the content too).
    pub fn flow_versions(&self, flow: &str) -> Result<Vec<FlowVersion>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT flow, version, hash, content, path, note, saved_at FROM flow_versions WHERE flow = ?1 ORDER BY version")
            .map_err(sql("reading flow versions"))?;
        let rows = statement
            .query_map(params![flow], flow_version)
            .map_err(sql("reading flow versions"))?;
        rows.collect::<crate::db::DbResult<Vec<_>>>()
            .map_err(sql("reading flow versions"))
    }

    /// Every rename recorded in the flows' histories: (old name, when),
    /// from the versions noted `renamed from OLD` (their content unread).
    pub fn flow_renames(&self) -> Result<Vec<(String, i64)>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT substr(note, 14), saved_at FROM flow_versions WHERE note LIKE 'renamed from %'")
            .map_err(sql("reading flow renames"))?;
        let rows = statement
            .query_map(&[], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(sql("reading flow renames"))?;
        rows.collect::<crate::db::DbResult<Vec<_>>>()
            .map_err(sql("reading flow renames"))
    }

    /// The latest version of every flow.
    pub fn flows(&self) -> Result<Vec<FlowVersion>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT flow, version, hash, content, path, note, saved_at FROM flow_versions f
                 WHERE version = (SELECT MAX(version) FROM flow_versions WHERE flow = f.flow) ORDER BY flow",
            )
            .map_err(sql("listing flows"))?;
        let rows = statement
            .query_map(&[], flow_version)
            .map_err(sql("listing flows"))?;
        rows.collect::<crate::db::DbResult<Vec<_>>>()
            .map_err(sql("listing flows"))
    }

    /// Publishes an agent version; `false` when that version exists
    /// (published versions never change).
    pub fn publish_agent(&self, name: &str, version: &str, spec: &str) -> Result<bool> {
        let changed = self
            .connection()
            .execute(
                "INSERT INTO agents (name, version, spec, published_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                params![name, version, spec, now()],
            )
            .map_err(sql("publishing an agent"))?;
        Ok(changed == 1)
    }

    /// One published agent version's spec.
    pub fn agent(&self, name: &str, version: &str) -> Result<Option<String>> {
        self.connection()
            .query_row(
                "SELECT spec FROM agents WHERE name = ?1 AND version = ?2",
                params![name, version],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql("reading an agent"))
    }

    /// Every published agent version as `(name, version, spec)`, by name
    /// then publication order.
    pub fn agents(&self) -> Result<Vec<(String, String, String)>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT name, version, spec FROM agents ORDER BY name, published_at, version")
            .map_err(sql("listing agents"))?;
        let rows = statement
            .query_map(&[], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .map_err(sql("listing agents"))?;
        rows.collect::<crate::db::DbResult<Vec<_>>>()
            .map_err(sql("listing agents"))
    }

    /// Stores a memory, replacing the value under the same key.
    pub fn remember(&self, namespace: &str, key: &str, value: &str) -> Result<()> {
        let mut connection = self.connection();
        // Immediate: two writers of one key must not both insert it.
        let transaction = connection
            .transaction_with(crate::db::Begin::Immediate)
            .map_err(sql("writing memory"))?;
        transaction
            .execute(
                "DELETE FROM memories WHERE namespace = ?1 AND key = ?2",
                params![namespace, key],
            )
            .map_err(sql("writing memory"))?;
        transaction
            .execute(
                "INSERT INTO memories (namespace, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)",
                params![namespace, key, value, now()],
            )
            .map_err(sql("writing memory"))?;
        transaction.commit().map_err(sql("writing memory"))
    }

    /// The memory under a key.
    pub fn recall(&self, namespace: &str, key: &str) -> Result<Option<String>> {
        self.connection()
            .query_row(
                "SELECT value FROM memories WHERE namespace = ?1 AND key = ?2",
                params![namespace, key],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql("reading memory"))
    }

    /// The `k` memories of a namespace that best match the words of
    /// `query` (full-text, BM25), as `(key, value, score)`.
    pub fn search_memory(
        &self,
        namespace: &str,
        query: &str,
        k: u32,
    ) -> Result<Vec<(String, String, f64)>> {
        let terms: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| word.len() > 1)
            .map(|word| format!("\"{}\"", word.to_lowercase()))
            .collect();
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let connection = self.connection();
        // SQLite: FTS5 ranked by BM25 (negated: higher is better).
        // PostgreSQL: the `simple` text-search configuration (no stemming,
        // as FTS5's default tokenizer) ranked by `ts_rank`; the words are
        // OR-ed as the FTS5 query is.
        let (statement, words) = match connection.dialect() {
            crate::db::Dialect::Sqlite => (
                "SELECT key, value, -bm25(memories) FROM memories
                 WHERE memories MATCH ?2 AND namespace = ?1 ORDER BY bm25(memories) LIMIT ?3",
                format!("value: ({})", terms.join(" OR ")),
            ),
            crate::db::Dialect::Postgres => (
                "SELECT key, value, ts_rank(to_tsvector('simple', value), query)::float8
                 FROM memories, to_tsquery('simple', ?2) query
                 WHERE namespace = ?1 AND to_tsvector('simple', value) @@ query
                 ORDER BY 3 DESC, key LIMIT ?3",
                terms
                    .iter()
                    .map(|term| format!("'{}'", term.trim_matches('"').replace('\'', "''")))
                    .collect::<Vec<_>>()
                    .join(" | "),
            ),
        };
        let rows = connection
            .query_map(statement, params![namespace, words, k], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get::<f64>(2)?))
            })
            .map_err(sql("searching memory"))?;
        rows.collect::<crate::db::DbResult<Vec<_>>>()
            .map_err(sql("searching memory"))
    }
}

fn flow_version(row: &crate::db::Row<'_, '_>) -> crate::db::DbResult<FlowVersion> {
    Ok(FlowVersion {
        flow: row.get(0)?,
        version: row.get(1)?,
        hash: row.get(2)?,
        content: row.get(3)?,
        path: row.get(4)?,
        note: row.get(5)?,
        saved_at: row.get(6)?,
    })
}

fn insert_events(
    transaction: &crate::db::Conn<'_>,
    run: &str,
    events: &[(u64, String)],
) -> Result<()> {
    let mut statement = transaction
        .prepare_cached(
            "INSERT INTO run_events (run, seq, event) VALUES (?1, ?2, ?3)
             ON CONFLICT (run, seq) DO UPDATE SET event = excluded.event",
        )
        .map_err(sql("storing run events"))?;
    for (seq, event) in events {
        statement
            .execute(params![run, *seq as i64, event])
            .map_err(sql("storing run events"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn memories_are_replaced_by_key_and_found_by_words() {
        let (_dir, store) = crate::scratch();
        store
            .remember("planner", "a", "the build uses cargo and make")
            .expect("write");
        store
            .remember("planner", "b", "deploys go through staging first")
            .expect("write");
        store
            .remember("planner", "a", "the build uses cargo, make and npm")
            .expect("replace");
        store
            .remember("other", "c", "cargo everywhere")
            .expect("write");
        assert_eq!(
            store.recall("planner", "a").expect("read").as_deref(),
            Some("the build uses cargo, make and npm")
        );
        let found = store
            .search_memory("planner", "how does the build work? cargo", 5)
            .expect("search");
        assert_eq!(
            found
                .iter()
                .map(|(key, _, _)| key.as_str())
                .collect::<Vec<_>>(),
            vec!["a"]
        );
        assert!(store
            .search_memory("planner", "?!", 5)
            .expect("search")
            .is_empty());
    }

    #[test]
    fn flow_versions_skip_unchanged_content() {
        let (_dir, store) = crate::scratch();
        assert_eq!(
            store
                .save_flow_version("f", "{1}", "h1", None, "run")
                .expect("save"),
            (1, true)
        );
        assert_eq!(
            store
                .save_flow_version("f", "{1}", "h1", None, "run")
                .expect("save"),
            (1, false)
        );
        assert_eq!(
            store
                .save_flow_version("f", "{2}", "h2", None, "save")
                .expect("save"),
            (2, true)
        );
        assert_eq!(store.flows().expect("list")[0].version, 2);
        assert!(store.publish_agent("a", "1.0.0", "{}").expect("publish"));
        assert!(!store
            .publish_agent("a", "1.0.0", "{changed}")
            .expect("immutable"));
    }
}
