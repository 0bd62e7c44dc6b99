//! Analytics over stored runs: span facts derived from the run events as
//! they are stored (a run's end, a node's completion or final failure, a
//! model call), and daily roll-ups per dimension — flow, node, provider,
//! model, project — with a latency histogram, so a dashboard reads a few
//! hundred rows instead of every span.
//!
//! Facts are written in the transaction that stores their events (and
//! derived from existing events when the schema is created). Roll-ups are
//! brought up to date on read: every fact after the last one rolled up is
//! added, in chunks, under the write lock, so a fact is counted once.

use std::collections::HashMap;

use rusqlite::params;

use crate::db::Optional;

use crate::{sql, Result, Store};

/// The dimensions a dashboard breaks figures down by (`all` is the total).
pub const DIMENSIONS: [&str; 5] = ["flow", "node", "provider", "model", "project"];

/// Latency histogram buckets: 0 is under 1 ms; bucket `i` holds
/// `[1.25^(i-1), 1.25^i)` ms, up to about 18 days.
pub const BUCKETS: usize = 96;
const GROWTH: f64 = 1.25;

/// The facts of stored events, derived in SQL from their JSON: used once,
/// when an older data home gets the analytics tables. Live runs derive the
/// same facts from their typed events (the runtime's `span_facts`), which
/// costs a stored event no JSON parsing; the upgrade test and the CLI's
/// analytics test check that both give the same figures.
fn derive_spans_sql(filter: &str) -> String {
    format!(
        r"
    INSERT OR IGNORE INTO span_facts
        (run, seq, at_ms, kind, flow, project, node, provider, model, ok, latency_ms,
         tokens_in, tokens_out, cached, cost_usd, unpriced, fallbacks)
    SELECT e.run, e.seq, json_extract(e.event, '$.atMs'),
        CASE json_extract(e.event, '$.event.type')
            WHEN 'modelCall' THEN 'model' WHEN 'runFinished' THEN 'run' ELSE 'node' END,
        r.flow,
        r.project,
        CASE WHEN instr(coalesce(json_extract(e.event, '$.node'), ''), '/') > 0
            THEN substr(json_extract(e.event, '$.node'), 1, instr(json_extract(e.event, '$.node'), '/') - 1)
            ELSE coalesce(json_extract(e.event, '$.node'), '') END,
        coalesce(json_extract(e.event, '$.event.provider'), ''),
        coalesce(json_extract(e.event, '$.event.model'), ''),
        CASE json_extract(e.event, '$.event.type')
            WHEN 'runFinished' THEN CASE json_extract(e.event, '$.event.status')
                WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 0 ELSE 2 END
            WHEN 'nodeFailed' THEN 0 ELSE 1 END,
        CASE json_extract(e.event, '$.event.type')
            WHEN 'modelCall' THEN json_extract(e.event, '$.event.usage.latency_ms')
            WHEN 'nodeFinished' THEN json_extract(e.event, '$.event.durationMs')
            WHEN 'runFinished' THEN json_extract(e.event, '$.atMs') - (
                SELECT json_extract(first.event, '$.atMs') FROM run_events first
                WHERE first.run = e.run ORDER BY first.seq LIMIT 1)
            ELSE NULL END,
        coalesce(json_extract(e.event, '$.event.usage.prompt_tokens'), 0),
        coalesce(json_extract(e.event, '$.event.usage.completion_tokens'), 0),
        coalesce(json_extract(e.event, '$.event.usage.cached_tokens'), 0),
        json_extract(e.event, '$.event.usage.cost_usd'),
        coalesce(json_extract(e.event, '$.event.usage.unpriced'), 0),
        coalesce((SELECT count(*) FROM json_each(e.event, '$.event.usage.attempts') attempt
                  WHERE json_extract(attempt.value, '$.outcome') <> 'ok'), 0)
    FROM run_events e JOIN run_tags r ON r.run = e.run
    WHERE {filter} AND (
        json_extract(e.event, '$.event.type') IN ('modelCall', 'nodeFinished', 'runFinished')
        OR (json_extract(e.event, '$.event.type') = 'nodeFailed'
            AND json_extract(e.event, '$.event.retrying') = 0))
    AND (json_extract(e.event, '$.event.type') IN ('modelCall', 'runFinished')
         OR instr(coalesce(json_extract(e.event, '$.node'), ''), '/') = 0)
"
    )
}

