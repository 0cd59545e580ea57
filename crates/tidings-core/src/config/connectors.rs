//! Settings of the platform connectors and the demo.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{redact_secret, secret};

/// How Tidings talks to review and messaging platforms.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectorsConfig {
    /// Webhook events older than this (by the timestamp inside the signed body) are refused; 0 turns the check off.
    pub webhook_max_age_secs: u64,
    /// Processed webhook deliveries (their raw bodies) are purged after this many days; 0 keeps them.
    pub delivery_retention_days: u32,
    /// How often each connection is synced, unless the connection sets its own interval.
    pub sync_interval_secs: u64,
    /// Timeout of one call to a platform.
    pub http_timeout_secs: u64,
    /// How long calls to a platform pause after repeated failures (its circuit breaker) before
    /// one is let through; sender-name look-ups wait that long while it is unreachable.
    pub breaker_open_secs: u64,
    /// Replies sent per hour per connection, by platform (defaults: Facebook 200/h, WhatsApp 1000/h).
    pub outbound_per_hour: BTreeMap<String, u32>,
    /// Facebook, Messenger, Instagram and WhatsApp: one Meta app.
    pub meta: MetaConfig,
    /// X (Twitter) Account Activity API.
    pub x: XConfig,
    /// Google Business Profile.
    pub google: GoogleConfig,
    /// Yelp Fusion API base URL.
    pub yelp_base_url: String,
    /// TripAdvisor Content API base URL.
    pub tripadvisor_base_url: String,
    /// DataForSEO API base URL.
    pub dataforseo_base_url: String,
    /// Automations: Pipedrive, notification destinations and their delivery.
    pub automations: AutomationsConfig,
}

/// Automations and notifications (issue 15).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutomationsConfig {
    /// Lets destinations use loopback addresses, and plain http to them: for development and
    /// tests only (ADR 0017). Private, link-local and metadata addresses stay refused.
    pub allow_loopback_destinations: bool,
    /// Pipedrive's API (`https://api.pipedrive.com`).
    pub pipedrive_base_url: String,
    /// HubSpot's API (`https://api.hubapi.com`), for CRM sync.
    pub hubspot_base_url: String,
    /// Twilio's API, for SMS and WhatsApp destinations.
    pub twilio_base_url: String,
    /// SendGrid's API, for email destinations that send through SendGrid.
    pub sendgrid_base_url: String,
    /// Timeout of one call to a destination.
    pub send_timeout_secs: u64,
    /// The least time between two messages to one chat destination (Google Chat allows about one
    /// message per second per space, Slack one per second per webhook).
    pub chat_min_interval_ms: u64,
    /// Consecutive failed attempts that pause a destination (the circuit breaker).
    pub breaker_failures: u32,
    /// How long a paused destination is left alone before one attempt is let through.
    pub breaker_open_secs: u64,
    /// Delivery logs and processed events are purged after this many days; 0 keeps them.
    pub log_retention_days: u32,
}

impl Default for AutomationsConfig {
    fn default() -> Self {
        Self {
            allow_loopback_destinations: false,
            pipedrive_base_url: "https://api.pipedrive.com".to_owned(),
            hubspot_base_url: "https://api.hubapi.com".to_owned(),
            twilio_base_url: "https://api.twilio.com".to_owned(),
            sendgrid_base_url: "https://api.sendgrid.com".to_owned(),
            send_timeout_secs: 10,
            chat_min_interval_ms: 1_000,
            breaker_failures: 5,
            breaker_open_secs: 60,
            log_retention_days: 90,
        }
    }
}

