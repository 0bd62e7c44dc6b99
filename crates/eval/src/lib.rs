//! CodexOS evaluations, the pure part: datasets (JSONL and CSV), scorers,
//! the eval report with its baseline comparison and thresholds, and the
//! report as `JUnit` XML and Markdown. The runtime runs the cases (live, or
//! replayed from a baseline's recorded calls) and the model-graded and
//! custom scorers.

pub mod dataset;
pub mod report;
pub mod scorer;

use std::path::PathBuf;

pub use dataset::{Dataset, EvalCase};
pub use report::{
    junit, markdown, CaseChange, CaseChangeKind, CaseResult, EvalAttempt, EvalComparison, EvalMode,
    EvalReport, EvalStats, EvalThreshold, Limit,
};
pub use scorer::{EvalScore, Scorer};

/// Scorers and thresholds as written on a command line or in the app's form
/// (one spec each; blank entries skipped).
pub fn parse_specs(scorers: &[String], thresholds: &[String]) -> Result<(Vec<Scorer>, Vec<Limit>)> {
    let given = |specs: &[String]| -> Vec<String> {
        specs
            .iter()
            .map(|spec| spec.trim().to_owned())
            .filter(|spec| !spec.is_empty())
            .collect()
    };
    let scorers = given(scorers)
        .iter()
        .map(|spec| Scorer::parse(spec))
        .collect::<Result<_>>()?;
    let limits = given(thresholds)
        .iter()
        .map(|spec| Limit::parse(spec))
        .collect::<Result<_>>()?;
    Ok((scorers, limits))
}

/// What can go wrong reading datasets, scorers, thresholds and reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS's words.
        message: String,
    },
    /// A dataset is malformed.
    #[error("dataset {}{}: {message}", path.display(), if *line > 0 { format!(", line {line}") } else { String::new() })]
    Dataset {
        /// The file.
        path: PathBuf,
        /// 1-based line, 0 for the whole file.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A scorer spec is malformed.
    #[error("scorer {message}")]
    Scorer {
        /// What is wrong.
        message: String,
    },
    /// A threshold is malformed.
    #[error("threshold {message}")]
    Threshold {
        /// What is wrong.
        message: String,
    },
    /// A report (baseline) file cannot be used.
    #[error("eval report: {message}")]
    Report {
        /// What is wrong.
        message: String,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_skip_blanks_and_refuse_bad_ones() {
        let (scorers, limits) = parse_specs(
            &["contains".into(), "  ".into()],
            &[" pass-rate=0.9 ".into(), String::new()],
        )
        .expect("specs");
        assert_eq!((scorers.len(), limits.len()), (1, 1));
        assert!(parse_specs(&["nonsense".into()], &[]).is_err());
        assert!(parse_specs(&[], &["speed=1".into()]).is_err());
    }
}