/// One span fact of a run, derived from its events by the caller (the
/// runtime, from typed events) and stored with them.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanFact {
    /// Sequence number of the event it comes from.
    pub seq: u64,
    /// Unix milliseconds of that event.
    pub at_ms: u64,
    /// `run`, `node` or `model`.
    pub kind: &'static str,
    /// Top-level node id (empty for a run).
    pub node: String,
    /// Provider that answered (model calls).
    pub provider: String,
    /// Model that answered (model calls).
    pub model: String,
    /// 1 succeeded, 0 failed, 2 cancelled (runs).
    pub ok: u8,
    /// Milliseconds it took; none for a run (the store measures it from the
    /// run's first event) or a node's final failure.
    pub latency_ms: Option<u64>,
    /// Prompt tokens.
    pub tokens_in: u64,
    /// Generated tokens.
    pub tokens_out: u64,
    /// Prompt tokens from a cache.
    pub cached: u64,
    /// Dollars, when priced.
    pub cost_usd: Option<f64>,
    /// A remote model with no price.
    pub unpriced: bool,
    /// Provider attempts that failed or were skipped first.
    pub fallbacks: u32,
}

/// Stores the facts of a run's events, in the transaction that stores them.
pub(crate) fn insert_facts(
    transaction: &crate::db::Conn<'_>,
    run: &str,
    facts: &[SpanFact],
) -> Result<()> {
    if facts.is_empty() {
        return Ok(());
    }
    let action = "storing analytics facts";
    // The run's flow and project, read once for all its facts (a run with
    // none stored gets no facts, as before the tags existed).
    let Some((flow, project)) = transaction
        .query_row(
            "SELECT flow, project FROM run_tags WHERE run = ?1",
            params![run],
            |row| Ok((row.get::<String>(0)?, row.get::<String>(1)?)),
        )
        .optional()
        .map_err(sql(action))?
    else {
        return Ok(());
    };
    let mut insert = transaction
        .prepare_cached(
            "INSERT INTO span_facts
                (run, seq, at_ms, kind, flow, project, node, provider, model, ok, latency_ms,
                 tokens_in, tokens_out, cached, cost_usd, unpriced, fallbacks)
             VALUES (?1, ?2, ?3, ?4, ?16, ?17, ?5, ?6, ?7, ?8, ?9,
                 ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT DO NOTHING",
        )
        .map_err(sql(action))?;
    let number = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    for fact in facts {
        // A run's latency runs from its first stored event (once per run).
        let latency = match (fact.latency_ms, fact.kind) {
            (Some(latency), _) => Some(number(latency)),
            (None, "run") => transaction
                .prepare_cached(
                    "SELECT CAST(json_extract(event, '$.atMs') AS BIGINT) FROM run_events
                     WHERE run = ?1 ORDER BY seq LIMIT 1",
                )
                .and_then(|mut statement| {
                    statement.query_row(params![run], |row| row.get::<Option<i64>>(0))
                })
                .optional()
                .map_err(sql(action))?
                .flatten()
                .map(|start| number(fact.at_ms) - start),
            (None, _) => None,
        };
        insert
            .execute(params![
                run,
                number(fact.seq),
                number(fact.at_ms),
                fact.kind,
                fact.node,
                fact.provider,
                fact.model,
                fact.ok,
                latency,
                number(fact.tokens_in),
                number(fact.tokens_out),
                number(fact.cached),
                fact.cost_usd,
                fact.unpriced,
                fact.fallbacks,
                flow,
                project,
            ])
            .map_err(sql(action))?;
    }
    Ok(())
}

/// Derives the facts of every stored event (when the tables are created).
pub(crate) fn derive_all_spans(transaction: &crate::db::Conn<'_>) -> Result<()> {
    transaction
        .execute_batch(&derive_spans_sql("1 = 1"))
        .map_err(sql("deriving analytics from stored runs"))
}

/// The bucket of a latency.
#[must_use]
pub fn bucket(latency_ms: u64) -> usize {
    if latency_ms < 1 {
        return 0;
    }
    #[expect(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a small positive bucket index"
    )]
    let index = ((latency_ms as f64).ln() / GROWTH.ln()).floor() as usize + 1;
    index.min(BUCKETS - 1)
}

