//! Email through SendGrid's v3 Mail Send API (for workspaces that prefer it to SMTP).
//!
//! `POST /v3/mail/send` with a bearer API key and a JSON body of `personalizations`, `from`,
//! `subject` and `content` (`text/plain` first, then `text/html`, the order SendGrid requires).
//! SendGrid answers `202 Accepted` with an empty body and the message id in `X-Message-Id`; its
//! errors are `{"errors": [{"message", "field", "help"}]}`.
//!
//! Docs: <https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send>,
//! <https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/responses>.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;

use super::{Delivered, Message, Notifier, escape_markup};
use crate::{ConnectorError, http};

/// SendGrid's API host (`https://api.eu.sendgrid.com` for EU-pinned accounts).
pub const DEFAULT_BASE_URL: &str = "https://api.sendgrid.com";

const PLATFORM: &str = "sendgrid";

/// An address with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailAddress {
    /// The address.
    pub email: String,
    /// The display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Email to a fixed list of recipients.
pub struct SendGrid {
    http: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    from: EmailAddress,
    to: Vec<EmailAddress>,
}

impl SendGrid {
    /// Sends as `from` (a verified sender in SendGrid) to every address of `to`, in one message.
    pub fn new(
        http: reqwest::Client,
        base_url: impl Into<String>,
        api_key: SecretString,
        from: EmailAddress,
        to: Vec<EmailAddress>,
    ) -> Self {
        Self { http, base_url: base_url.into().trim_end_matches('/').to_owned(), api_key, from, to }
    }
}

/// The message as HTML: each line of the plain text, escaped, and the link as a link.
fn html(message: &Message) -> String {
    let mut html = String::new();
    for line in message.plain_text().lines() {
        if Some(line) == message.link() {
            let href = escape_markup(line).replace('"', "&quot;");
            html.push_str(&format!("<p><a href=\"{href}\">Open</a></p>"));
        } else {
            html.push_str(&format!("<p>{}</p>", escape_markup(line)));
        }
    }
    html
}

#[async_trait]
impl Notifier for SendGrid {
    fn kind(&self) -> &'static str {
        PLATFORM
    }

    async fn send(&self, message: &Message) -> Result<Delivered, ConnectorError> {
        if self.to.is_empty() {
            return Err(ConnectorError::MissingCredential { platform: PLATFORM, what: "a recipient" });
        }
        let body = json!({
            "personalizations": [{ "to": self.to }],
            "from": self.from,
            "subject": message.subject(),
            "content": [
                { "type": "text/plain", "value": message.plain_text() },
                { "type": "text/html", "value": html(message) },
            ],
        });
        let request = self
            .http
            .post(format!("{}/v3/mail/send", self.base_url))
            .bearer_auth(self.api_key.expose_secret())
            .json(&body);
        let response = http::send(PLATFORM, request).await?;
        let remote_id = response.headers().get("x-message-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Delivered { status: response.status().as_u16(), remote_id })
    }
}
