//! OAuth 2.0 helpers for the platforms connected by an authorization flow (Google, Facebook).
//!
//! One [`OAuthClient`] per provider builds the consent URL, exchanges the returned code for a
//! [`TokenSet`] and refreshes access tokens (RFC 6749 §4.1 and §6). Facebook issues no refresh
//! token; its short-lived user token is traded for a long-lived one instead
//! ([`OAuthClient::exchange_long_lived`]). Refreshing is the caller's job: the server calls
//! [`ensure_fresh`] before a platform call and stores the credentials when it returns `true`.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{ConnectorError, Credentials, graph, http};

/// Google's token endpoint.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's consent page.
pub const GOOGLE_AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// The scope Google Business Profile reviews need.
pub const GOOGLE_BUSINESS_SCOPE: &str = "https://www.googleapis.com/auth/business.manage";
/// Facebook's token endpoint (Graph API version pinned with the connectors).
pub const FACEBOOK_TOKEN_URL: &str = "https://graph.facebook.com/v21.0/oauth/access_token";
/// Facebook's login dialog.
pub const FACEBOOK_AUTHORIZE_URL: &str = "https://www.facebook.com/v21.0/dialog/oauth";

/// How much earlier than its expiry an access token is refreshed, so a call never starts with a
/// token that dies in flight.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Which provider's dialect the client speaks; the two differ in small ways (extra consent
/// parameters, scope separator, GET for Facebook's token endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Google,
    Facebook,
}

impl Provider {
    fn platform(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Facebook => "facebook",
        }
    }
}

/// An OAuth 2.0 client registered with one provider.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// Where codes and refresh tokens are exchanged for access tokens.
    pub token_url: String,
    /// The consent page users are sent to.
    pub authorize_url: String,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: SecretString,
    http: reqwest::Client,
    provider: Provider,
}

/// Tokens returned by a token endpoint.
#[derive(Debug, Clone)]
pub struct TokenSet {
    /// The access token.
    pub access_token: SecretString,
    /// A refresh token, when the provider issued one (Google: on first consent only).
    pub refresh_token: Option<SecretString>,
    /// Lifetime of the access token in seconds, when sent.
    pub expires_in: Option<u64>,
    /// Token type, normally `Bearer`.
    pub token_type: String,
    /// Granted scopes, space separated, when sent.
    pub scope: Option<String>,
}

impl TokenSet {
    /// When the access token expires (unix milliseconds), counting from `now_ms`.
    pub fn expires_at_ms(&self, now_ms: i64) -> Option<i64> {
        let secs = i64::try_from(self.expires_in?).ok()?;
        Some(now_ms.saturating_add(secs.saturating_mul(1000)))
    }

    /// Writes the tokens into stored credentials. A refresh token is kept when the provider did
    /// not send a new one (Google rarely rotates it).
    pub fn apply_to(self, credentials: &mut Credentials, now_ms: i64) {
        credentials.expires_at_ms = self.expires_at_ms(now_ms);
        credentials.access_token = Some(self.access_token);
        if let Some(refresh) = self.refresh_token {
            credentials.refresh_token = Some(refresh);
        }
    }
}

/// The token endpoint's JSON answer (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

