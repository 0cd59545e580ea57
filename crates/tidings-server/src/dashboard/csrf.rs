//! Cross-site request forgery protection for every dashboard form.
//!
//! Double submit: a random token lives in the `tidings_csrf` cookie (HttpOnly, SameSite=Strict)
//! and in a hidden `csrf` field of every form the page renders. A POST is accepted only when the
//! two match (compared in constant time); another site can make a browser send the cookie but
//! cannot read it to fill in the field. On top of that, a POST whose `Origin` header names
//! another origin is refused outright.
//!
//! Pages take a [`Csrf`] to render forms (its response part sets the cookie when the browser
//! had none), and POST handlers take a [`CsrfForm<T>`], which checks both rules before the form
//! is parsed: a handler cannot forget.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponseParts, ResponseParts};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use tidings_core::text;

use super::page::PageError;
use crate::AppState;
use crate::http::cookies::{SameSite, cookie, is_https, set_cookie};

/// The cookie holding the token.
pub const CSRF_COOKIE: &str = "tidings_csrf";

/// The name of the hidden form field carrying the token.
pub const CSRF_FIELD: &str = "csrf";

/// Length of a token: 32 random bytes, base64url without padding.
const TOKEN_LEN: usize = 43;

fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn fresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The browser's CSRF token, for the forms of the page being rendered. When the browser sent
/// none, a new one is made and, as a response part, set as the cookie.
#[derive(Debug, Clone)]
pub struct Csrf {
    token: String,
    fresh: bool,
    secure: bool,
}

impl Csrf {
    /// The value for the hidden `csrf` field.
    pub fn token(&self) -> &str {
        &self.token
    }

    pub(crate) fn of(headers: &HeaderMap, state: &AppState) -> Self {
        let secure = is_https(headers, &state.config.public_url());
        match cookie(headers, CSRF_COOKIE).filter(|token| well_formed(token)) {
            Some(token) => Self { token, fresh: false, secure },
            None => Self { token: fresh_token(), fresh: true, secure },
        }
    }
}

impl FromRequestParts<AppState> for Csrf {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(Self::of(&parts.headers, state))
    }
}

impl IntoResponseParts for Csrf {
    type Error = Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Infallible> {
        if self.fresh {
            let value = set_cookie(CSRF_COOKIE, &self.token, None, SameSite::Strict, self.secure);
            res.headers_mut().append(header::SET_COOKIE, value);
        }
        Ok(res)
    }
}

/// Whether an `Origin` header, when present, names this server: the configured public URL, or
/// the host the request was sent to.
fn same_origin(headers: &HeaderMap, uri: &axum::http::Uri, public_url: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    let origin = origin.trim().trim_end_matches('/');
    if origin.eq_ignore_ascii_case(public_url) {
        return true;
    }
    // `null` (sandboxed frames, some redirects) and anything without a scheme is not ours.
    let Some((_, authority)) = origin.split_once("://") else { return false };
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()));
    host.is_some_and(|host| {
        let host = host.split(',').next().unwrap_or_default().trim();
        authority.eq_ignore_ascii_case(host) || authority.eq_ignore_ascii_case(host.trim_end_matches(":443"))
    })
}

/// Checks a submitted token against the browser's cookie.
fn tokens_match(cookie: Option<&str>, submitted: Option<&str>) -> bool {
    match (cookie, submitted) {
        (Some(cookie), Some(submitted)) if well_formed(cookie) => {
            bool::from(cookie.as_bytes().ct_eq(submitted.as_bytes()))
        }
        _ => false,
    }
}

fn refused() -> PageError {
    PageError::forbidden(
        "This form could not be accepted because its security token is missing or out of date \
         (or it was sent from another site). Go back, reload the page and submit it again.",
    )
}

/// A submitted form (`application/x-www-form-urlencoded`) whose CSRF token and origin checked
/// out, and the browser's token to render the answer's forms with. Missing fields take their
/// defaults, so `T` should be `#[serde(default)]` and validated by the handler.
pub struct CsrfForm<T> {
    /// The form's fields.
    pub form: T,
    /// The token, for forms on the page rendered in answer.
    pub csrf: Csrf,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, PageError> {
        let public_url = state.config.public_url();
        if !same_origin(request.headers(), request.uri(), &public_url) {
            tracing::warn!(origin = ?request.headers().get(header::ORIGIN), "refused a cross-origin form post");
            return Err(refused());
        }
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(PageError::bad_request("This address accepts HTML forms only."));
        }
        let csrf = Csrf::of(request.headers(), state);
        let cookie_token = cookie(request.headers(), CSRF_COOKIE);
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| PageError::bad_request("The form could not be read; it may be too large."))?;
        let fields: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&body).map_err(|_| PageError::bad_request("The form could not be read."))?;
        let submitted = fields.iter().find(|(name, _)| name == CSRF_FIELD).map(|(_, value)| value.as_str());
        if !tokens_match(cookie_token.as_deref(), submitted) {
            tracing::warn!(
                has_cookie = cookie_token.is_some(),
                has_field = submitted.is_some(),
                "refused a form post with a bad CSRF token"
            );
            return Err(refused());
        }
        // NUL characters are removed from every field (`tidings_core::text`, ADR 0015).
        let fields: Vec<(String, String)> = fields
            .into_iter()
            .map(|(name, value)| (text::without_nul(&name).into_owned(), text::without_nul(&value).into_owned()))
            .collect();
        let form = serde_urlencoded::to_string(&fields)
            .map_err(|e| e.to_string())
            .and_then(|clean| serde_urlencoded::from_str(&clean).map_err(|e| e.to_string()))
            .map_err(|e| PageError::bad_request(format!("The form could not be read: {e}.")))?;
        Ok(Self { form, csrf })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().expect("header value"));
        }
        headers
    }

    #[test]
    fn origins_other_than_ours_are_refused() {
        let uri: axum::http::Uri = "/sign-in".parse().expect("uri");
        let public = "https://tidings.example.com";
        assert!(same_origin(&headers(&[]), &uri, public), "no Origin: the token alone decides");
        assert!(same_origin(&headers(&[("origin", public)]), &uri, public));
        let local = headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")]);
        assert!(same_origin(&local, &uri, public));
        let evil = headers(&[("origin", "https://evil.example"), ("host", "127.0.0.1:8080")]);
        assert!(!same_origin(&evil, &uri, public));
        let other_port = headers(&[("origin", "http://127.0.0.1:9999"), ("host", "127.0.0.1:8080")]);
        assert!(!same_origin(&other_port, &uri, public));
        assert!(!same_origin(&headers(&[("origin", "null"), ("host", "127.0.0.1:8080")]), &uri, public));
    }

    #[test]
    fn tokens_must_be_present_well_formed_and_equal() {
        let token = fresh_token();
        assert!(well_formed(&token));
        assert!(tokens_match(Some(&token), Some(&token)));
        assert!(!tokens_match(Some(&token), Some(&fresh_token())));
        assert!(!tokens_match(Some(&token), None));
        assert!(!tokens_match(None, Some(&token)));
        assert!(!tokens_match(Some(""), Some("")), "an empty cookie never matches");
    }
}
