//! The platforms Tidings knows, and what each one allows.

use serde::{Deserialize, Serialize};

/// A platform a channel connection speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Google Business Profile reviews.
    Google,
    /// Yelp Fusion reviews (read-only).
    Yelp,
    /// Facebook Page ratings and recommendations.
    Facebook,
    /// TripAdvisor Content API reviews (read-only).
    Tripadvisor,
    /// DataForSEO business-reviews tasks (read-only, any platform it scrapes).
    Dataforseo,
    /// Facebook Messenger conversations of a Page.
    Messenger,
    /// Instagram direct messages of a professional account.
    Instagram,
    /// WhatsApp Business Cloud API.
    Whatsapp,
    /// X (Twitter) direct messages through the Account Activity API.
    X,
}

/// Whether a platform's API lets Tidings post a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplySupport {
    /// Replies are posted through the API.
    Api,
    /// The API does not allow replies; the owner posts them on the platform's site.
    ManualOnly,
}

/// What a messaging platform lets a business send, measured from the customer's last message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagingWindow {
    /// Free text, until `closes_at_ms` (24 hours after the customer's last message).
    Open { closes_at_ms: i64 },
    /// Free text only as a `HUMAN_AGENT`-tagged message, until `closes_at_ms` (Messenger and
    /// Instagram, 7 days after the customer's last message).
    HumanAgentOnly { closes_at_ms: i64 },
    /// Only approved message templates (WhatsApp after 24 hours).
    TemplatesOnly,
    /// Nothing until the customer writes again.
    Closed,
}

const HOUR_MS: i64 = 60 * 60 * 1000;
/// Meta's standard messaging window.
const STANDARD_WINDOW_MS: i64 = 24 * HOUR_MS;
/// How long after the customer's message a `HUMAN_AGENT` tag is accepted.
const HUMAN_AGENT_WINDOW_MS: i64 = 7 * 24 * HOUR_MS;

impl Platform {
    /// The messaging window `now_ms` falls in, for a thread whose customer last wrote at
    /// `last_inbound_ms`; `None` for platforms without one (reviews, X). Docs:
    /// <https://developers.facebook.com/docs/messenger-platform/policy/policy-overview#24hours_window>,
    /// <https://developers.facebook.com/docs/whatsapp/pricing#customer-service-windows>.
    pub fn messaging_window(self, last_inbound_ms: i64, now_ms: i64) -> Option<MessagingWindow> {
        let open_until = last_inbound_ms.saturating_add(STANDARD_WINDOW_MS);
        let tagged_until = last_inbound_ms.saturating_add(HUMAN_AGENT_WINDOW_MS);
        match self {
            Platform::Messenger | Platform::Instagram | Platform::Whatsapp if now_ms < open_until => {
                Some(MessagingWindow::Open { closes_at_ms: open_until })
            }
            Platform::Messenger | Platform::Instagram if now_ms < tagged_until => {
                Some(MessagingWindow::HumanAgentOnly { closes_at_ms: tagged_until })
            }
            Platform::Messenger | Platform::Instagram => Some(MessagingWindow::Closed),
            Platform::Whatsapp => Some(MessagingWindow::TemplatesOnly),
            _ => None,
        }
    }

    /// Every platform, in the order the dashboard lists them.
    pub const ALL: [Platform; 9] = [
        Platform::Google,
        Platform::Yelp,
        Platform::Facebook,
        Platform::Tripadvisor,
        Platform::Dataforseo,
        Platform::Messenger,
        Platform::Instagram,
        Platform::Whatsapp,
        Platform::X,
    ];

