//! Webhook intake: signed deliveries are stored once and processed into the inbox; unsigned,
//! tampered, stale or malformed ones are refused and leave nothing behind.

use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use tidings_connectors::{InboundMessage, Platform};
use tidings_core::{ConnectionId, EventId, WorkspaceId};
use tidings_server::channels::store::{self as channel_store, NewConnection};
use tidings_server::channels::webhooks::{ProcessEvents, PurgeDeliveries};
use tidings_server::demo::deliveries::{self, Delivery, Incoming};
use tidings_server::inbox::ingest::{self, Ingested, Source};
use tidings_server::inbox::store::{self as inbox_store, ConversationFilter, PageStart};
use tidings_store::queue::NewJob;
use tidings_store::with_reader;

use crate::helpers::{Engine, TestApp, json};
use crate::on_both_engines;

const PAGE_ID: &str = "104729585";
/// How long a test waits for background processing. It usually takes well under a second, but
/// these tests share two cores and one PostgreSQL with every other test running at once.
const PATIENCE: Duration = Duration::from_secs(30);

/// Connects a platform account to the workspace, as the connections API would.
pub async fn connect(app: &TestApp, workspace: &WorkspaceId, platform: Platform, account: &str) -> ConnectionId {
    let id = ConnectionId::generate();
    let mut tx = app.state.db.begin_for_tenant(workspace).await.expect("tx");
    let inserted = channel_store::insert_connection(
        &mut tx,
        workspace,
        &NewConnection {
            id: &id,
            location_id: None,
            platform: platform.as_str(),
            external_account_id: account,
            display_name: "Test account",
            credentials_secret: None,
            token_expires_at: None,
            sync_interval_secs: 900,
        },
    )
    .await
    .expect("insert");
    assert!(inserted);
    tx.commit().await.expect("commit");
    id
}

pub async fn post(app: &TestApp, delivery: &Delivery) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/webhooks/{}", delivery.platform)))
        .header("content-type", "application/json")
        .header(delivery.header, &delivery.signature)
        .body(delivery.body.clone())
        .send()
        .await
        .expect("sent")
}

fn now() -> i64 {
    tidings_core::time::now_millis()
}

async fn raw_events(app: &TestApp) -> i64 {
    with_reader!(app.state.db, |pool| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM raw_events")
        .fetch_one(pool)
        .await)
    .expect("count")
}

