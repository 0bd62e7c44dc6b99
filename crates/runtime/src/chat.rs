//! Chat through the router: the policy from config, keys from the vault, the
//! local model shared by every caller, and every attempt recorded in SQLite.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use codexos_llm::{
    ChatEvent, ChatMessage, ChatRequest, Completion, EventStream, LocalModel, LocalProvider,
    ModelLoader, ModelOptions, Outcome, Provider, ProviderInfo, ProviderKind, RemoteProvider,
    RemoteSettings, Router, RouterSettings, ToolSpec,
};
use codexos_store::{AttemptRecord, Store};
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ProviderConfig};
use crate::{models, Error, Home, Result, Runtime};

/// Everything Settings → Providers / Models shows.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, specta::Type)]
pub struct LlmSettings {
    /// The policy, in order.
    pub providers: Vec<ProviderInfo>,
    /// Whether remote providers are refused.
    pub offline: bool,
    /// Models in the catalog and the models folder.
    pub models: Vec<models::ModelEntry>,
    /// Names of the secrets in the vault (never their values).
    pub secrets: Vec<String>,
    /// The newest router attempts.
    pub attempts: Vec<AttemptRecord>,
    /// Every `[[providers]]` entry, in the policy or not.
    pub configured: Vec<ProviderConfig>,
}

/// The policy name of the configured local chat model.
pub const LOCAL: &str = "local";

/// The loaded local model, shared by the router, `ask` and `doctor`; asking
/// for another file replaces it.
pub(crate) struct LocalModels {
    home: Home,
    store: Arc<Store>,
    options: ModelOptions,
    slot: tokio::sync::Mutex<Option<Arc<LocalModel>>>,
}

impl LocalModels {
    pub(crate) fn new(home: Home, store: Arc<Store>, config: &Config) -> Self {
        let defaults = ModelOptions::default();
        Self {
            home,
            store,
            options: ModelOptions {
                threads: config.llm.threads.unwrap_or(defaults.threads),
                batch_threads: defaults.batch_threads.max(config.llm.threads.unwrap_or(1)),
                context_size: config.llm.context_size,
                parallel: config.llm.parallel.max(1),
                force_chatml: config.llm.chat_template == crate::config::ChatTemplateChoice::Chatml,
            },
            slot: tokio::sync::Mutex::new(None),
        }
    }

    pub(crate) async fn get(&self, path: PathBuf) -> Result<Arc<LocalModel>> {
        // The async lock is held while loading on purpose: concurrent requests
        // wait for the one load instead of reading the same GGUF twice.
        let mut slot = self.slot.lock().await;
        // A file removed meanwhile is not served from memory: the request
        // fails as for any missing model, saying how to get it back.
        if let Some(model) = slot
            .as_ref()
            .filter(|model| model.path() == path && path.is_file())
        {
            return Ok(Arc::clone(model));
        }
        // Free the old model's memory before loading the next.
        *slot = None;
        let options = self.options.clone();
        let store = Arc::clone(&self.store);
        let home = self.home.clone();
        let model = tokio::task::spawn_blocking(move || -> Result<Arc<LocalModel>> {
            models::verify(&store, &home, &path)?;
            Ok(Arc::new(LocalModel::load(&path, options)?))
        })
        .await
        .map_err(Error::task)??;
        *slot = Some(Arc::clone(&model));
        Ok(model)
    }
}

impl ModelLoader for LocalModels {
    fn load(&self, path: PathBuf) -> BoxFuture<'_, codexos_llm::Result<Arc<LocalModel>>> {
        Box::pin(async move {
            self.get(path).await.map_err(|error| match error {
                Error::Llm(error) => error,
                missing @ (Error::ModelMissing { .. } | Error::ModelChecksum { .. }) => {
                    codexos_llm::Error::ModelUnavailable {
                        message: missing.to_string(),
                    }
                }
                other => codexos_llm::Error::Backend {
                    message: other.to_string(),
                },
            })
        })
    }
}

/// Options of one chat request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatOptions {
    /// A provider name, or a .gguf in the models folder (default: the policy).
    pub model: Option<String>,
    /// Most tokens to generate (default: config).
    pub max_tokens: Option<u32>,
    /// Sampling temperature (default: config).
    pub temperature: Option<f32>,
    /// Whether a tool must be called.
    pub tool_choice: codexos_llm::ToolChoice,
    /// W3C `traceparent` to send to remote providers.
    pub trace_parent: Option<String>,
}

