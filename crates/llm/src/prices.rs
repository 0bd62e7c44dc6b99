//! What a model call costs: a price table per provider and model.
//!
//! Prices are US dollars per million tokens, for the prompt, the generated
//! tokens and prompt tokens served from the provider's cache. The shipped
//! table ([`SHIPPED_PRICES_DATE`]) holds the providers' list prices as last
//! read by the CodexOS team; `[[prices]]` entries in `config.toml` come first
//! and override it (a negotiated rate, a new model, a self-hosted server at
//! zero). A model no entry matches has no cost (shown as unknown, never as
//! free). Local models cost compute time, not money: they are not priced.

use serde::{Deserialize, Serialize};

/// When the shipped prices were read from the providers' price pages.
pub const SHIPPED_PRICES_DATE: &str = "2025-08";

/// One row of the price table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct PriceEntry {
    /// Provider name from the policy (`openai`, `mistral`, …); none: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Model name, or a prefix ending in `*` (`gpt-4.1*`); `*` alone: any.
    pub model: String,
    /// Dollars per million prompt tokens.
    pub input: f64,
    /// Dollars per million generated tokens.
    pub output: f64,
    /// Dollars per million cached prompt tokens (default: `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached: Option<f64>,
}

impl PriceEntry {
    fn matches(&self, provider: &str, model: &str) -> bool {
        let provider_ok = self.provider.as_deref().is_none_or(|name| name == provider);
        let model_ok = match self.model.strip_suffix('*') {
            Some(prefix) => model.starts_with(prefix),
            None => self.model == model,
        };
        provider_ok && model_ok
    }

    /// The cost of `prompt` tokens (of which `cached` came from the cache)
    /// and `completion` generated ones.
    #[must_use]
    pub fn cost(&self, prompt: u32, cached: u32, completion: u32) -> f64 {
        let cached = cached.min(prompt);
        let fresh = f64::from(prompt - cached);
        let per_token = 1e-6;
        (fresh * self.input
            + f64::from(cached) * self.cached.unwrap_or(self.input)
            + f64::from(completion) * self.output)
            * per_token
    }
}

/// User entries first, then the shipped ones; the first match prices a call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriceTable {
    entries: Vec<PriceEntry>,
}

fn shipped(model: &str, input: f64, output: f64, cached: Option<f64>) -> PriceEntry {
    PriceEntry {
        provider: None,
        model: model.to_owned(),
        input,
        output,
        cached,
    }
}

impl PriceTable {
    /// The shipped list prices: exact names and dated snapshots only (a bare
    /// family prefix would price a newer, dearer sibling such as `o3-pro`
    /// at the family's rate); anything else is unpriced until a
    /// `[[prices]]` entry names it.
    #[must_use]
    pub fn shipped() -> Vec<PriceEntry> {
        vec![
            // OpenAI (specific names before the prefixes that would catch them)
            shipped("gpt-5-pro*", 15.00, 120.00, None),
            shipped("gpt-5-nano*", 0.05, 0.40, Some(0.005)),
            shipped("gpt-5-mini*", 0.25, 2.00, Some(0.025)),
            shipped("gpt-5-2025*", 1.25, 10.00, Some(0.125)),
            shipped("gpt-5", 1.25, 10.00, Some(0.125)),
            shipped("gpt-4.1-nano*", 0.10, 0.40, Some(0.025)),
            shipped("gpt-4.1-mini*", 0.40, 1.60, Some(0.10)),
            shipped("gpt-4.1-2025*", 2.00, 8.00, Some(0.50)),
            shipped("gpt-4.1", 2.00, 8.00, Some(0.50)),
            shipped("gpt-4o-mini*", 0.15, 0.60, Some(0.075)),
            shipped("gpt-4o-2024*", 2.50, 10.00, Some(1.25)),
            shipped("gpt-4o", 2.50, 10.00, Some(1.25)),
            shipped("o4-mini*", 1.10, 4.40, Some(0.275)),
            shipped("o3-pro*", 20.00, 80.00, None),
            shipped("o3-mini*", 1.10, 4.40, Some(0.55)),
            shipped("o3-2025*", 2.00, 8.00, Some(0.50)),
            shipped("o3", 2.00, 8.00, Some(0.50)),
            // Anthropic (cached: cache reads; cache writes are charged at
            // the input price here, below the providers' surcharge)
            shipped("claude-opus-4-5*", 5.00, 25.00, Some(0.50)),
            shipped("claude-opus-4-1*", 15.00, 75.00, Some(1.50)),
            shipped("claude-opus-4-2025*", 15.00, 75.00, Some(1.50)),
            shipped("claude-opus-4-0", 15.00, 75.00, Some(1.50)),
            shipped("claude-haiku-4-5*", 1.00, 5.00, Some(0.10)),
            shipped("claude-sonnet-4-5*", 3.00, 15.00, Some(0.30)),
            shipped("claude-sonnet-4-2025*", 3.00, 15.00, Some(0.30)),
            shipped("claude-sonnet-4-0", 3.00, 15.00, Some(0.30)),
            shipped("claude-3-7-sonnet*", 3.00, 15.00, Some(0.30)),
            shipped("claude-3-5-sonnet*", 3.00, 15.00, Some(0.30)),
            shipped("claude-3-5-haiku*", 0.80, 4.00, Some(0.08)),
            shipped("claude-3-haiku*", 0.25, 1.25, Some(0.03)),
            // Mistral (the `-latest` aliases move: priced as listed then)
            shipped("mistral-large-2*", 2.00, 6.00, None),
            shipped("mistral-large-latest", 2.00, 6.00, None),
            shipped("mistral-medium-2505", 0.40, 2.00, None),
            shipped("mistral-small-2*", 0.10, 0.30, None),
            shipped("mistral-small-latest", 0.10, 0.30, None),
            shipped("codestral-2*", 0.30, 0.90, None),
            shipped("codestral-latest", 0.30, 0.90, None),
            shipped("open-mistral-nemo*", 0.15, 0.15, None),
        ]
    }