    /// The stable name used in URLs, the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Google => "google",
            Platform::Yelp => "yelp",
            Platform::Facebook => "facebook",
            Platform::Tripadvisor => "tripadvisor",
            Platform::Dataforseo => "dataforseo",
            Platform::Messenger => "messenger",
            Platform::Instagram => "instagram",
            Platform::Whatsapp => "whatsapp",
            Platform::X => "x",
        }
    }

    /// Parses a stable name.
    pub fn parse(name: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The name people know the platform by.
    pub fn label(self) -> &'static str {
        match self {
            Platform::Google => "Google",
            Platform::Yelp => "Yelp",
            Platform::Facebook => "Facebook",
            Platform::Tripadvisor => "TripAdvisor",
            Platform::Dataforseo => "DataForSEO",
            Platform::Messenger => "Messenger",
            Platform::Instagram => "Instagram",
            Platform::Whatsapp => "WhatsApp",
            Platform::X => "X",
        }
    }

    /// True for platforms polled for reviews, false for platforms that push messages.
    pub fn is_review_source(self) -> bool {
        matches!(
            self,
            Platform::Google | Platform::Yelp | Platform::Facebook | Platform::Tripadvisor | Platform::Dataforseo
        )
    }

    /// Whether replies can be posted through the platform's API.
    pub fn reply_support(self) -> ReplySupport {
        match self {
            // Yelp's reply endpoint is for approved partners only; TripAdvisor's Content API and
            // DataForSEO are read-only.
            Platform::Yelp | Platform::Tripadvisor | Platform::Dataforseo => ReplySupport::ManualOnly,
            _ => ReplySupport::Api,
        }
    }

    /// Where a person posts a reply by hand: the review's own page when the platform gives one
    /// (`review_url`), else the platform's page for owners; empty when there is neither.
    pub fn deep_link(self, review_url: Option<&str>) -> String {
        match (self, review_url) {
            (Platform::Yelp, _) => "https://biz.yelp.com/".to_owned(),
            (Platform::Tripadvisor, Some(url)) => url.to_owned(),
            (Platform::Tripadvisor, None) => "https://www.tripadvisor.com/Owners".to_owned(),
            (Platform::Google, None) => "https://business.google.com/reviews".to_owned(),
            (_, Some(url)) => url.to_owned(),
            (_, None) => String::new(),
        }
    }

    /// The Meta webhook object this platform's events arrive under. A Meta app has one callback
    /// URL per object, so a Page's Messenger messages and its ratings share `page`.
    pub fn meta_object(self) -> Option<&'static str> {
        match self {
            Platform::Facebook | Platform::Messenger => Some("page"),
            Platform::Instagram => Some("instagram"),
            Platform::Whatsapp => Some("whatsapp_business_account"),
            _ => None,
        }
    }

    /// The path of the webhook URL to register for this platform: one per Meta object (a Page's
    /// is `/webhooks/facebook`; `/webhooks/messenger` stays an alias), and `/webhooks/x`.
    pub fn webhook_path(self) -> Option<&'static str> {
        match self {
            Platform::Facebook | Platform::Messenger => Some("/webhooks/facebook"),
            Platform::Instagram => Some("/webhooks/instagram"),
            Platform::Whatsapp => Some("/webhooks/whatsapp"),
            Platform::X => Some("/webhooks/x"),
            _ => None,
        }
    }

    /// Whether connecting an account uses an OAuth authorization flow.
    pub fn uses_oauth(self) -> bool {
        matches!(self, Platform::Google | Platform::Facebook | Platform::Messenger | Platform::Instagram)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no platform's [`Platform::as_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform `{0}`")]
pub struct UnknownPlatform(pub String);

/// Lets a row struct read a platform column with `#[sqlx(try_from = "String")]`: this crate
/// stays free of sqlx, and a stored name that is no platform fails the row's decoding.
impl TryFrom<String> for Platform {
    type Error = UnknownPlatform;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Platform::parse(&name).ok_or(UnknownPlatform(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_windows_follow_the_customers_last_message() {
        let last = 1_700_000_000_000;
        let at = |hours: i64| last + hours * HOUR_MS;
        let open = Some(MessagingWindow::Open { closes_at_ms: at(24) });
        let tagged = Some(MessagingWindow::HumanAgentOnly { closes_at_ms: at(7 * 24) });
        for platform in [Platform::Messenger, Platform::Instagram] {
            assert_eq!(platform.messaging_window(last, at(23)), open);
            assert_eq!(platform.messaging_window(last, at(3 * 24)), tagged);
            assert_eq!(platform.messaging_window(last, at(8 * 24)), Some(MessagingWindow::Closed));
        }
        assert_eq!(Platform::Whatsapp.messaging_window(last, at(1)), open);
        assert_eq!(Platform::Whatsapp.messaging_window(last, at(2 * 24)), Some(MessagingWindow::TemplatesOnly));
        assert_eq!(Platform::X.messaging_window(last, at(30 * 24)), None);
        assert_eq!(Platform::Facebook.messaging_window(last, at(1)), None);
    }

    #[test]
    fn deep_links_lead_to_where_a_reply_is_posted_by_hand() {
        let review = Some("https://example.com/review/1");
        assert_eq!(Platform::Yelp.deep_link(review), "https://biz.yelp.com/");
        assert_eq!(Platform::Tripadvisor.deep_link(review), "https://example.com/review/1");
        assert_eq!(Platform::Tripadvisor.deep_link(None), "https://www.tripadvisor.com/Owners");
        assert_eq!(Platform::Google.deep_link(None), "https://business.google.com/reviews");
        assert_eq!(Platform::Google.deep_link(review), "https://example.com/review/1");
        assert_eq!(Platform::Messenger.deep_link(None), "");
    }
}