/// The latency a bucket stands for: its geometric middle (ms).
#[must_use]
pub fn bucket_value(index: usize) -> f64 {
    if index == 0 {
        return 0.5;
    }
    let low = GROWTH.powi(i32::try_from(index - 1).unwrap_or(i32::MAX));
    low * GROWTH.sqrt()
}

/// The `share` quantile (0.5, 0.95) of a histogram, in ms (none when empty).
#[must_use]
pub fn quantile(histogram: &[u32], share: f64) -> Option<f64> {
    let total: u64 = histogram.iter().map(|count| u64::from(*count)).sum();
    if total == 0 {
        return None;
    }
    #[expect(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a rank within the count"
    )]
    let rank = ((total as f64 * share).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for (index, count) in histogram.iter().enumerate() {
        seen += u64::from(*count);
        if seen >= rank {
            return Some(bucket_value(index));
        }
    }
    None
}

/// Figures of one kind of span for one value of a dimension on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    /// `run`, `node` or `model`.
    pub kind: String,
    /// The dimension's value (`flow › node` for nodes; empty for `all`).
    pub value: String,
    /// Spans.
    pub count: u64,
    /// Failed (runs and nodes).
    pub failures: u64,
    /// Cancelled runs.
    pub cancelled: u64,
    /// Spans with a latency.
    pub timed: u64,
    /// Sum of their latencies, ms.
    pub latency_sum_ms: u64,
    /// Prompt tokens.
    pub tokens_in: u64,
    /// Generated tokens.
    pub tokens_out: u64,
    /// Prompt tokens from a cache.
    pub cached: u64,
    /// Dollars of the priced calls.
    pub cost_usd: f64,
    /// Remote calls with no price.
    pub unpriced: u64,
    /// Failed or skipped provider attempts before an answer.
    pub fallbacks: u64,
    /// Calls that needed at least one fallback.
    pub fell_back: u64,
    /// Latency histogram ([`BUCKETS`] counts).
    pub histogram: Vec<u32>,
}

impl Rollup {
    /// Nothing counted yet.
    #[must_use]
    pub fn empty(day: i64, kind: &str, value: &str) -> Self {
        Self {
            day,
            kind: kind.to_owned(),
            value: value.to_owned(),
            count: 0,
            failures: 0,
            cancelled: 0,
            timed: 0,
            latency_sum_ms: 0,
            tokens_in: 0,
            tokens_out: 0,
            cached: 0,
            cost_usd: 0.0,
            unpriced: 0,
            fallbacks: 0,
            fell_back: 0,
            histogram: vec![0; BUCKETS],
        }
    }

    /// Adds another roll-up's figures.
    pub fn add(&mut self, other: &Self) {
        self.count += other.count;
        self.failures += other.failures;
        self.cancelled += other.cancelled;
        self.timed += other.timed;
        self.latency_sum_ms += other.latency_sum_ms;
        self.tokens_in += other.tokens_in;
        self.tokens_out += other.tokens_out;
        self.cached += other.cached;
        self.cost_usd += other.cost_usd;
        self.unpriced += other.unpriced;
        self.fallbacks += other.fallbacks;
        self.fell_back += other.fell_back;
        if self.histogram.len() < BUCKETS {
            self.histogram.resize(BUCKETS, 0);
        }
        for (mine, theirs) in self.histogram.iter_mut().zip(&other.histogram) {
            *mine += theirs;
        }
    }
}

fn encode_histogram(histogram: &[u32]) -> Vec<u8> {
    histogram
        .iter()
        .flat_map(|count| count.to_le_bytes())
        .collect()
}

fn decode_histogram(bytes: &[u8]) -> Vec<u32> {
    let mut histogram: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|chunk| u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect();
    histogram.resize(BUCKETS, 0);
    histogram
}

/// One fact, as read for rolling up.
struct Fact {
    at_ms: i64,
    kind: String,
    dims: [String; 5],
    ok: i64,
    latency_ms: Option<i64>,
    tokens_in: i64,
    tokens_out: i64,
    cached: i64,
    cost_usd: Option<f64>,
    unpriced: bool,
    fallbacks: i64,
}

const DAY_MS: i64 = 86_400_000;
const CHUNK: i64 = 50_000;