    /// `user` entries (from `config.toml`) before the shipped ones.
    #[must_use]
    pub fn new(user: &[PriceEntry]) -> Self {
        let mut entries = user.to_vec();
        entries.extend(Self::shipped());
        Self { entries }
    }

    /// The entry that prices `model` on `provider`, if any.
    #[must_use]
    pub fn find(&self, provider: &str, model: &str) -> Option<&PriceEntry> {
        self.entries
            .iter()
            .find(|entry| entry.matches(provider, model))
    }

    /// What an attempt cost in dollars; none when the model is unpriced or
    /// local (`remote == false`: compute time instead).
    #[must_use]
    pub fn cost(&self, attempt: &crate::Attempt) -> Option<f64> {
        if !attempt.remote {
            return None;
        }
        self.find(&attempt.provider, &attempt.model).map(|entry| {
            entry.cost(
                attempt.prompt_tokens,
                attempt.cached_tokens,
                attempt.completion_tokens,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(provider: &str, model: &str, remote: bool) -> crate::Attempt {
        crate::Attempt {
            provider: provider.into(),
            model: model.into(),
            remote,
            latency_ms: 900,
            first_token_ms: Some(200),
            prompt_tokens: 1_000_000,
            cached_tokens: 400_000,
            completion_tokens: 100_000,
            outcome: crate::Outcome::Ok,
        }
    }

    #[test]
    fn a_call_is_priced_by_the_first_matching_entry() {
        let table = PriceTable::new(&[]);
        // gpt-4o-mini, not gpt-4o: 0.6 M fresh × 0.15 + 0.4 M cached × 0.075 + 0.1 M × 0.60.
        let cost = table.cost(&attempt("openai", "gpt-4o-mini-2024-07-18", true));
        assert!(
            (cost.unwrap_or_default() - (0.09 + 0.03 + 0.06)).abs() < 1e-9,
            "{cost:?}"
        );
        assert_eq!(table.cost(&attempt("vllm", "my-finetune", true)), None);
        // A sibling the table does not list is unpriced, not priced as its family.
        assert_eq!(
            table.cost(&attempt("openai", "o3-deep-research", true)),
            None
        );
        let pro = table
            .find("openai", "o3-pro-2025-06-10")
            .map(|entry| entry.input);
        assert_eq!(pro, Some(20.0));
        assert_eq!(
            table.cost(&attempt("local", "gpt-4o", false)),
            None,
            "local models are not priced"
        );
    }

    #[test]
    fn user_entries_override_the_shipped_ones() {
        let user = PriceEntry {
            provider: Some("vllm".into()),
            model: "*".into(),
            input: 0.0,
            output: 0.0,
            cached: None,
        };
        let table = PriceTable::new(&[user]);
        assert_eq!(table.cost(&attempt("vllm", "gpt-4o", true)), Some(0.0));
        assert!(table
            .cost(&attempt("openai", "gpt-4o", true))
            .is_some_and(|cost| cost > 0.0));
    }
}
