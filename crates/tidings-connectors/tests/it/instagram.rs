//! Instagram: the Messenger-shaped webhook under `object` "instagram", and the Instagram Login send API.

use serde_json::json;
use tidings_connectors::instagram::InstagramChannel;
use tidings_connectors::signature::sign_hub;
use tidings_connectors::{ConnectorError, InboundEvent, InboundMessage, MessagingChannel, WebhookError};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::messaging_support::{FIVE_MIN_MS, account, fixture, headers, query, secret};

const IG_ID: &str = "17841405822304914";
const IGSID: &str = "6328416927222014";

fn channel(base_url: &str) -> InstagramChannel {
    InstagramChannel::new(reqwest::Client::new(), base_url, secret("app-secret"), secret("verify-me"), FIVE_MIN_MS)
        .with_facebook_base_url("http://facebook.invalid")
}

fn only_message(name: &str, now_ms: i64) -> InboundMessage {
    let events = channel("http://unused").parse_webhook_at(&fixture("instagram", name), now_ms).expect("parses");
    match <[InboundEvent; 1]>::try_from(events) {
        Ok([InboundEvent::Message(message)]) => message,
        other => panic!("expected one message, got {other:?}"),
    }
}

#[test]
fn a_direct_message_maps_to_the_senders_thread() {
    let message = only_message("text_message.json", 1569262486134);
    assert_eq!(message.account_id, IG_ID);
    assert_eq!(message.thread_id, IGSID);
    assert_eq!(message.sender_id, IGSID);
    assert!(message.external_id.starts_with("aWdfZAG1faXRlbToxOklHTWVzc2FnZA"));
    assert_eq!(message.text, "Do you ship to Canada?");
    assert_eq!(message.sent_at_ms, 1569262485349);
    assert!(!message.is_echo);
}

#[test]
fn an_echo_of_the_business_reply_is_outbound() {
    let message = only_message("echo.json", 1569262490000);
    assert!(message.is_echo);
    assert_eq!(message.sender_id, IG_ID);
    assert_eq!(message.thread_id, IGSID);
}

#[test]
fn a_page_delivery_is_not_an_instagram_one() {
    let result = channel("http://unused").parse_webhook_at(&fixture("messenger", "text_message.json"), 1458692752478);
    assert!(matches!(result, Err(WebhookError::Malformed(_))), "{result:?}");
}

#[test]
fn a_stale_delivery_is_refused() {
    let result = channel("http://unused")
        .parse_webhook_at(&fixture("instagram", "text_message.json"), 1569262485349 + 6 * 60_000);
    assert!(matches!(result, Err(WebhookError::Stale { max_secs: 300, .. })), "{result:?}");
}

#[test]
fn signature_and_challenge_are_metas() {
    let body = fixture("instagram", "text_message.json");
    let channel = channel("http://unused");
    assert_eq!(
        channel.verify_signature(&headers("x-hub-signature-256", &sign_hub(b"app-secret", &body)), &body),
        Ok(())
    );
    assert_eq!(
        channel.verify_signature(&headers("x-hub-signature-256", &sign_hub(b"app-secret", b"{}")), &body),
        Err(WebhookError::BadSignature)
    );
    let ok = query(&[("hub.mode", "subscribe"), ("hub.verify_token", "verify-me"), ("hub.challenge", "42")]);
    assert_eq!(channel.answer_challenge(&ok).map(|a| a.body), Ok("42".to_owned()));
}

#[tokio::test]
async fn send_posts_recipient_and_text_to_the_account() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{IG_ID}/messages")))
        .and(header("authorization", "Bearer IGAAJ-user-token"))
        .and(body_json(json!({"recipient": {"id": IGSID}, "message": {"text": "Yes, we do!"}})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"recipient_id": IGSID, "message_id": "aWdf-sent"})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let sent = channel(&server.uri()).send_message(&account(IG_ID, "IGAAJ-user-token"), IGSID, "Yes, we do!").await;
    assert_eq!(sent.expect("sent").external_id, "aWdf-sent");
}

