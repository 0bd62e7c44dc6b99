//! `codexos bench …`: commands that measure and print figures (never timed
//! assertions in tests).

use std::path::Path;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::{Home, IngestReport, Result, Runtime};

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

    async fn bench_ingest_in(
        &self,
        scratch: &Path,
        folder: &Path,
        cancel: &CancellationToken,
    ) -> Result<IngestBench> {
        let home = Home::new(
            scratch.to_path_buf(),
            Some(self.home.models().to_path_buf()),
        );
        home.prepare()?;
        let config = toml::to_string(&self.config).map_err(|error| crate::Error::Config {
            path: home.config(),
            message: error.to_string(),
            line: None,
        })?;
        std::fs::write(home.config(), config).map_err(|source| crate::Error::Home {
            path: home.config(),
            source,
        })?;
        let runtime = Runtime::open(home)?;
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
