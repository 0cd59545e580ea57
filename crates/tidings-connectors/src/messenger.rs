//! Facebook Messenger: Page webhooks in, the Send API out.
//!
//! This module also holds what the Meta channels share, written once: the `entry[].messaging[]`
//! parser Instagram reuses, the signature check and Graph error mapping WhatsApp reuses.
//!
//! Docs: <https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/messages>,
//! <https://developers.facebook.com/docs/messenger-platform/reference/send-api>,
//! <https://developers.facebook.com/docs/graph-api/guides/error-handling>.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::signature::{self, HUB_SIGNATURE_HEADER};
use crate::{
    AccountRef, ChallengeAnswer, ConnectorError, FetchedReview, InboundEvent, InboundMessage, MessagingChannel,
    OutgoingMessage, Platform, SentMessage, WebhookError, WebhookHeaders, WebhookSubscription,
};

/// Where the Graph API lives.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
/// The Graph API version every Meta call is pinned to, so a platform default change cannot
/// silently change a payload under us.
pub const GRAPH_VERSION: &str = "v21.0";

const PLATFORM: &str = "messenger";

/// Messenger conversations of the Pages connected to one Meta app.
pub struct MessengerChannel {
    base_url: String,
    http: reqwest::Client,
    /// Meta app secret: the key of `X-Hub-Signature-256`.
    app_secret: SecretString,
    /// Our `hub.verify_token`, entered in the app dashboard when subscribing.
    verify_token: SecretString,
    /// Deliveries whose events are older (or further ahead) than this are refused; 0 disables.
    max_age_ms: i64,
}

impl MessengerChannel {
    /// A channel calling the Graph API at `base_url` (normally [`DEFAULT_BASE_URL`]).
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
        parse_messaging(body, "page", now_ms, self.max_age_ms)
    }
}

#[async_trait]
impl MessagingChannel for MessengerChannel {
    fn platform(&self) -> Platform {
        Platform::Messenger
    }

    fn answer_challenge(&self, query: &[(String, String)]) -> Result<ChallengeAnswer, WebhookError> {
        signature::answer_hub_challenge(self.verify_token.expose_secret().as_bytes(), query)
    }