#[tokio::test]
async fn an_expired_token_is_unauthorized() {
    let server = MockServer::start().await;
    let error = json!({"error": {"message": "Error validating access token: Session has expired", "type": "OAuthException", "code": 190, "error_subcode": 463}});
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(400).set_body_json(error)).mount(&server).await;
    let result = channel(&server.uri()).send_message(&account(IG_ID, "IGAAJ-old"), IGSID, "hi").await;
    assert!(matches!(result, Err(ConnectorError::Unauthorized { platform: "instagram", .. })), "{result:?}");
}

/// The Instagram User Profile API's documented answer (developers.facebook.com, Instagram
/// messaging → User Profile API); a person without a name shows as `@username`.
#[tokio::test]
async fn a_senders_name_comes_from_the_user_profile_api_or_their_username() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{IGSID}")))
        .and(query_param("fields", "name,username"))
        .and(header("authorization", "Bearer IGAAJ-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "Peter Chang", "username": "peter_chang_live",
            "profile_pic": "https://fbcdn-profile-a.akamaihd.net/example.jpg",
            "follower_count": 1234, "is_user_follow_business": false, "is_business_follow_user": true
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v21.0/unnamed"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": null, "username": "lena.k"})))
        .mount(&server)
        .await;

    let channel = channel(&server.uri());
    let named = channel.sender_name(&account(IG_ID, "IGAAJ-token"), IGSID).await.expect("looked up");
    assert_eq!(named.as_deref(), Some("Peter Chang"));
    let unnamed = channel.sender_name(&account(IG_ID, "IGAAJ-token"), "unnamed").await.expect("looked up");
    assert_eq!(unnamed.as_deref(), Some("@lena.k"));
}

/// A Page token (Facebook Login, what the OAuth connect flow stores) works only on the Facebook
/// Graph API, where the Page sends as `me`; an Instagram user token never goes there.
#[tokio::test]
async fn a_page_token_goes_to_the_facebook_graph_api() {
    let instagram = MockServer::start().await;
    let facebook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v21.0/me/messages"))
        .and(header("authorization", "Bearer EAAG-page-token"))
        .and(body_json(json!({"recipient": {"id": IGSID}, "message": {"text": "Yes, we do!"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"recipient_id": IGSID, "message_id": "m_fb"})))
        .expect(1)
        .mount(&facebook)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{IGSID}")))
        .and(query_param("fields", "name,username"))
        .and(header("authorization", "Bearer EAAG-page-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "Peter Chang", "username": "peter"})))
        .expect(1)
        .mount(&facebook)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&instagram).await;

    let channel = InstagramChannel::new(
        reqwest::Client::new(),
        instagram.uri(),
        secret("app-secret"),
        secret("verify-me"),
        FIVE_MIN_MS,
    )
    .with_facebook_base_url(facebook.uri());
    let page = account(IG_ID, "EAAG-page-token");
    let sent = channel.send_message(&page, IGSID, "Yes, we do!").await.expect("sent");
    assert_eq!(sent.external_id, "m_fb");
    let name = channel.sender_name(&page, IGSID).await.expect("looked up");
    assert_eq!(name.as_deref(), Some("Peter Chang"));
}

#[tokio::test]
async fn a_human_agent_reply_carries_the_tag_on_instagram_too() {
    use tidings_connectors::OutgoingMessage;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{IG_ID}/messages")))
        .and(body_json(json!({"recipient": {"id": IGSID}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT",
            "message": {"text": "Back from the weekend: yes!"}})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"recipient_id": IGSID, "message_id": "aWdf-tag"})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let message = OutgoingMessage::HumanAgent("Back from the weekend: yes!".into());
    let sent = channel(&server.uri()).send(&account(IG_ID, "IGAAJ-user-token"), IGSID, &message).await;
    assert_eq!(sent.expect("sent").external_id, "aWdf-tag");
}
