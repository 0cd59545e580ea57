//! Outgoing email: the transport, the SMTP connection and the sender's address.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{ConfigError, redact_secret, rule, secret};

/// How outgoing email leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// Written to `<data_dir>/mail/` and shown at `/dev/mail`; nothing is sent.
    #[default]
    Dev,
    /// Sent through an SMTP server.
    Smtp,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte, "implicit TLS" (port 465).
    Tls,
    /// No encryption, for a relay on the same host or network (port 25).
    #[serde(rename = "none")]
    Plain,
}

impl SmtpSecurity {
    /// The conventional port of this kind of connection.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::Plain => 25,
        }
    }
}

/// Outgoing email settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `dev` (default: write to the data dir) or `smtp`.
    pub transport: MailTransport,
    /// The `From` of every message: `Name <address>` or a bare address.
    pub from: String,
    /// SMTP server host name; required with `transport = "smtp"`.
    pub smtp_host: Option<String>,
    /// SMTP port; unset: 587 for `starttls`, 465 for `tls`, 25 for `none`.
    pub smtp_port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    pub smtp_security: SmtpSecurity,
    /// User name for SMTP AUTH; no AUTH when unset.
    pub smtp_username: Option<String>,
    /// Password for SMTP AUTH.
    #[serde(serialize_with = "redact_secret", deserialize_with = "secret")]
    pub smtp_password: Option<SecretString>,
    /// How long one SMTP command may take before the attempt fails (and is retried).
    pub smtp_timeout_secs: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            transport: MailTransport::Dev,
            from: "Tidings <tidings@localhost>".to_owned(),
            smtp_host: None,
            smtp_port: None,
            smtp_security: SmtpSecurity::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_timeout_secs: 30,
        }
    }
}

impl MailConfig {
    /// The SMTP port in effect: the configured one, or the conventional one for the security.
    pub fn smtp_port(&self) -> u16 {
        self.smtp_port.unwrap_or_else(|| self.smtp_security.default_port())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !is_mailbox(&self.from) {
            return Err(rule(
                "mail.from",
                "TIDINGS_MAIL__FROM",
                &format!("`{}` is not a mailbox such as `Tidings <tidings@example.com>`", self.from),
            ));
        }
        if self.transport == MailTransport::Smtp && self.smtp_host.as_deref().is_none_or(|h| h.trim().is_empty()) {
            return Err(rule("mail.smtp_host", "TIDINGS_MAIL__SMTP_HOST", "is required when mail.transport is `smtp`"));
        }
        if self.smtp_port == Some(0) {
            return Err(rule("mail.smtp_port", "TIDINGS_MAIL__SMTP_PORT", "must be greater than 0"));
        }
        if self.smtp_timeout_secs == 0 {
            return Err(rule("mail.smtp_timeout_secs", "TIDINGS_MAIL__SMTP_TIMEOUT_SECS", "must be greater than 0"));
        }
        if self.smtp_password.is_some() && self.smtp_username.as_deref().is_none_or(str::is_empty) {
            return Err(rule(
                "mail.smtp_username",
                "TIDINGS_MAIL__SMTP_USERNAME",
                "is required with mail.smtp_password",
            ));
        }
        if self.smtp_username.as_deref().is_some_and(|u| !u.is_empty()) && self.smtp_password.is_none() {
            return Err(rule(
                "mail.smtp_password",
                "TIDINGS_MAIL__SMTP_PASSWORD",
                "is required with mail.smtp_username",
            ));
        }
        Ok(())
    }
}

/// Whether `value` has the shape of a mailbox: `local@domain` or `Display Name <local@domain>`.
/// The mailer parses it fully (RFC 5322, with `lettre`) when it starts; this catches a value
/// that is not an address at all while the configuration is read, without pulling a mail library
/// into every crate.
fn is_mailbox(value: &str) -> bool {
    let value = value.trim();
    let address = match value.strip_suffix('>') {
        Some(rest) => match rest.rsplit_once('<') {
            Some((name, address)) if !name.contains(['<', '>']) => address,
            _ => return false,
        },
        None => value,
    };
    let Some((local, domain)) = address.rsplit_once('@') else { return false };
    let plain = |part: &str| !part.is_empty() && !part.contains(|c: char| c.is_whitespace() || "<>,;@\"".contains(c));
    plain(local) && plain(domain) && domain.split('.').all(|label| !label.is_empty())
}

#[cfg(test)]
mod tests {
    use super::is_mailbox;

    #[test]
    fn a_mailbox_is_an_address_with_an_optional_display_name() {
        for good in ["Tidings <tidings@localhost>", "tidings@example.com", "\"Tidings, Inc.\" <a.b+c@mail.example.com>"]
        {
            assert!(is_mailbox(good), "{good}");
        }
        for bad in
            ["not an address", "", "Tidings <>", "a@", "@example.com", "Tidings <a@example.com", "a@b@c", "a b@c"]
        {
            assert!(!is_mailbox(bad), "{bad}");
        }
        for bad in ["a@example..com", "a@.example", "x <y> <a@b>"] {
            assert!(!is_mailbox(bad), "{bad}");
        }
    }
}
