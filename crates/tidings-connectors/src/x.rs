//! X direct messages: Account Activity API webhooks in, the v2 DM API out.
//!
//! Sending authenticates as the account in one of the two ways X accepts: OAuth 1.0a, signed
//! with the app's consumer key pair and the account's access token and token secret (when the
//! connection has a token secret and the app's consumer key is configured; these never
//! expire), or else the access token as an OAuth 2.0 user-context bearer token.
//!
//! Docs: <https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/securing-webhooks>,
//! <https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/account-activity-data-objects>,
//! <https://docs.x.com/x-api/direct-messages/create-dm-message-by-participant-id>.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use rand::distr::Alphanumeric;
use reqwest::Response;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::oauth1;
use crate::signature::{self, X_SIGNATURE_HEADER};
use crate::{
    AccountRef, ChallengeAnswer, ConnectorError, InboundEvent, InboundMessage, MessagingChannel, Platform, SentMessage,
    WebhookError, WebhookHeaders, http,
};

/// Where the X API lives.
pub const DEFAULT_BASE_URL: &str = "https://api.x.com";

const PLATFORM: &str = "x";

/// DMs of the X accounts subscribed to one X app's webhook.
pub struct XChannel {
    base_url: String,
    http: reqwest::Client,
    /// The app's consumer secret (API key secret): the key of the CRC answer and of
    /// `X-Twitter-Webhooks-Signature`.
    app_secret: SecretString,
    /// Unused: X proves ownership with the CRC rather than a shared token. Kept so every
    /// channel is built the same way.
    #[allow(dead_code)]
    verify_token: SecretString,
    /// Deliveries whose events are older (or further ahead) than this are refused; 0 disables.
    max_age_ms: i64,
    /// The app's consumer key (API key), for signing with OAuth 1.0a.
    consumer_key: Option<String>,
}

impl XChannel {
    /// A channel calling the X API at `base_url` (normally [`DEFAULT_BASE_URL`]).
    pub fn new(
        http: reqwest::Client,
        base_url: impl Into<String>,
        app_secret: SecretString,
        verify_token: SecretString,
        max_age_ms: i64,
    ) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Self { base_url, http, app_secret, verify_token, max_age_ms, consumer_key: None }
    }

    /// Signs sends with OAuth 1.0a for connections that hold a token secret.
    pub fn with_consumer_key(mut self, consumer_key: Option<String>) -> Self {
        self.consumer_key = consumer_key.filter(|key| !key.is_empty());
        self
    }

    /// [`MessagingChannel::parse_webhook`] against a given clock (unix milliseconds).
    pub fn parse_webhook_at(&self, body: &[u8], now_ms: i64) -> Result<Vec<InboundEvent>, WebhookError> {
        let delivery: Delivery = serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let account_id = delivery.for_user_id;
        let mut events = Vec::new();
        for raw in delivery.direct_message_events {
            let event: DmEvent =
                serde_json::from_value(raw.clone()).map_err(|e| WebhookError::Malformed(e.to_string()))?;
            let Some(create) = event.message_create.filter(|_| event.kind == "message_create") else {
                let reason = format!("direct message event {}", event.kind);
                events.push(InboundEvent::Ignored { account_id: account_id.clone(), reason });
                continue;
            };
            let sent_at_ms: i64 = event
                .created_timestamp
                .parse()
                .map_err(|_| WebhookError::Malformed(format!("bad created_timestamp {:?}", event.created_timestamp)))?;
            signature::check_freshness(sent_at_ms, now_ms, self.max_age_ms)?;
            // The subscribed account's own DMs (sent from the X app) come back too: record them as outbound.
            let is_echo = create.sender_id == account_id;
            let thread_id = if is_echo { create.target.recipient_id.clone() } else { create.sender_id.clone() };
            events.push(InboundEvent::Message(InboundMessage {
                account_id: account_id.clone(),
                external_id: event.id,
                thread_id,
                sender_name: delivery.users.get(&create.sender_id).map(|u| u.name.clone()),
                sender_id: create.sender_id,
                sender_phone: None,
                text: dm_text(&create.message_data),
                sent_at_ms,
                is_echo,
                raw,
            }));
        }
        // Posts, likes, follows, typing and read indicators…: the account's activity, not conversations.
        for kind in delivery.other.keys().filter(|k| k.ends_with("_events") || k.as_str() == "user_event") {
            events.push(InboundEvent::Ignored { account_id: account_id.clone(), reason: kind.clone() });
        }
        Ok(events)
    }
}

