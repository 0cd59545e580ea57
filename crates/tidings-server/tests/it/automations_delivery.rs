//! Delivery of notifications against local mocks: retries, 429 `Retry-After`, timeouts opening
//! the circuit breaker (and telling the workspace), no double post after a crash between the
//! send and its record, signed webhooks, in-app notifications, SSRF refusals, roles and tenancy.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tidings_core::WorkspaceId;
use tidings_server::automations::delivery::{Deliver, PurgeLogs};
use tidings_server::automations::dto::{DeliveryOut, DestinationOut, RuleOut};
use tidings_server::automations::dto_notifications::NotificationsOut;
use tidings_server::automations::members::NotificationKind;
use tidings_server::automations::model::DeliveryStatus;
use tidings_store::queue::NewJob;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::automations::{chat_destination, chat_ok, data, mock_chat, spawn, wait_for_log, wait_for_requests};
use crate::client::send;
use crate::helpers::{Engine, TestApp};

crate::on_both_engines!(
    a_500_then_a_200_posts_once_after_a_retry,
    a_429_waits_for_its_retry_after,
    timeouts_open_the_breaker_and_the_workspace_is_told,
    a_crash_between_sending_and_recording_never_posts_twice,
    signed_webhooks_carry_standard_webhooks_signatures_and_rotate,
    in_app_notifications_reach_the_bell,
    destinations_on_internal_addresses_are_refused,
    roles_decide_who_manages_automations_and_other_workspaces_see_nothing,
    the_daily_purge_removes_deliveries_older_than_90_days,
);

async fn test_destination(app: &TestApp, token: &str, destination: &DestinationOut) -> DeliveryOut {
    data(
        app.as_member(token, Method::POST, &format!("/api/v1/destinations/{}/test", destination.id)),
        StatusCode::ACCEPTED,
    )
    .await
}

async fn a_500_then_a_200_posts_once_after_a_retry(engine: Engine) {
    let Some(app) = spawn(engine, "http://127.0.0.1:9", |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let chat = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/spaces/AAA/messages"))
        .respond_with(ResponseTemplate::new(500).set_body_string("backend error"))
        .up_to_n_times(1)
        .mount(&chat)
        .await;
    Mock::given(method("POST")).and(path("/v1/spaces/AAA/messages")).respond_with(chat_ok()).mount(&chat).await;
    let destination = chat_destination(&app, &ana.access, &chat).await;
    let delivery = test_destination(&app, &ana.access, &destination).await;
    let log = wait_for_log(&app, &ana.access, "?status=delivered", |log| !log.is_empty()).await;
    assert_eq!(log[0].id, delivery.id);
    assert_eq!((log[0].attempts, log[0].response_code, log[0].error.as_deref()), (2, Some(200), None));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let requests = chat.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 2, "one failed attempt and one post");
    assert_eq!(requests[0].body, requests[1].body, "the retry sends the same message");
}

async fn a_429_waits_for_its_retry_after(engine: Engine) {
    let Some(app) = spawn(engine, "http://127.0.0.1:9", |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let chat = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/spaces/AAA/messages"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3").set_body_json(json!({
            "error": { "code": 429, "status": "RESOURCE_EXHAUSTED" } })))
        .up_to_n_times(1)
        .mount(&chat)
        .await;
    Mock::given(method("POST")).and(path("/v1/spaces/AAA/messages")).respond_with(chat_ok()).mount(&chat).await;
    let destination = chat_destination(&app, &ana.access, &chat).await;
    test_destination(&app, &ana.access, &destination).await;
    let first = wait_for_requests(&chat, 1, Duration::from_secs(5)).await;
    assert_eq!(first.len(), 1);
    let log = wait_for_log(&app, &ana.access, "", |log| {
        log.first().is_some_and(|d| d.attempts == 1 && d.status == DeliveryStatus::Queued)
    })
    .await;
    assert_eq!(log[0].response_code, Some(429), "the refusal is in the log");
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(chat.received_requests().await.expect("recorded").len(), 1, "nothing before Retry-After (3 s) passed");
    let log = wait_for_log(&app, &ana.access, "?status=delivered", |log| !log.is_empty()).await;
    assert_eq!(log[0].attempts, 2);
}

