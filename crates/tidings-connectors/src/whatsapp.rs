//! WhatsApp Business Cloud API: `messages` webhooks in, `POST /{phone-number-id}/messages` out.
//! Verification (hub challenge, `X-Hub-Signature-256`) and Graph errors are Meta's, shared with Messenger.
//!
//! Docs: <https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages>,
//! <https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages>,
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes>.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::messenger::{self, GRAPH_VERSION, Notification};
use crate::{
    AccountRef, ChallengeAnswer, ConnectorError, InboundEvent, InboundMessage, MessagingChannel, OutgoingMessage,
    Platform, SentMessage, WebhookError, WebhookHeaders, signature,
};

/// Where the Graph API (and with it the Cloud API) lives.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";

const PLATFORM: &str = "whatsapp";

/// WhatsApp conversations of the business phone numbers connected to one Meta app.
pub struct WhatsappChannel {
    base_url: String,
    http: reqwest::Client,
    /// Meta app secret: the key of `X-Hub-Signature-256`.
    app_secret: SecretString,
    /// Our `hub.verify_token`, entered in the app dashboard when subscribing.
    verify_token: SecretString,
    /// Deliveries whose events are older (or further ahead) than this are refused; 0 disables.
    max_age_ms: i64,
}

impl WhatsappChannel {
    /// A channel calling the Cloud API at `base_url` (normally [`DEFAULT_BASE_URL`]).
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
        let notification: Notification<Entry> =
            serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        if notification.object != "whatsapp_business_account" {
            let got = notification.object;
            return Err(WebhookError::Malformed(format!("object is {got:?}, expected \"whatsapp_business_account\"")));
        }
        let mut events = Vec::new();
        for entry in notification.entry {
            for change in entry.changes {
                if change.field != "messages" {
                    // Template reviews, quality and account updates: not conversations.
                    let reason = format!("{} change", change.field);
                    events.push(InboundEvent::Ignored { account_id: entry.id.clone(), reason });
                    continue;
                }
                let value: MessagesValue =
                    serde_json::from_value(change.value).map_err(|e| WebhookError::Malformed(e.to_string()))?;
                self.messages_value(value, now_ms, &mut events)?;
            }
        }
        Ok(events)
    }

    fn messages_value(
        &self,
        value: MessagesValue,
        now_ms: i64,
        events: &mut Vec<InboundEvent>,
    ) -> Result<(), WebhookError> {
        let account_id = value.metadata.phone_number_id;
        for status in value.statuses {
            signature::check_freshness(unix_secs_ms(&status.timestamp)?, now_ms, self.max_age_ms)?;
            let reason = format!("status {} of {}", status.status, status.id);
            events.push(InboundEvent::Ignored { account_id: account_id.clone(), reason });
        }
        for raw in value.messages {
            let message: WaMessage =
                serde_json::from_value(raw.clone()).map_err(|e| WebhookError::Malformed(e.to_string()))?;
            let sent_at_ms = unix_secs_ms(&message.timestamp)?;
            signature::check_freshness(sent_at_ms, now_ms, self.max_age_ms)?;
            let Some(text) = message_text(&message, &raw) else {
                let reason = format!("{} message {}", message.kind, message.id);
                events.push(InboundEvent::Ignored { account_id: account_id.clone(), reason });
                continue;
            };
            let sender_name =
                value.contacts.iter().find(|c| c.wa_id == message.from).and_then(|c| c.profile.name.clone());
            events.push(InboundEvent::Message(InboundMessage {
                account_id: account_id.clone(),
                external_id: message.id,
                thread_id: message.from.clone(),
                // A wa_id is the sender's number in international format without the plus.
                sender_phone: Some(format!("+{}", message.from)),
                sender_id: message.from,
                sender_name,
                text,
                sent_at_ms,
                is_echo: false,
                raw,
            }));
        }
        Ok(())
    }
}

