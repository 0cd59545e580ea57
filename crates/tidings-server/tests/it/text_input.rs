//! Text from outside: NUL characters are removed wherever text comes in (ADR 0015), so both
//! engines keep the same text and nothing acknowledged fails later; search input that no engine
//! can search for is a 422 naming `q`, never a 5xx; dead letters are shown to operators.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tidings_connectors::Platform;
use tidings_core::{EventId, WorkspaceId};
use tidings_server::channels::webhooks::ProcessEvents;
use tidings_server::demo::deliveries::{self, Incoming};
use tidings_store::queue::NewJob;
use tidings_store::{with_reader, with_tx, with_writer};

use crate::client::{expect_status, send};
use crate::dashboard_identity::{browser, page, sign_up, submit};
use crate::dashboard_inbox::seed_review;
use crate::helpers::{Engine, TestApp};
use crate::on_both_engines;
use crate::webhooks::{connect, post, wait_for_messages};

async fn nul_characters_are_removed_from_text_at_every_entry_point(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let body: Value = expect_status(
        app.client.post(app.url("/api/v1/auth/register")).json(&json!({
            "email": "ana@example.com", "password": "correct horse battery",
            "name": "Ana\u{0} Souza", "workspaceName": "Ana's\u{0} shop"
        })),
        StatusCode::CREATED,
    )
    .await;
    let token = body["data"]["accessToken"].as_str().expect("token").to_owned();
    let (_, me) = send(app.as_member(&token, Method::GET, "/api/v1/me")).await;
    assert_eq!(me["data"]["user"]["name"], "Ana Souza", "{me}");

    app.client(&token).patch::<_, Value>("/api/v1/me", &json!({"name": "B\u{0}o"}), StatusCode::OK).await;
    let (_, me) = send(app.as_member(&token, Method::GET, "/api/v1/me")).await;
    assert_eq!(me["data"]["user"]["name"], "Bo");

    let body: Value =
        app.client(&token).post("/api/v1/locations", &json!({"name": "Main\u{0} Street"}), StatusCode::CREATED).await;
    assert_eq!(body["data"]["name"], "Main Street");

    let body: Value = app.client(&token).post("/api/v1/connections", &json!({ "platform": "yelp", "externalAccountId": "biz\u{0}-1", "displayName": "On\u{0} Yelp", "credentials": { "accessToken": "key\u{0}" }, }), StatusCode::CREATED).await;
    assert_eq!(
        (body["data"]["externalAccountId"].as_str(), body["data"]["displayName"].as_str()),
        (Some("biz-1"), Some("On Yelp"))
    );

    let file = "author,rating,text,date\nCy\0,5,Cold\0 soup,2026-01-02\n";
    expect_status::<Value>(
        app.as_member(&token, Method::POST, "/api/v1/reviews/import").header("content-type", "text/csv").body(file),
        StatusCode::ACCEPTED,
    )
    .await;
    let mut reviews = Value::Null;
    for _ in 0..600 {
        (_, reviews) = send(app.as_member(&token, Method::GET, "/api/v1/reviews")).await;
        if reviews["data"]["reviews"].as_array().is_some_and(|r| !r.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let review = &reviews["data"]["reviews"][0];
    assert_eq!((review["text"].as_str(), review["author"].as_str()), (Some("Cold soup"), Some("Cy")), "{reviews}");

    // A dashboard form: a new workspace named with a NUL.
    let client = browser();
    sign_up(&client, &app, "Uma", "uma@example.com").await;
    let response =
        submit(&client, &app, "/workspaces/new", "/workspaces/new", &[("name", "Uma\0's Second Shop")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap_or_default());
    let (_, html) = page(&client, &app, "/status").await;
    assert!(
        html.contains("Uma&#x27;s Second Shop")
            || html.contains("Uma&#39;s Second Shop")
            || html.contains("Uma's Second Shop"),
        "{html}"
    );
}

async fn a_signed_webhook_with_nul_in_its_text_reaches_the_inbox(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    connect(&app, &workspace, Platform::Messenger, "104729585").await;
    let message = Incoming {
        account_id: "104729585",
        sender_id: "psid-nul",
        sender_name: "Ana",
        message_id: "m_nul",
        text: "Table\u{0} for two",
        sent_at_ms: tidings_core::time::now_millis(),
    };
    let delivery = deliveries::message(Platform::Messenger, app.state.platforms.secrets(), &message).expect("delivery");
    assert!(delivery.body.contains("\\u0000"), "the JSON carries the escaped NUL: {}", delivery.body);
    assert_eq!(post(&app, &delivery).await.status(), StatusCode::OK);
    let conversations = wait_for_messages(&app, &workspace, 1).await;
    assert_eq!(conversations[0].preview, "Table for two");
}

/// SQL making every message insert fail, as a database refusing a value would.
fn refuse_messages_sql(engine: Engine) -> &'static [&'static str] {
    match engine {
        Engine::Sqlite => &[
            "CREATE TRIGGER refuse_messages BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        ],
        Engine::Postgres => &[
            "CREATE FUNCTION refuse_messages() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            "CREATE TRIGGER refuse_messages BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_messages()",
        ],
    }
}

async fn a_delivery_whose_job_dead_letters_is_marked_failed_with_the_reason(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    connect(&app, &workspace, Platform::Messenger, "104729585").await;
    for sql in refuse_messages_sql(engine) {
        with_writer!(app.state.db, |pool| sqlx::query(sqlx::AssertSqlSafe(*sql)).execute(pool).await.map(|_| ()))
            .expect("trigger");
    }
    let message = Incoming {
        account_id: "104729585",
        sender_id: "psid-1",
        sender_name: "Ana",
        message_id: "m_refused",
        text: "Hello",
        sent_at_ms: tidings_core::time::now_millis(),
    };
    let delivery = deliveries::message(Platform::Messenger, app.state.platforms.secrets(), &message).expect("delivery");
    let id = EventId::generate();
    let mut tx = app.state.db.begin().await.expect("tx");
    with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO raw_events (id, platform, dedup_key, body, status, received_at) VALUES ($1, 'messenger', $1, $2, 'received', $3)"
    )
    .bind(id.as_str())
    .bind(&delivery.body)
    .bind(tidings_core::time::now_millis())
    .execute(&mut **conn)
    .await
    .map(|_| ()))
    .expect("stored");
    tx.commit().await.expect("commit");
    // One attempt, so its first failure (retryable: the database refused) is its last.
    let job = NewJob::new(&ProcessEvents { event_ids: vec![id.clone()] }).expect("job").max_attempts(1);
    app.state.queue.enqueue(job).await.expect("enqueued");
    let mut row = (String::new(), None);
    for _ in 0..600 {
        row = with_reader!(app.state.db, |pool| sqlx::query_as::<_, (String, Option<String>)>(
            "SELECT status, error FROM raw_events WHERE id = $1"
        )
        .bind(id.as_str())
        .fetch_one(pool)
        .await)
        .expect("raw event");
        if row.0 != "received" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(row.0, "failed", "{row:?}");
    assert!(row.1.as_deref().is_some_and(|e| e.contains("refused by the test")), "{row:?}");
}

/// Search inputs that are syntax to one engine or another.
const AWKWARD: [&str; 16] = [
    "\"",
    "\"\"",
    "'",
    "*",
    "-",
    "-x",
    "NEAR(",
    "NEAR(a b",
    "(",
    ")",
    "a) OR (b",
    "a AND",
    "^",
    ":",
    "col:x",
    "é\u{301}",
];

async fn search_input_is_a_422_or_an_answer_never_a_5xx(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    seed_review(&app, &workspace, "google", "r1", "Ana", 2, "The soup was \"cold\" (really) - NEAR the door*").await;
    let lists = ["/api/v1/conversations", "/api/v1/reviews", "/api/v1/reviews/export.csv"];
    for list in lists {
        for q in AWKWARD {
            let response =
                app.as_member(&session.access, Method::GET, list).query(&[("q", q)]).send().await.expect("sent");
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{list}?q={q:?}: {}",
                response.text().await.unwrap_or_default()
            );
        }
        for q in ["\0", "soup\0", "a\u{7}b", "\u{1b}[2J", "\u{7f}"] {
            let body: Value = expect_status(
                app.as_member(&session.access, Method::GET, list).query(&[("q", q)]),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
            assert_eq!(body["error"]["code"], "validation_failed");
            assert_eq!(body["error"]["details"]["field"], "q", "{body}");
        }
    }
    let (_, found) =
        send(app.as_member(&session.access, Method::GET, "/api/v1/reviews").query(&[("q", "\"cold\"")])).await;
    assert_eq!(found["data"]["reviews"].as_array().map(Vec::len), Some(1), "quotes are not syntax: {found}");

    let client = browser();
    let fields = [("email", "owner@example.com"), ("password", "correct horse battery")];
    submit(&client, &app, "/sign-in", "/sign-in", &fields).await;
    for path in ["/inbox", "/reviews"] {
        for q in AWKWARD {
            let response = client.get(app.url(path)).query(&[("q", q)]).send().await.expect("sent");
            assert_eq!(response.status(), StatusCode::OK, "{path}?q={q:?}");
        }
        let response = client.get(app.url(path)).query(&[("q", "soup\0")]).send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}: the page shows the problem");
        let html = response.text().await.expect("html");
        assert!(
            html.contains(r#"id="filter-q-error""#) && html.contains("must not contain control characters"),
            "{html}"
        );
    }
}

async fn dead_letters_are_on_the_status_page_and_in_the_metrics(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    // No handler knows this kind, so its only attempt fails and it is dead-lettered.
    let job = NewJob::raw("outbound", "test.never_runs", "{}".into()).max_attempts(1);
    let id = app.state.queue.enqueue(job).await.expect("enqueue").id().to_string();
    let mut metrics = String::new();
    for _ in 0..400 {
        metrics = app.get("/metrics").await.text().await.expect("metrics");
        if metrics.contains(r#"tidings_queue_depth{queue="outbound",state="dead"} 1"#) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(metrics.contains(r#"tidings_queue_depth{queue="outbound",state="dead"} 1"#), "{metrics}");
    let html = app.get("/status").await.text().await.expect("html");
    assert!(html.contains(&id) && html.contains("test.never_runs") && html.contains("(1 in all)"), "{html}");
}

on_both_engines!(
    nul_characters_are_removed_from_text_at_every_entry_point,
    a_signed_webhook_with_nul_in_its_text_reaches_the_inbox,
    search_input_is_a_422_or_an_answer_never_a_5xx,
    dead_letters_are_on_the_status_page_and_in_the_metrics,
    a_delivery_whose_job_dead_letters_is_marked_failed_with_the_reason
);
