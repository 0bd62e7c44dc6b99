//! Eval reports: one row per eval, the report as JSON (without the recorded
//! calls, which its runs keep), and the figures the list shows.

use rusqlite::params;

use crate::db::Optional;
use serde::{Deserialize, Serialize};

use crate::{sql, Result, Store};

/// An eval in the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct EvalSummary {
    /// Eval id.
    pub id: String,
    /// Flow name.
    pub flow: String,
    /// Dataset as given.
    pub dataset: String,
    /// `live` or `replay`.
    pub mode: String,
    /// Unix seconds it started.
    pub started_at: f64,
    /// Cases.
    pub cases: u32,
    /// Cases that passed.
    pub passed: u32,
    /// Every threshold held.
    pub ok: bool,
}

/// An eval to save.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEval<'a> {
    /// The list's figures.
    pub summary: EvalSummary,
    /// The report as JSON.
    pub report: &'a str,
}

impl Store {
    /// Saves (or replaces) an eval.
    pub fn save_eval(&self, eval: &NewEval<'_>) -> Result<()> {
        let summary = &eval.summary;
        self.connection()
            .execute(
                "INSERT INTO evals (id, flow, dataset, mode, started_at, cases, passed, ok, report)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET flow = excluded.flow, dataset = excluded.dataset,
                     mode = excluded.mode, started_at = excluded.started_at, cases = excluded.cases,
                     passed = excluded.passed, ok = excluded.ok, report = excluded.report",
                params![
                    summary.id,
                    summary.flow,
                    summary.dataset,
                    summary.mode,
                    summary.started_at,
                    summary.cases,
                    summary.passed,
                    summary.ok,
                    eval.report
                ],
            )
            .map_err(sql("saving an eval"))?;
        Ok(())
    }

    /// The newest evals, of one flow when given.
    pub fn evals(&self, flow: Option<&str>, limit: u32) -> Result<Vec<EvalSummary>> {
        let action = "listing evals";
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT id, flow, dataset, mode, started_at, cases, passed, ok FROM evals
                 WHERE CAST(?1 AS TEXT) IS NULL OR flow = ?1 ORDER BY started_at DESC LIMIT ?2",
            )
            .map_err(sql(action))?;
        let rows = statement
            .query_map(params![flow, limit], |row| {
                Ok(EvalSummary {
                    id: row.get(0)?,
                    flow: row.get(1)?,
                    dataset: row.get(2)?,
                    mode: row.get(3)?,
                    started_at: row.get(4)?,
                    cases: row.get(5)?,
                    passed: row.get(6)?,
                    ok: row.get(7)?,
                })
            })
            .map_err(sql(action))?;
        rows.collect::<crate::db::DbResult<Vec<_>>>()
            .map_err(sql(action))
    }

    /// Ids of evals starting with `prefix`.
    pub fn eval_ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let action = "finding an eval";
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT id FROM evals WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id LIMIT 10",
            )
            .map_err(sql(action))?;
        let rows = statement
            .query_map(params![prefix], |row| row.get(0))
            .map_err(sql(action))?;
        rows.collect::<crate::db::DbResult<Vec<String>>>()
            .map_err(sql(action))
    }

    /// One eval's report (JSON).
    pub fn eval_report(&self, id: &str) -> Result<Option<String>> {
        self.connection()
            .query_row(
                "SELECT report FROM evals WHERE id = ?1",
                params![id],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql("reading an eval"))
    }

    /// Deletes an eval (its runs stay); whether it was there.
    pub fn delete_eval(&self, id: &str) -> Result<bool> {
        let changed = self
            .connection()
            .execute("DELETE FROM evals WHERE id = ?1", params![id])
            .map_err(sql("deleting an eval"))?;
        Ok(changed == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evals_are_saved_listed_found_and_deleted() {
        let (_dir, store) = crate::scratch();
        for (id, flow, at) in [
            ("e1aa", "qa", 1.0),
            ("e2bb", "qa", 2.0),
            ("e3cc", "other", 3.0),
        ] {
            store
                .save_eval(&NewEval {
                    summary: EvalSummary {
                        id: id.into(),
                        flow: flow.into(),
                        dataset: "set.jsonl".into(),
                        mode: "live".into(),
                        started_at: at,
                        cases: 4,
                        passed: 3,
                        ok: false,
                    },
                    report: "{}",
                })
                .expect("saved");
        }
        let all = store.evals(None, 10).expect("list");
        assert_eq!(
            all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["e3cc", "e2bb", "e1aa"]
        );
        assert_eq!(store.evals(Some("qa"), 1).expect("list")[0].id, "e2bb");
        assert_eq!(store.eval_ids_with_prefix("e2").expect("find"), ["e2bb"]);
        assert_eq!(
            store.eval_report("e1aa").expect("read").as_deref(),
            Some("{}")
        );
        assert!(store.delete_eval("e1aa").expect("delete"));
        assert!(!store.delete_eval("e1aa").expect("again"));
        assert_eq!(store.eval_report("e1aa").expect("read"), None);
    }
}
