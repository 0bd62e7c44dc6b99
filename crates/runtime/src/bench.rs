//! `codexos bench …`: commands that measure and print figures (never timed
//! assertions in tests): ingest throughput (here), retrieval quality
//! ([`retrieval`]), search latency and ANN recall at scale ([`search`]), and
//! embedding throughput against the Python pipeline ([`embed`]), local
//! inference against llama.cpp's own llama-bench ([`llm`]), and the flow
//! orchestrator against `LangGraph` ([`flow`]), the latency from a write in
//! a watched folder to a search that finds it ([`watch`]), and `runs diff`
//! on two large runs ([`compare`]), and the analytics dashboard's queries
//! over a generated home of 100,000 runs ([`analytics`]).

mod analytics;
mod compare;
mod embed;
mod flow;
mod llm;
mod otel;
mod retrieval;
mod scale;
mod search;
mod watch;

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::{Error, Home, IngestReport, Result, Runtime};

pub use analytics::AnalyticsBench;
pub use compare::CompareBench;
pub use embed::{EmbedBench, EmbedRun};
pub use flow::{ChainRun, DurableRun, FlowBench, LangGraphChain, LangGraphDurable, LangGraphRun};
pub use llm::{BatchRun, LlamaBenchRun, LlmBench, LlmBenchOptions, LlmRun};
pub use otel::OtelBench;
pub use retrieval::{EvalSet, ModeScore, RetrievalBench, Split};
pub use scale::{ScaleBench, ScalePoint};
pub use search::{SearchBench, SearchFigures};
pub use watch::WatchBench;

/// Where a benchmark ran: printed with every figure, so no figure travels
/// without its machine, build and code.
#[derive(Debug, Clone, Serialize)]
pub struct BenchSetup {
    /// CPU model (`/proc/cpuinfo`).
    pub cpu: String,
    /// Cores this process may use.
    pub cores: usize,
    /// Memory, GiB.
    pub memory_gib: f64,
    /// Build profile of the binary (`debug`, `release (opt-level 3)`, …).
    pub build: String,
    /// Commit the binary was built from.
    pub commit: String,
    /// When (UTC, RFC 3339).
    pub date: String,
}

impl BenchSetup {
    /// This machine, with the binary's `build` and `commit` (the shell
    /// knows them: they are fixed when it is compiled).
    #[must_use]
    pub fn detect(build: &str, commit: &str) -> Self {
        let field = |file: &str, key: &str| {
            std::fs::read_to_string(file).ok().and_then(|text| {
                text.lines()
                    .find(|line| line.starts_with(key))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, value)| value.trim().to_owned())
            })
        };
        let memory_kib: f64 = field("/proc/meminfo", "MemTotal")
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .unwrap_or_default();
        Self {
            cpu: field("/proc/cpuinfo", "model name")
                .unwrap_or_else(|| std::env::consts::ARCH.to_owned()),
            cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            memory_gib: (memory_kib / 1_048_576.0 * 10.0).round() / 10.0,
            build: build.to_owned(),
            commit: commit.to_owned(),
            date: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }
}

impl std::fmt::Display for BenchSetup {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "machine: {} · {} cores · {} GiB · build: {} · commit {} · {}",
            self.cpu, self.cores, self.memory_gib, self.build, self.commit, self.date
        )
    }
}

/// Figures of one ingest into a scratch data home.
#[derive(Debug, Clone, Serialize)]
pub struct IngestBench {
    /// Files indexed.
    pub files: u32,
    /// Chunks stored.
    pub chunks: u32,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Files per second.
    pub files_per_second: f64,
    /// Chunks per second, end to end.
    pub chunks_per_second: f64,
    /// Embeddings per second while embedding.
    pub embeddings_per_second: f64,
    /// Share of the wall time reading, hashing, parsing and chunking.
    pub read_share: f64,
    /// Share of the wall time computing embeddings.
    pub embed_share: f64,
    /// Share of the wall time writing to LanceDB and SQLite.
    pub store_share: f64,
    /// Peak resident memory of this process, in MiB (Linux only).
    pub peak_rss_mib: Option<f64>,
    /// The ingest report itself.
    pub report: IngestReport,
}

