//! Automations end to end: Pipedrive connected against a mock Pipedrive, its real v1 and v2
//! webhook payloads (the connectors' fixtures, from Pipedrive's documentation) posted to the
//! intake, rules evaluated from the queue, and Google Chat played by a mock.

use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tidings_core::Config;
use tidings_server::automations::dto::{
    BacktestOut, CrmConnectionOut, DeliveryOut, DestinationOut, DisconnectedOut, EventOut, RuleOut, TestOut,
};
use tidings_server::automations::model::DeliveryStatus;
use tidings_server::automations::model::Trigger;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::client::send;
use crate::helpers::{Engine, Session, TestApp};

pub(crate) const V2_WON: &str = include_str!("../../../tidings-connectors/tests/fixtures/pipedrive/v2_deal_won.json");
const V2_STAGE: &str = include_str!("../../../tidings-connectors/tests/fixtures/pipedrive/v2_deal_stage_changed.json");
const V1_WON: &str = include_str!("../../../tidings-connectors/tests/fixtures/pipedrive/v1_deal_won.json");

fn fixture(name: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tidings-connectors/tests/fixtures/pipedrive/");
    std::fs::read_to_string(format!("{dir}{name}")).expect("fixture")
}

/// `{"success": true, "data": …}`.
#[derive(Deserialize)]
pub(crate) struct Data<T> {
    pub data: T,
}

pub(crate) async fn data<T: DeserializeOwned>(request: reqwest::RequestBuilder, expected: StatusCode) -> T {
    let (status, body) = send(request).await;
    assert_eq!(status, expected, "{body}");
    serde_json::from_value::<Data<T>>(body).expect("the promised shape").data
}

/// A test app whose destinations may be on loopback (the mocks), calling Pipedrive at `pipedrive`.
pub(crate) async fn spawn(engine: Engine, pipedrive: &str, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let pipedrive = pipedrive.to_owned();
    TestApp::spawn_on(engine, move |config| {
        let automations = &mut config.connectors.automations;
        automations.allow_loopback_destinations = true;
        automations.pipedrive_base_url = pipedrive;
        automations.chat_min_interval_ms = 0;
        adjust(config);
    })
    .await
}

/// Pipedrive's API as a mock: the token check, webhook registration and deletion, names.
pub(crate) async fn mock_pipedrive() -> MockServer {
    let server = MockServer::start().await;
    let ok = |name: &str| ResponseTemplate::new(200).set_body_string(fixture(name));
    Mock::given(method("GET"))
        .and(path("/v1/users/me"))
        .and(header("x-api-token", "pd-token"))
        .respond_with(ok("users_me.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/users/me"))
        .respond_with(ResponseTemplate::new(401).set_body_string(fixture("unauthorized.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/webhooks"))
        .respond_with(ResponseTemplate::new(201).set_body_string(fixture("webhook_created.json")))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/webhooks/904218"))
        .respond_with(ok("webhook_deleted.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET")).and(path("/v1/pipelines")).respond_with(ok("pipelines.json")).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/stages"))
        .and(query_param("start", "2"))
        .respond_with(ok("stages_page2.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/stages"))
        .and(query_param("start", "0"))
        .respond_with(ok("stages_page1.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET")).and(path("/v1/users")).respond_with(ok("users.json")).mount(&server).await;
    server
}

/// A Google Chat space as a mock, answering the created message.
pub(crate) async fn mock_chat(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v1/spaces/AAA/messages")).respond_with(response).mount(&server).await;
    server
}

pub(crate) fn chat_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "name": "spaces/AAA/messages/m1" }))
}

pub(crate) async fn chat_destination(app: &TestApp, token: &str, chat: &MockServer) -> DestinationOut {
    let url = format!("{}/v1/spaces/AAA/messages?key=k&token=t", chat.uri());
    data(
        app.as_member(token, Method::POST, "/api/v1/destinations")
            .json(&json!({ "kind": "google_chat", "name": "#sales-wins", "url": url })),
        StatusCode::CREATED,
    )
    .await
}

/// The connection and the Basic auth pair Pipedrive was given for it.
struct Connected {
    connection: CrmConnectionOut,
    authorization: String,
}

