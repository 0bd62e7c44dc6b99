//! A team server's triggers (incoming webhooks and cron schedules that
//! start runs), its outgoing webhooks, and their delivery log.
//!
//! Rows only: the server decides schedules, signatures and retries. A
//! delivery is queued in the database before anything is sent, so a server
//! that stops mid-delivery sends it after its restart. Times are Unix
//! milliseconds.

use rusqlite::params;

use crate::db::Optional;
use serde::Serialize;

use crate::{now_ms, signed, sql, Result, Store};

/// A trigger: what starts runs of one flow without anybody clicking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    /// Its id (in the webhook's URL).
    pub id: String,
    /// Its workspace.
    pub workspace: String,
    /// `webhook` or `cron`.
    pub kind: String,
    /// The flow it runs.
    pub flow: String,
    /// A cron trigger's schedule.
    pub schedule: Option<String>,
    /// The run's input (JSON object; a webhook adds the request as `event`).
    pub input: String,
    /// The account whose role the runs use.
    pub created_by: String,
    /// When it was made.
    pub created_at_ms: u64,
    /// A cron trigger's next run.
    pub next_at_ms: Option<u64>,
    /// When it last fired.
    pub fired_at_ms: Option<u64>,
    /// The run it last started.
    pub last_run: Option<String>,
    /// Why its last firing started no run.
    pub last_error: Option<String>,
}

const TRIGGER_COLUMNS: &str = "id, workspace, kind, flow, schedule, input, created_by, \
                               created_at, next_at, fired_at, last_run, last_error";

fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn trigger_row(row: &crate::db::Row<'_, '_>) -> crate::db::DbResult<Trigger> {
    Ok(Trigger {
        id: row.get(0)?,
        workspace: row.get(1)?,
        kind: row.get(2)?,
        flow: row.get(3)?,
        schedule: row.get(4)?,
        input: row.get(5)?,
        created_by: row.get(6)?,
        created_at_ms: unsigned(row.get(7)?),
        next_at_ms: row.get::<Option<i64>>(8)?.map(unsigned),
        fired_at_ms: row.get::<Option<i64>>(9)?.map(unsigned),
        last_run: row.get(10)?,
        last_error: row.get(11)?,
    })
}

/// An outgoing webhook: run events of a workspace sent to a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hook {
    /// Its id.
    pub id: String,
    /// Its workspace.
    pub workspace: String,
    /// Where events go.
    pub url: String,
    /// The events it wants (`run.started`, `run.succeeded`, …).
    pub events: Vec<String>,
    /// Only runs of this flow.
    pub flow: Option<String>,
    /// Who made it.
    pub created_by: String,
    /// When.
    pub created_at_ms: u64,
}

const HOOK_COLUMNS: &str = "id, workspace, url, events, flow, created_by, created_at";

fn hook_row(row: &crate::db::Row<'_, '_>) -> crate::db::DbResult<Hook> {
    let events: String = row.get(3)?;
    Ok(Hook {
        id: row.get(0)?,
        workspace: row.get(1)?,
        url: row.get(2)?,
        events: events
            .split(',')
            .filter(|event| !event.is_empty())
            .map(str::to_owned)
            .collect(),
        flow: row.get(4)?,
        created_by: row.get(5)?,
        created_at_ms: unsigned(row.get(6)?),
    })
}

/// One event for one hook, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Its number (sent as `X-CodexOS-Delivery`).
    pub id: i64,
    /// The hook.
    pub hook: String,
    /// The event (`run.succeeded`, …).
    pub event: String,
    /// The JSON body sent.
    pub payload: String,
    /// `pending`, `delivered` or `failed` (gave up).
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (pending).
    pub next_at_ms: u64,
    /// The last answer's HTTP status.
    pub status: Option<u16>,
    /// The last failure.
    pub error: Option<String>,
    /// When it was queued.
    pub created_at_ms: u64,
    /// When it was delivered.
    pub delivered_at_ms: Option<u64>,
}

