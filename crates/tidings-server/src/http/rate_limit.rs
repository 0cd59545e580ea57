//! Request limits: per-workspace API quotas by plan, and sign-in brute-force protection.
//!
//! Counters live behind [`CounterStore`], in process memory by default. Several processes each
//! keep their own counters (so the effective limit is per process); a shared store (PostgreSQL
//! or Redis) can implement the trait without touching the callers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tidings_core::config::RateLimitConfig;

use super::ApiError;

/// Counts events per key in windows.
pub trait CounterStore: Send + Sync {
    /// Counts one event for `key` and returns the events in the sliding `window` ending now,
    /// including this one, and when the oldest of them stops counting.
    fn hit(&self, key: &str, window: Duration) -> (u32, Duration);
    /// Reads a value stored under `key` (lockout state), if still alive.
    fn get(&self, key: &str) -> Option<u64>;
    /// Stores a value under `key` for `ttl`.
    fn set(&self, key: &str, value: u64, ttl: Duration);
    /// Forgets `key`.
    fn remove(&self, key: &str);
}

/// Counters in this process: a sliding window approximated from two fixed windows.
#[derive(Default)]
pub struct InMemoryCounters {
    windows: Mutex<HashMap<String, Window>>,
    values: Mutex<HashMap<String, (u64, Instant)>>,
}

struct Window {
    started: Instant,
    current: u32,
    previous: u32,
}

impl CounterStore for InMemoryCounters {
    fn hit(&self, key: &str, window: Duration) -> (u32, Duration) {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, w| now.duration_since(w.started) < window * 2);
        }
        let entry = windows.entry(key.to_owned()).or_insert(Window { started: now, current: 0, previous: 0 });
        let elapsed = now.duration_since(entry.started);
        if elapsed >= window * 2 {
            *entry = Window { started: now, current: 0, previous: 0 };
        } else if elapsed >= window {
            *entry = Window { started: entry.started + window, current: 0, previous: entry.current };
        }
        entry.current += 1;
        let into_window = now.duration_since(entry.started).as_secs_f64() / window.as_secs_f64();
        let weighted = f64::from(entry.previous) * (1.0 - into_window) + f64::from(entry.current);
        let reset = window.saturating_sub(now.duration_since(entry.started));
        (weighted.ceil() as u32, reset)
    }

    fn get(&self, key: &str) -> Option<u64> {
        let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        values.get(key).filter(|(_, until)| *until > Instant::now()).map(|(value, _)| *value)
    }

    fn set(&self, key: &str, value: u64, ttl: Duration) {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if values.len() > 100_000 {
            values.retain(|_, (_, until)| *until > now);
        }
        values.insert(key.to_owned(), (value, now + ttl));
    }

    fn remove(&self, key: &str) {
        self.values.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

/// The outcome of one check, as reported in the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
}

/// The longest a lockout grows to.
const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);
const MINUTE: Duration = Duration::from_secs(60);

/// The limits of this process.
#[derive(Clone)]
pub struct RateLimits {
    store: Arc<dyn CounterStore>,
    config: Arc<RateLimitConfig>,
}

fn too_many(message: String, retry_after: Duration, quota: Option<Quota>) -> ApiError {
    let secs = retry_after.as_secs().max(1);
    let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        .with_details(serde_json::json!({ "retryAfterSecs": secs }));
    error.retry_after = Some(secs);
    error.quota = quota;
    error
}

impl RateLimits {
    /// Limits backed by in-process counters.
    pub fn in_memory(config: RateLimitConfig) -> Self {
        Self { store: Arc::new(InMemoryCounters::default()), config: Arc::new(config) }
    }

    /// Counts one API request of the workspace against its plan's per-minute quota.
    pub fn check_workspace(&self, workspace: &str, plan: &str) -> Result<Quota, ApiError> {
        // A plan the configuration does not name gets the free plan's quota.
        let limit = self
            .config
            .api_per_minute
            .get(plan)
            .or_else(|| self.config.api_per_minute.get("free"))
            .copied()
            .unwrap_or(100);
        let (used, reset) = self.store.hit(&format!("api:{workspace}"), MINUTE);
        let quota = Quota { limit, remaining: limit.saturating_sub(used), reset_secs: reset.as_secs().max(1) };
        if used > limit {
            return Err(too_many(
                format!("this workspace's plan allows {limit} API requests a minute"),
                reset,
                Some(quota),
            ));
        }
        Ok(quota)
    }

