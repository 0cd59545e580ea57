//! Workspaces apart: live events reach only their own workspace, and another workspace's ids
//! answer 404 everywhere.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tidings_core::time::now_millis;
use tidings_core::{ConversationId, WorkspaceId};
use tidings_server::inbox::dto::{ConversationDetailOut, ConversationListOut, ReviewDetailOut, ReviewListOut};
use tidings_server::inbox::live::LiveEvent;
use tidings_server::inbox::model::ConversationStatus;

use crate::client::{expect_data, expect_status, send};
use crate::helpers::Engine;
use crate::inbox_fixtures::{
    IMPORT_FILE, Review, Shop, connection, finished_task, import, ingest_message, ingest_review, location, text,
};

async fn live_events_reach_only_their_own_workspace(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let app = &shop.app;
    let other = app.signup("other@example.com").await;
    let other_ws = WorkspaceId::parse(&other.workspace_id).expect("id");

    let mut stream = shop.client().request(Method::GET, "/api/v1/events").send().await.expect("stream opened");
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.headers()["content-type"].to_str().expect("ascii").starts_with("text/event-stream"));
    app.anonymous().get::<Value>("/api/v1/events", StatusCode::UNAUTHORIZED).await;

    let at = now_millis();
    let elsewhere = ingest_review(
        app,
        &other_ws,
        Review { platform: "google", id: "b-1", rating: 1, text: "Not yours", at, ..Default::default() },
    )
    .await;
    let mine = ingest_review(
        app,
        &shop.workspace,
        Review { platform: "google", id: "a-1", rating: 5, text: "Yours", at, ..Default::default() },
    )
    .await;
    let publish = || async {
        let events = vec![
            LiveEvent::new(&other_ws, "conversation.created", &ConversationId::parse(&elsewhere).expect("id")),
            LiveEvent::new(&shop.workspace, "conversation.created", &ConversationId::parse(&mine).expect("id")),
        ];
        app.state.live().publish(events).await;
    };
    publish().await;
    let mut received = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !received.contains(&mine) {
        assert!(tokio::time::Instant::now() < deadline, "no event arrived: {received:?}");
        match tokio::time::timeout(Duration::from_millis(500), stream.chunk()).await {
            Ok(chunk) => received.push_str(&String::from_utf8_lossy(&chunk.expect("stream").expect("open"))),
            // On PostgreSQL the event travels by NOTIFY: publish again until the listener is up.
            Err(_) => publish().await,
        }
    }
    assert!(received.contains("event: conversation.created"), "{received}");
    assert!(received.contains(&format!("\"conversationId\":\"{mine}\"")), "{received}");
    assert!(received.contains("\"type\":\"conversation.created\""), "{received}");
    assert!(!received.contains(&elsewhere), "another workspace's events never arrive: {received}");
    assert!(!received.contains("workspace"), "the workspace id is not sent: {received}");
}

async fn another_workspaces_ids_are_not_found_anywhere(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let app = &shop.app;
    let google = connection(app, &shop.workspace, "google", None).await;
    let harbour = location(app, &shop.workspace, "Harbour Street").await;
    let review = ingest_review(
        app,
        &shop.workspace,
        Review {
            platform: "google",
            connection: Some(&google),
            id: "g-1",
            rating: 3,
            text: "Mine",
            at: now_millis(),
            ..Default::default()
        },
    )
    .await;
    let thread = ingest_message(app, &shop.workspace, "whatsapp", None, "+3460000002", "Hello", now_millis()).await;
    let (_, accepted) = import(&shop, IMPORT_FILE.replace("harbour street", "").as_str()).await;
    let task = text(&accepted["data"]["taskId"]);
    finished_task(&shop, &task).await;

    let intruder = app.signup("intruder@example.com").await;
    let reply = json!({ "responseText": "Hacked" });
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/v1/reviews/{review}"), None),
        (Method::POST, format!("/api/v1/reviews/{review}/respond"), Some(reply.clone())),
        (Method::PUT, format!("/api/v1/reviews/{review}/response"), Some(reply.clone())),
        (Method::DELETE, format!("/api/v1/reviews/{review}/response"), None),
        (Method::POST, format!("/api/v1/reviews/{review}/response/posted-manually"), None),
        (Method::GET, format!("/api/v1/conversations/{thread}"), None),
        (Method::GET, format!("/api/v1/conversations/{review}"), None),
        (Method::GET, format!("/api/v1/conversations/{thread}/messages"), None),
        (Method::POST, format!("/api/v1/conversations/{thread}/messages"), Some(json!({ "text": "Hacked" }))),
        (
            Method::PATCH,
            format!("/api/v1/conversations/{thread}/assign"),
            Some(json!({ "assigneeId": intruder.user_id })),
        ),
        (Method::PATCH, format!("/api/v1/conversations/{thread}/status"), Some(json!({ "status": "closed" }))),
        (Method::GET, format!("/api/v1/tasks/{task}"), None),
    ];
    for (method, path, body) in &cases {
        let mut request = app.as_member(&intruder.access, method.clone(), path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer: Value = expect_status(request, StatusCode::NOT_FOUND).await;
        assert_eq!(answer["error"]["code"], "not_found", "{method} {path}");
    }
    // Malformed ids are simply not found; a thread is not a review.
    for path in ["/api/v1/reviews/nope", "/api/v1/conversations/cnv_nope", "/api/v1/tasks/42"] {
        let (status, _) = send(shop.client().request(Method::GET, path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    shop.client().get::<Value>(&format!("/api/v1/reviews/{thread}"), StatusCode::NOT_FOUND).await;

    let theirs: ReviewListOut =
        expect_data(app.as_member(&intruder.access, Method::GET, "/api/v1/reviews"), StatusCode::OK).await;
    assert_eq!(theirs.pagination.total, 0);
    let by_location: ConversationListOut = expect_data(
        app.as_member(&intruder.access, Method::GET, "/api/v1/conversations").query(&[("locationId", &harbour)]),
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_location.pagination.total, 0);
    let exported =
        app.as_member(&intruder.access, Method::GET, "/api/v1/reviews/export.csv").send().await.expect("sent");
    assert_eq!(exported.text().await.expect("body").lines().count(), 1, "only the header");

    let detail: ConversationDetailOut =
        shop.client().get_data(&format!("/api/v1/conversations/{thread}"), StatusCode::OK).await;
    assert_eq!(detail.conversation.status, ConversationStatus::Open, "nothing was changed");
    assert!(detail.conversation.assignee.is_none());
    assert!(detail.responses.is_empty());
    let review: ReviewDetailOut = shop.client().get_data(&format!("/api/v1/reviews/{review}"), StatusCode::OK).await;
    assert!(review.responses.is_empty());
}

crate::on_both_engines!(live_events_reach_only_their_own_workspace, another_workspaces_ids_are_not_found_anywhere,);