async fn connect(app: &TestApp, session: &Session, pipedrive: &MockServer) -> Connected {
    let connection: CrmConnectionOut = data(
        app.as_member(&session.access, Method::POST, "/api/v1/automations/pipedrive")
            .json(&json!({ "apiToken": "pd-token", "name": "Acme sales" })),
        StatusCode::CREATED,
    )
    .await;
    let requests = pipedrive.received_requests().await.expect("recorded");
    let registration =
        requests.iter().find(|r| r.method == Method::POST && r.url.path() == "/v1/webhooks").expect("registered");
    let body: Value = serde_json::from_slice(&registration.body).expect("json");
    assert_eq!(body["subscription_url"], connection.webhook_url);
    assert_eq!(body["event_object"], "deal");
    assert_eq!(body["version"], "2.0");
    let (user, password) =
        (body["http_auth_user"].as_str().expect("user"), body["http_auth_password"].as_str().expect("pw"));
    assert_eq!(Some(user), connection.webhook_user.as_deref());
    assert_eq!(password.len(), 40);
    let authorization =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
    Connected { connection, authorization }
}

async fn deliver_webhook(app: &TestApp, connected: &Connected, body: &str) -> (StatusCode, Value) {
    send(
        app.client
            .post(app.url(&format!("/webhooks/pipedrive/{}", connected.connection.id)))
            .header("authorization", &connected.authorization)
            .header("content-type", "application/json")
            .body(body.to_owned()),
    )
    .await
}

async fn create_rule(app: &TestApp, token: &str, rule: Value) -> RuleOut {
    data(app.as_member(token, Method::POST, "/api/v1/rules").json(&rule), StatusCode::CREATED).await
}

