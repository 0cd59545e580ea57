//! What every handler can reach.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusHandle;
use tidings_core::Config;
use tidings_core::secrets::OperatorToken;
use tidings_store::Db;
use tidings_store::queue::Queue;

/// Shared application state, one per process. Axum clones it for every extractor and layer of
/// every request, so it is one `Arc`: cloning the services one by one (a score of reference
/// counts shared by every core) took a quarter of the CPU of webhook intake under load.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

/// What [`AppState`] shares; reached through it by `Deref` (`state.db`).
pub struct Services {
    /// The effective configuration.
    pub config: Arc<Config>,
    /// The database.
    pub db: Db,
    /// The work queue in that database.
    pub queue: Queue,
    /// Hands domain events to the capabilities subscribed to them.
    pub events: crate::events::Events,
    /// Guards the operator API.
    pub operator_token: Arc<OperatorToken>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Accounts, workspaces, sessions and API keys.
    pub identity: crate::identity::Identity,
    /// Every workspace's stored credentials, encrypted at rest.
    pub vault: crate::vault::Vault,
    /// Sends outgoing email (the `mail.send` job uses it): SMTP, or the dev folder.
    pub mailer: Arc<dyn crate::mail::Mailer>,
    /// Request quotas and sign-in protection.
    pub limits: crate::http::rate_limit::RateLimits,
    /// When this process started.
    pub started_at: Instant,
    /// Conversations, replies, assignment and status.
    pub inbox: crate::inbox::service::Inbox,
    /// The platform clients and webhook secrets.
    pub platforms: crate::channels::platforms::Platforms,
    /// Locations and connected platform accounts.
    pub channels: crate::channels::service::Channels,
    /// What jobs calling platforms share (credentials, breakers, live events).
    pub channel_jobs: crate::channels::accounts::ChannelContext,
    /// Stores webhook deliveries durably, in batches.
    pub intake: crate::channels::webhooks::Intake,
    /// Reply drafts, knowledge base, budgets and auto-reply (issue 14).
    pub ai: crate::pipeline::replies::Replies,
    /// Pipedrive intake, rules, destinations and their deliveries.
    pub automations: crate::automations::Automations,
}

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }

    /// The live-event hub.
    pub fn live(&self) -> &crate::inbox::live::Live {
        self.inbox.live()
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}
