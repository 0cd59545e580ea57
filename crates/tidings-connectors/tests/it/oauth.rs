//! OAuth 2.0 helpers against mock token endpoints.

use secrecy::{ExposeSecret, SecretString};
use tidings_connectors::oauth::{OAuthClient, ensure_fresh, needs_refresh};
use tidings_connectors::{ConnectorError, Credentials};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{fixture, form_pairs};

const NOW_MS: i64 = 1_700_000_000_000;

fn google(server: &MockServer) -> OAuthClient {
    OAuthClient::google(reqwest::Client::new(), "client-123.apps.googleusercontent.com", SecretString::from("shh"))
        .with_urls(format!("{}/o/oauth2/v2/auth", server.uri()), format!("{}/token", server.uri()))
}

fn pair<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[test]
fn google_consent_url_asks_for_offline_access() {
    let client = OAuthClient::google(reqwest::Client::new(), "client-123", SecretString::from("shh"));

    let url = client.authorize_url(
        "https://tidings.example/oauth/google/callback",
        &["https://www.googleapis.com/auth/business.manage", "openid"],
        "state-xyz",
    );

    let (base, query) = url.split_once('?').expect("query string");
    assert_eq!(base, "https://accounts.google.com/o/oauth2/v2/auth");
    let pairs = form_pairs(query);
    assert_eq!(pair(&pairs, "client_id"), Some("client-123"));
    assert_eq!(pair(&pairs, "redirect_uri"), Some("https://tidings.example/oauth/google/callback"));
    assert_eq!(pair(&pairs, "response_type"), Some("code"));
    assert_eq!(pair(&pairs, "scope"), Some("https://www.googleapis.com/auth/business.manage openid"));
    assert_eq!(pair(&pairs, "state"), Some("state-xyz"));
    assert_eq!(pair(&pairs, "access_type"), Some("offline"));
    assert_eq!(pair(&pairs, "prompt"), Some("consent"));
}

#[test]
fn facebook_consent_url_uses_the_login_dialog() {
    let client = OAuthClient::facebook(reqwest::Client::new(), "4242", SecretString::from("shh"));

    let url = client.authorize_url("https://tidings.example/cb", &["pages_show_list", "pages_read_user_content"], "s1");

    let (base, query) = url.split_once('?').expect("query string");
    assert_eq!(base, "https://www.facebook.com/v21.0/dialog/oauth");
    let pairs = form_pairs(query);
    assert_eq!(pair(&pairs, "scope"), Some("pages_show_list,pages_read_user_content"));
    assert_eq!(pair(&pairs, "access_type"), None, "Google-only parameter");
}

#[tokio::test]
async fn refresh_posts_the_rfc6749_form() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("oauth", "google_refresh.json")))
        .expect(1)
        .mount(&server)
        .await;

    let tokens = google(&server).refresh(&SecretString::from("1//refresh-me")).await.expect("refreshed");

    assert_eq!(tokens.access_token.expose_secret(), "1/fFAGRNJru1FTz70BzhT3Zg");
    assert_eq!(tokens.expires_in, Some(3920));
    assert_eq!(tokens.token_type, "Bearer");
    assert!(tokens.refresh_token.is_none());
    let requests = server.received_requests().await.expect("recorded");
    let request = &requests[0];
    assert_eq!(
        request.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/x-www-form-urlencoded")
    );
    let form = form_pairs(std::str::from_utf8(&request.body).expect("utf-8"));
    assert_eq!(pair(&form, "grant_type"), Some("refresh_token"));
    assert_eq!(pair(&form, "refresh_token"), Some("1//refresh-me"));
    assert_eq!(pair(&form, "client_id"), Some("client-123.apps.googleusercontent.com"));
    assert_eq!(pair(&form, "client_secret"), Some("shh"));
}

