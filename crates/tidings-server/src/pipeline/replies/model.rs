//! Which model a workspace's replies come from, whether it may be called now (circuit breaker,
//! token budget), and what a call cost.
//!
//! A workspace names its own OpenAI-compatible endpoint in its AI settings (its key sealed in the
//! vault under [`API_KEY_SECRET`]), or uses the server's `[ai.model]`, or has none: then replies
//! are composed offline. One breaker per endpoint (replyforce §8.2: open after 5 failures, a trial
//! call after `ai.breaker_open_secs`, 30 s by default), shared by every workspace that uses it.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tidings_connectors::llm::{ChatModel, ModelSettings, OpenAiCompatible};
use tidings_connectors::ssrf::{Guard, guarded_client};
use tidings_core::{Config, WorkspaceId};
use tidings_store::{Db, StoreError};
use utoipa::ToSchema;

use super::store::{self, SettingsRow};
use crate::channels::breaker::Breakers;
use crate::vault::{Vault, VaultError};

/// The vault entry holding a workspace's model API key.
pub const API_KEY_SECRET: &str = "ai.model_api_key";

/// The models of this process: how to reach them and their breakers.
#[derive(Clone)]
pub struct Models {
    config: Arc<Config>,
    vault: Vault,
    breakers: Breakers,
    http: reqwest::Client,
    guarded: reqwest::Client,
    guard: Guard,
}

impl Models {
    /// Models configured by `config`, their keys read from `vault`.
    pub fn new(config: Arc<Config>, vault: Vault) -> Self {
        let breakers = Breakers::new(Duration::from_secs(config.ai.breaker_open_secs));
        let guard = Guard::new(false);
        let timeout = Duration::from_secs(120);
        Self {
            breakers,
            http: reqwest::Client::builder().timeout(timeout).build().unwrap_or_default(),
            guarded: guarded_client(guard.clone(), timeout),
            guard,
            vault,
            config,
        }
    }

    /// The breakers, one per endpoint.
    pub fn breakers(&self) -> &Breakers {
        &self.breakers
    }

    /// Whether a workspace may use `url` as its model's base URL (the SSRF guard, unless the
    /// operator allows private addresses); the reason when not.
    pub async fn check_url(&self, url: &str) -> Result<(), String> {
        if self.config.ai.allow_private_model_urls {
            return match reqwest::Url::parse(url) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(()),
                _ => Err("must be an http(s) URL".into()),
            };
        }
        self.guard.check(url).await.map(|_| ()).map_err(|refused| refused.to_string())
    }

    /// The model a workspace's replies come from, if any.
    pub async fn resolve(
        &self,
        workspace: &WorkspaceId,
        settings: &SettingsRow,
    ) -> Result<Option<Arc<dyn ChatModel>>, VaultError> {
        if let (Some(base_url), Some(model)) = (&settings.model_base_url, &settings.model_name) {
            let api_key = self
                .vault
                .get(workspace, API_KEY_SECRET)
                .await?
                .map(|bytes| SecretString::from(String::from_utf8_lossy(bytes.expose_secret()).into_owned()));
            let http = if self.config.ai.allow_private_model_urls { &self.http } else { &self.guarded };
            let settings = ModelSettings {
                base_url: base_url.clone(),
                model: model.clone(),
                api_key,
                timeout: Duration::from_secs(settings.model_timeout_secs.clamp(1, 300) as u64),
            };
            return Ok(Some(Arc::new(OpenAiCompatible::new(http.clone(), settings))));
        }
        Ok(self.config.ai.model.as_ref().map(|configured| {
            let settings = ModelSettings {
                base_url: configured.base_url.clone(),
                model: configured.model.clone(),
                api_key: configured.api_key.clone(),
                timeout: Duration::from_secs(configured.timeout_secs),
            };
            Arc::new(OpenAiCompatible::new(self.http.clone(), settings)) as Arc<dyn ChatModel>
        }))
    }

    /// What `prompt_tokens` and `completion_tokens` of `model` cost, in billionths of a dollar
    /// (`None`: the model has no configured price).
    pub fn cost_nano_usd(&self, model: &str, prompt_tokens: u64, completion_tokens: u64) -> Option<i64> {
        self.config.ai.cost(model, prompt_tokens, completion_tokens).map(|usd| (usd * 1e9).round() as i64)
    }

    /// The workspace's token budget and what it used today and this month.
    pub async fn budget(&self, db: &Db, workspace: &WorkspaceId, settings: &SettingsRow) -> Result<Budget, StoreError> {
        let (day, month) = today();
        let limit = |own: Option<i64>, default: u64| {
            let limit = own.map_or(default, |l| l.max(0) as u64);
            (limit > 0).then_some(limit)
        };
        Ok(Budget {
            daily_limit: limit(settings.daily_token_budget, self.config.ai.default_daily_tokens),
            monthly_limit: limit(settings.monthly_token_budget, self.config.ai.default_monthly_tokens),
            used_today: store::tokens_used(db, workspace, &day).await?.max(0) as u64,
            used_this_month: store::tokens_used(db, workspace, &month).await?.max(0) as u64,
            hard_stop: settings.hard_stop,
        })
    }
}

