//! Polling sync against a mock Google Business Profile: pages, token refresh, stopping once caught
//! up, and 429 with Retry-After.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use tidings_connectors::{Credentials, Platform};
use tidings_core::{ConnectionId, TaskId, WorkspaceId};
use tidings_server::channels::{credentials, store as channel_store};
use tidings_server::inbox::tasks;
use tidings_store::with_reader;
use wiremock::matchers::{body_string_contains, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Engine, TestApp, json};
use crate::on_both_engines;
use crate::webhooks::connect;

pub(crate) const LOCATION: &str = "accounts/1077/locations/5566";

fn review(id: &str, stars: &str, comment: &str, at: &str) -> serde_json::Value {
    json!({
        "name": format!("{LOCATION}/reviews/{id}"), "reviewId": id,
        "reviewer": {"displayName": format!("Reviewer {id}"), "profilePhotoUrl": "https://example.com/p.png"},
        "starRating": stars, "comment": comment, "createTime": at, "updateTime": at
    })
}

pub(crate) async fn spawn_with_google(engine: Engine, google: &MockServer) -> Option<TestApp> {
    let base = google.uri();
    TestApp::spawn_on(engine, move |cfg| {
        cfg.connectors.google.base_url = base.clone();
        cfg.connectors.google.token_url = format!("{base}/token");
        cfg.connectors.google.client_id = Some("client-123.apps.googleusercontent.com".into());
        cfg.connectors.google.client_secret = Some(SecretString::from("client-secret"));
    })
    .await
}

pub(crate) async fn google_connection(app: &TestApp, workspace: &WorkspaceId, expired: bool) -> ConnectionId {
    let id = connect(app, workspace, Platform::Google, LOCATION).await;
    let now = tidings_core::time::now_millis();
    let creds = Credentials {
        access_token: Some(SecretString::from("ya29.old")),
        refresh_token: Some(SecretString::from("1//refresh")),
        expires_at_ms: Some(if expired { now - 1_000 } else { now + 3_600_000 }),
        ..Credentials::default()
    };
    credentials::save(&app.state.vault, workspace, &id, &creds).await.expect("credentials stored");
    id
}

pub(crate) async fn start_sync(app: &TestApp, token: &str) -> TaskId {
    let response = app
        .as_member(token, reqwest::Method::POST, "/api/v1/reviews/sync")
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 202);
    let body = json(response).await;
    assert_eq!(body["data"]["connections"], 1);
    TaskId::parse(body["data"]["taskId"].as_str().expect("task id")).expect("task id")
}

pub(crate) async fn wait_task(app: &TestApp, workspace: &WorkspaceId, task: &TaskId) -> tasks::TaskRow {
    for _ in 0..200 {
        let row = tasks::task(&app.state.db, workspace, task).await.expect("task").expect("exists");
        if row.status.as_str() != "running" {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sync never finished");
}

async fn review_count(app: &TestApp, workspace: &WorkspaceId) -> i64 {
    with_reader!(app.state.db, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM messages WHERE workspace_id = $1 AND kind = 'review'"
    )
    .bind(workspace.as_str())
    .fetch_one(pool)
    .await)
    .expect("count")
}

async fn a_sync_pages_through_new_reviews_and_stops_when_caught_up(engine: Engine) {
    let google = MockServer::start().await;
    let Some(app) = spawn_with_google(engine, &google).await else { return };
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    let connection = google_connection(&app, &workspace, true).await;

    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=1%2F%2Frefresh"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "ya29.fresh", "expires_in": 3599, "token_type": "Bearer"})),
        )
        .expect(1)
        .mount(&google)
        .await;
    let reviews_path = format!("/v4/{LOCATION}/reviews");
    Mock::given(method("GET"))
        .and(path(reviews_path.clone()))
        .and(query_param_is_missing("pageToken"))
        .and(header("authorization", "Bearer ya29.fresh"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "reviews": [review("r3", "FIVE", "Best pastéis in town", "2026-11-20T10:00:00Z"),
                        review("r2", "TWO", "Slow service", "2026-11-19T10:00:00Z")],
            "averageRating": 3.3, "totalReviewCount": 3, "nextPageToken": "page-2"
        })))
        .mount(&google)
        .await;
    Mock::given(method("GET"))
        .and(path(reviews_path))
        .and(query_param("pageToken", "page-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "reviews": [review("r1", "THREE", "Fine", "2026-11-18T10:00:00Z")], "averageRating": 3.3, "totalReviewCount": 3
        })))
        .expect(1)
        .mount(&google)
        .await;

    let task = start_sync(&app, &session.access).await;
    let done = wait_task(&app, &workspace, &task).await;
    assert_eq!((done.status.as_str(), done.done, done.total), ("succeeded", 1, 1));
    let summary: serde_json::Value = serde_json::from_str(&done.summary).expect("summary");
    assert_eq!(summary["newReviews"], 3);
    assert_eq!(review_count(&app, &workspace).await, 3);

    let stored = credentials::load(&app.state.vault, &workspace, &connection).await.expect("credentials");
    assert!(stored.expires_at_ms.is_some_and(|at| at > tidings_core::time::now_millis()), "refreshed token kept");
    let health = channel_store::connection(&app.state.db, &workspace, &connection).await.expect("row").expect("exists");
    assert_eq!(health.status.as_str(), "active");
    assert!(health.last_synced_at.is_some() && health.last_error.is_none());
    assert!(health.next_sync_at.is_some_and(|at| at > tidings_core::time::now_millis() + 800_000), "next in ~15 min");

    // Nothing new on the first page: the second page is not read again (expect(1) above).
    let again = start_sync(&app, &session.access).await;
    assert_eq!(wait_task(&app, &workspace, &again).await.status.as_str(), "succeeded");
    assert_eq!(review_count(&app, &workspace).await, 3, "nothing stored twice");
}

