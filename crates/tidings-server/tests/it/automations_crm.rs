//! CRM sync end to end, against mocks answering with the CRMs' documented payloads (the
//! connectors' fixtures): a HOT lead from a Messenger webhook is pushed to HubSpot as a contact,
//! a deal and a note — once, though the deal call failed the first time — with the conversation
//! assigned by the same rule (audited as the rule); erasing the contact deletes the records in
//! HubSpot; a 429's `Retry-After` is waited for; a refused token is a 422; a Salesforce Lead gets
//! the documented `LastName`/`Company` fallbacks; Pipedrive pushes a person, deal and note with
//! the connection's token; roles and other workspaces.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tidings_connectors::Platform;
use tidings_core::{ContactId, WorkspaceId};
use tidings_server::automations::crm::dto::{MappingOut, SyncConnectionOut};
use tidings_server::automations::delivery::Deliver;
use tidings_server::automations::dto::{BacktestOut, DeliveryOut, RuleOut, TestOut};
use tidings_server::automations::model::DeliveryStatus;
use tidings_server::demo::deliveries::{self, Incoming};
use tidings_store::queue::NewJob;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::automations::{data, mock_pipedrive, spawn, wait_for_log};
use crate::automations_delivery::key_with_role;
use crate::client::send;
use crate::helpers::{Engine, TestApp};
use crate::webhooks::{connect, post};

crate::on_both_engines!(
    a_hot_lead_reaches_hubspot_once_though_retried_and_erasure_deletes_it,
    a_429_from_hubspot_waits_for_its_retry_after,
    refused_tokens_are_422_and_roles_and_other_workspaces_are_kept_out,
    a_salesforce_lead_without_last_name_or_company_gets_the_documented_fallbacks,
    pipedrive_pushes_a_person_a_deal_and_a_note_with_the_connections_token,
);

const PAGE_ID: &str = "104729585";

fn fixture(crm: &str, name: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tidings-connectors/tests/fixtures/");
    std::fs::read_to_string(format!("{dir}{crm}/{name}")).expect("fixture")
}

pub(crate) fn answer(status: u16, crm: &str, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_string(fixture(crm, name)).insert_header("content-type", "application/json")
}

/// A HubSpot batch answer holding one documented object.
fn batch_of(name: &str) -> ResponseTemplate {
    let object: Value = serde_json::from_str(&fixture("hubspot", name)).expect("a fixture");
    ResponseTemplate::new(201).set_body_json(json!({ "status": "COMPLETE", "results": [object],
        "startedAt": "2025-04-16T10:05:12.001Z", "completedAt": "2025-04-16T10:05:12.090Z" }))
}

/// HubSpot as a mock: the token check takes `pat-good` only; contacts, deals and notes answer
/// their documented payloads.
async fn mock_hubspot() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/account-info/v3/details"))
        .and(wiremock::matchers::header("authorization", "Bearer pat-good"))
        .respond_with(answer(200, "hubspot", "account_details.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/account-info/v3/details"))
        .respond_with(answer(401, "hubspot", "unauthorized.json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/notes/batch/create"))
        .respond_with(answer(201, "hubspot", "notes_batch_created.json"))
        .mount(&server)
        .await;
    server
}

async fn hits(server: &MockServer, verb: &str, url_path: &str) -> usize {
    let requests: Vec<Request> = server.received_requests().await.unwrap_or_default();
    requests.iter().filter(|r| r.method.as_str() == verb && r.url.path() == url_path).count()
}

async fn spawn_with_hubspot(engine: Engine, hubspot: &MockServer, pipedrive: &str) -> Option<TestApp> {
    let url = hubspot.uri();
    spawn(engine, pipedrive, move |config| config.connectors.automations.hubspot_base_url = url).await
}

async fn connect_hubspot(app: &TestApp, token: &str) -> SyncConnectionOut {
    data(
        app.as_member(token, Method::POST, "/api/v1/crm/connections")
            .json(&json!({ "provider": "hubspot", "accessToken": "pat-good", "name": "Acme HubSpot" })),
        StatusCode::CREATED,
    )
    .await
}

