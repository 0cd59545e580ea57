//! Notification destinations against local mocks: the documented request shapes, statuses and
//! error bodies of Google Chat, Slack, Twilio and SendGrid.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use tidings_connectors::ConnectorError;
use tidings_connectors::money::Money;
use tidings_connectors::notify::google_chat::GoogleChat;
use tidings_connectors::notify::sendgrid::{EmailAddress, SendGrid};
use tidings_connectors::notify::slack::Slack;
use tidings_connectors::notify::twilio::{Twilio, TwilioChannel};
use tidings_connectors::notify::{DealNotice, Message, Notifier, Template};
use tidings_connectors::pipedrive::{Names, PipedriveEvent, parse_webhook};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{fixture, form_pairs};

/// The notice for the documented v2 "deal won" delivery, with names as Pipedrive lists them.
fn won_notice() -> DealNotice {
    let PipedriveEvent::Deal(event) =
        parse_webhook(fixture("pipedrive", "v2_deal_won.json").as_bytes()).expect("parses")
    else {
        panic!("a deal event")
    };
    let names = Names {
        pipelines: [(3, "Enterprise".to_owned())].into(),
        stages: [(15, "Negotiation".to_owned())].into(),
        users: [(12154891, "Ana Ortega".to_owned())].into(),
    };
    DealNotice::from_pipedrive(&event, &names)
}

fn deal(template: Template) -> Message {
    Message::Deal { notice: won_notice(), template }
}

fn secret(value: String) -> SecretString {
    SecretString::from(value)
}

async fn only_body(server: &MockServer) -> Value {
    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 1, "exactly one request");
    serde_json::from_slice(&requests[0].body).expect("a JSON body")
}

#[test]
fn a_pipedrive_event_becomes_a_notice_with_names() {
    let notice = won_notice();
    assert_eq!(notice.headline, "Deal won");
    assert_eq!(notice.title, "Northwind Traders - 40 seats");
    assert_eq!(notice.value, Some(Money { minor: 1_250_000, currency: "EUR".into() }));
    assert_eq!((notice.pipeline.as_deref(), notice.stage.as_deref()), (Some("Enterprise"), Some("Negotiation")));
    assert_eq!(notice.owner.as_deref(), Some("Ana Ortega"));
    assert_eq!(notice.link.as_deref(), Some("https://acme-sales.pipedrive.com/deal/1138"));

    // A stage the names do not know yet still shows, by id.
    let PipedriveEvent::Deal(moved) =
        parse_webhook(fixture("pipedrive", "v2_deal_stage_changed.json").as_bytes()).expect("parses")
    else {
        panic!("a deal event")
    };
    let names = Names { stages: [(13, "Qualified".to_owned())].into(), ..Names::default() };
    assert_eq!(DealNotice::from_pipedrive(&moved, &names).headline, "Deal moved from Qualified to #14");
}