fn per_second(count: u32, milliseconds: u32) -> f64 {
    if milliseconds == 0 {
        0.0
    } else {
        f64::from(count) * 1000.0 / f64::from(milliseconds)
    }
}

/// Peak resident set size from `/proc/self/status` (`VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

impl Runtime {
    /// Ingests `folder` into a fresh scratch data home (sharing this home's
    /// models and config) and reports throughput and where the time went.
    pub async fn bench_ingest(
        &self,
        folder: &Path,
        cancel: &CancellationToken,
    ) -> Result<IngestBench> {
        let scratch = std::env::temp_dir().join(format!("codexos-bench-{}", std::process::id()));
        let outcome = self.bench_ingest_in(&scratch, folder, cancel).await;
        if let Err(error) = std::fs::remove_dir_all(&scratch) {
            tracing::warn!(%error, path = %scratch.display(), "could not remove the bench's scratch home");
        }
        outcome
    }

    /// A runtime on another data home that shares this one's models and
    /// settings (the benches' scratch homes).
    fn sibling(&self, root: &Path) -> Result<Arc<Runtime>> {
        let home = Home::new(root.to_path_buf(), Some(self.home.models().to_path_buf()));
        home.prepare()?;
        let config = toml::to_string(&self.config).map_err(|error| Error::Config {
            path: home.config(),
            message: error.to_string(),
            line: None,
        })?;
        std::fs::write(home.config(), config).map_err(|source| Error::Home {
            path: home.config(),
            source,
        })?;
        Runtime::open(home)
    }

    async fn bench_ingest_in(
        &self,
        scratch: &Path,
        folder: &Path,
        cancel: &CancellationToken,
    ) -> Result<IngestBench> {
        let runtime = self.sibling(scratch)?;
        let report = runtime
            .ingest(folder, Some("bench"), &|_| {}, cancel)
            .await?;
        let wall = report.elapsed_ms.max(1);
        let share = |part: u32| f64::from(part) / f64::from(wall);
        Ok(IngestBench {
            files: report.files_indexed,
            chunks: report.chunks_total,
            seconds: f64::from(report.elapsed_ms) / 1000.0,
            files_per_second: per_second(report.files_indexed, wall),
            chunks_per_second: per_second(report.chunks_total, wall),
            embeddings_per_second: per_second(report.chunks_added, report.timings.embed_ms),
            read_share: share(report.timings.read_ms),
            embed_share: share(report.timings.embed_ms),
            store_share: share(report.timings.store_ms),
            peak_rss_mib: peak_rss_mib(),
            report,
        })
    }
}

/// The sample at `share` (0.5 = median) of `samples`, sorted in place.
fn percentile(samples: &mut [f64], share: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    let at = ((samples.len() - 1) as f64 * share).round() as usize;
    samples[at]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setup_names_the_machine_build_commit_and_date() {
        let setup = BenchSetup::detect("debug", "abc123");
        let line = setup.to_string();
        assert!(setup.cores >= 1, "{line}");
        assert!(!setup.cpu.is_empty(), "{line}");
        assert!(
            line.contains("build: debug") && line.contains("commit abc123"),
            "{line}"
        );
        // A date this century, in UTC.
        assert!(
            setup.date.starts_with("20") && setup.date.ends_with('Z'),
            "{line}"
        );
        assert_eq!(setup.date.len(), 20, "{line}");
    }

    #[test]
    fn percentiles_pick_sorted_samples() {
        let mut samples = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert!((percentile(&mut samples, 0.5) - 3.0).abs() < 1e-9);
        assert!((percentile(&mut samples, 0.95) - 5.0).abs() < 1e-9);
    }
}
