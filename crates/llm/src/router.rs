//! The router: a policy is an ordered list of providers; a request goes to the
//! first that can take it, and falls back to the next on connection errors,
//! timeouts, 429 (the provider is then avoided for its Retry-After), 5xx,
//! refused keys, a context that is too long, or a missing capability. A
//! circuit breaker skips a provider that keeps failing for a cool-down. Every
//! attempt is recorded in the final [`Completion`] (or in
//! [`Error::Exhausted`]) for traces and cost. Offline mode skips every remote
//! provider.
//!
//! Fallback happens only before the first token: once text has been streamed
//! to the user, a failure is reported, not hidden behind another model's answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::provider::{EventStream, Provider};
use crate::remote::Failure;
use crate::{Attempt, ChatEvent, ChatRequest, Error, Outcome, Result};

/// Router behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterSettings {
    /// Refuse every remote provider.
    pub offline: bool,
    /// Consecutive failures that open a provider's circuit.
    pub failure_threshold: u32,
    /// How long an open circuit skips its provider.
    pub cooldown: Duration,
    /// When every provider failed and one is only rate-limited for at most
    /// this long, wait for it once instead of failing.
    pub max_retry_wait: Duration,
}

impl Default for RouterSettings {
    fn default() -> Self {
        Self {
            offline: false,
            failure_threshold: 3,
            cooldown: Duration::from_secs(30),
            max_retry_wait: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Circuit {
    failures: u32,
    open_until: Option<Instant>,
    /// Why it is open, for the skip message.
    reason: String,
}

/// Receives the attempts of each finished request — answered, failed after
/// its first token, or refused by every provider — for traces and cost.
pub type AttemptSink = Arc<dyn Fn(&[Attempt]) + Send + Sync>;

/// Routes requests over an ordered list of providers.
pub struct Router {
    providers: Vec<Arc<dyn Provider>>,
    settings: RouterSettings,
    offline: AtomicBool,
    circuits: Mutex<HashMap<String, Circuit>>,
    sink: Option<AttemptSink>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Router")
            .field("providers", &self.providers)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What one try of one provider gave.
enum Tried {
    /// It is answering: the stream and the first event.
    Answering(EventStream, crate::ChatEvent, Instant),
    /// It failed before answering.
    Failed(Error),
}

fn millis(since: Instant) -> u32 {
    since.elapsed().as_millis() as u32
}

impl Router {
    /// A router over `providers`, tried in this order.
    #[must_use]
    pub fn new(providers: Vec<Arc<dyn Provider>>, settings: RouterSettings) -> Self {
        Self {
            providers,
            offline: AtomicBool::new(settings.offline),
            settings,
            circuits: Mutex::new(HashMap::new()),
            sink: None,
        }
    }

    /// The router, handing every request's attempts to `sink`.
    #[must_use]
    pub fn with_sink(mut self, sink: AttemptSink) -> Self {
        self.sink = Some(sink);
        self
    }

    fn record(&self, attempts: &[Attempt]) {
        if let Some(sink) = &self.sink {
            sink(attempts);
        }
    }

    /// The providers, in policy order.
    #[must_use]
    pub fn providers(&self) -> &[Arc<dyn Provider>] {
        &self.providers
    }

    /// Whether remote providers are refused.
    #[must_use]
    pub fn offline(&self) -> bool {
        self.offline.load(Ordering::Relaxed)
    }

    /// Turns offline mode on or off for the next requests.
    pub fn set_offline(&self, offline: bool) {
        self.offline.store(offline, Ordering::Relaxed);
    }

    fn circuits(&self) -> std::sync::MutexGuard<'_, HashMap<String, Circuit>> {
        // A panic while holding this lock leaves plain data; keep using it.
        self.circuits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Why `provider` must be skipped for `request`, if it must.
    fn skip_reason(&self, provider: &dyn Provider, request: &ChatRequest) -> Option<String> {
        let info = provider.info();
        if self.offline() && info.remote {
            return Some("offline mode forbids remote providers".into());
        }
        if let Some(circuit) = self.circuits().get(&info.name) {
            if let Some(until) = circuit.open_until.filter(|until| *until > Instant::now()) {
                let left = until
                    .saturating_duration_since(Instant::now())
                    .as_secs_f32();
                return Some(format!("{} — skipped for {left:.0} s more", circuit.reason));
            }
        }
        if !request.tools.is_empty() && !info.tools {
            return Some(format!("`{}` cannot call tools", info.model));
        }
        if let Some(context) = info.context_size {
            let estimate = provider.estimate_tokens(request);
            if estimate > context as usize {
                return Some(format!(
                    "the prompt (~{estimate} tokens) exceeds its {context}-token context"
                ));
            }
        }
        None
    }

    fn record_success(&self, name: &str) {
        self.circuits().remove(name);
    }

    fn record_failure(&self, name: &str, error: &Error) {
        // A request that is wrong for this provider says nothing of its health.
        if matches!(
            error,
            Error::ContextOverflow { .. }
                | Error::NoTools { .. }
                | Error::Remote {
                    failure: Failure::ContextTooLong | Failure::Rejected { .. },
                    ..
                }
        ) {
            return;
        }
        let mut circuits = self.circuits();
        let circuit = circuits.entry(name.to_owned()).or_default();
        circuit.failures += 1;
        let now = Instant::now();
        if let Error::Remote {
            failure: Failure::RateLimited { retry_after_ms },
            ..
        } = error
        {
            let wait = retry_after_ms.map_or(self.settings.cooldown, |ms| {
                Duration::from_millis(u64::from(ms))
            });
            circuit.open_until = Some(now + wait);
            circuit.reason = "rate-limited".into();
        } else if circuit.failures >= self.settings.failure_threshold {
            circuit.open_until = Some(now + self.settings.cooldown);
            circuit.reason = format!("circuit open after {} failures", circuit.failures);
        }
    }

    async fn try_one(
        provider: &dyn Provider,
        request: &ChatRequest,
        cancel: &CancellationToken,
    ) -> Tried {
        let started = Instant::now();
        let timeout = provider.info().timeout();
        let mut stream = match provider.start(request, cancel.child_token()).await {
            Ok(stream) => stream,
            Err(error) => return Tried::Failed(error),
        };
        let first = tokio::select! {
            () = cancel.cancelled() => return Tried::Failed(Error::Cancelled),
            first = tokio::time::timeout(timeout, stream.recv()) => first,
        };
        match first {
            Err(_) => Tried::Failed(Error::remote(
                provider.info(),
                Failure::Timeout,
                format!("no first token in {} s", timeout.as_secs()),
            )),
            Ok(None) => Tried::Failed(Error::remote(
                provider.info(),
                Failure::Malformed,
                "the answer ended before it began",
            )),
            Ok(Some(Err(error))) => Tried::Failed(error),
            Ok(Some(Ok(event))) => Tried::Answering(stream, event, started),
        }
    }

    /// Answers `request` with the first provider of the policy that can
    /// (`only`: just the provider with this name). The stream ends with
    /// [`ChatEvent::Done`], whose completion lists every attempt.
    pub async fn chat(
        self: &Arc<Self>,
        request: &ChatRequest,
        only: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<EventStream> {
        let candidates: Vec<Arc<dyn Provider>> = match only {
            Some(name) => {
                let chosen: Vec<_> = self
                    .providers
                    .iter()
                    .filter(|provider| provider.info().answers_to(name))
                    .cloned()
                    .collect();
                if chosen.is_empty() {
                    return Err(Error::UnknownProvider {
                        name: name.to_owned(),
                        known: self
                            .providers
                            .iter()
                            .map(|provider| provider.info().name.clone())
                            .collect(),
                    });
                }
                chosen
            }
            None => self.providers.clone(),
        };
        let mut attempts = Vec::new();
        let mut retryable: Option<(Arc<dyn Provider>, Duration)> = None;
        // Whether every provider tried refused the prompt as too long: then
        // that is what the error says (and what a client can act on).
        let mut too_long = false;
        let mut other_failures = 0;
        for provider in &candidates {
            if let Some(reason) = self.skip_reason(provider.as_ref(), request) {
                attempts.push(skipped(provider.as_ref(), reason));
                continue;
            }
            match self.attempt(provider, request, cancel, &mut attempts).await {
                Ok(stream) => return Ok(stream),
                Err(Error::Cancelled) => return Err(Error::Cancelled),
                Err(error) if error.is_context_overflow() => too_long = true,
                Err(error) => {
                    other_failures += 1;
                    if let Error::Remote {
                        failure:
                            Failure::RateLimited {
                                retry_after_ms: Some(ms),
                            },
                        ..
                    } = &error
                    {
                        let wait = Duration::from_millis(u64::from(*ms));
                        if wait <= self.settings.max_retry_wait
                            && retryable.as_ref().is_none_or(|(_, best)| wait < *best)
                        {
                            retryable = Some((Arc::clone(provider), wait));
                        }
                    }
                }
            }
        }
        if let Some((provider, wait)) = retryable {
            tracing::info!(provider = %provider.info().name, ?wait, "every provider failed; waiting out a Retry-After");
            tokio::select! {
                () = cancel.cancelled() => return Err(Error::Cancelled),
                () = tokio::time::sleep(wait) => {}
            }
            self.circuits().remove(&provider.info().name);
            if let Ok(stream) = self
                .attempt(&provider, request, cancel, &mut attempts)
                .await
            {
                return Ok(stream);
            }
        }
        self.record(&attempts);
        Err(Error::Exhausted {
            offline: self.offline(),
            too_long: too_long && other_failures == 0,
            attempts,
        })
    }

    /// Tries one provider; on success returns the forwarding stream, on
    /// failure records the attempt and returns the error.
    async fn attempt(
        self: &Arc<Self>,
        provider: &Arc<dyn Provider>,
        request: &ChatRequest,
        cancel: &CancellationToken,
        attempts: &mut Vec<Attempt>,
    ) -> Result<EventStream> {
        let info = provider.info();
        let started = Instant::now();
        match Self::try_one(provider.as_ref(), request, cancel).await {
            Tried::Failed(error) => {
                if matches!(error, Error::Cancelled) {
                    return Err(error);
                }
                tracing::warn!(provider = %info.name, %error, "provider failed; trying the next");
                self.record_failure(&info.name, &error);
                attempts.push(Attempt {
                    latency_ms: millis(started),
                    ..Attempt::new(info, Outcome::Failed(error.to_string()))
                });
                Err(error)
            }
            Tried::Answering(stream, first, started) => Ok(self.forward(
                Arc::clone(provider),
                stream,
                first,
                started,
                std::mem::take(attempts),
            )),
        }
    }

    /// Passes a committed provider's stream on, adding the attempt list to
    /// its final summary.
    fn forward(
        self: &Arc<Self>,
        provider: Arc<dyn Provider>,
        mut stream: EventStream,
        first: ChatEvent,
        started: Instant,
        mut attempts: Vec<Attempt>,
    ) -> EventStream {
        let first_token_ms = millis(started);
        let (sender, receiver) = mpsc::unbounded_channel();
        let router = Arc::clone(self);
        tokio::spawn(async move {
            let info = provider.info();
            let mut next = Some(Ok(first));
            while let Some(item) = next.take() {
                let item = match item {
                    Ok(ChatEvent::Done(mut completion)) => {
                        router.record_success(&info.name);
                        attempts.push(Attempt {
                            latency_ms: millis(started),
                            first_token_ms: Some(first_token_ms),
                            prompt_tokens: completion.prompt_tokens,
                            cached_tokens: completion.cached_tokens,
                            completion_tokens: completion.completion_tokens,
                            ..Attempt::new(info, Outcome::Ok)
                        });
                        router.record(&attempts);
                        completion.attempts = std::mem::take(&mut attempts);
                        Ok(ChatEvent::Done(completion))
                    }
                    Err(error) => {
                        // Too late to fall back: report it, and keep the trace.
                        router.record_failure(&info.name, &error);
                        attempts.push(Attempt {
                            latency_ms: millis(started),
                            first_token_ms: Some(first_token_ms),
                            ..Attempt::new(info, Outcome::Failed(error.to_string()))
                        });
                        router.record(&attempts);
                        Err(error)
                    }
                    other => other,
                };
                if sender.send(item).is_err() {
                    return;
                }
                next = stream.recv().await;
            }
        });
        receiver
    }
}

fn skipped(provider: &dyn Provider, reason: String) -> Attempt {
    Attempt::new(provider.info(), Outcome::Skipped(reason))
}