async fn timeouts_open_the_breaker_and_the_workspace_is_told(engine: Engine) {
    let Some(app) = spawn(engine, "http://127.0.0.1:9", |config| {
        config.connectors.automations.send_timeout_secs = 1;
        config.connectors.automations.breaker_failures = 2;
        config.connectors.automations.breaker_open_secs = 600;
    })
    .await
    else {
        return;
    };
    let ana = app.signup("ana@example.com").await;
    let chat = mock_chat(chat_ok().set_delay(Duration::from_secs(5))).await;
    let destination = chat_destination(&app, &ana.access, &chat).await;
    test_destination(&app, &ana.access, &destination).await;
    let mut bell = None;
    for _ in 0..150 {
        let out: NotificationsOut =
            data(app.as_member(&ana.access, Method::GET, "/api/v1/notifications"), StatusCode::OK).await;
        if out.unread > 0 {
            bell = Some(out);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bell = bell.expect("the workspace was told");
    assert_eq!(bell.items[0].kind, NotificationKind::DestinationPaused);
    assert_eq!(bell.items[0].title, "#sales-wins is paused");
    let paused: DestinationOut = data(
        app.as_member(&ana.access, Method::GET, &format!("/api/v1/destinations/{}", destination.id)),
        StatusCode::OK,
    )
    .await;
    assert!(paused.paused_until.is_some() && paused.last_error.is_some(), "{paused:?}");
    assert!(paused.enabled, "paused, not silently disabled");
    let log = wait_for_log(&app, &ana.access, "", |log| log.first().is_some_and(|d| d.attempts >= 2)).await;
    assert!(log[0].error.as_deref().is_some_and(|e| e.contains("unavailable")), "{:?}", log[0].error);
    // While open, nothing more is attempted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(chat.received_requests().await.expect("recorded").len(), 2);
    let read: NotificationsOut =
        data(app.as_member(&ana.access, Method::POST, "/api/v1/notifications/read"), StatusCode::OK).await;
    assert_eq!(read.unread, 0);
}

async fn a_crash_between_sending_and_recording_never_posts_twice(engine: Engine) {
    let Some(app) = spawn(engine, "http://127.0.0.1:9", |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let chat = mock_chat(chat_ok()).await;
    let destination = chat_destination(&app, &ana.access, &chat).await;
    let delivery = test_destination(&app, &ana.access, &destination).await;
    wait_for_log(&app, &ana.access, "?status=delivered", |log| !log.is_empty()).await;
    // As if the process died after the post but before recording it: `sending`, and the job again.
    tidings_store::with_writer!(app.state.db, |pool| sqlx::query(
        "UPDATE automation_deliveries SET status = 'sending' WHERE id = $1"
    )
    .bind(&delivery.id)
    .execute(pool)
    .await
    .map(|_| ()))
    .expect("update");
    let workspace = WorkspaceId::parse(&ana.workspace_id).expect("id");
    let job = Deliver { workspace_id: workspace.clone(), delivery_id: delivery.id.clone() };
    app.state.queue.enqueue(NewJob::new(&job).expect("job").workspace(workspace)).await.expect("enqueued");
    let log = wait_for_log(&app, &ana.access, "?status=unconfirmed", |log| !log.is_empty()).await;
    assert!(log[0].error.as_deref().is_some_and(|e| e.contains("interrupted")));
    assert_eq!(chat.received_requests().await.expect("recorded").len(), 1, "not posted a second time");
    // A person may send it again from the log.
    let retried: DeliveryOut = data(
        app.as_member(&ana.access, Method::POST, &format!("/api/v1/logs/{}/retry", delivery.id)),
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(retried.status, DeliveryStatus::Queued);
    wait_for_log(&app, &ana.access, "?status=delivered", |log| !log.is_empty()).await;
    assert_eq!(chat.received_requests().await.expect("recorded").len(), 2);
    let (status, _) =
        send(app.as_member(&ana.access, Method::POST, &format!("/api/v1/logs/{}/retry", delivery.id))).await;
    assert_eq!(status, StatusCode::CONFLICT, "a delivered message is not retried");
}

async fn signed_webhooks_carry_standard_webhooks_signatures_and_rotate(engine: Engine) {
    let Some(app) = spawn(engine, "http://127.0.0.1:9", |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/tidings"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let created: DestinationOut = data(
        app.as_member(&ana.access, Method::POST, "/api/v1/destinations")
            .json(&json!({ "kind": "webhook", "name": "Ops", "url": format!("{}/hooks/tidings", receiver.uri()) })),
        StatusCode::CREATED,
    )
    .await;
    let secret = created.signing_secret.clone().expect("shown once");
    let listed: DestinationOut =
        data(app.as_member(&ana.access, Method::GET, &format!("/api/v1/destinations/{}", created.id)), StatusCode::OK)
            .await;
    assert!(listed.signing_secret.is_none(), "never shown again");
    let delivery = test_destination(&app, &ana.access, &created).await;
    let requests = wait_for_requests(&receiver, 1, Duration::from_secs(5)).await;
    let header =
        |name: &str| requests[0].headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(header("webhook-id"), delivery.id.as_str(), "the delivery id, so a receiver drops repeats");
    let key = tidings_connectors::standard_webhooks::WebhookSecret::parse(&secret).expect("whsec");
    let timestamp: i64 = header("webhook-timestamp").parse().expect("timestamp");
    let expected = key.sign(&header("webhook-id"), timestamp, &requests[0].body);
    assert!(header("webhook-signature").split(' ').any(|s| s == expected), "signed with the destination's secret");
    let body: Value = serde_json::from_slice(&requests[0].body).expect("json");
    assert_eq!(body["type"], "tidings.notification");

    let rotated: DestinationOut = data(
        app.as_member(&ana.access, Method::POST, &format!("/api/v1/destinations/{}/rotate-secret", created.id)),
        StatusCode::OK,
    )
    .await;
    let fresh = rotated.signing_secret.expect("the new secret");
    assert_ne!(fresh, secret);
    test_destination(&app, &ana.access, &created).await;
    let requests = wait_for_requests(&receiver, 2, Duration::from_secs(5)).await;
    let signatures = requests[1].headers.get("webhook-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(signatures.split(' ').count(), 2, "both secrets sign during the overlap: {signatures}");
    let chat = mock_chat(chat_ok()).await;
    let chat_destination = chat_destination(&app, &ana.access, &chat).await;
    let (status, _) = send(app.as_member(
        &ana.access,
        Method::POST,
        &format!("/api/v1/destinations/{}/rotate-secret", chat_destination.id),
    ))
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn in_app_notifications_reach_the_bell(engine: Engine) {
    let Some(app) = spawn(engine, "http://127.0.0.1:9", |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let bell: DestinationOut = data(
        app.as_member(&ana.access, Method::POST, "/api/v1/destinations")
            .json(&json!({ "kind": "in_app", "name": "Bell" })),
        StatusCode::CREATED,
    )
    .await;
    let rule: RuleOut = data(
        app.as_member(&ana.access, Method::POST, "/api/v1/rules").json(&json!({
            "name": "Negative reviews", "trigger": "negative_review",
            "conditions": [{ "type": "rating", "max": 2 }],
            "actions": [{ "type": "notify", "destinationId": bell.id, "template": "detailed" }],
        })),
        StatusCode::CREATED,
    )
    .await;
    let _: Value = data(
        app.as_member(&ana.access, Method::POST, "/api/v1/test").json(&json!({ "ruleId": rule.id })),
        StatusCode::ACCEPTED,
    )
    .await;
    wait_for_log(&app, &ana.access, "?status=delivered", |log| !log.is_empty()).await;
    let out: NotificationsOut =
        data(app.as_member(&ana.access, Method::GET, "/api/v1/notifications"), StatusCode::OK).await;
    assert_eq!(out.unread, 1);
    assert_eq!(out.items[0].title, "[Test] Negative review: 2★ on google");
    assert!(out.items[0].body.contains("the food was cold"), "{}", out.items[0].body);
}

async fn destinations_on_internal_addresses_are_refused(engine: Engine) {
    // Not in development: loopback is refused too.
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let cases = [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://93.184.216.34/hook", "http is allowed only to loopback"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
        ("https://localhost/hook", "loopback"),
        ("ftp://93.184.216.34/hook", "only https"),
        ("https://user:pw@example.com/hook", "user name or password"),
    ];
    for (url, reason) in cases {
        for kind in ["google_chat", "webhook"] {
            let (status, body) = send(
                app.as_member(&ana.access, Method::POST, "/api/v1/destinations")
                    .json(&json!({ "kind": kind, "name": "x", "url": url })),
            )
            .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
            assert_eq!(body["error"]["code"], "destination_refused", "{url}: {body}");
            assert_eq!(body["error"]["details"]["field"], "url");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(reason), "{url}: {message}");
        }
    }
    let listed: Vec<DestinationOut> =
        data(app.as_member(&ana.access, Method::GET, "/api/v1/destinations"), StatusCode::OK).await;
    assert!(listed.is_empty());
}

pub(crate) async fn key_with_role(app: &TestApp, token: &str, role: &str) -> String {
    let body: Value =
        app.client(token).post("/api/v1/api-keys", &json!({ "name": role, "role": role }), StatusCode::CREATED).await;
    body["data"]["key"].as_str().expect("key").to_owned()
}

async fn roles_decide_who_manages_automations_and_other_workspaces_see_nothing(engine: Engine) {
    let Some(app) = spawn(engine, "http://127.0.0.1:9", |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let chat = mock_chat(chat_ok()).await;
    let destination = chat_destination(&app, &ana.access, &chat).await;
    let rule: RuleOut = data(
        app.as_member(&ana.access, Method::POST, "/api/v1/rules").json(&json!({
            "name": "Wins", "trigger": "deal_won", "actions": [{ "type": "notify", "destinationId": destination.id }],
        })),
        StatusCode::CREATED,
    )
    .await;
    let delivery = test_destination(&app, &ana.access, &destination).await;
    let viewer = key_with_role(&app, &ana.access, "viewer").await;
    let agent = key_with_role(&app, &ana.access, "agent").await;
    let manager = key_with_role(&app, &ana.access, "manager").await;
    let new_destination = json!({ "kind": "in_app", "name": "Bell" });
    for token in [&viewer, &agent] {
        // The bell is a member's own: keys are refused it (notifications.rs).
        for path in ["/api/v1/destinations", "/api/v1/rules", "/api/v1/logs"] {
            let (status, _) = send(app.as_member(token, Method::GET, path)).await;
            assert_eq!(status, StatusCode::OK, "members read {path}");
        }
        let writes = [
            (Method::POST, "/api/v1/destinations".to_owned(), new_destination.clone()),
            (Method::POST, "/api/v1/test".to_owned(), json!({ "ruleId": rule.id })),
            (Method::PATCH, format!("/api/v1/rules/{}", rule.id), json!({ "enabled": false })),
            (Method::DELETE, format!("/api/v1/destinations/{}", destination.id), json!({})),
            (Method::POST, format!("/api/v1/logs/{}/retry", delivery.id), json!({})),
            (Method::POST, "/api/v1/automations/pipedrive".to_owned(), json!({ "apiToken": "x" })),
        ];
        for (method, path, body) in writes {
            let (status, _) = send(app.as_member(token, method.clone(), &path).json(&body)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        }
    }
    let (status, _) = send(app.as_member(&manager, Method::POST, "/api/v1/destinations").json(&new_destination)).await;
    assert_eq!(status, StatusCode::CREATED, "managers run automations");
    let (status, _) =
        send(app.as_member(&manager, Method::POST, "/api/v1/automations/pipedrive").json(&json!({ "apiToken": "x" })))
            .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "connecting a CRM is for owners and admins");
    let rule_off: RuleOut = data(
        app.as_member(&manager, Method::PATCH, &format!("/api/v1/rules/{}", rule.id))
            .json(&json!({ "enabled": false })),
        StatusCode::OK,
    )
    .await;
    assert!(!rule_off.enabled);

    let bo = app.signup("bo@example.com").await;
    let paths = [
        (Method::GET, format!("/api/v1/destinations/{}", destination.id)),
        (Method::PATCH, format!("/api/v1/destinations/{}", destination.id)),
        (Method::DELETE, format!("/api/v1/destinations/{}", destination.id)),
        (Method::POST, format!("/api/v1/destinations/{}/test", destination.id)),
        (Method::GET, format!("/api/v1/rules/{}", rule.id)),
        (Method::PUT, format!("/api/v1/rules/{}", rule.id)),
        (Method::DELETE, format!("/api/v1/rules/{}", rule.id)),
        (Method::GET, format!("/api/v1/logs/{}", delivery.id)),
        (Method::POST, format!("/api/v1/logs/{}/retry", delivery.id)),
    ];
    let rule_body = json!({ "name": "x", "trigger": "deal_won", "actions": [{ "type": "notify", "destinationId": destination.id }] });
    for (method, path) in paths {
        let body = if method == Method::PUT { rule_body.clone() } else { json!({}) };
        let (status, answer) = send(app.as_member(&bo.access, method.clone(), &path).json(&body)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
    }
    let (status, _) =
        send(app.as_member(&bo.access, Method::POST, "/api/v1/test").json(&json!({ "ruleId": rule.id }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for path in ["/api/v1/destinations", "/api/v1/rules", "/api/v1/logs"] {
        let listed: Vec<Value> = data(app.as_member(&bo.access, Method::GET, path), StatusCode::OK).await;
        assert!(listed.is_empty(), "{path} shows another workspace's rows");
    }
    let (status, _) = send(app.client.get(app.url("/api/v1/rules"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn the_daily_purge_removes_deliveries_older_than_90_days(engine: Engine) {
    let Some(app) = spawn(engine, "http://127.0.0.1:9", |_| {}).await else { return };
    let ana = app.signup("ana@example.com").await;
    let chat = mock_chat(chat_ok()).await;
    let destination = chat_destination(&app, &ana.access, &chat).await;
    let old = test_destination(&app, &ana.access, &destination).await;
    let recent = test_destination(&app, &ana.access, &destination).await;
    wait_for_log(&app, &ana.access, "?status=delivered", |log| log.len() == 2).await;
    let ninety_one_days_ago = tidings_core::time::now_millis() - 91 * 86_400_000;
    tidings_store::with_writer!(app.state.db, |pool| sqlx::query(
        "UPDATE automation_deliveries SET created_at = $1 WHERE id = $2"
    )
    .bind(ninety_one_days_ago)
    .bind(&old.id)
    .execute(pool)
    .await
    .map(|_| ()))
    .expect("update");
    app.state.queue.enqueue(NewJob::new(&PurgeLogs {}).expect("job")).await.expect("enqueued");
    let log = wait_for_log(&app, &ana.access, "", |log| log.len() == 1).await;
    assert_eq!(log[0].id, recent.id, "only the old delivery was purged");
    let (status, _) = send(app.as_member(&ana.access, Method::GET, &format!("/api/v1/logs/{}", old.id))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
