//! The dashboard's session cookies: the same tokens the API uses, kept HttpOnly.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The cookie holding the access token.
pub const ACCESS_COOKIE: &str = "tidings_access";

/// The value of a cookie of the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The access token the dashboard stored in its cookie.
pub fn access_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, ACCESS_COOKIE).filter(|v| !v.is_empty())
}
