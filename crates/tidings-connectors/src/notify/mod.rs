//! Notification destinations: Google Chat spaces, Slack channels, SMS and WhatsApp through
//! Twilio, email through SendGrid, and signed generic webhooks. Each is one file behind
//! [`Notifier`], so the delivery job sends a [`Message`] without knowing where it goes.
//!
//! A notifier holds its destination (a webhook URL, phone numbers, addresses) and a shared
//! `reqwest::Client`. Clients for destinations a workspace typed in must come from
//! [`crate::ssrf::guarded_client`], so a URL cannot point Tidings at its own network.
//! Failures are [`ConnectorError`]s mapped as every connector maps them: 429 is `RateLimited`
//! with the `Retry-After` the destination sent, 5xx and timeouts are `Unavailable` (retry),
//! other refusals are `Rejected` or `Unauthorized` (do not retry the same message).

pub mod google_chat;
pub mod sendgrid;
pub mod slack;
pub mod twilio;
pub mod webhook;

use async_trait::async_trait;
use serde::Serialize;

use crate::ConnectorError;
use crate::money::Money;
use crate::pipedrive::{DealEvent, DealEventKind, Names};

/// How much a deal notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// One line: what happened, the deal, its value.
    Compact,
    /// Every field (value, pipeline, stage, owner) and a button to open the deal.
    Detailed,
}

/// A deal, written for people: names instead of ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DealNotice {
    /// What happened: "Deal won", "Deal moved to Proposal sent"…
    pub headline: String,
    /// The deal's title.
    pub title: String,
    /// Its value.
    pub value: Option<Money>,
    /// The pipeline's name.
    pub pipeline: Option<String>,
    /// The stage's name.
    pub stage: Option<String>,
    /// The owner's name.
    pub owner: Option<String>,
    /// Where to open the deal.
    pub link: Option<String>,
}

impl DealNotice {
    /// The notice for a Pipedrive deal event, with names looked up in `names` (an id stays
    /// visible as `#id` when its name is unknown, e.g. a stage created since the last look-up).
    pub fn from_pipedrive(event: &DealEvent, names: &Names) -> DealNotice {
        let name = |map: &std::collections::BTreeMap<i64, String>, id: Option<i64>| {
            id.map(|id| map.get(&id).cloned().unwrap_or_else(|| format!("#{id}")))
        };
        let stage = |id: i64| name(&names.stages, Some(id)).unwrap_or_default();
        let headline = match &event.kind {
            DealEventKind::Added => "New deal".to_owned(),
            DealEventKind::Won => "Deal won".to_owned(),
            DealEventKind::Lost => "Deal lost".to_owned(),
            DealEventKind::StageChanged { from, to } => format!("Deal moved from {} to {}", stage(*from), stage(*to)),
            DealEventKind::Updated => "Deal updated".to_owned(),
        };
        DealNotice {
            headline,
            title: event.deal.title.clone(),
            value: event.deal.value.clone(),
            pipeline: name(&names.pipelines, event.deal.pipeline_id),
            stage: name(&names.stages, event.deal.stage_id),
            owner: name(&names.users, event.deal.owner_id),
            link: event.deal_url(),
        }
    }

    /// `Label: value` pairs of the detailed template, in display order, only those known.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        [
            ("Value", self.value.as_ref().map(Money::display)),
            ("Pipeline", self.pipeline.clone()),
            ("Stage", self.stage.clone()),
            ("Owner", self.owner.clone()),
        ]
        .into_iter()
        .filter_map(|(label, value)| value.map(|v| (label, v)))
        .collect()
    }
}

/// What a notification says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// A deal, in a template.
    Deal {
        /// The deal.
        notice: DealNotice,
        /// Compact or detailed.
        template: Template,
    },
    /// Any other event (a negative review, a connection failing…) as a title and text.
    Text {
        /// A short title.
        title: String,
        /// The text.
        body: String,
        /// Where to read more.
        link: Option<String>,
    },
}

impl Message {
    /// A one-line summary: an email subject, a chat fallback.
    pub fn subject(&self) -> String {
        match self {
            Message::Deal { notice, .. } => match &notice.value {
                Some(value) => format!("{}: {} ({})", notice.headline, notice.title, value.display()),
                None => format!("{}: {}", notice.headline, notice.title),
            },
            Message::Text { title, .. } => title.clone(),
        }
    }

    /// The message as plain text (SMS, WhatsApp, the text part of an email).
    pub fn plain_text(&self) -> String {
        let mut lines = vec![self.subject()];
        match self {
            Message::Deal { notice, template } => {
                if *template == Template::Detailed {
                    lines.extend(notice.fields().into_iter().map(|(label, value)| format!("{label}: {value}")));
                }
                lines.extend(notice.link.clone());
            }
            Message::Text { body, link, .. } => {
                lines.push(body.clone());
                lines.extend(link.clone());
            }
        }
        lines.join("\n")
    }

    /// The link the message points to, if any.
    pub fn link(&self) -> Option<&str> {
        match self {
            Message::Deal { notice, .. } => notice.link.as_deref(),
            Message::Text { link, .. } => link.as_deref(),
        }
    }
}

/// What the destination answered to a message it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The HTTP status.
    pub status: u16,
    /// The destination's id of the message when it gives one (Google Chat `name`, Twilio `sid`,
    /// SendGrid `X-Message-Id`), for the delivery log.
    pub remote_id: Option<String>,
}

/// A place notifications go to.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// The kind of destination, as the delivery log names it (`google_chat`, `slack`…).
    fn kind(&self) -> &'static str;

    /// Sends one message.
    async fn send(&self, message: &Message) -> Result<Delivered, ConnectorError>;
}

/// Escapes `&`, `<` and `>`: what Google Chat's card text, Slack's mrkdwn and HTML text all need
/// so a deal title cannot inject markup or links.
pub(crate) fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> DealNotice {
        DealNotice {
            headline: "Deal won".into(),
            title: "Northwind".into(),
            value: Some(Money { minor: 278_608, currency: "USD".into() }),
            pipeline: None,
            stage: Some("Negotiation".into()),
            owner: Some("Ana Ortega".into()),
            link: Some("https://acme.pipedrive.com/deal/1".into()),
        }
    }

    #[test]
    fn plain_text_follows_the_template() {
        let compact = Message::Deal { notice: notice(), template: Template::Compact };
        assert_eq!(compact.plain_text(), "Deal won: Northwind (2,786.08 USD)\nhttps://acme.pipedrive.com/deal/1");
        let detailed = Message::Deal { notice: notice(), template: Template::Detailed };
        assert_eq!(
            detailed.plain_text(),
            "Deal won: Northwind (2,786.08 USD)\nValue: 2,786.08 USD\nStage: Negotiation\nOwner: Ana Ortega\nhttps://acme.pipedrive.com/deal/1"
        );
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(escape_markup("<b>A & B</b>"), "&lt;b&gt;A &amp; B&lt;/b&gt;");
    }
}