#[async_trait]
impl MessagingChannel for WhatsappChannel {
    fn platform(&self) -> Platform {
        Platform::Whatsapp
    }

    fn answer_challenge(&self, query: &[(String, String)]) -> Result<ChallengeAnswer, WebhookError> {
        signature::answer_hub_challenge(self.verify_token.expose_secret().as_bytes(), query)
    }

    fn verify_signature(&self, headers: &WebhookHeaders, body: &[u8]) -> Result<(), WebhookError> {
        messenger::verify_meta_signature(&self.app_secret, Platform::Whatsapp, headers, body)
    }

    fn parse_webhook(&self, body: &[u8], now_ms: i64) -> Result<Vec<InboundEvent>, WebhookError> {
        self.parse_webhook_at(body, now_ms)
    }

    /// Sends a free-form text. Outside the 24-hour window WhatsApp answers 131047, mapped to
    /// `Rejected` saying a template message is required.
    async fn send_message(
        &self,
        account: &AccountRef,
        recipient_id: &str,
        text: &str,
    ) -> Result<SentMessage, ConnectorError> {
        self.send(account, recipient_id, &OutgoingMessage::Text(text.to_owned())).await
    }

    /// Free text (`type: text`) or an approved template (`type: template`, its body parameters
    /// as `text` parameters). Message tags are Messenger's and Instagram's, not WhatsApp's.
    /// Docs: <https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates>.
    async fn send(
        &self,
        account: &AccountRef,
        recipient_id: &str,
        message: &OutgoingMessage,
    ) -> Result<SentMessage, ConnectorError> {
        #[derive(Serialize)]
        struct Body<'a> {
            messaging_product: &'static str,
            recipient_type: &'static str,
            to: &'a str,
            #[serde(flatten)]
            content: Content<'a>,
        }
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "lowercase")]
        enum Content<'a> {
            Text { text: TextOut<'a> },
            Template { template: TemplateOut<'a> },
        }
        #[derive(Serialize)]
        struct TextOut<'a> {
            preview_url: bool,
            body: &'a str,
        }
        #[derive(Serialize)]
        struct TemplateOut<'a> {
            name: &'a str,
            language: Language<'a>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            components: Vec<Component<'a>>,
        }
        #[derive(Serialize)]
        struct Language<'a> {
            code: &'a str,
        }
        #[derive(Serialize)]
        struct Component<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            parameters: Vec<Parameter<'a>>,
        }
        #[derive(Serialize)]
        struct Parameter<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            text: &'a str,
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            messages: Vec<SentId>,
        }
        #[derive(Deserialize)]
        struct SentId {
            id: String,
        }

        let content = match message {
            OutgoingMessage::Text(text) => Content::Text { text: TextOut { preview_url: false, body: text } },
            OutgoingMessage::Template(template) => {
                let parameters: Vec<Parameter<'_>> =
                    template.body_parameters.iter().map(|text| Parameter { kind: "text", text }).collect();
                let components =
                    if parameters.is_empty() { Vec::new() } else { vec![Component { kind: "body", parameters }] };
                Content::Template {
                    template: TemplateOut {
                        name: &template.name,
                        language: Language { code: &template.language },
                        components,
                    },
                }
            }
            OutgoingMessage::HumanAgent(_) => {
                return Err(ConnectorError::Rejected {
                    platform: PLATFORM,
                    status: 422,
                    message: "WhatsApp has no message tags: outside 24 hours only an approved template can be sent"
                        .into(),
                });
            }
        };
        let token = messenger::access_token(account, PLATFORM)?;
        let url = format!("{}/{GRAPH_VERSION}/{}/messages", self.base_url, account.external_id);
        let body = Body { messaging_product: "whatsapp", recipient_type: "individual", to: recipient_id, content };
        let request = self.http.post(url).bearer_auth(token.expose_secret()).json(&body);
        let answer: Answer = crate::graph::send(PLATFORM, request).await?;
        let sent = answer.messages.into_iter().next();
        let sent = sent.ok_or(ConnectorError::Malformed { platform: PLATFORM, message: "no message id".into() })?;
        Ok(SentMessage { external_id: sent.id })
    }
}