#[tokio::test]
async fn google_chat_posts_a_detailed_cards_v2_message_in_the_deals_thread() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/spaces/AAAAeYyk3Oc/messages"))
        .and(query_param("key", "chat-key"))
        .and(query_param("token", "chat-token"))
        .and(query_param("threadKey", "deal-1138"))
        .and(query_param("messageReplyOption", "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("google_chat", "message_created.json")))
        .expect(1)
        .mount(&server)
        .await;
    let url = format!("{}/v1/spaces/AAAAeYyk3Oc/messages?key=chat-key&token=chat-token", server.uri());
    let chat = GoogleChat::new(reqwest::Client::new(), secret(url)).in_thread("deal-1138");

    let delivered = chat.send(&deal(Template::Detailed)).await.expect("sent");

    assert_eq!(delivered.status, 200);
    assert_eq!(delivered.remote_id.as_deref(), Some("spaces/AAAAeYyk3Oc/messages/X0nVJm7wQ1Q.X0nVJm7wQ1Q"));
    let body = only_body(&server).await;
    assert_eq!(body["text"], "Deal won: Northwind Traders - 40 seats (12,500.00 EUR)");
    let card = &body["cardsV2"][0]["card"];
    assert_eq!(card["header"], json!({ "title": "Deal won", "subtitle": "Northwind Traders - 40 seats" }));
    assert_eq!(
        card["sections"][0]["widgets"],
        json!([
            { "decoratedText": { "topLabel": "Value", "text": "12,500.00 EUR" } },
            { "decoratedText": { "topLabel": "Pipeline", "text": "Enterprise" } },
            { "decoratedText": { "topLabel": "Stage", "text": "Negotiation" } },
            { "decoratedText": { "topLabel": "Owner", "text": "Ana Ortega" } },
            { "buttonList": { "buttons": [{ "text": "Open deal", "onClick": { "openLink": {
                "url": "https://acme-sales.pipedrive.com/deal/1138" } } }] } }
        ])
    );
}

#[tokio::test]
async fn google_chat_compact_card_has_the_value_in_the_subtitle_and_text_messages_are_escaped() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("google_chat", "message_created.json")))
        .mount(&server)
        .await;
    let chat = GoogleChat::new(reqwest::Client::new(), secret(format!("{}/hook", server.uri())));

    chat.send(&deal(Template::Compact)).await.expect("sent");
    let text = Message::Text { title: "Negative review".into(), body: "1 star: <script> & more".into(), link: None };
    chat.send(&text).await.expect("sent");

    let requests = server.received_requests().await.unwrap_or_default();
    let compact: Value = serde_json::from_slice(&requests[0].body).expect("json");
    assert_eq!(compact["cardsV2"][0]["card"]["header"]["subtitle"], "Northwind Traders - 40 seats · 12,500.00 EUR");
    let widgets = &compact["cardsV2"][0]["card"]["sections"][0]["widgets"];
    assert_eq!(widgets.as_array().map(Vec::len), Some(1), "only the button: {widgets}");
    let plain: Value = serde_json::from_slice(&requests[1].body).expect("json");
    assert_eq!(plain, json!({ "text": "*Negative review*\n1 star: &lt;script&gt; &amp; more" }));
}

#[tokio::test]
async fn google_chat_429_is_rate_limited_and_5xx_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/limited"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "12")
                .set_body_string(fixture("google_chat", "error_429.json")),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/down"))
        .respond_with(ResponseTemplate::new(503).set_body_string("unavailable"))
        .mount(&server)
        .await;
    let chat = |p: &str| GoogleChat::new(reqwest::Client::new(), secret(format!("{}{p}", server.uri())));

    let limited = chat("/limited").send(&deal(Template::Compact)).await.expect_err("429");
    assert!(
        matches!(limited, ConnectorError::RateLimited { platform: "google_chat", retry_after: Some(d) } if d == Duration::from_secs(12)),
        "{limited:?}"
    );
    let down = chat("/down").send(&deal(Template::Compact)).await.expect_err("503");
    assert!(down.is_transient(), "{down:?}");
}

#[tokio::test]
async fn slack_posts_block_kit_and_reads_its_text_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T000/B000/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    for (name, status, code) in [
        ("gone", 404, "no_service"),
        ("archived", 410, "channel_is_archived"),
        ("bad", 400, "invalid_payload"),
        ("rollup", 500, "rollup_error"),
    ] {
        Mock::given(method("POST"))
            .and(path(format!("/services/T000/B000/{name}")))
            .respond_with(ResponseTemplate::new(status).set_body_string(code))
            .mount(&server)
            .await;
    }
    let slack =
        |name: &str| Slack::new(reqwest::Client::new(), secret(format!("{}/services/T000/B000/{name}", server.uri())));

    let delivered = slack("ok").send(&deal(Template::Detailed)).await.expect("sent");
    assert_eq!(delivered.status, 200);
    let body = only_body(&server).await;
    assert_eq!(body["text"], "Deal won: Northwind Traders - 40 seats (12,500.00 EUR)");
    assert_eq!(
        body["blocks"],
        json!([
            { "type": "header", "text": { "type": "plain_text", "text": "Deal won" } },
            { "type": "section", "text": { "type": "mrkdwn",
              "text": "*<https://acme-sales.pipedrive.com/deal/1138|Northwind Traders - 40 seats>*" } },
            { "type": "section", "fields": [
                { "type": "mrkdwn", "text": "*Value*\n12,500.00 EUR" },
                { "type": "mrkdwn", "text": "*Pipeline*\nEnterprise" },
                { "type": "mrkdwn", "text": "*Stage*\nNegotiation" },
                { "type": "mrkdwn", "text": "*Owner*\nAna Ortega" }
            ] },
            { "type": "actions", "elements": [{ "type": "button", "text": { "type": "plain_text", "text": "Open deal" },
              "url": "https://acme-sales.pipedrive.com/deal/1138" }] }
        ])
    );

    let gone = slack("gone").send(&deal(Template::Compact)).await.expect_err("404");
    assert!(
        matches!(&gone, ConnectorError::Unauthorized { message, .. } if message.starts_with("no_service")),
        "{gone:?}"
    );
    let archived = slack("archived").send(&deal(Template::Compact)).await.expect_err("410");
    assert!(
        matches!(&archived, ConnectorError::Rejected { status: 410, message, .. } if message == "channel_is_archived"),
        "{archived:?}"
    );
    let bad = slack("bad").send(&deal(Template::Compact)).await.expect_err("400");
    assert!(matches!(&bad, ConnectorError::Rejected { status: 400, message, .. } if message == "invalid_payload"));
    let rollup = slack("rollup").send(&deal(Template::Compact)).await.expect_err("500");
    assert!(rollup.is_transient(), "{rollup:?}");
}

