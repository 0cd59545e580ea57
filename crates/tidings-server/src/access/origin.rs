//! Where a request came from: the client address (behind a trusted proxy, its
//! `X-Forwarded-For`) and the user agent, recorded with sessions and audit entries.

use axum::http::header;
use axum::http::request::Parts;

/// Where a request came from, for sessions and the audit log.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The client's address.
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

/// Whether the client address may be taken from `X-Forwarded-For` (`http.trust_forwarded_for`).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddressPolicy {
    /// Trust the header (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
}

/// Where the request came from: the first `X-Forwarded-For` hop when trusted, else the socket peer.
pub fn origin_of(parts: &Parts) -> Origin {
    let trusted = parts.extensions.get::<ClientAddressPolicy>().is_some_and(|policy| policy.trust_forwarded_for);
    let forwarded = parts
        .headers
        .get("x-forwarded-for")
        .filter(|_| trusted)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned());
    let peer =
        parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|info| info.0.ip().to_string());
    Origin {
        ip: forwarded.or(peer),
        user_agent: parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    }
}
