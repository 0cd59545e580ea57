//! Salesforce sessions that expire: a sync that meets `INVALID_SESSION_ID` renews the access
//! token with the OAuth 2.0 refresh-token flow, stores it (the next sync starts with it) and
//! repeats the call once; a refused refresh fails the sync with a clear error in the delivery
//! log and marks the connection failing. Salesforce is a mock answering its documented payloads.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tidings_server::automations::crm::dto::SyncConnectionOut;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request};

use crate::automations::{data, spawn, wait_for_log};
use crate::automations_crm::{answer, create_rule, test_send};
use crate::helpers::{Engine, Session, TestApp};

crate::on_both_engines!(
    an_expired_session_is_renewed_stored_and_the_call_repeated_once,
    a_refused_refresh_fails_the_sync_and_marks_the_connection_failing,
);

const LEAD: &str = "/services/data/v60.0/sobjects/Lead/";
const TOKEN: &str = "/services/oauth2/token";
const OLD: &str = "Bearer 00D!expired";
const FRESH: &str = "Bearer 00D5e000000Abcd!AQ0AQFresh.session.token";

/// Salesforce with a session that has expired: the token check at connect time passes (the
/// session was alive then), every create with the old token is `INVALID_SESSION_ID`.
async fn expired_salesforce() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(LEAD))
        .respond_with(answer(200, "salesforce", "lead_info.json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(LEAD))
        .and(header("authorization", OLD))
        .respond_with(answer(401, "salesforce", "invalid_session.json"))
        .mount(&server)
        .await;
    server
}

/// Connects Salesforce with the refresh grant, and adds a rule syncing HOT leads to it.
async fn connect_with_refresh(app: &TestApp, ana: &Session, salesforce: &MockServer) -> SyncConnectionOut {
    let connection: SyncConnectionOut = data(
        app.as_member(&ana.access, Method::POST, "/api/v1/crm/connections").json(&json!({
            "provider": "salesforce", "accessToken": "00D!expired", "instanceUrl": salesforce.uri(),
            "refreshToken": "5Aep861refresh", "clientId": "3MVG9consumer", "clientSecret": "consumer-secret" })),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(connection.failing_since, None);
    connection
}

async fn requests_to(server: &MockServer, url_path: &str) -> Vec<Request> {
    let requests = server.received_requests().await.unwrap_or_default();
    requests.into_iter().filter(|r| r.url.path() == url_path).collect()
}

fn authorization(request: &Request) -> &str {
    request.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default()
}

async fn an_expired_session_is_renewed_stored_and_the_call_repeated_once(engine: Engine) {
    let salesforce = expired_salesforce().await;
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(answer(200, "salesforce", "token_refreshed.json"))
        .mount(&salesforce)
        .await;
    Mock::given(method("POST"))
        .and(path(LEAD))
        .and(header("authorization", FRESH))
        .respond_with(answer(201, "salesforce", "lead_created.json"))
        .mount(&salesforce)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/data/v60.0/sobjects/Task/"))
        .and(header("authorization", FRESH))
        .respond_with(answer(201, "salesforce", "task_created.json"))
        .mount(&salesforce)
        .await;
    let Some(app) = spawn(engine, "http://127.0.0.1:9", |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let connection = connect_with_refresh(&app, &ana, &salesforce).await;
    let rule = create_rule(
        &app,
        &ana.access,
        json!({ "name": "Leads", "trigger": "lead_hot",
        "actions": [{ "type": "sync_to_crm", "connectionId": connection.id }] }),
    )
    .await;

    test_send(&app, &ana.access, &rule).await;
    let log = wait_for_log(&app, &ana.access, "?status=delivered", |log| !log.is_empty()).await;
    assert_eq!(log[0].remote_id.as_deref(), Some("Lead/00Q5e00000AbCdEEAV Task/00T5e00000XyZwQEAV"));
    let refreshes = requests_to(&salesforce, TOKEN).await;
    assert_eq!(refreshes.len(), 1, "one refresh");
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&refreshes[0].body).expect("a form");
    for pair in [
        ("grant_type", "refresh_token"),
        ("client_id", "3MVG9consumer"),
        ("client_secret", "consumer-secret"),
        ("refresh_token", "5Aep861refresh"),
    ] {
        assert!(form.contains(&(pair.0.to_owned(), pair.1.to_owned())), "{pair:?} in {form:?}");
    }
    let leads: Vec<String> = requests_to(&salesforce, LEAD)
        .await
        .iter()
        .filter(|r| r.method == Method::POST)
        .map(|r| authorization(r).to_owned())
        .collect();
    assert_eq!(leads, [OLD, FRESH], "refused with the expired token, repeated once with the new one");

    // The renewed token was stored: the next sync starts with it and refreshes nothing.
    test_send(&app, &ana.access, &rule).await;
    wait_for_log(&app, &ana.access, "?status=delivered", |log| log.len() == 2).await;
    assert_eq!(requests_to(&salesforce, TOKEN).await.len(), 1, "no second refresh");
    let leads = requests_to(&salesforce, LEAD).await;
    let last = leads.iter().rfind(|r| r.method == Method::POST).expect("a Lead");
    assert_eq!(authorization(last), FRESH);
}

async fn a_refused_refresh_fails_the_sync_and_marks_the_connection_failing(engine: Engine) {
    let salesforce = expired_salesforce().await;
    Mock::given(method("POST"))
        .and(path(TOKEN))
        .respond_with(answer(400, "salesforce", "refresh_refused.json"))
        .mount(&salesforce)
        .await;
    let Some(app) = spawn(engine, "http://127.0.0.1:9", |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let connection = connect_with_refresh(&app, &ana, &salesforce).await;
    let rule = create_rule(
        &app,
        &ana.access,
        json!({ "name": "Leads", "trigger": "lead_hot",
        "actions": [{ "type": "sync_to_crm", "connectionId": connection.id }] }),
    )
    .await;

    test_send(&app, &ana.access, &rule).await;
    let log = wait_for_log(&app, &ana.access, "?status=failed", |log| !log.is_empty()).await;
    let error = log[0].error.clone().unwrap_or_default();
    assert!(error.contains("refresh token was refused (invalid_grant: expired access/refresh token)"), "{error}");
    assert!(error.contains("connect Salesforce again"), "{error}");
    assert_eq!(requests_to(&salesforce, TOKEN).await.len(), 1, "refused once, not retried");

    let connections: Vec<SyncConnectionOut> =
        data(app.as_member(&ana.access, Method::GET, "/api/v1/crm/connections"), StatusCode::OK).await;
    let failing = connections.iter().find(|c| c.id == connection.id).expect("the connection");
    assert!(failing.failing_since.is_some(), "marked failing");
    assert_eq!(failing.last_error.as_deref(), Some(error.as_str()));
}
