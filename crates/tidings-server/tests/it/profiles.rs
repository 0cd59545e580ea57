//! Messenger sends only a sender's id: the first message of a thread queues a look-up of their
//! name on the User Profile API (a mock Graph API here), and the contact, its messages and its
//! search text take the real name. A refused look-up, or a connection without a token, leaves
//! the placeholder and the connection's health alone. While the platform is unreachable the
//! look-ups wait as one batch, and the names fill in once it answers.

use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::json;
use tidings_connectors::{Credentials, Platform};
use tidings_core::{ConnectionId, WorkspaceId};
use tidings_server::channels::credentials;
use tidings_server::channels::store::{self as channel_store, NewConnection};
use tidings_server::demo::deliveries::{self, Incoming};
use tidings_server::inbox::store::{self as inbox_store, ConversationFilter, PageStart};
use tidings_store::with_reader;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Engine, TestApp};
use crate::on_both_engines;
use crate::webhooks::{connect, post, wait_for_messages};

const PAGE_ID: &str = "104729585";
const PETER: &str = "1254459154682919";
const HIDDEN: &str = "7765000000000001";
const IG_ID: &str = "17841405822304914";

async fn deliver(app: &TestApp, sender_id: &str, message_id: &str, text: &str) {
    deliver_to(app, Platform::Messenger, PAGE_ID, sender_id, message_id, text).await;
}

async fn deliver_to(app: &TestApp, platform: Platform, account: &str, sender_id: &str, message_id: &str, text: &str) {
    let incoming = Incoming {
        account_id: account,
        sender_id,
        // Messenger deliveries carry no name: the builder leaves it out, as Meta does.
        sender_name: "unused",
        message_id,
        text,
        sent_at_ms: tidings_core::time::now_millis(),
    };
    let delivery = deliveries::message(platform, app.state.platforms.secrets(), &incoming).expect("delivery");
    assert_eq!(post(app, &delivery).await.status(), 200);
}

async fn conversations(
    app: &TestApp,
    workspace: &WorkspaceId,
    search: Option<&str>,
) -> Vec<inbox_store::ConversationRow> {
    let filter = ConversationFilter { search: search.map(str::to_owned), ..ConversationFilter::default() };
    let (rows, _) = inbox_store::list_conversations(&app.state.db, workspace, &filter, &PageStart::Offset(0), 50)
        .await
        .expect("list");
    rows
}

async fn name_lookups_left(app: &TestApp) -> i64 {
    with_reader!(app.state.db, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'channels.name_senders' AND state IN ('ready', 'running')"
    )
    .fetch_one(pool)
    .await)
    .expect("jobs")
}

async fn wait_for_lookups(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while name_lookups_left(app).await > 0 {
        assert!(Instant::now() < deadline, "the name look-ups never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The app calling `graph` as the Graph API, and a workspace with the Page connected as the
/// connect flow does it: credentials kept in the vault under the connection's secret name (the
/// token itself is saved by each test, or not).
async fn page_connected(engine: Engine, graph: &MockServer) -> Option<(TestApp, WorkspaceId, ConnectionId)> {
    let base = graph.uri();
    let app = TestApp::spawn_on(engine, move |cfg| {
        cfg.connectors.meta.graph_base_url = base.clone();
        // An outage's circuit opens for a second, not a minute.
        cfg.connectors.breaker_open_secs = 1;
    })
    .await?;
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    let id = ConnectionId::generate();
    let secret = credentials::secret_name(&id);
    let mut tx = app.state.db.begin_for_tenant(&workspace).await.expect("tx");
    let new = NewConnection {
        id: &id,
        location_id: None,
        platform: "messenger",
        external_account_id: PAGE_ID,
        display_name: "Harbour Café",
        credentials_secret: Some(&secret),
        token_expires_at: None,
        sync_interval_secs: 900,
    };
    assert!(channel_store::insert_connection(&mut tx, &workspace, &new).await.expect("insert"));
    tx.commit().await.expect("commit");
    Some((app, workspace, id))
}

async fn a_messenger_sender_gets_their_name_from_the_profile_api(engine: Engine) {
    let graph = MockServer::start().await;
    let Some((app, workspace, connection)) = page_connected(engine, &graph).await else { return };
    let creds = Credentials { access_token: Some(SecretString::from("EAAG-page-token")), ..Credentials::default() };
    credentials::save(&app.state.vault, &workspace, &connection, &creds).await.expect("credentials");
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{PETER}")))
        .and(query_param("fields", "first_name,last_name"))
        .and(header("authorization", "Bearer EAAG-page-token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"first_name": "Peter", "last_name": "Chang", "id": PETER})),
        )
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{HIDDEN}")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#100) No profile available for this user.", "type": "OAuthException", "code": 100
        }})))
        .expect(1)
        .mount(&graph)
        .await;

    // Two messages from Peter (one look-up: only a thread's first message asks), one from a
    // person whose profile the platform will not give.
    deliver(&app, PETER, "m_peter_1", "Is the terrace open tonight?").await;
    wait_for_messages(&app, &workspace, 1).await;
    deliver(&app, PETER, "m_peter_2", "For four people").await;
    deliver(&app, HIDDEN, "m_hidden_1", "Do you deliver?").await;
    wait_for_messages(&app, &workspace, 3).await;
    wait_for_lookups(&app).await;

    let threads = conversations(&app, &workspace, None).await;
    let name_of = |sender: &str| {
        let thread = threads.iter().find(|c| c.external_thread_id == sender).expect("thread");
        thread.contact_name.clone().expect("a contact")
    };
    assert_eq!(name_of(PETER), "Peter Chang");
    assert_eq!(name_of(HIDDEN), "messenger user 0001", "the placeholder stays when the platform refuses");
    let peter = threads.iter().find(|c| c.external_thread_id == PETER).expect("thread");
    let id = peter.id.clone();
    let messages = inbox_store::messages(&app.state.db, &workspace, &id).await.expect("messages");
    assert_eq!(messages.len(), 2);
    assert!(messages.iter().all(|m| m.author_name.as_deref() == Some("Peter Chang")), "{messages:?}");
    let found = conversations(&app, &workspace, Some("Chang")).await;
    assert_eq!(found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [peter.id.as_str()], "found by the name");

    let health =
        channel_store::connection(&app.state.db, &workspace, &connection).await.expect("read").expect("exists");
    assert_eq!(health.status.as_str(), "active", "a refused profile is not a broken connection");
}