#[tokio::test]
async fn slack_compact_is_one_escaped_line() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).mount(&server).await;
    let mut notice = won_notice();
    notice.title = "A<B & C>".into();
    let message = Message::Deal { notice, template: Template::Compact };

    Slack::new(reqwest::Client::new(), secret(server.uri())).send(&message).await.expect("sent");

    let body = only_body(&server).await;
    assert_eq!(
        body["blocks"],
        json!([{ "type": "section", "text": { "type": "mrkdwn",
            "text": "*Deal won*: <https://acme-sales.pipedrive.com/deal/1138|A&lt;B &amp; C&gt;> · 12,500.00 EUR" } }])
    );
}

fn twilio(server: &MockServer, channel: TwilioChannel, to: &str) -> Twilio {
    Twilio::new(
        reqwest::Client::new(),
        server.uri(),
        "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        secret("auth-token".into()),
        channel,
        "+14155552345",
        to,
    )
}

const MESSAGES_PATH: &str = "/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Messages.json";

#[tokio::test]
async fn twilio_sends_sms_and_whatsapp_form_encoded_with_basic_auth() {
    let server = MockServer::start().await;
    // base64("ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:auth-token")
    let basic = "Basic QUNYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWDphdXRoLXRva2Vu";
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .and(header("authorization", basic))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(201).set_body_string(fixture("twilio", "message_created.json")))
        .expect(2)
        .mount(&server)
        .await;

    let sms = twilio(&server, TwilioChannel::Sms, "+14155552346").send(&deal(Template::Compact)).await.expect("sms");
    let whatsapp = twilio(&server, TwilioChannel::Whatsapp, "+14155552346")
        .send(&deal(Template::Compact))
        .await
        .expect("whatsapp");

    assert_eq!((sms.status, sms.remote_id.as_deref()), (201, Some("SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX")));
    assert_eq!(whatsapp.status, 201);
    let requests = server.received_requests().await.unwrap_or_default();
    let form = |r: &Request| form_pairs(std::str::from_utf8(&r.body).expect("utf-8"));
    let text = "Deal won: Northwind Traders - 40 seats (12,500.00 EUR)\nhttps://acme-sales.pipedrive.com/deal/1138";
    assert_eq!(
        form(&requests[0]),
        vec![
            ("To".into(), "+14155552346".into()),
            ("From".into(), "+14155552345".into()),
            ("Body".into(), text.into())
        ]
    );
    assert_eq!(
        form(&requests[1])[..2],
        [("To".into(), "whatsapp:+14155552346".into()), ("From".into(), "whatsapp:+14155552345".into())]
    );
}

#[tokio::test]
async fn twilio_whatsapp_templates_carry_the_summary_and_link_as_variables() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .respond_with(ResponseTemplate::new(201).set_body_string(fixture("twilio", "message_created.json")))
        .expect(1)
        .mount(&server)
        .await;
    let whatsapp =
        twilio(&server, TwilioChannel::Whatsapp, "+14155552346").with_template("HXb5b62575e6e4ff6129ad7c8efe1f983e");

    whatsapp.send(&deal(Template::Detailed)).await.expect("sent");

    let requests = server.received_requests().await.unwrap_or_default();
    let form = form_pairs(std::str::from_utf8(&requests[0].body).expect("utf-8"));
    assert_eq!(form[2], ("ContentSid".to_owned(), "HXb5b62575e6e4ff6129ad7c8efe1f983e".to_owned()));
    let variables: Value = serde_json::from_str(&form[3].1).expect("ContentVariables is JSON");
    assert_eq!(
        variables,
        json!({ "1": "Deal won: Northwind Traders - 40 seats (12,500.00 EUR)", "2": "https://acme-sales.pipedrive.com/deal/1138" })
    );
    assert!(form.iter().all(|(k, _)| k != "Body"), "a template replaces the free-form body");
}