fn as_count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl Fact {
    fn add_to(&self, rollup: &mut Rollup) {
        rollup.count += 1;
        match (self.kind.as_str(), self.ok) {
            ("run" | "node", 0) => rollup.failures += 1,
            ("run", 2) => rollup.cancelled += 1,
            _ => {}
        }
        if let Some(latency) = self.latency_ms {
            let latency = as_count(latency);
            rollup.timed += 1;
            rollup.latency_sum_ms += latency;
            rollup.histogram[bucket(latency)] += 1;
        }
        rollup.tokens_in += as_count(self.tokens_in);
        rollup.tokens_out += as_count(self.tokens_out);
        rollup.cached += as_count(self.cached);
        rollup.cost_usd += self.cost_usd.unwrap_or(0.0);
        rollup.unpriced += u64::from(self.unpriced);
        rollup.fallbacks += as_count(self.fallbacks);
        rollup.fell_back += u64::from(self.fallbacks > 0);
    }
}

impl Store {
    /// Adds every fact stored since the last call to the daily roll-ups.
    /// Returns how many facts it added.
    pub fn catch_up_rollups(&self) -> Result<u64> {
        let mut added = 0;
        loop {
            let chunk = self.roll_up_chunk()?;
            if chunk == 0 {
                return Ok(added);
            }
            added += chunk;
        }
    }

    fn roll_up_chunk(&self) -> Result<u64> {
        let action = "rolling up analytics";
        let mut connection = self.connection();
        // A plain read first: with nothing new, no write lock is taken (a
        // dashboard open beside running flows never waits on them).
        let pending: bool = connection
            .query_row(
                "SELECT coalesce((SELECT max(id) FROM span_facts), 0) >
                        coalesce((SELECT value FROM analytics_state WHERE key = 'rolled_up'), 0)",
                &[],
                |row| row.get(0),
            )
            .map_err(sql(action))?;
        if !pending {
            return Ok(0);
        }
        let transaction = connection
            .transaction_with(crate::db::Begin::Immediate)
            .map_err(sql(action))?;
        let watermark: i64 = transaction
            .query_row(
                "SELECT value FROM analytics_state WHERE key = 'rolled_up'",
                &[],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql(action))?
            .unwrap_or(0);
        let mut groups: HashMap<(i64, &'static str, String, String), Rollup> = HashMap::new();
        let mut last = watermark;
        let mut read = 0;
        {
            let mut statement = transaction
                .prepare_cached(
                    "SELECT id, at_ms, kind, flow, node, provider, model, project, ok, latency_ms,
                            tokens_in, tokens_out, cached, cost_usd, unpriced, fallbacks
                     FROM span_facts WHERE id > ?1 ORDER BY id LIMIT ?2",
                )
                .map_err(sql(action))?;
            let rows = statement
                .query_map(params![watermark, CHUNK], |row| {
                    let id: i64 = row.get(0)?;
                    let flow: String = row.get(3)?;
                    let node: String = row.get(4)?;
                    let fact = Fact {
                        at_ms: row.get(1)?,
                        kind: row.get(2)?,
                        dims: [
                            flow.clone(),
                            if node.is_empty() {
                                String::new()
                            } else {
                                format!("{flow} › {node}")
                            },
                            row.get(5)?,
                            row.get(6)?,
                            row.get(7)?,
                        ],
                        ok: row.get(8)?,
                        latency_ms: row.get(9)?,
                        tokens_in: row.get(10)?,
                        tokens_out: row.get(11)?,
                        cached: row.get(12)?,
                        cost_usd: row.get(13)?,
                        unpriced: row.get(14)?,
                        fallbacks: row.get(15)?,
                    };
                    Ok((id, fact))
                })
                .map_err(sql(action))?;
            for row in rows {
                let (id, fact) = row.map_err(sql(action))?;
                let day = fact.at_ms.div_euclid(DAY_MS);
                let mut add = |dim: &'static str, value: &str| {
                    fact.add_to(
                        groups
                            .entry((day, dim, fact.kind.clone(), value.to_owned()))
                            .or_insert_with(|| Rollup::empty(day, &fact.kind, value)),
                    );
                };
                add("all", "");
                for (dim, value) in DIMENSIONS.iter().zip(&fact.dims) {
                    if !value.is_empty() {
                        add(dim, value);
                    }
                }
                last = id;
                read += 1;
            }
        }
        if read == 0 {
            return Ok(0);
        }
        merge_rollups(&transaction, groups)?;
        transaction
            .execute(
                "INSERT INTO analytics_state (key, value) VALUES ('rolled_up', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![last],
            )
            .map_err(sql(action))?;
        transaction.commit().map_err(sql(action))?;
        Ok(read)
    }