/// Waits until the workspace's inbox holds `count` messages in all, and returns the conversations.
pub async fn wait_for_messages(
    app: &TestApp,
    workspace: &WorkspaceId,
    count: i64,
) -> Vec<inbox_store::ConversationRow> {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        let (rows, _) = inbox_store::list_conversations(
            &app.state.db,
            workspace,
            &ConversationFilter::default(),
            &PageStart::Offset(0),
            100,
        )
        .await
        .expect("list");
        if rows.iter().map(|r| r.message_count).sum::<i64>() >= count {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let jobs: Vec<(String, String, i32, Option<String>, i64)> = with_reader!(app.state.db, |pool| sqlx::query_as(
        "SELECT kind, state, attempts, last_error, run_at FROM jobs ORDER BY created_at"
    )
    .fetch_all(pool)
    .await)
    .expect("jobs");
    panic!(
        "the inbox never reached {count} messages; now {}; jobs left (kind, state, attempts, last error, run at): {jobs:#?}",
        tidings_core::time::now_millis()
    );
}

async fn a_signed_delivery_is_stored_once_and_processed(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    connect(&app, &workspace, Platform::Messenger, PAGE_ID).await;
    let secrets = app.state.platforms.secrets();
    let message = Incoming {
        account_id: PAGE_ID,
        sender_id: "psid-1",
        sender_name: "Ana",
        message_id: "m_first",
        text: "Do you have a table for four tonight?",
        sent_at_ms: now(),
    };
    let delivery = deliveries::message(Platform::Messenger, secrets, &message).expect("messenger delivery");

    let first = post(&app, &delivery).await;
    assert_eq!(first.status(), 200);
    let body = json(first).await;
    assert_eq!(body["data"]["duplicate"], false);
    assert!(body["data"]["eventId"].as_str().is_some_and(|id| id.starts_with("evt_")));

    let conversations = wait_for_messages(&app, &workspace, 1).await;
    assert_eq!(conversations.len(), 1);
    assert_eq!(conversations[0].platform, "messenger");
    assert_eq!(conversations[0].preview, "Do you have a table for four tonight?");
    assert_eq!(conversations[0].status.as_str(), "open");

    // The platform retries the same delivery: acknowledged, nothing stored twice.
    let replay = post(&app, &delivery).await;
    assert_eq!(replay.status(), 200);
    assert_eq!(json(replay).await["data"]["duplicate"], true);
    // A different delivery carrying the same message id (Meta resends after a timeout with a new
    // batch) is stored as an event but adds no second message.
    let mut again = message.clone();
    again.sent_at_ms += 1;
    post(&app, &deliveries::message(Platform::Messenger, secrets, &again).expect("delivery")).await;
    let follow_up = Incoming { message_id: "m_second", text: "Around 8pm", ..message.clone() };
    post(&app, &deliveries::message(Platform::Messenger, secrets, &follow_up).expect("delivery")).await;
    let conversations = wait_for_messages(&app, &workspace, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let conversations_after = wait_for_messages(&app, &workspace, 2).await;
    assert_eq!(conversations.len(), 1, "one thread with the sender");
    assert_eq!(conversations_after[0].message_count, 2, "the repeated message id was not stored twice");
    assert_eq!(raw_events(&app).await, 3);
}

async fn refused_deliveries_leave_nothing_behind(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    connect(&app, &workspace, Platform::Messenger, PAGE_ID).await;
    let secrets = app.state.platforms.secrets();
    let message = Incoming {
        account_id: PAGE_ID,
        sender_id: "psid-1",
        sender_name: "Ana",
        message_id: "m_1",
        text: "hello",
        sent_at_ms: now(),
    };
    let good = deliveries::message(Platform::Messenger, secrets, &message).expect("delivery");

    let tampered = Delivery { body: good.body.replace("hello", "HELLO"), ..good.clone() };
    let response = post(&app, &tampered).await;
    assert_eq!(response.status(), 401);
    assert_eq!(json(response).await["error"]["code"], "invalid_signature");

    let unsigned = app
        .client
        .post(app.url("/webhooks/messenger"))
        .header("content-type", "application/json")
        .body(good.body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(unsigned.status(), 401);

    let stale_message = Incoming { sent_at_ms: now() - 10 * 60_000, ..message.clone() };
    let stale = post(&app, &deliveries::message(Platform::Messenger, secrets, &stale_message).expect("d")).await;
    assert_eq!(stale.status(), 400);
    assert_eq!(json(stale).await["error"]["code"], "stale_delivery");

    let malformed = deliveries::sign(Platform::Messenger, secrets, "{\"object\": \"page\", \"entry\": 7}".into());
    let response = post(&app, &malformed).await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(response).await["error"]["code"], "invalid_payload");

    let unknown = app.client.post(app.url("/webhooks/myspace")).body("{}").send().await.expect("sent");
    assert_eq!(unknown.status(), 404);

    assert_eq!(raw_events(&app).await, 0, "nothing refused was stored");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (rows, total) = inbox_store::list_conversations(
        &app.state.db,
        &workspace,
        &ConversationFilter::default(),
        &PageStart::Offset(0),
        10,
    )
    .await
    .expect("list");
    assert!(rows.is_empty() && total == 0);
}

/// Stores a delivery as intake would have (the body is not checked here), without its job.
async fn store_raw(app: &TestApp, body: &str) -> EventId {
    let id = EventId::generate();
    let mut tx = app.state.db.begin().await.expect("tx");
    tidings_store::with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO raw_events (id, platform, dedup_key, body, status, received_at) VALUES ($1, 'messenger', $1, $2, 'received', $3)"
    )
    .bind(id.as_str())
    .bind(body)
    .bind(now())
    .execute(&mut **conn)
    .await
    .map(|_| ()))
    .expect("stored");
    tx.commit().await.expect("commit");
    id
}

