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

impl Platform {
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
