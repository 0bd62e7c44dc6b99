//! Logging for the shells: a file in the data home's `logs/`, and stderr for
//! errors. `RUST_LOG` overrides the file's level (default: `info`, llama.cpp at
//! `warn`).

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::Home;

/// Installs the global subscriber; `shell` names the log file
/// (`logs/<shell>.log`). Never fails: without a writable log file, logs go to
/// stderr only.
pub fn init(home: &Home, shell: &str) {
    // llama.cpp reports every context it creates at info level: keep it to warnings.
    let file_filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,llama-cpp-2=warn"));
    let file_layer = std::fs::create_dir_all(home.logs())
        .and_then(|()| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(home.logs().join(format!("{shell}.log")))
        })
        .ok()
        .map(|file| {
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(Mutex::new(file))
                .with_filter(file_filter)
        });
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_filter(tracing_subscriber::filter::LevelFilter::ERROR);
    if tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init()
        .is_err()
    {
        tracing::debug!("a tracing subscriber was already installed");
    }
}
