//! SMS and WhatsApp through Twilio's Programmable Messaging API.
//!
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded `To`, `From` and `Body`,
//! with HTTP Basic auth (the Account SID and auth token, or an API key SID and secret). A
//! WhatsApp message is the same call with both numbers prefixed `whatsapp:`. Twilio answers
//! `201` with the message's `sid`; its errors are JSON `{"code", "message", "more_info",
//! "status"}`, and the code is kept in the error message (21211: invalid `To`; 21610: the
//! recipient replied STOP; 63016: a WhatsApp free-form message outside the 24-hour window,
//! which needs an approved template instead).
//!
//! **WhatsApp notifications need a template.** A notification is business-initiated: unless the
//! recipient wrote to the sender number in the last 24 hours, WhatsApp accepts only an approved
//! template. [`Twilio::with_template`] sends `ContentSid` and `ContentVariables` instead of
//! `Body`, with `{{1}}` the message's one-line summary and `{{2}}` its link, so one approved
//! template ("{{1}} — {{2}}") carries every notification.
//!
//! Docs: <https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource>,
//! <https://www.twilio.com/docs/whatsapp/api>, <https://www.twilio.com/docs/api/errors>.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{Delivered, Message, Notifier};
use crate::{ConnectorError, http};

/// Twilio's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// A `Body` longer than this is refused by Twilio (error 21617); longer texts are cut.
const MAX_BODY_CHARS: usize = 1600;

/// Which of Twilio's channels a message goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwilioChannel {
    /// A text message.
    Sms,
    /// A WhatsApp message (numbers prefixed `whatsapp:`).
    Whatsapp,
}

/// One recipient reached from one sender number through Twilio.
pub struct Twilio {
    http: reqwest::Client,
    base_url: String,
    account_sid: String,
    /// The account's auth token (or, with `account_sid` an API key SID, the key's secret).
    auth_token: SecretString,
    channel: TwilioChannel,
    from: String,
    to: String,
    /// The approved Content template (`HX…`) sent instead of a free-form body.
    content_sid: Option<String>,
}

#[derive(Deserialize)]
struct Created {
    sid: String,
}

#[derive(Deserialize)]
struct TwilioError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: String,
}

impl Twilio {
    /// Sends from `from` to `to` (E.164 numbers, `+14155550123`) over `channel`.
    pub fn new(
        http: reqwest::Client,
        base_url: impl Into<String>,
        account_sid: impl Into<String>,
        auth_token: SecretString,
        channel: TwilioChannel,
        from: &str,
        to: &str,
    ) -> Self {
        let address = |number: &str| match channel {
            TwilioChannel::Whatsapp if !number.starts_with("whatsapp:") => format!("whatsapp:{number}"),
            _ => number.to_owned(),
        };
        Self {
            http,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            account_sid: account_sid.into(),
            auth_token,
            channel,
            from: address(from),
            to: address(to),
            content_sid: None,
        }
    }

    /// Sends the approved Content template `content_sid` (`HX…`) instead of free-form text; see
    /// the module documentation for its variables.
    pub fn with_template(mut self, content_sid: impl Into<String>) -> Self {
        self.content_sid = Some(content_sid.into());
        self
    }

    /// The form fields: `To`, `From`, then the body or the template and its variables.
    fn form(&self, message: &Message) -> Vec<(&'static str, String)> {
        let mut form = vec![("To", self.to.clone()), ("From", self.from.clone())];
        match &self.content_sid {
            Some(sid) => {
                let variables = serde_json::json!({ "1": message.subject(), "2": message.link().unwrap_or_default() });
                form.push(("ContentSid", sid.clone()));
                form.push(("ContentVariables", variables.to_string()));
            }
            None => form.push(("Body", message.plain_text().chars().take(MAX_BODY_CHARS).collect())),
        }
        form
    }
}

#[async_trait]
impl Notifier for Twilio {
    fn kind(&self) -> &'static str {
        match self.channel {
            TwilioChannel::Sms => "twilio_sms",
            TwilioChannel::Whatsapp => "twilio_whatsapp",
        }
    }

    async fn send(&self, message: &Message) -> Result<Delivered, ConnectorError> {
        let platform = self.kind();
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.base_url, self.account_sid);
        let request = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .form(&self.form(message));
        let response = request.send().await.map_err(|e| http::request_error(platform, &e))?;
        let status = response.status();
        let retry_after = http::retry_after(&response);
        let bytes =
            response.bytes().await.map_err(|e| ConnectorError::Unavailable { platform, message: e.to_string() })?;
        if !status.is_success() {
            // "21211: The 'To' number … is not a valid phone number." rather than the raw JSON.
            let text = match serde_json::from_slice::<TwilioError>(&bytes) {
                Ok(TwilioError { code: Some(code), message }) => format!("{code}: {message}"),
                _ => String::from_utf8_lossy(&bytes).into_owned(),
            };
            return Err(http::error_for_status(platform, status, retry_after, &text));
        }
        let created: Created = serde_json::from_slice(&bytes)
            .map_err(|e| ConnectorError::Malformed { platform, message: e.to_string() })?;
        Ok(Delivered { status: status.as_u16(), remote_id: Some(created.sid) })
    }
}
