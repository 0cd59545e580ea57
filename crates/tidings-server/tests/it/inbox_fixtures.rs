//! What the inbox tests share: a signed-up shop, locations and connections stored directly,
//! reviews and messages stored through the ingest path the platforms use.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tidings_connectors::{FetchedReply, FetchedReview, InboundMessage};
use tidings_core::{ConnectionId, LocationId, WorkspaceId};
use tidings_server::channels::store as channel_store;
use tidings_server::identity::dto::NewApiKeyOut;
use tidings_server::inbox::dto::{ReviewListOut, TaskOut};
use tidings_server::inbox::ingest::{self, Ingested, Source};
use tidings_server::inbox::tasks::TaskStatus;

use crate::client::{Client, expect_data, expect_status, send};
use crate::helpers::{Engine, Session, TestApp};

pub const MINUTE: i64 = 60_000;

/// A signed-up owner and their workspace.
pub struct Shop {
    pub app: TestApp,
    pub owner: Session,
    pub workspace: WorkspaceId,
}

impl Shop {
    pub async fn open(engine: Engine) -> Option<Shop> {
        let app = TestApp::spawn_on(engine, |_| {}).await?;
        let owner = app.signup("owner@example.com").await;
        let workspace = WorkspaceId::parse(&owner.workspace_id).expect("workspace id");
        Some(Shop { app, owner, workspace })
    }

    /// The owner's API client.
    pub fn client(&self) -> Client<'_> {
        self.app.client(&self.owner.access)
    }

    /// The ids of the reviews `GET /reviews?{query}` lists.
    pub async fn review_ids(&self, query: &[(&str, &str)]) -> Vec<String> {
        let page: ReviewListOut =
            expect_data(self.client().request(Method::GET, "/api/v1/reviews").query(query), StatusCode::OK).await;
        page.reviews.into_iter().map(|review| review.id.into()).collect()
    }

    /// The ids of the conversations `/api/v1/conversations?q=…` finds, in order.
    pub async fn search(&self, q: &str) -> Vec<String> {
        let query = [("q", q), ("limit", "50")];
        let body: Value =
            expect_status(self.client().request(Method::GET, "/api/v1/conversations").query(&query), StatusCode::OK)
                .await;
        conversation_ids(&body)
    }
}

pub fn conversation_ids(body: &Value) -> Vec<String> {
    body["data"]["conversations"].as_array().expect("conversations").iter().map(|c| text(&c["id"])).collect()
}

pub fn text(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("a string, not {value}")).to_owned()
}

pub async fn location(app: &TestApp, workspace: &WorkspaceId, name: &str) -> String {
    let id = LocationId::generate();
    let fields = channel_store::LocationFields { name: name.into(), timezone: "UTC".into(), ..Default::default() };
    let mut tx = app.state.db.begin_for_tenant(workspace).await.expect("tx");
    channel_store::insert_location(&mut tx, workspace, &id, &fields).await.expect("location");
    tx.commit().await.expect("commit");
    id.to_string()
}

pub async fn connection(app: &TestApp, workspace: &WorkspaceId, platform: &str, location: Option<&str>) -> String {
    let id = ConnectionId::generate();
    let location = location.map(|l| LocationId::parse(l).expect("location id"));
    let account = format!("{platform}-account-{id}");
    let new = channel_store::NewConnection {
        id: &id,
        location_id: location.as_ref(),
        platform,
        external_account_id: &account,
        display_name: "Main account",
        credentials_secret: None,
        token_expires_at: None,
        sync_interval_secs: 900,
    };
    let mut tx = app.state.db.begin_for_tenant(workspace).await.expect("tx");
    assert!(channel_store::insert_connection(&mut tx, workspace, &new).await.expect("connection"));
    tx.commit().await.expect("commit");
    id.to_string()
}

/// A review as a platform delivers it.
#[derive(Default)]
pub struct Review<'a> {
    pub platform: &'a str,
    pub connection: Option<&'a str>,
    pub location: Option<&'a str>,
    pub id: &'a str,
    pub author: &'a str,
    pub rating: u8,
    pub title: Option<&'a str>,
    pub text: &'a str,
    pub at: i64,
    pub url: Option<&'a str>,
    pub owner_reply: Option<&'a str>,
}

