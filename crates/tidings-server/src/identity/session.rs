//! Dashboard sessions: the API's tokens, kept in HttpOnly cookies.
//!
//! Signing in sets `tidings_access` (the access JWT, for as long as it is valid) and
//! `tidings_refresh` (the refresh token, for as long as it is valid), both SameSite=Lax and
//! `Secure` over HTTPS. The [`Auth`] extractor reads the access cookie like a bearer token.
//!
//! When the access cookie has expired (or is missing) but the refresh cookie is there,
//! [`refresh_session`], a middleware in front of every page, spends the refresh token with
//! [`Identity::refresh`](super::Identity::refresh), puts the new access token into the request
//! so every extractor sees a signed-in member, and sets the new pair of cookies on the answer.
//! A refresh token that is refused clears both cookies.
//!
//! [`DashboardUser`] is the extractor for pages that need a person signed in: it yields their
//! [`Auth`] or redirects to `/sign-in?next=…`.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::service::{IdentityError, IssuedTokens};
use super::tokens::hash_token;
use super::{TwoFactorExempt, store};
use crate::AppState;
use crate::dashboard::csrf::Csrf;
pub use crate::dashboard::member::{DashboardUser, query_escape};
use crate::dashboard::page::{self, PageError, UserMenu, WorkspaceChoice};
use crate::http::ApiError;
use crate::http::cookies::{ACCESS_COOKIE, REFRESH_COOKIE, SameSite, access_token, cookie, is_https, set_cookie};

/// The `Set-Cookie` values that start (or replace) the browser's session.
pub fn session_cookies(state: &AppState, headers: &HeaderMap, tokens: &IssuedTokens) -> [HeaderValue; 2] {
    let secure = is_https(headers, &state.config.public_url());
    let refresh_ttl = i64::try_from(state.config.auth.refresh_token_ttl_days).unwrap_or(7) * 86_400;
    [
        set_cookie(ACCESS_COOKIE, &tokens.access_token, Some(tokens.expires_in), SameSite::Lax, secure),
        set_cookie(REFRESH_COOKIE, &tokens.refresh_token, Some(refresh_ttl), SameSite::Lax, secure),
    ]
}

/// The `Set-Cookie` values that end the browser's session.
pub fn cleared_cookies(state: &AppState, headers: &HeaderMap) -> [HeaderValue; 2] {
    let secure = is_https(headers, &state.config.public_url());
    [
        set_cookie(ACCESS_COOKIE, "", Some(0), SameSite::Lax, secure),
        set_cookie(REFRESH_COOKIE, "", Some(0), SameSite::Lax, secure),
    ]
}

/// How long a refresh token just spent answers with the pair it was exchanged for. A page
/// often sends several requests at once (htmx polling, two tabs); all of them carry the same
/// expired access cookie and the same refresh token, and spending it twice would look like
/// theft and end the session. Within this window the later requests get the same new pair.
const REFRESH_GRACE: Duration = Duration::from_secs(10);

/// Refresh tokens spent in the last [`REFRESH_GRACE`], by hash. Held across the refresh, so
/// concurrent refreshes in this process run one at a time (they are rare: once per access-token
/// lifetime per browser).
static RECENT_REFRESHES: LazyLock<tokio::sync::Mutex<HashMap<String, (Instant, IssuedTokens)>>> =
    LazyLock::new(Default::default);

async fn refresh_once(state: &AppState, refresh_token: &str) -> Result<IssuedTokens, IdentityError> {
    let key = hash_token(refresh_token);
    let mut recent = RECENT_REFRESHES.lock().await;
    recent.retain(|_, (at, _)| at.elapsed() < REFRESH_GRACE);
    if let Some((_, tokens)) = recent.get(&key) {
        return Ok(tokens.clone());
    }
    let tokens = state.identity.refresh(refresh_token).await?;
    recent.insert(key, (Instant::now(), tokens.clone()));
    Ok(tokens)
}

/// Replaces (or removes, with `None`) the session cookies the handlers will see.
fn rewrite_request_cookies(headers: &mut HeaderMap, tokens: Option<&IssuedTokens>) {
    let mut kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
            !pair.is_empty() && name != ACCESS_COOKIE && name != REFRESH_COOKIE
        })
        .map(str::to_owned)
        .collect();
    if let Some(tokens) = tokens {
        kept.push(format!("{ACCESS_COOKIE}={}", tokens.access_token));
        kept.push(format!("{REFRESH_COOKIE}={}", tokens.refresh_token));
    }
    headers.remove(header::COOKIE);
    if let Ok(value) = HeaderValue::from_str(&kept.join("; "))
        && !kept.is_empty()
    {
        headers.insert(header::COOKIE, value);
    }
}

/// Whether the handler set the session cookies itself (sign-in, sign-out, switching).
fn sets_session(response: &Response) -> bool {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with(&format!("{ACCESS_COOKIE}=")))
}

/// Paths that are not pages: nothing there reads the session cookies.
fn not_a_page(path: &str) -> bool {
    ["/api/", "/assets/", "/docs", "/health", "/ready", "/metrics"].iter().any(|prefix| path.starts_with(prefix))
}

