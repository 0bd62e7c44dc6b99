//! What each OTLP endpoint has been sent. The runs themselves are the
//! buffer: a run's end is a `run` span fact (ids only grow, in commit
//! order), and an endpoint's cursor is the last such fact it accepted. An
//! endpoint that is down keeps its cursor; its backlog is every run ending
//! after it, sent in order once it is back. A cursor moves only after the
//! endpoint accepted the runs, under a lease, so no two processes send the
//! same runs.

use rusqlite::params;

use crate::db::Optional;
use serde::Serialize;

use crate::{now_ms, signed, sql, Result, Store};

/// One run ending an endpoint has not been sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRun {
    /// The `run` fact's id (the cursor moves to it once sent).
    pub fact: i64,
    /// Run id.
    pub run: String,
    /// Flow name.
    pub flow: String,
    /// Project searched, or empty.
    pub project: String,
    /// Sequence number of the previous ending of this run (a resumed run
    /// ends more than once): the events after it belong to this part.
    pub after_seq: Option<u64>,
    /// Sequence number of this ending.
    pub upto_seq: u64,
    /// The W3C `traceparent` of the request that started the run, when
    /// its header keeps one.
    pub trace_parent: Option<String>,
}

/// An endpoint's export state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OtlpCursor {
    /// Endpoint name.
    pub endpoint: String,
    /// Runs sent so far.
    pub runs_sent: u64,
    /// Spans sent so far.
    pub spans_sent: u64,
    /// Spans the endpoint said it rejected (partial successes).
    pub rejected: u64,
    /// Runs skipped because the backlog was over its bound.
    pub dropped: u64,
    /// Run endings waiting to be sent.
    pub pending: u64,
    /// The last failure, cleared by the next success.
    pub last_error: Option<String>,
    /// Unix milliseconds of the last try.
    pub last_attempt_ms: Option<i64>,
    /// Unix milliseconds of the last accepted export.
    pub last_sent_ms: Option<i64>,
}

/// SQL counting the run endings after the cursor `cursor` (an SQL
/// expression): what an endpoint is owed.
fn waiting(cursor: &str) -> String {
    format!("(SELECT count(*) FROM span_facts f WHERE f.kind = 'run' AND f.id > {cursor})")
}

impl Store {
    /// Starts tracking an endpoint: from the next run on (`from_now`), or
    /// from the first stored run. Nothing when it is tracked already with
    /// the same `target` (its URL and protocol); a name that now points
    /// elsewhere starts over, so a new endpoint never inherits an old one's
    /// place.
    pub fn otlp_track(&self, endpoint: &str, target: &str, from_now: bool) -> Result<()> {
        let action = "tracking an OTLP endpoint";
        let connection = self.connection();
        // A read first: the background sender calls this every pass, and a
        // write statement would take the write lock even when it changes
        // nothing.
        let tracked: Option<String> = connection
            .query_row(
                "SELECT target FROM otlp_cursors WHERE endpoint = ?1",
                params![endpoint],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql(action))?;
        if tracked.as_deref() == Some(target) {
            return Ok(());
        }
        let start = if from_now {
            "(SELECT coalesce(max(id), 0) FROM span_facts)"
        } else {
            "0"
        };
        connection
            .execute(
                &format!(
                    "INSERT INTO otlp_cursors (endpoint, target, fact) VALUES (?1, ?2, {start})
                     ON CONFLICT (endpoint) DO UPDATE SET target = excluded.target,
                         fact = excluded.fact, runs_sent = 0, spans_sent = 0, rejected = 0,
                         dropped = 0, last_error = NULL, last_attempt_ms = NULL,
                         last_sent_ms = NULL, lease_owner = NULL, lease_until_ms = 0"
                ),
                params![endpoint, target],
            )
            .map_err(sql(action))?;
        Ok(())
    }

    /// Stops tracking an endpoint (its name freed for a new one).
    pub fn otlp_forget(&self, endpoint: &str) -> Result<()> {
        self.connection()
            .execute(
                "DELETE FROM otlp_cursors WHERE endpoint = ?1",
                params![endpoint],
            )
            .map_err(sql("forgetting an OTLP endpoint"))?;
        Ok(())
    }

    /// Takes (or renews) the right to send to `endpoint` for `lease_ms`:
    /// `false` while another owner holds it.
    pub fn otlp_claim(&self, endpoint: &str, owner: &str, lease_ms: u64) -> Result<bool> {
        let now = now_ms();
        let until = now.saturating_add(i64::try_from(lease_ms).unwrap_or(i64::MAX));
        let changed = self
            .connection()
            .execute(
                "UPDATE otlp_cursors SET lease_owner = ?2, lease_until_ms = ?3
                 WHERE endpoint = ?1 AND (lease_owner IS NULL OR lease_owner = ?2 OR lease_until_ms < ?4)",
                params![endpoint, owner, until, now],
            )
            .map_err(sql("claiming an OTLP endpoint"))?;
        Ok(changed == 1)
    }