const DELIVERY_COLUMNS: &str =
    "id, hook, event, payload, state, attempts, next_at, status, error, created_at, delivered_at";

fn delivery_row(row: &crate::db::Row<'_, '_>) -> crate::db::DbResult<Delivery> {
    Ok(Delivery {
        id: row.get(0)?,
        hook: row.get(1)?,
        event: row.get(2)?,
        payload: row.get(3)?,
        state: row.get(4)?,
        attempts: row.get(5)?,
        next_at_ms: unsigned(row.get(6)?),
        status: row.get(7)?,
        error: row.get(8)?,
        created_at_ms: unsigned(row.get(9)?),
        delivered_at_ms: row.get::<Option<i64>>(10)?.map(unsigned),
    })
}

/// How a delivery attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Answered 2xx.
    Delivered {
        /// The status.
        status: u16,
    },
    /// Failed; retried at `retry_at_ms`, or given up when `None`.
    Failed {
        /// The status, when there was an answer.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// When to try again.
        retry_at_ms: Option<u64>,
    },
}

impl Store {
    /// Stores a new trigger.
    pub fn team_add_trigger(&self, trigger: &Trigger) -> Result<()> {
        self.connection()
            .execute(
                &format!(
                    "INSERT INTO triggers ({TRIGGER_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, NULL, NULL)"
                ),
                params![
                    trigger.id,
                    trigger.workspace,
                    trigger.kind,
                    trigger.flow,
                    trigger.schedule,
                    trigger.input,
                    trigger.created_by,
                    signed(trigger.created_at_ms),
                    trigger.next_at_ms.map(signed),
                ],
            )
            .map_err(sql("storing a trigger"))?;
        Ok(())
    }

    /// A trigger by id.
    pub fn team_trigger(&self, id: &str) -> Result<Option<Trigger>> {
        self.connection()
            .query_row(
                &format!("SELECT {TRIGGER_COLUMNS} FROM triggers WHERE id = ?1"),
                params![id],
                trigger_row,
            )
            .optional()
            .map_err(sql("reading a trigger"))
    }