/// A connection whose stored credentials hold no token, and one made by hand without any (as
/// the demo's are): nothing is asked, and neither is marked broken.
async fn a_connection_without_a_token_keeps_the_placeholder(engine: Engine) {
    let graph = MockServer::start().await;
    let Some((app, workspace, connection)) = page_connected(engine, &graph).await else { return };
    let by_hand = connect(&app, &workspace, Platform::Instagram, IG_ID).await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&graph).await;

    deliver(&app, PETER, "m_peter_1", "Hello?").await;
    deliver_to(&app, Platform::Instagram, IG_ID, "6328416927222014", "ig_1", "Hi there").await;
    wait_for_messages(&app, &workspace, 2).await;
    wait_for_lookups(&app).await;
    let threads = conversations(&app, &workspace, None).await;
    let mut names: Vec<_> = threads.iter().filter_map(|c| c.contact_name.as_deref()).collect();
    names.sort_unstable();
    assert_eq!(names, ["instagram user 2014", "messenger user 2919"]);
    for id in [&connection, &by_hand] {
        let health = channel_store::connection(&app.state.db, &workspace, id).await.expect("read").expect("exists");
        assert_eq!(health.status.as_str(), "active");
    }
}

/// Thirty people write while the Graph API answers 503: their look-ups wait together, a call
/// or so per second for the whole batch instead of one failing call and retry per sender, and
/// every name appears once the platform is back.
async fn names_wait_for_an_unreachable_platform_and_fill_in_after(engine: Engine) {
    let graph = MockServer::start().await;
    let Some((app, workspace, connection)) = page_connected(engine, &graph).await else { return };
    let creds = Credentials { access_token: Some(SecretString::from("EAAG-page-token")), ..Credentials::default() };
    credentials::save(&app.state.vault, &workspace, &connection, &creds).await.expect("credentials");
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).mount(&graph).await;
    let senders: Vec<String> = (0..30).map(|n| format!("88000000000{n:05}")).collect();
    for (n, sender) in senders.iter().enumerate() {
        deliver(&app, sender, &format!("m_down_{n}"), "Are you open?").await;
    }
    wait_for_messages(&app, &workspace, 30).await;
    let outage = Instant::now() + Duration::from_secs(5);
    while graph.received_requests().await.expect("recorded").is_empty() {
        assert!(Instant::now() < outage, "nobody asked the platform");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls = graph.received_requests().await.expect("recorded").len();
    assert!(calls < 15, "{calls} calls in about three seconds of outage for 30 senders");
    let named = conversations(&app, &workspace, None).await;
    assert!(named.iter().all(|c| c.contact_name.as_deref().is_some_and(|n| n.starts_with("messenger user"))));

    graph.reset().await;
    Mock::given(method("GET"))
        .and(query_param("fields", "first_name,last_name"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"first_name": "Sam", "last_name": "Rivera"})))
        .mount(&graph)
        .await;
    let recovery = Instant::now() + Duration::from_secs(30);
    loop {
        let threads = conversations(&app, &workspace, None).await;
        let named = threads.iter().filter(|c| c.contact_name.as_deref() == Some("Sam Rivera")).count();
        if named == senders.len() {
            break;
        }
        assert!(Instant::now() < recovery, "{named} of 30 names after the platform came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health =
        channel_store::connection(&app.state.db, &workspace, &connection).await.expect("read").expect("exists");
    assert_eq!(health.status.as_str(), "active", "an outage is the platform's, not the connection's");
}

on_both_engines!(
    a_messenger_sender_gets_their_name_from_the_profile_api,
    a_connection_without_a_token_keeps_the_placeholder,
    names_wait_for_an_unreachable_platform_and_fill_in_after
);