#[tokio::test]
async fn twilio_errors_keep_the_twilio_code() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string(fixture("twilio", "error_21211.json")))
        .mount(&server)
        .await;

    let err = twilio(&server, TwilioChannel::Sms, "+1555").send(&deal(Template::Compact)).await.expect_err("400");

    let ConnectorError::Rejected { platform, status, message } = err else { panic!("expected Rejected, got {err:?}") };
    assert_eq!((platform, status), ("twilio_sms", 400));
    assert_eq!(message, "21211: The 'To' number +1555 is not a valid phone number.");
}

fn sendgrid(server: &MockServer) -> SendGrid {
    SendGrid::new(
        reqwest::Client::new(),
        server.uri(),
        secret("SG.key".into()),
        EmailAddress { email: "alerts@tidings.example".into(), name: Some("Tidings".into()) },
        vec![
            EmailAddress { email: "ana@acme-sales.example".into(), name: None },
            EmailAddress { email: "bram@acme-sales.example".into(), name: Some("Bram".into()) },
        ],
    )
}

#[tokio::test]
async fn sendgrid_sends_v3_mail_with_text_before_html() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(header("authorization", "Bearer SG.key"))
        .respond_with(ResponseTemplate::new(202).insert_header("X-Message-Id", "W8ek2n0aT6ulYcwn5MqzQA"))
        .expect(1)
        .mount(&server)
        .await;

    let delivered = sendgrid(&server).send(&deal(Template::Detailed)).await.expect("sent");

    assert_eq!((delivered.status, delivered.remote_id.as_deref()), (202, Some("W8ek2n0aT6ulYcwn5MqzQA")));
    let body = only_body(&server).await;
    assert_eq!(
        body["personalizations"],
        json!([{ "to": [{ "email": "ana@acme-sales.example" }, { "email": "bram@acme-sales.example", "name": "Bram" }] }])
    );
    assert_eq!(body["from"], json!({ "email": "alerts@tidings.example", "name": "Tidings" }));
    assert_eq!(body["subject"], "Deal won: Northwind Traders - 40 seats (12,500.00 EUR)");
    assert_eq!(body["content"][0]["type"], "text/plain");
    assert!(body["content"][0]["value"].as_str().is_some_and(|t| t.contains("Owner: Ana Ortega")));
    assert_eq!(body["content"][1]["type"], "text/html");
    assert!(
        body["content"][1]["value"]
            .as_str()
            .is_some_and(|h| h.contains(r#"<a href="https://acme-sales.pipedrive.com/deal/1138">Open</a>"#)),
        "{}",
        body["content"][1]
    );
}

#[tokio::test]
async fn sendgrid_errors_are_mapped_by_status() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string(fixture("sendgrid", "error_400.json")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "60"))
        .with_priority(3)
        .mount(&server)
        .await;
    let sendgrid = sendgrid(&server);

    let bad = sendgrid.send(&deal(Template::Compact)).await.expect_err("400");
    assert!(
        matches!(&bad, ConnectorError::Rejected { status: 400, message, .. } if message.contains("from.email")),
        "{bad:?}"
    );
    let refused = sendgrid.send(&deal(Template::Compact)).await.expect_err("401");
    assert!(matches!(refused, ConnectorError::Unauthorized { platform: "sendgrid", .. }), "{refused:?}");
    let limited = sendgrid.send(&deal(Template::Compact)).await.expect_err("429");
    assert!(
        matches!(limited, ConnectorError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(60))
    );
}

#[tokio::test]
async fn slack_text_message_links_its_title() {
    // A generic event (not a deal) as one mrkdwn section, matched exactly.
    let server = MockServer::start().await;
    let message = Message::Text {
        title: "Connection failing".into(),
        body: "Google stopped answering".into(),
        link: Some("https://tidings.example/settings".into()),
    };
    Mock::given(method("POST"))
        .and(body_json(json!({
            "text": "Connection failing",
            "blocks": [{ "type": "section", "text": { "type": "mrkdwn",
                "text": "*<https://tidings.example/settings|Connection failing>*\nGoogle stopped answering" } }]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;

    Slack::new(reqwest::Client::new(), secret(server.uri())).send(&message).await.expect("sent");
}