    fn verify_signature(&self, headers: &WebhookHeaders, body: &[u8]) -> Result<(), WebhookError> {
        verify_meta_signature(&self.app_secret, Platform::Messenger, headers, body)
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

    /// Free text as a `RESPONSE`, or after 24 hours as a `MESSAGE_TAG` tagged `HUMAN_AGENT`.
    async fn send(
        &self,
        account: &AccountRef,
        recipient_id: &str,
        message: &OutgoingMessage,
    ) -> Result<SentMessage, ConnectorError> {
        // The Page id in the path (rather than `me`) makes a token for the wrong Page fail loudly.
        let url = format!("{}/{GRAPH_VERSION}/{}/messages", self.base_url, account.external_id);
        send_text(&self.http, PLATFORM, &url, account, recipient_id, &SendKind::of(PLATFORM, message)?).await
    }

    /// The User Profile API: `GET /{PSID}?fields=first_name,last_name` with the Page token.
    /// Allowed once the person has messaged the Page.
    async fn sender_name(&self, account: &AccountRef, sender_id: &str) -> Result<Option<String>, ConnectorError> {
        #[derive(Deserialize)]
        struct Profile {
            first_name: Option<String>,
            last_name: Option<String>,
        }
        let token = access_token(account, PLATFORM)?;
        let url = format!("{}/{GRAPH_VERSION}/{sender_id}", self.base_url);
        let profile: Profile = read_profile(&self.http, PLATFORM, &url, "first_name,last_name", token).await?;
        let name = [profile.first_name, profile.last_name].into_iter().flatten().collect::<Vec<_>>().join(" ");
        Ok(Some(name.trim().to_owned()).filter(|name| !name.is_empty()))
    }

    /// Installs the app on the Page with its Page token, so Messenger messages and Page
    /// ratings reach the webhook (the Facebook reviews connection of a Page shares this).
    async fn subscribe_webhooks(&self, account: &AccountRef) -> Result<WebhookSubscription, ConnectorError> {
        let token = access_token(account, PLATFORM)?;
        let url = self.subscribed_apps_url(&account.external_id);
        let fields = Some(PAGE_SUBSCRIBED_FIELDS);
        crate::graph::subscribe_app(PLATFORM, &self.http, &url, fields, token.expose_secret()).await?;
        Ok(WebhookSubscription::Subscribed)
    }

    async fn unsubscribe_webhooks(&self, account: &AccountRef) -> Result<(), ConnectorError> {
        let token = access_token(account, PLATFORM)?;
        let url = self.subscribed_apps_url(&account.external_id);
        crate::graph::unsubscribe_app(PLATFORM, &self.http, &url, token.expose_secret()).await
    }
}

impl MessengerChannel {
    fn subscribed_apps_url(&self, page_id: &str) -> String {
        format!("{}/{GRAPH_VERSION}/{page_id}/subscribed_apps", self.base_url)
    }
}

/// The Page webhook fields Tidings reads: messages and their echoes, postbacks (buttons, ice
/// breakers), the feed and ratings (reviews).
pub const PAGE_SUBSCRIBED_FIELDS: &str = "messages,messaging_postbacks,message_echoes,feed,ratings";

// ---------------------------------------------------------------------------------------------
// Shared by the Meta channels.
// ---------------------------------------------------------------------------------------------

/// Checks `X-Hub-Signature-256`; without an app secret nothing can be verified, so refuse.
pub(crate) fn verify_meta_signature(
    app_secret: &SecretString,
    platform: Platform,
    headers: &WebhookHeaders,
    body: &[u8],
) -> Result<(), WebhookError> {
    let secret = app_secret.expose_secret().as_bytes();
    if secret.is_empty() {
        return Err(WebhookError::NotConfigured(platform.label()));
    }
    signature::verify_hub_signature(secret, headers.get(HUB_SIGNATURE_HEADER), body)
}

/// How a Messenger-style text is sent: its `messaging_type` (and `tag`) and the text.
pub(crate) struct SendKind<'a> {
    messaging_type: Option<&'static str>,
    tag: Option<&'static str>,
    text: &'a str,
}

impl<'a> SendKind<'a> {
    /// Messenger's: every text names its `messaging_type`.
    fn of(platform: &'static str, message: &'a OutgoingMessage) -> Result<Self, ConnectorError> {
        match message {
            OutgoingMessage::Text(text) => Ok(Self { messaging_type: Some("RESPONSE"), tag: None, text }),
            other => Self::tagged(platform, other),
        }
    }

    /// Instagram's: a reply inside the window has no `messaging_type` in Meta's documented body.
    pub(crate) fn untyped(platform: &'static str, message: &'a OutgoingMessage) -> Result<Self, ConnectorError> {
        match message {
            OutgoingMessage::Text(text) => Ok(Self { messaging_type: None, tag: None, text }),
            other => Self::tagged(platform, other),
        }
    }

    fn tagged(platform: &'static str, message: &'a OutgoingMessage) -> Result<Self, ConnectorError> {
        match message {
            OutgoingMessage::HumanAgent(text) | OutgoingMessage::Text(text) => {
                Ok(Self { messaging_type: Some("MESSAGE_TAG"), tag: Some("HUMAN_AGENT"), text })
            }
            OutgoingMessage::Template(_) => Err(ConnectorError::Rejected {
                platform,
                status: 422,
                message: "message templates are WhatsApp's; send text or a HUMAN_AGENT message".into(),
            }),
        }
    }
}