    /// The roll-ups of `dim` (`all` or one of [`DIMENSIONS`]) for days
    /// `from_day..=to_day` (days since 1970-01-01, UTC).
    pub fn rollups(&self, dim: &str, from_day: i64, to_day: i64) -> Result<Vec<Rollup>> {
        let action = "reading analytics";
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT day, kind, value, count, failures, cancelled, timed, latency_sum, tokens_in,
                        tokens_out, cached, cost_usd, unpriced, fallbacks, fell_back, histogram
                 FROM span_rollups WHERE dim = ?1 AND day BETWEEN ?2 AND ?3",
            )
            .map_err(sql(action))?;
        let rows = statement
            .query_map(params![dim, from_day, to_day], rollup_row)
            .map_err(sql(action))?;
        rows.collect::<crate::db::DbResult<Vec<_>>>()
            .map_err(sql(action))
    }

    /// The runs behind a figure: those with a span of the kind the figure
    /// counts in `from_ms..to_ms` where `dim` (one of [`DIMENSIONS`], or
    /// `all`) is `value`, newest first.
    pub fn span_runs(
        &self,
        dim: &str,
        value: &str,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> Result<Vec<crate::RunSummary>> {
        // The spans the figure counted: run endings for a day, a flow or a
        // project; node runs for a node; model calls for a provider or model.
        let kind = match dim {
            "node" => "node",
            "provider" | "model" => "model",
            _ => "run",
        };
        let column = match dim {
            "flow" => "f.flow",
            "node" => "f.flow || ' › ' || f.node",
            "provider" => "f.provider",
            "model" => "f.model",
            "project" => "f.project",
            _ => "''",
        };
        let action = "finding the runs behind a figure";
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(&format!(
                "SELECT r.id, r.flow, r.status, r.created_at, r.updated_at FROM runs r
                 WHERE r.id IN (SELECT DISTINCT f.run FROM span_facts f
                                WHERE f.kind = ?5 AND f.at_ms >= ?1 AND f.at_ms < ?2 AND {column} = ?3)
                 ORDER BY r.created_at DESC LIMIT ?4"
            ))
            .map_err(sql(action))?;
        let rows = statement
            .query_map(params![from_ms, to_ms, value, limit, kind], |row| {
                Ok(crate::RunSummary {
                    id: row.get(0)?,
                    flow: row.get(1)?,
                    status: row.get(2)?,
                    created_at: row.get(3)?,
                    updated_at: row.get(4)?,
                })
            })
            .map_err(sql(action))?;
        rows.collect::<crate::db::DbResult<Vec<_>>>()
            .map_err(sql(action))
    }

    /// The exact `share` quantile of the latencies of `kind` spans, read
    /// from every fact (benchmarks check the histogram's estimate with it).
    pub fn exact_latency_quantile(&self, kind: &str, share: f64) -> Result<Option<f64>> {
        let action = "reading a latency quantile";
        let connection = self.connection();
        let count: i64 = connection
            .query_row(
                "SELECT count(*) FROM span_facts WHERE kind = ?1 AND latency_ms IS NOT NULL",
                params![kind],
                |row| row.get(0),
            )
            .map_err(sql(action))?;
        if count == 0 {
            return Ok(None);
        }
        #[expect(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            reason = "a rank within the count"
        )]
        let rank = ((count as f64 * share).ceil() as i64).clamp(1, count);
        connection
            .query_row(
                "SELECT latency_ms FROM span_facts WHERE kind = ?1 AND latency_ms IS NOT NULL
                 ORDER BY latency_ms LIMIT 1 OFFSET ?2",
                params![kind, rank - 1],
                |row| row.get::<i64>(0),
            )
            .optional()
            .map(|value| value.map(|value| value as f64))
            .map_err(sql(action))
    }

    /// Facts stored (for benchmarks and checks).
    pub fn span_count(&self) -> Result<u64> {
        self.connection()
            .query_row("SELECT count(*) FROM span_facts", &[], |row| {
                row.get::<i64>(0)
            })
            .map(as_count)
            .map_err(sql("counting analytics facts"))
    }
}

