//! Google Chat: a space's incoming webhook, with card messages in the cards v2 format.
//!
//! The webhook URL (`https://chat.googleapis.com/v1/spaces/{space}/messages?key=…&token=…`)
//! is the credential: it is stored encrypted and never shown back. A `threadKey` groups the
//! messages about one deal in one thread (`messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`
//! starts the thread on the first message). Chat answers the created `Message`, whose `name`
//! is kept. Chat allows about one message per second per space; a 429's `Retry-After` is
//! honoured when Google sends one, and the caller's backoff applies otherwise.
//!
//! Docs: <https://developers.google.com/workspace/chat/quickstart/webhooks>,
//! <https://developers.google.com/workspace/chat/api/reference/rest/v1/cards>,
//! <https://developers.google.com/workspace/chat/format-messages>.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Delivered, Message, Notifier, Template, escape_markup};
use crate::{ConnectorError, http};

const PLATFORM: &str = "google_chat";

/// One Google Chat space's incoming webhook.
pub struct GoogleChat {
    http: reqwest::Client,
    webhook_url: SecretString,
    thread_key: Option<String>,
}

impl GoogleChat {
    /// Posts to `webhook_url` (the space's URL with its `key` and `token`).
    pub fn new(http: reqwest::Client, webhook_url: SecretString) -> Self {
        Self { http, webhook_url, thread_key: None }
    }

    /// Replies in the thread named `key` (e.g. `deal-1138`), starting it if it does not exist.
    pub fn in_thread(mut self, key: impl Into<String>) -> Self {
        self.thread_key = Some(key.into());
        self
    }
}

/// The request body for a message: cards v2 for a deal, formatted text otherwise.
pub fn body(message: &Message) -> Value {
    match message {
        Message::Deal { notice, template } => {
            let mut widgets = Vec::new();
            let subtitle = match (template, &notice.value) {
                (Template::Compact, Some(value)) => format!("{} · {}", notice.title, value.display()),
                _ => notice.title.clone(),
            };
            if *template == Template::Detailed {
                widgets.extend(notice.fields().into_iter().map(
                    |(label, value)| json!({ "decoratedText": { "topLabel": label, "text": escape_markup(&value) } }),
                ));
            }
            if let Some(link) = &notice.link {
                widgets.push(json!({ "buttonList": { "buttons": [
                    { "text": "Open deal", "onClick": { "openLink": { "url": link } } }
                ] } }));
            }
            let mut card = json!({ "header": { "title": notice.headline, "subtitle": subtitle } });
            if !widgets.is_empty() {
                card["sections"] = json!([{ "widgets": widgets }]);
            }
            json!({
                // Shown in notifications and by clients that cannot draw cards.
                "text": message.subject(),
                "cardsV2": [{ "cardId": "deal", "card": card }],
            })
        }
        Message::Text { title, body, link } => {
            // Chat's text formatting: *bold*, and <url|label> links.
            let mut text = format!("*{}*\n{}", escape_markup(title), escape_markup(body));
            if let Some(link) = link {
                text.push_str(&format!("\n<{link}|Open>"));
            }
            json!({ "text": text })
        }
    }
}

#[derive(Deserialize)]
struct CreatedMessage {
    name: Option<String>,
}

#[async_trait]
impl Notifier for GoogleChat {
    fn kind(&self) -> &'static str {
        PLATFORM
    }

    async fn send(&self, message: &Message) -> Result<Delivered, ConnectorError> {
        let mut request = self.http.post(self.webhook_url.expose_secret()).json(&body(message));
        if let Some(key) = &self.thread_key {
            request = request
                .query(&[("threadKey", key.as_str()), ("messageReplyOption", "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD")]);
        }
        let response = http::send(PLATFORM, request).await?;
        let status = response.status().as_u16();
        let created: CreatedMessage = response
            .json()
            .await
            .map_err(|e| ConnectorError::Malformed { platform: PLATFORM, message: e.to_string() })?;
        Ok(Delivered { status, remote_id: created.name })
    }
}