/// Sends a text with the Messenger-style body
/// `{"recipient":{"id"},"messaging_type","tag","message":{"text"}}` (Messenger and Instagram
/// share it) and reads `{"recipient_id","message_id"}`.
/// Docs: <https://developers.facebook.com/docs/messenger-platform/send-messages/message-tags/>.
pub(crate) async fn send_text(
    http: &reqwest::Client,
    platform: &'static str,
    url: &str,
    account: &AccountRef,
    recipient_id: &str,
    kind: &SendKind<'_>,
) -> Result<SentMessage, ConnectorError> {
    #[derive(Serialize)]
    struct Body<'a> {
        recipient: Recipient<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        messaging_type: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tag: Option<&'a str>,
        message: Text<'a>,
    }
    #[derive(Serialize)]
    struct Recipient<'a> {
        id: &'a str,
    }
    #[derive(Serialize)]
    struct Text<'a> {
        text: &'a str,
    }
    #[derive(Deserialize)]
    struct Answer {
        message_id: String,
    }

    let token = access_token(account, platform)?;
    let body = Body {
        recipient: Recipient { id: recipient_id },
        messaging_type: kind.messaging_type,
        tag: kind.tag,
        message: Text { text: kind.text },
    };
    let answer: Answer =
        crate::graph::send(platform, http.post(url).bearer_auth(token.expose_secret()).json(&body)).await?;
    Ok(SentMessage { external_id: answer.message_id })
}

/// Reads a person's profile `fields` from a User Profile API `url` (Messenger and Instagram).
pub(crate) async fn read_profile<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    platform: &'static str,
    url: &str,
    fields: &str,
    token: &SecretString,
) -> Result<T, ConnectorError> {
    let request = http.get(url).query(&[("fields", fields)]).bearer_auth(token.expose_secret());
    crate::graph::send(platform, request).await
}

/// The connection's access token (Page token, Instagram user token, WhatsApp system-user token).
pub(crate) fn access_token<'a>(
    account: &'a AccountRef,
    platform: &'static str,
) -> Result<&'a SecretString, ConnectorError> {
    account
        .credentials
        .access_token
        .as_ref()
        .ok_or(ConnectorError::MissingCredential { platform, what: "access token" })
}

/// A unix time that some Meta payloads send in seconds and others in milliseconds (the Messenger
/// postback and Page `ratings` examples use seconds), as milliseconds.
pub(crate) fn unix_ms(value: i64) -> i64 {
    // 1e11 ms is 1973 and 1e11 s is the year 5138: no real timestamp is ambiguous.
    if value.abs() < 100_000_000_000 { value.saturating_mul(1000) } else { value }
}

/// The channel whose events a Meta notification carries, read from its `object`: `page`
/// (Messenger conversations; Page `changes` such as ratings are routed to Facebook when
/// processed), `instagram` or `whatsapp_business_account`. A Meta app sends every event of an
/// object to the one callback URL registered for it, so the object, not the URL, decides.
///
/// Docs: <https://developers.facebook.com/docs/graph-api/webhooks/getting-started#configure-webhooks-product>.
pub fn meta_object_platform(body: &[u8]) -> Result<Platform, WebhookError> {
    #[derive(Deserialize)]
    struct Object {
        object: String,
    }
    let Object { object } = serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    match object.as_str() {
        "page" => Ok(Platform::Messenger),
        "instagram" => Ok(Platform::Instagram),
        "whatsapp_business_account" => Ok(Platform::Whatsapp),
        other => Err(WebhookError::Malformed(format!(
            "object {other:?} is not one Tidings subscribes to (page, instagram, whatsapp_business_account)"
        ))),
    }
}

/// A Meta webhook notification: `{"object": …, "entry": [...]}`.
#[derive(Deserialize)]
pub(crate) struct Notification<E> {
    pub(crate) object: String,
    #[serde(default = "Vec::new")]
    pub(crate) entry: Vec<E>,
}