async fn raw_status(app: &TestApp, id: &EventId) -> (String, i64) {
    with_reader!(app.state.db, |pool| sqlx::query_as("SELECT status, events FROM raw_events WHERE id = $1")
        .bind(id.as_str())
        .fetch_one(pool)
        .await)
    .expect("raw event")
}

async fn a_burst_is_processed_in_batches_and_a_bad_delivery_is_set_aside(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    connect(&app, &workspace, Platform::Messenger, PAGE_ID).await;
    let secrets = app.state.platforms.secrets();
    let ids: Vec<String> = (0..=100).map(|n| format!("m_burst_{n}")).collect();
    let incoming = |n: usize| Incoming {
        account_id: PAGE_ID,
        sender_id: if n.is_multiple_of(2) { "psid-even" } else { "psid-odd" },
        sender_name: "Ana",
        message_id: &ids[n],
        text: "Still open?",
        sent_at_ms: now(),
    };

    // Sixty deliveries at once: intake commits them in groups, each group one processing job.
    let posts = (0..60).map(|n| {
        let delivery = deliveries::message(Platform::Messenger, secrets, &incoming(n)).expect("delivery");
        let app = &app;
        async move { post(app, &delivery).await.status() }
    });
    let statuses = futures::future::join_all(posts).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let conversations = wait_for_messages(&app, &workspace, 60).await;
    assert_eq!(conversations.len(), 2, "two senders, two threads");
    assert_eq!(conversations.iter().map(|c| c.message_count).sum::<i64>(), 60, "each message once");
    // Marked after the messages commit: wait for the marks too.
    let mut marked = 0;
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        marked = with_reader!(app.state.db, |pool| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM raw_events WHERE status = 'processed' AND events = 1"
        )
        .fetch_one(pool)
        .await)
        .expect("count");
        if marked == 60 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(marked, 60, "every delivery is marked processed with its one message");

    // A batch holding a delivery that no longer parses: the batch is split, the good delivery is
    // stored, the bad one is dead-lettered alone.
    let good = deliveries::message(Platform::Messenger, secrets, &incoming(100)).expect("delivery");
    let good_id = store_raw(&app, &good.body).await;
    let bad_id = store_raw(&app, "{\"object\":\"page\",\"entry\":\"not a list\"}").await;
    let job = ProcessEvents { event_ids: vec![good_id.clone(), bad_id.clone()] };
    app.state.queue.enqueue(NewJob::new(&job).expect("job")).await.expect("enqueued");
    wait_for_messages(&app, &workspace, 61).await;
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        let dead: Vec<String> = with_reader!(app.state.db, |pool| sqlx::query_scalar(
            "SELECT payload FROM jobs WHERE kind = 'inbound.process_events' AND state = 'dead'"
        )
        .fetch_all(pool)
        .await)
        .expect("dead letters");
        if !dead.is_empty() {
            assert_eq!(dead.len(), 1, "{dead:?}");
            assert!(dead[0].contains(bad_id.as_str()) && !dead[0].contains(good_id.as_str()), "{dead:?}");
            assert_eq!(raw_status(&app, &good_id).await, ("processed".to_owned(), 1));
            assert_eq!(raw_status(&app, &bad_id).await.0, "failed");
            a_delivery_already_in_the_inbox_counts_its_message(&app, &workspace, &good.body).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the bad delivery was never dead-lettered");
}