/// The token endpoint's error body (RFC 6749 §5.2).
#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl OAuthClient {
    /// A client for Google's endpoints.
    pub fn google(http: reqwest::Client, client_id: impl Into<String>, client_secret: SecretString) -> Self {
        Self {
            token_url: GOOGLE_TOKEN_URL.to_owned(),
            authorize_url: GOOGLE_AUTHORIZE_URL.to_owned(),
            client_id: client_id.into(),
            client_secret,
            http,
            provider: Provider::Google,
        }
    }

    /// A client for Facebook's endpoints.
    pub fn facebook(http: reqwest::Client, client_id: impl Into<String>, client_secret: SecretString) -> Self {
        Self {
            token_url: FACEBOOK_TOKEN_URL.to_owned(),
            authorize_url: FACEBOOK_AUTHORIZE_URL.to_owned(),
            client_id: client_id.into(),
            client_secret,
            http,
            provider: Provider::Facebook,
        }
    }

    /// Replaces both endpoints (tests point them at a mock server).
    pub fn with_urls(mut self, authorize_url: impl Into<String>, token_url: impl Into<String>) -> Self {
        self.authorize_url = authorize_url.into();
        self.token_url = token_url.into();
        self
    }

    /// The consent URL to redirect the user to. Google gets `access_type=offline` and
    /// `prompt=consent` so that it issues a refresh token every time the user connects.
    pub fn authorize_url(&self, redirect_uri: &str, scopes: &[&str], state: &str) -> String {
        // Google wants scopes space separated; Facebook documents commas.
        let separator = if self.provider == Provider::Facebook { "," } else { " " };
        let scope = scopes.join(separator);
        let mut params = vec![
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", scope.as_str()),
            ("state", state),
        ];
        if self.provider == Provider::Google {
            params.extend([("access_type", "offline"), ("prompt", "consent"), ("include_granted_scopes", "true")]);
        }
        let query = serde_urlencoded::to_string(&params).unwrap_or_default();
        let joiner = if self.authorize_url.contains('?') { '&' } else { '?' };
        format!("{}{joiner}{query}", self.authorize_url)
    }

    /// Exchanges an authorization code for tokens (`grant_type=authorization_code`).
    pub async fn exchange_code(&self, code: &str, redirect_uri: &str) -> Result<TokenSet, ConnectorError> {
        self.token_request(&[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri)])
            .await
    }

    /// Gets a new access token from a refresh token (`grant_type=refresh_token`, RFC 6749 §6).
    /// A revoked or expired refresh token (`invalid_grant`) is [`ConnectorError::Unauthorized`]:
    /// the user has to connect again.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenSet, ConnectorError> {
        self.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose_secret())]).await
    }

    /// Facebook: trades a short-lived user token for a long-lived one (about 60 days)
    /// with `grant_type=fb_exchange_token`. Page tokens read with a long-lived user token do
    /// not expire.
    pub async fn exchange_long_lived(&self, short_lived: &SecretString) -> Result<TokenSet, ConnectorError> {
        self.token_request(&[("grant_type", "fb_exchange_token"), ("fb_exchange_token", short_lived.expose_secret())])
            .await
    }

    async fn token_request(&self, grant: &[(&str, &str)]) -> Result<TokenSet, ConnectorError> {
        let platform = self.provider.platform();
        let mut params: Vec<(&str, &str)> =
            vec![("client_id", self.client_id.as_str()), ("client_secret", self.client_secret.expose_secret())];
        params.extend_from_slice(grant);
        let request = match self.provider {
            // RFC 6749: parameters form-encoded in a POST body.
            Provider::Google => self.http.post(&self.token_url).form(&params),
            // Facebook documents its token endpoint as a GET with query parameters.
            Provider::Facebook => self.http.get(&self.token_url).query(&params),
        };
        let response =
            request.send().await.map_err(|e| ConnectorError::Unavailable { platform, message: e.to_string() })?;
        let status = response.status();
        let retry_after = http::retry_after(&response);
        let body =
            response.text().await.map_err(|e| ConnectorError::Unavailable { platform, message: e.to_string() })?;
        if !status.is_success() {
            return Err(self.token_error(status, retry_after, &body));
        }
        let token: TokenResponse =
            serde_json::from_str(&body).map_err(|e| ConnectorError::Malformed { platform, message: e.to_string() })?;
        Ok(TokenSet {
            access_token: SecretString::from(token.access_token),
            refresh_token: token.refresh_token.map(SecretString::from),
            expires_in: token.expires_in,
            token_type: token.token_type.unwrap_or_else(|| "Bearer".to_owned()),
            scope: token.scope,
        })
    }

    fn token_error(&self, status: StatusCode, retry_after: Option<Duration>, body: &str) -> ConnectorError {
        let platform = self.provider.platform();
        if self.provider == Provider::Facebook {
            return graph::error(platform, status, retry_after, body);
        }
        match serde_json::from_str::<TokenError>(body) {
            // The grant or the client itself is refused: refreshing again will not help.
            Ok(err) if matches!(err.error.as_str(), "invalid_grant" | "invalid_client" | "unauthorized_client") => {
                let message = match err.error_description {
                    Some(description) => format!("{}: {description}", err.error),
                    None => err.error,
                };
                ConnectorError::Unauthorized { platform, message }
            }
            _ => http::error_for_status(platform, status, retry_after, body),
        }
    }
}

/// Whether the access token should be refreshed before a call: it is missing while a refresh
/// token exists, or it expires within [`REFRESH_MARGIN`]. Tokens without a known expiry are
/// used as they are.
pub fn needs_refresh(credentials: &Credentials, now_ms: i64) -> bool {
    if credentials.access_token.is_none() {
        return credentials.refresh_token.is_some();
    }
    let margin_ms = i64::try_from(REFRESH_MARGIN.as_millis()).unwrap_or(i64::MAX);
    credentials.expires_at_ms.is_some_and(|expires| expires.saturating_sub(now_ms) <= margin_ms)
}

/// Refreshes `credentials` in place when [`needs_refresh`] says so. Returns whether they
/// changed, so the caller knows to store them.
pub async fn ensure_fresh(
    oauth: &OAuthClient,
    credentials: &mut Credentials,
    now_ms: i64,
) -> Result<bool, ConnectorError> {
    if !needs_refresh(credentials, now_ms) {
        return Ok(false);
    }
    let platform = oauth.provider.platform();
    let refresh_token = credentials
        .refresh_token
        .as_ref()
        .ok_or(ConnectorError::MissingCredential { platform, what: "refresh token" })?;
    let tokens = oauth.refresh(refresh_token).await?;
    tokens.apply_to(credentials, now_ms);
    Ok(true)
}