#[async_trait]
impl MessagingChannel for XChannel {
    fn platform(&self) -> Platform {
        Platform::X
    }

    /// Answers the CRC: `{"response_token": "sha256=<base64 HMAC(consumer secret, crc_token)>"}`.
    fn answer_challenge(&self, query: &[(String, String)]) -> Result<ChallengeAnswer, WebhookError> {
        let secret = self.app_secret.expose_secret().as_bytes();
        if secret.is_empty() {
            return Err(WebhookError::NotConfigured(Platform::X.label()));
        }
        let token = query.iter().find(|(k, _)| k == "crc_token").map(|(_, v)| v.as_str());
        let token = token.ok_or_else(|| WebhookError::ChallengeFailed("no crc_token".into()))?;
        let body = serde_json::json!({ "response_token": signature::x_crc_response(secret, token) });
        Ok(ChallengeAnswer { content_type: "application/json", body: body.to_string() })
    }

    fn verify_signature(&self, headers: &WebhookHeaders, body: &[u8]) -> Result<(), WebhookError> {
        let secret = self.app_secret.expose_secret().as_bytes();
        if secret.is_empty() {
            return Err(WebhookError::NotConfigured(Platform::X.label()));
        }
        signature::verify_x_signature(secret, headers.get(X_SIGNATURE_HEADER), body)
    }

    fn parse_webhook(&self, body: &[u8], now_ms: i64) -> Result<Vec<InboundEvent>, WebhookError> {
        self.parse_webhook_at(body, now_ms)
    }

    /// Sends a one-to-one DM with the account's OAuth 2.0 user token; the answer's `dm_event_id`
    /// is the same id the webhook will carry for the echo.
    async fn send_message(
        &self,
        account: &AccountRef,
        recipient_id: &str,
        text: &str,
    ) -> Result<SentMessage, ConnectorError> {
        #[derive(Serialize)]
        struct Body<'a> {
            text: &'a str,
        }
        #[derive(Deserialize)]
        struct Answer {
            data: Option<Created>,
            #[serde(default)]
            errors: Vec<Value>,
        }
        #[derive(Deserialize)]
        struct Created {
            dm_event_id: String,
        }

        let token = account.credentials.access_token.as_ref();
        let token = token.ok_or(ConnectorError::MissingCredential { platform: PLATFORM, what: "access token" })?;
        let url = format!("{}/2/dm_conversations/with/{recipient_id}/messages", self.base_url);
        let request = self.http.post(&url).json(&Body { text });
        let request = match (&self.consumer_key, &account.credentials.secret) {
            (Some(consumer_key), Some(token_secret)) => {
                let keys = oauth1::Keys {
                    consumer_key,
                    consumer_secret: self.app_secret.expose_secret(),
                    token: token.expose_secret(),
                    token_secret: token_secret.expose_secret(),
                };
                let nonce: String = rand::rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect();
                let signed = oauth1::Request {
                    method: "POST",
                    url: &url,
                    params: &[],
                    nonce: &nonce,
                    timestamp: chrono::Utc::now().timestamp(),
                };
                request.header(reqwest::header::AUTHORIZATION, oauth1::authorization(&keys, &signed))
            }
            _ => request.bearer_auth(token.expose_secret()),
        };
        let response = request
            .send()
            .await
            .map_err(|e| ConnectorError::Unavailable { platform: PLATFORM, message: e.to_string() })?;
        let status = response.status();
        if !status.is_success() {
            let wait = retry_after_or_reset(&response, chrono::Utc::now().timestamp());
            let body = response.text().await.unwrap_or_default();
            return Err(http::error_for_status(PLATFORM, status, wait, &body));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ConnectorError::Unavailable { platform: PLATFORM, message: e.to_string() })?;
        let answer: Answer = serde_json::from_slice(&bytes)
            .map_err(|e| ConnectorError::Malformed { platform: PLATFORM, message: e.to_string() })?;
        match answer.data {
            Some(created) => Ok(SentMessage { external_id: created.dm_event_id }),
            // X can answer 200 with only `errors` (RFC 7807 problems), e.g. a recipient who does not accept DMs.
            None => Err(ConnectorError::Rejected {
                platform: PLATFORM,
                status: status.as_u16(),
                message: Value::Array(answer.errors).to_string(),
            }),
        }
    }
}