/// A roll-up row read with the columns `day, kind, value, count, failures,
/// cancelled, timed, latency_sum, tokens_in, tokens_out, cached, cost_usd,
/// unpriced, fallbacks, fell_back, histogram`, in that order.
fn rollup_row(row: &crate::db::Row<'_, '_>) -> crate::db::DbResult<Rollup> {
    let count = |index| row.get::<i64>(index).map(as_count);
    Ok(Rollup {
        day: row.get(0)?,
        kind: row.get(1)?,
        value: row.get(2)?,
        count: count(3)?,
        failures: count(4)?,
        cancelled: count(5)?,
        timed: count(6)?,
        latency_sum_ms: count(7)?,
        tokens_in: count(8)?,
        tokens_out: count(9)?,
        cached: count(10)?,
        cost_usd: row.get(11)?,
        unpriced: count(12)?,
        fallbacks: count(13)?,
        fell_back: count(14)?,
        histogram: decode_histogram(&row.get::<Vec<u8>>(15)?),
    })
}

fn merge_rollups(
    transaction: &crate::db::Conn<'_>,
    groups: HashMap<(i64, &'static str, String, String), Rollup>,
) -> Result<()> {
    let action = "rolling up analytics";
    let mut read = transaction
        .prepare_cached(
            "SELECT day, kind, value, count, failures, cancelled, timed, latency_sum, tokens_in,
                    tokens_out, cached, cost_usd, unpriced, fallbacks, fell_back, histogram
             FROM span_rollups WHERE dim = ?1 AND day = ?2 AND kind = ?3 AND value = ?4",
        )
        .map_err(sql(action))?;
    let mut write = transaction
        .prepare_cached(
            "INSERT INTO span_rollups (dim, day, kind, value, count, failures, cancelled,
                 timed, latency_sum, tokens_in, tokens_out, cached, cost_usd, unpriced, fallbacks,
                 fell_back, histogram)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
             ON CONFLICT (dim, day, kind, value) DO UPDATE SET count = excluded.count,
                 failures = excluded.failures, cancelled = excluded.cancelled, timed = excluded.timed,
                 latency_sum = excluded.latency_sum, tokens_in = excluded.tokens_in,
                 tokens_out = excluded.tokens_out, cached = excluded.cached,
                 cost_usd = excluded.cost_usd, unpriced = excluded.unpriced,
                 fallbacks = excluded.fallbacks, fell_back = excluded.fell_back,
                 histogram = excluded.histogram",
        )
        .map_err(sql(action))?;
    for ((day, dim, kind, value), mut rollup) in groups {
        let stored = read
            .query_row(params![dim, day, kind, value], rollup_row)
            .optional()
            .map_err(sql(action))?;
        if let Some(stored) = stored {
            rollup.add(&stored);
        }
        let number = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        write
            .execute(params![
                dim,
                day,
                kind,
                value,
                number(rollup.count),
                number(rollup.failures),
                number(rollup.cancelled),
                number(rollup.timed),
                number(rollup.latency_sum_ms),
                number(rollup.tokens_in),
                number(rollup.tokens_out),
                number(rollup.cached),
                rollup.cost_usd,
                number(rollup.unpriced),
                number(rollup.fallbacks),
                number(rollup.fell_back),
                encode_histogram(&rollup.histogram),
            ])
            .map_err(sql(action))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{bucket, bucket_value, quantile, BUCKETS};

    #[test]
    fn a_latency_falls_in_a_bucket_whose_value_is_within_12_percent() {
        for latency in [1_u64, 7, 99, 1_000, 12_345, 3_600_000] {
            let value = bucket_value(bucket(latency));
            #[expect(clippy::cast_precision_loss, reason = "test latencies")]
            let error = (value - latency as f64).abs() / latency as f64;
            assert!(error <= 0.125, "{latency} ms → {value} ms ({error})");
        }
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_read_the_histogram_by_rank() {
        let mut histogram = vec![0; BUCKETS];
        for latency in 1..=100 {
            histogram[bucket(latency * 10)] += 1;
        }
        let median = quantile(&histogram, 0.5).expect("median");
        assert!((median - 500.0).abs() / 500.0 <= 0.125, "{median}");
        let p95 = quantile(&histogram, 0.95).expect("p95");
        assert!((p95 - 950.0).abs() / 950.0 <= 0.125, "{p95}");
        assert_eq!(quantile(&vec![0; BUCKETS], 0.5), None);
    }
}
