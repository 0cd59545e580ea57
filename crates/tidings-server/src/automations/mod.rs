//! Automations and notifications (issue 15, ADR 0023): events in, rules over them, messages out.
//!
//! ```text
//! Pipedrive ──POST /webhooks/pipedrive/{crm_…} (Basic auth)──▶ automation_events + job ─┐
//! inbox / AI pipeline ──DomainEvent (subscriber.rs)──────────▶ automation_events + job ─┤ one transaction
//!                                                                                     ▼
//!                automations.process_event (process.rs): facts (names resolved), every rule
//!                evaluated and the verdicts stored, one delivery + job per matched action
//!                                                                                     ▼
//!                automations.deliver (delivery.rs, `outbound` queue): breaker, pacing,
//!                `sending` committed before the call, answer recorded after → the log
//! ```
//!
//! Files: `pipedrive.rs` (connect, disconnect, intake, cached names), `pipedrive_intake.rs` (the
//! intake's group commit), `destinations.rs`
//! (validation, SSRF guard, secrets in the vault, the notifier for each kind), `rules.rs` (the
//! conditions schema, evaluation, templates), `triggers.rs` (response needed, connection failing,
//! budget threshold), `service.rs` (rules, test-send, backtest, log), `members.rs` (each member's
//! notifications: kinds, choices, quiet hours, the fan-out), `notifications.rs` (the bell and
//! preferences), `digests.rs`, `store/` (SQL), `routes.rs` + `routes_notifications.rs` + `dto.rs`
//! (API), `pages.rs` + `pages_notifications.rs` (dashboard). ADRs 0023 and 0024.

pub mod actions;
pub mod api_error;
pub mod crm;
pub mod delivery;
pub mod destinations;
pub mod digests;
pub mod dto;
pub mod dto_notifications;
pub mod forms;
pub mod members;
pub mod model;
pub mod notifications;
pub mod pages;
pub mod pages_notifications;
pub mod pipedrive;
mod pipedrive_intake;
pub mod process;
pub mod routes;
pub mod routes_notifications;
pub mod rules;
pub mod service;
pub mod store;
pub mod subscriber;
pub mod triggers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tidings_connectors::ssrf::{Guard, SsrfError, guarded_client};
use tidings_core::config::AutomationsConfig;
use tidings_store::Db;
use tidings_store::queue::{Queue, QueueError};

use crate::channels::breaker::Breakers;
use crate::inbox::live::Live;
use crate::inbox::service::Inbox;
use crate::mail::Mailer;
use crate::vault::{Vault, VaultError};

/// Why an automations operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AutomationsError {
    /// No such thing in this workspace.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A submitted field is invalid; `field` is its path (`conditions[1].amount`).
    #[error("{field}: {message}")]
    Validation {
        /// The field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A destination URL points where Tidings may not send (ADR 0017).
    #[error("{field}: {source}")]
    Refused {
        /// The field holding the URL.
        field: String,
        /// Why it was refused.
        source: SsrfError,
    },
    /// Pipedrive refused or failed a call made on the member's behalf.
    #[error("Pipedrive: {0}")]
    Pipedrive(String),
    /// A CRM failed a call made on the member's behalf (not a refused token: that is a
    /// validation error on the token's field).
    #[error("{0}")]
    Crm(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] tidings_store::StoreError),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Something could not be stored for now (the reason is logged); the sender should retry.
    #[error("{0}")]
    Unavailable(String),
}

impl AutomationsError {
    /// A validation error on `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation { field: field.into(), message: message.into() }
    }
}

impl From<rules::FieldError> for AutomationsError {
    fn from(error: rules::FieldError) -> Self {
        Self::Validation { field: error.field, message: error.message }
    }
}