pub(crate) async fn create_rule(app: &TestApp, token: &str, rule: Value) -> RuleOut {
    data(app.as_member(token, Method::POST, "/api/v1/rules").json(&rule), StatusCode::CREATED).await
}

/// Test-sends a rule with a made-up event.
pub(crate) async fn test_send(app: &TestApp, token: &str, rule: &RuleOut) -> TestOut {
    data(
        app.as_member(token, Method::POST, "/api/v1/test").json(&json!({ "ruleId": rule.id, "sample": true })),
        StatusCode::ACCEPTED,
    )
    .await
}

/// A Messenger message asking for prices (scored HOT by the pipeline), from `psid-dana`.
async fn hot_message(app: &TestApp, workspace: &WorkspaceId) {
    connect(app, workspace, Platform::Messenger, PAGE_ID).await;
    let incoming = Incoming {
        account_id: PAGE_ID,
        sender_id: "psid-dana",
        sender_name: "Dana Whitfield",
        message_id: "m_price",
        text: "Hi! What's the price of the Pro plan, and is it available today? I need it asap.",
        sent_at_ms: tidings_core::time::now_millis(),
    };
    let delivery =
        deliveries::message(Platform::Messenger, app.state.platforms.secrets(), &incoming).expect("delivery");
    assert_eq!(post(app, &delivery).await.status(), StatusCode::OK);
}

