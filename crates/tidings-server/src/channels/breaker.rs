//! A circuit breaker per remote: after repeated failures that say "it is down", calls to it pause
//! for a while instead of piling retries onto an outage. Platforms are keyed by name; automations'
//! destinations by their id, with their own thresholds ([`Breakers::with_limits`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Consecutive transient failures that open the circuit.
const FAILURES_TO_OPEN: u32 = 5;
/// How long an open circuit refuses calls before letting one through.
const OPEN_FOR: Duration = Duration::from_secs(60);

#[derive(Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
}

/// Breakers for every platform (or destination) of this process.
#[derive(Clone)]
pub struct Breakers {
    by_platform: Arc<Mutex<HashMap<String, State>>>,
    failures_to_open: u32,
    open_for: Duration,
}

impl Default for Breakers {
    fn default() -> Self {
        Self::with_limits(FAILURES_TO_OPEN, OPEN_FOR)
    }
}

impl Breakers {
    /// Breakers opening after `failures_to_open` consecutive failures, for `open_for`.
    pub fn with_limits(failures_to_open: u32, open_for: Duration) -> Self {
        Self { by_platform: Arc::default(), failures_to_open: failures_to_open.max(1), open_for }
    }

    /// `Err(wait)` while `platform`'s circuit is open.
    pub fn check(&self, platform: &str) -> Result<(), Duration> {
        let map = self.by_platform.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(platform).and_then(|s| s.open_until) {
            Some(until) if until > Instant::now() => Err(until - Instant::now()),
            _ => Ok(()),
        }
    }

    /// A call succeeded or failed for reasons of its own: the platform is up.
    pub fn record_success(&self, platform: &str) {
        let mut map = self.by_platform.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(platform);
    }

    /// A call failed because the platform was unavailable or limiting us. Returns how long the
    /// circuit is now open when this failure opened it (so the caller can tell someone).
    pub fn record_failure(&self, platform: &str) -> Option<Duration> {
        let mut map = self.by_platform.lock().unwrap_or_else(|p| p.into_inner());
        let state = map.entry(platform.to_owned()).or_default();
        state.failures += 1;
        if state.failures >= self.failures_to_open {
            tracing::warn!(platform, failures = state.failures, "circuit opened: pausing calls");
            metrics::counter!("tidings_connector_circuit_opened_total", "platform" => platform.to_owned()).increment(1);
            state.open_until = Some(Instant::now() + self.open_for);
            state.failures = 0;
            return Some(self.open_for);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_open_the_circuit_and_a_success_closes_it() {
        let breakers = Breakers::default();
        for _ in 0..4 {
            assert_eq!(breakers.record_failure("google"), None);
        }
        assert!(breakers.check("google").is_ok());
        assert_eq!(breakers.record_failure("google"), Some(OPEN_FOR), "the fifth failure opens it");
        let wait = breakers.check("google").expect_err("open after five failures");
        assert!(wait <= OPEN_FOR && wait > OPEN_FOR - Duration::from_secs(5));
        assert!(breakers.check("yelp").is_ok(), "other platforms are unaffected");
        breakers.record_success("google");
        assert!(breakers.check("google").is_ok());
    }
}