/// Today's day (`YYYY-MM-DD`) and month (`YYYY-MM`), UTC.
pub fn today() -> (String, String) {
    let now = chrono::Utc::now();
    (now.format("%Y-%m-%d").to_string(), now.format("%Y-%m").to_string())
}

/// Where a workspace stands against its token budget (replyforce §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BudgetState {
    /// Under 80 % of every budget.
    Ok,
    /// At 80 % or more of a budget.
    Warning,
    /// A budget is spent.
    Exhausted,
}

/// A workspace's token budgets and use.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// Tokens per UTC day; `None`: unlimited.
    pub daily_limit: Option<u64>,
    /// Tokens per UTC month; `None`: unlimited.
    pub monthly_limit: Option<u64>,
    /// Tokens used today.
    pub used_today: u64,
    /// Tokens used this month.
    pub used_this_month: u64,
    /// Whether a spent budget stops model calls.
    pub hard_stop: bool,
}

/// The share of a budget at which the workspace is warned.
pub const WARNING_AT: f64 = 0.8;

impl Budget {
    /// The state of the tighter budget.
    pub fn state(&self) -> BudgetState {
        let share = |used: u64, limit: Option<u64>| limit.map_or(0.0, |l| used as f64 / l as f64);
        let worst = share(self.used_today, self.daily_limit).max(share(self.used_this_month, self.monthly_limit));
        if worst >= 1.0 {
            BudgetState::Exhausted
        } else if worst >= WARNING_AT {
            BudgetState::Warning
        } else {
            BudgetState::Ok
        }
    }

    /// Whether model calls must stop.
    pub fn stops_calls(&self) -> bool {
        self.hard_stop && self.state() == BudgetState::Exhausted
    }

    /// The thresholds (80 % and 100 %, per period) use crossed between `self` and `after`: each
    /// as `(period, percent, used, limit)`, announced to automations (`budget_threshold`).
    pub fn crossed(&self, after: &Budget) -> Vec<(&'static str, u8, u64, u64)> {
        let periods = [
            ("day", self.used_today, after.used_today, after.daily_limit),
            ("month", self.used_this_month, after.used_this_month, after.monthly_limit),
        ];
        let mut crossed = Vec::new();
        for (period, before, now, limit) in periods {
            let Some(limit) = limit else { continue };
            for percent in [80_u8, 100] {
                // `used * 100 >= limit * percent`, in integers so 80 % of 1,000 is exactly 800.
                let reached = |used: u64| u128::from(used) * 100 >= u128::from(limit) * u128::from(percent);
                if reached(now) && !reached(before) {
                    crossed.push((period, percent, now, limit));
                }
            }
        }
        crossed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_warns_at_eighty_percent_and_stops_only_with_a_hard_cap() {
        let mut budget = Budget {
            daily_limit: Some(1000),
            monthly_limit: None,
            used_today: 799,
            used_this_month: 799,
            hard_stop: true,
        };
        assert_eq!(budget.state(), BudgetState::Ok);
        budget.used_today = 800;
        assert_eq!(budget.state(), BudgetState::Warning);
        budget.used_today = 1000;
        assert!(budget.stops_calls());
        let before = Budget { used_today: 700, used_this_month: 700, ..budget.clone() };
        assert_eq!(before.crossed(&budget), vec![("day", 80, 1000, 1000), ("day", 100, 1000, 1000)]);
        assert!(budget.crossed(&budget).is_empty(), "a threshold is crossed once");
        budget.hard_stop = false;
        assert_eq!(budget.state(), BudgetState::Exhausted);
        assert!(!budget.stops_calls());
        let monthly =
            Budget { daily_limit: None, monthly_limit: Some(10), used_today: 0, used_this_month: 10, hard_stop: true };
        assert!(monthly.stops_calls());
        let unlimited =
            Budget { daily_limit: None, monthly_limit: None, used_today: 9, used_this_month: 9, hard_stop: true };
        assert_eq!(unlimited.state(), BudgetState::Ok);
    }
}
