//! Scale-out on PostgreSQL: two Tidings instances (two processes in production, two applications
//! with their own pools and workers here) on one database drain one backlog of webhook deliveries
//! together, and every message is stored exactly once.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tidings_connectors::Platform;
use tidings_core::time::now_millis;
use tidings_core::{EventId, WorkspaceId};
use tidings_server::channels::webhooks::ProcessEvents;
use tidings_server::demo::deliveries::{self, Incoming};
use tidings_store::queue::NewJob;
use tidings_store::{with_reader, with_tx};

use crate::helpers::{Engine, TestApp};
use crate::webhooks::connect;

const PAGE_ID: &str = "104729585";
const DELIVERIES: usize = 600;
const PER_JOB: usize = 5;
const SENDERS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgresql_drain_one_backlog_storing_each_message_once() {
    let Some(first) = TestApp::spawn_on(Engine::Postgres, |_| {}).await else { return };
    let url = first.state.config.database_url();
    let session = first.signup("owner@example.com").await;
    let workspace = WorkspaceId::parse(&session.workspace_id).expect("workspace id");
    connect(&first, &workspace, Platform::Messenger, PAGE_ID).await;

    // The backlog: stored deliveries and their processing jobs, due a moment from now, once both
    // instances are up (as after an outage, or a flood one instance alone fell behind on).
    let secrets = first.state.platforms.secrets();
    let due = now_millis() + 2_000;
    let mut tx = first.state.db.begin().await.expect("tx");
    let mut ids = Vec::new();
    for n in 0..DELIVERIES {
        let (mid, sender) = (format!("m_scale_{n}"), format!("psid-{}", n % SENDERS));
        let incoming = Incoming {
            account_id: PAGE_ID,
            sender_id: &sender,
            sender_name: "Ana",
            message_id: &mid,
            text: "Is the terrace open?",
            sent_at_ms: now_millis() + i64::try_from(n).expect("small"),
        };
        let delivery = deliveries::message(Platform::Messenger, secrets, &incoming).expect("delivery");
        let id = EventId::generate();
        with_tx!(tx, |conn| sqlx::query(
            "INSERT INTO raw_events (id, platform, dedup_key, body, status, received_at) \
             VALUES ($1, 'messenger', $1, $2, 'received', $3)"
        )
        .bind(id.as_str())
        .bind(&delivery.body)
        .bind(now_millis())
        .execute(&mut **conn)
        .await
        .map(|_| ()))
        .expect("stored");
        ids.push(id);
    }
    let jobs: Vec<NewJob> = ids
        .chunks(PER_JOB)
        .map(|chunk| NewJob::new(&ProcessEvents { event_ids: chunk.to_vec() }).expect("job").run_at(due))
        .collect();
    assert_eq!(first.state.queue.enqueue_many_in(&mut tx, &jobs).await.expect("enqueued"), jobs.len());
    tx.commit().await.expect("commit");

    let second = TestApp::spawn_on(Engine::Postgres, |config| config.database_url = Some(url.clone()))
        .await
        .expect("the second instance starts");

    // Both instances' workers take part: their lease owners are seen on running jobs.
    let mut owners = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (processed, running): (i64, Vec<String>) = with_reader!(first.state.db, |pool| async {
            let processed = sqlx::query_scalar("SELECT COUNT(*) FROM raw_events WHERE status = 'processed'")
                .fetch_one(pool)
                .await?;
            let running = sqlx::query_scalar(
                "SELECT DISTINCT locked_by FROM jobs WHERE state = 'running' AND locked_by IS NOT NULL",
            )
            .fetch_all(pool)
            .await?;
            Ok::<_, sqlx::Error>((processed, running))
        }
        .await)
        .expect("progress");
        owners.extend(running);
        if processed == i64::try_from(DELIVERIES).expect("small") {
            break;
        }
        assert!(Instant::now() < deadline, "only {processed} of {DELIVERIES} deliveries processed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(owners.len() >= 2, "both instances took jobs: {owners:?}");

    let (messages, distinct, conversations, contacts, events): (i64, i64, i64, i64, i64) =
        with_reader!(second.state.db, |pool| sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM messages), (SELECT COUNT(DISTINCT external_id) FROM messages), \
             (SELECT COUNT(*) FROM conversations), (SELECT COUNT(*) FROM contacts), \
             (SELECT CAST(COALESCE(SUM(events), 0) AS BIGINT) FROM raw_events)"
        )
        .fetch_one(pool)
        .await)
        .expect("counts");
    let expected = i64::try_from(DELIVERIES).expect("small");
    assert_eq!((messages, distinct), (expected, expected), "every message stored exactly once");
    let senders = i64::try_from(SENDERS).expect("small");
    assert_eq!((conversations, contacts), (senders, senders), "one thread and one contact per sender");
    assert_eq!(events, expected, "each delivery holds its one message");
    let counted: i64 = with_reader!(second.state.db, |pool| sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(message_count), 0) AS BIGINT) FROM conversations"
    )
    .fetch_one(pool)
    .await)
    .expect("sum");
    assert_eq!(counted, expected, "each conversation counts its messages once");
    let dead: i64 =
        with_reader!(second.state.db, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state = 'dead'")
            .fetch_one(pool)
            .await)
        .expect("dead");
    assert_eq!(dead, 0, "nothing failed");
}