fn local_provider(runtime: &Runtime, name: &str, file: &str) -> Arc<dyn Provider> {
    let path = models::resolve(&runtime.home, file);
    let tools = codexos_llm::gguf_info(&path).is_ok_and(|info| info.supports_tools);
    Arc::new(LocalProvider::new(
        name,
        path,
        runtime.config.llm.context_size,
        tools,
        Arc::clone(&runtime.local) as Arc<dyn ModelLoader>,
    ))
}

fn remote_provider(runtime: &Runtime, config: &ProviderConfig) -> Result<Arc<dyn Provider>> {
    if config.kind == ProviderKind::Local {
        return Err(Error::Config {
            path: runtime.home.config(),
            message: format!(
                "provider `{}` has kind \"local\": local models are named in llm.policy, providers are openai or anthropic",
                config.name
            ),
            line: None,
        });
    }
    let key = config.key.clone().map(|name| {
        let vault = runtime.vault.clone();
        let purpose = format!("provider {}", config.name);
        let source: codexos_llm::KeySource = Arc::new(move || {
            use secrecy::ExposeSecret;
            match vault.get_for(&name, &purpose) {
                Ok(secret) => Ok(Some(secret.expose_secret().to_owned())),
                Err(codexos_vault::Error::NotFound { .. }) => Ok(None),
                Err(error) => Err(error.to_string()),
            }
        });
        source
    });
    let provider = RemoteProvider::new(RemoteSettings {
        info: ProviderInfo {
            name: config.name.clone(),
            kind: config.kind,
            model: config.model.clone(),
            remote: true,
            context_size: config.context_size,
            tools: config.tools,
            timeout_secs: config.timeout_secs,
            // The secret's name (config may say `vault://NAME`; checked on load).
            key: config.key.as_deref().map(|reference| {
                codexos_vault::secret_name(reference)
                    .unwrap_or(reference)
                    .to_owned()
            }),
        },
        base_url: config.base_url.clone(),
        key,
    })?;
    Ok(Arc::new(provider))
}

/// Removes leading and trailing whitespace from `text`.
fn trim_in_place(text: &mut String) {
    text.truncate(text.trim_end().len());
    let leading = text.len() - text.trim_start().len();
    text.drain(..leading);
}

/// The vault name suggested for a provider's key: `OPENAI_2_API_KEY`.
#[must_use]
pub fn provider_key_name(provider: &str) -> String {
    format!(
        "{}_API_KEY",
        provider.to_uppercase().replace(['-', '.'], "_")
    )
}

/// The providers named in `names` (empty: local, then every provider), in order.
fn policy(runtime: &Runtime, names: &[String]) -> Result<Vec<Arc<dyn Provider>>> {
    let config = &runtime.config;
    let providers = runtime.configured_providers();
    let names: Vec<String> = if names.is_empty() {
        std::iter::once(LOCAL.to_owned())
            .chain(providers.iter().map(|provider| provider.name.clone()))
            .collect()
    } else {
        names.to_vec()
    };
    names
        .iter()
        .map(|name| {
            if name == LOCAL {
                return Ok(local_provider(runtime, LOCAL, &config.models.chat));
            }
            if let Some(provider) = providers.iter().find(|provider| &provider.name == name) {
                return remote_provider(runtime, provider);
            }
            if models::resolve(&runtime.home, name).is_file() {
                return Ok(local_provider(runtime, name, name));
            }
            Err(Error::Config {
                path: runtime.home.config(),
                message: format!(
                    "llm.policy names `{name}`, which is neither \"local\", a [[providers]] name, nor a model file"
                ),
                line: None,
            })
        })
        .collect()
}

/// Stores each request's router attempts in SQLite, under a fresh id.
fn attempt_sink(store: Arc<Store>) -> codexos_llm::AttemptSink {
    Arc::new(move |attempts| {
        let request = uuid::Uuid::new_v4().to_string();
        if let Err(error) = store.record_attempts(&attempt_records(&request, attempts)) {
            tracing::warn!(%error, "cannot record LLM attempts");
        }
    })
}