/// The Meta app behind Facebook, Messenger, Instagram and WhatsApp.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetaConfig {
    /// The app id, for the OAuth connect flow.
    pub app_id: Option<String>,
    /// The app secret: signs webhook deliveries (`X-Hub-Signature-256`) and OAuth code exchanges.
    /// When unset, one is derived from the master key so the built-in demo works.
    #[serde(serialize_with = "redact_secret", deserialize_with = "secret")]
    pub app_secret: Option<SecretString>,
    /// The token Meta echoes when verifying the webhook URL. Derived like the secret when unset.
    #[serde(serialize_with = "redact_secret", deserialize_with = "secret")]
    pub verify_token: Option<SecretString>,
    /// Graph API base URL (Facebook, Messenger, WhatsApp).
    pub graph_base_url: String,
    /// Instagram Graph API base URL (Instagram messaging with Instagram Login).
    pub instagram_base_url: String,
    /// OAuth dialog URL.
    pub authorize_url: String,
}

/// The X app whose consumer secret signs Account Activity deliveries.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct XConfig {
    /// Consumer (API) key. With it, accounts connected with an access token and its secret send
    /// DMs signed with OAuth 1.0a; without it, the access token is used as an OAuth 2.0 bearer.
    pub consumer_key: Option<String>,
    /// Consumer (API) secret. Derived from the master key when unset, for the demo.
    #[serde(serialize_with = "redact_secret", deserialize_with = "secret")]
    pub consumer_secret: Option<SecretString>,
    /// API base URL.
    pub base_url: String,
}

/// The Google Cloud OAuth client for Business Profile.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoogleConfig {
    /// OAuth client id; connecting Google needs it.
    pub client_id: Option<String>,
    /// OAuth client secret.
    #[serde(serialize_with = "redact_secret", deserialize_with = "secret")]
    pub client_secret: Option<SecretString>,
    /// Business Profile API base URL.
    pub base_url: String,
    /// OAuth token endpoint.
    pub token_url: String,
    /// OAuth consent screen.
    pub authorize_url: String,
}

impl Default for ConnectorsConfig {
    fn default() -> Self {
        let per_hour = [
            ("facebook", 200),
            ("messenger", 200),
            ("instagram", 200),
            ("whatsapp", 1_000),
            ("x", 200),
            ("google", 600),
        ];
        Self {
            webhook_max_age_secs: 300,
            delivery_retention_days: 30,
            sync_interval_secs: 900,
            breaker_open_secs: 60,
            http_timeout_secs: 20,
            outbound_per_hour: per_hour.into_iter().map(|(p, n)| (p.to_owned(), n)).collect(),
            meta: MetaConfig::default(),
            x: XConfig::default(),
            google: GoogleConfig::default(),
            yelp_base_url: "https://api.yelp.com".to_owned(),
            tripadvisor_base_url: "https://api.content.tripadvisor.com".to_owned(),
            dataforseo_base_url: "https://api.dataforseo.com".to_owned(),
            automations: AutomationsConfig::default(),
        }
    }
}

impl Default for MetaConfig {
    fn default() -> Self {
        Self {
            app_id: None,
            app_secret: None,
            verify_token: None,
            graph_base_url: "https://graph.facebook.com".to_owned(),
            instagram_base_url: "https://graph.instagram.com".to_owned(),
            authorize_url: "https://www.facebook.com/v21.0/dialog/oauth".to_owned(),
        }
    }
}

impl Default for XConfig {
    fn default() -> Self {
        Self { consumer_key: None, consumer_secret: None, base_url: "https://api.x.com".to_owned() }
    }
}

impl Default for GoogleConfig {
    fn default() -> Self {
        Self {
            client_id: None,
            client_secret: None,
            base_url: "https://mybusiness.googleapis.com".to_owned(),
            token_url: "https://oauth2.googleapis.com/token".to_owned(),
            authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".to_owned(),
        }
    }
}

/// The demo workspace and its simulator.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// Create the demo workspace when `serve` starts on an empty database.
    pub seed_on_empty: bool,
    /// Keep posting simulated webhooks to the demo workspace's connections.
    pub simulate: bool,
    /// Seconds between simulated deliveries.
    pub simulate_every_secs: u64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self { seed_on_empty: true, simulate: true, simulate_every_secs: 20 }
    }
}
