//! Messenger: documented webhook payloads in, the Send API out (against a mock Graph API).

use std::time::Duration;

use serde_json::json;
use tidings_connectors::messenger::MessengerChannel;
use tidings_connectors::signature::sign_hub;
use tidings_connectors::{
    ConnectorError, InboundEvent, InboundMessage, MessagingChannel, WebhookError, WebhookSubscription,
};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::messaging_support::{FIVE_MIN_MS, account, fixture, headers, now_ms, query, secret};

const PAGE_ID: &str = "682498302938465";
const PSID: &str = "1254459154682919";

fn channel(base_url: &str) -> MessengerChannel {
    MessengerChannel::new(reqwest::Client::new(), base_url, secret("app-secret"), secret("verify-me"), FIVE_MIN_MS)
}

/// Parses a fixture as if it arrived one second after its own timestamp.
fn parse(name: &str, sent_at_ms: i64) -> Vec<InboundEvent> {
    channel("http://unused").parse_webhook_at(&fixture("messenger", name), sent_at_ms + 1_000).expect("parses")
}

fn only_message(events: Vec<InboundEvent>) -> InboundMessage {
    match <[InboundEvent; 1]>::try_from(events) {
        Ok([InboundEvent::Message(message)]) => message,
        other => panic!("expected one message, got {other:?}"),
    }
}

#[test]
fn a_text_message_maps_to_the_sender_thread_on_the_page() {
    let message = only_message(parse("text_message.json", 1458692752478));
    assert_eq!(message.account_id, PAGE_ID);
    assert_eq!(message.external_id, "mid.1457764197618:41d102a3e1ae206a38");
    assert_eq!(message.thread_id, PSID);
    assert_eq!(message.sender_id, PSID);
    assert_eq!(message.text, "hello, world!");
    assert_eq!(message.sent_at_ms, 1458692752478);
    assert!(!message.is_echo);
    assert_eq!(message.raw["message"]["quick_reply"]["payload"], "DEVELOPER_DEFINED_PAYLOAD");
}

#[test]
fn attachments_are_described_in_brackets() {
    let message = only_message(parse("attachment.json", 1518479195308));
    assert_eq!(message.text, "[image] https://scontent.xx.fbcdn.net/v/t1.15752-9/photo.jpg");
}

#[test]
fn an_echo_is_outbound_in_the_recipients_thread() {
    let message = only_message(parse("echo.json", 1457764197627));
    assert!(message.is_echo);
    assert_eq!(message.sender_id, PAGE_ID);
    assert_eq!(message.thread_id, PSID);
    assert_eq!(message.text, "hello, world!");
}

#[test]
fn delivery_and_read_receipts_are_ignored() {
    let events = parse("receipts.json", 1458668856463);
    let reasons: Vec<_> = events
        .iter()
        .map(|e| match e {
            InboundEvent::Ignored { account_id, reason } if account_id == PAGE_ID => reason.as_str(),
            other => panic!("expected ignored, got {other:?}"),
        })
        .collect();
    assert_eq!(reasons, ["delivery event", "read event"]);
}

#[test]
fn a_postback_is_a_message_with_the_button_title() {
    let message = only_message(parse("postback.json", 1527459824000));
    assert_eq!(message.text, "Start Chatting");
    assert!(message.external_id.starts_with("m_AG5Hz2U"));
    assert_eq!(message.sent_at_ms, 1527459824000, "the documented seconds are read as seconds");
}

#[test]
fn a_page_rating_becomes_a_review() {
    let events = parse("rating.json", 1520383571000);
    let [InboundEvent::Review { account_id, review }] = events.as_slice() else {
        panic!("expected a review: {events:?}")
    };
    assert_eq!(account_id, PAGE_ID);
    assert_eq!(review.external_id, "1794523704167591");
    assert_eq!(review.author_name, "Happy Customer");
    assert_eq!(review.author_external_id.as_deref(), Some("10215678901234567"));
    assert_eq!(review.rating, Some(5));
    assert_eq!(review.body, "Great service");
    assert_eq!(review.created_at_ms, 1520383571000);
}

#[test]
fn another_object_is_malformed() {
    let body = fixture("instagram", "text_message.json");
    let result = channel("http://unused").parse_webhook_at(&body, 1569262485349);
    assert!(matches!(result, Err(WebhookError::Malformed(m)) if m.contains("instagram")));
}

#[test]
fn a_replayed_delivery_is_stale_and_a_fresh_one_is_accepted() {
    let body = fixture("messenger", "text_message.json");
    let ten_minutes_later = 1458692752478 + 10 * 60_000;
    let stale = channel("http://unused").parse_webhook_at(&body, ten_minutes_later);
    assert_eq!(stale, Err(WebhookError::Stale { age_secs: 600, max_secs: 300 }));
    // The documented payload is years old by the real clock, too.
    assert!(matches!(channel("http://unused").parse_webhook(&body, now_ms()), Err(WebhookError::Stale { .. })));

    let fresh = json!({"object": "page", "entry": [{"id": PAGE_ID, "time": now_ms(), "messaging": [{
        "sender": {"id": PSID}, "recipient": {"id": PAGE_ID}, "timestamp": now_ms(),
        "message": {"mid": "m_fresh", "text": "still there?"}}]}]});
    let events = channel("http://unused").parse_webhook(fresh.to_string().as_bytes(), now_ms()).expect("fresh");
    assert_eq!(only_message(events).text, "still there?");
}

