//! A circuit breaker per platform: after repeated failures that say "the platform is down",
//! calls to it pause for a while instead of piling retries onto an outage.

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

/// Breakers for every platform of this process.
#[derive(Clone, Default)]
pub struct Breakers {
    by_platform: Arc<Mutex<HashMap<&'static str, State>>>,
}

impl Breakers {
    /// `Err(wait)` while `platform`'s circuit is open.
    pub fn check(&self, platform: &'static str) -> Result<(), Duration> {
        let map = self.by_platform.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(platform).and_then(|s| s.open_until) {
            Some(until) if until > Instant::now() => Err(until - Instant::now()),
            _ => Ok(()),
        }
    }

    /// A call succeeded or failed for reasons of its own: the platform is up.
    pub fn record_success(&self, platform: &'static str) {
        let mut map = self.by_platform.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(platform);
    }

    /// A call failed because the platform was unavailable or limiting us.
    pub fn record_failure(&self, platform: &'static str) {
        let mut map = self.by_platform.lock().unwrap_or_else(|p| p.into_inner());
        let state = map.entry(platform).or_default();
        state.failures += 1;
        if state.failures >= FAILURES_TO_OPEN {
            tracing::warn!(platform, failures = state.failures, "circuit opened: pausing calls to the platform");
            metrics::counter!("tidings_connector_circuit_opened_total", "platform" => platform).increment(1);
            state.open_until = Some(Instant::now() + OPEN_FOR);
            state.failures = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_open_the_circuit_and_a_success_closes_it() {
        let breakers = Breakers::default();
        for _ in 0..4 {
            breakers.record_failure("google");
        }
        assert!(breakers.check("google").is_ok());
        breakers.record_failure("google");
        let wait = breakers.check("google").expect_err("open after five failures");
        assert!(wait <= OPEN_FOR && wait > OPEN_FOR - Duration::from_secs(5));
        assert!(breakers.check("yelp").is_ok(), "other platforms are unaffected");
        breakers.record_success("google");
        assert!(breakers.check("google").is_ok());
    }
}
