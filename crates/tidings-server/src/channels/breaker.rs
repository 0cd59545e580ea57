//! A circuit breaker per remote service (a platform, a model endpoint, an automation's
//! destination): after repeated failures that say "the service is down", calls to it pause for a
//! while instead of piling retries onto an outage (replyforce §8.2). Platforms are keyed by name,
//! destinations by their id, each kind with its own limits ([`Breakers::with_limits`]).
//!
//! Closed: calls go through; `FAILURES_TO_OPEN` (or the configured number of) consecutive
//! failures open the circuit. Open:
//! calls are refused until the open period ends. Half-open: the first call after that period is a
//! trial; its success closes the circuit, its failure opens it again at once. A `Retry-After`
//! from the service pauses calls for the time it asks ([`Breakers::pause`]) without counting as
//! an outage.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Consecutive transient failures that open the circuit.
pub const FAILURES_TO_OPEN: u32 = 5;
/// How long an open circuit of a platform refuses calls before letting one through.
const OPEN_FOR: Duration = Duration::from_secs(60);

#[derive(Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    half_open: bool,
}

/// Where a circuit stands, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Calls go through.
    Closed,
    /// Calls are refused for this long.
    Open(Duration),
    /// The next call is a trial.
    HalfOpen,
}

/// Breakers for every service of one kind in this process.
#[derive(Clone)]
pub struct Breakers {
    by_service: Arc<Mutex<HashMap<String, State>>>,
    failures_to_open: u32,
    open_for: Duration,
}

impl Default for Breakers {
    fn default() -> Self {
        Self::new(OPEN_FOR)
    }
}

impl Breakers {
    /// Breakers whose circuits stay open for `open_for` before a trial call.
    pub fn new(open_for: Duration) -> Self {
        Self::with_limits(FAILURES_TO_OPEN, open_for)
    }

    /// Breakers opening after `failures_to_open` consecutive failures, for `open_for`.
    pub fn with_limits(failures_to_open: u32, open_for: Duration) -> Self {
        Self { by_service: Arc::default(), failures_to_open: failures_to_open.max(1), open_for }
    }

    /// How long a circuit stays open before a trial call.
    pub fn open_for(&self) -> Duration {
        self.open_for
    }

    fn states(&self) -> std::sync::MutexGuard<'_, HashMap<String, State>> {
        self.by_service.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(wait)` while `service`'s circuit is open; once the open period is over, the call that
    /// asks is let through as the half-open trial.
    pub fn check(&self, service: &str) -> Result<(), Duration> {
        self.check_at(service, Instant::now())
    }

    fn check_at(&self, service: &str, now: Instant) -> Result<(), Duration> {
        let mut map = self.states();
        let Some(state) = map.get_mut(service) else { return Ok(()) };
        match state.open_until {
            Some(until) if until > now => Err(until - now),
            Some(_) => {
                state.open_until = None;
                state.half_open = true;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Where `service`'s circuit stands now.
    pub fn state(&self, service: &str) -> CircuitState {
        let map = self.states();
        let now = Instant::now();
        match map.get(service) {
            Some(State { open_until: Some(until), .. }) if *until > now => CircuitState::Open(*until - now),
            Some(State { open_until: Some(_), .. } | State { half_open: true, .. }) => CircuitState::HalfOpen,
            _ => CircuitState::Closed,
        }
    }

    /// A call succeeded or failed for reasons of its own: the service is up.
    pub fn record_success(&self, service: &str) {
        self.states().remove(service);
    }

    /// A call failed because the service was unavailable or limiting us. Returns how long the
    /// circuit is now open when this failure opened it (so the caller can tell someone).
    pub fn record_failure(&self, service: &str) -> Option<Duration> {
        self.record_failure_at(service, Instant::now())
    }

    fn record_failure_at(&self, service: &str, now: Instant) -> Option<Duration> {
        let mut map = self.states();
        let state = map.entry(service.to_owned()).or_default();
        state.failures += 1;
        if state.failures >= self.failures_to_open || state.half_open {
            tracing::warn!(service, failures = state.failures, "circuit opened: pausing calls to the service");
            metrics::counter!("tidings_connector_circuit_opened_total", "service" => service.to_owned()).increment(1);
            state.open_until = Some(now + self.open_for);
            state.failures = 0;
            state.half_open = false;
            return Some(self.open_for);
        }
        None
    }

    /// The service asked us to wait (`Retry-After`): calls pause for `wait` (at least one second),
    /// then go through again without a trial.
    pub fn pause(&self, service: &str, wait: Duration) {
        let mut map = self.states();
        let state = map.entry(service.to_owned()).or_default();
        let until = Instant::now() + wait.max(Duration::from_secs(1));
        state.open_until = Some(state.open_until.map_or(until, |current| current.max(until)));
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

    #[test]
    fn after_the_open_period_one_trial_goes_through_and_its_failure_reopens() {
        let breakers = Breakers::new(Duration::from_secs(30));
        let start = Instant::now();
        for _ in 0..FAILURES_TO_OPEN {
            breakers.record_failure_at("model", start);
        }
        assert!(breakers.check_at("model", start + Duration::from_secs(29)).is_err(), "open for 30 s");
        assert!(breakers.check_at("model", start + Duration::from_secs(31)).is_ok(), "half-open after 30 s");
        breakers.record_failure_at("model", start + Duration::from_secs(31));
        let wait = breakers.check_at("model", start + Duration::from_secs(32)).expect_err("one failed trial reopens");
        assert_eq!(wait, Duration::from_secs(29));
        assert!(breakers.check_at("model", start + Duration::from_secs(62)).is_ok());
        breakers.record_success("model");
        assert_eq!(breakers.state("model"), CircuitState::Closed);
    }

    #[test]
    fn a_retry_after_pauses_calls_without_counting_as_an_outage() {
        let breakers = Breakers::new(Duration::from_secs(30));
        breakers.pause("model", Duration::from_secs(20));
        let wait = breakers.check("model").expect_err("paused");
        assert!(wait > Duration::from_secs(18) && wait <= Duration::from_secs(20));
        assert!(matches!(breakers.state("model"), CircuitState::Open(_)));
    }
}