/// A run that finds its messages stored (an earlier attempt committed them, then failed before
/// marking the delivery) still records what the delivery holds, and stores nothing twice.
async fn a_delivery_already_in_the_inbox_counts_its_message(app: &TestApp, workspace: &WorkspaceId, body: &str) {
    let again = store_raw(app, body).await;
    let job = ProcessEvents { event_ids: vec![again.clone()] };
    app.state.queue.enqueue(NewJob::new(&job).expect("job")).await.expect("enqueued");
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if raw_status(app, &again).await.0 == "processed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(raw_status(app, &again).await, ("processed".to_owned(), 1));
    let conversations = wait_for_messages(app, workspace, 61).await;
    assert_eq!(conversations.iter().map(|c| c.message_count).sum::<i64>(), 61, "nothing stored twice");
}

/// The first two messages of a thread, ingested by two transactions at once (two webhook batches
/// on PostgreSQL): one conversation and one contact, holding both messages; the second
/// transaction waits for the first instead of failing on the thread's or identity's unique key.
async fn two_batches_starting_one_thread_make_one_conversation_and_contact(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    let source = Source {
        workspace_id: workspace.clone(),
        platform: "messenger".into(),
        connection_id: None,
        location_id: None,
    };
    let message = |n: i64| InboundMessage {
        account_id: PAGE_ID.to_owned(),
        external_id: format!("m_first_{n}"),
        // Two threads with one person (as on X, where a thread is a conversation id): the second
        // pair of messages meets at the conversation, not at the contact.
        thread_id: if n <= 2 { "psid-new".to_owned() } else { "dm-conversation-2".to_owned() },
        sender_id: "psid-new".to_owned(),
        sender_name: Some("Ana".to_owned()),
        sender_phone: None,
        text: format!("Hello {n}"),
        sent_at_ms: now() + n,
        is_echo: false,
        raw: serde_json::json!({}),
    };
    for (first_message, second_message) in [(message(1), message(2)), (message(3), message(4))] {
        let mut first = app.state.db.begin_for_tenant(&workspace).await.expect("tx");
        let outcome = ingest::message(&mut first, &source, &first_message).await.expect("first");
        assert!(matches!(outcome, Ingested::New { new_conversation: true, .. }), "{outcome:?}");
        let second = {
            let (db, workspace, source) = (app.state.db.clone(), workspace.clone(), source.clone());
            tokio::spawn(async move {
                let mut tx = db.begin_for_tenant(&workspace).await.expect("tx");
                let outcome = ingest::message(&mut tx, &source, &second_message).await.expect("second");
                tx.commit().await.expect("commit");
                outcome
            })
        };
        // The second is now waiting: for the writer on SQLite, for the first's rows on PostgreSQL.
        tokio::time::sleep(Duration::from_millis(300)).await;
        first.commit().await.expect("commit");
        let outcome = second.await.expect("second task");
        assert!(matches!(outcome, Ingested::New { new_conversation: false, .. }), "{outcome:?}");
    }

    let conversations = wait_for_messages(&app, &workspace, 4).await;
    assert_eq!(conversations.len(), 2, "two threads");
    assert!(conversations.iter().all(|c| c.message_count == 2), "both messages of each thread in it");
    let contacts = with_reader!(app.state.db, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM contacts WHERE workspace_id = $1"
    )
    .bind(workspace.as_str())
    .fetch_one(pool)
    .await)
    .expect("contacts");
    assert_eq!(contacts, 1, "no orphan contact left by the second transaction");
}