fn attempt_records(request: &str, attempts: &[codexos_llm::Attempt]) -> Vec<AttemptRecord> {
    attempts
        .iter()
        .map(|attempt| {
            let (outcome, detail) = match &attempt.outcome {
                Outcome::Ok => ("ok", String::new()),
                Outcome::Skipped(reason) => ("skipped", reason.clone()),
                Outcome::Failed(reason) => ("failed", reason.clone()),
            };
            AttemptRecord {
                request: request.to_owned(),
                provider: attempt.provider.clone(),
                model: attempt.model.clone(),
                latency_ms: attempt.latency_ms,
                first_token_ms: attempt.first_token_ms,
                prompt_tokens: attempt.prompt_tokens,
                completion_tokens: attempt.completion_tokens,
                outcome: outcome.to_owned(),
                detail,
            }
        })
        .collect()
}

/// Drops the oldest exchange after the system prompt (keeping the newest
/// user turn); `false` when nothing is left to drop.
pub(crate) fn drop_oldest_exchange(history: &mut Vec<ChatMessage>) -> bool {
    let first = history
        .iter()
        .position(|message| message.role != codexos_llm::Role::System);
    let users = history
        .iter()
        .filter(|message| message.role == codexos_llm::Role::User)
        .count();
    let Some(first) = first.filter(|_| users > 1) else {
        return false;
    };
    // The oldest user turn and everything up to the next user turn.
    let end = history[first + 1..]
        .iter()
        .position(|message| message.role == codexos_llm::Role::User)
        .map_or(history.len(), |offset| first + 1 + offset);
    history.drain(first..end);
    true
}

