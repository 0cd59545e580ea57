//! WhatsApp Cloud API: documented `messages` webhooks in, text messages out (against a mock Graph API).

use std::time::Duration;

use serde_json::json;
use tidings_connectors::signature::sign_hub;
use tidings_connectors::whatsapp::WhatsappChannel;
use tidings_connectors::{ConnectorError, InboundEvent, InboundMessage, MessagingChannel, WebhookError};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::messaging_support::{FIVE_MIN_MS, account, fixture, headers, query, secret};

const PHONE_NUMBER_ID: &str = "106540352242922";
const WA_ID: &str = "16505551234";

fn channel(base_url: &str) -> WhatsappChannel {
    WhatsappChannel::new(reqwest::Client::new(), base_url, secret("app-secret"), secret("verify-me"), FIVE_MIN_MS)
}

fn parse(name: &str, now_ms: i64) -> Vec<InboundEvent> {
    channel("http://unused").parse_webhook_at(&fixture("whatsapp", name), now_ms).expect("parses")
}

fn messages(events: &[InboundEvent]) -> Vec<&InboundMessage> {
    events.iter().filter_map(|e| if let InboundEvent::Message(m) = e { Some(m) } else { None }).collect()
}

#[test]
fn a_text_message_names_the_phone_number_and_the_contact() {
    let events = parse("text_message.json", 1749416383000);
    let [message] = messages(&events)[..] else { panic!("expected one message: {events:?}") };
    assert_eq!(message.account_id, PHONE_NUMBER_ID);
    assert_eq!(message.external_id, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=");
    assert_eq!(message.thread_id, WA_ID);
    assert_eq!(message.sender_id, WA_ID);
    assert_eq!(message.sender_phone.as_deref(), Some("+16505551234"));
    assert_eq!(message.sender_name.as_deref(), Some("Sheena Nelson"));
    assert_eq!(message.text, "Does it come in another color?");
    assert_eq!(message.sent_at_ms, 1749416383000);
    assert!(!message.is_echo);
}

#[test]
fn other_message_types_are_described_and_reactions_ignored() {
    let events = parse("media_and_replies.json", 1744344500000);
    let texts: Vec<&str> = messages(&events).iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "[image] Black jacket, size L",
            "[location] Main Street Store, 1 Hacker Way, Menlo Park, CA 94025 (37.483307, -122.148981)",
            "Yes, reschedule",
            "Stop promotions",
        ]
    );
    assert!(matches!(events.last(), Some(InboundEvent::Ignored { reason, .. }) if reason.starts_with("reaction")));
    assert!(messages(&events).iter().all(|m| m.sender_name.as_deref() == Some("Pablo Morales")));
}

#[test]
fn statuses_are_ignored() {
    let events = parse("status.json", 1750030073000);
    assert!(
        matches!(events.as_slice(), [InboundEvent::Ignored { account_id, reason }] if account_id == PHONE_NUMBER_ID && reason.starts_with("status delivered")),
        "{events:?}"
    );
}

#[test]
fn a_replay_is_stale() {
    let result =
        channel("http://unused").parse_webhook_at(&fixture("whatsapp", "text_message.json"), 1749416383000 + 3_600_000);
    assert_eq!(result, Err(WebhookError::Stale { age_secs: 3600, max_secs: 300 }));
}

#[test]
fn signature_and_challenge_are_metas() {
    let body = fixture("whatsapp", "text_message.json");
    let channel = channel("http://unused");
    let signed = headers("X-Hub-Signature-256", &sign_hub(b"app-secret", &body));
    assert_eq!(channel.verify_signature(&signed, &body), Ok(()));
    assert_eq!(channel.verify_signature(&signed, &body[1..]), Err(WebhookError::BadSignature));
    assert_eq!(
        channel.verify_signature(&headers("X-Hub-Signature-256", &sign_hub(b"guess", &body)), &body),
        Err(WebhookError::BadSignature)
    );
    assert!(matches!(channel.verify_signature(&Default::default(), &body), Err(WebhookError::MissingSignature { .. })));
    let ok = query(&[("hub.mode", "subscribe"), ("hub.verify_token", "verify-me"), ("hub.challenge", "7")]);
    assert_eq!(channel.answer_challenge(&ok).map(|a| a.body), Ok("7".to_owned()));
}

