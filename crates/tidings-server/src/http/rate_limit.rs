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
    /// Counts one event for `key` against `limit` events per sliding `window`: how many there
    /// are now, including this one, when the fixed window under them ends, and how long until
    /// one more would be within `limit`.
    fn hit(&self, key: &str, window: Duration, limit: u32) -> Hit;
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

/// One counted event.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    /// Events in the sliding window ending now, this one included.
    pub used: u32,
    /// When the fixed window that counts this event ends (the `RateLimit-Reset`).
    pub reset: Duration,
    /// How long until one more event would be within the limit (zero: now). Later than
    /// `reset` when the window just ended still weighs on the next one.
    pub free_in: Duration,
}

/// How long from `elapsed` into the current fixed window until one more event, counted with the
/// sliding window's weighting of `previous`, fits `limit` alongside `current`.
fn time_until_free(window: Duration, elapsed: Duration, previous: u32, current: u32, limit: u32) -> Duration {
    let (w, (previous, current, limit)) =
        (window.as_secs_f64(), (f64::from(previous), f64::from(current), f64::from(limit)));
    // The weighted count is `previous * (1 - t / w) + current + 1` at `t` into this window, and
    // `current * (1 - (t - w) / w) + 1` at `t` into the next one; solve each for `limit`.
    let at = if current + 1.0 <= limit {
        if previous <= 0.0 { 0.0 } else { w * (1.0 - (limit - current - 1.0) / previous) }
    } else if current <= 0.0 || limit < 1.0 {
        2.0 * w
    } else {
        w + w * (1.0 - (limit - 1.0) / current)
    };
    Duration::from_secs_f64((at - elapsed.as_secs_f64()).max(0.0))
}

impl CounterStore for InMemoryCounters {
    fn hit(&self, key: &str, window: Duration, limit: u32) -> Hit {
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
        let elapsed = now.duration_since(entry.started);
        let into_window = elapsed.as_secs_f64() / window.as_secs_f64();
        let weighted = f64::from(entry.previous) * (1.0 - into_window) + f64::from(entry.current);
        Hit {
            used: weighted.ceil() as u32,
            reset: window.saturating_sub(elapsed),
            free_in: time_until_free(window, elapsed, entry.previous, entry.current, limit),
        }
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
    // Rounded up: a client that waits exactly this long must get through.
    let secs = u64::try_from(retry_after.as_millis().div_ceil(1000)).unwrap_or(u64::MAX).max(1);
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
        let hit = self.store.hit(&format!("api:{workspace}"), MINUTE, limit);
        let quota = Quota { limit, remaining: limit.saturating_sub(hit.used), reset_secs: hit.reset.as_secs().max(1) };
        if hit.used > limit {
            return Err(too_many(
                format!("this workspace's plan allows {limit} API requests a minute"),
                hit.free_in,
                Some(quota),
            ));
        }
        Ok(quota)
    }

    /// Counts one request of a dashboard session (pages, in-page requests and the live event
    /// stream of a signed-in browser). Its limit only stops abuse; it is not the API quota, so
    /// a team working in the dashboard never locks its API clients out, nor the other way round.
    pub fn check_dashboard_session(&self, session: &str) -> Result<(), ApiError> {
        let limit = self.config.dashboard_per_minute_per_session;
        let hit = self.store.hit(&format!("dashboard:{session}"), MINUTE, limit);
        if hit.used > limit {
            return Err(too_many(
                format!("this session sent more than {limit} requests in a minute; slow down"),
                hit.free_in,
                None,
            ));
        }
        Ok(())
    }

    /// Counts a request of the sign-in family (sign-in, sign-up, password reset, the second
    /// step, confirmation emails) from `ip`, against the per-IP limit only. Requests that carry
    /// no address use this alone; those that do use [`Self::check_sign_in`].
    pub fn check_ip(&self, ip: Option<&str>) -> Result<(), ApiError> {
        let limit = self.config.auth_attempts_per_minute_per_ip;
        let hit = self.store.hit(&format!("auth-ip:{}", ip.unwrap_or("unknown")), MINUTE, limit);
        if hit.used > limit {
            return Err(too_many(
                "too many sign-in attempts from your address; wait a minute".to_owned(),
                hit.free_in,
                None,
            ));
        }
        Ok(())
    }