async fn a_hot_lead_reaches_hubspot_once_though_retried_and_erasure_deletes_it(engine: Engine) {
    let hubspot = mock_hubspot().await;
    // Messenger gives no email: the contact is created, not upserted.
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(answer(201, "hubspot", "contact_created.json"))
        .mount(&hubspot)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/deals/batch/create"))
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&hubspot)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/deals/batch/create"))
        .respond_with(batch_of("deal_created.json"))
        .with_priority(2)
        .mount(&hubspot)
        .await;
    for (verb, url_path, status) in [
        ("POST", "/crm/v3/objects/contacts/gdpr-delete", 204),
        ("DELETE", "/crm/v3/objects/deals/9001", 204),
        ("DELETE", "/crm/v3/objects/notes/77001", 204),
    ] {
        Mock::given(method(verb)).and(path(url_path)).respond_with(ResponseTemplate::new(status)).mount(&hubspot).await;
    }
    let Some(app) = spawn_with_hubspot(engine, &hubspot, "http://127.0.0.1:9").await else { return };
    let ana = app.signup("ana@example.com").await;
    let workspace = WorkspaceId::parse(&ana.workspace_id).expect("workspace");
    let connection = connect_hubspot(&app, &ana.access).await;
    assert_eq!((connection.provider.as_str(), connection.account_name.as_str()), ("hubspot", "HubSpot account 62515"));
    let rule = create_rule(
        &app,
        &ana.access,
        json!({ "name": "HOT leads to HubSpot", "trigger": "lead_hot", "actions": [
            { "type": "sync_to_crm", "connectionId": connection.id, "objects": ["contact", "deal", "note"] },
            { "type": "assign", "memberId": ana.user_id },
        ] }),
    )
    .await;
    assert_eq!(rule.actions[0]["type"], "sync_to_crm", "{:?}", rule.actions);

    hot_message(&app, &workspace).await;

    let log = wait_for_log(&app, &ana.access, "?status=delivered", |log| !log.is_empty()).await;
    let synced = &log[0];
    assert_eq!(synced.crm_connection_id.as_ref().map(|id| id.as_str()), Some(connection.id.as_str()));
    assert_eq!(
        (synced.destination_name.as_deref(), synced.destination_id.as_ref().map(|id| id.as_str())),
        (Some("Acme HubSpot"), None)
    );
    assert_eq!(synced.attempts, 2, "the 502 on the deal was retried: {synced:?}");
    assert_eq!(synced.remote_id.as_deref(), Some("contacts/513 deals/9001 notes/77001"));
    // Without a profile lookup the inbox names a Messenger sender by its id; that name is sent.
    assert_eq!(synced.payload["sync"]["lead"]["contact"]["displayName"], "messenger user dana");
    // The contact was created once: the retry skipped the step already recorded.
    assert_eq!(hits(&hubspot, "POST", "/crm/v3/objects/contacts").await, 1);
    assert_eq!(hits(&hubspot, "POST", "/crm/v3/objects/deals/batch/create").await, 2);
    assert_eq!(hits(&hubspot, "POST", "/crm/v3/objects/notes/batch/create").await, 1);
    let requests = hubspot.received_requests().await.unwrap_or_default();
    let contact = requests.iter().find(|r| r.url.path() == "/crm/v3/objects/contacts").expect("contact created");
    let body: Value = serde_json::from_slice(&contact.body).expect("json");
    assert_eq!(
        body["properties"],
        json!({ "firstname": "messenger user", "lastname": "dana", "lifecyclestage": "lead", "hs_lead_status": "NEW" })
    );

    // A job run again for a delivered sync sends nothing more.
    let id = synced.id.clone();
    let job = NewJob::new(&Deliver { workspace_id: workspace.clone(), delivery_id: id }).expect("job");
    app.state.queue.enqueue(job).await.expect("enqueued");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(hubspot.received_requests().await.unwrap_or_default().len(), requests.len(), "nothing sent twice");

    // The same rule assigned the conversation, audited as the rule.
    let audit: Value = app.client(&ana.access).get("/api/v1/audit-logs", StatusCode::OK).await;
    let entries = audit["data"]["entries"].as_array().or(audit["data"].as_array()).cloned().unwrap_or_default();
    let assigned = entries.iter().find(|e| e["action"] == "conversation.assigned").expect("audited");
    assert_eq!(
        (assigned["actor"]["type"].as_str(), assigned["actor"]["id"].as_str()),
        (Some("rule"), Some(rule.id.as_str()))
    );

    // The backtest says what each action would have done.
    let backtest: BacktestOut = data(
        app.as_member(&ana.access, Method::POST, "/api/v1/rules/backtest").json(&json!({ "ruleId": rule.id })),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        backtest.results[0].actions,
        vec![
            "sync messenger user dana to Acme HubSpot (contact, deal, note)".to_owned(),
            "assign the conversation to ".to_owned() + &member_name(&app, &ana.access).await,
        ]
    );

    // Erasing the contact deletes what was created in HubSpot, the contact by GDPR delete.
    let contact_id = conversation_contact(&app, &ana.access).await;
    let erased = app.state.automations.erase_contact_from_crms(&workspace, &contact_id).await.expect("erased");
    assert_eq!((erased.deleted, erased.failed.len(), erased.unreachable.len()), (3, 0, 0), "{erased:?}");
    assert_eq!(hits(&hubspot, "POST", "/crm/v3/objects/contacts/gdpr-delete").await, 1);
    assert_eq!(hits(&hubspot, "DELETE", "/crm/v3/objects/deals/9001").await, 1);
    assert_eq!(hits(&hubspot, "DELETE", "/crm/v3/objects/notes/77001").await, 1);
    let again = app.state.automations.erase_contact_from_crms(&workspace, &contact_id).await.expect("erased");
    assert_eq!(again.deleted, 0, "nothing left to delete");
}

async fn member_name(app: &TestApp, token: &str) -> String {
    let me: Value = app.client(token).get("/api/v1/me", StatusCode::OK).await;
    me["data"]["name"].as_str().or(me["data"]["user"]["name"].as_str()).unwrap_or_default().to_owned()
}

async fn conversation_contact(app: &TestApp, token: &str) -> ContactId {
    let list: Value = app.client(token).get("/api/v1/conversations?kind=thread", StatusCode::OK).await;
    let id = list["data"]["conversations"][0]["id"].as_str().expect("a conversation").to_owned();
    let thread: Value = app.client(token).get(&format!("/api/v1/conversations/{id}"), StatusCode::OK).await;
    let contact = thread["data"]["contactId"].as_str().or(thread["data"]["contact"]["id"].as_str());
    ContactId::parse(contact.unwrap_or_else(|| panic!("a contact in {thread}"))).expect("contact id")
}