/// What automations' services and jobs share: cheap to clone, one per process.
#[derive(Clone)]
pub struct Automations {
    pub(crate) db: Db,
    pub(crate) queue: Queue,
    pub(crate) vault: Vault,
    pub(crate) mailer: Arc<dyn Mailer>,
    /// Rings the bells of open dashboards.
    pub(crate) live: Live,
    pub(crate) config: Arc<AutomationsConfig>,
    /// Where Pipedrive reaches this server (`public_url`).
    pub(crate) public_url: String,
    /// Checks destination URLs (ADR 0017).
    pub(crate) guard: Guard,
    /// For URLs workspaces typed in: resolves through the guard, follows no redirect.
    pub(crate) guarded_http: reqwest::Client,
    /// For the APIs the operator configured (Pipedrive, Twilio, SendGrid).
    pub(crate) api_http: reqwest::Client,
    /// Pauses a destination (or CRM connection) that keeps failing.
    pub(crate) breakers: Breakers,
    /// Assign and set-status actions go through the inbox's service.
    pub(crate) inbox: Inbox,
    pacer: Pacer,
    /// CRM connections that answered 429: no push before their `Retry-After`.
    pub(crate) crm_holds: Pacer,
    /// Destinations' decrypted secrets (destinations.rs).
    pub(crate) secrets_cache: destinations::SecretsCache,
    /// The Pipedrive intake's writers and webhook passwords (pipedrive_intake.rs).
    pub(crate) pipedrive_intake: Arc<pipedrive_intake::IntakeState>,
}

impl Automations {
    /// Automations over `db`, sending with `mailer`, configured by `config`; the bell rings on the
    /// inbox's live stream.
    pub fn new(
        db: Db,
        queue: Queue,
        vault: Vault,
        mailer: Arc<dyn Mailer>,
        config: &AutomationsConfig,
        public_url: String,
        inbox: Inbox,
    ) -> Self {
        let guard = Guard::new(config.allow_loopback_destinations);
        let timeout = Duration::from_secs(config.send_timeout_secs.max(1));
        let api_http = reqwest::Client::builder().timeout(timeout).build().unwrap_or_else(|_| reqwest::Client::new());
        Self {
            db,
            queue,
            vault,
            mailer,
            live: inbox.live().clone(),
            config: Arc::new(config.clone()),
            public_url: public_url.trim_end_matches('/').to_owned(),
            guarded_http: guarded_client(guard.clone(), timeout),
            guard,
            api_http,
            breakers: Breakers::with_limits(config.breaker_failures, Duration::from_secs(config.breaker_open_secs)),
            pacer: Pacer::default(),
            crm_holds: Pacer::default(),
            secrets_cache: destinations::SecretsCache::default(),
            pipedrive_intake: Arc::default(),
            inbox,
        }
    }
}

/// Spaces out messages to one destination (`chat_min_interval_ms`): each call reserves the next
/// free slot and says how long to wait for it. Also holds a CRM connection until its `Retry-After`.
#[derive(Clone, Default)]
pub(crate) struct Pacer {
    next_free: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Pacer {
    fn reserve(&self, key: &str, interval: Duration) -> Duration {
        let mut map = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let slot = map.get(key).copied().filter(|at| *at > now).unwrap_or(now);
        map.insert(key.to_owned(), slot + interval);
        slot - now
    }

    /// Keeps `key` free of calls for `wait` from now.
    pub(crate) fn hold(&self, key: &str, wait: Duration) {
        let mut map = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
        let until = Instant::now() + wait;
        let slot = map.entry(key.to_owned()).or_insert(until);
        *slot = (*slot).max(until);
    }

    /// How long `key` is still held, if it is.
    pub(crate) fn held(&self, key: &str) -> Option<Duration> {
        let map = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key).and_then(|until| until.checked_duration_since(Instant::now())).filter(|d| !d.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_hands_out_consecutive_slots() {
        let pacer = Pacer::default();
        let interval = Duration::from_millis(1000);
        assert_eq!(pacer.reserve("a", interval), Duration::ZERO);
        let second = pacer.reserve("a", interval);
        assert!(second > Duration::from_millis(900) && second <= interval, "{second:?}");
        assert_eq!(pacer.reserve("b", interval), Duration::ZERO, "destinations are paced apart");
    }
}