impl Runtime {
    fn router_slot(&self) -> std::sync::MutexGuard<'_, Option<Arc<Router>>> {
        self.router
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn policy_names(&self) -> Vec<String> {
        self.policy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A router over `providers` with the configured behaviour, recording
    /// its attempts in SQLite.
    fn new_router(&self, providers: Vec<Arc<dyn Provider>>) -> Router {
        let config = &self.config.llm;
        let settings = RouterSettings {
            offline: self.offline(),
            failure_threshold: config.failure_threshold.max(1),
            cooldown: Duration::from_secs(u64::from(config.cooldown_secs)),
            max_retry_wait: Duration::from_secs(u64::from(config.max_retry_wait_secs)),
        };
        Router::new(providers, settings).with_sink(attempt_sink(Arc::clone(&self.store)))
    }

    fn build_router(&self, names: &[String]) -> Result<Router> {
        Ok(self.new_router(policy(self, names)?))
    }

    /// The router of the policy, built on first use.
    pub fn router(&self) -> Result<Arc<Router>> {
        let mut slot = self.router_slot();
        if let Some(router) = slot.as_ref() {
            return Ok(Arc::clone(router));
        }
        let router = Arc::new(self.build_router(&self.policy_names())?);
        *slot = Some(Arc::clone(&router));
        Ok(router)
    }

    /// What Settings → Providers / Models shows: the policy, offline, the
    /// models, the newest router attempts, every `[[providers]]` entry and
    /// (`with_secrets`) the vault's secret names.
    pub fn llm_settings(&self, with_secrets: bool) -> Result<LlmSettings> {
        Ok(LlmSettings {
            providers: self.providers()?,
            offline: self.offline(),
            models: self.models(),
            secrets: if with_secrets {
                self.secret_names()?
            } else {
                Vec::new()
            },
            attempts: self.recent_attempts(30)?,
            configured: self.configured_providers(),
        })
    }

    /// Whether `name` is one the policy may name: `local`, a configured
    /// provider, or a model file of the models folder (by its file name: no
    /// path that would reach another folder).
    #[must_use]
    pub fn knows_provider(&self, name: &str) -> bool {
        name == LOCAL
            || self
                .configured_providers()
                .iter()
                .any(|provider| provider.name == name)
            || (!name.contains(['/', '\\'])
                && name != ".."
                && models::resolve(&self.home, name).starts_with(self.home.models())
                && models::resolve(&self.home, name).is_file())
    }

    /// Sets the provider order (`llm.policy`): checked, written to
    /// config.toml (comments kept), and used from the next request on.
    pub fn set_policy(&self, names: Vec<String>) -> Result<()> {
        if let Some(name) = names.iter().find(|name| !self.knows_provider(name)) {
            return Err(Error::InvalidProvider {
                name: name.clone(),
                message: "the policy may name \"local\", a configured provider or a model file of the models folder only".into(),
            });
        }
        let router = self.build_router(&names)?;
        crate::config::write_policy(&self.home.config(), &names)?;
        *self
            .policy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = names;
        *self.router_slot() = Some(Arc::new(router));
        self.audited(
            "policy.set",
            "",
            serde_json::json!({ "policy": self.policy_names() }),
        );
        Ok(())
    }

    /// The `[[providers]]` configured now.
    #[must_use]
    pub fn configured_providers(&self) -> Vec<ProviderConfig> {
        self.providers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Adds a remote provider: checked (name free, kind, URL, key a vault
    /// name), written to config.toml as a `[[providers]]` entry, and put
    /// last in `llm.policy` when the policy names its providers (an empty
    /// policy uses every provider already). `key_value`, when given, is
    /// stored in the vault under the name `provider.key` once the rest is
    /// checked (keys never go into config.toml).
    pub fn add_provider(
        &self,
        mut provider: ProviderConfig,
        key_value: Option<&secrecy::SecretString>,
    ) -> Result<()> {
        for field in [
            &mut provider.name,
            &mut provider.model,
            &mut provider.base_url,
        ] {
            trim_in_place(field);
        }
        let secret = self.check_new_provider(&provider)?;
        let name = provider.name.clone();
        let invalid = |message: String| Error::InvalidProvider {
            name: name.clone(),
            message,
        };
        // A pasted key is stored first, under a name no other secret holds
        // (never over another provider's key); a config that cannot be
        // written takes it back out.
        let stored = match (&secret, key_value) {
            (Some(secret), Some(value)) => {
                if self.secret_names()?.iter().any(|known| known == secret) {
                    return Err(invalid(format!(
                        "the vault holds a secret named `{secret}` already — give the key another name, or leave the key empty to use the stored one"
                    )));
                }
                self.set_secret(secret, value)?;
                Some(secret.clone())
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "a key was given without the name of the vault secret to keep it in".to_owned(),
                ))
            }
            _ => None,
        };
        let mut names = self.policy_names();
        if !names.is_empty() {
            names.push(name.clone());
        }
        let policy = (!names.is_empty()).then_some(names.as_slice());
        if let Err(error) = crate::config::add_provider(&self.home.config(), &provider, policy) {
            if let Some(secret) = stored {
                if let Err(undo) = self.remove_secret(&secret) {
                    tracing::warn!(%undo, "cannot take the new provider's key back out of the vault");
                }
            }
            return Err(error);
        }
        self.audited(
            "provider.add",
            &provider.name,
            serde_json::json!({ "kind": provider.kind, "baseUrl": Self::audit_url(&provider.base_url), "model": provider.model }),
        );
        self.providers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(provider);
        if let Some(names) = policy {
            *self
                .policy
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = names.to_vec();
        }
        *self.router_slot() = None;
        Ok(())
    }

    /// Checks a provider to add (name free, key a vault name, URL, model,
    /// kind); answers the vault name of its key.
    fn check_new_provider(&self, provider: &ProviderConfig) -> Result<Option<String>> {
        let name = provider.name.clone();
        if !crate::plain_name(&name, &['.']) {
            return Err(Error::InvalidSourceName { name });
        }
        let taken = if name == LOCAL {
            Some("the configured local model")
        } else if self
            .configured_providers()
            .iter()
            .any(|known| known.name == name)
        {
            Some("a provider in config.toml")
        } else if models::resolve(&self.home, &name).is_file() {
            Some("a model file in the models folder")
        } else {
            None
        };
        if let Some(why) = taken {
            return Err(Error::ProviderExists {
                name,
                why: why.to_owned(),
            });
        }
        let invalid = |message: String| Error::InvalidProvider {
            name: name.clone(),
            message,
        };
        let secret = match &provider.key {
            Some(key) => {
                if codexos_tools::looks_like_key(key) || codexos_vault::secret_name(key).is_err() {
                    return Err(invalid(format!(
                        "its key must name a vault secret, not hold a key — store the key in Settings → Vault (or `codexos vault set {}`) and give that name",
                        provider_key_name(&name)
                    )));
                }
                Some(codexos_vault::secret_name(key).unwrap_or(key).to_owned())
            }
            None => None,
        };
        let url_ok = reqwest::Url::parse(&provider.base_url)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some());
        if !url_ok || codexos_tools::looks_like_key(&provider.base_url) {
            return Err(invalid(
                "the base URL must be an http(s) address such as `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1` (keys go in the vault, not the URL)".to_owned(),
            ));
        }
        if provider.model.is_empty() || codexos_tools::looks_like_key(&provider.model) {
            return Err(invalid(
                "give the model name the provider expects (`gpt-4o-mini`, `mistral-small-latest`)"
                    .to_owned(),
            ));
        }
        // Builds it: a kind it cannot use is refused here.
        remote_provider(self, provider)?;
        Ok(secret)
    }