    /// A workspace's triggers, newest first.
    pub fn team_triggers(&self, workspace: &str) -> Result<Vec<Trigger>> {
        let action = "listing triggers";
        let connection = self.connection();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {TRIGGER_COLUMNS} FROM triggers WHERE workspace = ?1
                 ORDER BY created_at DESC, id"
            ))
            .map_err(sql(action))?;
        let rows = statement
            .query_map(params![workspace], trigger_row)
            .map_err(sql(action))?;
        rows.collect::<crate::db::DbResult<_>>()
            .map_err(sql(action))
    }

    /// Removes a workspace's trigger; `false` when it has none by that id.
    pub fn team_remove_trigger(&self, workspace: &str, id: &str) -> Result<bool> {
        let removed = self
            .connection()
            .execute(
                "DELETE FROM triggers WHERE id = ?1 AND workspace = ?2",
                params![id, workspace],
            )
            .map_err(sql("removing a trigger"))?;
        Ok(removed == 1)
    }

    /// Cron triggers due at `now_ms`, soonest first.
    pub fn team_due_triggers(&self, now_ms: u64) -> Result<Vec<Trigger>> {
        let action = "finding due triggers";
        let connection = self.connection();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {TRIGGER_COLUMNS} FROM triggers
                 WHERE next_at IS NOT NULL AND next_at <= ?1 ORDER BY next_at LIMIT 64"
            ))
            .map_err(sql(action))?;
        let rows = statement
            .query_map(params![signed(now_ms)], trigger_row)
            .map_err(sql(action))?;
        rows.collect::<crate::db::DbResult<_>>()
            .map_err(sql(action))
    }

    /// When the soonest cron trigger is due.
    pub fn team_next_trigger_at(&self) -> Result<Option<u64>> {
        self.connection()
            .query_row(
                "SELECT min(next_at) FROM triggers WHERE next_at IS NOT NULL",
                &[],
                |row| row.get::<Option<i64>>(0),
            )
            .map(|next| next.map(unsigned))
            .map_err(sql("finding the next trigger"))
    }

    /// Claims a due cron trigger: moves its next run from `due_ms` to
    /// `next_ms`. `false` when another server (or an edit) moved it first:
    /// then it is not this one's to fire.
    pub fn team_claim_trigger(&self, id: &str, due_ms: u64, next_ms: Option<u64>) -> Result<bool> {
        let claimed = self
            .connection()
            .execute(
                "UPDATE triggers SET next_at = ?3 WHERE id = ?1 AND next_at = ?2",
                params![id, signed(due_ms), next_ms.map(signed)],
            )
            .map_err(sql("claiming a trigger"))?;
        Ok(claimed == 1)
    }

    /// Records a firing: the run it started, or why none.
    pub fn team_trigger_fired(
        &self,
        id: &str,
        run: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        self.connection()
            .execute(
                "UPDATE triggers SET fired_at = ?2, last_run = coalesce(?3, last_run),
                 last_error = ?4 WHERE id = ?1",
                params![id, now_ms(), run, error],
            )
            .map_err(sql("recording a trigger's firing"))?;
        Ok(())
    }

    /// Notes a webhook request's signature; `false` when it was seen
    /// before (a replay). Receipts older than `forget_before_ms` go.
    pub fn team_receipt(
        &self,
        signature: &str,
        trigger: &str,
        forget_before_ms: u64,
    ) -> Result<bool> {
        let action = "noting a webhook request";
        let connection = self.connection();
        connection
            .execute(
                "DELETE FROM trigger_receipts WHERE at_ms < ?1",
                params![signed(forget_before_ms)],
            )
            .map_err(sql(action))?;
        let added = connection
            .execute(
                "INSERT INTO trigger_receipts (signature, trigger_id, at_ms)
                 VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![signature, trigger, now_ms()],
            )
            .map_err(sql(action))?;
        Ok(added == 1)
    }

    /// Stores a new outgoing webhook.
    pub fn team_add_hook(&self, hook: &Hook) -> Result<()> {
        self.connection()
            .execute(
                &format!("INSERT INTO hooks ({HOOK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![
                    hook.id,
                    hook.workspace,
                    hook.url,
                    hook.events.join(","),
                    hook.flow,
                    hook.created_by,
                    signed(hook.created_at_ms),
                ],
            )
            .map_err(sql("storing a webhook"))?;
        Ok(())
    }

    /// A workspace's outgoing webhooks, newest first.
    pub fn team_hooks(&self, workspace: &str) -> Result<Vec<Hook>> {
        let action = "listing webhooks";
        let connection = self.connection();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {HOOK_COLUMNS} FROM hooks WHERE workspace = ?1 ORDER BY created_at DESC, id"
            ))
            .map_err(sql(action))?;
        let rows = statement
            .query_map(params![workspace], hook_row)
            .map_err(sql(action))?;
        rows.collect::<crate::db::DbResult<_>>()
            .map_err(sql(action))
    }

    /// A webhook by id.
    pub fn team_hook(&self, id: &str) -> Result<Option<Hook>> {
        self.connection()
            .query_row(
                &format!("SELECT {HOOK_COLUMNS} FROM hooks WHERE id = ?1"),
                params![id],
                hook_row,
            )
            .optional()
            .map_err(sql("reading a webhook"))
    }

    /// Removes a workspace's webhook and its log; `false` when it has none
    /// by that id.
    pub fn team_remove_hook(&self, workspace: &str, id: &str) -> Result<bool> {
        let action = "removing a webhook";
        let mut connection = self.connection();
        let transaction = connection.transaction().map_err(sql(action))?;
        let removed = transaction
            .execute(
                "DELETE FROM hooks WHERE id = ?1 AND workspace = ?2",
                params![id, workspace],
            )
            .map_err(sql(action))?;
        if removed == 1 {
            transaction
                .execute("DELETE FROM deliveries WHERE hook = ?1", params![id])
                .map_err(sql(action))?;
        }
        transaction.commit().map_err(sql(action))?;
        Ok(removed == 1)
    }

    /// Queues `event` for every hook of `workspace` that wants it (all
    /// hooks, or those of `flow`); answers how many were queued.
    pub fn team_queue_event(
        &self,
        workspace: &str,
        flow: &str,
        event: &str,
        payload: &str,
    ) -> Result<usize> {
        let action = "queueing webhook deliveries";
        let wanted = "workspace = ?1 AND (flow IS NULL OR flow = ?2)
                      AND (',' || events || ',') LIKE ('%,' || ?3 || ',%')";
        let connection = self.connection();
        // Every run start and end comes here: a read finds most workspaces
        // without hooks, and takes no write lock.
        let listening: bool = connection
            .query_row(
                &format!("SELECT EXISTS (SELECT 1 FROM hooks WHERE {wanted})"),
                params![workspace, flow, event],
                |row| row.get(0),
            )
            .map_err(sql(action))?;
        if !listening {
            return Ok(0);
        }
        connection
            .execute(
                &format!(
                    "INSERT INTO deliveries (hook, event, payload, state, next_at, created_at)
                     SELECT id, ?3, ?4, 'pending', ?5, ?5 FROM hooks WHERE {wanted}"
                ),
                params![workspace, flow, event, payload, now_ms()],
            )
            .map_err(sql(action))
    }

    /// Takes the deliveries due at `now_ms`, oldest first, with their
    /// hook's URL: each is leased for `lease_ms` (not due again before, so
    /// servers sharing a database never send one delivery at once; one
    /// whose sender died is sent again after the lease). On PostgreSQL
    /// deliveries another server is taking are skipped (`FOR UPDATE SKIP
    /// LOCKED`).
    pub fn team_take_due_deliveries(
        &self,
        now_ms: u64,
        limit: u32,
        lease_ms: u64,
    ) -> Result<Vec<(Delivery, String)>> {
        let action = "taking due deliveries";
        let mut connection = self.connection();
        let (begin, lock) = match connection.dialect() {
            crate::db::Dialect::Sqlite => (crate::db::Begin::Immediate, ""),
            crate::db::Dialect::Postgres => {
                (crate::db::Begin::Deferred, " FOR UPDATE OF d SKIP LOCKED")
            }
        };
        let transaction = connection.transaction_with(begin).map_err(sql(action))?;
        let due: Vec<(Delivery, String)> = transaction
            .query_map(
                &format!(
                    "SELECT d.id, d.hook, d.event, d.payload, d.state, d.attempts, d.next_at,
                            d.status, d.error, d.created_at, d.delivered_at, h.url
                     FROM deliveries d JOIN hooks h ON h.id = d.hook
                     WHERE d.state = 'pending' AND d.next_at <= ?1 ORDER BY d.id LIMIT ?2{lock}"
                ),
                params![signed(now_ms), limit],
                |row| Ok((delivery_row(row)?, row.get(11)?)),
            )
            .map_err(sql(action))?
            .collect::<crate::db::DbResult<_>>()
            .map_err(sql(action))?;
        for (delivery, _) in &due {
            transaction
                .execute(
                    "UPDATE deliveries SET next_at = ?2 WHERE id = ?1",
                    params![delivery.id, signed(now_ms.saturating_add(lease_ms))],
                )
                .map_err(sql(action))?;
        }
        transaction.commit().map_err(sql(action))?;
        Ok(due)
    }

    /// When the soonest pending delivery is due.
    pub fn team_next_delivery_at(&self) -> Result<Option<u64>> {
        self.connection()
            .query_row(
                "SELECT min(next_at) FROM deliveries WHERE state = 'pending'",
                &[],
                |row| row.get::<Option<i64>>(0),
            )
            .map(|next| next.map(unsigned))
            .map_err(sql("finding the next delivery"))
    }

    /// Records an attempt of delivery `id`.
    pub fn team_delivery_attempt(&self, id: i64, attempt: &Attempt) -> Result<()> {
        let (state, status, error, next_at, delivered_at) = match attempt {
            Attempt::Delivered { status } => {
                ("delivered", Some(*status), None, None, Some(now_ms()))
            }
            Attempt::Failed {
                status,
                error,
                retry_at_ms,
            } => (
                if retry_at_ms.is_some() {
                    "pending"
                } else {
                    "failed"
                },
                *status,
                Some(error.as_str()),
                retry_at_ms.map(signed),
                None,
            ),
        };
        self.connection()
            .execute(
                "UPDATE deliveries SET state = ?2, attempts = attempts + 1, status = ?3,
                 error = ?4, next_at = coalesce(?5, next_at), delivered_at = ?6 WHERE id = ?1",
                params![id, state, status, error, next_at, delivered_at],
            )
            .map_err(sql("recording a delivery attempt"))?;
        Ok(())
    }

    /// A hook's deliveries, newest first.
    pub fn team_deliveries(&self, hook: &str, limit: u32) -> Result<Vec<Delivery>> {
        let action = "listing deliveries";
        let connection = self.connection();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE hook = ?1 ORDER BY id DESC LIMIT ?2"
            ))
            .map_err(sql(action))?;
        let rows = statement
            .query_map(params![hook, limit], delivery_row)
            .map_err(sql(action))?;
        rows.collect::<crate::db::DbResult<_>>()
            .map_err(sql(action))
    }
}

