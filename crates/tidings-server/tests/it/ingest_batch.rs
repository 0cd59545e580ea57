//! Storing a batch of messages at once (`inbox::ingest_batch`, what webhook processing does)
//! leaves the inbox exactly as storing them one by one (`inbox::ingest::message`) does: the same
//! outcomes, conversations, contacts and messages.

use tidings_connectors::InboundMessage;
use tidings_core::WorkspaceId;
use tidings_core::time::now_millis;
use tidings_server::inbox::ingest::{self, Ingested, Source};
use tidings_server::inbox::ingest_batch;
use tidings_store::{with_reader, with_tx};

use crate::helpers::{Engine, TestApp};
use crate::on_both_engines;

fn message(thread: &str, id: &str, text: &str, at: i64, echo: bool, name: Option<&str>) -> InboundMessage {
    InboundMessage {
        account_id: "104729585".to_owned(),
        external_id: id.to_owned(),
        thread_id: thread.to_owned(),
        sender_id: if echo { "104729585".to_owned() } else { thread.to_owned() },
        sender_name: name.map(str::to_owned),
        sender_phone: None,
        text: text.to_owned(),
        sent_at_ms: at,
        is_echo: echo,
        raw: serde_json::json!({"mid": id}),
    }
}

fn source(workspace: &WorkspaceId) -> Source {
    Source { workspace_id: workspace.clone(), platform: "messenger".into(), connection_id: None, location_id: None }
}

/// What the inbox shows of a workspace, without its generated ids.
type Conversation = (String, String, String, Option<i64>, bool, i64, i64, String, String);
type Message = (String, String, String, String, Option<String>, i64);

async fn inbox(app: &TestApp, workspace: &WorkspaceId) -> (Vec<Conversation>, Vec<Message>, Vec<String>) {
    with_reader!(app.state.db, |pool| async {
        let conversations = sqlx::query_as(
            "SELECT c.external_thread_id, c.preview, c.status, c.snoozed_until, c.responded, c.message_count, \
             c.last_message_at, c.search_document, k.display_name FROM conversations c \
             JOIN contacts k ON k.id = c.contact_id WHERE c.workspace_id = $1 ORDER BY c.activity_key DESC",
        )
        .bind(workspace.as_str())
        .fetch_all(pool)
        .await?;
        let messages = sqlx::query_as(
            "SELECT c.external_thread_id, m.external_id, m.direction, m.body, m.author_name, m.sent_at \
             FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.workspace_id = $1 ORDER BY m.external_id",
        )
        .bind(workspace.as_str())
        .fetch_all(pool)
        .await?;
        let contacts =
            sqlx::query_scalar("SELECT display_name FROM contacts WHERE workspace_id = $1 ORDER BY display_name")
                .bind(workspace.as_str())
                .fetch_all(pool)
                .await?;
        Ok::<_, sqlx::Error>((conversations, messages, contacts))
    }
    .await)
    .expect("inbox")
}

/// The outcome without its generated ids.
fn shape(outcome: &Ingested) -> (&'static str, bool) {
    match outcome {
        Ingested::New { new_conversation, .. } => ("new", *new_conversation),
        Ingested::Updated { .. } => ("updated", false),
        Ingested::Duplicate => ("duplicate", false),
    }
}

async fn a_batch_leaves_the_inbox_as_one_message_at_a_time_does(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let one_by_one = WorkspaceId::parse(&app.signup("one@example.com").await.workspace_id).expect("id");
    let batched = WorkspaceId::parse(&app.signup("batch@example.com").await.workspace_id).expect("id");
    let t = now_millis() - 60_000;
    // Before the batch: a thread the team closed and answered, a snoozed one.
    let before = [
        message("psid-ana", "m0", "Hello", t, false, Some("Ana")),
        message("psid-ana", "e0", "Hi Ana, how can we help?", t + 1, true, None),
        message("psid-bo", "b0", "Table for two?", t + 2, false, None),
    ];
    let batch = [
        // Ana writes again (reopens, not answered any more), the business answers, and a message
        // sent before that answer arrives after it.
        message("psid-ana", "m1", "Are you open tonight?", t + 10, false, Some("Ana")),
        message("psid-ana", "e1", "Yes, until 11", t + 20, true, None),
        message("psid-ana", "m2", "And on Sunday?", t + 15, false, Some("Ana")),
        // A new thread whose messages arrive out of order, one twice; its sender has no name.
        message("psid-cy", "c1", "Parking nearby?", t + 30, false, None),
        message("psid-cy", "c0", "Hi", t + 25, false, None),
        message("psid-cy", "c1", "Parking nearby?", t + 30, false, None),
        // Already stored before the batch.
        message("psid-bo", "b0", "Table for two?", t + 2, false, None),
        // The snoozed thread's sender, with a NUL in the text (stored without it).
        message("psid-bo", "b1", "Still \0there?", t + 40, false, None),
        // A new thread started by an echo (the business wrote first).
        message("psid-dee", "d0", "Your order is ready", t + 50, true, None),
    ];
    let mut outcomes = Vec::new();
    for workspace in [&one_by_one, &batched] {
        let source = source(workspace);
        let mut tx = app.state.db.begin_for_tenant(workspace).await.expect("tx");
        for item in &before {
            ingest::message(&mut tx, &source, item).await.expect("stored");
        }
        let sql = "UPDATE conversations SET status = CASE WHEN external_thread_id = 'psid-ana' THEN 'closed' \
                   ELSE 'snoozed' END, snoozed_until = $2 WHERE workspace_id = $1";
        with_tx!(tx, |conn| sqlx::query(sql)
            .bind(workspace.as_str())
            .bind(t + 1_000_000)
            .execute(&mut **conn)
            .await
            .map(|_| ()))
        .expect("closed");
        tx.commit().await.expect("commit");

        let mut tx = app.state.db.begin_for_tenant(workspace).await.expect("tx");
        let got = if workspace == &one_by_one {
            let mut got = Vec::new();
            for item in &batch {
                got.push(ingest::message(&mut tx, &source, item).await.expect("stored"));
            }
            got
        } else {
            let items: Vec<_> = batch.iter().map(|item| (&source, item)).collect();
            ingest_batch::messages(&mut tx, &items).await.expect("stored")
        };
        tx.commit().await.expect("commit");
        outcomes.push(got.iter().map(shape).collect::<Vec<_>>());
    }
    assert_eq!(outcomes[0], outcomes[1], "the same outcome for each message");
    let (expected, got) = (inbox(&app, &one_by_one).await, inbox(&app, &batched).await);
    assert_eq!(expected.0, got.0, "the same conversations, in the same order");
    assert_eq!(expected.1, got.1, "the same messages");
    assert_eq!(expected.2, got.2, "the same contacts");
    assert_eq!(got.0.len(), 4);
    assert_eq!(got.1.len(), 10, "each message once");
    assert!(got.1.iter().any(|m| m.3 == "Still there?"), "{:?}", got.1);
}

on_both_engines!(a_batch_leaves_the_inbox_as_one_message_at_a_time_does);
