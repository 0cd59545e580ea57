//! Generic HTTPS webhooks, signed per Standard Webhooks ([`crate::standard_webhooks`]).
//!
//! The body follows the spec's recommended envelope, `{"type", "timestamp", "data"}`, with the
//! [`Message`] as `data`. The `webhook-id` is the delivery's id when the caller gives one
//! ([`SignedWebhook::message_id`]): a retried delivery then carries the same id and the receiver
//! can drop the repeat. Any 2xx is success, as the spec says; a 3xx is a refusal, since the
//! guarded client ([`crate::ssrf::guarded_client`]) does not follow redirects.

use async_trait::async_trait;
use serde::Serialize;

use super::{Delivered, Message, Notifier};
use crate::standard_webhooks::{self, WebhookSecret};
use crate::{ConnectorError, http};

const PLATFORM: &str = "webhook";
/// The `type` of a notification in the envelope.
pub const NOTIFICATION_TYPE: &str = "tidings.notification";

/// One receiver URL and the secrets its messages are signed with.
pub struct SignedWebhook {
    http: reqwest::Client,
    url: String,
    secrets: Vec<WebhookSecret>,
    message_id: Option<String>,
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: String,
    data: &'a T,
}

impl SignedWebhook {
    /// Posts to `url`, signing with each of `secrets` (the current one first; the previous one
    /// too while rotating).
    pub fn new(http: reqwest::Client, url: impl Into<String>, secrets: Vec<WebhookSecret>) -> Self {
        Self { http, url: url.into(), secrets, message_id: None }
    }

    /// Sends with this `webhook-id` (the delivery's id) instead of a new one.
    pub fn message_id(mut self, id: impl Into<String>) -> Self {
        self.message_id = Some(id.into());
        self
    }

    /// Posts `data` as an event of type `kind`, signed, and reads the status.
    pub async fn post<T: Serialize + Sync>(&self, kind: &str, data: &T) -> Result<Delivered, ConnectorError> {
        if self.secrets.is_empty() {
            return Err(ConnectorError::MissingCredential { platform: PLATFORM, what: "a signing secret" });
        }
        let now = chrono::Utc::now();
        let timestamp = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let body = serde_json::to_vec(&Envelope { kind, timestamp, data })
            .map_err(|e| ConnectorError::Malformed { platform: PLATFORM, message: e.to_string() })?;
        let id = self.message_id.clone().unwrap_or_else(standard_webhooks::new_message_id);
        let headers = standard_webhooks::sign(&self.secrets, &id, now.timestamp(), &body);
        let mut request = self.http.post(&self.url).header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        let response = http::send(PLATFORM, request.body(body)).await?;
        Ok(Delivered { status: response.status().as_u16(), remote_id: Some(id) })
    }
}

#[async_trait]
impl Notifier for SignedWebhook {
    fn kind(&self) -> &'static str {
        PLATFORM
    }

    async fn send(&self, message: &Message) -> Result<Delivered, ConnectorError> {
        self.post(NOTIFICATION_TYPE, message).await
    }
}
