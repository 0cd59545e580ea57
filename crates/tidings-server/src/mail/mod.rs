//! Outgoing email: a [`Mailer`] behind a small trait, the messages Tidings sends, and the job
//! that sends them from the `email` queue with retries.
//!
//! Callers never talk to a mailer directly. They render a message ([`templates::Email`]) and
//! enqueue it with [`jobs::enqueue_email`], inside their own transaction when the mail belongs
//! to data they are writing; the queue's worker then hands it to the configured transport:
//!
//! * `dev` (the default, [`dev::DevMailer`]) writes each message to `<data_dir>/mail/` and
//!   shows it at `/dev/mail`, so sign-up works on a fresh machine without a mail server;
//! * `smtp` ([`smtp::SmtpMailer`]) sends it through an SMTP server (STARTTLS, implicit TLS or
//!   plain, optional AUTH), with permanent rejections dead-lettered and everything else retried.

pub mod dev;
pub mod jobs;
pub mod pages;
pub mod smtp;
pub mod templates;

use std::sync::Arc;

use async_trait::async_trait;
use lettre::Message;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use tidings_core::Config;
use tidings_core::config::MailTransport;

pub use jobs::{SendEmail, enqueue_email};
pub use templates::Email;

/// One message to one recipient, as Tidings hands it to a [`Mailer`]. The `From` comes from
/// `mail.from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// The recipient: `person@example.com` or `Name <person@example.com>`.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body, which every message has.
    pub text: String,
    /// The HTML alternative; the message is `multipart/alternative` when present.
    pub html: Option<String>,
    /// A stable id for this message, used as the local part of its `Message-ID` (so a receiver
    /// can recognise a retried send) and in the dev transport's file name. The send job sets it
    /// to its job id; when absent, a fresh one is generated for each send.
    pub message_id: Option<String>,
}

impl OutgoingEmail {
    /// A message with both a text and an HTML body.
    pub fn new(to: impl Into<String>, subject: impl Into<String>, text: String, html: Option<String>) -> Self {
        Self { to: to.into(), subject: subject.into(), text, html, message_id: None }
    }
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Refused for good (SMTP 5xx, an address that cannot be used, a client-side protocol
    /// problem such as a missing STARTTLS): sending it again cannot succeed.
    #[error("rejected: {0}")]
    Rejected(String),
    /// Not sent this time (connection refused or lost, timeout, TLS failure, SMTP 4xx, a disk
    /// error): worth trying again later.
    #[error("not sent this time: {0}")]
    Unavailable(String),
    /// The mail settings cannot work.
    #[error("mail configuration: {0}")]
    Config(String),
    /// A message template failed to render.
    #[error("email template: {0}")]
    Template(#[from] askama::Error),
}

impl MailError {
    /// True when retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, MailError::Unavailable(_))
    }
}

/// Something that delivers an [`OutgoingEmail`]: SMTP, the dev folder, or a test double.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message. `Err` says whether a retry may succeed ([`MailError::is_permanent`]).
    async fn send(&self, message: &OutgoingEmail) -> Result<(), MailError>;
}

/// The mailer `mail.transport` asks for.
pub fn from_config(config: &Config) -> Result<Arc<dyn Mailer>, MailError> {
    Ok(match config.mail.transport {
        MailTransport::Dev => {
            let mailer = dev::DevMailer::new(dev::mail_dir(config), sender(config)?);
            tracing::warn!(
                dir = %mailer.dir().display(),
                "mail.transport is `dev`: email is not sent but written to this folder and shown, \
                 without sign-in, at /dev/mail; configure mail.transport = \"smtp\" before others can reach Tidings"
            );
            Arc::new(mailer)
        }
        MailTransport::Smtp => Arc::new(smtp::SmtpMailer::new(&config.mail, sender(config)?)?),
    })
}

/// The `From` of every message, from `mail.from`.
fn sender(config: &Config) -> Result<Mailbox, MailError> {
    config.mail.from.parse().map_err(|e| MailError::Config(format!("mail.from `{}`: {e}", config.mail.from)))
}

/// The message id in effect: the caller's, or a new one. Only characters that are safe in a
/// file name and in a `Message-ID` are kept.
fn message_id(email: &OutgoingEmail) -> String {
    let given: Option<String> = email
        .message_id
        .as_deref()
        .map(|id| id.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')).collect());
    given.filter(|id| !id.is_empty()).unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string())
}

/// The RFC 5322 message: `From`, `To`, `Subject`, `Date`, `Message-ID`, and a text body or a
/// `multipart/alternative` of text and HTML.
fn build_message(from: &Mailbox, email: &OutgoingEmail, id: &str) -> Result<Message, MailError> {
    let to: Mailbox =
        email.to.trim().parse().map_err(|e| MailError::Rejected(format!("recipient `{}`: {e}", email.to)))?;
    // A subject is one line: a line break in it must never start a new header.
    let subject = email.subject.replace(['\r', '\n'], " ");
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{id}@{}>", from.email.domain())));
    let built = match &email.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(email.text.clone(), html.clone())),
        None => builder.singlepart(SinglePart::plain(email.text.clone())),
    };
    built.map_err(|e| MailError::Rejected(format!("message cannot be built: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> Mailbox {
        "Tidings <tidings@example.com>".parse().expect("mailbox")
    }

    #[test]
    fn a_message_with_html_is_multipart_alternative_with_a_stable_message_id() {
        let mut email = OutgoingEmail::new(
            "Ada <ada@example.com>",
            "Hello\r\nBcc: evil@example.com",
            "plain body".to_owned(),
            Some("<p>html body</p>".to_owned()),
        );
        email.message_id = Some("job_0193/../x".to_owned());
        let id = message_id(&email);
        assert_eq!(id, "job_0193x", "only file-name-safe characters are kept");
        let formatted =
            String::from_utf8(build_message(&from(), &email, &id).expect("builds").formatted()).expect("utf-8");
        assert!(formatted.contains("To: Ada <ada@example.com>"), "{formatted}");
        assert!(formatted.contains("Message-ID: <job_0193x@example.com>"), "{formatted}");
        assert!(formatted.contains("multipart/alternative"), "{formatted}");
        assert!(formatted.contains("plain body") && formatted.contains("<p>html body</p>"), "{formatted}");
        assert!(!formatted.contains("\r\nBcc:"), "a subject cannot inject a header: {formatted}");
    }

    #[test]
    fn a_bad_recipient_is_a_permanent_rejection() {
        let email = OutgoingEmail::new("not an address", "s", "t".to_owned(), None);
        let error = build_message(&from(), &email, "x").expect_err("bad address");
        assert!(error.is_permanent(), "{error}");
        assert!(!MailError::Unavailable("refused".to_owned()).is_permanent());
    }
}
