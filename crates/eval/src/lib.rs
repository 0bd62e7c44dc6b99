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
