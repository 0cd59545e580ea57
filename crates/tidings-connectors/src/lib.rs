//! Clients for the platforms Tidings reads reviews from and answers messages on.
//!
//! Each platform is one module holding its wire types (mirroring the platform's JSON exactly) and
//! a client behind one of two small traits: [`ReviewSource`] for platforms polled for reviews,
//! [`MessagingChannel`] for platforms that push messages by webhook. Wire types are mapped to the
//! domain types of this module at the boundary and nowhere else. Base URLs are configurable so
//! tests point every client at a local mock server.
//!
//! The automations' clients live here too: [`pipedrive`] (a CRM whose deal webhooks start
//! rules), [`notify`] (destinations behind [`notify::Notifier`]), [`crm`] (pushes behind
//! [`crm::CrmPush`]), with [`standard_webhooks`] signing and the [`ssrf`] guard for URLs users
//! type in. [`llm`] is the reply-generation agent's chat model (any OpenAI-compatible
//! endpoint).

pub mod crm;
pub mod error;
mod graph;
pub mod http;
pub mod llm;
pub mod money;
pub mod notify;
pub mod oauth;
pub mod oauth1;
pub mod platform;
pub mod signature;
pub mod ssrf;
pub mod standard_webhooks;
pub mod types;

pub mod dataforseo;
pub mod facebook;
pub mod google;
pub mod instagram;
pub mod messenger;
pub mod pipedrive;
pub mod tripadvisor;
pub mod whatsapp;
pub mod x;
pub mod yelp;

pub use error::{ConnectorError, WebhookError};
pub use platform::{MessagingWindow, Platform, ReplySupport};
pub use types::*;

use async_trait::async_trait;

/// A platform Tidings polls for reviews: fetch what is new since a cursor, post a reply.
#[async_trait]
pub trait ReviewSource: Send + Sync {
    /// The platform this client speaks to.
    fn platform(&self) -> Platform;

    /// One page of reviews for `account`, starting after `cursor` (`None`: from the newest).
    /// The returned `next_cursor` is stored and passed back on the next call.
    async fn fetch_reviews(&self, account: &AccountRef, cursor: Option<&str>) -> Result<ReviewPage, ConnectorError>;

    /// Posts (or replaces) the owner's public reply to a review. Platforms whose API does not
    /// allow replies answer [`ConnectorError::ReplyNotSupported`] with a deep link for posting by hand.
    async fn post_reply(
        &self,
        account: &AccountRef,
        review_id: &str,
        text: &str,
    ) -> Result<PostedReply, ConnectorError>;

    /// Deletes the owner's reply to a review.
    async fn delete_reply(&self, account: &AccountRef, review_id: &str) -> Result<(), ConnectorError>;
}

/// A platform that pushes messages to Tidings by webhook and takes replies through its send API.
#[async_trait]
pub trait MessagingChannel: Send + Sync {
    /// The platform this client speaks to.
    fn platform(&self) -> Platform;

    /// Answers the platform's `GET` verification challenge (Meta `hub.challenge`, X CRC).
    fn answer_challenge(&self, query: &[(String, String)]) -> Result<ChallengeAnswer, WebhookError>;

    /// Checks the delivery's signature over the exact body bytes, in constant time.
    fn verify_signature(&self, headers: &WebhookHeaders, body: &[u8]) -> Result<(), WebhookError>;

    /// Parses a verified delivery into events, each naming the account it was sent to. Events
    /// older than the channel's maximum age at `now_ms` are refused as stale: intake passes the
    /// current time; processing later passes the time the delivery was received.
    fn parse_webhook(&self, body: &[u8], now_ms: i64) -> Result<Vec<InboundEvent>, WebhookError>;

    /// Sends a message to a contact on behalf of `account`.
    async fn send_message(
        &self,
        account: &AccountRef,
        recipient_id: &str,
        text: &str,
    ) -> Result<SentMessage, ConnectorError>;

    /// Sends a reply of a kind the platform's messaging window allows. Free text goes through
    /// [`MessagingChannel::send_message`]; channels that take tagged messages or templates
    /// override this, the others refuse them.
    async fn send(
        &self,
        account: &AccountRef,
        recipient_id: &str,
        message: &OutgoingMessage,
    ) -> Result<SentMessage, ConnectorError> {
        match message {
            OutgoingMessage::Text(text) => self.send_message(account, recipient_id, text).await,
            OutgoingMessage::HumanAgent(_) | OutgoingMessage::Template(_) => Err(ConnectorError::Rejected {
                platform: self.platform().as_str(),
                status: 422,
                message: "this platform takes neither message tags nor templates".into(),
            }),
        }
    }

    /// The name a sender shows on the platform, looked up by their platform id, for platforms
    /// whose webhooks carry only the id (Messenger, Instagram). `None` when the platform has no
    /// such lookup (WhatsApp and X send the name with each message) or the person set none.
    async fn sender_name(&self, _account: &AccountRef, _sender_id: &str) -> Result<Option<String>, ConnectorError> {
        Ok(None)
    }

    /// Makes the platform send `account`'s events to this app's webhook (Meta: the Page installs
    /// the app through `subscribed_apps`). Idempotent. [`WebhookSubscription::NotApplicable`]
    /// where the platform needs no call per account, or Tidings cannot make it.
    async fn subscribe_webhooks(&self, _account: &AccountRef) -> Result<WebhookSubscription, ConnectorError> {
        Ok(WebhookSubscription::NotApplicable)
    }

    /// Stops the platform sending `account`'s events to this app's webhook.
    async fn unsubscribe_webhooks(&self, _account: &AccountRef) -> Result<(), ConnectorError> {
        Ok(())
    }
}
