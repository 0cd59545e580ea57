//! Pipedrive: the API client against a mock, and webhook payloads v1 and v2 from the docs.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tidings_connectors::ConnectorError;
use tidings_connectors::money::Money;
use tidings_connectors::pipedrive::{
    DealEventKind, NewWebhook, PipedriveClient, PipedriveEvent, WebhookCredentials, WebhookVersion, parse_webhook,
};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{fixture, ms};

const TOKEN: &str = "659c9fddb16335e48cc67114694b52074e812e03";

fn client(server: &MockServer) -> PipedriveClient {
    PipedriveClient::new(reqwest::Client::new(), server.uri(), SecretString::from(TOKEN))
}

fn deal_event(name: &str) -> tidings_connectors::pipedrive::DealEvent {
    match parse_webhook(fixture("pipedrive", name).as_bytes()).expect("parses") {
        PipedriveEvent::Deal(event) => *event,
        other => panic!("expected a deal event from {name}, got {other:?}"),
    }
}

#[tokio::test]
async fn the_token_is_checked_in_the_x_api_token_header() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/users/me"))
        .and(header("x-api-token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("pipedrive", "users_me.json")))
        .expect(1)
        .mount(&server)
        .await;

    let me = client(&server).me().await.expect("valid token");

    assert_eq!((me.id, me.name.as_str()), (12154891, "Ana Ortega"));
    assert_eq!(me.company_domain.as_deref(), Some("acme-sales"));
    let requests = server.received_requests().await.unwrap_or_default();
    assert!(!requests[0].url.as_str().contains(TOKEN), "the token never goes in the URL");
}

#[tokio::test]
async fn a_refused_token_is_unauthorized() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/users/me"))
        .respond_with(ResponseTemplate::new(401).set_body_string(fixture("pipedrive", "unauthorized.json")))
        .mount(&server)
        .await;

    let err = client(&server).me().await.expect_err("401");

    let ConnectorError::Unauthorized { platform, message } = err else { panic!("expected Unauthorized, got {err:?}") };
    assert_eq!(platform, "pipedrive");
    assert!(message.contains("unauthorized access"), "{message}");
}