/// Settled deliveries received before the retention period are purged by the hourly job; recent
/// ones, and old ones still waiting to be processed, stay.
async fn settled_deliveries_are_purged_after_the_retention_period(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |config| config.connectors.delivery_retention_days = 30).await else {
        return;
    };
    let schedule: (String, String) = with_reader!(app.state.db, |pool| sqlx::query_as(
        "SELECT kind, payload FROM schedules WHERE name = 'inbound.purge_deliveries'"
    )
    .fetch_one(pool)
    .await)
    .expect("the purge is scheduled");
    assert_eq!(schedule.0, "inbound.purge_deliveries");
    assert!(schedule.1.contains("\"retention_days\":30"), "{schedule:?}");

    let day = 86_400_000;
    let mut kept = Vec::new();
    let mut purged = Vec::new();
    for (status, age_days) in [("processed", 31), ("failed", 45), ("received", 31), ("processed", 29)] {
        let id = store_raw(&app, "{}").await;
        let mut tx = app.state.db.begin().await.expect("tx");
        tidings_store::with_tx!(tx, |conn| sqlx::query(
            "UPDATE raw_events SET status = $2, received_at = $3 WHERE id = $1"
        )
        .bind(id.as_str())
        .bind(status)
        .bind(now() - age_days * day)
        .execute(&mut **conn)
        .await
        .map(|_| ()))
        .expect("aged");
        tx.commit().await.expect("commit");
        if status != "received" && age_days > 30 { purged.push(id) } else { kept.push(id) }
    }
    app.state.queue.enqueue(NewJob::new(&PurgeDeliveries { retention_days: 30 }).expect("job")).await.expect("queued");

    let mut left: Vec<String> = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        left = with_reader!(app.state.db, |pool| sqlx::query_scalar("SELECT id FROM raw_events ORDER BY received_at")
            .fetch_all(pool)
            .await)
        .expect("left");
        if left.len() == kept.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let kept: Vec<String> = kept.iter().map(ToString::to_string).collect();
    assert_eq!(left, kept, "the old delivery still waiting, and the recent one; purged: {purged:?}");
}

/// Posts a signed delivery to `path` rather than to its platform's own.
async fn post_to(app: &TestApp, path: &str, delivery: &Delivery) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", "application/json")
        .header(delivery.header, &delivery.signature)
        .body(delivery.body.clone())
        .send()
        .await
        .expect("sent")
}

/// Meta sends every event of a Page to the one callback URL of the `page` object: a Messenger
/// message at /webhooks/facebook and a rating at the old /webhooks/messenger both arrive.
async fn every_page_event_arrives_whichever_meta_url_it_was_sent_to(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    connect(&app, &workspace, Platform::Messenger, PAGE_ID).await;
    connect(&app, &workspace, Platform::Facebook, PAGE_ID).await;
    let secrets = app.state.platforms.secrets();
    let incoming = Incoming {
        account_id: PAGE_ID,
        sender_id: "psid-7",
        sender_name: "Ana",
        message_id: "m_at_facebook",
        text: "Is the terrace open?",
        sent_at_ms: now(),
    };
    let message = deliveries::message(Platform::Messenger, secrets, &incoming).expect("delivery");
    assert_eq!(post_to(&app, "/webhooks/facebook", &message).await.status(), 200);
    let rating = deliveries::facebook_rating(secrets, PAGE_ID, "story-alias", "Tom", 4, "Lovely.", now());
    assert_eq!(post_to(&app, "/webhooks/messenger", &rating).await.status(), 200);

    let conversations = wait_for_messages(&app, &workspace, 2).await;
    let mut kinds: Vec<(&str, &str)> = conversations.iter().map(|c| (c.platform.as_str(), c.kind.as_str())).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, [("facebook", "review"), ("messenger", "thread")]);
}

