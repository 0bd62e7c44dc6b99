//! The audit log: an append-only, hash-chained record of every change and
//! every secret use — who, what, when, from where.
//!
//! Each entry's hash covers its own fields and the hash of the entry before
//! it, so editing any entry, or deleting or inserting one before the last,
//! breaks the chain from there on; [`Store::audit_verify`] finds the first
//! entry that does not hold. SQLite triggers refuse `UPDATE`, `DELETE` and
//! an `INSERT` that is not the next entry (`INSERT OR REPLACE` included), so
//! a mistake cannot change it. What the chain alone cannot show: a cut or
//! wiped tail, or a tail rewritten with recomputed hashes — those are caught
//! against a head recorded elsewhere ([`AuditCheck::head`], `codexos audit
//! verify --head`) — and an entry appended with a correct hash by someone
//! who can write the file (that needs a keyed chain; not yet).

use rusqlite::params;

use crate::db::Optional;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{now_ms, signed, sql, Result, Store};

/// The hash before the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who acts, and from where, for the entries a process writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditActor {
    /// The person: the operating-system user on a desktop.
    pub who: String,
    /// The program or address: `app`, `cli`, `mcp`, …
    pub origin: String,
}

impl Default for AuditActor {
    fn default() -> Self {
        Self {
            who: os_user(),
            origin: "local".to_owned(),
        }
    }
}

/// The user this process runs as: on Unix its real uid's name from the
/// password database (not `$USER`, which anyone can set), else the uid;
/// elsewhere `USERNAME`.
fn os_user() -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        if let Ok(process) = std::fs::metadata("/proc/self") {
            let uid = process.uid();
            let name = std::fs::read_to_string("/etc/passwd")
                .ok()
                .and_then(|passwd| {
                    passwd.lines().find_map(|line| {
                        let mut fields = line.split(':');
                        let name = fields.next()?;
                        let id = fields.nth(1)?.parse::<u32>().ok()?;
                        (id == uid).then(|| name.to_owned())
                    })
                });
            return name.map_or_else(
                || format!("uid {uid}"),
                |name| format!("{name} (uid {uid})"),
            );
        }
    }
    std::env::var("USERNAME")
        .or_else(|_| std::env::var("USER"))
        .ok()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "unknown user".to_owned())
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Position, from 1, without gaps.
    #[specta(type = u32)]
    pub seq: u64,
    /// Unix milliseconds.
    #[specta(type = u32)]
    pub at_ms: u64,
    /// The person.
    pub who: String,
    /// The program or address.
    pub origin: String,
    /// What was done, dotted: `secret.use`, `flow.save`, `provider.add`, …
    pub action: String,
    /// What it was done to: a secret's, flow's or provider's name.
    pub target: String,
    /// More about it, as JSON text (never a secret's value).
    pub detail: String,
    /// The entry's hash (hex sha256 over its fields and the previous hash).
    pub hash: String,
}