/// How long to wait after a refusal: `Retry-After` when sent, else X's own `x-rate-limit-reset`
/// (unix seconds when the window reopens), clamped like `Retry-After`.
fn retry_after_or_reset(response: &Response, now_secs: i64) -> Option<Duration> {
    http::retry_after(response).or_else(|| {
        let reset = response.headers().get("x-rate-limit-reset")?.to_str().ok()?;
        rate_limit_reset_wait(reset, now_secs)
    })
}

/// The wait until an `x-rate-limit-reset` time, clamped to [`http::MAX_RETRY_AFTER`].
fn rate_limit_reset_wait(reset: &str, now_secs: i64) -> Option<Duration> {
    let reset: i64 = reset.trim().parse().ok()?;
    let wait = Duration::from_secs(u64::try_from(reset.saturating_sub(now_secs)).unwrap_or(0));
    Some(wait.min(http::MAX_RETRY_AFTER))
}

/// The DM's text with X's `t.co` links expanded, plus its media attachment in brackets.
fn dm_text(data: &MessageData) -> String {
    let mut text = data.text.clone();
    let media = data.attachment.as_ref().and_then(|a| a.media.as_ref());
    // X appends the media's own t.co link to the text; the bracket line below replaces it.
    if let Some(short) = media.and_then(|m| m.url.as_deref()) {
        text = text.replace(short, "").trim_end().to_owned();
    }
    for url in &data.entities.urls {
        if let (Some(short), Some(expanded)) = (&url.url, &url.expanded_url) {
            text = text.replace(short.as_str(), expanded);
        }
    }
    if let Some(media) = media {
        let kind = media.kind.as_deref().unwrap_or("media");
        let line = match media.media_url_https.as_deref().or(media.url.as_deref()) {
            Some(link) => format!("[{kind}] {link}"),
            None => format!("[{kind}]"),
        };
        text = if text.is_empty() { line } else { format!("{text}\n{line}") };
    }
    text
}

/// An Account Activity delivery: one `for_user_id` and one array of one event kind, with the
/// users it mentions keyed by id.
#[derive(Deserialize)]
struct Delivery {
    for_user_id: String,
    #[serde(default)]
    direct_message_events: Vec<Value>,
    #[serde(default)]
    users: BTreeMap<String, User>,
    /// Every other kind of activity, only named in `Ignored` events.
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct User {
    name: String,
}

#[derive(Deserialize)]
struct DmEvent {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    #[serde(default)]
    created_timestamp: String,
    message_create: Option<MessageCreate>,
}

#[derive(Deserialize)]
struct MessageCreate {
    target: Target,
    sender_id: String,
    message_data: MessageData,
}

#[derive(Deserialize)]
struct Target {
    recipient_id: String,
}

#[derive(Deserialize)]
struct MessageData {
    #[serde(default)]
    text: String,
    #[serde(default)]
    entities: Entities,
    attachment: Option<DmAttachment>,
}

#[derive(Deserialize, Default)]
struct Entities {
    #[serde(default)]
    urls: Vec<UrlEntity>,
}

#[derive(Deserialize)]
struct UrlEntity {
    url: Option<String>,
    expanded_url: Option<String>,
}

#[derive(Deserialize)]
struct DmAttachment {
    media: Option<Media>,
}

#[derive(Deserialize)]
struct Media {
    #[serde(rename = "type")]
    kind: Option<String>,
    media_url_https: Option<String>,
    url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_reset_is_a_wait_from_now_clamped() {
        assert_eq!(rate_limit_reset_wait("1000090", 1_000_000), Some(Duration::from_secs(90)));
        assert_eq!(rate_limit_reset_wait("999000", 1_000_000), Some(Duration::ZERO));
        assert_eq!(rate_limit_reset_wait("99999999", 1_000_000), Some(http::MAX_RETRY_AFTER));
        assert_eq!(rate_limit_reset_wait("soon", 1_000_000), None);
    }
}
