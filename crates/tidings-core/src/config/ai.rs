//! Settings of reply generation (`[ai]`): the server-wide model a workspace uses when it names
//! none of its own, the price of each model, the circuit breaker, default budgets and the
//! response cache.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{ConfigError, redact_secret, rule, secret};

/// How replies are generated and what they may cost.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AiConfig {
    /// The OpenAI-compatible model every workspace without its own uses; none: replies are
    /// composed offline from templates.
    pub model: Option<ModelConfig>,
    /// Price per 1,000 tokens of each model, by the model's name (`[ai.prices."gpt-4o-mini"]`);
    /// a model without a price is counted in tokens at no cost.
    pub prices: BTreeMap<String, ModelPrice>,
    /// Seconds an open model circuit refuses calls before a trial call (replyforce §8.2: 30).
    pub breaker_open_secs: u64,
    /// Daily token budget of a workspace that sets none; 0 means unlimited.
    pub default_daily_tokens: u64,
    /// Monthly token budget of a workspace that sets none; 0 means unlimited.
    pub default_monthly_tokens: u64,
    /// How long a generated answer is reused for the same question in the same workspace; 0 turns
    /// the cache off.
    pub cache_ttl_secs: u64,
    /// Let workspaces point their own model at loopback and private addresses (a model on the
    /// LAN). Off by default: a URL a workspace types is checked like a webhook destination
    /// (`https`, public addresses only; ADR 0017). The server-wide `[ai.model]` is never checked.
    pub allow_private_model_urls: bool,
}

/// An OpenAI-compatible chat-completions endpoint.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Base URL including the version, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    /// The model name sent with each request.
    pub model: String,
    /// The API key, if the server wants one.
    #[serde(default, serialize_with = "redact_secret", deserialize_with = "secret")]
    pub api_key: Option<SecretString>,
    /// Seconds to wait for one answer (replyforce §8.1: 30).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    30
}

/// What a model charges, in US dollars per 1,000 tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Per 1,000 prompt tokens.
    pub input_per_1k: f64,
    /// Per 1,000 completion tokens.
    pub output_per_1k: f64,
}

impl Default for AiConfig {
    fn default() -> Self {
        Self {
            model: None,
            prices: BTreeMap::new(),
            breaker_open_secs: 30,
            default_daily_tokens: 0,
            default_monthly_tokens: 0,
            cache_ttl_secs: 86_400,
            allow_private_model_urls: false,
        }
    }
}

impl AiConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(model) = &self.model {
            if !(model.base_url.starts_with("http://") || model.base_url.starts_with("https://")) {
                return Err(rule("ai.model.base_url", "TIDINGS_AI__MODEL__BASE_URL", "must be an http(s) URL"));
            }
            if model.model.trim().is_empty() {
                return Err(rule("ai.model.model", "TIDINGS_AI__MODEL__MODEL", "must not be empty"));
            }
            if model.timeout_secs == 0 {
                return Err(rule("ai.model.timeout_secs", "TIDINGS_AI__MODEL__TIMEOUT_SECS", "must be greater than 0"));
            }
        }
        if self.breaker_open_secs == 0 {
            return Err(rule("ai.breaker_open_secs", "TIDINGS_AI__BREAKER_OPEN_SECS", "must be greater than 0"));
        }
        if self.prices.values().any(|p| !(p.input_per_1k >= 0.0 && p.output_per_1k >= 0.0)) {
            return Err(rule("ai.prices", "TIDINGS_AI__PRICES", "prices must be zero or more"));
        }
        Ok(())
    }

    /// The cost in US dollars of a call to `model`, `None` when its price is not configured.
    /// A dated model name (`gpt-4o-mini-2024-07-18`) is priced as its base name.
    pub fn cost(&self, model: &str, prompt_tokens: u64, completion_tokens: u64) -> Option<f64> {
        let price = self.prices.get(model).or_else(|| {
            self.prices
                .iter()
                .filter(|(name, _)| model.starts_with(name.as_str()))
                .max_by_key(|(name, _)| name.len())
                .map(|(_, p)| p)
        })?;
        Some(
            prompt_tokens as f64 / 1000.0 * price.input_per_1k
                + completion_tokens as f64 / 1000.0 * price.output_per_1k,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_priced_by_model_name_with_dated_names_falling_back() {
        let mut config = AiConfig::default();
        config.prices.insert("gpt-4o".into(), ModelPrice { input_per_1k: 0.0025, output_per_1k: 0.01 });
        config.prices.insert("gpt-4o-mini".into(), ModelPrice { input_per_1k: 0.00015, output_per_1k: 0.0006 });
        let cost = config.cost("gpt-4o-mini", 1000, 1000).expect("priced");
        assert!((cost - 0.00075).abs() < 1e-12);
        let dated = config.cost("gpt-4o-mini-2024-07-18", 1000, 0).expect("priced as gpt-4o-mini");
        assert!((dated - 0.00015).abs() < 1e-12);
        assert_eq!(config.cost("llama-3", 10, 10), None);
    }
}