async fn a_429_from_hubspot_waits_for_its_retry_after(engine: Engine) {
    let hubspot = mock_hubspot().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(answer(429, "hubspot", "rate_limited.json").insert_header("retry-after", "3"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&hubspot)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(answer(201, "hubspot", "contact_created.json"))
        .with_priority(2)
        .mount(&hubspot)
        .await;
    let Some(app) = spawn_with_hubspot(engine, &hubspot, "http://127.0.0.1:9").await else { return };
    let ana = app.signup("ana@example.com").await;
    let connection = connect_hubspot(&app, &ana.access).await;
    let rule = create_rule(
        &app,
        &ana.access,
        json!({ "name": "Contacts", "trigger": "message_received", "actions": [
            { "type": "sync_to_crm", "connectionId": connection.id, "objects": ["contact", "note"] },
            { "type": "set_status", "status": "closed" },
        ] }),
    )
    .await;

    let sent = test_send(&app, &ana.access, &rule).await;
    assert_eq!(sent.deliveries.len(), 1, "the sync is sent; set status is only described");
    assert!(sent.deliveries[0].test);
    assert_eq!(sent.actions[1], "would set the conversation's status to closed (not applied in a test)");

    let log = wait_for_log(&app, &ana.access, "", |log| {
        log.first().is_some_and(|d| d.attempts == 1 && d.status == DeliveryStatus::Queued)
    })
    .await;
    assert_eq!(log[0].response_code, Some(429), "the refusal is in the log: {:?}", log[0]);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(hits(&hubspot, "POST", "/crm/v3/objects/contacts").await, 1, "nothing before Retry-After (3 s)");
    let log = wait_for_log(&app, &ana.access, "?status=delivered", |log| !log.is_empty()).await;
    assert_eq!((log[0].attempts, log[0].remote_id.as_deref()), (2, Some("contacts/513 notes/77001")));
    assert_eq!(hits(&hubspot, "POST", "/crm/v3/objects/deals/batch/create").await, 0, "no deal was asked for");
}

async fn refused_tokens_are_422_and_roles_and_other_workspaces_are_kept_out(engine: Engine) {
    let hubspot = mock_hubspot().await;
    let salesforce = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/services/data/v60.0/sobjects/Lead/"))
        .respond_with(answer(401, "salesforce", "invalid_session.json"))
        .mount(&salesforce)
        .await;
    let Some(app) = spawn_with_hubspot(engine, &hubspot, "http://127.0.0.1:9").await else { return };
    let ana = app.signup("ana@example.com").await;
    let connect_with = |body: Value| app.as_member(&ana.access, Method::POST, "/api/v1/crm/connections").json(&body);

    let (status, body) = send(connect_with(json!({ "provider": "hubspot", "accessToken": "pat-revoked" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["field"], "accessToken");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("HubSpot refused this token")), "{body}");
    let salesforce_in = json!({ "provider": "salesforce", "accessToken": "expired", "instanceUrl": salesforce.uri() });
    let (status, body) = send(connect_with(salesforce_in)).await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("accessToken"))
    );
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("INVALID_SESSION_ID")), "{body}");
    let (status, body) = send(connect_with(json!({ "provider": "salesforce", "accessToken": "t" }))).await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("instanceUrl"))
    );
    let listed: Vec<SyncConnectionOut> =
        data(app.as_member(&ana.access, Method::GET, "/api/v1/crm/connections"), StatusCode::OK).await;
    assert!(listed.is_empty(), "nothing saved for refused tokens");

    let connection = connect_hubspot(&app, &ana.access).await;
    // Validation names the action's field, like conditions.
    let bad_rule = |actions: Value| {
        app.as_member(&ana.access, Method::POST, "/api/v1/rules")
            .json(&json!({ "name": "x", "trigger": "lead_hot", "actions": actions }))
    };
    for (actions, field) in [
        (
            json!([{ "type": "sync_to_crm", "connectionId": connection.id }, { "type": "assign", "memberId": "ana" }]),
            "actions[1].memberId",
        ),
        (json!([{ "type": "assign", "memberId": "usr_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b" }]), "actions[0].memberId"),
        (json!([{ "type": "set_status", "status": "pending" }]), "actions[0].status"),
        (json!([{ "type": "sync_to_crm", "connectionId": connection.id, "objects": ["deal"] }]), "actions[0].objects"),
    ] {
        let (status, body) = send(bad_rule(actions)).await;
        assert_eq!(
            (status, body["error"]["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}"
        );
    }
    // A mapping is validated field by field: "Sales Qualified Lead" is a lifecycle stage.
    let (status, body) = send(
        app.as_member(&ana.access, Method::PUT, "/api/v1/crm/mappings/hubspot")
            .json(&json!({ "leadStatus": "SALES_QUALIFIED_LEAD" })),
    )
    .await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("mapping.leadStatus"))
    );
    let saved: MappingOut = data(
        app.as_member(&ana.access, Method::PUT, "/api/v1/crm/mappings/hubspot")
            .json(&json!({ "lifecycleStage": "salesqualifiedlead", "leadStatus": "OPEN" })),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (saved.mapping["lifecycleStage"].as_str(), saved.mapping["dealPipeline"].as_str()),
        (Some("salesqualifiedlead"), Some("default"))
    );

    // Roles: members read; only owners and admins connect CRMs and edit mappings.
    let viewer = key_with_role(&app, &ana.access, "viewer").await;
    let manager = key_with_role(&app, &ana.access, "manager").await;
    let _: Vec<SyncConnectionOut> =
        data(app.as_member(&viewer, Method::GET, "/api/v1/crm/connections"), StatusCode::OK).await;
    let _: MappingOut =
        data(app.as_member(&viewer, Method::GET, "/api/v1/crm/mappings/salesforce"), StatusCode::OK).await;
    for token in [&viewer, &manager] {
        let (status, _) = send(
            app.as_member(token, Method::POST, "/api/v1/crm/connections")
                .json(&json!({ "provider": "hubspot", "accessToken": "pat-good" })),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) =
            send(app.as_member(token, Method::PUT, "/api/v1/crm/mappings/hubspot").json(&json!({}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    // Another workspace sees none of it.
    let bob = app.signup("bob@example.com").await;
    let theirs: Vec<SyncConnectionOut> =
        data(app.as_member(&bob.access, Method::GET, "/api/v1/crm/connections"), StatusCode::OK).await;
    assert!(theirs.is_empty());
    let (status, _) =
        send(app.as_member(&bob.access, Method::DELETE, &format!("/api/v1/crm/connections/{}", connection.id))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = send(app.as_member(&bob.access, Method::POST, "/api/v1/rules").json(&json!({
        "name": "x", "trigger": "lead_hot", "actions": [{ "type": "sync_to_crm", "connectionId": connection.id }] })))
    .await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("actions[0].connectionId"))
    );
    let bobs: MappingOut =
        data(app.as_member(&bob.access, Method::GET, "/api/v1/crm/mappings/hubspot"), StatusCode::OK).await;
    assert!(!bobs.customised, "mappings are per workspace");
    let (status, _) = send(app.as_member(&ana.access, Method::GET, "/api/v1/crm/mappings/zoho")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let _: Value =
        app.client(&ana.access).delete(&format!("/api/v1/crm/connections/{}", connection.id), StatusCode::OK).await;
}

async fn a_salesforce_lead_without_last_name_or_company_gets_the_documented_fallbacks(engine: Engine) {
    let salesforce = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/services/data/v60.0/sobjects/Lead/"))
        .respond_with(answer(200, "salesforce", "lead_info.json"))
        .mount(&salesforce)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/data/v60.0/sobjects/Lead/"))
        .respond_with(answer(201, "salesforce", "lead_created.json"))
        .mount(&salesforce)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/data/v60.0/sobjects/Task/"))
        .and(body_partial_json(json!({ "WhoId": "00Q5e00000AbCdEEAV", "Status": "Completed" })))
        .respond_with(answer(201, "salesforce", "task_created.json"))
        .mount(&salesforce)
        .await;
    let Some(app) = spawn(engine, "http://127.0.0.1:9", |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let connection: SyncConnectionOut = data(
        app.as_member(&ana.access, Method::POST, "/api/v1/crm/connections")
            .json(&json!({ "provider": "salesforce", "accessToken": "00D!session", "instanceUrl": salesforce.uri() })),
        StatusCode::CREATED,
    )
    .await;
    let _: MappingOut = data(
        app.as_member(&ana.access, Method::PUT, "/api/v1/crm/mappings/salesforce")
            .json(&json!({ "missingCompany": "Individual" })),
        StatusCode::OK,
    )
    .await;
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
    let requests = salesforce.received_requests().await.unwrap_or_default();
    let lead = requests.iter().find(|r| r.method == Method::POST && r.url.path().ends_with("/Lead/")).expect("a Lead");
    let body: Value = serde_json::from_slice(&lead.body).expect("json");
    // A social contact has a display name only: its last word is the LastName, and Company is
    // the workspace's fallback; the deal goes into the Description (a Lead has no deal).
    assert_eq!(body["FirstName"], "Sample");
    assert_eq!(body["LastName"], "Customer");
    assert_eq!(body["Company"], "Individual");
    assert_eq!(body["LeadSource"], "Tidings");
    assert_eq!(body["Description"], "Google lead: Sample Customer");
}

async fn pipedrive_pushes_a_person_a_deal_and_a_note_with_the_connections_token(engine: Engine) {
    let pipedrive = mock_pipedrive().await;
    for (url_path, name) in
        [("/v1/persons", "person_created.json"), ("/v1/deals", "deal_created.json"), ("/v1/notes", "note_created.json")]
    {
        Mock::given(method("POST"))
            .and(path(url_path))
            .and(wiremock::matchers::header("x-api-token", "pd-token"))
            .respond_with(answer(201, "pipedrive", name))
            .mount(&pipedrive)
            .await;
    }
    let Some(app) = spawn(engine, &pipedrive.uri(), |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let connected: Value = app
        .client(&ana.access)
        .post("/api/v1/automations/pipedrive", &json!({ "apiToken": "pd-token" }), StatusCode::CREATED)
        .await;
    let connection = connected["data"]["id"].as_str().expect("id").to_owned();
    let rule = create_rule(
        &app,
        &ana.access,
        json!({ "name": "Pipedrive leads", "trigger": "lead_hot",
            "actions": [{ "type": "sync_to_crm", "connectionId": connection }] }),
    )
    .await;

    let sent = test_send(&app, &ana.access, &rule).await;
    assert_eq!(sent.actions, vec!["sync Sample Customer to Pipedrive (contact, deal, note)".to_owned()]);

    let log: Vec<DeliveryOut> = wait_for_log(&app, &ana.access, "?status=delivered", |log| !log.is_empty()).await;
    assert_eq!(log[0].remote_id.as_deref(), Some("persons/802 deals/1139 notes/5501"));
    let requests = pipedrive.received_requests().await.unwrap_or_default();
    let posted =
        |p: &str| requests.iter().filter(|r| r.method == Method::POST && r.url.path() == p).collect::<Vec<_>>();
    let (persons, deals, notes) = (posted("/v1/persons"), posted("/v1/deals"), posted("/v1/notes"));
    assert_eq!((persons.len(), deals.len(), notes.len()), (1, 1, 1));
    let deal: Value = serde_json::from_slice(&deals[0].body).expect("json");
    assert_eq!((deal["title"].as_str(), deal["person_id"].as_i64()), (Some("Google lead: Sample Customer"), Some(802)));
    let note: Value = serde_json::from_slice(&notes[0].body).expect("json");
    assert_eq!((note["person_id"].as_i64(), note["deal_id"].as_i64()), (Some(802), Some(1139)));
    let (status, _) =
        send(app.as_member(&ana.access, Method::DELETE, &format!("/api/v1/crm/connections/{connection}"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "Pipedrive is removed by disconnecting it");
}