/// An event for a Page no workspace connected is acknowledged, so it is kept and shown to the
/// operator (API and /status), never silently dropped.
async fn an_event_for_an_unknown_page_is_kept_as_unmatched_and_listed(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let secrets = app.state.platforms.secrets();
    let incoming = Incoming {
        account_id: "999000111",
        sender_id: "psid-8",
        sender_name: "Nobody",
        message_id: "m_unknown_page",
        text: "Hello?",
        sent_at_ms: now(),
    };
    let message = deliveries::message(Platform::Messenger, secrets, &incoming).expect("delivery");
    let response = post_to(&app, "/webhooks/facebook", &message).await;
    assert_eq!(response.status(), 200);
    let event_id = json(response).await["data"]["eventId"].as_str().expect("stored").to_owned();

    let deadline = Instant::now() + PATIENCE;
    let listed = loop {
        let response = app.as_operator(reqwest::Method::GET, "/api/v1/admin/unmatched-deliveries").send().await;
        let body = json(response.expect("sent")).await;
        if body["data"]["pagination"]["total"] == 1 {
            break body;
        }
        assert!(Instant::now() < deadline, "never listed as unmatched: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let delivery = &listed["data"]["deliveries"][0];
    assert_eq!(delivery["eventId"], event_id.as_str());
    assert_eq!(delivery["platform"], "messenger");
    assert_eq!(delivery["accounts"], serde_json::json!(["messenger:999000111"]));
    assert!(delivery["body"].as_str().expect("body").contains("m_unknown_page"));

    let status = app.get("/status").await.text().await.expect("page");
    assert!(status.contains("messenger:999000111"), "the status page lists it");
    let anonymous = app.get("/api/v1/admin/unmatched-deliveries").await;
    assert_eq!(anonymous.status(), 401);
}

on_both_engines!(
    every_page_event_arrives_whichever_meta_url_it_was_sent_to,
    an_event_for_an_unknown_page_is_kept_as_unmatched_and_listed,
    settled_deliveries_are_purged_after_the_retention_period,
    two_batches_starting_one_thread_make_one_conversation_and_contact,
    a_signed_delivery_is_stored_once_and_processed,
    refused_deliveries_leave_nothing_behind,
    a_burst_is_processed_in_batches_and_a_bad_delivery_is_set_aside
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_challenges_are_answered() {
    let app = TestApp::spawn().await;
    let token = app.state.platforms.secrets().meta_verify_token.expose_secret().to_owned();
    let ok = app
        .get(&format!("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"))
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.expect("body"), "1158201444");

    let wrong = app.get("/webhooks/messenger?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1").await;
    assert_eq!(wrong.status(), 403);

    let crc = app.get("/webhooks/x?crc_token=challenge-token").await;
    assert_eq!(crc.status(), 200);
    let expected = tidings_connectors::signature::x_crc_response(
        app.state.platforms.secrets().x_consumer_secret.expose_secret().as_bytes(),
        "challenge-token",
    );
    assert_eq!(json(crc).await["response_token"], expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_messaging_platform_and_facebook_ratings_reach_the_inbox() {
    let app = TestApp::spawn().await;
    let session = app.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    let secrets = app.state.platforms.secrets();
    let accounts = [
        (Platform::Messenger, PAGE_ID),
        (Platform::Instagram, "17841400000"),
        (Platform::Whatsapp, "106540352242922"),
        (Platform::X, "3001969357"),
    ];
    for (i, (platform, account)) in accounts.iter().enumerate() {
        connect(&app, &workspace, *platform, account).await;
        let id = format!("mid-{i}");
        let incoming = Incoming {
            account_id: account,
            sender_id: "15551234567",
            sender_name: "Lena Novak",
            message_id: &id,
            text: "Hallo, ist noch ein Zimmer frei?",
            sent_at_ms: now(),
        };
        let response = post(&app, &deliveries::message(*platform, secrets, &incoming).expect("delivery")).await;
        assert_eq!(response.status(), 200, "{platform}");
    }
    connect(&app, &workspace, Platform::Facebook, PAGE_ID).await;
    let rating = deliveries::facebook_rating(secrets, PAGE_ID, "story-9", "Tom", 2, "Cold soup.", now());
    assert_eq!(post(&app, &rating).await.status(), 200);

    let conversations = wait_for_messages(&app, &workspace, 5).await;
    let mut platforms: Vec<&str> = conversations.iter().map(|c| c.platform.as_str()).collect();
    platforms.sort_unstable();
    assert_eq!(platforms, ["facebook", "instagram", "messenger", "whatsapp", "x"]);
    let review = conversations.iter().find(|c| c.platform == "facebook").expect("the rating");
    assert_eq!((review.kind.as_str(), review.rating), ("review", Some(2)));
    let whatsapp = conversations.iter().find(|c| c.platform == "whatsapp").expect("whatsapp");
    assert_eq!(whatsapp.contact_name.as_deref(), Some("Lena Novak"));
}