    /// Removes a remote provider from config.toml and from `llm.policy`;
    /// its key stays in the vault (Settings → Vault deletes it).
    pub fn remove_provider(&self, name: &str) -> Result<()> {
        let known = self.configured_providers();
        if !known.iter().any(|provider| provider.name == name) {
            let names: Vec<&str> = known
                .iter()
                .map(|provider| provider.name.as_str())
                .collect();
            return Err(Error::UnknownProvider {
                name: name.to_owned(),
                known: if names.is_empty() {
                    "none is configured".to_owned()
                } else {
                    format!("configured: {}", names.join(", "))
                },
            });
        }
        let mut names = self.policy_names();
        let in_policy = names.iter().any(|known| known == name);
        names.retain(|known| known != name);
        // One write: the entry and the policy naming it go together.
        crate::config::remove_provider(
            &self.home.config(),
            name,
            in_policy.then_some(names.as_slice()),
        )?;
        self.providers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|provider| provider.name != name);
        if in_policy {
            *self
                .policy
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = names;
        }
        *self.router_slot() = None;
        self.audited("provider.remove", name, serde_json::json!({}));
        Ok(())
    }

    /// Forbids (or allows again) every network connection of this process,
    /// whatever config says (`--offline`, the app's switch); `offline = true`
    /// in config.toml always wins. Enforced beneath every HTTP client by
    /// `codexos-net`; the router and the tool registry refuse earlier with
    /// their own messages.
    pub fn set_offline(&self, offline: bool) {
        self.offline
            .store(offline, std::sync::atomic::Ordering::Relaxed);
        codexos_net::set_offline(self.offline());
        if let Some(router) = self.router_slot().as_ref() {
            router.set_offline(self.offline());
        }
    }

    /// Whether remote providers are refused.
    #[must_use]
    pub fn offline(&self) -> bool {
        self.config.offline
            || self.config.llm.offline
            || self.offline.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The providers of the policy, in order, with what is known of them.
    pub fn providers(&self) -> Result<Vec<ProviderInfo>> {
        Ok(self
            .router()?
            .providers()
            .iter()
            .map(|provider| provider.info().clone())
            .collect())
    }

    /// Recent router attempts, newest first (traces and cost).
    pub fn recent_attempts(&self, limit: u32) -> Result<Vec<AttemptRecord>> {
        Ok(self.store.recent_attempts(limit)?)
    }

    /// The router for `model`: the policy's, or a one-off router for a .gguf
    /// file that is not in the policy.
    fn router_for(&self, model: Option<&str>) -> Result<(Arc<Router>, Option<String>)> {
        let router = self.router()?;
        let Some(name) = model else {
            return Ok((router, None));
        };
        let known = router
            .providers()
            .iter()
            .any(|provider| provider.info().answers_to(name));
        if known || !models::resolve(&self.home, name).is_file() {
            return Ok((router, Some(name.to_owned())));
        }
        let single = self.new_router(vec![local_provider(self, name, name)]);
        Ok((Arc::new(single), None))
    }

    /// Starts a chat answer through the router. The stream ends with
    /// [`ChatEvent::Done`] (its completion lists every attempt) or an error;
    /// the router stores the attempts either way.
    pub async fn chat(
        &self,
        messages: Vec<ChatMessage>,
        tools: Vec<ToolSpec>,
        options: &ChatOptions,
        cancel: &CancellationToken,
    ) -> Result<EventStream> {
        let mut request = ChatRequest::new(messages).with_tools(tools);
        request.max_tokens = options.max_tokens.unwrap_or(self.config.llm.max_tokens);
        request.temperature = options.temperature.unwrap_or(self.config.llm.temperature);
        request.tool_choice = options.tool_choice;
        request.trace_parent.clone_from(&options.trace_parent);
        let (router, only) = self.router_for(options.model.as_deref())?;
        Ok(router.chat(&request, only.as_deref(), cancel).await?)
    }

    /// [`Runtime::chat`] for a conversation that grows turn by turn: while
    /// `history` fits no model of the policy, its oldest exchange after the
    /// system prompt is dropped (from `history` too) and the request tried
    /// again, as long as more than the newest question is left. Returns the
    /// stream and how many exchanges were dropped.
    pub async fn chat_conversation(
        &self,
        history: &mut Vec<ChatMessage>,
        options: &ChatOptions,
        cancel: &CancellationToken,
    ) -> Result<(EventStream, usize)> {
        let mut dropped = 0;
        loop {
            match self
                .chat(history.clone(), Vec::new(), options, cancel)
                .await
            {
                Err(error)
                    if error.code() == crate::ErrorCode::ContextOverflow
                        && drop_oldest_exchange(history) =>
                {
                    dropped += 1;
                }
                other => return other.map(|stream| (stream, dropped)),
            }
        }
    }

    /// One turn of a conversation the caller keeps (`codexos chat`): the
    /// answer to `history` ([`Runtime::chat_conversation`]), each event of
    /// its stream handed to `on_event`, and the turn kept as a run (its
    /// trace, see `exchanges`). `on_dropped` hears first how many oldest
    /// exchanges were left out to fit.
    pub async fn chat_turn(
        &self,
        history: &mut Vec<ChatMessage>,
        options: &ChatOptions,
        on_dropped: &(dyn Fn(usize) + Send + Sync),
        on_event: &(dyn Fn(&ChatEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<Completion> {
        self.kept_chat_turn(history, options, on_dropped, on_event, cancel)
            .await
            .0
    }

    /// A chat turn for a caller elsewhere (a team server's client):
    /// `history` holds the conversation's user and assistant messages, the
    /// question last; the chat system prompt goes before them. Answered
    /// with this runtime's models (`model`, else its policy), each piece of
    /// text handed to `on_token`, and kept as a run.
    pub async fn chat_for(
        &self,
        history: Vec<ChatMessage>,
        model: Option<String>,
        on_token: &(dyn Fn(&str) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<crate::Answer> {
        let plain = history.iter().all(|message| {
            matches!(
                message.role,
                codexos_llm::Role::User | codexos_llm::Role::Assistant
            )
        });
        if !plain
            || history
                .last()
                .is_none_or(|last| last.role != codexos_llm::Role::User)
        {
            return Err(Error::InvalidTurn {
                message: "a chat turn is user and assistant messages, a question last".to_owned(),
            });
        }
        let mut messages = vec![ChatMessage::system(crate::conversations::CHAT_SYSTEM)];
        messages.extend(history);
        let options = ChatOptions {
            model,
            ..ChatOptions::default()
        };
        let on_event = |event: &ChatEvent| {
            if let ChatEvent::Token(text) = event {
                on_token(text);
            }
        };
        let (answered, run_id) = self
            .kept_chat_turn(&mut messages, &options, &|_| {}, &on_event, cancel)
            .await;
        let completion = answered?;
        Ok(crate::Answer {
            text: completion.text.trim().to_owned(),
            citations: Vec::new(),
            model: completion.model.clone(),
            completion,
            run_id,
        })
    }

    /// [`Self::chat_turn`], with the id of the run it is kept as.
    async fn kept_chat_turn(
        &self,
        history: &mut Vec<ChatMessage>,
        options: &ChatOptions,
        on_dropped: &(dyn Fn(usize) + Send + Sync),
        on_event: &(dyn Fn(&ChatEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> (Result<Completion>, Option<String>) {
        let question = history
            .last()
            .map(|message| message.content.clone())
            .unwrap_or_default();
        let mut trace = crate::exchanges::ExchangeTrace::start(
            crate::exchanges::ExchangeKind::Chat,
            serde_json::json!({ "question": question }),
            None,
        );
        let mut options = options.clone();
        options.trace_parent = Some(trace.answering());
        let answered = async {
            let (mut stream, dropped) = self.chat_conversation(history, &options, cancel).await?;
            if dropped > 0 {
                on_dropped(dropped);
            }
            while let Some(item) = stream.recv().await {
                let event = item?;
                on_event(&event);
                if let ChatEvent::Done(completion) = event {
                    return Ok(completion);
                }
            }
            Err(Error::Task {
                message: "the answer ended without a summary".into(),
            })
        }
        .await;
        let end = match &answered {
            Ok(completion) => crate::exchanges::ExchangeEnd::Answered(completion),
            Err(error) => crate::exchanges::ExchangeEnd::of(None, Some(error)),
        };
        let run_id = self.keep_exchange(trace, history, &options, end);
        (answered, run_id)
    }

    /// [`Runtime::chat`] to the end, handing each piece of text to `on_token`.
    pub async fn chat_to_end(
        &self,
        messages: Vec<ChatMessage>,
        tools: Vec<ToolSpec>,
        options: &ChatOptions,
        on_token: &(dyn Fn(&str) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<Completion> {
        let mut stream = self.chat(messages, tools, options, cancel).await?;
        while let Some(item) = stream.recv().await {
            match item? {
                ChatEvent::Token(text) => on_token(&text),
                ChatEvent::ToolCall(_) => {}
                ChatEvent::Done(completion) => return Ok(completion),
            }
        }
        Err(Error::Task {
            message: "the answer ended without a summary".into(),
        })
    }

    /// Sends one short, greedy request to the provider `name` alone
    /// (`providers test`, Settings → Providers → Test).
    pub async fn test_provider(
        &self,
        name: &str,
        cancel: &CancellationToken,
    ) -> Result<Completion> {
        let options = ChatOptions {
            model: Some(name.to_owned()),
            max_tokens: Some(16),
            temperature: Some(0.0),
            ..ChatOptions::default()
        };
        let question = vec![ChatMessage::user("Reply with the single word: ready")];
        self.chat_to_end(question, Vec::new(), &options, &|_| {}, cancel)
            .await
    }

    /// The configured local chat model (or `name`), loaded and kept.
    pub async fn chat_model(&self, name: Option<&str>) -> Result<Arc<LocalModel>> {
        let path = models::resolve(&self.home, name.unwrap_or(&self.config.models.chat));
        self.local.get(path).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_model_file_removed_after_loading_is_not_served_from_memory() {
        let Some(real) = codexos_test_support::model_or_skip("SmolLM2-135M-Instruct.Q4_1.gguf")
        else {
            return;
        };
        let dir = tempfile::tempdir().expect("dir");
        let home = Home::new(dir.path().join("home"), Some(dir.path().join("models")));
        home.prepare().expect("home");
        let link = dir.path().join("models/mine.gguf");
        std::os::unix::fs::symlink(&real, &link).expect("link");
        let store = Arc::new(Store::open(&home.database()).expect("store"));
        let config = Config::load_or_create(&home.config()).expect("config");
        let models = LocalModels::new(home, store, &config);
        // Positive control: loaded, then served from memory.
        let first = models.get(link.clone()).await.expect("loads");
        let again = models.get(link.clone()).await.expect("cached");
        assert!(Arc::ptr_eq(&first, &again));
        std::fs::remove_file(&link).expect("removed");
        let Err(error) = models.load(link.clone()).await else {
            panic!("a removed file was served from memory")
        };
        assert!(
            matches!(error, codexos_llm::Error::ModelMissing { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("mine.gguf"), "{error}");
    }

    #[test]
    fn the_oldest_exchange_goes_first_and_the_last_question_stays() {
        let mut history = vec![
            ChatMessage::system("s"),
            ChatMessage::user("q1"),
            ChatMessage::assistant("a1"),
            ChatMessage::user("q2"),
            ChatMessage::assistant("a2"),
            ChatMessage::user("q3"),
        ];
        assert!(drop_oldest_exchange(&mut history));
        assert_eq!(
            history,
            vec![
                ChatMessage::system("s"),
                ChatMessage::user("q2"),
                ChatMessage::assistant("a2"),
                ChatMessage::user("q3")
            ]
        );
        assert!(drop_oldest_exchange(&mut history));
        assert!(
            !drop_oldest_exchange(&mut history),
            "the question itself stays"
        );
        assert_eq!(
            history,
            vec![ChatMessage::system("s"), ChatMessage::user("q3")]
        );
    }
}
