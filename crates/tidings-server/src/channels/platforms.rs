//! The platform clients, built from configuration: which client serves a platform, with which
//! base URL and app secrets.
//!
//! Webhook secrets come from configuration. When a Meta app secret, verify token or X consumer
//! secret is not configured, one is derived from the master key, so the built-in demo signs and
//! verifies real deliveries with no set-up; a real platform needs the real values configured.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tidings_connectors::oauth::OAuthClient;
use tidings_connectors::{
    MessagingChannel, Platform, ReviewSource, dataforseo, facebook, google, instagram, messenger, tripadvisor,
    whatsapp, x, yelp,
};
use tidings_core::config::ConnectorsConfig;
use tidings_core::secrets::MasterKeys;

/// Every platform client of this process.
#[derive(Clone)]
pub struct Platforms {
    config: Arc<ConnectorsConfig>,
    http: reqwest::Client,
    secrets: Arc<WebhookSecrets>,
}

/// The secrets webhook deliveries are signed and verified with.
pub struct WebhookSecrets {
    /// Meta app secret (`X-Hub-Signature-256`).
    pub meta_app_secret: SecretString,
    /// Meta `hub.verify_token`.
    pub meta_verify_token: SecretString,
    /// X consumer secret (`X-Twitter-Webhooks-Signature`, CRC).
    pub x_consumer_secret: SecretString,
}

impl WebhookSecrets {
    fn resolve(config: &ConnectorsConfig, keys: &MasterKeys) -> Self {
        // A one-way function of the master key: stable across restarts, useless without the key.
        let derived = |label: &str| {
            let digest = Sha256::new().chain_update(label.as_bytes()).chain_update(keys.current().expose()).finalize();
            SecretString::from(hex::encode(digest))
        };
        Self {
            meta_app_secret: config.meta.app_secret.clone().unwrap_or_else(|| derived("webhook:meta:app_secret")),
            meta_verify_token: config.meta.verify_token.clone().unwrap_or_else(|| derived("webhook:meta:verify_token")),
            x_consumer_secret: config.x.consumer_secret.clone().unwrap_or_else(|| derived("webhook:x:consumer_secret")),
        }
    }
}

impl Platforms {
    /// Clients configured by `config`, with secrets derived from `keys` where none are configured.
    pub fn new(config: &ConnectorsConfig, keys: &MasterKeys) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.http_timeout_secs))
            .user_agent(concat!("tidings/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self { secrets: Arc::new(WebhookSecrets::resolve(config, keys)), config: Arc::new(config.clone()), http }
    }

    /// The connector configuration.
    pub fn config(&self) -> &ConnectorsConfig {
        &self.config
    }

    /// The webhook secrets (the demo simulator signs with them).
    pub fn secrets(&self) -> &WebhookSecrets {
        &self.secrets
    }

    /// The client polling `platform` for reviews, for review platforms.
    pub fn review_source(&self, platform: Platform) -> Option<Box<dyn ReviewSource>> {
        let http = self.http.clone();
        let c = &self.config;
        Some(match platform {
            Platform::Google => Box::new(google::GoogleReviews::new(http, &c.google.base_url)),
            Platform::Yelp => Box::new(yelp::YelpReviews::new(http, &c.yelp_base_url)),
            Platform::Facebook => Box::new(facebook::FacebookRatings::new(http, &c.meta.graph_base_url)),
            Platform::Tripadvisor => Box::new(tripadvisor::TripadvisorReviews::new(http, &c.tripadvisor_base_url)),
            Platform::Dataforseo => Box::new(dataforseo::DataforseoReviews::new(http, &c.dataforseo_base_url)),
            _ => return None,
        })
    }

    /// The client receiving and sending messages on `platform`, for messaging platforms.
    pub fn channel(&self, platform: Platform) -> Option<Box<dyn MessagingChannel>> {
        let http = self.http.clone();
        let c = &self.config;
        let s = &self.secrets;
        let max_age_ms = i64::try_from(c.webhook_max_age_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let meta = |base: &str| (http.clone(), base.to_owned(), s.meta_app_secret.clone(), s.meta_verify_token.clone());
        Some(match platform {
            Platform::Messenger | Platform::Facebook => {
                let (h, b, a, v) = meta(&c.meta.graph_base_url);
                Box::new(messenger::MessengerChannel::new(h, b, a, v, max_age_ms))
            }
            Platform::Instagram => {
                let (h, b, a, v) = meta(&c.meta.instagram_base_url);
                let channel = instagram::InstagramChannel::new(h, b, a, v, max_age_ms);
                Box::new(channel.with_facebook_base_url(&c.meta.graph_base_url))
            }
            Platform::Whatsapp => {
                let (h, b, a, v) = meta(&c.meta.graph_base_url);
                Box::new(whatsapp::WhatsappChannel::new(h, b, a, v, max_age_ms))
            }
            Platform::X => Box::new(
                x::XChannel::new(
                    http,
                    &c.x.base_url,
                    s.x_consumer_secret.clone(),
                    SecretString::from(String::new()),
                    max_age_ms,
                )
                .with_consumer_key(c.x.consumer_key.clone()),
            ),
            _ => return None,
        })
    }

    /// The OAuth client for platforms connected by OAuth, when its app is configured.
    pub fn oauth(&self, platform: Platform) -> Option<OAuthClient> {
        let c = &self.config;
        match platform {
            Platform::Google => Some(
                OAuthClient::google(self.http.clone(), c.google.client_id.clone()?, c.google.client_secret.clone()?)
                    .with_urls(&c.google.authorize_url, &c.google.token_url),
            ),
            Platform::Facebook | Platform::Messenger | Platform::Instagram => Some(
                OAuthClient::facebook(self.http.clone(), c.meta.app_id.clone()?, c.meta.app_secret.clone()?).with_urls(
                    &c.meta.authorize_url,
                    format!("{}/v21.0/oauth/access_token", c.meta.graph_base_url.trim_end_matches('/')),
                ),
            ),
            _ => None,
        }
    }

    /// Whether a webhook secret for `platform` was configured (not derived for the demo).
    pub fn webhook_configured(&self, platform: Platform) -> bool {
        match platform {
            Platform::X => self.config.x.consumer_secret.as_ref().is_some_and(|s| !s.expose_secret().is_empty()),
            _ => self.config.meta.app_secret.is_some(),
        }
    }
}
