//! X: the CRC, signed Account Activity deliveries and the v2 DM send API.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tidings_connectors::oauth1;
use tidings_connectors::signature::sign_x;
use tidings_connectors::x::XChannel;
use tidings_connectors::{ConnectorError, InboundEvent, InboundMessage, MessagingChannel, WebhookError};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::messaging_support::{FIVE_MIN_MS, account, fixture, headers, now_ms, query, secret};

const ACCOUNT: &str = "4337869213";
const CUSTOMER: &str = "3001969357";

fn channel(base_url: &str) -> XChannel {
    XChannel::new(reqwest::Client::new(), base_url, secret("consumer-secret"), secret(""), FIVE_MIN_MS)
}

fn only_message(name: &str, now_ms: i64) -> InboundMessage {
    let events = channel("http://unused").parse_webhook_at(&fixture("x", name), now_ms).expect("parses");
    match <[InboundEvent; 1]>::try_from(events) {
        Ok([InboundEvent::Message(message)]) => message,
        other => panic!("expected one message, got {other:?}"),
    }
}

#[test]
fn the_crc_answer_is_json_with_the_base64_hmac_of_the_token() {
    let answer = channel("http://unused").answer_challenge(&query(&[("crc_token", "abc-123")])).expect("answered");
    assert_eq!(answer.content_type, "application/json");
    let mut mac = Hmac::<Sha256>::new_from_slice(b"consumer-secret").expect("any key length");
    mac.update(b"abc-123");
    let expected = format!("sha256={}", BASE64.encode(mac.finalize().into_bytes()));
    let body: Value = serde_json::from_str(&answer.body).expect("JSON");
    assert_eq!(body, json!({ "response_token": expected }));

    let missing = channel("http://unused").answer_challenge(&query(&[("nonce", "1")]));
    assert!(matches!(missing, Err(WebhookError::ChallengeFailed(_))));
}

#[test]
fn deliveries_are_verified_with_the_consumer_secret() {
    let body = fixture("x", "direct_message.json");
    let channel = channel("http://unused");
    let signed = headers("X-Twitter-Webhooks-Signature", &sign_x(b"consumer-secret", &body));
    assert_eq!(channel.verify_signature(&signed, &body), Ok(()));
    let tampered = String::from_utf8(body.clone()).expect("utf-8").replace("Hello World", "Hello Moon");
    assert_eq!(channel.verify_signature(&signed, tampered.as_bytes()), Err(WebhookError::BadSignature));
    let forged = headers("X-Twitter-Webhooks-Signature", &sign_x(b"someone-else", &body));
    assert_eq!(channel.verify_signature(&forged, &body), Err(WebhookError::BadSignature));
    assert_eq!(
        channel.verify_signature(&headers("x-hub-signature-256", "sha256=00"), &body),
        Err(WebhookError::MissingSignature { header: "X-Twitter-Webhooks-Signature" })
    );
}

#[test]
fn a_received_dm_names_its_sender_and_expands_links() {
    let message = only_message("direct_message.json", 1516403560557 + 2_000);
    assert_eq!(message.account_id, ACCOUNT);
    assert_eq!(message.external_id, "954491830116155396");
    assert_eq!(message.thread_id, CUSTOMER);
    assert_eq!(message.sender_id, CUSTOMER);
    assert_eq!(message.sender_name.as_deref(), Some("Jordan Brinks"));
    assert_eq!(message.text, "Hello World! https://example.com/menu");
    assert_eq!(message.sent_at_ms, 1516403560557);
    assert!(!message.is_echo);
}

#[test]
fn a_dm_sent_by_the_account_is_an_echo_in_the_customers_thread() {
    let message = only_message("sent_direct_message.json", 1516403600557);
    assert!(message.is_echo);
    assert_eq!(message.sender_id, ACCOUNT);
    assert_eq!(message.thread_id, CUSTOMER);
    assert_eq!(message.sender_name.as_deref(), Some("Harrison Test"));
    assert_eq!(
        message.text,
        "Here is our storefront\n[photo] https://ton.twitter.com/1.1/ton/data/dm/954491830116155397/954491770485489665/storefront.jpg"
    );
}

#[test]
fn other_activity_is_ignored() {
    let events = channel("http://unused").parse_webhook_at(&fixture("x", "other_activity.json"), 0).expect("parses");
    assert_eq!(
        events,
        [InboundEvent::Ignored {
            account_id: "2244994945".into(),
            reason: "direct_message_indicate_typing_events".into()
        }]
    );
}