    /// [`Self::check_ip`], then refuses while `address` is locked out. `address` is a real,
    /// normalised email address (`identity::normalize_email`): a lockout belongs to one account.
    pub fn check_sign_in(&self, ip: Option<&str>, address: &str) -> Result<(), ApiError> {
        self.check_ip(ip)?;
        if let Some(until) = self.store.get(&format!("lock:{address}")) {
            let wait = Duration::from_millis(until.saturating_sub(now_ms()));
            return Err(too_many("too many failed sign-ins for this address; try again later".to_owned(), wait, None));
        }
        Ok(())
    }

    /// Records a failed sign-in for the normalised `address`; after too many, locks it for a
    /// doubling period.
    pub fn record_failure(&self, address: &str) {
        let failures_key = format!("failures:{address}");
        let failures = self.store.get(&failures_key).unwrap_or(0) + 1;
        self.store.set(&failures_key, failures, Duration::from_secs(24 * 3600));
        let threshold = u64::from(self.config.failures_before_lockout.max(1));
        if failures >= threshold {
            let doublings = u32::try_from(failures - threshold).unwrap_or(u32::MAX).min(16);
            let lock = Duration::from_secs(self.config.lockout_secs)
                .saturating_mul(2u32.saturating_pow(doublings))
                .min(MAX_LOCKOUT);
            self.store.set(&format!("lock:{address}"), now_ms() + lock.as_millis() as u64, lock);
        }
    }

    /// A successful sign-in clears the normalised `address`'s failures.
    pub fn record_success(&self, address: &str) {
        self.store.remove(&format!("failures:{address}"));
        self.store.remove(&format!("lock:{address}"));
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
        // Four requests this minute still weigh half a minute into the next: 60 + 30 s.
        assert!(refused.retry_after.is_some_and(|s| (89..=90).contains(&s)), "{:?}", refused.retry_after);
        assert!(limits.check_workspace("ws_b", "free").is_ok(), "quotas are per workspace");
    }

    #[test]
    fn repeated_failures_lock_the_address_until_a_success() {
        let limits = limits(100);
        for _ in 0..2 {
            limits.record_failure("ana@example.com");
            assert!(limits.check_sign_in(Some("1.2.3.4"), "ana@example.com").is_ok());
        }
        limits.record_failure("ana@example.com");
        let locked = limits.check_sign_in(Some("5.6.7.8"), "ana@example.com").expect_err("locked");
        assert!(locked.retry_after.is_some_and(|s| (1..=30).contains(&s)), "{:?}", locked.retry_after);
        assert!(limits.check_ip(Some("5.6.7.8")).is_ok(), "requests without an address are not locked");
        assert!(limits.check_sign_in(Some("5.6.7.8"), "bo@example.com").is_ok(), "nor are other addresses");
        limits.record_success("ana@example.com");
        assert!(limits.check_sign_in(Some("5.6.7.8"), "ana@example.com").is_ok());
    }

    #[test]
    fn waiting_the_reported_time_is_enough_to_get_through() {
        let store = InMemoryCounters::default();
        let window = Duration::from_millis(400);
        for used in 1..=3 {
            assert_eq!(store.hit("k", window, 3).used, used);
        }
        let refused = store.hit("k", window, 3);
        assert_eq!(refused.used, 4);
        // The previous window still weighs on the next one: the end of this one is too early.
        assert!(refused.free_in > refused.reset, "{refused:?}");
        std::thread::sleep(refused.free_in + Duration::from_millis(5));
        let later = store.hit("k", window, 3);
        assert!(later.used <= 3, "{later:?} after waiting {:?}", refused.free_in);
    }

    #[test]
    fn the_time_until_free_solves_the_sliding_window() {
        let minute = Duration::from_secs(60);
        // Within the limit: free now.
        assert_eq!(time_until_free(minute, Duration::from_secs(10), 0, 3, 5), Duration::ZERO);
        // Over it in a fresh window: free when the weighted count of this window, carried into
        // the next, has fallen to make room (6 used, limit 5: a third into the next window).
        assert_eq!(time_until_free(minute, Duration::ZERO, 0, 6, 5).as_secs(), 80);
        // This window has room for one more, but the previous window's 10 must fade to 2 first.
        assert_eq!(time_until_free(minute, Duration::ZERO, 10, 2, 5).as_secs(), 48);
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(too_many(String::new(), Duration::from_millis(1_001), None).retry_after, Some(2));
        assert_eq!(too_many(String::new(), Duration::ZERO, None).retry_after, Some(1));
    }
}
