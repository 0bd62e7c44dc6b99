//! Run claims: which process runs a run, when several share one database
//! (team servers on one PostgreSQL).
//!
//! A store told its owner ([`Store::set_claims`]) claims every run it
//! begins, in the transaction that stores it, and must hold the claim of a
//! run to resume it. The owner renews its claims' lease while it lives; a
//! claim whose lease ran out (its process died) can be taken over. Every
//! write of a run's progress (a checkpoint, events, a call, its status)
//! first checks, in its own transaction and with the claim's row locked,
//! that this owner still holds it: a process that lost its claim (paused
//! too long, cut off) writes nothing more, so a node is never committed
//! twice. A run that ends or pauses gives its claim up.
//!
//! Without an owner (the desktop app, the CLI, a server on SQLite) nothing
//! is claimed or checked.

use rusqlite::params;

use crate::db::{Conn, Dialect, Optional};
use crate::{now_ms, signed, sql, Error, Result, Store};

/// Who claims runs, and for how long a claim lasts without renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimOwner {
    /// A name unique to the process (e.g. a random id per server start).
    pub owner: String,
    /// Milliseconds a claim lasts after its last renewal.
    pub lease_ms: u64,
}

/// What happened to a claim asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This owner holds it now.
    Held,
    /// Another live owner holds it.
    Elsewhere {
        /// Who.
        owner: String,
        /// Unix milliseconds its lease runs to.
        until_ms: u64,
    },
}

impl Store {
    /// Makes this store claim the runs it begins and check its claims
    /// before every write of a run's progress (see the module's notes).
    pub fn set_claims(&self, owner: ClaimOwner) {
        *self
            .claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(owner);
    }

