//! Logging for the shells: a file in the data home's `logs/` (one JSON object
//! per line: time, level, component, message and fields — what Settings →
//! Logs reads back, filtered), and stderr for errors. `RUST_LOG` overrides the
//! file's level (default: `info`, llama.cpp at `warn`).

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
                .json()
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

/// How far back a log read looks (the newest bytes of the file).
const TAIL_BYTES: u64 = 4 * 1024 * 1024;

/// One log line, parsed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    /// RFC 3339 time (empty for a line that is not JSON).
    pub time: String,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG`, `TRACE` (`?` for a line that is not JSON).
    pub level: String,
    /// The module that logged it (`codexos_rag::ingest`).
    pub component: String,
    /// The message.
    pub message: String,
    /// Other fields, as `key=value` text.
    pub fields: String,
}

/// Which log lines to return.
#[derive(Debug, Clone, Default, serde::Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LogQuery {
    /// The least severe level shown (`error`, `warn`, `info`, `debug`, `trace`); all when absent.
    pub level: Option<String>,
    /// Only components containing this text.
    pub component: Option<String>,
    /// Only lines containing this text (message, fields or component).
    pub text: Option<String>,
    /// At most this many lines (the newest), default 500.
    pub limit: Option<u32>,
}

fn severity(level: &str) -> u8 {
    match level.to_ascii_uppercase().as_str() {
        "ERROR" => 1,
        "WARN" => 2,
        "INFO" => 3,
        "DEBUG" => 4,
        "TRACE" => 5,
        _ => 0,
    }
}

fn parse_line(line: &str) -> LogLine {
    let Ok(serde_json::Value::Object(mut object)) = serde_json::from_str::<serde_json::Value>(line)
    else {
        return LogLine {
            time: String::new(),
            level: "?".into(),
            component: String::new(),
            message: line.to_owned(),
            fields: String::new(),
        };
    };
    let text = |value: Option<serde_json::Value>| match value {
        Some(serde_json::Value::String(text)) => text,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let mut fields = match object.remove("fields") {
        Some(serde_json::Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    let message = text(fields.remove("message"));
    let rest = fields
        .into_iter()
        // The `log` crate bridge repeats where the line came from.
        .filter(|(key, _)| !key.starts_with("log."))
        .map(|(key, value)| format!("{key}={}", text(Some(value))))
        .collect::<Vec<_>>()
        .join(" ");
    LogLine {
        time: text(object.remove("timestamp")),
        level: text(object.remove("level")),
        component: text(object.remove("target")),
        message,
        fields: rest,
    }
}

/// The newest lines of a shell's log (`logs/<shell>.log`) that pass `query`,
/// oldest first. A missing file is no lines.
pub fn read_log(home: &Home, shell: &str, query: &LogQuery) -> crate::Result<Vec<LogLine>> {
    let path = home.logs().join(format!("{shell}.log"));
    read(&path, query).map_err(|source| crate::Error::Home { path, source })
}

/// The newest lines of a log file that pass `query`, oldest first. A missing
/// file is no lines.
pub fn read(path: &std::path::Path, query: &LogQuery) -> std::io::Result<Vec<LogLine>> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let length = file.metadata()?.len();
    let start = length.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.lines();
    if start > 0 {
        lines.next(); // cut in the middle
    }
    let most = query.level.as_deref().map_or(u8::MAX, severity);
    let component = query
        .component
        .as_deref()
        .unwrap_or_default()
        .to_lowercase();
    let needle = query.text.as_deref().unwrap_or_default().to_lowercase();
    let mut kept: Vec<LogLine> = lines
        .filter(|line| !line.trim().is_empty())
        .map(parse_line)
        .filter(|line| severity(&line.level) <= most)
        .filter(|line| line.component.to_lowercase().contains(&component))
        .filter(|line| {
            needle.is_empty()
                || format!("{} {} {}", line.component, line.message, line.fields)
                    .to_lowercase()
                    .contains(&needle)
        })
        .collect();
    let limit = query.limit.unwrap_or(500) as usize;
    if kept.len() > limit {
        kept.drain(..kept.len() - limit);
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::{read, LogQuery};

    #[test]
    fn log_lines_are_parsed_and_filtered_by_level_component_and_text() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("desktop.log");
        std::fs::write(
            &path,
            concat!(
                "plain text from an older version\n",
                r#"{"timestamp":"2026-12-04T10:00:00Z","level":"INFO","fields":{"message":"ingested","files":5,"log.file":"x.rs"},"target":"codexos_rag::ingest"}"#, "\n",
                r#"{"timestamp":"2026-12-04T10:00:01Z","level":"WARN","fields":{"message":"slow disk"},"target":"codexos_store"}"#, "\n",
                r#"{"timestamp":"2026-12-04T10:00:02Z","level":"DEBUG","fields":{"message":"detail"},"target":"codexos_rag::index"}"#, "\n",
                r#"{"timestamp":"2026-12-04T10:00:03Z","level":"ERROR","fields":{"message":"model failed","path":"/m"},"target":"codexos_llm"}"#, "\n",
            ),
        )
        .expect("log");
        let all = read(&path, &LogQuery::default()).expect("read");
        assert_eq!(all.len(), 5);
        assert_eq!(all[0].level, "?");
        assert_eq!(all[1].message, "ingested");
        assert_eq!(all[1].fields, "files=5");
        assert_eq!(all[1].component, "codexos_rag::ingest");
        let warnings = read(
            &path,
            &LogQuery {
                level: Some("warn".into()),
                ..LogQuery::default()
            },
        )
        .expect("read");
        let levels: Vec<&str> = warnings.iter().map(|line| line.level.as_str()).collect();
        assert_eq!(levels, ["?", "WARN", "ERROR"]);
        let rag = read(
            &path,
            &LogQuery {
                component: Some("RAG".into()),
                ..LogQuery::default()
            },
        )
        .expect("read");
        assert_eq!(rag.len(), 2);
        let text = read(
            &path,
            &LogQuery {
                text: Some("/m".into()),
                ..LogQuery::default()
            },
        )
        .expect("read");
        assert_eq!(text.len(), 1);
        assert_eq!(text[0].message, "model failed");
        let newest = read(
            &path,
            &LogQuery {
                limit: Some(2),
                ..LogQuery::default()
            },
        )
        .expect("read");
        assert_eq!(newest[1].level, "ERROR");
        assert!(read(&dir.path().join("none.log"), &LogQuery::default())
            .expect("missing")
            .is_empty());
    }
}
