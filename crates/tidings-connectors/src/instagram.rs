//! Instagram direct messages of a professional account: Meta webhooks in (`object`
//! "instagram", the same `entry[].messaging[]` events as Messenger), the Send API out.
//!
//! Meta offers two ways in, and a token works only on its own host:
//! - the Instagram API with Instagram Login: an Instagram user token (`IGAA…`, formerly
//!   `IGQV…`) on `graph.instagram.com`, sending with `POST /{version}/{IG_ID}/messages`; no
//!   Facebook Page needs to be linked;
//! - Instagram messaging through the Messenger Platform (Facebook Login, as the OAuth connect
//!   flow does it): the linked Page's token (`EAA…`) on `graph.facebook.com`, sending with
//!   `POST /{version}/me/messages` (`me` is the Page).
//!
//! Each call goes to the host of the connection's token: one starting with `IG` to the first,
//! any other to the second.
//!
//! Docs: <https://developers.facebook.com/docs/instagram-platform/webhooks/examples/>,
//! <https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/messaging-api>,
//! <https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message/>.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::messenger::{self, GRAPH_VERSION};
use crate::{
    AccountRef, ChallengeAnswer, ConnectorError, InboundEvent, MessagingChannel, OutgoingMessage, Platform,
    SentMessage, WebhookError, WebhookHeaders, WebhookSubscription, signature,
};

/// Where the Instagram API with Instagram Login lives.
pub const DEFAULT_BASE_URL: &str = "https://graph.instagram.com";

const PLATFORM: &str = "instagram";

/// Instagram conversations of the professional accounts connected to one Meta app.
pub struct InstagramChannel {
    /// For Instagram user tokens.
    base_url: String,
    /// For Page tokens: the Facebook Graph API.
    facebook_base_url: String,
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
        let facebook_base_url = messenger::DEFAULT_BASE_URL.to_owned();
        Self { base_url, facebook_base_url, http, app_secret, verify_token, max_age_ms }
    }

    /// Sends calls made with a Page token to `url` instead of [`messenger::DEFAULT_BASE_URL`].
    pub fn with_facebook_base_url(mut self, url: impl Into<String>) -> Self {
        self.facebook_base_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The connection's token, the host it works on, and the node that sends as the account there.
    fn route<'a>(&'a self, account: &'a AccountRef) -> Result<(&'a SecretString, &'a str, &'a str), ConnectorError> {
        let token = messenger::access_token(account, PLATFORM)?;
        Ok(if uses_instagram_login(token) {
            (token, &self.base_url, &account.external_id)
        } else {
            (token, &self.facebook_base_url, "me")
        })
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
        self.send(account, recipient_id, &OutgoingMessage::Text(text.to_owned())).await
    }

    /// Free text (Instagram's documented body has no `messaging_type` inside the 24-hour
    /// window), or after it a `MESSAGE_TAG` tagged `HUMAN_AGENT`, which Instagram takes too.
    async fn send(
        &self,
        account: &AccountRef,
        recipient_id: &str,
        message: &OutgoingMessage,
    ) -> Result<SentMessage, ConnectorError> {
        let (_, host, sender) = self.route(account)?;
        let url = format!("{host}/{GRAPH_VERSION}/{sender}/messages");
        let kind = messenger::SendKind::untyped(PLATFORM, message)?;
        messenger::send_text(&self.http, PLATFORM, &url, account, recipient_id, &kind).await
    }

    /// The User Profile API: `GET /{IGSID}?fields=name,username`; the name, else `@username`.
    /// Allowed once the person has messaged the account.
    async fn sender_name(&self, account: &AccountRef, sender_id: &str) -> Result<Option<String>, ConnectorError> {
        #[derive(Deserialize)]
        struct Profile {
            name: Option<String>,
            username: Option<String>,
        }
        let (token, host, _) = self.route(account)?;
        let url = format!("{host}/{GRAPH_VERSION}/{sender_id}");
        let profile: Profile = messenger::read_profile(&self.http, PLATFORM, &url, "name,username", token).await?;
        let name = profile.name.map(|name| name.trim().to_owned()).filter(|name| !name.is_empty());
        Ok(name.or_else(|| profile.username.filter(|u| !u.is_empty()).map(|u| format!("@{u}"))))
    }

    /// With an Instagram user token, the account itself subscribes (`POST /me/subscribed_apps`
    /// on graph.instagram.com, field `messages`). With a Page token the linked Page installs the
    /// app (`me` is the Page): Instagram messages of a Page's account are delivered to apps the
    /// Page has installed.
    async fn subscribe_webhooks(&self, account: &AccountRef) -> Result<WebhookSubscription, ConnectorError> {
        let (token, host, _) = self.route(account)?;
        let url = format!("{host}/{GRAPH_VERSION}/me/subscribed_apps");
        let fields =
            if uses_instagram_login(token) { INSTAGRAM_SUBSCRIBED_FIELDS } else { messenger::PAGE_SUBSCRIBED_FIELDS };
        crate::graph::subscribe_app(PLATFORM, &self.http, &url, Some(fields), token.expose_secret()).await?;
        Ok(WebhookSubscription::Subscribed)
    }

    async fn unsubscribe_webhooks(&self, account: &AccountRef) -> Result<(), ConnectorError> {
        let (token, host, _) = self.route(account)?;
        let url = format!("{host}/{GRAPH_VERSION}/me/subscribed_apps");
        crate::graph::unsubscribe_app(PLATFORM, &self.http, &url, token.expose_secret()).await
    }
}

/// Instagram user tokens (`IGAA…`, formerly `IGQV…`) work on graph.instagram.com; Page tokens do not.
fn uses_instagram_login(token: &SecretString) -> bool {
    token.expose_secret().starts_with("IG")
}

/// The Instagram webhook fields Tidings reads (echoes come with `messages` on Instagram).
const INSTAGRAM_SUBSCRIBED_FIELDS: &str = "messages,messaging_postbacks";
