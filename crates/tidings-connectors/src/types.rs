//! Domain types the connectors map platform payloads to.

use std::collections::BTreeMap;

use secrecy::SecretString;

use crate::Platform;

/// The account a call acts for: its platform id and decrypted credentials.
#[derive(Debug, Clone)]
pub struct AccountRef {
    /// The platform's id of the account, page, location or business
    /// (Google `accounts/{a}/locations/{l}`, a Yelp business id or alias, a Page id, a WhatsApp
    /// phone-number id, an X user id, a TripAdvisor location id, a DataForSEO keyword/place id).
    pub external_id: String,
    /// Credentials as stored for the connection (decrypted only for the call).
    pub credentials: Credentials,
}

/// Credentials of one connection. Which fields are used depends on the platform.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// OAuth access token, Page access token, WhatsApp system-user token, Yelp/TripAdvisor API key
    /// or X user access token.
    pub access_token: Option<SecretString>,
    /// OAuth refresh token, where the platform issues one.
    pub refresh_token: Option<SecretString>,
    /// When the access token expires (unix milliseconds), if known.
    pub expires_at_ms: Option<i64>,
    /// A second secret some platforms need (X access-token secret, DataForSEO password).
    pub secret: Option<SecretString>,
    /// A login some platforms need (DataForSEO login).
    pub login: Option<String>,
}

/// One page of fetched reviews.
#[derive(Debug, Clone, Default)]
pub struct ReviewPage {
    /// Reviews on this page, newest first where the platform orders them.
    pub reviews: Vec<FetchedReview>,
    /// Cursor for the next page, `None` when this was the last.
    pub next_cursor: Option<String>,
    /// What the call cost, in hundredths of a US cent (DataForSEO bills per task).
    pub cost_centi_cents: i64,
    /// A task still running at the platform (DataForSEO): poll again later with `next_cursor`.
    pub pending: bool,
}

/// A review as read from a platform.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedReview {
    /// The platform's id of the review, unique on that platform.
    pub external_id: String,
    /// The reviewer's display name.
    pub author_name: String,
    /// The reviewer's platform id, when the platform shares one.
    pub author_external_id: Option<String>,
    /// Star rating 1–5 (Facebook recommendations map to 5 / 1).
    pub rating: Option<u8>,
    /// Review title, where the platform has one (TripAdvisor).
    pub title: Option<String>,
    /// Review text (may be empty: a rating without comment).
    pub body: String,
    /// Language code the platform reports, if any.
    pub language: Option<String>,
    /// When the review was written (unix milliseconds).
    pub created_at_ms: i64,
    /// The owner's reply already on the platform, if any.
    pub reply: Option<FetchedReply>,
    /// Link to the review on the platform.
    pub url: Option<String>,
    /// The platform's JSON for this review, kept verbatim.
    pub raw: serde_json::Value,
}

/// An owner's reply read from a platform.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedReply {
    /// Reply text.
    pub body: String,
    /// When it was posted or last updated (unix milliseconds).
    pub updated_at_ms: i64,
}

/// What a platform answered to a posted reply.
#[derive(Debug, Clone, PartialEq)]
pub struct PostedReply {
    /// The platform's id of the reply, when it has one.
    pub external_id: Option<String>,
    /// When the platform recorded it (unix milliseconds).
    pub posted_at_ms: i64,
}

/// What a platform answered to a sent message.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    /// The platform's id of the sent message.
    pub external_id: String,
}

/// What a reply on a messaging channel sends. Meta's platforms take free text only within 24
/// hours of the customer's last message; after that each allows something narrower.
#[derive(Debug, Clone, PartialEq)]
pub enum OutgoingMessage {
    /// Free text in answer to the customer (Messenger `messaging_type: RESPONSE`).
    Text(String),
    /// Free text a person sends after the 24-hour window, tagged `HUMAN_AGENT` (Messenger and
    /// Instagram, within 7 days of the customer's message; the app needs Meta's Human Agent
    /// permission).
    HumanAgent(String),
    /// An approved WhatsApp message template (the only thing WhatsApp accepts outside 24 hours).
    Template(TemplateMessage),
}

