//! Slack: an incoming webhook, with Block Kit blocks.
//!
//! The webhook URL (`https://hooks.slack.com/services/T…/B…/…`) is the credential. Slack answers
//! `200 ok` as plain text, and its errors are plain text too, not JSON: a status with a code
//! such as `invalid_payload` (400), `action_prohibited` (403), `no_service` (404, the webhook
//! was removed), `channel_is_archived` (410) or `rollup_error` (500). The codes that mean the
//! webhook itself no longer works map to `Unauthorized` (add a new webhook); the others to
//! `Rejected` with the code, except 429 and 5xx, which are retried. Slack allows about one
//! message per second per webhook.
//!
//! Docs: <https://api.slack.com/messaging/webhooks>, <https://api.slack.com/reference/block-kit/blocks>,
//! <https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks>.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::{Delivered, Message, Notifier, Template, escape_markup};
use crate::{ConnectorError, http};

const PLATFORM: &str = "slack";

/// Codes that mean the webhook URL is dead: someone must add a new one.
const DEAD_WEBHOOK: [&str; 6] =
    ["invalid_token", "no_service", "no_service_id", "no_team", "team_disabled", "no_active_hooks"];

/// One Slack incoming webhook.
pub struct Slack {
    http: reqwest::Client,
    webhook_url: SecretString,
}

impl Slack {
    /// Posts to `webhook_url`.
    pub fn new(http: reqwest::Client, webhook_url: SecretString) -> Self {
        Self { http, webhook_url }
    }
}

/// The request body: Block Kit blocks with `text` as the notification fallback.
pub fn body(message: &Message) -> Value {
    let link = |title: &str, url: Option<&str>| match url {
        Some(url) => format!("<{url}|{}>", escape_markup(title)),
        None => escape_markup(title),
    };
    let blocks = match message {
        Message::Deal { notice, template: Template::Compact } => {
            let mut text =
                format!("*{}*: {}", escape_markup(&notice.headline), link(&notice.title, notice.link.as_deref()));
            if let Some(value) = &notice.value {
                text.push_str(&format!(" · {}", value.display()));
            }
            vec![json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })]
        }
        Message::Deal { notice, template: Template::Detailed } => {
            let mut blocks = vec![
                json!({ "type": "header", "text": { "type": "plain_text", "text": notice.headline } }),
                json!({ "type": "section", "text": { "type": "mrkdwn", "text": format!("*{}*", link(&notice.title, notice.link.as_deref())) } }),
            ];
            let fields: Vec<Value> = notice
                .fields()
                .into_iter()
                .map(|(label, value)| json!({ "type": "mrkdwn", "text": format!("*{label}*\n{}", escape_markup(&value)) }))
                .collect();
            if !fields.is_empty() {
                blocks.push(json!({ "type": "section", "fields": fields }));
            }
            if let Some(url) = &notice.link {
                blocks.push(json!({ "type": "actions", "elements": [
                    { "type": "button", "text": { "type": "plain_text", "text": "Open deal" }, "url": url }
                ] }));
            }
            blocks
        }
        Message::Text { title, body, link: url } => vec![
            json!({ "type": "section", "text": { "type": "mrkdwn", "text": format!("*{}*\n{}", link(title, url.as_deref()), escape_markup(body)) } }),
        ],
    };
    json!({ "text": message.subject(), "blocks": blocks })
}

#[async_trait]
impl Notifier for Slack {
    fn kind(&self) -> &'static str {
        PLATFORM
    }

    async fn send(&self, message: &Message) -> Result<Delivered, ConnectorError> {
        let request = self.http.post(self.webhook_url.expose_secret()).json(&body(message));
        let response = request.send().await.map_err(|e| http::request_error(PLATFORM, &e))?;
        let status = response.status();
        let retry_after = http::retry_after(&response);
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            return Ok(Delivered { status: status.as_u16(), remote_id: None });
        }
        Err(error(status, retry_after, text.trim()))
    }
}

/// Maps Slack's text error codes; see the module documentation.
fn error(status: reqwest::StatusCode, retry_after: Option<std::time::Duration>, code: &str) -> ConnectorError {
    if status.as_u16() == 429 || status.is_server_error() {
        return http::error_for_status(PLATFORM, status, retry_after, code);
    }
    if DEAD_WEBHOOK.contains(&code) {
        return ConnectorError::Unauthorized { platform: PLATFORM, message: format!("{code}: add the webhook again") };
    }
    ConnectorError::Rejected { platform: PLATFORM, status: status.as_u16(), message: code.to_owned() }
}