#[test]
fn signatures_are_checked_with_the_app_secret() {
    let body = fixture("messenger", "text_message.json");
    let channel = channel("http://unused");
    let signed = headers("X-Hub-Signature-256", &sign_hub(b"app-secret", &body));
    assert_eq!(channel.verify_signature(&signed, &body), Ok(()));

    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(channel.verify_signature(&signed, &tampered), Err(WebhookError::BadSignature));
    let forged = headers("X-Hub-Signature-256", &sign_hub(b"not-the-secret", &body));
    assert_eq!(channel.verify_signature(&forged, &body), Err(WebhookError::BadSignature));
    assert_eq!(
        channel.verify_signature(&headers("content-type", "application/json"), &body),
        Err(WebhookError::MissingSignature { header: "X-Hub-Signature-256" })
    );

    let unconfigured = MessengerChannel::new(reqwest::Client::new(), "http://unused", secret(""), secret("v"), 0);
    assert_eq!(unconfigured.verify_signature(&signed, &body), Err(WebhookError::NotConfigured("Messenger")));
}

#[test]
fn the_subscription_challenge_is_echoed_as_text() {
    let channel = channel("http://unused");
    let ok = query(&[("hub.mode", "subscribe"), ("hub.challenge", "1158201444"), ("hub.verify_token", "verify-me")]);
    let answer = channel.answer_challenge(&ok).expect("our token");
    assert_eq!((answer.content_type, answer.body.as_str()), ("text/plain", "1158201444"));
    let wrong = query(&[("hub.mode", "subscribe"), ("hub.challenge", "1158201444"), ("hub.verify_token", "guess")]);
    assert!(matches!(channel.answer_challenge(&wrong), Err(WebhookError::ChallengeFailed(_))));
}

fn send_path() -> String {
    format!("/v21.0/{PAGE_ID}/messages")
}

#[tokio::test]
async fn send_posts_the_documented_body_with_the_page_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .and(header("authorization", "Bearer page-token"))
        .and(body_json(
            json!({"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text": "Thanks!"}}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"recipient_id": PSID, "message_id": "AG5Hz2U-sent"})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let sent = channel(&server.uri()).send_message(&account(PAGE_ID, "page-token"), PSID, "Thanks!").await;
    assert_eq!(sent.expect("sent").external_id, "AG5Hz2U-sent");
}

#[tokio::test]
async fn a_429_with_retry_after_is_rate_limited() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30"))
        .mount(&server)
        .await;

    let result = channel(&server.uri()).send_message(&account(PAGE_ID, "t"), PSID, "hi").await;
    assert!(
        matches!(result, Err(ConnectorError::RateLimited { retry_after: Some(d), .. }) if d == Duration::from_secs(30)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_5xx_is_unavailable_and_the_retry_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream timeout"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"recipient_id": PSID, "message_id": "m_2"})))
        .mount(&server)
        .await;

    let channel = channel(&server.uri());
    let first = channel.send_message(&account(PAGE_ID, "t"), PSID, "hi").await;
    assert!(matches!(&first, Err(e @ ConnectorError::Unavailable { .. }) if e.is_transient()), "{first:?}");
    let retried = channel.send_message(&account(PAGE_ID, "t"), PSID, "hi").await;
    assert_eq!(retried.expect("retry").external_id, "m_2");
}

#[tokio::test]
async fn graph_error_codes_decide_the_variant() {
    let cases = [
        (
            json!({"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190, "error_subcode": 463}),
            "unauthorized",
        ),
        (
            json!({"message": "(#4) Application request limit reached", "type": "OAuthException", "code": 4}),
            "rate_limited",
        ),
        (
            json!({"message": "(#613) Calls to this api have exceeded the rate limit.", "type": "OAuthException", "code": 613}),
            "rate_limited",
        ),
        (
            json!({"message": "(#551) This person isn't available right now.", "type": "OAuthException", "code": 551, "error_subcode": 1545041}),
            "rejected",
        ),
        (
            json!({"message": "(#100) No matching user found", "type": "OAuthException", "code": 100, "error_subcode": 2018001}),
            "rejected",
        ),
    ];
    for (error, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(send_path()))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({ "error": error })))
            .mount(&server)
            .await;
        let result = channel(&server.uri()).send_message(&account(PAGE_ID, "t"), PSID, "hi").await;
        let got = match result {
            Err(ConnectorError::Unauthorized { .. }) => "unauthorized",
            Err(ConnectorError::RateLimited { .. }) => "rate_limited",
            Err(ConnectorError::Rejected { status: 400, .. }) => "rejected",
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(got, expected, "for {error}");
    }
}

#[tokio::test]
async fn sending_without_a_token_is_a_missing_credential() {
    let mut no_token = account(PAGE_ID, "t");
    no_token.credentials.access_token = None;
    let result = channel("http://127.0.0.1:9").send_message(&no_token, PSID, "hi").await;
    assert!(matches!(result, Err(ConnectorError::MissingCredential { what: "access token", .. })), "{result:?}");
}

/// The User Profile API's documented answer (developers.facebook.com, Messenger Platform →
/// Identity → User Profile API), asked for the two name fields with the Page token.
#[tokio::test]
async fn a_senders_name_comes_from_the_user_profile_api() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{PSID}")))
        .and(query_param("fields", "first_name,last_name"))
        .and(header("authorization", "Bearer page-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "first_name": "Peter", "last_name": "Chang",
            "profile_pic": "https://platform-lookaside.fbsbx.com/platform/profilepic/?psid=1254459154682919",
            "id": PSID
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v21.0/no-name"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "no-name"})))
        .mount(&server)
        .await;

    let channel = channel(&server.uri());
    let name = channel.sender_name(&account(PAGE_ID, "page-token"), PSID).await.expect("looked up");
    assert_eq!(name.as_deref(), Some("Peter Chang"));
    let none = channel.sender_name(&account(PAGE_ID, "page-token"), "no-name").await.expect("looked up");
    assert_eq!(none, None, "a profile without a name gives none");
}

#[tokio::test]
async fn a_refused_profile_lookup_says_why() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{PSID}")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#100) No profile available for this user.", "type": "OAuthException", "code": 100,
            "fbtrace_id": "AbCdEf"
        }})))
        .mount(&server)
        .await;
    let result = channel(&server.uri()).sender_name(&account(PAGE_ID, "page-token"), PSID).await;
    assert!(
        matches!(&result, Err(ConnectorError::Rejected { status: 400, message, .. }) if message.contains("No profile")),
        "{result:?}"
    );
}