#[tokio::test]
async fn rate_limits_wait_for_x_ratelimit_reset_when_there_is_no_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/users/me"))
        .respond_with(ResponseTemplate::new(429).insert_header("x-ratelimit-reset", "7"))
        .mount(&server)
        .await;

    let err = client(&server).me().await.expect_err("429");

    let ConnectorError::RateLimited { retry_after, .. } = err else { panic!("expected RateLimited, got {err:?}") };
    assert_eq!(retry_after, Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn a_v2_webhook_is_registered_with_basic_auth_credentials_and_deleted() {
    let server = MockServer::start().await;
    let credentials = WebhookCredentials { user: "tidings-user".into(), password: SecretString::from("pw-0123456789") };
    Mock::given(method("POST"))
        .and(path("/v1/webhooks"))
        .and(header("x-api-token", TOKEN))
        .and(body_json(serde_json::json!({
            "subscription_url": "https://tidings.example.com/webhooks/pipedrive/con_0192f0c4",
            "event_action": "*",
            "event_object": "deal",
            "http_auth_user": "tidings-user",
            "http_auth_password": "pw-0123456789",
            "version": "2.0"
        })))
        .respond_with(ResponseTemplate::new(201).set_body_string(fixture("pipedrive", "webhook_created.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/webhooks/904218"))
        .and(header("x-api-token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("pipedrive", "webhook_deleted.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/webhooks/1"))
        .respond_with(ResponseTemplate::new(404).set_body_string(r#"{"success":false,"error":"Webhook not found"}"#))
        .mount(&server)
        .await;
    let pipedrive = client(&server);

    let webhook = pipedrive
        .register_webhook(&NewWebhook {
            subscription_url: "https://tidings.example.com/webhooks/pipedrive/con_0192f0c4",
            event_action: "*",
            event_object: "deal",
            credentials: &credentials,
            version: WebhookVersion::V2,
        })
        .await
        .expect("registered");
    assert_eq!(webhook.id, 904218);
    assert_eq!(credentials.password.expose_secret(), "pw-0123456789");

    pipedrive.delete_webhook(webhook.id).await.expect("deleted");
    pipedrive.delete_webhook(1).await.expect("one already gone counts as deleted");
}

#[tokio::test]
async fn names_of_pipelines_stages_and_users_follow_pagination() {
    let server = MockServer::start().await;
    let ok = |name: &str| ResponseTemplate::new(200).set_body_string(fixture("pipedrive", name));
    Mock::given(method("GET")).and(path("/v1/pipelines")).respond_with(ok("pipelines.json")).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/stages"))
        .and(query_param("start", "0"))
        .and(query_param("limit", "500"))
        .respond_with(ok("stages_page1.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/stages"))
        .and(query_param("start", "2"))
        .respond_with(ok("stages_page2.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET")).and(path("/v1/users")).respond_with(ok("users.json")).mount(&server).await;

    let names = client(&server).names().await.expect("names");

    assert_eq!(names.pipelines.get(&3).map(String::as_str), Some("Enterprise"));
    assert_eq!(names.stages.len(), 3, "both pages of stages");
    assert_eq!(names.stages.get(&15).map(String::as_str), Some("Negotiation"));
    assert_eq!(names.users.get(&12154902).map(String::as_str), Some("Bram de Vries"));
}

#[test]
fn v1_stage_change_is_read_from_the_whole_previous_object() {
    let event = deal_event("v1_deal_stage_changed.json");

    assert_eq!(event.kind, DealEventKind::StageChanged { from: 13, to: 14 });
    assert_eq!(event.version, WebhookVersion::V1);
    assert_eq!(event.deal.id, 1138);
    assert_eq!(event.deal.title, "Northwind Traders - 40 seats");
    assert_eq!(event.deal.value, Some(Money { minor: 278_608, currency: "USD".into() }));
    assert_eq!((event.deal.pipeline_id, event.deal.stage_id, event.deal.owner_id), (Some(3), Some(14), Some(12154891)));
    assert_eq!(event.delivery.attempt, 1);
    assert_eq!(event.delivery.dedup_key, "v1:904217:deal:1138:1727447128384700");
    assert_eq!(event.occurred_at_ms, Some(1_727_447_128_384));
    assert_eq!(event.deal_url().as_deref(), Some("https://acme-sales.pipedrive.com/deal/1138"));
}

#[test]
fn v1_won_and_its_retry_share_a_dedup_key() {
    let event = deal_event("v1_deal_won.json");
    assert_eq!(event.kind, DealEventKind::Won);
    assert_eq!(event.deal.status, "won");
    assert_eq!(event.delivery.attempt, 2, "retry 1 is the second attempt");

    let mut first: serde_json::Value = serde_json::from_str(&fixture("pipedrive", "v1_deal_won.json")).expect("json");
    first["retry"] = 0.into();
    let PipedriveEvent::Deal(first) = parse_webhook(first.to_string().as_bytes()).expect("parses") else {
        panic!("a deal")
    };
    assert_eq!(first.delivery.dedup_key, event.delivery.dedup_key);
}

#[test]
fn v1_added_deal() {
    let event = deal_event("v1_deal_added.json");
    assert_eq!(event.kind, DealEventKind::Added);
    assert_eq!(event.deal.stage_id, Some(13));
}

#[test]
fn v2_stage_change_is_read_from_a_partial_previous() {
    let event = deal_event("v2_deal_stage_changed.json");

    assert_eq!(event.kind, DealEventKind::StageChanged { from: 13, to: 14 });
    assert_eq!(event.version, WebhookVersion::V2);
    assert_eq!(event.deal.value, Some(Money { minor: 1_250_000, currency: "EUR".into() }));
    assert_eq!(event.deal.owner_id, Some(12154891), "v2 names the owner owner_id");
    assert_eq!(event.delivery.event_id.as_deref(), Some("4f2c6a2e-8a43-4d1e-b5a8-0f1b9c7d6e21"));
    assert_eq!(event.delivery.dedup_key, "v2:4f2c6a2e-8a43-4d1e-b5a8-0f1b9c7d6e21");
    assert_eq!(event.delivery.webhook_id.as_deref(), Some("904218"));
    assert_eq!(event.occurred_at_ms, Some(ms("2025-04-15T15:39:01.120Z")));
    assert_eq!(event.actor_user_id, Some(12154891), "ids as strings are read too");
}

#[test]
fn v2_won_outranks_the_stage_change_made_in_the_same_edit() {
    let event = deal_event("v2_deal_won.json");
    assert_eq!(event.kind, DealEventKind::Won);
    assert_eq!(event.delivery.attempt, 2);
    assert_eq!(deal_event("v2_deal_lost.json").kind, DealEventKind::Lost);
}

#[test]
fn v2_create_and_plain_updates() {
    assert_eq!(deal_event("v2_deal_created.json").kind, DealEventKind::Added);
    let updated = deal_event("v2_deal_updated.json");
    assert_eq!(updated.kind, DealEventKind::Updated, "title and value changed, stage and status did not");
    assert_eq!(updated.deal.value, Some(Money { minor: 1_875_050, currency: "EUR".into() }));
}

#[test]
fn a_partial_previous_without_the_field_is_no_change() {
    // A v2 edit of the title while the deal is won: `status` is absent from `previous`, so the
    // deal did not *become* won now.
    let mut payload: serde_json::Value =
        serde_json::from_str(&fixture("pipedrive", "v2_deal_updated.json")).expect("json");
    payload["data"]["status"] = "won".into();
    let PipedriveEvent::Deal(event) = parse_webhook(payload.to_string().as_bytes()).expect("parses") else {
        panic!("a deal")
    };
    assert_eq!(event.kind, DealEventKind::Updated);
}

#[test]
fn other_objects_and_deletions_are_ignored_with_a_reason() {
    let person = parse_webhook(fixture("pipedrive", "v2_person_changed.json").as_bytes()).expect("parses");
    assert_eq!(person, PipedriveEvent::Ignored { reason: "change person".into() });

    let mut deleted: serde_json::Value =
        serde_json::from_str(&fixture("pipedrive", "v2_deal_created.json")).expect("json");
    deleted["meta"]["action"] = "delete".into();
    assert_eq!(
        parse_webhook(deleted.to_string().as_bytes()).expect("parses"),
        PipedriveEvent::Ignored { reason: "delete deal".into() }
    );
}

#[test]
fn malformed_deliveries_are_refused() {
    assert!(parse_webhook(b"not json").is_err());
    assert!(parse_webhook(br#"{"meta":{"version":"2.0","entity":"deal","action":"change"},"data":null}"#).is_err());
    assert!(parse_webhook(br#"{"meta":{"v":1,"object":"deal","action":"updated"},"current":{"title":"x"}}"#).is_err());
}
