//! Replies leave through the outbound queue: posted to the platform once, retried on outages,
//! never sent twice after an interruption, and kept for posting by hand where the API allows none.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use tidings_connectors::{Credentials, FetchedReview, Platform};
use tidings_core::{ConversationId, ResponseId, UserId, WorkspaceId};
use tidings_server::channels::credentials;
use tidings_server::demo::deliveries::{self, Incoming};
use tidings_server::inbox::ingest::{self, Ingested, Source};
use tidings_server::inbox::model::Direction;
use tidings_server::inbox::model::ResponseStatus;
use tidings_server::inbox::outbox;
use tidings_server::inbox::service::ReplyRequest;
use tidings_server::inbox::store::{self as inbox_store, ResponseUpdate};
use tidings_server::inbox::window::SendAs;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Engine, TestApp};
use crate::on_both_engines;
use crate::webhooks::{connect, post, wait_for_messages};

const PAGE_ID: &str = "104729585";

pub(crate) async fn spawn_with_graph(engine: Engine, graph: &MockServer) -> Option<TestApp> {
    let base = graph.uri();
    TestApp::spawn_on(engine, move |cfg| {
        cfg.connectors.meta.graph_base_url = base.clone();
        cfg.connectors.google.base_url = base.clone();
    })
    .await
}

/// A Messenger thread with one inbound message, and the page's token stored.
async fn messenger_thread(app: &TestApp, workspace: &WorkspaceId) -> ConversationId {
    thread_with_page_token(app, workspace, Platform::Messenger, PAGE_ID).await
}

/// A thread of `platform` with one inbound message from `psid-77`, and a Page token stored for
/// the account.
async fn thread_with_page_token(
    app: &TestApp,
    workspace: &WorkspaceId,
    platform: Platform,
    account: &str,
) -> ConversationId {
    let connection = connect(app, workspace, platform, account).await;
    let creds = Credentials { access_token: Some(SecretString::from("EAAG-page-token")), ..Credentials::default() };
    credentials::save(&app.state.vault, workspace, &connection, &creds).await.expect("credentials");
    let incoming = Incoming {
        account_id: account,
        sender_id: "psid-77",
        sender_name: "Ana",
        message_id: "m_in",
        text: "Is the terrace open?",
        sent_at_ms: tidings_core::time::now_millis(),
    };
    let delivery = deliveries::message(platform, app.state.platforms.secrets(), &incoming).expect("delivery");
    assert_eq!(post(app, &delivery).await.status(), 200);
    let conversations = wait_for_messages(app, workspace, 1).await;
    conversations[0].id.clone()
}

pub(crate) async fn wait_status(
    app: &TestApp,
    workspace: &WorkspaceId,
    id: &ResponseId,
    want: ResponseStatus,
) -> inbox_store::ResponseRow {
    let mut last = None;
    for _ in 0..300 {
        let row = inbox_store::response(&app.state.db, workspace, id).await.expect("read").expect("exists");
        if row.status == want {
            return row;
        }
        last = Some(row.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("response never became {want}; last {last:?}");
}

fn owner(session: &crate::helpers::Session) -> UserId {
    UserId::parse(&session.user_id).expect("user")
}

async fn a_thread_reply_is_sent_once_and_recorded(engine: Engine) {
    let graph = MockServer::start().await;
    let Some(app) = spawn_with_graph(engine, &graph).await else { return };
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    let conversation = messenger_thread(&app, &workspace).await;
    // The first attempt meets an outage; the retry succeeds.
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PAGE_ID}/messages")))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&graph)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PAGE_ID}/messages")))
        .and(header("authorization", "Bearer EAAG-page-token"))
        .and(body_partial_json(json!({"recipient": {"id": "psid-77"}, "message": {"text": "Yes, until 11pm!"}})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"recipient_id": "psid-77", "message_id": "m_out_1"})),
        )
        .expect(1)
        .mount(&graph)
        .await;

    let author = owner(&session);
    let request = ReplyRequest {
        author: Some(&author),
        text: "Yes, until 11pm!",
        post_to_platform: true,
        send_as: &SendAs::Text,
    };
    let response = app.state.inbox.reply(&workspace, &conversation, &request).await.expect("reply");
    assert_eq!(response.status.as_str(), "queued");
    let id = response.id.clone();
    let posted = wait_status(&app, &workspace, &id, ResponseStatus::Posted).await;
    assert_eq!(posted.external_id.as_deref(), Some("m_out_1"));
    assert_eq!(posted.attempts, 2, "one failed attempt, one success");

    let messages = inbox_store::messages(&app.state.db, &workspace, &conversation).await.expect("messages");
    let outbound: Vec<_> = messages.iter().filter(|m| m.direction == Direction::Outbound).collect();
    assert_eq!(outbound.len(), 1);
    assert_eq!(outbound[0].body, "Yes, until 11pm!");
    let thread = app.state.inbox.conversation(&workspace, &conversation).await.expect("conversation");
    assert!(thread.responded);
}