/// Middleware: refreshes an expired dashboard session from its refresh cookie, transparently.
/// API requests (`/api/…`), requests with an `Authorization` header and assets are left alone:
/// API clients refresh for themselves.
pub async fn refresh_session(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    if not_a_page(request.uri().path()) || headers.contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let Some(refresh_token) = cookie(headers, REFRESH_COOKIE).filter(|v| !v.is_empty()) else {
        return next.run(request).await;
    };
    if access_token(headers).is_some_and(|token| state.identity.tokens().verify(&token).is_some()) {
        return next.run(request).await;
    }
    let response_headers = request.headers().clone();
    let cookies = match refresh_once(&state, &refresh_token).await {
        Ok(tokens) => {
            rewrite_request_cookies(request.headers_mut(), Some(&tokens));
            session_cookies(&state, &response_headers, &tokens)
        }
        Err(IdentityError::InvalidRefreshToken | IdentityError::RefreshTokenReused) => {
            rewrite_request_cookies(request.headers_mut(), None);
            cleared_cookies(&state, &response_headers)
        }
        Err(error) => {
            tracing::error!(%error, "could not refresh a dashboard session");
            return next.run(request).await;
        }
    };
    let mut response = next.run(request).await;
    if !sets_session(&response) {
        for value in cookies {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

// `DashboardUser` is the dashboard's (`dashboard/member.rs`); who it is, and the header's
// menu, are identity's.
impl DashboardUser {
    /// The signed-in person, `None` for anyone not signed in (or whose session ended), and an
    /// error for anything else (rate limited, database down).
    async fn extract(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, ApiError> {
        // Members who still owe a second factor get in, and `require` stops them at the door of
        // each page that needs a permission.
        let auth = match TwoFactorExempt::from_request_parts(parts, state).await {
            Ok(TwoFactorExempt(auth)) => auth,
            Err(error) if error.status == StatusCode::UNAUTHORIZED => return Ok(None),
            Err(error) => return Err(error),
        };
        let (Some(user_id), Some(session_id)) = (auth.user_id.clone(), auth.session_id.clone()) else {
            return Ok(None);
        };
        Ok(Some(Self { auth, user_id, session_id }))
    }

    /// The header's menu: name, workspace and the switcher, whose forms carry `csrf`.
    pub async fn menu(&self, state: &AppState, csrf: &Csrf, back: &str) -> Result<UserMenu, PageError> {
        let db = state.identity.db();
        let user = store::user_by_id(db, &self.user_id).await?.ok_or_else(|| PageError::not_found("account"))?;
        let workspaces = store::workspaces_of(db, &self.user_id).await?;
        let current = &self.auth.workspace_id;
        Ok(UserMenu {
            name: user.name,
            email: user.email,
            workspace: workspaces.iter().find(|w| &w.id == current).map(|w| w.name.clone()).unwrap_or_default(),
            role: self.auth.role.as_str().to_owned(),
            workspaces: workspaces
                .into_iter()
                .map(|w| WorkspaceChoice { current: &w.id == current, id: w.id.to_string(), name: w.name })
                .collect(),
            csrf: csrf.token().to_owned(),
            back: back.to_owned(),
        })
    }

    /// A whole page for this member: `body` in the layout, with their navigation and menu.
    pub async fn page(
        &self,
        state: &AppState,
        csrf: &Csrf,
        current: &str,
        title: &str,
        body: &impl askama::Template,
    ) -> Result<Html<String>, PageError> {
        let menu = self.menu(state, csrf, current).await?;
        page::render(current, title, Some(self.auth.role), Some(menu), body)
    }
}

/// Where a signed-out visitor of `parts` is sent: the sign-in page, coming back here after.
fn sign_in_redirect(parts: &Parts) -> Response {
    if parts.method == Method::GET {
        let here = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        Redirect::to(&format!("/sign-in?next={}", query_escape(here))).into_response()
    } else {
        Redirect::to("/sign-in").into_response()
    }
}

impl FromRequestParts<AppState> for DashboardUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match Self::extract(parts, state).await {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(sign_in_redirect(parts)),
            Err(error) => Err(PageError::from(error).into_response()),
        }
    }
}

impl OptionalFromRequestParts<AppState> for DashboardUser {
    type Rejection = std::convert::Infallible;

    /// Anyone not signed in, or whose session ended, is simply `None`.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        Ok(Self::extract(parts, state).await.unwrap_or_else(|error| {
            tracing::warn!(error = %error.message, "treating the visitor as signed out");
            None
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_cookies_are_rewritten_keeping_the_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=1; tidings_access=old; tidings_csrf=x".parse().expect("value"));
        headers.append(header::COOKIE, "tidings_refresh=oldr".parse().expect("value"));
        rewrite_request_cookies(&mut headers, None);
        assert_eq!(headers.get(header::COOKIE).expect("kept"), "a=1; tidings_csrf=x");
    }
}