// ----- webhook subscription (`/{page-id}/subscribed_apps`) -----

#[tokio::test]
async fn subscribing_installs_the_app_on_the_page_with_its_fields() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PAGE_ID}/subscribed_apps")))
        .and(header("authorization", "Bearer page-token"))
        .and(query_param("subscribed_fields", "messages,messaging_postbacks,message_echoes,feed,ratings"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v21.0/{PAGE_ID}/subscribed_apps")))
        .and(header("authorization", "Bearer page-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&server)
        .await;

    let channel = channel(&server.uri());
    let page = account(PAGE_ID, "page-token");
    assert_eq!(channel.subscribe_webhooks(&page).await.expect("subscribed"), WebhookSubscription::Subscribed);
    channel.unsubscribe_webhooks(&page).await.expect("unsubscribed");
}

#[tokio::test]
async fn a_refused_subscription_says_why() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PAGE_ID}/subscribed_apps")))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "message": "(#200) To subscribe to the messages field, one of these permissions is needed: pages_messaging",
            "type": "OAuthException", "code": 200, "fbtrace_id": "AbC"}})))
        .mount(&server)
        .await;

    let refused = channel(&server.uri()).subscribe_webhooks(&account(PAGE_ID, "page-token")).await;
    match refused {
        Err(ConnectorError::Unauthorized { message, .. }) => assert!(message.contains("pages_messaging"), "{message}"),
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    let without_token = account(PAGE_ID, "x");
    let no_token = tidings_connectors::AccountRef { credentials: Default::default(), ..without_token };
    assert!(matches!(
        channel(&server.uri()).subscribe_webhooks(&no_token).await,
        Err(ConnectorError::MissingCredential { .. })
    ));
}

#[test]
fn a_meta_notification_is_routed_by_its_object() {
    use tidings_connectors::Platform;
    use tidings_connectors::messenger::meta_object_platform;
    let routed = |platform: &str, name: &str| meta_object_platform(&fixture(platform, name)).expect("a Meta object");
    assert_eq!(routed("messenger", "text_message.json"), Platform::Messenger);
    assert_eq!(routed("messenger", "rating.json"), Platform::Messenger, "Page changes share the page object");
    assert_eq!(routed("instagram", "text_message.json"), Platform::Instagram);
    assert_eq!(routed("whatsapp", "text_message.json"), Platform::Whatsapp);
    let user = meta_object_platform(br#"{"object":"user","entry":[]}"#);
    assert!(matches!(user, Err(WebhookError::Malformed(m)) if m.contains("user")));
}

#[tokio::test]
async fn a_human_agent_reply_is_a_message_tag_on_the_wire() {
    use tidings_connectors::OutgoingMessage;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .and(body_json(json!({"recipient": {"id": PSID}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT",
            "message": {"text": "Sorry for the wait: your table is booked."}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"recipient_id": PSID, "message_id": "m_tagged"})))
        .expect(1)
        .mount(&server)
        .await;

    let message = OutgoingMessage::HumanAgent("Sorry for the wait: your table is booked.".into());
    let sent = channel(&server.uri()).send(&account(PAGE_ID, "page-token"), PSID, &message).await;
    assert_eq!(sent.expect("sent").external_id, "m_tagged");
}