async fn an_interrupted_send_is_not_repeated(engine: Engine) {
    let graph = MockServer::start().await;
    let Some(app) = spawn_with_graph(engine, &graph).await else { return };
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    let conversation = messenger_thread(&app, &workspace).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&graph).await;

    // A draft stands in for a reply whose worker died after calling the platform: it is left
    // `sending`, then its job runs again.
    let author = owner(&session);
    let request =
        ReplyRequest { author: Some(&author), text: "On our way", post_to_platform: false, send_as: &SendAs::Text };
    let draft = app.state.inbox.reply(&workspace, &conversation, &request).await.expect("draft");
    let id = draft.id.clone();
    let mut tx = app.state.db.begin_for_tenant(&workspace).await.expect("tx");
    let sending = ResponseUpdate {
        status: ResponseStatus::Sending,
        body: None,
        error: None,
        external_id: None,
        posted_at: None,
        count_attempt: true,
    };
    inbox_store::update_response(&mut tx, &workspace, &id, &sending).await.expect("update");
    outbox::enqueue_send(&app.state.queue, &mut tx, &workspace, &id).await.expect("enqueue");
    tx.commit().await.expect("commit");

    let row = wait_status(&app, &workspace, &id, ResponseStatus::Unconfirmed).await;
    assert!(row.error.as_deref().is_some_and(|e| e.contains("interrupted")));
    // `expect(0)` on the mock: the platform was not called again.
}

/// An Instagram account connected through its Page (the OAuth flow stores the Page's token)
/// sends through the Facebook Graph API as `me`: its token does not work on graph.instagram.com.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instagram_reply_with_a_page_token_goes_through_the_facebook_graph_api() {
    let graph = MockServer::start().await;
    let app = spawn_with_graph(Engine::Sqlite, &graph).await.expect("sqlite");
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    let conversation = thread_with_page_token(&app, &workspace, Platform::Instagram, "17841405822304914").await;
    Mock::given(method("POST"))
        .and(path("/v21.0/me/messages"))
        .and(header("authorization", "Bearer EAAG-page-token"))
        .and(body_partial_json(json!({"recipient": {"id": "psid-77"}, "message": {"text": "See you at 8!"}})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"recipient_id": "psid-77", "message_id": "ig_out"})),
        )
        .expect(1)
        .mount(&graph)
        .await;

    let author = owner(&session);
    let request =
        ReplyRequest { author: Some(&author), text: "See you at 8!", post_to_platform: true, send_as: &SendAs::Text };
    let response = app.state.inbox.reply(&workspace, &conversation, &request).await.expect("reply");
    let id = response.id.clone();
    let posted = wait_status(&app, &workspace, &id, ResponseStatus::Posted).await;
    assert_eq!(posted.external_id.as_deref(), Some("ig_out"));
}

