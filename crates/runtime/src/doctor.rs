//! `codexos doctor`: checks every component and says how to fix what fails.

use std::path::Path;

use serde::Serialize;

use crate::{models, Config, Runtime};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Works.
    Ok,
    /// Works with a caveat.
    Warn,
    /// Broken.
    Fail,
}

/// One component's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Outcome.
    pub status: CheckStatus,
    /// What was found.
    pub detail: String,
    /// What to do about a failure.
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status: CheckStatus::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status: CheckStatus::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The fix when the embedding model or ONNX Runtime cannot be loaded.
const EMBEDDER_FIX: &str = "run `codexos models pull minilm` and `codexos models pull onnxruntime`, or check `[models] embedding` in config.toml";

impl Runtime {
    /// Checks the data home, the config, every pinned model file, ONNX
    /// Runtime and the embedding model, llama.cpp and the chat model, the OS
    /// keychain and the WebKit runtime.
    pub async fn doctor(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        checks.push(match self.home.prepare() {
            Ok(()) => Check::ok(
                "data home",
                format!("{} is writable", self.home.root().display()),
            ),
            Err(error) => Check::fail(
                "data home",
                error.to_string(),
                "set CODEXOS_HOME to a writable folder",
            ),
        });
        checks.push(match Config::load_or_create(&self.home.config()) {
            Ok(_) => Check::ok("config", format!("{} parses", self.home.config().display())),
            Err(error) => Check::fail(
                "config",
                error.to_string(),
                "fix the file, or delete it to get the defaults back",
            ),
        });
        checks.extend(self.model_file_checks().await);
        checks.push(self.embedder_check().await);
        checks.push(match self.chat_model(None).await {
            Ok(model) => Check::ok(
                "llama.cpp + chat model",
                format!(
                    "{} loaded ({}-token context)",
                    model.name(),
                    model.context_size()
                ),
            ),
            Err(error) => Check::fail(
                "llama.cpp + chat model",
                error.to_string(),
                format!(
                    "{}, or name another model in `[models] chat`",
                    models::pull_hint(&self.config.models.chat)
                ),
            ),
        });
        checks.push(match self.vault.check() {
            Ok(()) => Check::ok("OS keychain", "reachable"),
            Err(error) => Check::fail(
                "OS keychain",
                error.to_string(),
                "start a Secret Service provider (gnome-keyring-daemon, KeePassXC) in your D-Bus session; the vault refuses to work without one",
            ),
        });
        checks.push(webkit_check());
        checks
    }
}

fn webkit_check() -> Check {
    const NAME: &str = "WebKit runtime (desktop app)";
    if !cfg!(target_os = "linux") {
        return Check::ok(NAME, "system web view");
    }
    let library = "libwebkit2gtk-4.1.so.0";
    let found = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
    ]
    .iter()
    .map(|directory| Path::new(directory).join(library))
    .find(|path| path.exists());
    match found {
        Some(path) => Check::ok(NAME, format!("{} found", path.display())),
        None => Check {
            name: NAME.into(),
            status: CheckStatus::Warn,
            detail: format!("{library} not found; the CLI works, the desktop app will not start"),
            fix: Some(
                "install the WebKitGTK 4.1 runtime: `sudo apt-get install libwebkit2gtk-4.1-0` on Debian and Ubuntu (the CodexOS .deb depends on it)"
                    .into(),
            ),
        },
    }
}
impl Runtime {
    /// Every pinned model file: present and matching its checksum (an
    /// optional one may be absent).
    async fn model_file_checks(&self) -> Vec<Check> {
        let store = std::sync::Arc::clone(&self.store);
        let home = self.home.clone();
        tokio::task::spawn_blocking(move || {
            models::catalog()
                .into_iter()
                .map(|entry| {
                    let path = home.models().join(&entry.file);
                    let name = format!("model file {}", entry.file);
                    if entry.optional && !path.exists() {
                        return Check::ok(
                            name,
                            format!(
                                "optional, not installed (codexos models pull {})",
                                entry.component
                            ),
                        );
                    }
                    match models::verify_file(&store, &path, &entry) {
                        Ok(()) => Check::ok(name, "present, sha256 matches"),
                        Err(error) => Check::fail(
                            name,
                            error.to_string(),
                            models::pull_hint(&entry.component),
                        ),
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_else(|error| {
            vec![Check::fail(
                "model files",
                error.to_string(),
                "run `codexos doctor` again; if it keeps failing, `codexos models list` shows what is installed",
            )]
        })
    }

    /// ONNX Runtime loads and the embedding model embeds a word.
    async fn embedder_check(&self) -> Check {
        const NAME: &str = "ONNX Runtime + embedding model";
        let outcome = match self.embedder().await {
            Ok(embedder) => {
                let embedder = std::sync::Arc::clone(&embedder);
                tokio::task::spawn_blocking(move || embedder.embed(&["doctor".to_owned()]))
                    .await
                    .map_err(|error| error.to_string())
                    .and_then(|embedded| embedded.map_err(|error| error.to_string()))
            }
            Err(error) => Err(error.to_string()),
        };
        match outcome {
            Ok(vectors) => Check::ok(
                NAME,
                format!("loaded; {} dimensions", vectors.first().map_or(0, Vec::len)),
            ),
            Err(error) => Check::fail(NAME, error, EMBEDDER_FIX),
        }
    }
}
