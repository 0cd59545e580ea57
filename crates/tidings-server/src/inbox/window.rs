//! Messaging windows: what a reply in a Messenger, Instagram or WhatsApp thread may send,
//! measured from the customer's last message (the rules are `Platform::messaging_window`).
//! The inbox checks a reply here before anything is stored or sent, so the API and the dashboard
//! refuse the same replies with the same words. No HTTP here.

use tidings_connectors::{MessagingWindow, Platform, TemplateMessage};
use tidings_core::time::to_rfc3339;

use super::model::{ConversationKind, ReplyKind};
use super::service::{InboxError, MAX_REPLY_CHARS};
use super::store::ConversationRow;

/// How a reply asks to be sent.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SendAs {
    /// Free text.
    #[default]
    Text,
    /// Free text tagged `HUMAN_AGENT`: a person answering after the 24-hour window (Messenger
    /// and Instagram, within 7 days; the Meta app needs the Human Agent permission).
    HumanAgent,
    /// An approved WhatsApp template, in place of text.
    Template(TemplateMessage),
}

impl SendAs {
    /// The kind stored on the response row.
    pub fn kind(&self) -> ReplyKind {
        match self {
            SendAs::Text => ReplyKind::Text,
            SendAs::HumanAgent => ReplyKind::HumanAgent,
            SendAs::Template(_) => ReplyKind::Template,
        }
    }
}

/// The window of one thread: what it allows now, and since when the customer has been silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub platform: Platform,
    pub state: MessagingWindow,
    /// When the customer last wrote; `None` if they never did.
    pub last_inbound_at: Option<i64>,
}

/// The window of `conversation` at `now`: `None` for reviews and for platforms without one.
pub fn window_of(conversation: &ConversationRow, last_inbound_at: Option<i64>, now: i64) -> Option<Window> {
    if conversation.kind != ConversationKind::Thread {
        return None;
    }
    let platform = Platform::parse(&conversation.platform)?;
    // A customer who never wrote opened no window: measure from the beginning of time.
    let state = platform.messaging_window(last_inbound_at.unwrap_or(i64::MIN), now)?;
    Some(Window { platform, state, last_inbound_at })
}

impl Window {
    /// The state's stable name: `open`, `human_agent_only`, `template_only` or `closed`.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            MessagingWindow::Open { .. } => "open",
            MessagingWindow::HumanAgentOnly { .. } => "human_agent_only",
            MessagingWindow::TemplatesOnly => "template_only",
            MessagingWindow::Closed => "closed",
        }
    }

    /// Until when the current state lasts, where it ends by itself.
    pub fn closes_at(&self) -> Option<i64> {
        match self.state {
            MessagingWindow::Open { closes_at_ms } | MessagingWindow::HumanAgentOnly { closes_at_ms } => {
                Some(closes_at_ms)
            }
            MessagingWindow::TemplatesOnly | MessagingWindow::Closed => None,
        }
    }

    /// The reply kinds the platform takes now.
    pub fn allows(&self) -> Vec<ReplyKind> {
        let tags = matches!(self.platform, Platform::Messenger | Platform::Instagram);
        let templates = self.platform == Platform::Whatsapp;
        match self.state {
            MessagingWindow::Open { .. } => {
                [Some(ReplyKind::Text), tags.then_some(ReplyKind::HumanAgent), templates.then_some(ReplyKind::Template)]
                    .into_iter()
                    .flatten()
                    .collect()
            }
            MessagingWindow::HumanAgentOnly { .. } => vec![ReplyKind::HumanAgent],
            MessagingWindow::TemplatesOnly => vec![ReplyKind::Template],
            MessagingWindow::Closed => Vec::new(),
        }
    }

    /// What the window allows, in a sentence for people.
    pub fn describe(&self) -> String {
        let platform = self.platform.label();
        match self.state {
            MessagingWindow::Open { closes_at_ms } => {
                format!(
                    "Replies allowed until {} (24 hours after the customer's last message).",
                    to_rfc3339(closes_at_ms)
                )
            }
            MessagingWindow::HumanAgentOnly { closes_at_ms } => format!(
                "The 24-hour window closed {}; you can still reply as a human agent (the HUMAN_AGENT tag, which \
                 needs Meta's Human Agent permission for your app) until {}.",
                self.standard_close(),
                to_rfc3339(closes_at_ms)
            ),
            MessagingWindow::TemplatesOnly => format!(
                "The 24-hour window closed {}; {platform} now accepts only an approved message template until the \
                 customer writes again: send an approved template.",
                self.standard_close()
            ),
            MessagingWindow::Closed => format!(
                "The customer last wrote more than 7 days ago: {platform} accepts no reply, tagged or not, until \
                 they write again."
            ),
        }
    }

    fn standard_close(&self) -> String {
        match self.last_inbound_at {
            Some(at) => to_rfc3339(at.saturating_add(24 * 3_600_000)),
            None => "long ago (the customer never wrote)".to_owned(),
        }
    }

    /// Refuses what the window does not allow, saying what it allows instead.
    fn admit(&self, send_as: &SendAs) -> Result<(), InboxError> {
        if self.allows().contains(&send_as.kind()) {
            return Ok(());
        }
        let refused = match send_as {
            SendAs::Text => "Free text is no longer accepted.",
            SendAs::HumanAgent => "A HUMAN_AGENT reply is no longer accepted.",
            SendAs::Template(_) => "A template is no longer accepted.",
        };
        Err(InboxError::WindowClosed(format!("{refused} {}", self.describe())))
    }
}

