//! The dashboard's cookies, read and written with axum-extra's `CookieJar` and `Cookie`: the
//! session (the same tokens the API uses, kept HttpOnly) and the CSRF token.

use axum::http::{HeaderMap, HeaderValue};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;

/// The cookie holding the access token.
pub const ACCESS_COOKIE: &str = "tidings_access";

/// The cookie holding the refresh token.
pub const REFRESH_COOKIE: &str = "tidings_refresh";

/// The value of a cookie of the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    CookieJar::from_headers(headers).get(name).map(|cookie| cookie.value().to_owned())
}

/// The access token the dashboard stored in its cookie.
pub fn access_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, ACCESS_COOKIE).filter(|v| !v.is_empty())
}

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
) -> HeaderValue {
    let mut cookie =
        Cookie::build((name.to_owned(), value.to_owned())).path("/").http_only(true).secure(secure).same_site(
            match same_site {
                SameSite::Lax => axum_extra::extract::cookie::SameSite::Lax,
                SameSite::Strict => axum_extra::extract::cookie::SameSite::Strict,
            },
        );
    if let Some(age) = max_age_secs {
        cookie = cookie.max_age(time::Duration::seconds(age.max(0)));
    }
    // Names and values are ours (token alphabets), so the header is always valid.
    HeaderValue::from_str(&cookie.build().encoded().to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_values_carry_every_attribute() {
        let value = set_cookie("tidings_access", "a.b-c_d", Some(3600), SameSite::Lax, true);
        let value = value.to_str().expect("ASCII");
        assert!(value.starts_with("tidings_access=a.b-c_d"), "{value}");
        for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=3600"] {
            assert!(value.contains(attribute), "{attribute} in {value}");
        }
        let cleared = set_cookie("tidings_csrf", "", Some(0), SameSite::Strict, false);
        let cleared = cleared.to_str().expect("ASCII");
        assert!(cleared.contains("Max-Age=0") && cleared.contains("SameSite=Strict"), "{cleared}");
        assert!(!cleared.contains("Secure"), "{cleared}");
        let session = set_cookie("tidings_csrf", "t", None, SameSite::Strict, false);
        assert!(!session.to_str().expect("ASCII").contains("Max-Age"));
    }
}
