//! Instagram direct messages of a professional account: Meta webhooks in (`object`
//! "instagram", the same `entry[].messaging[]` events as Messenger), the Send API out.
//!
//! Sending uses the Instagram API with Instagram Login: `POST graph.instagram.com/{version}/{IG_ID}/messages`
//! with the account's Instagram user token, so no Facebook Page needs to be linked.
//!
//! Docs: <https://developers.facebook.com/docs/instagram-platform/webhooks/examples/>,
//! <https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/messaging-api>.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::messenger::{self, GRAPH_VERSION};
use crate::{
    AccountRef, ChallengeAnswer, ConnectorError, InboundEvent, MessagingChannel, Platform, SentMessage, WebhookError,
    WebhookHeaders, signature,
};

/// Where the Instagram Graph API lives. Accounts connected through a Facebook Page instead can
/// point this at `https://graph.facebook.com` with a Page token: the path and body are the same.
pub const DEFAULT_BASE_URL: &str = "https://graph.instagram.com";

const PLATFORM: &str = "instagram";

/// Instagram conversations of the professional accounts connected to one Meta app.
pub struct InstagramChannel {
    base_url: String,
    http: reqwest::Client,
    /// Meta app secret: the key of `X-Hub-Signature-256`.
    app_secret: SecretString,
    /// Our `hub.verify_token`, entered in the app dashboard when subscribing.
    verify_token: SecretString,
    /// Deliveries whose events are older (or further ahead) than this are refused; 0 disables.
    max_age_ms: i64,
}

impl InstagramChannel {
    /// A channel calling the Instagram Graph API at `base_url` (normally [`DEFAULT_BASE_URL`]).
    pub fn new(
        http: reqwest::Client,
        base_url: impl Into<String>,
        app_secret: SecretString,
        verify_token: SecretString,
        max_age_ms: i64,
    ) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Self { base_url, http, app_secret, verify_token, max_age_ms }
    }

    /// [`MessagingChannel::parse_webhook`] against a given clock (unix milliseconds).
    pub fn parse_webhook_at(&self, body: &[u8], now_ms: i64) -> Result<Vec<InboundEvent>, WebhookError> {
        messenger::parse_messaging(body, "instagram", now_ms, self.max_age_ms)
    }
}

#[async_trait]
impl MessagingChannel for InstagramChannel {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    fn answer_challenge(&self, query: &[(String, String)]) -> Result<ChallengeAnswer, WebhookError> {
        signature::answer_hub_challenge(self.verify_token.expose_secret().as_bytes(), query)
    }

    fn verify_signature(&self, headers: &WebhookHeaders, body: &[u8]) -> Result<(), WebhookError> {
        messenger::verify_meta_signature(&self.app_secret, Platform::Instagram, headers, body)
    }

    fn parse_webhook(&self, body: &[u8], now_ms: i64) -> Result<Vec<InboundEvent>, WebhookError> {
        self.parse_webhook_at(body, now_ms)
    }

    async fn send_message(
        &self,
        account: &AccountRef,
        recipient_id: &str,
        text: &str,
    ) -> Result<SentMessage, ConnectorError> {
        let url = format!("{}/{GRAPH_VERSION}/{}/messages", self.base_url, account.external_id);
        // Instagram's documented body has no `messaging_type`; a reply inside the 24-hour window needs none.
        messenger::send_text(&self.http, PLATFORM, &url, account, recipient_id, text, None).await
    }

    /// The User Profile API: `GET /{IGSID}?fields=name,username`; the name, else `@username`.
    /// Allowed once the person has messaged the account.
    async fn sender_name(&self, account: &AccountRef, sender_id: &str) -> Result<Option<String>, ConnectorError> {
        #[derive(Deserialize)]
        struct Profile {
            name: Option<String>,
            username: Option<String>,
        }
        let token = messenger::access_token(account, PLATFORM)?;
        let url = format!("{}/{GRAPH_VERSION}/{sender_id}", self.base_url);
        let request = self.http.get(url).query(&[("fields", "name,username")]).bearer_auth(token.expose_secret());
        let profile: Profile = crate::graph::send(PLATFORM, request).await?;
        let name = profile.name.map(|name| name.trim().to_owned()).filter(|name| !name.is_empty());
        Ok(name.or_else(|| profile.username.filter(|u| !u.is_empty()).map(|u| format!("@{u}"))))
    }
}