/// Checks that `send_as` suits the conversation's platform and, for a message thread, its
/// window at this moment. `text` is the reply's text, checked by the caller.
pub fn check(conversation: &ConversationRow, window: Option<&Window>, send_as: &SendAs) -> Result<(), InboxError> {
    let platform = Platform::parse(&conversation.platform);
    let is_thread = conversation.kind == ConversationKind::Thread;
    match send_as {
        SendAs::Text => {}
        SendAs::HumanAgent if is_thread && matches!(platform, Some(Platform::Messenger | Platform::Instagram)) => {}
        SendAs::HumanAgent => {
            return Err(InboxError::Validation {
                field: "tag",
                message: "HUMAN_AGENT is a Messenger and Instagram message tag; this conversation takes none".into(),
            });
        }
        SendAs::Template(template) if is_thread && platform == Some(Platform::Whatsapp) => check_template(template)?,
        SendAs::Template(_) => {
            return Err(InboxError::Validation {
                field: "template",
                message: "only WhatsApp threads take message templates".into(),
            });
        }
    }
    window.map_or(Ok(()), |window| window.admit(send_as))
}

/// The name and language as WhatsApp Manager shows them, and parameters it will accept.
fn check_template(template: &TemplateMessage) -> Result<(), InboxError> {
    let invalid = |field, message: &str| Err(InboxError::Validation { field, message: message.to_owned() });
    let name_ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    if template.name.is_empty() || template.name.len() > 512 || !template.name.chars().all(name_ok) {
        return invalid(
            "template.name",
            "must be the approved template's name: lower-case letters, digits and underscores",
        );
    }
    if !is_language_code(&template.language) {
        return invalid("template.language", "must be the template's language code, such as en_US or de");
    }
    if template.body_parameters.iter().any(|p| p.trim().is_empty()) {
        return invalid("template.bodyParameters", "must not contain empty values");
    }
    if template.body_parameters.iter().map(|p| p.chars().count()).sum::<usize>() > MAX_REPLY_CHARS {
        return invalid("template.bodyParameters", &format!("must be at most {MAX_REPLY_CHARS} characters in all"));
    }
    Ok(())
}

/// WhatsApp's template language codes: `de`, `fil`, or with a region `en_US`, `pt_BR`.
fn is_language_code(code: &str) -> bool {
    let (language, region) = code.split_once('_').unwrap_or((code, "XX"));
    (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_lowercase())
        && region.len() == 2
        && region.chars().all(|c| c.is_ascii_uppercase())
}

/// The text a template reply is shown (and recorded) with: WhatsApp Manager holds the
/// template's words, Tidings only its name and values.
pub fn template_summary(template: &TemplateMessage) -> String {
    let mut summary = format!("Template \u{201c}{}\u{201d} ({})", template.name, template.language);
    if !template.body_parameters.is_empty() {
        summary.push_str(": ");
        summary.push_str(&template.body_parameters.join(" · "));
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn window(platform: Platform, hours_ago: i64) -> Window {
        let now = 1_800_000_000_000;
        let last = now - hours_ago * HOUR;
        let state = platform.messaging_window(last, now).expect("a messaging platform");
        Window { platform, state, last_inbound_at: Some(last) }
    }

    #[test]
    fn each_window_allows_what_its_platform_takes_and_says_so() {
        let template = SendAs::Template(TemplateMessage {
            name: "order_ready".into(),
            language: "en_US".into(),
            body_parameters: vec!["Ana".into()],
        });
        let messenger = window(Platform::Messenger, 3 * 24);
        assert!(messenger.admit(&SendAs::HumanAgent).is_ok());
        let Err(InboxError::WindowClosed(message)) = messenger.admit(&SendAs::Text) else { panic!("refused") };
        assert!(message.contains("human agent") && message.contains("Human Agent permission"), "{message}");
        assert!(window(Platform::Messenger, 8 * 24).admit(&SendAs::HumanAgent).is_err());
        let whatsapp = window(Platform::Whatsapp, 2 * 24);
        assert!(whatsapp.admit(&template).is_ok());
        let Err(InboxError::WindowClosed(message)) = whatsapp.admit(&SendAs::Text) else { panic!("refused") };
        assert!(message.contains("approved template"), "{message}");
        assert_eq!(window(Platform::Instagram, 1).allows(), vec![ReplyKind::Text, ReplyKind::HumanAgent]);
    }

    #[test]
    fn template_names_and_languages_are_checked() {
        let template = |name: &str, language: &str| TemplateMessage {
            name: name.into(),
            language: language.into(),
            body_parameters: Vec::new(),
        };
        assert!(check_template(&template("order_ready", "en_US")).is_ok());
        assert!(check_template(&template("Order Ready", "en_US")).is_err());
        assert!(check_template(&template("order_ready", "english (US)")).is_err());
        assert!(check_template(&template("order_ready", "English")).is_err());
        assert!(check_template(&template("order_ready", "fil")).is_ok());
        assert_eq!(template_summary(&template("hello", "de")), "Template \u{201c}hello\u{201d} (de)");
    }
}
