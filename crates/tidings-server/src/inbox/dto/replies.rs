//! What a reply asks for: a review's answer, or a thread message with its Meta tag or WhatsApp
//! template, and the messaging window that decides which of them a thread takes now.

use serde::{Deserialize, Serialize};
use tidings_connectors::TemplateMessage;
use tidings_core::time::to_rfc3339;
use utoipa::ToSchema;

use crate::http::ApiError;
use crate::inbox::model::ReplyKind;
use crate::inbox::window::{SendAs, Window};

/// A reply to a review.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RespondIn {
    /// The reply, at most 4,000 characters.
    pub response_text: String,
    /// Post it to the platform (default), or keep it as a draft. Platforms whose API takes no
    /// replies (Yelp, TripAdvisor) answer `manual_required` with a `deepLink` either way.
    #[serde(default = "yes")]
    pub post_to_platform: bool,
}

fn yes() -> bool {
    true
}

/// A message to send in a thread. Messenger, Instagram and WhatsApp take free text only within
/// 24 hours of the customer's last message (see the conversation's `messagingWindow`); after
/// that, Messenger and Instagram take text tagged `HUMAN_AGENT` for 7 days and WhatsApp only an
/// approved template. A reply the window does not allow is refused with 422
/// `messaging_window_closed` and nothing is stored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageIn {
    /// The message, at most 4,000 characters; omitted (or empty) with a `template`.
    #[serde(default)]
    pub text: String,
    /// `HUMAN_AGENT`: a person's reply after the 24-hour window, within 7 days (Messenger and
    /// Instagram; the Meta app needs the Human Agent permission).
    pub tag: Option<MessageTag>,
    /// An approved WhatsApp message template, sent instead of text.
    pub template: Option<TemplateIn>,
}

/// A Meta message tag Tidings sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum MessageTag {
    /// A person answering after the 24-hour window, within 7 days of the customer's message.
    #[serde(rename = "HUMAN_AGENT")]
    HumanAgent,
}

/// An approved WhatsApp template and its body's values.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateIn {
    /// The template's name as approved in WhatsApp Manager (`order_ready`).
    pub name: String,
    /// Its language code (`en_US`, `de`).
    pub language: String,
    /// The values of the body's `{{1}}`, `{{2}}`… in order.
    #[serde(default)]
    pub body_parameters: Vec<String>,
}

impl MessageIn {
    /// How the message asks to be sent; a tag and a template together are refused.
    pub fn send_as(&self) -> Result<SendAs, ApiError> {
        match (self.tag, &self.template) {
            (Some(_), Some(_)) => Err(ApiError::validation("tag", "cannot be combined with a template")),
            (Some(MessageTag::HumanAgent), None) => Ok(SendAs::HumanAgent),
            (None, Some(template)) => Ok(SendAs::Template(TemplateMessage {
                name: template.name.trim().to_owned(),
                language: template.language.trim().to_owned(),
                body_parameters: template.body_parameters.clone(),
            })),
            (None, None) => Ok(SendAs::Text),
        }
    }
}

/// What a Messenger, Instagram or WhatsApp thread lets the business send now, measured from
/// the customer's last message.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagingWindowOut {
    /// `open` (free text), `human_agent_only` (text tagged `HUMAN_AGENT`), `template_only`
    /// (approved WhatsApp templates) or `closed` (nothing until the customer writes again).
    pub state: String,
    /// When this state ends by itself (`open`, `human_agent_only`).
    pub closes_at: Option<String>,
    /// When the customer last wrote.
    pub last_customer_message_at: Option<String>,
    /// What a reply may be now: `text`, `human_agent`, `template`.
    pub allows: Vec<ReplyKind>,
    /// The same, in a sentence.
    pub description: String,
}

impl From<Window> for MessagingWindowOut {
    fn from(window: Window) -> Self {
        Self {
            state: window.state_name().to_owned(),
            closes_at: window.closes_at().map(to_rfc3339),
            last_customer_message_at: window.last_inbound_at.map(to_rfc3339),
            allows: window.allows(),
            description: window.describe(),
        }
    }
}