/// WhatsApp sends unix seconds as a string.
fn unix_secs_ms(timestamp: &str) -> Result<i64, WebhookError> {
    let secs: i64 = timestamp.parse().map_err(|_| WebhookError::Malformed(format!("bad timestamp {timestamp:?}")))?;
    Ok(secs.saturating_mul(1000))
}

/// What a message says, with non-text types described in brackets; `None` for kinds that are
/// not something the person said (reactions, system notices).
fn message_text(message: &WaMessage, raw: &Value) -> Option<String> {
    let kind = message.kind.as_str();
    let text = match kind {
        "text" => message.text.as_ref().map(|t| t.body.clone()).unwrap_or_default(),
        "image" | "video" | "audio" | "document" | "sticker" => {
            // Media arrive as ids to download, not URLs; the caption or file name is what a reader needs.
            let media = raw.get(kind);
            let field = |name: &str| media.and_then(|m| m.get(name)).and_then(Value::as_str);
            let detail: Vec<&str> = [field("filename"), field("caption")].into_iter().flatten().collect();
            bracketed(kind, &detail.join(" — "))
        }
        "location" => {
            let l = message.location.as_ref()?;
            let place: Vec<&str> = [l.name.as_deref(), l.address.as_deref()].into_iter().flatten().collect();
            bracketed("location", format!("{} ({}, {})", place.join(", "), l.latitude, l.longitude).trim_start())
        }
        "button" => message.button.as_ref().map(|b| b.text.clone()).unwrap_or_default(),
        "interactive" => {
            let i = message.interactive.as_ref()?;
            let reply = i.button_reply.as_ref().or(i.list_reply.as_ref());
            reply.map_or_else(|| "[form reply]".to_owned(), |r| r.title.clone())
        }
        "contacts" => {
            let names = raw.get("contacts").and_then(Value::as_array).into_iter().flatten();
            let names: Vec<&str> =
                names.filter_map(|c| c.pointer("/name/formatted_name").and_then(Value::as_str)).collect();
            bracketed("contact", &names.join(", "))
        }
        "reaction" | "system" => return None,
        other => format!("[{other}]"),
    };
    Some(text)
}

fn bracketed(kind: &str, detail: &str) -> String {
    if detail.is_empty() { format!("[{kind}]") } else { format!("[{kind}] {detail}") }
}

#[derive(Deserialize)]
struct Entry {
    /// The WhatsApp Business Account id.
    id: String,
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
struct MessagesValue {
    metadata: Metadata,
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default)]
    statuses: Vec<Status>,
}

#[derive(Deserialize)]
struct Metadata {
    phone_number_id: String,
}

#[derive(Deserialize)]
struct Contact {
    wa_id: String,
    #[serde(default)]
    profile: Profile,
}

#[derive(Deserialize, Default)]
struct Profile {
    name: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    id: String,
    status: String,
    timestamp: String,
}

#[derive(Deserialize)]
struct WaMessage {
    from: String,
    id: String,
    timestamp: String,
    #[serde(rename = "type")]
    kind: String,
    text: Option<TextIn>,
    location: Option<Location>,
    button: Option<Button>,
    interactive: Option<Interactive>,
}

#[derive(Deserialize)]
struct TextIn {
    body: String,
}

#[derive(Deserialize)]
struct Location {
    latitude: f64,
    longitude: f64,
    name: Option<String>,
    address: Option<String>,
}

#[derive(Deserialize)]
struct Button {
    text: String,
}

#[derive(Deserialize)]
struct Interactive {
    button_reply: Option<Reply>,
    list_reply: Option<Reply>,
}

#[derive(Deserialize)]
struct Reply {
    title: String,
}