    pub(crate) fn claim_owner(&self) -> Option<ClaimOwner> {
        self.claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Claims `run` for this store's owner: granted when nobody holds it,
    /// when its holder's lease ran out, or when this owner holds it already.
    /// Without an owner, always granted.
    pub fn claim_run(&self, run: &str) -> Result<Claim> {
        let Some(owner) = self.claim_owner() else {
            return Ok(Claim::Held);
        };
        let now = now_ms();
        let connection = self.connection();
        // One statement: the row is locked while the condition is checked,
        // so of two servers claiming at once exactly one gets it.
        let claimed = connection
            .execute(
                "INSERT INTO run_claims (run, owner, lease_until_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (run) DO UPDATE SET owner = excluded.owner,
                     lease_until_ms = excluded.lease_until_ms
                 WHERE run_claims.lease_until_ms < ?4 OR run_claims.owner = excluded.owner",
                params![run, owner.owner, now + signed(owner.lease_ms), now],
            )
            .map_err(sql("claiming a run"))?;
        drop(connection);
        if claimed == 1 {
            return Ok(Claim::Held);
        }
        let holder = self.claim_holder(run)?;
        Ok(match holder {
            Some((owner, until_ms)) => Claim::Elsewhere { owner, until_ms },
            // Given up in between: ask again.
            None => return self.claim_run(run),
        })
    }

    /// Who holds `run`'s claim and until when, if anyone's lease is current.
    pub fn claim_holder(&self, run: &str) -> Result<Option<(String, u64)>> {
        self.connection()
            .query_row(
                "SELECT owner, lease_until_ms FROM run_claims WHERE run = ?1 AND lease_until_ms >= ?2",
                params![run, now_ms()],
                |row| {
                    Ok((
                        row.get::<String>(0)?,
                        u64::try_from(row.get::<i64>(1)?).unwrap_or(0),
                    ))
                },
            )
            .optional()
            .map_err(sql("reading a run's claim"))
    }

    /// Gives up this owner's claim of `run`, if it holds it.
    pub fn release_claim(&self, run: &str) -> Result<()> {
        let owner = self.claim_owner();
        release(&self.connection(), owner.as_ref(), run)
    }

    /// Extends by its lease this owner's claim of each of `runs` (the runs
    /// going on in this process: the owner's heartbeat); the number
    /// renewed. A claim of a run no longer going on here is not renewed, so
    /// it lapses and another server takes it over.
    pub fn renew_claims(&self, runs: &[String]) -> Result<usize> {
        let Some(owner) = self.claim_owner() else {
            return Ok(0);
        };
        let until = now_ms() + signed(owner.lease_ms);
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .map_err(sql("renewing run claims"))?;
        let mut renewed = 0;
        for run in runs {
            renewed += transaction
                .execute(
                    "UPDATE run_claims SET lease_until_ms = ?3 WHERE run = ?1 AND owner = ?2",
                    params![run, owner.owner, until],
                )
                .map_err(sql("renewing run claims"))?;
        }
        transaction.commit().map_err(sql("renewing run claims"))?;
        Ok(renewed)
    }

    /// Takes over up to `limit` claims whose lease ran out (their process
    /// died), oldest first, returning those runs: this owner holds them now
    /// and should resume them. On PostgreSQL rows another server is taking
    /// at the same moment are skipped (`FOR UPDATE SKIP LOCKED`), so
    /// concurrent sweeps split the work and never take one run twice.
    pub fn take_lapsed_claims(&self, limit: u32) -> Result<Vec<String>> {
        let Some(owner) = self.claim_owner() else {
            return Ok(Vec::new());
        };
        let action = "taking over lapsed claims";
        let mut connection = self.connection();
        let (begin, statement) = match connection.dialect() {
            Dialect::Sqlite => (
                crate::db::Begin::Immediate,
                "SELECT run FROM run_claims WHERE lease_until_ms < ?1 ORDER BY lease_until_ms LIMIT ?2",
            ),
            Dialect::Postgres => (
                crate::db::Begin::Deferred,
                "SELECT run FROM run_claims WHERE lease_until_ms < ?1 ORDER BY lease_until_ms LIMIT ?2
                 FOR UPDATE SKIP LOCKED",
            ),
        };
        let now = now_ms();
        let transaction = connection.transaction_with(begin).map_err(sql(action))?;
        let runs = transaction
            .query_map(statement, params![now, limit], |row| row.get(0))
            .map_err(sql(action))?
            .collect::<crate::db::DbResult<Vec<String>>>()
            .map_err(sql(action))?;
        for run in &runs {
            transaction
                .execute(
                    "UPDATE run_claims SET owner = ?2, lease_until_ms = ?3 WHERE run = ?1",
                    params![run, owner.owner, now + signed(owner.lease_ms)],
                )
                .map_err(sql(action))?;
        }
        transaction.commit().map_err(sql(action))?;
        Ok(runs)
    }
}

/// Claims a run being begun (in its transaction), when the store has an
/// owner.
pub(crate) fn claim_new(
    transaction: &Conn<'_>,
    owner: Option<&ClaimOwner>,
    run: &str,
) -> Result<()> {
    let Some(owner) = owner else {
        return Ok(());
    };
    transaction
        .execute(
            "INSERT INTO run_claims (run, owner, lease_until_ms) VALUES (?1, ?2, ?3)",
            params![run, owner.owner, now_ms() + signed(owner.lease_ms)],
        )
        .map_err(sql("claiming a new run"))?;
    Ok(())
}

/// Checks, in a write's transaction, that this owner still holds `run`
/// (locking the claim's row on PostgreSQL until the commit).
pub(crate) fn fence(transaction: &Conn<'_>, owner: Option<&ClaimOwner>, run: &str) -> Result<()> {
    let Some(owner) = owner else {
        return Ok(());
    };
    let statement = match transaction.dialect() {
        Dialect::Sqlite => "SELECT owner FROM run_claims WHERE run = ?1",
        Dialect::Postgres => "SELECT owner FROM run_claims WHERE run = ?1 FOR UPDATE",
    };
    let holder: Option<String> = transaction
        .query_row(statement, params![run], |row| row.get(0))
        .optional()
        .map_err(sql("checking a run's claim"))?;
    if holder.as_deref() == Some(owner.owner.as_str()) {
        Ok(())
    } else {
        Err(Error::ClaimLost {
            run: run.to_owned(),
            holder,
        })
    }
}

/// Gives up the claim of a run that ended or paused.
pub(crate) fn release(transaction: &Conn<'_>, owner: Option<&ClaimOwner>, run: &str) -> Result<()> {
    let Some(owner) = owner else {
        return Ok(());
    };
    transaction
        .execute(
            "DELETE FROM run_claims WHERE run = ?1 AND owner = ?2",
            params![run, owner.owner],
        )
        .map_err(sql("giving up a run's claim"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Claim, ClaimOwner};
    use crate::{Error, Store};

    fn owned(store: Store, owner: &str, lease_ms: u64) -> Store {
        store.set_claims(ClaimOwner {
            owner: owner.into(),
            lease_ms,
        });
        store
    }

    #[test]
    fn only_the_holder_writes_and_a_lapsed_claim_is_taken_over() {
        let (_dir, plain) = crate::scratch();
        let a = owned(plain.reopen(), "a", 300);
        let b = owned(plain.reopen(), "b", 300);
        a.begin_run("r1", "qa", "", "{}")
            .expect("begun and claimed");
        // Positive control: the holder checkpoints.
        a.run_node_done("r1", "{}", &[(0, "{}".into())], &[])
            .expect("holder writes");
        assert!(
            matches!(b.claim_run("r1").expect("asked"), Claim::Elsewhere { owner, .. } if owner == "a")
        );
        let refused = b
            .run_node_done("r1", "{}", &[(1, "{}".into())], &[])
            .expect_err("not b's");
        assert!(
            matches!(refused, Error::ClaimLost { ref holder, .. } if holder.as_deref() == Some("a")),
            "{refused}"
        );
        assert!(b.set_run_status("r1", "failed", "{}").is_err());
        // A renewing holder keeps it past one lease.
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(a.renew_claims(&["r1".to_owned()]).expect("renewed"), 1);
        assert_eq!(a.renew_claims(&["other".to_owned()]).expect("none"), 0);
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(matches!(
            b.claim_run("r1").expect("asked"),
            Claim::Elsewhere { .. }
        ));
        // a goes silent: once its lease ran out, b takes over, and a's late
        // writes are refused.
        std::thread::sleep(std::time::Duration::from_millis(400));
        assert_eq!(b.claim_run("r1").expect("taken"), Claim::Held);
        assert!(matches!(
            a.run_node_done("r1", "{}", &[(1, "{}".into())], &[]),
            Err(Error::ClaimLost { .. })
        ));
        b.run_node_done("r1", "{}", &[(1, "{}".into())], &[])
            .expect("b writes");
        b.set_run_status("r1", "succeeded", "{}").expect("finished");
        assert_eq!(
            b.claim_holder("r1").expect("read"),
            None,
            "an ended run gives its claim up"
        );
        assert_eq!(
            plain.run("r1").expect("run").expect("stored").nodes.len(),
            2,
            "one checkpoint each, none twice"
        );
        // A store without an owner claims and checks nothing.
        plain.begin_run("r0", "qa", "", "{}").expect("unclaimed");
        assert_eq!(plain.claim_holder("r0").expect("read"), None);
    }

    #[test]
    fn concurrent_sweeps_split_lapsed_claims_and_take_each_once() {
        let (_dir, plain) = crate::scratch();
        let dead = owned(plain.reopen(), "dead", 1);
        for index in 0..40 {
            dead.begin_run(&format!("r{index}"), "qa", "", "{}")
                .expect("begun");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let sweepers: Vec<Store> = (0..4)
            .map(|index| owned(plain.reopen(), &format!("s{index}"), 60_000))
            .collect();
        let taken: Vec<Vec<String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = sweepers
                .iter()
                .map(|sweeper| {
                    scope.spawn(move || {
                        let mut mine = Vec::new();
                        loop {
                            let batch = sweeper.take_lapsed_claims(3).expect("swept");
                            if batch.is_empty() {
                                return mine;
                            }
                            mine.extend(batch);
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("sweeper"))
                .collect()
        });
        let mut all: Vec<&String> = taken.iter().flatten().collect();
        all.sort();
        let count = all.len();
        all.dedup();
        assert_eq!(
            (count, all.len()),
            (40, 40),
            "every run taken, none twice: {taken:?}"
        );
        for (index, runs) in taken.iter().enumerate() {
            for run in runs {
                assert_eq!(
                    plain
                        .claim_holder(run)
                        .expect("read")
                        .map(|(owner, _)| owner),
                    Some(format!("s{index}"))
                );
            }
        }
    }
}