/// Parses a notification with `entry[].messaging[]` (Messenger: `object` "page", Instagram:
/// "instagram"), refusing the whole delivery if any event is outside the freshness window.
pub(crate) fn parse_messaging(
    body: &[u8],
    object: &str,
    now_ms: i64,
    max_age_ms: i64,
) -> Result<Vec<InboundEvent>, WebhookError> {
    let notification: Notification<Entry> =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    if notification.object != object {
        let got = notification.object;
        return Err(WebhookError::Malformed(format!("object is {got:?}, expected {object:?}")));
    }
    let mut events = Vec::new();
    for entry in notification.entry {
        // `standby` carries the same events while another app controls the thread (handover
        // protocol); the conversation still belongs in the inbox.
        for raw in entry.messaging.iter().chain(&entry.standby) {
            let event: MessagingEvent =
                serde_json::from_value(raw.clone()).map_err(|e| WebhookError::Malformed(e.to_string()))?;
            if let Some(ts) = event.timestamp {
                signature::check_freshness(unix_ms(ts), now_ms, max_age_ms)?;
            }
            events.push(messaging_event(&entry, event, raw, now_ms));
        }
        for change in &entry.changes {
            events.push(page_change(&entry.id, change, now_ms, max_age_ms)?);
        }
    }
    Ok(events)
}

#[derive(Deserialize)]
struct Entry {
    id: String,
    time: Option<i64>,
    #[serde(default)]
    messaging: Vec<Value>,
    #[serde(default)]
    standby: Vec<Value>,
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    field: String,
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize)]
struct MessagingEvent {
    #[serde(default)]
    sender: Party,
    #[serde(default)]
    recipient: Party,
    timestamp: Option<i64>,
    message: Option<Message>,
    postback: Option<Postback>,
}

#[derive(Deserialize, Default)]
struct Party {
    id: Option<String>,
    /// Chat-plugin visitors are identified by a `user_ref` instead of a PSID.
    user_ref: Option<String>,
}