/// What [`Store::audit_verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditCheck {
    /// Entries read.
    #[specta(type = u32)]
    pub entries: u64,
    /// The first entry that does not hold, and why; none when the chain is
    /// whole.
    pub broken: Option<AuditBreak>,
    /// The last entry's hash (record it elsewhere to catch a rewritten
    /// tail).
    pub head: String,
    /// When a head recorded earlier was given: the position of its entry
    /// (0 for the empty log's head).
    #[specta(type = Option<u32>)]
    pub given_head_at: Option<u64>,
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditBreak {
    /// The entry's position (or the position missing).
    #[specta(type = u32)]
    pub seq: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// The hash of an entry with `previous` before it.
fn entry_hash(previous: &str, entry: &AuditEntry) -> String {
    let fields = length_prefixed(&[
        previous,
        &entry.seq.to_string(),
        &entry.at_ms.to_string(),
        &entry.who,
        &entry.origin,
        &entry.action,
        &entry.target,
        &entry.detail,
    ]);
    let digest = Sha256::digest(fields.as_bytes());
    digest
        .iter()
        .fold(String::with_capacity(64), |mut out, byte| {
            use std::fmt::Write as _;
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// The fields, each prefixed with its length: no two lists of fields
/// encode alike.
fn length_prefixed(fields: &[&str]) -> String {
    fields.iter().fold(String::new(), |mut out, field| {
        out.push_str(&field.len().to_string());
        out.push(':');
        out.push_str(field);
        out.push('\n');
        out
    })
}

tokio::task_local! {
    /// Who acts for the request a task serves (a team server's caller).
    static ACTING: AuditActor;
}

/// Runs `work` with `actor` as who acts for every entry it writes (a team
/// server's request: the account and its address), whatever the process's
/// actor is.
pub async fn acting_as<F: std::future::Future>(actor: AuditActor, work: F) -> F::Output {
    ACTING.scope(actor, work).await
}

impl Store {
    /// Sets who acts and from where for the entries this process writes.
    pub fn set_audit_actor(&self, actor: AuditActor) {
        *self
            .actor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = actor;
    }

    /// Who acts now: the request's actor inside [`acting_as`], else the
    /// process's.
    #[must_use]
    pub fn audit_actor(&self) -> AuditActor {
        if let Ok(actor) = ACTING.try_with(Clone::clone) {
            return actor;
        }
        self.actor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Appends an entry (by this process's actor); returns it. Processes
    /// sharing the home append in turn (the write lock is taken first), so
    /// the chain stays one line.
    pub fn audit(&self, action: &str, target: &str, detail: &str) -> Result<AuditEntry> {
        let actor = self.audit_actor();
        let action_name = "appending to the audit log";
        let mut connection = self.connection();
        let transaction = connection
            .transaction_with(crate::db::Begin::Immediate)
            .map_err(sql(action_name))?;
        let last: Option<(i64, String)> = transaction
            .query_row(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                &[],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(sql(action_name))?;
        let (previous_seq, previous) = last.unwrap_or((0, GENESIS.to_owned()));
        let mut entry = AuditEntry {
            seq: u64::try_from(previous_seq).unwrap_or(0) + 1,
            at_ms: u64::try_from(now_ms()).unwrap_or(0),
            who: actor.who,
            origin: actor.origin,
            action: action.to_owned(),
            target: target.to_owned(),
            detail: detail.to_owned(),
            hash: String::new(),
        };
        entry.hash = entry_hash(&previous, &entry);
        transaction
            .execute(
                "INSERT INTO audit (seq, at_ms, who, origin, action, target, detail, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    signed(entry.seq),
                    signed(entry.at_ms),
                    entry.who,
                    entry.origin,
                    entry.action,
                    entry.target,
                    entry.detail,
                    entry.hash
                ],
            )
            .map_err(sql(action_name))?;
        transaction.commit().map_err(sql(action_name))?;
        Ok(entry)
    }

    /// The newest entries first, at most `limit`, those whose action starts
    /// with `action` (every one when empty) and whose target or detail
    /// contains `text` (every one when empty).
    pub fn audit_entries(&self, action: &str, text: &str, limit: u32) -> Result<Vec<AuditEntry>> {
        let action_name = "reading the audit log";
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT seq, at_ms, who, origin, action, target, detail, hash FROM audit
                 WHERE (?1 = '' OR action = ?1 OR action LIKE ?1 || '.%')
                   AND (?2 = '' OR instr(lower(target), lower(?2)) > 0 OR instr(lower(detail), lower(?2)) > 0)
                 ORDER BY seq DESC LIMIT ?3",
            )
            .map_err(sql(action_name))?;
        let rows = statement
            .query_map(params![action, text, limit], read_entry)
            .map_err(sql(action_name))?;
        rows.collect::<crate::db::DbResult<Vec<_>>>()
            .map_err(sql(action_name))
    }

    /// Reads the whole chain and checks every link: positions without gaps,
    /// each hash over its fields and the previous hash.
    pub fn audit_verify(&self) -> Result<AuditCheck> {
        let action_name = "verifying the audit log";
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT seq, at_ms, who, origin, action, target, detail, hash FROM audit ORDER BY seq")
            .map_err(sql(action_name))?;
        let rows = statement
            .query_map(&[], read_entry)
            .map_err(sql(action_name))?;
        let mut previous = GENESIS.to_owned();
        let mut entries = 0;
        let mut broken = None;
        for entry in rows {
            let entry = entry.map_err(sql(action_name))?;
            entries += 1;
            if broken.is_none() {
                if entry.seq != entries {
                    broken = Some(AuditBreak {
                        seq: entries,
                        reason: format!(
                            "entry {entries} is missing (the next one is {})",
                            entry.seq
                        ),
                    });
                } else if entry_hash(&previous, &entry) != entry.hash {
                    broken = Some(AuditBreak {
                        seq: entry.seq,
                        reason: format!(
                            "entry {} was changed, or one before it was: its hash does not match its fields and the previous hash",
                            entry.seq
                        ),
                    });
                }
            }
            previous = entry.hash;
        }
        Ok(AuditCheck {
            entries,
            broken,
            head: previous,
            given_head_at: None,
        })
    }

    /// The position of the entry with hash `head`, if it is in the log (0
    /// for the empty log's head).
    pub fn audit_seq_of(&self, head: &str) -> Result<Option<u64>> {
        if head == GENESIS {
            return Ok(Some(0));
        }
        self.connection()
            .query_row(
                "SELECT seq FROM audit WHERE hash = ?1",
                params![head.to_ascii_lowercase()],
                |row| row.get::<i64>(0),
            )
            .optional()
            .map(|seq| seq.and_then(|seq| u64::try_from(seq).ok()))
            .map_err(sql("reading the audit log"))
    }
}

fn read_entry(row: &crate::db::Row<'_, '_>) -> crate::db::DbResult<AuditEntry> {
    Ok(AuditEntry {
        seq: u64::try_from(row.get::<i64>(0)?).unwrap_or(0),
        at_ms: u64::try_from(row.get::<i64>(1)?).unwrap_or(0),
        who: row.get(2)?,
        origin: row.get(3)?,
        action: row.get(4)?,
        target: row.get(5)?,
        detail: row.get(6)?,
        hash: row.get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled() -> (tempfile::TempDir, Store) {
        let (dir, store) = crate::scratch();
        store.set_audit_actor(AuditActor {
            who: "ada".into(),
            origin: "cli".into(),
        });
        for (action, target) in [
            ("secret.set", "GITHUB_TOKEN"),
            ("secret.use", "GITHUB_TOKEN"),
            ("flow.save", "triage"),
            ("provider.add", "openai"),
        ] {
            store.audit(action, target, "{}").expect("appended");
        }
        (dir, store)
    }

    /// The store's own connection, acting behind the audit API.
    struct Raw<'s>(&'s Store);

    impl Raw<'_> {
        fn execute(&self, sql: &str, _: &[()]) -> crate::db::DbResult<usize> {
            self.0.connection().execute(sql, &[])
        }

        fn execute_batch(&self, sql: &str) -> crate::db::DbResult<()> {
            self.0.connection().execute_batch(sql)
        }
    }

    /// The store's database with the append-only rule still on.
    fn guarded(store: &Store) -> Raw<'_> {
        Raw(store)
    }

    /// The store's database without the append-only rule (as someone
    /// editing the file, or with the database's owner rights, would).
    fn raw(store: &Store) -> Raw<'_> {
        let drop = match store.dialect() {
            crate::db::Dialect::Sqlite => "DROP TRIGGER audit_append_only_update; DROP TRIGGER audit_append_only_delete; DROP TRIGGER audit_append_only_insert;",
            crate::db::Dialect::Postgres => "ALTER TABLE audit DISABLE TRIGGER USER",
        };
        store
            .connection()
            .execute_batch(drop)
            .expect("triggers off");
        Raw(store)
    }

    #[test]
    fn entries_chain_and_are_listed_newest_first_by_action_and_text() {
        let (_dir, store) = filled();
        let check = store.audit_verify().expect("verify");
        assert_eq!((check.entries, check.broken), (4, None));
        let all = store.audit_entries("", "", 10).expect("list");
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].action, "provider.add");
        assert_eq!(check.head, all[0].hash);
        assert_eq!(
            (all[0].who.as_str(), all[0].origin.as_str()),
            ("ada", "cli")
        );
        let secrets = store.audit_entries("secret", "", 10).expect("list");
        assert_eq!(secrets.len(), 2);
        assert!(
            store
                .audit_entries("secre", "", 10)
                .expect("list")
                .is_empty(),
            "a whole part of the action"
        );
        assert_eq!(
            store.audit_entries("", "TRIAGE", 10).expect("list").len(),
            1
        );
        assert_eq!(store.audit_seq_of(&check.head).expect("seq"), Some(4));
    }

    #[tokio::test]
    async fn a_request_acts_as_its_caller_and_only_inside_its_scope() {
        let (_dir, store) = filled();
        let caller = AuditActor {
            who: "bob".to_owned(),
            origin: "203.0.113.9".to_owned(),
        };
        let inside = acting_as(caller.clone(), async {
            tokio::task::yield_now().await;
            store.audit("flow.save", "triage", "{}").expect("inside")
        })
        .await;
        assert_eq!((inside.who, inside.origin), (caller.who, caller.origin));
        let after = store.audit("flow.save", "triage", "{}").expect("after");
        assert_eq!((after.who.as_str(), after.origin.as_str()), ("ada", "cli"));
    }

    #[test]
    fn updates_deletes_and_replacements_are_refused() {
        let (_dir, store) = filled();
        let connection = guarded(&store);
        let update = connection.execute("UPDATE audit SET target = 'x' WHERE seq = 2", &[]);
        assert!(update.is_err_and(|error| error.to_string().contains("append-only")));
        assert!(connection.execute("DELETE FROM audit", &[]).is_err());
        let replace = connection.execute(
            match store.dialect() {
                crate::db::Dialect::Sqlite => "INSERT OR REPLACE INTO audit (seq, at_ms, who, origin, action, target, detail, hash)
                    SELECT seq, at_ms, who, origin, action, 'x', detail, hash || 'x' FROM audit WHERE seq = 2",
                crate::db::Dialect::Postgres => "INSERT INTO audit (seq, at_ms, who, origin, action, target, detail, hash)
                    SELECT seq, at_ms, who, origin, action, 'x', detail, hash || 'x' FROM audit WHERE seq = 2
                    ON CONFLICT (seq) DO UPDATE SET target = excluded.target, hash = excluded.hash",
            },
            &[],
        );
        assert!(replace.is_err_and(|error| error.to_string().contains("append-only")));
        assert_eq!(store.audit_verify().expect("verify").broken, None);
        // Positive control: the next entry goes in.
        store.audit("flow.save", "next", "{}").expect("appended");
        assert_eq!(store.audit_verify().expect("verify").entries, 5);
    }

    #[test]
    fn an_edit_a_deletion_an_insertion_or_a_forged_append_is_found() {
        // Positive control: the untouched log holds.
        let (_dir, store) = filled();
        assert_eq!(store.audit_verify().expect("verify").broken, None);

        let (_dir, store) = filled();
        raw(&store)
            .execute("UPDATE audit SET target = 'ANOTHER' WHERE seq = 2", &[])
            .expect("edited");
        let broken = store.audit_verify().expect("verify").broken.expect("found");
        assert_eq!(broken.seq, 2, "{}", broken.reason);

        let (_dir, store) = filled();
        raw(&store)
            .execute("DELETE FROM audit WHERE seq = 3", &[])
            .expect("deleted");
        let broken = store.audit_verify().expect("verify").broken.expect("found");
        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("missing"), "{}", broken.reason);

        let (_dir, store) = filled();
        let connection = raw(&store);
        // Entry 4 edited, keeping its hash.
        connection
            .execute_batch(
                "CREATE TEMP TABLE kept AS SELECT * FROM audit WHERE seq = 4;
                 DELETE FROM audit WHERE seq = 4;
                 INSERT INTO audit (seq, at_ms, who, origin, action, target, detail, hash)
                     SELECT seq, at_ms, who, origin, 'secret.use', 'OTHER', detail, hash FROM kept;",
            )
            .expect("forged");
        assert_eq!(
            store
                .audit_verify()
                .expect("verify")
                .broken
                .map(|broken| broken.seq),
            Some(4)
        );

        // An entry inserted between 2 and 3 (the ones after renumbered).
        let (_dir, store) = filled();
        let connection = raw(&store);
        connection
            .execute_batch(
                "CREATE TEMP TABLE tail AS SELECT * FROM audit WHERE seq >= 3;
                 DELETE FROM audit WHERE seq >= 3;
                 INSERT INTO audit (seq, at_ms, who, origin, action, target, detail, hash)
                     SELECT 3, at_ms, who, origin, 'secret.use', 'INSERTED', detail, 'forged' FROM tail WHERE seq = 3;
                 INSERT INTO audit (seq, at_ms, who, origin, action, target, detail, hash)
                     SELECT seq + 1, at_ms, who, origin, action, target, detail, hash FROM tail;",
            )
            .expect("inserted");
        assert_eq!(
            store
                .audit_verify()
                .expect("verify")
                .broken
                .map(|broken| broken.seq),
            Some(3)
        );

        // An entry appended after the last with a made-up hash.
        let (_dir, store) = filled();
        raw(&store)
            .execute(
                "INSERT INTO audit (seq, at_ms, who, origin, action, target, detail, hash)
                 VALUES (5, 0, 'mallory', 'cli', 'secret.use', 'X', '{}', 'abc')",
                &[],
            )
            .expect("appended");
        assert_eq!(
            store
                .audit_verify()
                .expect("verify")
                .broken
                .map(|broken| broken.seq),
            Some(5)
        );
    }

    #[test]
    fn two_stores_on_one_file_keep_one_chain() {
        let (_dir, first) = crate::scratch();
        let second = first.reopen();
        std::thread::scope(|scope| {
            for store in [&first, &second] {
                scope.spawn(move || {
                    for index in 0..50 {
                        store
                            .audit("flow.save", &format!("f{index}"), "{}")
                            .expect("append");
                    }
                });
            }
        });
        let check = first.audit_verify().expect("verify");
        assert_eq!((check.entries, check.broken), (100, None));
    }
}