fn send_path() -> String {
    format!("/v21.0/{PHONE_NUMBER_ID}/messages")
}

#[tokio::test]
async fn send_posts_a_text_message_with_the_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .and(header("authorization", "Bearer system-user-token"))
        .and(body_json(json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": WA_ID,
            "type": "text",
            "text": {"preview_url": false, "body": "Yes, in navy and olive."}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": WA_ID, "wa_id": WA_ID}],
            "messages": [{"id": "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]
        })))
        .expect(1)
        .mount(&server)
        .await;

    let sent = channel(&server.uri())
        .send_message(&account(PHONE_NUMBER_ID, "system-user-token"), WA_ID, "Yes, in navy and olive.")
        .await;
    assert_eq!(sent.expect("sent").external_id, "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA");
}

async fn send_against(response: ResponseTemplate) -> Result<tidings_connectors::SentMessage, ConnectorError> {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(send_path())).respond_with(response).mount(&server).await;
    channel(&server.uri()).send_message(&account(PHONE_NUMBER_ID, "t"), WA_ID, "hi").await
}

#[tokio::test]
async fn outside_the_24_hour_window_a_template_is_required() {
    let error = json!({"error": {
        "message": "(#131047) Re-engagement message",
        "type": "OAuthException",
        "code": 131047,
        "error_data": {"messaging_product": "whatsapp", "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
        "fbtrace_id": "AbCdEf"
    }});
    let result = send_against(ResponseTemplate::new(400).set_body_json(error)).await;
    let Err(ConnectorError::Rejected { platform: "whatsapp", status: 400, message }) = result else {
        panic!("{result:?}")
    };
    assert!(message.contains("template message is required"), "{message}");
}

#[tokio::test]
async fn throughput_and_pair_limits_are_rate_limits() {
    for code in [130429, 131056] {
        let error = json!({"error": {"message": "rate limit hit", "type": "OAuthException", "code": code}});
        let result = send_against(ResponseTemplate::new(400).set_body_json(error)).await;
        assert!(matches!(result, Err(ConnectorError::RateLimited { .. })), "{code}: {result:?}");
    }
    let result = send_against(ResponseTemplate::new(429).insert_header("retry-after", "12")).await;
    assert!(
        matches!(result, Err(ConnectorError::RateLimited { retry_after: Some(d), .. }) if d == Duration::from_secs(12))
    );
}

#[tokio::test]
async fn a_5xx_is_unavailable_and_the_retry_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"messages": [{"id": "wamid.second"}]})))
        .mount(&server)
        .await;

    let channel = channel(&server.uri());
    let first = channel.send_message(&account(PHONE_NUMBER_ID, "t"), WA_ID, "hi").await;
    assert!(matches!(first, Err(ConnectorError::Unavailable { platform: "whatsapp", .. })), "{first:?}");
    let retried = channel.send_message(&account(PHONE_NUMBER_ID, "t"), WA_ID, "hi").await;
    assert_eq!(retried.expect("retry").external_id, "wamid.second");
}

#[tokio::test]
async fn a_template_is_sent_as_type_template_with_its_body_parameters() {
    use tidings_connectors::{OutgoingMessage, TemplateMessage};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .and(header("authorization", "Bearer system-user-token"))
        .and(body_json(json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": WA_ID,
            "type": "template",
            "template": {"name": "order_follow_up", "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "Lena"}, {"type": "text", "text": "#4411"}]}]}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"messages": [{"id": "wamid.template"}]})))
        .expect(1)
        .mount(&server)
        .await;

    let template = TemplateMessage {
        name: "order_follow_up".into(),
        language: "en_US".into(),
        body_parameters: vec!["Lena".into(), "#4411".into()],
    };
    let account = account(PHONE_NUMBER_ID, "system-user-token");
    let sent = channel(&server.uri()).send(&account, WA_ID, &OutgoingMessage::Template(template)).await;
    assert_eq!(sent.expect("sent").external_id, "wamid.template");

    let tagged = channel(&server.uri()).send(&account, WA_ID, &OutgoingMessage::HumanAgent("hi".into())).await;
    assert!(matches!(tagged, Err(ConnectorError::Rejected { status: 422, .. })), "{tagged:?}");
}