impl Party {
    fn id(&self) -> String {
        self.id.clone().or_else(|| self.user_ref.clone()).unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct Message {
    mid: String,
    text: Option<String>,
    #[serde(default)]
    attachments: Vec<Attachment>,
    #[serde(default)]
    is_echo: bool,
    #[serde(default)]
    is_deleted: bool,
}

#[derive(Deserialize)]
struct Attachment {
    #[serde(rename = "type")]
    kind: String,
    payload: Option<AttachmentPayload>,
    /// Fallback (shared link) attachments put the link here rather than in the payload.
    url: Option<String>,
}

#[derive(Deserialize)]
struct AttachmentPayload {
    url: Option<String>,
}

#[derive(Deserialize)]
struct Postback {
    mid: Option<String>,
    title: Option<String>,
    payload: Option<String>,
}

/// One `messaging[]` event. Postbacks (a tapped button or ice breaker) become messages whose
/// text is the button title: the person chose to say that, and the reply belongs in the thread.
fn messaging_event(entry: &Entry, event: MessagingEvent, raw: &Value, now_ms: i64) -> InboundEvent {
    let account_id = entry.id.clone();
    let sent_at_ms = event.timestamp.or(entry.time).map(unix_ms).unwrap_or(now_ms);
    let (sender_id, recipient_id) = (event.sender.id(), event.recipient.id());
    let (external_id, text, is_echo) = match (event.message, event.postback) {
        (Some(message), _) if message.is_deleted => {
            return InboundEvent::Ignored { account_id, reason: format!("message {} deleted", message.mid) };
        }
        (Some(message), _) => (message.mid.clone(), message_text(&message), message.is_echo),
        (None, Some(postback)) => {
            let id = postback.mid.unwrap_or_else(|| format!("postback:{sender_id}:{sent_at_ms}"));
            let title = postback.title.or(postback.payload).unwrap_or_default();
            (id, title, false)
        }
        (None, None) => return InboundEvent::Ignored { account_id, reason: event_kind(raw) },
    };
    // An echo is the business's own message (sent from the Page inbox or another app): the
    // thread is the person it went to.
    let thread_id = if is_echo { recipient_id } else { sender_id.clone() };
    InboundEvent::Message(InboundMessage {
        account_id,
        external_id,
        thread_id,
        sender_id,
        sender_name: None,
        sender_phone: None,
        text,
        sent_at_ms,
        is_echo,
        raw: raw.clone(),
    })
}

/// The text plus one bracketed line per attachment, e.g. `[image] https://…`.
fn message_text(message: &Message) -> String {
    let mut lines: Vec<String> = message.text.iter().filter(|t| !t.is_empty()).cloned().collect();
    for attachment in &message.attachments {
        let url = attachment.payload.as_ref().and_then(|p| p.url.clone()).or_else(|| attachment.url.clone());
        lines.push(match url {
            Some(url) => format!("[{}] {url}", attachment.kind),
            None => format!("[{}]", attachment.kind),
        });
    }
    if lines.is_empty() {
        // Instagram flags stickers, GIFs and some shares as `is_unsupported` with nothing else to show.
        return "[unsupported message]".to_owned();
    }
    lines.join("\n")
}

/// Names an event Tidings does not act on by its payload key (`delivery`, `read`, `reaction`…).
fn event_kind(raw: &Value) -> String {
    let kind = raw
        .as_object()
        .and_then(|fields| fields.keys().find(|k| !matches!(k.as_str(), "sender" | "recipient" | "timestamp")))
        .map_or("unknown", String::as_str);
    format!("{kind} event")
}

/// A Page `changes[]` item. A new or edited rating/recommendation (field `ratings`) becomes a
/// review; everything else (feed posts, comments…) is not a conversation and is ignored.
fn page_change(page_id: &str, change: &Change, now_ms: i64, max_age_ms: i64) -> Result<InboundEvent, WebhookError> {
    let ignored = |reason: String| Ok(InboundEvent::Ignored { account_id: page_id.to_owned(), reason });
    if change.field != "ratings" {
        return ignored(format!("{} change", change.field));
    }
    let value: RatingValue =
        serde_json::from_value(change.value.clone()).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    if !matches!(value.item.as_str(), "rating" | "review") || !matches!(value.verb.as_str(), "add" | "edit" | "edited")
    {
        return ignored(format!("{} {} on ratings", value.item, value.verb));
    }
    let Some(external_id) = value.open_graph_story_id else {
        return ignored("rating without open_graph_story_id".into());
    };
    let created_at_ms = value.created_time.map(unix_ms).unwrap_or(now_ms);
    signature::check_freshness(created_at_ms, now_ms, max_age_ms)?;
    let rating = value.rating.or(match value.recommendation_type.as_deref() {
        Some("positive") => Some(5),
        Some("negative") => Some(1),
        _ => None,
    });
    let review = FetchedReview {
        url: Some(format!("https://www.facebook.com/{external_id}")),
        external_id,
        author_name: value.reviewer_name.unwrap_or_default(),
        author_external_id: value.reviewer_id,
        rating,
        title: None,
        body: value.review_text.unwrap_or_default(),
        language: None,
        created_at_ms,
        reply: None,
        raw: change.value.clone(),
    };
    Ok(InboundEvent::Review { account_id: page_id.to_owned(), review })
}

/// `value` of a Page `ratings` change.
#[derive(Deserialize)]
struct RatingValue {
    #[serde(default)]
    item: String,
    #[serde(default)]
    verb: String,
    #[serde(default, deserialize_with = "lenient_id")]
    reviewer_id: Option<String>,
    reviewer_name: Option<String>,
    rating: Option<u8>,
    review_text: Option<String>,
    recommendation_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_id")]
    open_graph_story_id: Option<String>,
    created_time: Option<i64>,
}

/// An id sent as a string or, in some Page webhook payloads, as a bare number.
fn lenient_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}