#[test]
fn a_delivery_without_for_user_id_is_malformed() {
    let result = channel("http://unused").parse_webhook_at(br#"{"direct_message_events": []}"#, 0);
    assert!(matches!(result, Err(WebhookError::Malformed(_))), "{result:?}");
}

#[test]
fn a_replay_is_stale_and_a_fresh_dm_is_accepted() {
    let body = fixture("x", "direct_message.json");
    let result = channel("http://unused").parse_webhook(&body, now_ms());
    assert!(matches!(result, Err(WebhookError::Stale { max_secs: 300, .. })), "{result:?}");

    let mut fresh: Value = serde_json::from_slice(&body).expect("JSON");
    fresh["direct_message_events"][0]["created_timestamp"] = json!(now_ms().to_string());
    let events = channel("http://unused").parse_webhook(fresh.to_string().as_bytes(), now_ms()).expect("fresh");
    assert!(matches!(events.as_slice(), [InboundEvent::Message(m)] if m.external_id == "954491830116155396"));
}

fn send_path() -> String {
    format!("/2/dm_conversations/with/{CUSTOMER}/messages")
}

#[tokio::test]
async fn send_posts_the_text_with_the_user_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .and(header("authorization", "Bearer user-token"))
        .and(body_json(json!({"text": "Thanks for reaching out!"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "data": {"dm_conversation_id": "3001969357-4337869213", "dm_event_id": "1146654567674912769"}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let sent = channel(&server.uri())
        .send_message(&account(ACCOUNT, "user-token"), CUSTOMER, "Thanks for reaching out!")
        .await;
    assert_eq!(sent.expect("sent").external_id, "1146654567674912769");
}

/// With the app's consumer key and the account's token secret, the DM is signed with OAuth 1.0a:
/// the header carries the documented fields, and its signature is the one the keys give for
/// that nonce and time (a token secret alone, without the consumer key, falls back to Bearer).
#[tokio::test]
async fn send_signs_with_oauth1_when_the_token_secret_is_known() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .and(body_json(json!({"text": "Thanks!"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "data": {"dm_conversation_id": "3001969357-4337869213", "dm_event_id": "1146654567674912770"}
        })))
        .mount(&server)
        .await;
    let mut signed_in = account(ACCOUNT, "3001969357-token");
    signed_in.credentials.secret = Some(secret("token-secret"));

    let signing = channel(&server.uri()).with_consumer_key(Some("consumer-key".to_owned()));
    let sent = signing.send_message(&signed_in, CUSTOMER, "Thanks!").await.expect("sent");
    assert_eq!(sent.external_id, "1146654567674912770");
    channel(&server.uri()).send_message(&signed_in, CUSTOMER, "Thanks!").await.expect("sent");

    let requests = server.received_requests().await.expect("recorded");
    let authorizations: Vec<String> =
        requests.iter().map(|r| r.headers["authorization"].to_str().expect("ascii").to_owned()).collect();
    assert_eq!(authorizations[1], "Bearer 3001969357-token", "no consumer key: the token as a bearer");
    let header = &authorizations[0];
    let field = |name: &str| {
        let start = header.find(&format!("{name}=\"")).unwrap_or_else(|| panic!("{name} in {header}")) + name.len() + 2;
        header[start..].split('"').next().expect("closed").to_owned()
    };
    assert_eq!(field("oauth_consumer_key"), "consumer-key");
    assert_eq!(field("oauth_token"), "3001969357-token");
    assert_eq!(field("oauth_signature_method"), "HMAC-SHA1");
    let (nonce, timestamp) = (field("oauth_nonce"), field("oauth_timestamp"));
    let keys = oauth1::Keys {
        consumer_key: "consumer-key",
        consumer_secret: "consumer-secret",
        token: "3001969357-token",
        token_secret: "token-secret",
    };
    let url = format!("{}{}", server.uri(), send_path());
    let expected = oauth1::authorization(
        &keys,
        &oauth1::Request {
            method: "POST",
            url: &url,
            params: &[],
            nonce: &nonce,
            timestamp: timestamp.parse().expect("unix seconds"),
        },
    );
    assert_eq!(header, &expected, "signed with the consumer secret and the token secret");
}

async fn send_against(response: ResponseTemplate) -> Result<tidings_connectors::SentMessage, ConnectorError> {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(send_path())).respond_with(response).mount(&server).await;
    channel(&server.uri()).send_message(&account(ACCOUNT, "t"), CUSTOMER, "hi").await
}

#[tokio::test]
async fn a_429_waits_for_retry_after_or_else_the_rate_limit_reset() {
    let result = send_against(ResponseTemplate::new(429).insert_header("retry-after", "45")).await;
    assert!(
        matches!(result, Err(ConnectorError::RateLimited { retry_after: Some(d), .. }) if d == Duration::from_secs(45))
    );

    let reset = (chrono::Utc::now().timestamp() + 120).to_string();
    let result = send_against(ResponseTemplate::new(429).insert_header("x-rate-limit-reset", reset.as_str())).await;
    let Err(ConnectorError::RateLimited { retry_after: Some(wait), .. }) = result else { panic!("{result:?}") };
    assert!((Duration::from_secs(110)..=Duration::from_secs(120)).contains(&wait), "{wait:?}");
}

#[tokio::test]
async fn a_5xx_is_unavailable_and_the_retry_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"data": {"dm_conversation_id": "c", "dm_event_id": "e2"}})),
        )
        .mount(&server)
        .await;

    let channel = channel(&server.uri());
    let first = channel.send_message(&account(ACCOUNT, "t"), CUSTOMER, "hi").await;
    assert!(matches!(first, Err(ConnectorError::Unavailable { platform: "x", .. })), "{first:?}");
    assert_eq!(channel.send_message(&account(ACCOUNT, "t"), CUSTOMER, "hi").await.expect("retry").external_id, "e2");
}

#[tokio::test]
async fn a_refusal_in_a_200_body_is_rejected() {
    let problem = json!({"errors": [{"title": "Forbidden", "detail": "You cannot send messages to this user.", "type": "about:blank", "status": 403}]});
    let result = send_against(ResponseTemplate::new(200).set_body_json(problem)).await;
    assert!(
        matches!(result, Err(ConnectorError::Rejected { message, .. }) if message.contains("cannot send messages"))
    );
}
