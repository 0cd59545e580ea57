//! The dashboard's session cookies: the same tokens the API uses, kept HttpOnly.

use axum::http::HeaderMap;
use axum_extra::extract::CookieJar;

/// The cookie holding the access token.
pub const ACCESS_COOKIE: &str = "tidings_access";

/// The value of a cookie of the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    CookieJar::from_headers(headers).get(name).map(|cookie| cookie.value().to_owned())
}

/// The access token the dashboard stored in its cookie.
pub fn access_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, ACCESS_COOKIE).filter(|v| !v.is_empty())
}

/// The cookie holding the refresh token.
pub const REFRESH_COOKIE: &str = "tidings_refresh";

/// The `SameSite` attribute of a cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on same-site requests and top-level navigations from other sites (links in email).
    Lax,
    /// Sent on same-site requests only.
    Strict,
}

/// Whether the request reached us over HTTPS: `X-Forwarded-Proto: https` from the proxy in
/// front, or a configured `https://` public URL. Cookies are then marked `Secure`.
pub fn is_https(headers: &HeaderMap, public_url: &str) -> bool {
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    forwarded || public_url.starts_with("https://")
}

/// A `Set-Cookie` value: HttpOnly, `Path=/`, and `Secure` over HTTPS. `max_age_secs` of 0
/// deletes the cookie; `None` makes it last as long as the browser session.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age_secs: Option<i64>,
    same_site: SameSite,
    secure: bool,
) -> axum::http::HeaderValue {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly");
    cookie.push_str(match same_site {
        SameSite::Lax => "; SameSite=Lax",
        SameSite::Strict => "; SameSite=Strict",
    });
    if let Some(age) = max_age_secs {
        cookie.push_str(&format!("; Max-Age={}", age.max(0)));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    // Names and values are ours (token alphabets), so the header is always valid.
    axum::http::HeaderValue::from_str(&cookie).unwrap_or_else(|_| axum::http::HeaderValue::from_static(""))
}