#[cfg(test)]
mod tests {
    use super::Hook;

    #[test]
    fn servers_taking_due_deliveries_at_once_take_each_once_and_a_lapsed_lease_frees_it() {
        let (_dir, store) = crate::scratch();
        assert!(store.team_add_account("ada", None).expect("account"));
        assert!(store.team_add_workspace("core").expect("workspace"));
        store
            .team_add_hook(&Hook {
                id: "h1".into(),
                workspace: "core".into(),
                url: "https://example.com/hook".into(),
                events: vec!["run.succeeded".into()],
                flow: None,
                created_by: "ada".into(),
                created_at_ms: 0,
            })
            .expect("hook");
        for index in 0..30 {
            let queued = store
                .team_queue_event("core", "qa", "run.succeeded", &format!("{{\"n\":{index}}}"))
                .expect("queued");
            assert_eq!(queued, 1, "positive control: the hook wants it");
        }
        let now = crate::unix_ms() + 1;
        let servers: Vec<crate::Store> = (0..3).map(|_| store.reopen()).collect();
        let taken: Vec<Vec<i64>> = std::thread::scope(|scope| {
            let handles: Vec<_> = servers
                .iter()
                .map(|server| {
                    scope.spawn(move || {
                        let mut mine = Vec::new();
                        loop {
                            let batch = server
                                .team_take_due_deliveries(now, 4, 60_000)
                                .expect("taken");
                            if batch.is_empty() {
                                return mine;
                            }
                            mine.extend(batch.into_iter().map(|(delivery, _)| delivery.id));
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("server"))
                .collect()
        });
        let mut all: Vec<i64> = taken.iter().flatten().copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            (taken.iter().map(Vec::len).sum::<usize>(), all.len()),
            (30, 30),
            "{taken:?}"
        );
        // Leased: not due again until the lease lapses, then due again.
        assert!(store
            .team_take_due_deliveries(now + 1_000, 100, 60_000)
            .expect("none")
            .is_empty());
        assert_eq!(
            store
                .team_take_due_deliveries(now + 61_000, 100, 60_000)
                .expect("again")
                .len(),
            30
        );
    }
}