#[tokio::test]
async fn invalid_grant_means_reconnect() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_string(fixture("oauth", "google_invalid_grant.json")))
        .mount(&server)
        .await;

    let err = google(&server).refresh(&SecretString::from("revoked")).await.expect_err("invalid_grant");

    match err {
        ConnectorError::Unauthorized { platform, message } => {
            assert_eq!(platform, "google");
            assert!(message.contains("Token has been expired or revoked."), "{message}");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn exchange_code_keeps_the_refresh_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("oauth", "google_code.json")))
        .mount(&server)
        .await;

    let tokens = google(&server).exchange_code("4/0AX4XfWh", "https://tidings.example/cb").await.expect("tokens");

    assert_eq!(
        tokens.refresh_token.as_ref().map(|t| t.expose_secret().to_owned()).as_deref(),
        Some("1//xEoDL4iW3cxlI7yDbSRFYNG01kVKM2C-259HOF2aQbI")
    );
    let requests = server.received_requests().await.expect("recorded");
    let form = form_pairs(std::str::from_utf8(&requests[0].body).expect("utf-8"));
    assert_eq!(pair(&form, "grant_type"), Some("authorization_code"));
    assert_eq!(pair(&form, "code"), Some("4/0AX4XfWh"));
    assert_eq!(pair(&form, "redirect_uri"), Some("https://tidings.example/cb"));
}

#[tokio::test]
async fn ensure_fresh_refreshes_a_token_about_to_expire() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("oauth", "google_refresh.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut creds = Credentials {
        access_token: Some(SecretString::from("old")),
        refresh_token: Some(SecretString::from("1//keep-me")),
        expires_at_ms: Some(NOW_MS + 30_000),
        ..Credentials::default()
    };
    assert!(needs_refresh(&creds, NOW_MS));

    let refreshed = ensure_fresh(&google(&server), &mut creds, NOW_MS).await.expect("refreshed");

    assert!(refreshed);
    assert_eq!(creds.access_token.as_ref().map(|t| t.expose_secret()), Some("1/fFAGRNJru1FTz70BzhT3Zg"));
    assert_eq!(creds.expires_at_ms, Some(NOW_MS + 3_920_000));
    assert_eq!(creds.refresh_token.as_ref().map(|t| t.expose_secret()), Some("1//keep-me"), "kept when not rotated");
    assert!(!needs_refresh(&creds, NOW_MS));
}

#[tokio::test]
async fn ensure_fresh_leaves_a_valid_token_alone() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    let mut creds = Credentials {
        access_token: Some(SecretString::from("current")),
        refresh_token: Some(SecretString::from("r")),
        expires_at_ms: Some(NOW_MS + 10 * 60_000),
        ..Credentials::default()
    };

    let refreshed = ensure_fresh(&google(&server), &mut creds, NOW_MS).await.expect("nothing to do");

    assert!(!refreshed);
    assert_eq!(creds.access_token.as_ref().map(|t| t.expose_secret()), Some("current"));
}

#[tokio::test]
async fn facebook_long_lived_exchange() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v21.0/oauth/access_token"))
        .and(query_param("grant_type", "fb_exchange_token"))
        .and(query_param("fb_exchange_token", "short-lived"))
        .and(query_param("client_id", "4242"))
        .and(query_param("client_secret", "app-secret"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("oauth", "facebook_long_lived.json")))
        .expect(1)
        .mount(&server)
        .await;
    let client = OAuthClient::facebook(reqwest::Client::new(), "4242", SecretString::from("app-secret")).with_urls(
        format!("{}/v21.0/dialog/oauth", server.uri()),
        format!("{}/v21.0/oauth/access_token", server.uri()),
    );

    let tokens = client.exchange_long_lived(&SecretString::from("short-lived")).await.expect("long-lived");

    assert_eq!(tokens.access_token.expose_secret(), "EAAGm0PX4ZCpsBALONGLIVED");
    assert_eq!(tokens.expires_in, Some(5_183_944));
}

#[tokio::test]
async fn facebook_expired_token_maps_through_graph_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_string(fixture("facebook", "error_token.json")))
        .mount(&server)
        .await;
    let client = OAuthClient::facebook(reqwest::Client::new(), "4242", SecretString::from("app-secret"))
        .with_urls(server.uri(), format!("{}/v21.0/oauth/access_token", server.uri()));

    let err = client.exchange_long_lived(&SecretString::from("expired")).await.expect_err("190");

    assert!(matches!(err, ConnectorError::Unauthorized { platform: "facebook", .. }), "{err:?}");
}