    /// Counts a sign-in or reset request from `ip`, and refuses while `email` is locked out.
    pub fn check_auth_attempt(&self, ip: Option<&str>, email: &str) -> Result<(), ApiError> {
        let (used, reset) = self.store.hit(&format!("auth-ip:{}", ip.unwrap_or("unknown")), MINUTE);
        if used > self.config.auth_attempts_per_minute_per_ip {
            return Err(too_many("too many sign-in attempts from your address; wait a minute".to_owned(), reset, None));
        }
        if let Some(until) = self.store.get(&format!("lock:{}", email.trim().to_lowercase())) {
            let wait = Duration::from_millis(until.saturating_sub(now_ms()));
            return Err(too_many("too many failed sign-ins for this address; try again later".to_owned(), wait, None));
        }
        Ok(())
    }

    /// Records a failed sign-in; after too many, locks the address for a doubling period.
    pub fn record_failure(&self, email: &str) {
        let email = email.trim().to_lowercase();
        let failures_key = format!("failures:{email}");
        let failures = self.store.get(&failures_key).unwrap_or(0) + 1;
        self.store.set(&failures_key, failures, Duration::from_secs(24 * 3600));
        let threshold = u64::from(self.config.failures_before_lockout.max(1));
        if failures >= threshold {
            let doublings = u32::try_from(failures - threshold).unwrap_or(u32::MAX).min(16);
            let lock = Duration::from_secs(self.config.lockout_secs)
                .saturating_mul(2u32.saturating_pow(doublings))
                .min(MAX_LOCKOUT);
            self.store.set(&format!("lock:{email}"), now_ms() + lock.as_millis() as u64, lock);
        }
    }

    /// A successful sign-in clears the address's failures.
    pub fn record_success(&self, email: &str) {
        let email = email.trim().to_lowercase();
        self.store.remove(&format!("failures:{email}"));
        self.store.remove(&format!("lock:{email}"));
    }
}

fn now_ms() -> u64 {
    u64::try_from(tidings_core::time::now_millis()).unwrap_or(0)
}

/// Where the `Auth` extractor leaves the workspace's quota for [`quota_headers`] to report.
#[derive(Clone, Default)]
pub struct QuotaSlot(pub Arc<Mutex<Option<Quota>>>);

/// Adds `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` to responses of
/// requests that counted against a workspace quota.
pub async fn quota_headers(mut request: Request, next: Next) -> Response {
    let slot = QuotaSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    let quota = *slot.0.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(quota) = quota {
        set_quota_headers(&mut response, quota);
    }
    response
}

/// Writes the quota headers onto a response.
pub fn set_quota_headers(response: &mut Response, quota: Quota) {
    let headers = response.headers_mut();
    for (name, value) in [
        ("ratelimit-limit", quota.limit.to_string()),
        ("ratelimit-remaining", quota.remaining.to_string()),
        ("ratelimit-reset", quota.reset_secs.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_minute: u32) -> RateLimits {
        let mut config = RateLimitConfig::default();
        config.api_per_minute.insert("free".to_owned(), per_minute);
        config.failures_before_lockout = 3;
        RateLimits::in_memory(config)
    }

    #[test]
    fn a_workspace_gets_its_plan_quota_then_429() {
        let limits = limits(3);
        for remaining in [2, 1, 0] {
            assert_eq!(limits.check_workspace("ws_a", "free").expect("within quota").remaining, remaining);
        }
        let refused = limits.check_workspace("ws_a", "free").expect_err("over quota");
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.retry_after.is_some_and(|s| (1..=60).contains(&s)));
        assert!(limits.check_workspace("ws_b", "free").is_ok(), "quotas are per workspace");
    }

    #[test]
    fn repeated_failures_lock_the_address_until_a_success() {
        let limits = limits(100);
        for _ in 0..2 {
            limits.record_failure("Ana@example.com");
            assert!(limits.check_auth_attempt(Some("1.2.3.4"), "ana@example.com").is_ok());
        }
        limits.record_failure("ana@example.com");
        let locked = limits.check_auth_attempt(Some("5.6.7.8"), "ana@example.com").expect_err("locked");
        assert!(locked.retry_after.is_some_and(|s| (1..=30).contains(&s)), "{:?}", locked.retry_after);
        limits.record_success("ana@example.com");
        assert!(limits.check_auth_attempt(Some("5.6.7.8"), "ana@example.com").is_ok());
    }
}
