//! The messages Tidings sends, each a text and an HTML askama template under
//! `templates/mail/`, rendered into an [`OutgoingEmail`].
//!
//! Links point at `public_url` ([`Config::public_url`](tidings_core::Config::public_url)) plus
//! the paths in [`paths`], with the single-use token as the `token` query parameter.

use std::time::Duration;

use askama::Template;

use super::{MailError, OutgoingEmail};

/// Where the links in these messages lead, relative to `public_url`.
pub mod paths {
    /// Confirms an email address: `?token=…`.
    pub const VERIFY_EMAIL: &str = "/verify-email";
    /// Chooses a new password: `?token=…`.
    pub const RESET_PASSWORD: &str = "/reset-password";
    /// Accepts an invitation to a workspace: `?token=…`.
    pub const ACCEPT_INVITATION: &str = "/invitations/accept";
}

/// A message Tidings sends, with what it needs to say. (No `Debug`: it holds a token.)
#[derive(Clone, Copy)]
pub enum Email<'a> {
    /// "Confirm your email address", after sign-up or an address change.
    VerifyEmail {
        /// The address to confirm, which receives the message.
        to: &'a str,
        /// The person's name, for the greeting.
        name: &'a str,
        /// The single-use token the link carries.
        token: &'a str,
        /// How long the token is valid.
        valid_for: Duration,
    },
    /// "Reset your password".
    ResetPassword {
        /// The account's address.
        to: &'a str,
        /// The person's name, for the greeting.
        name: &'a str,
        /// The single-use token the link carries.
        token: &'a str,
        /// How long the token is valid.
        valid_for: Duration,
    },
    /// "Join a workspace", sent to someone who may not have an account yet.
    Invitation {
        /// The invited address.
        to: &'a str,
        /// Who invited them (a name, or an address).
        inviter: &'a str,
        /// The workspace's name.
        workspace: &'a str,
        /// The role they will have (`agent`, `admin`…).
        role: &'a str,
        /// The single-use token the link carries.
        token: &'a str,
        /// How long the invitation is valid.
        valid_for: Duration,
    },
}

macro_rules! mail_templates {
    ($($text:ident = $text_path:literal, $html:ident = $html_path:literal { $($field:ident),* });* $(;)?) => {
        $(
            #[derive(Template)]
            #[template(path = $text_path)]
            struct $text<'a> { $($field: &'a str),* }

            #[derive(Template)]
            #[template(path = $html_path)]
            struct $html<'a> { $($field: &'a str),* }
        )*
    };
}

mail_templates! {
    VerifyEmailText = "mail/verify_email.txt", VerifyEmailHtml = "mail/verify_email.html" { to, name, link, valid_for };
    ResetPasswordText = "mail/reset_password.txt", ResetPasswordHtml = "mail/reset_password.html" { to, name, link, valid_for };
    InvitationText = "mail/invitation.txt", InvitationHtml = "mail/invitation.html" { inviter, workspace, role, link, valid_for };
}

impl Email<'_> {
    /// Renders the message, with links under `public_url` (no trailing slash needed).
    pub fn render(&self, public_url: &str) -> Result<OutgoingEmail, MailError> {
        let base = public_url.trim_end_matches('/');
        let link = |path: &str, token: &str| format!("{base}{path}?token={}", query_escape(token));
        Ok(match *self {
            Email::VerifyEmail { to, name, token, valid_for } => {
                let (link, valid_for) = (link(paths::VERIFY_EMAIL, token), describe(valid_for));
                let (link, valid_for) = (link.as_str(), valid_for.as_str());
                OutgoingEmail::new(
                    to,
                    "Confirm your email address for Tidings",
                    VerifyEmailText { to, name, link, valid_for }.render()?,
                    Some(VerifyEmailHtml { to, name, link, valid_for }.render()?),
                )
            }
            Email::ResetPassword { to, name, token, valid_for } => {
                let (link, valid_for) = (link(paths::RESET_PASSWORD, token), describe(valid_for));
                let (link, valid_for) = (link.as_str(), valid_for.as_str());
                OutgoingEmail::new(
                    to,
                    "Reset your Tidings password",
                    ResetPasswordText { to, name, link, valid_for }.render()?,
                    Some(ResetPasswordHtml { to, name, link, valid_for }.render()?),
                )
            }
            Email::Invitation { to, inviter, workspace, role, token, valid_for } => {
                let (link, valid_for) = (link(paths::ACCEPT_INVITATION, token), describe(valid_for));
                let (link, valid_for) = (link.as_str(), valid_for.as_str());
                OutgoingEmail::new(
                    to,
                    format!("{inviter} invited you to {workspace} on Tidings"),
                    InvitationText { inviter, workspace, role, link, valid_for }.render()?,
                    Some(InvitationHtml { inviter, workspace, role, link, valid_for }.render()?),
                )
            }
        })
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// "30 minutes", "24 hours", "7 days": the largest unit that divides the duration.
fn describe(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (n, unit) = match secs {
        s if s >= 86_400 * 2 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour"),
        s => (s.div_ceil(60).max(1), "minute"),
    };
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_links_use_the_public_url_and_an_escaped_token() {
        let email = Email::VerifyEmail {
            to: "ada@example.com",
            name: "Ada <Lovelace>",
            token: "a+b/c=",
            valid_for: Duration::from_secs(86_400),
        }
        .render("https://tidings.example.com/")
        .expect("renders");
        let link = "https://tidings.example.com/verify-email?token=a%2Bb%2Fc%3D";
        assert_eq!(email.to, "ada@example.com");
        assert!(email.text.contains(link) && email.text.contains("24 hours"), "{}", email.text);
        assert!(email.text.contains("Hello Ada <Lovelace>,"), "text is not HTML-escaped: {}", email.text);
        let html = email.html.expect("html");
        assert!(html.contains(link) && html.contains("Ada &#60;Lovelace&#62;"), "{html}");
    }

    #[test]
    fn an_invitation_names_the_inviter_the_workspace_and_the_role() {
        let email = Email::Invitation {
            to: "bob@example.com",
            inviter: "Ada",
            workspace: "Acme & Co",
            role: "agent",
            token: "tok",
            valid_for: Duration::from_secs(7 * 86_400),
        }
        .render("http://127.0.0.1:8080")
        .expect("renders");
        assert_eq!(email.subject, "Ada invited you to Acme & Co on Tidings");
        assert!(email.text.contains("\"Acme & Co\"") && email.text.contains("as agent"), "{}", email.text);
        assert!(email.text.contains("http://127.0.0.1:8080/invitations/accept?token=tok"));
        assert!(email.text.contains("7 days"));
        assert!(email.html.expect("html").contains("Acme &#38; Co"));
    }

    #[test]
    fn a_reset_link_and_durations_read_naturally() {
        let email = Email::ResetPassword { to: "a@b.c", name: "A", token: "t", valid_for: Duration::from_secs(1800) }
            .render("http://x")
            .expect("renders");
        assert!(email.text.contains("http://x/reset-password?token=t") && email.text.contains("30 minutes"));
        assert_eq!(describe(Duration::from_secs(3600)), "1 hour");
        assert_eq!(describe(Duration::from_secs(86_400)), "24 hours");
        assert_eq!(describe(Duration::from_secs(90)), "2 minutes");
    }
}