on_both_engines!(a_sync_pages_through_new_reviews_and_stops_when_caught_up);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_honoured_and_recorded_on_the_connection() {
    let google = MockServer::start().await;
    let app = spawn_with_google(Engine::Sqlite, &google).await.expect("sqlite");
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    let connection = google_connection(&app, &workspace, false).await;
    Mock::given(method("GET"))
        .and(path(format!("/v4/{LOCATION}/reviews")))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "120").set_body_json(
            json!({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}),
        ))
        .mount(&google)
        .await;

    let task = start_sync(&app, &session.access).await;
    let mut health = None;
    for _ in 0..200 {
        let row =
            channel_store::connection(&app.state.db, &workspace, &connection).await.expect("row").expect("exists");
        if row.last_error.is_some() {
            health = Some(row);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let health = health.expect("the failure is recorded");
    assert_eq!(health.status.as_str(), "error");
    assert!(health.last_error.as_deref().is_some_and(|e| e.contains("rate limited")), "{:?}", health.last_error);
    // The job waits for the platform's Retry-After, not the queue's 30 s backoff.
    let run_at: i64 = with_reader!(app.state.db, |pool| sqlx::query_scalar(
        "SELECT run_at FROM jobs WHERE kind = 'sync.connection' AND state = 'ready'"
    )
    .fetch_one(pool)
    .await)
    .expect("the sync job is waiting to retry");
    let wait = run_at - tidings_core::time::now_millis();
    assert!((100_000..=121_000).contains(&wait), "retry in ~120 s, got {wait} ms");
    let row = tasks::task(&app.state.db, &workspace, &task).await.expect("task").expect("exists");
    assert_eq!(row.status.as_str(), "running", "the person's sync waits for the retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_ask_for_the_account_to_be_connected_again() {
    let google = MockServer::start().await;
    let app = spawn_with_google(Engine::Sqlite, &google).await.expect("sqlite");
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    let connection = google_connection(&app, &workspace, false).await;
    Mock::given(method("GET"))
        .and(path(format!("/v4/{LOCATION}/reviews")))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}),
        ))
        .mount(&google)
        .await;

    let task = start_sync(&app, &session.access).await;
    let done = wait_task(&app, &workspace, &task).await;
    assert_eq!(done.status.as_str(), "failed", "the person's sync reports the failure");
    let health = channel_store::connection(&app.state.db, &workspace, &connection).await.expect("row").expect("exists");
    assert_eq!(health.status.as_str(), "needs_reauth", "not a passing error: the account must be connected again");
    assert!(
        health.last_error.as_deref().is_some_and(|e| e.contains("refused the credentials")),
        "{:?}",
        health.last_error
    );
}