on_both_engines!(a_thread_reply_is_sent_once_and_recorded, an_interrupted_send_is_not_repeated);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_replies_post_to_google_and_wait_for_hands_on_yelp() {
    let google = MockServer::start().await;
    let app = spawn_with_graph(Engine::Sqlite, &google).await.expect("sqlite");
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    let author = owner(&session);
    let location = "accounts/1/locations/2";
    let google_connection = connect(&app, &workspace, Platform::Google, location).await;
    let creds = Credentials {
        access_token: Some(SecretString::from("ya29.token")),
        expires_at_ms: Some(tidings_core::time::now_millis() + 3_600_000),
        ..Credentials::default()
    };
    credentials::save(&app.state.vault, &workspace, &google_connection, &creds).await.expect("credentials");
    let yelp_connection = connect(&app, &workspace, Platform::Yelp, "harbour-and-vine-austin").await;

    let mut ids = Vec::new();
    for (platform, connection, review_id) in
        [("google", &google_connection, "AbFvOqn"), ("yelp", &yelp_connection, "xAG4O7l-t1ubbwVAlPnDKg")]
    {
        let source = Source {
            workspace_id: workspace.clone(),
            platform: platform.into(),
            connection_id: Some(connection.clone()),
            location_id: None,
        };
        let review = FetchedReview {
            external_id: review_id.into(),
            author_name: "Sam".into(),
            author_external_id: None,
            rating: Some(4),
            title: None,
            body: "Lovely evening".into(),
            language: Some("en".into()),
            created_at_ms: tidings_core::time::now_millis(),
            reply: None,
            url: Some(format!("https://example.com/{review_id}")),
            raw: json!({}),
        };
        let mut tx = app.state.db.begin_for_tenant(&workspace).await.expect("tx");
        let Ingested::New { conversation_id, .. } = ingest::review(&mut tx, &source, &review).await.expect("ingest")
        else {
            panic!("a new review");
        };
        tx.commit().await.expect("commit");
        ids.push(conversation_id);
    }
    Mock::given(method("PUT"))
        .and(path(format!("/v4/{location}/reviews/AbFvOqn/reply")))
        .and(body_partial_json(json!({"comment": "Thank you, Sam!"})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"comment": "Thank you, Sam!", "updateTime": "2026-11-25T10:00:00Z"})),
        )
        .expect(1)
        .mount(&google)
        .await;

    let request =
        ReplyRequest { author: Some(&author), text: "Thank you, Sam!", post_to_platform: true, send_as: &SendAs::Text };
    let google_reply = app.state.inbox.reply(&workspace, &ids[0], &request).await.expect("reply");
    wait_status(&app, &workspace, &google_reply.id, ResponseStatus::Posted).await;

    let yelp_reply = app.state.inbox.reply(&workspace, &ids[1], &request).await.expect("reply");
    assert_eq!(yelp_reply.status.as_str(), "manual_required", "Yelp replies are partner-only");
    assert_eq!(yelp_reply.deep_link.as_deref(), Some("https://biz.yelp.com/"));
    let confirmed = app.state.inbox.confirm_posted_manually(&workspace, &ids[1]).await.expect("confirm");
    assert_eq!(confirmed.status.as_str(), "posted_manually");
    assert!(app.state.inbox.conversation(&workspace, &ids[1]).await.expect("c").responded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_in_the_demo_workspace_are_recorded_without_calling_a_platform() {
    let graph = MockServer::start().await;
    let app = spawn_with_graph(Engine::Sqlite, &graph).await.expect("sqlite");
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&graph).await;
    tidings_server::demo::seed::seed(&app.state.db, &app.state.config, &app.state.events, |_| {})
        .await
        .expect("demo seeded");
    let workspace =
        tidings_server::demo::seed::demo_workspace(&app.state.db).await.expect("read").expect("demo workspace");
    let filter = inbox_store::ConversationFilter {
        kind: Some(tidings_server::inbox::model::ConversationKind::Thread),
        ..Default::default()
    };
    let (threads, _) =
        inbox_store::list_conversations(&app.state.db, &workspace, &filter, &inbox_store::PageStart::Offset(0), 1)
            .await
            .expect("threads");
    let conversation = threads[0].id.clone();
    let owner: String = tidings_store::with_reader!(app.state.db, |pool| sqlx::query_scalar(
        "SELECT user_id FROM memberships WHERE workspace_id = $1 AND role = 'owner'"
    )
    .bind(workspace.as_str())
    .fetch_one(pool)
    .await)
    .expect("owner");
    let owner = UserId::parse(&owner).expect("user");
    let request = ReplyRequest {
        author: Some(&owner),
        text: "Thanks for writing!",
        post_to_platform: true,
        send_as: &SendAs::Text,
    };
    let response = app.state.inbox.reply(&workspace, &conversation, &request).await.expect("reply");
    let posted = wait_status(&app, &workspace, &response.id, ResponseStatus::Posted).await;
    assert!(posted.external_id.as_deref().is_some_and(|id| id.starts_with("demo-")));
}