/// Waits until `received` requests reached the mock, and returns them.
pub(crate) async fn wait_for_requests(server: &MockServer, count: usize, within: Duration) -> Vec<Request> {
    let start = Instant::now();
    loop {
        let requests = server.received_requests().await.unwrap_or_default();
        if requests.len() >= count || start.elapsed() > within {
            return requests;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the log holds a delivery matching `done`, and returns the log.
pub(crate) async fn wait_for_log(
    app: &TestApp,
    token: &str,
    query: &str,
    done: impl Fn(&[DeliveryOut]) -> bool,
) -> Vec<DeliveryOut> {
    for _ in 0..300 {
        let log: Vec<DeliveryOut> =
            data(app.as_member(token, Method::GET, &format!("/api/v1/logs{query}")), StatusCode::OK).await;
        if done(&log) {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the delivery log never got there");
}

crate::on_both_engines!(
    a_won_deal_over_the_minimum_reaches_google_chat_with_the_detailed_card,
    a_deal_below_the_minimum_is_not_sent_and_the_event_says_why,
    a_v2_stage_change_with_a_partial_previous_is_announced_with_stage_names,
    a_refused_token_is_not_saved_and_disconnecting_removes_the_webhook,
    the_intake_refuses_wrong_credentials_unknown_connections_and_garbage,
    rule_validation_names_the_bad_field,
    test_send_and_backtest_use_real_and_sample_events,
);

async fn a_won_deal_over_the_minimum_reaches_google_chat_with_the_detailed_card(engine: Engine) {
    let pipedrive = mock_pipedrive().await;
    let Some(app) = spawn(engine, &pipedrive.uri(), |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let connected = connect(&app, &ana, &pipedrive).await;
    let chat = mock_chat(chat_ok()).await;
    let destination = chat_destination(&app, &ana.access, &chat).await;
    let rule = create_rule(&app, &ana.access, json!({
        "name": "Big enterprise wins",
        "trigger": "deal_won",
        "conditions": [{ "type": "pipeline", "ids": [3] }, { "type": "minValue", "amount": "10000", "currency": "EUR" }],
        "actions": [{ "type": "notify", "destinationId": destination.id, "template": "detailed" }],
    }))
    .await;

    let sent = Instant::now();
    let (status, body) = deliver_webhook(&app, &connected, V2_WON).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["duplicate"], false);
    let requests = wait_for_requests(&chat, 1, Duration::from_secs(5)).await;
    let latency = sent.elapsed();
    assert_eq!(requests.len(), 1, "one message reached the space");
    assert!(latency < Duration::from_secs(1), "delivered in {latency:?}, more than a second");

    let card: Value = serde_json::from_slice(&requests[0].body).expect("json");
    assert_eq!(card["cardsV2"][0]["card"]["header"]["title"], "Deal won");
    assert_eq!(card["cardsV2"][0]["card"]["header"]["subtitle"], "Northwind Traders - 40 seats");
    let widgets = card["cardsV2"][0]["card"]["sections"][0]["widgets"].as_array().expect("widgets").clone();
    let field = |label: &str| {
        widgets.iter().find(|w| w["decoratedText"]["topLabel"] == label).map(|w| w["decoratedText"]["text"].clone())
    };
    assert_eq!(field("Value"), Some(json!("12,500.00 EUR")));
    assert_eq!(field("Pipeline"), Some(json!("Enterprise")), "names come from Pipedrive, not ids");
    assert_eq!(field("Stage"), Some(json!("Negotiation")));
    assert_eq!(field("Owner"), Some(json!("Ana Ortega")));
    let button = &widgets.last().expect("a button")["buttonList"]["buttons"][0];
    assert_eq!(button["onClick"]["openLink"]["url"], "https://acme-sales.pipedrive.com/deal/1138");
    let query: Vec<(String, String)> = requests[0].url.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
    assert!(query.contains(&("threadKey".into(), "deal-1138".into())), "{query:?}");

    // Pipedrive's retry of the same delivery is acknowledged and dropped.
    let (status, body) = deliver_webhook(&app, &connected, V2_WON).await;
    assert_eq!((status, &body["duplicate"]), (StatusCode::OK, &json!(true)), "{body}");
    let log =
        wait_for_log(&app, &ana.access, "", |log| log.iter().any(|d| d.status == DeliveryStatus::Delivered)).await;
    assert_eq!(log.len(), 1, "the retry sent nothing");
    let delivery = &log[0];
    assert_eq!((delivery.attempts, delivery.response_code), (1, Some(200)));
    assert_eq!(delivery.rule_id.as_ref().map(|id| id.as_str()), Some(rule.id.as_str()));
    assert_eq!(delivery.destination_name.as_deref(), Some("#sales-wins"));
    assert_eq!(delivery.remote_id.as_deref(), Some("spaces/AAA/messages/m1"));
    assert!(delivery.latency_ms.is_some());
    assert_eq!(delivery.payload["notice"]["owner"], "Ana Ortega");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(chat.received_requests().await.expect("recorded").len(), 1);

    let event: EventOut = data(
        app.as_member(
            &ana.access,
            Method::GET,
            &format!("/api/v1/automation-events/{}", delivery.event_id.as_ref().expect("event")),
        ),
        StatusCode::OK,
    )
    .await;
    assert_eq!(event.trigger, Trigger::DealWon);
    assert_eq!(event.evaluation.expect("verdicts")[0]["matched"], true);
}

async fn a_deal_below_the_minimum_is_not_sent_and_the_event_says_why(engine: Engine) {
    let pipedrive = mock_pipedrive().await;
    let Some(app) = spawn(engine, &pipedrive.uri(), |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let connected = connect(&app, &ana, &pipedrive).await;
    let chat = mock_chat(chat_ok()).await;
    let destination = chat_destination(&app, &ana.access, &chat).await;
    create_rule(
        &app,
        &ana.access,
        json!({
            "name": "Wins over 10k USD",
            "trigger": "deal_won",
            "conditions": [{ "type": "minValue", "amount": "10000.00", "currency": "USD" }],
            "actions": [{ "type": "notify", "destinationId": destination.id, "template": "detailed" }],
        }),
    )
    .await;
    // v1, a retry (`retry: 1`) of a 2,786.08 USD deal won.
    let (status, body) = deliver_webhook(&app, &connected, V1_WON).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let event = wait_for_processed_event(&app, &ana).await;
    let verdict = &event.evaluation.expect("verdicts")[0];
    assert_eq!(verdict["matched"], false);
    assert_eq!(verdict["reasons"][0], "value 2,786.08 USD is below the minimum 10,000.00 USD");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(chat.received_requests().await.expect("recorded").is_empty(), "nothing was sent");
}

/// The newest processed event, found through the backtest of a catch-all deal rule.
async fn wait_for_processed_event(app: &TestApp, session: &Session) -> EventOut {
    let rows = tidings_store::with_reader!(app.state.db, |pool| async {
        for _ in 0..100 {
            let id: Option<String> = sqlx::query_scalar(
                "SELECT id FROM automation_events WHERE status <> 'received' ORDER BY id DESC LIMIT 1",
            )
            .fetch_optional(pool)
            .await
            .expect("query");
            if id.is_some() {
                return id;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
    .await);
    let id = rows.expect("an event was processed");
    data(app.as_member(&session.access, Method::GET, &format!("/api/v1/automation-events/{id}")), StatusCode::OK).await
}

async fn a_v2_stage_change_with_a_partial_previous_is_announced_with_stage_names(engine: Engine) {
    let pipedrive = mock_pipedrive().await;
    let Some(app) = spawn(engine, &pipedrive.uri(), |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let connected = connect(&app, &ana, &pipedrive).await;
    let chat = mock_chat(chat_ok()).await;
    let destination = chat_destination(&app, &ana.access, &chat).await;
    create_rule(
        &app,
        &ana.access,
        json!({
            "name": "Proposals",
            "trigger": "deal_stage_changed",
            "match": "any",
            "conditions": [{ "type": "stage", "ids": [14] }, { "type": "owner", "ids": [1] }],
            "actions": [{ "type": "notify", "destinationId": destination.id, "template": "compact",
                         "title": "{{deal.title}}: {{deal.previousStage}} → {{deal.stage}} ({{deal.owner}})" }],
        }),
    )
    .await;
    // `previous` holds only `stage_id`: the change is read from it.
    let (status, _) = deliver_webhook(&app, &connected, V2_STAGE).await;
    assert_eq!(status, StatusCode::OK);
    let requests = wait_for_requests(&chat, 1, Duration::from_secs(5)).await;
    assert_eq!(requests.len(), 1);
    let card: Value = serde_json::from_slice(&requests[0].body).expect("json");
    assert_eq!(
        card["cardsV2"][0]["card"]["header"]["title"],
        "Northwind Traders - 40 seats: Qualified → Proposal sent (Ana Ortega)"
    );
    assert_eq!(card["cardsV2"][0]["card"]["header"]["subtitle"], "Northwind Traders - 40 seats · 12,500.00 EUR");
    // A won deal is not a stage change, although its stage changed in the same edit.
    deliver_webhook(&app, &connected, V2_WON).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(chat.received_requests().await.expect("recorded").len(), 1);
}

async fn a_refused_token_is_not_saved_and_disconnecting_removes_the_webhook(engine: Engine) {
    let pipedrive = mock_pipedrive().await;
    let Some(app) = spawn(engine, &pipedrive.uri(), |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let (status, body) = send(
        app.as_member(&ana.access, Method::POST, "/api/v1/automations/pipedrive").json(&json!({ "apiToken": "wrong" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["field"], "apiToken");
    let listed: Vec<CrmConnectionOut> =
        data(app.as_member(&ana.access, Method::GET, "/api/v1/automations/pipedrive"), StatusCode::OK).await;
    assert!(listed.is_empty(), "nothing saved");

    let connected = connect(&app, &ana, &pipedrive).await;
    let secret: Option<String> = tidings_store::with_reader!(app.state.db, |pool| sqlx::query_scalar(
        "SELECT name FROM secrets WHERE name LIKE 'automations/crm/%/api-token'"
    )
    .fetch_optional(pool)
    .await)
    .expect("query");
    assert!(secret.is_some(), "the token is in the vault");
    let plain: i64 = tidings_store::with_reader!(app.state.db, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM crm_connections WHERE webhook_ids LIKE '%pd-token%' OR names_json LIKE '%pd-token%'"
    )
    .fetch_one(pool)
    .await)
    .expect("query");
    assert_eq!(plain, 0);

    // Another workspace cannot see or remove it.
    let bo = app.signup("bo@example.com").await;
    let path = format!("/api/v1/automations/pipedrive/{}", connected.connection.id);
    let (status, _) = send(app.as_member(&bo.access, Method::DELETE, &path)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let out: DisconnectedOut = data(app.as_member(&ana.access, Method::DELETE, &path), StatusCode::OK).await;
    assert!(out.deleted && out.webhooks_removed);
    let deleted = pipedrive.received_requests().await.expect("recorded");
    let deleted = deleted.iter().find(|r| r.method == Method::DELETE).expect("the webhook was deleted in Pipedrive");
    assert_eq!(deleted.url.path(), "/v1/webhooks/904218");
    assert_eq!(deleted.headers.get("x-api-token").and_then(|v| v.to_str().ok()), Some("pd-token"));
    let (status, _) = deliver_webhook(&app, &connected, V2_WON).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a disconnected connection's URL is dead");
}

async fn the_intake_refuses_wrong_credentials_unknown_connections_and_garbage(engine: Engine) {
    let pipedrive = mock_pipedrive().await;
    let Some(app) = spawn(engine, &pipedrive.uri(), |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let mut connected = connect(&app, &ana, &pipedrive).await;
    let good = connected.authorization.clone();
    connected.authorization = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("tidings-x:nope"));
    let (status, body) = deliver_webhook(&app, &connected, V2_WON).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    connected.authorization = good;
    let (status, _) = deliver_webhook(&app, &connected, "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A person event is acknowledged and ignored.
    let (status, _) = deliver_webhook(&app, &connected, &fixture("v2_person_changed.json")).await;
    assert_eq!(status, StatusCode::OK);
    connected.connection.id =
        tidings_core::CrmConnectionId::parse("crm_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b").expect("an id");
    let (status, _) = deliver_webhook(&app, &connected, V2_WON).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let stored: i64 =
        tidings_store::with_reader!(app.state.db, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM automation_events")
            .fetch_one(pool)
            .await)
        .expect("query");
    assert_eq!(stored, 0, "nothing refused or ignored was stored");
}

async fn rule_validation_names_the_bad_field(engine: Engine) {
    let Some(app) = spawn(engine, "http://127.0.0.1:9", |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let bo = app.signup("bo@example.com").await;
    let chat = mock_chat(chat_ok()).await;
    let theirs = chat_destination(&app, &bo.access, &chat).await;
    let mine = chat_destination(&app, &ana.access, &chat).await;
    let cases = [
        (json!({ "type": "minValue", "amount": "lots", "currency": "EUR" }), &mine.id, "conditions[0].amount"),
        (json!({ "type": "stage", "ids": [] }), &mine.id, "conditions[0].ids"),
        (json!({ "type": "rating", "min": 2 }), &mine.id, "conditions[0].type"),
        (json!({ "type": "pipeline", "ids": [1] }), &theirs.id, "actions[0].destinationId"),
    ];
    for (condition, destination, field) in cases {
        let (status, body) = send(app.as_member(&ana.access, Method::POST, "/api/v1/rules").json(&json!({
            "name": "r", "trigger": "deal_won", "conditions": [condition],
            "actions": [{ "type": "notify", "destinationId": destination }],
        })))
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["details"]["field"], field, "{body}");
    }
}

async fn test_send_and_backtest_use_real_and_sample_events(engine: Engine) {
    let pipedrive = mock_pipedrive().await;
    let Some(app) = spawn(engine, &pipedrive.uri(), |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let connected = connect(&app, &ana, &pipedrive).await;
    let chat = mock_chat(chat_ok()).await;
    let destination = chat_destination(&app, &ana.access, &chat).await;
    let rule = create_rule(
        &app,
        &ana.access,
        json!({
            "name": "Every win", "trigger": "deal_won", "enabled": false,
            "actions": [{ "type": "notify", "destinationId": destination.id, "template": "compact" }],
        }),
    )
    .await;
    // A sample before any event arrived.
    let out: TestOut = data(
        app.as_member(&ana.access, Method::POST, "/api/v1/test").json(&json!({ "ruleId": rule.id })),
        StatusCode::ACCEPTED,
    )
    .await;
    assert!(out.sample && out.deliveries.len() == 1 && out.deliveries[0].test);
    let requests = wait_for_requests(&chat, 1, Duration::from_secs(5)).await;
    let card: Value = serde_json::from_slice(&requests[0].body).expect("json");
    assert_eq!(card["cardsV2"][0]["card"]["header"]["title"], "[Test] Deal won");

    // Real events: the rule is disabled, so nothing is sent, but the backtest sees them.
    deliver_webhook(&app, &connected, V2_WON).await;
    deliver_webhook(&app, &connected, V1_WON).await;
    wait_for_processed_event(&app, &ana).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let backtest: BacktestOut = data(
        app.as_member(&ana.access, Method::POST, "/api/v1/rules/backtest").json(&json!({ "rule": {
            "name": "Wins over 10k EUR", "trigger": "deal_won",
            "conditions": [{ "type": "minValue", "amount": "10000", "currency": "EUR" }],
            "actions": [{ "type": "notify", "destinationId": destination.id }],
        } })),
        StatusCode::OK,
    )
    .await;
    assert_eq!((backtest.events, backtest.matched, backtest.messages), (2, 1, 1), "{backtest:?}");
    let missed = backtest.results.iter().find(|r| !r.matched).expect("the USD deal");
    assert_eq!(missed.reasons, vec!["the deal is in USD, the minimum in EUR".to_owned()]);
    assert_eq!(
        backtest.results.iter().find(|r| r.matched).and_then(|r| r.message.clone()).as_deref(),
        Some("Deal won: Northwind Traders - 40 seats (12,500.00 EUR)")
    );
    // The most recent real event is used when no event is named.
    let out: TestOut = data(
        app.as_member(&ana.access, Method::POST, "/api/v1/test").json(&json!({ "ruleId": rule.id })),
        StatusCode::ACCEPTED,
    )
    .await;
    assert!(!out.sample && out.event_id.is_some());
    assert_eq!(wait_for_requests(&chat, 2, Duration::from_secs(5)).await.len(), 2);
    assert_eq!(chat.received_requests().await.expect("recorded").len(), 2, "the disabled rule itself sent nothing");
}