    /// Gives the lease back.
    pub fn otlp_release(&self, endpoint: &str, owner: &str) -> Result<()> {
        self.connection()
            .execute(
                "UPDATE otlp_cursors SET lease_owner = NULL, lease_until_ms = 0
                 WHERE endpoint = ?1 AND lease_owner = ?2",
                params![endpoint, owner],
            )
            .map_err(sql("releasing an OTLP endpoint"))?;
        Ok(())
    }

    /// The oldest run endings not yet sent to `endpoint`, at most `limit`.
    pub fn otlp_pending(&self, endpoint: &str, limit: u32) -> Result<Vec<PendingRun>> {
        let action = "reading the OTLP backlog";
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT f.id, f.run, f.seq, coalesce(t.flow, f.flow), coalesce(t.project, f.project),
                    (SELECT max(p.seq) FROM span_facts p
                     WHERE p.run = f.run AND p.kind = 'run' AND p.seq < f.seq),
                    json_extract(r.header, '$.trace_parent')
                 FROM span_facts f LEFT JOIN run_tags t ON t.run = f.run LEFT JOIN runs r ON r.id = f.run
                 WHERE f.kind = 'run'
                   AND f.id > (SELECT fact FROM otlp_cursors WHERE endpoint = ?1)
                 ORDER BY f.id LIMIT ?2",
            )
            .map_err(sql(action))?;
        let rows = statement
            .query_map(params![endpoint, limit], |row| {
                Ok(PendingRun {
                    fact: row.get(0)?,
                    run: row.get(1)?,
                    upto_seq: row.get::<i64>(2)?.try_into().unwrap_or(0),
                    flow: row.get(3)?,
                    project: row.get(4)?,
                    after_seq: row
                        .get::<Option<i64>>(5)?
                        .and_then(|seq| seq.try_into().ok()),
                    trace_parent: row.get(6)?,
                })
            })
            .map_err(sql(action))?;
        rows.collect::<crate::db::DbResult<Vec<_>>>()
            .map_err(sql(action))
    }

    /// Events of `run` with `after < seq <= upto`, in order.
    pub fn run_events_between(
        &self,
        run: &str,
        after: Option<u64>,
        upto: u64,
    ) -> Result<Vec<String>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached("SELECT event FROM run_events WHERE run = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq")
            .map_err(sql("reading run events"))?;
        let after = after.map_or(-1, |after| i64::try_from(after).unwrap_or(i64::MAX));
        let upto = i64::try_from(upto).unwrap_or(i64::MAX);
        let rows = statement
            .query_map(params![run, after, upto], |row| row.get(0))
            .map_err(sql("reading run events"))?;
        rows.collect::<crate::db::DbResult<Vec<String>>>()
            .map_err(sql("reading run events"))
    }

    /// Records an accepted export: the cursor moves to `upto_fact` — only
    /// for the lease's owner and only forward (`false` otherwise: the runs
    /// were sent by someone else meanwhile, which the lease prevents).
    pub fn otlp_sent(
        &self,
        endpoint: &str,
        owner: &str,
        upto_fact: i64,
        runs: u64,
        spans: u64,
        rejected: u64,
    ) -> Result<bool> {
        let changed = self
            .connection()
            .execute(
                "UPDATE otlp_cursors SET fact = ?3, runs_sent = runs_sent + ?4, spans_sent = spans_sent + ?5,
                        rejected = rejected + ?6, last_error = NULL, last_attempt_ms = ?7, last_sent_ms = ?7
                 WHERE endpoint = ?1 AND lease_owner = ?2 AND fact < ?3",
                params![endpoint, owner, upto_fact, signed(runs), signed(spans), signed(rejected), now_ms()],
            )
            .map_err(sql("recording an OTLP export"))?;
        Ok(changed == 1)
    }

    /// Skips one run ending the endpoint refuses for good (a request it
    /// will never accept): the cursor moves past it, counted as dropped.
    pub fn otlp_skip(&self, endpoint: &str, owner: &str, fact: i64, reason: &str) -> Result<bool> {
        let changed = self
            .connection()
            .execute(
                "UPDATE otlp_cursors SET fact = ?3, dropped = dropped + 1, last_error = ?4, last_attempt_ms = ?5
                 WHERE endpoint = ?1 AND lease_owner = ?2 AND fact < ?3",
                params![endpoint, owner, fact, reason, now_ms()],
            )
            .map_err(sql("skipping a refused run"))?;
        Ok(changed == 1)
    }

    /// Records a failed try (the cursor stays).
    pub fn otlp_failed(&self, endpoint: &str, error: &str) -> Result<()> {
        self.connection()
            .execute(
                "UPDATE otlp_cursors SET last_error = ?2, last_attempt_ms = ?3 WHERE endpoint = ?1",
                params![endpoint, error, now_ms()],
            )
            .map_err(sql("recording an OTLP failure"))?;
        Ok(())
    }

    /// Keeps an endpoint's backlog within `keep` run endings: the oldest
    /// beyond it are skipped and counted as dropped. Returns how many.
    pub fn otlp_bound(&self, endpoint: &str, keep: u64) -> Result<u64> {
        let action = "bounding the OTLP backlog";
        let mut connection = self.connection();
        // A plain read first: within the bound (always, but for a long
        // outage) no write lock is taken.
        let over: bool = connection
            .query_row(
                &format!(
                    "SELECT {} > ?2",
                    waiting("(SELECT fact FROM otlp_cursors WHERE endpoint = ?1)")
                ),
                params![endpoint, signed(keep)],
                |row| row.get(0),
            )
            .map_err(sql(action))?;
        if !over {
            return Ok(0);
        }
        let transaction = connection
            .transaction_with(crate::db::Begin::Immediate)
            .map_err(sql(action))?;
        let cursor: Option<i64> = transaction
            .query_row(
                "SELECT fact FROM otlp_cursors WHERE endpoint = ?1",
                params![endpoint],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql(action))?;
        let Some(cursor) = cursor else {
            return Ok(0);
        };
        let pending: i64 = transaction
            .query_row(
                &format!("SELECT {}", waiting("?1")),
                params![cursor],
                |row| row.get(0),
            )
            .map_err(sql(action))?;
        let excess = u64::try_from(pending).unwrap_or(0).saturating_sub(keep);
        if excess == 0 {
            return Ok(0);
        }
        // The new cursor: the `excess`-th oldest pending ending.
        let skip_to: i64 = transaction
            .query_row(
                "SELECT id FROM span_facts WHERE kind = 'run' AND id > ?1 ORDER BY id LIMIT 1 OFFSET ?2",
                params![cursor, i64::try_from(excess - 1).unwrap_or(i64::MAX)],
                |row| row.get(0),
            )
            .map_err(sql(action))?;
        transaction
            .execute(
                "UPDATE otlp_cursors SET fact = ?2, dropped = dropped + ?3 WHERE endpoint = ?1",
                params![endpoint, skip_to, i64::try_from(excess).unwrap_or(i64::MAX)],
            )
            .map_err(sql(action))?;
        transaction.commit().map_err(sql(action))?;
        Ok(excess)
    }

    /// Run endings `endpoint` is owed (0 when it is not tracked).
    pub fn otlp_waiting(&self, endpoint: &str) -> Result<u64> {
        let waiting: i64 = self
            .connection()
            .query_row(
                &format!(
                    "SELECT coalesce({}, 0)",
                    waiting("(SELECT fact FROM otlp_cursors WHERE endpoint = ?1)")
                ),
                params![endpoint],
                |row| row.get(0),
            )
            .map_err(sql("counting the OTLP backlog"))?;
        Ok(u64::try_from(waiting).unwrap_or(0))
    }

    /// Every tracked endpoint's state.
    pub fn otlp_status(&self) -> Result<Vec<OtlpCursor>> {
        let action = "reading the OTLP export state";
        let connection = self.connection();
        let mut statement = connection
            .prepare(&format!(
                "SELECT endpoint, runs_sent, spans_sent, rejected, dropped, {},
                    last_error, last_attempt_ms, last_sent_ms
                 FROM otlp_cursors c ORDER BY endpoint",
                waiting("c.fact")
            ))
            .map_err(sql(action))?;
        let count = |value: i64| u64::try_from(value).unwrap_or(0);
        let rows = statement
            .query_map(&[], |row| {
                Ok(OtlpCursor {
                    endpoint: row.get(0)?,
                    runs_sent: count(row.get(1)?),
                    spans_sent: count(row.get(2)?),
                    rejected: count(row.get(3)?),
                    dropped: count(row.get(4)?),
                    pending: count(row.get(5)?),
                    last_error: row.get(6)?,
                    last_attempt_ms: row.get(7)?,
                    last_sent_ms: row.get(8)?,
                })
            })
            .map_err(sql(action))?;
        rows.collect::<crate::db::DbResult<Vec<_>>>()
            .map_err(sql(action))
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use crate::Store;

    use crate::scratch as store;

    /// A run ending (`run` fact) of `run` at `seq`.
    fn ending(store: &Store, run: &str, seq: i64) {
        store
            .connection()
            .execute(
                "INSERT INTO span_facts (run, seq, at_ms, kind, flow, project, node, provider, model, ok,
                    tokens_in, tokens_out, cached, unpriced, fallbacks)
                 VALUES (?1, ?2, 0, 'run', 'qa', '', '', '', '', 1, 0, 0, 0, 0, 0)",
                params![run, seq],
            )
            .expect("fact");
    }

    #[test]
    fn the_cursor_moves_only_for_the_leases_owner_and_only_forward() {
        let (_dir, store) = store();
        ending(&store, "old", 3);
        store
            .otlp_track("a", "http://a", true)
            .expect("track from now");
        store
            .otlp_track("b", "http://b", false)
            .expect("track from the start");
        assert!(
            store.otlp_pending("a", 10).expect("pending").is_empty(),
            "from now: the old run is not owed"
        );
        ending(&store, "r1", 5);
        ending(&store, "r1", 9);
        let owed = store.otlp_pending("b", 10).expect("pending");
        assert_eq!(
            owed.iter()
                .map(|run| (run.run.as_str(), run.after_seq, run.upto_seq))
                .collect::<Vec<_>>(),
            [("old", None, 3), ("r1", None, 5), ("r1", Some(5), 9)]
        );
        // One owner at a time.
        assert!(store.otlp_claim("b", "app", 60_000).expect("claim"));
        assert!(
            !store.otlp_claim("b", "cli", 60_000).expect("claim"),
            "held by the app"
        );
        assert!(
            !store
                .otlp_sent("b", "cli", owed[1].fact, 2, 10, 0)
                .expect("sent"),
            "not the owner"
        );
        assert!(store
            .otlp_sent("b", "app", owed[1].fact, 2, 10, 1)
            .expect("sent"));
        assert!(
            !store
                .otlp_sent("b", "app", owed[0].fact, 1, 5, 0)
                .expect("sent"),
            "never backwards"
        );
        let left = store.otlp_pending("b", 10).expect("pending");
        assert_eq!(left.len(), 1);
        store.otlp_release("b", "app").expect("release");
        assert!(
            store.otlp_claim("b", "cli", 60_000).expect("claim"),
            "free again"
        );
        store.otlp_failed("b", "down").expect("failed");
        let status = store.otlp_status().expect("status");
        let b = status
            .iter()
            .find(|cursor| cursor.endpoint == "b")
            .expect("b");
        assert_eq!(
            (
                b.runs_sent,
                b.spans_sent,
                b.rejected,
                b.pending,
                b.last_error.as_deref()
            ),
            (2, 10, 1, 1, Some("down"))
        );
        // The same name tracked again for the same target keeps its place…
        store.otlp_track("b", "http://b", false).expect("track");
        assert_eq!(store.otlp_pending("b", 10).expect("pending").len(), 1);
        // …a name now pointing elsewhere starts over, from now.
        store
            .otlp_track("b", "http://elsewhere", true)
            .expect("retarget");
        assert!(store.otlp_pending("b", 10).expect("pending").is_empty());
    }

    #[test]
    fn a_backlog_over_its_bound_drops_the_oldest_and_counts_them() {
        let (_dir, store) = store();
        store.otlp_track("a", "http://a", true).expect("track");
        for seq in 0..5 {
            ending(&store, &format!("r{seq}"), seq);
        }
        assert_eq!(store.otlp_bound("a", 10).expect("bound"), 0);
        assert_eq!(store.otlp_bound("a", 2).expect("bound"), 3);
        let left: Vec<String> = store
            .otlp_pending("a", 10)
            .expect("pending")
            .into_iter()
            .map(|run| run.run)
            .collect();
        assert_eq!(left, ["r3", "r4"], "the newest kept, in order");
        assert_eq!(store.otlp_status().expect("status")[0].dropped, 3);
        // A run the endpoint refuses for good is skipped by the lease's owner.
        assert!(store.otlp_claim("a", "app", 60_000).expect("claim"));
        let first = store.otlp_pending("a", 1).expect("pending")[0].fact;
        assert!(
            !store.otlp_skip("a", "cli", first, "400").expect("skip"),
            "not the owner"
        );
        assert!(store
            .otlp_skip("a", "app", first, "400 Bad Request")
            .expect("skip"));
        let left: Vec<String> = store
            .otlp_pending("a", 10)
            .expect("pending")
            .into_iter()
            .map(|run| run.run)
            .collect();
        assert_eq!(left, ["r4"]);
        assert_eq!(store.otlp_status().expect("status")[0].dropped, 4);
        store.otlp_forget("a").expect("forget");
        assert!(store.otlp_status().expect("status").is_empty());
    }
}