/// An approved WhatsApp template and the values of its body's `{{1}}`, `{{2}}`… placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateMessage {
    /// The template's name, as approved in WhatsApp Manager.
    pub name: String,
    /// Its language code (`en_US`, `de`).
    pub language: String,
    /// The body parameters, in order.
    pub body_parameters: Vec<String>,
}

/// Whether a platform sends an account's events to our webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookSubscription {
    /// The account is subscribed: its events will be delivered.
    Subscribed,
    /// The platform needs no subscription call per account (or it is made outside Tidings).
    NotApplicable,
}

/// Request headers of a webhook delivery, lower-cased names.
#[derive(Debug, Clone, Default)]
pub struct WebhookHeaders(pub BTreeMap<String, String>);

impl WebhookHeaders {
    /// The value of a header, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// The body to answer a verification challenge with.
#[derive(Debug, Clone, PartialEq)]
pub struct ChallengeAnswer {
    /// Response content type (`text/plain` for Meta, `application/json` for X).
    pub content_type: &'static str,
    /// Response body.
    pub body: String,
}

/// One thing a webhook delivery told us.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundEvent {
    /// A message from a contact (or an echo of one the business sent elsewhere).
    Message(InboundMessage),
    /// A review or recommendation left on a Page (Facebook `feed`/`ratings` change).
    Review { account_id: String, review: FetchedReview },
    /// Something the platform reported that Tidings does not act on (read receipts, reactions…).
    Ignored { account_id: String, reason: String },
}

/// A message received on a messaging channel.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// The business account it was sent to (Page id, IG account id, phone-number id, X user id).
    pub account_id: String,
    /// The platform's id of the message, unique on that platform.
    pub external_id: String,
    /// The thread on the platform: the sender's id for 1:1 channels, a conversation id on X.
    pub thread_id: String,
    /// The sender's platform id.
    pub sender_id: String,
    /// The sender's name, when the platform includes it (WhatsApp contacts, X users).
    pub sender_name: Option<String>,
    /// The sender's phone number, when known (WhatsApp), used to merge contacts across platforms.
    pub sender_phone: Option<String>,
    /// Text of the message; attachments are described in brackets.
    pub text: String,
    /// When it was sent (unix milliseconds).
    pub sent_at_ms: i64,
    /// True when the business itself sent it (Messenger/IG echoes): recorded as outbound.
    pub is_echo: bool,
    /// The platform's JSON for this message, kept verbatim.
    pub raw: serde_json::Value,
}

impl InboundEvent {
    /// The business account the event belongs to.
    pub fn account_id(&self) -> &str {
        match self {
            InboundEvent::Message(m) => &m.account_id,
            InboundEvent::Review { account_id, .. } | InboundEvent::Ignored { account_id, .. } => account_id,
        }
    }
}

/// Static facts about a platform for display.
pub fn describe(platform: Platform) -> &'static str {
    match platform {
        Platform::Google => "Google Business Profile reviews: read, reply, delete reply (OAuth).",
        Platform::Yelp => "Yelp Fusion reviews: read only; replies are posted on Yelp for Business.",
        Platform::Facebook => "Facebook Page ratings and recommendations: read, reply as a comment.",
        Platform::Tripadvisor => "TripAdvisor Content API: read only; management responses are posted on TripAdvisor.",
        Platform::Dataforseo => "DataForSEO business reviews: scraped from Google, Trustpilot and others; read only.",
        Platform::Messenger => "Facebook Messenger: webhooks and the Send API.",
        Platform::Instagram => "Instagram messaging: webhooks and the Send API.",
        Platform::Whatsapp => "WhatsApp Business Cloud API: webhooks and messages.",
        Platform::X => "X direct messages: Account Activity webhooks and the DM API.",
    }
}
