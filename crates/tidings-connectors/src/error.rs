//! Errors of platform calls and webhook deliveries.

use std::time::Duration;

/// Why a call to a platform failed. The sync and send jobs decide from the variant whether to
/// retry, wait, refresh a token or give up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// 429 or a quota error: try again after the given time (from `Retry-After` when sent).
    #[error("rate limited by {platform}; retry after {retry_after:?}")]
    RateLimited { platform: &'static str, retry_after: Option<Duration> },
    /// The access token was refused (401, OAuth error 190…): refresh it or ask to reconnect.
    #[error("{platform} refused the credentials: {message}")]
    Unauthorized { platform: &'static str, message: String },
    /// The platform does not let Tidings post replies; `deep_link` opens the place to post by hand.
    #[error("{platform} does not allow replies through its API")]
    ReplyNotSupported { platform: &'static str, deep_link: Option<String> },
    /// The platform answered a 5xx or the connection failed: worth retrying.
    #[error("{platform} is unavailable: {message}")]
    Unavailable { platform: &'static str, message: String },
    /// The request was refused for a reason retrying will not fix (4xx other than 401/429).
    #[error("{platform} rejected the request ({status}): {message}")]
    Rejected { platform: &'static str, status: u16, message: String },
    /// The platform's answer did not have the documented shape.
    #[error("unexpected answer from {platform}: {message}")]
    Malformed { platform: &'static str, message: String },
    /// The destination's URL is not one Tidings may call: see [`crate::ssrf`].
    #[error("refused destination: {0}")]
    ForbiddenDestination(#[from] crate::ssrf::SsrfError),
    /// The connection lacks a credential this platform needs.
    #[error("{platform} connection is missing {what}")]
    MissingCredential { platform: &'static str, what: &'static str },
}

impl ConnectorError {
    /// Whether trying the same call again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ConnectorError::RateLimited { .. } | ConnectorError::Unavailable { .. })
    }
}

/// Why a webhook delivery was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    /// No signature header was sent.
    #[error("the delivery is not signed (missing {header})")]
    MissingSignature { header: &'static str },
    /// The signature does not match the body.
    #[error("the signature does not match the body")]
    BadSignature,
    /// The delivery's timestamp is outside the accepted window.
    #[error("the delivery is stale: sent {age_secs} s ago, more than {max_secs} s")]
    Stale { age_secs: i64, max_secs: i64 },
    /// The body is not the platform's documented shape.
    #[error("malformed payload: {0}")]
    Malformed(String),
    /// The verification challenge's token does not match ours, or parameters are missing.
    #[error("verification failed: {0}")]
    ChallengeFailed(String),
    /// This platform is not configured on this server (no app secret).
    #[error("{0} webhooks are not configured on this server")]
    NotConfigured(&'static str),
}