/// Stores a review through the ingest path the platforms use; returns its conversation id.
pub async fn ingest_review(app: &TestApp, workspace: &WorkspaceId, review: Review<'_>) -> String {
    let source = Source {
        workspace_id: workspace.clone(),
        platform: review.platform.to_owned(),
        connection_id: review.connection.map(|c| ConnectionId::parse(c).expect("connection id")),
        location_id: review.location.map(|l| LocationId::parse(l).expect("location id")),
    };
    let fetched = FetchedReview {
        external_id: review.id.to_owned(),
        author_name: if review.author.is_empty() { "Guest".to_owned() } else { review.author.to_owned() },
        author_external_id: None,
        rating: Some(review.rating),
        title: review.title.map(str::to_owned),
        body: review.text.to_owned(),
        language: Some("en".to_owned()),
        created_at_ms: review.at,
        reply: review.owner_reply.map(|body| FetchedReply { body: body.to_owned(), updated_at_ms: review.at + 1 }),
        url: review.url.map(str::to_owned),
        raw: json!({ "id": review.id }),
    };
    let mut tx = app.state.db.begin_for_tenant(workspace).await.expect("tx");
    let outcome = ingest::review(&mut tx, &source, &fetched).await.expect("ingest");
    tx.commit().await.expect("commit");
    match outcome {
        Ingested::New { conversation_id, .. } => conversation_id.to_string(),
        other => panic!("review {} was not new: {other:?}", review.id),
    }
}

/// Stores a received message; returns its conversation id.
pub async fn ingest_message(
    app: &TestApp,
    workspace: &WorkspaceId,
    platform: &str,
    connection: Option<&str>,
    thread: &str,
    body: &str,
    at: i64,
) -> String {
    let source = Source {
        workspace_id: workspace.clone(),
        platform: platform.to_owned(),
        connection_id: connection.map(|c| ConnectionId::parse(c).expect("connection id")),
        location_id: None,
    };
    let message = InboundMessage {
        account_id: "account".to_owned(),
        external_id: format!("{thread}-{at}"),
        thread_id: thread.to_owned(),
        sender_id: thread.to_owned(),
        sender_name: Some("Maria".to_owned()),
        sender_phone: None,
        text: body.to_owned(),
        sent_at_ms: at,
        is_echo: false,
        raw: json!({}),
    };
    let mut tx = app.state.db.begin_for_tenant(workspace).await.expect("tx");
    let outcome = ingest::message(&mut tx, &source, &message).await.expect("ingest");
    tx.commit().await.expect("commit");
    match outcome {
        Ingested::New { conversation_id, .. } => conversation_id.to_string(),
        other => panic!("message was not new: {other:?}"),
    }
}

/// An API key of the workspace with `role`.
pub async fn api_key(shop: &Shop, role: &str) -> String {
    let created: NewApiKeyOut = shop
        .client()
        .post_data("/api/v1/api-keys", &json!({ "name": format!("{role} key"), "role": role }), StatusCode::CREATED)
        .await;
    created.key
}

/// Waits for a task to finish and returns it.
pub async fn finished_task(shop: &Shop, id: &str) -> TaskOut {
    for _ in 0..400 {
        let task: TaskOut = shop.client().get_data(&format!("/api/v1/tasks/{id}"), StatusCode::OK).await;
        if task.status != TaskStatus::Running {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {id} did not finish");
}

pub async fn import(shop: &Shop, file: &str) -> (StatusCode, Value) {
    send(
        shop.client()
            .request(Method::POST, "/api/v1/reviews/import")
            .header("content-type", "text/csv")
            .body(file.to_owned()),
    )
    .await
}

/// A reply handed to the outbound sender is `queued`; the sender may already have tried it
/// (there are no credentials here, so it cannot succeed) by the time the answer is read back.
pub fn assert_handed_to_sender(status: &Value) {
    assert!(["queued", "sending", "failed"].contains(&status.as_str().unwrap_or_default()), "{status}");
}

pub fn rfc3339(at: i64) -> String {
    tidings_core::time::to_rfc3339(at)
}

/// Three reviews as a CSV file: one of them on Google at the harbour street location.
pub const IMPORT_FILE: &str = "platform,external_id,location,author,rating,title,text,date\n\
    google,,harbour street,Ana,5,Brunch,\"Great eggs, great coffee\",2026-01-02\n\
    ,,,Ben,2,,\"Too loud\",2026-01-03T18:30:00Z\n\
    ,legacy-42,,Cy,4,,\"Would come back\",2026-01-04\n";
