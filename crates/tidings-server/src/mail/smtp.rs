//! Sending through an SMTP server with lettre (tokio, rustls with ring: no OpenSSL).

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use tidings_core::config::{MailConfig, SmtpSecurity};

use super::{MailError, Mailer, OutgoingEmail, build_message, message_id};

/// A pooled SMTP client for the configured server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
}

impl SmtpMailer {
    /// A client for `mail.smtp_*`. Nothing connects until the first message is sent.
    pub fn new(config: &MailConfig, from: Mailbox) -> Result<Self, MailError> {
        let host =
            config.smtp_host.as_deref().map(str::trim).filter(|host| !host.is_empty()).ok_or_else(|| {
                MailError::Config("mail.smtp_host is required when mail.transport is `smtp`".to_owned())
            })?;
        let tls_parameters = || {
            TlsParameters::new_rustls(host.to_owned())
                .map_err(|e| MailError::Config(format!("TLS for mail.smtp_host `{host}`: {e}")))
        };
        let tls = match config.smtp_security {
            SmtpSecurity::Starttls => Tls::Required(tls_parameters()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
            SmtpSecurity::Plain => Tls::None,
        };
        let port = config.smtp_port();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(config.smtp_timeout_secs)));
        if let (Some(username), Some(password)) = (&config.smtp_username, &config.smtp_password) {
            builder = builder.credentials(Credentials::new(username.clone(), password.expose_secret().to_owned()));
        }
        Ok(Self { transport: builder.build(), from, server: format!("{host}:{port}") })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    #[tracing::instrument(skip_all, fields(server = %self.server))]
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let message = build_message(&self.from, email, &message_id(email))?;
        let response = self.transport.send(message).await.map_err(classify)?;
        tracing::debug!(code = %response.code(), "SMTP server accepted the message");
        Ok(())
    }
}

/// A 5xx reply, or a problem on our side of the protocol (no STARTTLS offered, no usable AUTH
/// mechanism), will not go away by itself; connections, timeouts, TLS and 4xx replies may.
fn classify(error: lettre::transport::smtp::Error) -> MailError {
    let message = error_chain(&error);
    if error.is_permanent() || error.is_client() {
        MailError::Rejected(message)
    } else {
        MailError::Unavailable(message)
    }
}

/// The error and its causes on one line (lettre puts the server's text and the I/O error in
/// the sources).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
