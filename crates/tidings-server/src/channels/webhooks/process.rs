//! The `inbound.process_events` job: stored deliveries become conversations and messages in the
//! workspaces whose accounts they name. Idempotent: messages are unique by platform id, so a job
//! run twice (after a crash, or a retry) stores nothing twice.
//!
//! One job carries the deliveries of an intake batch, so under load a hundred deliveries cost a
//! few short transactions and one to mark them, not two each. A batch that fails is split into
//! one job per delivery, so a delivery that cannot be stored holds up no other.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use tidings_connectors::{InboundEvent, InboundMessage, Platform};
use tidings_core::time::now_millis;
use tidings_core::{EventId, WorkspaceId};
use tidings_store::queue::{JobContext, JobError, NewJob, Queue, Registry};
use tidings_store::{Engine, StoreError, Tx, with_reader, with_tx};

use super::intake::{Intake, ProcessEvents};
use crate::channels::accounts::ChannelContext;
use crate::channels::profiles;
use crate::channels::store::{self, ConnectionRow};
use crate::inbox::ingest::{self, Ingested};
use crate::inbox::ingest_batch;
use crate::inbox::live::LiveEvent;
use crate::inbox::query::placeholders;

/// Deliveries read per query (bound parameters stay few).
const READ_CHUNK: usize = 100;
/// Events ingested per transaction, in a handful of statements (`ingest_batch`): on SQLite few
/// enough that webhook intake, which shares the one writer, never waits long behind one; on
/// PostgreSQL, where intake has connections of its own, a job's whole batch.
fn events_per_tx(engine: Engine) -> usize {
    match engine {
        Engine::Sqlite => 16,
        Engine::Postgres => 64,
    }
}

/// How long processing stands back for waiting deliveries before each transaction.
const LONGEST_YIELD: Duration = Duration::from_millis(100);

/// Jobs one handler call takes from a claim: their deliveries are processed together, with
/// one transaction to mark them all.
const JOBS_PER_CALL: usize = 8;

/// Registers the handler.
pub(super) fn register(registry: &mut Registry, context: ChannelContext, queue: Queue, intake: Intake) {
    registry.register_batch(JOBS_PER_CALL, move |mut jobs: Vec<(ProcessEvents, JobContext)>| {
        let (context, queue, intake) = (context.clone(), queue.clone(), intake.clone());
        async move {
            if jobs.len() > 1 {
                // On failure the queue runs each job alone, as below.
                let ids: Vec<EventId> = jobs.into_iter().flat_map(|(job, _)| job.event_ids).collect();
                return process(&context, &queue, &intake, &ids).await;
            }
            let Some((job, attempt)) = jobs.pop() else { return Ok(()) };
            match process(&context, &queue, &intake, &job.event_ids).await {
                Err(error) if job.event_ids.len() > 1 => {
                    tracing::warn!(error = %error.message(), deliveries = job.event_ids.len(), "batch failed; split");
                    split(&queue, &job.event_ids).await
                }
                Err(error) if attempt.is_last_attempt() || matches!(error, JobError::Fatal { .. }) => {
                    // The job dead-letters: its delivery says so too, with the reason, instead of
                    // staying `received` as if it were still on its way.
                    let failed = job
                        .event_ids
                        .iter()
                        .map(|id| (id.to_string(), Outcome::new("failed", Some(error.message().to_owned()))));
                    if let Err(mark_error) = mark(&context, &failed.collect()).await {
                        tracing::error!(error = %mark_error, "could not mark a failed delivery");
                    }
                    Err(error)
                }
                outcome => outcome,
            }
        }
    });
}

/// Replaces a failed batch by one job per delivery, each with its own retries.
async fn split(queue: &Queue, event_ids: &[EventId]) -> Result<(), JobError> {
    let mut tx = queue.db().begin().await?;
    for id in event_ids {
        queue.enqueue_in(&mut tx, NewJob::new(&ProcessEvents { event_ids: vec![id.clone()] })?).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A stored delivery still to process.
struct Delivery {
    id: EventId,
    platform: Platform,
    body: String,
    received_at: i64,
}

/// What became of one delivery.
struct Outcome {
    status: &'static str,
    /// Inbox items the delivery holds, whether this run or an earlier one stored them.
    events: i64,
    error: Option<String>,
    /// Events for accounts no workspace has connected, as `platform:account`: kept with the
    /// delivery and listed for the operator instead of dropped.
    unmatched: BTreeSet<String>,
}

impl Outcome {
    fn new(status: &'static str, error: Option<String>) -> Self {
        Self { status, events: 0, error, unmatched: BTreeSet::new() }
    }
}

#[tracing::instrument(skip_all, fields(deliveries = event_ids.len()))]
async fn process(
    context: &ChannelContext,
    queue: &Queue,
    intake: &Intake,
    event_ids: &[EventId],
) -> Result<(), JobError> {
    let deliveries = unprocessed(context, event_ids).await?;
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    // Events by workspace, then connection; each keeps the delivery it came from.
    let mut by_workspace: BTreeMap<WorkspaceId, Vec<(ConnectionRow, InboundEvent, usize)>> = BTreeMap::new();
    let mut connections: HashMap<(Platform, String), Option<ConnectionRow>> = HashMap::new();
    let mut unrouted = 0;
    for (index, delivery) in deliveries.iter().enumerate() {
        let platform = delivery.platform;
        let channel = context.platforms.channel(platform).ok_or_else(|| JobError::fatal("no channel"))?;
        // Parsed against the time it was received: a retry hours later must not find it stale.
        let events = match channel.parse_webhook(delivery.body.as_bytes(), delivery.received_at) {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(event_id = %delivery.id, %error, "stored delivery could not be parsed");
                let outcome = Outcome::new("failed", Some(error.to_string()));
                outcomes.insert(delivery.id.to_string(), outcome);
                continue;
            }
        };
        outcomes.insert(delivery.id.to_string(), Outcome::new("processed", None));
        for event in events {
            // Ratings arrive on the Page's webhook but belong to its Facebook (reviews) connection;
            // a Page's messages are Messenger's, even when stored under `facebook` by an older intake.
            let target = match &event {
                InboundEvent::Message(_) if platform == Platform::Facebook => Platform::Messenger,
                InboundEvent::Message(_) => platform,
                InboundEvent::Review { .. } => Platform::Facebook,
                InboundEvent::Ignored { .. } => continue,
            };
            let key = (target, event.account_id().to_owned());
            let connection = match connections.get(&key) {
                Some(known) => known.clone(),
                None => {
                    let found = store::connection_by_account(&context.db, target.as_str(), &key.1).await?;
                    connections.insert(key, found.clone());
                    found
                }
            };
            match connection {
                Some(connection) => {
                    by_workspace.entry(connection.workspace_id.clone()).or_default().push((connection, event, index))
                }
                None => {
                    unrouted += 1;
                    if let Some(outcome) = outcomes.get_mut(delivery.id.as_str()) {
                        outcome.unmatched.insert(format!("{target}:{}", event.account_id()));
                    }
                }
            }
        }
    }
    if unrouted > 0 {
        metrics::counter!("tidings_webhook_events_unmatched_total").increment(unrouted);
        tracing::warn!(unrouted, "events for accounts no workspace has connected were kept as unmatched");
    }
    let mut live = Vec::new();
    for mut events in by_workspace.into_values() {
        // Concurrent jobs lock contacts and conversations in the same order, so two batches about
        // the same threads wait for each other instead of deadlocking. Stable: a thread's
        // messages keep their order.
        events.sort_by(|(_, a, _), (_, b, _)| lock_order(a).cmp(&lock_order(b)));
        let Some((first, _, _)) = events.first() else { continue };
        let workspace = first.source().workspace_id;
        for chunk in events.chunks(events_per_tx(context.db.engine())) {
            // Acknowledging a platform's delivery comes first: on SQLite intake and processing
            // share the one writer, on PostgreSQL the connections and the CPU.
            intake.yield_to_deliveries(LONGEST_YIELD).await;
            let mut tx = context.db.begin_for_tenant(&workspace).await?;
            let ingested = ingest_chunk(&mut tx, queue, chunk).await?;
            let mut announced = Vec::new();
            for ((_, _, index), outcome) in chunk.iter().zip(&ingested) {
                // Counted whether stored now or by an earlier attempt that failed before marking:
                // `events` is what the delivery holds in the inbox.
                if let Some(delivered) = outcomes.get_mut(deliveries[*index].id.as_str()) {
                    delivered.events += 1;
                }
                announced.extend(outcome.domain_event());
                match outcome {
                    Ingested::New { conversation_id, new_conversation, .. } => {
                        let platform = deliveries[*index].platform.as_str();
                        metrics::counter!("tidings_inbound_messages_stored_total", "platform" => platform).increment(1);
                        let kind = if *new_conversation { "conversation.created" } else { "message.created" };
                        live.push(LiveEvent::new(&workspace, kind, conversation_id));
                    }
                    Ingested::Updated { conversation_id, .. } => {
                        live.push(LiveEvent::new(&workspace, "conversation.updated", conversation_id))
                    }
                    Ingested::Duplicate => {}
                }
            }
            // The one place per transaction where a batch's new items are known: one publish,
            // so the pipeline analyses them as one batch.
            context.events.publish_in(&mut tx, &workspace, &announced).await?;
            tx.commit().await?;
        }
    }
    mark(context, &outcomes).await?;
    context.live.publish(live).await;
    // A delivery that cannot be parsed is dead-lettered (alone, once its batch is split), so it
    // shows with the other dead letters in the dashboard.
    match outcomes.into_values().find_map(|outcome| outcome.error) {
        Some(error) => Err(JobError::fatal(error)),
        None => Ok(()),
    }
}

/// Stores one transaction's events: the messages together (`ingest_batch`), reviews one by one;
/// returns what became of each, in order. Senders to name are looked up by jobs queued here.
async fn ingest_chunk(
    tx: &mut Tx,
    queue: &Queue,
    chunk: &[(ConnectionRow, InboundEvent, usize)],
) -> Result<Vec<Ingested>, JobError> {
    let sources = chunk.iter().map(|(connection, _, _)| connection.source()).collect::<Vec<_>>();
    let mut ingested = vec![Ingested::Duplicate; chunk.len()];
    let mut messages = Vec::new();
    let mut at = Vec::new();
    for (n, ((_, event, _), source)) in chunk.iter().zip(&sources).enumerate() {
        match event {
            InboundEvent::Message(message) => {
                messages.push((source, message));
                at.push(n);
            }
            InboundEvent::Review { review, .. } => ingested[n] = ingest::review(tx, source, review).await?,
            InboundEvent::Ignored { .. } => {}
        }
    }
    for (n, outcome) in at.iter().zip(ingest_batch::messages(tx, &messages).await?) {
        ingested[*n] = outcome;
    }
    // One look-up job per connection and moment, however many senders it finds (profiles.rs).
    let mut look_ups = BTreeSet::new();
    for (n, ((connection, event, _), source)) in chunk.iter().zip(&sources).enumerate() {
        if let InboundEvent::Message(message) = event
            && needs_a_name(connection, message, &ingested[n])
            && let Some(connection_id) = &source.connection_id
        {
            look_ups.insert((&source.workspace_id, connection_id));
        }
    }
    let now = now_millis();
    for (workspace, connection) in look_ups {
        profiles::queue_look_up(queue, tx, workspace, connection, now).await?;
    }
    Ok(ingested)
}

/// A sender who started a thread without a name (Messenger and Instagram send only an id) is
/// looked up on the platform, when the connection has credentials to ask with (the demo's and
/// other hand-made connections have none).
fn needs_a_name(connection: &ConnectionRow, message: &InboundMessage, outcome: &Ingested) -> bool {
    let started = matches!(outcome, Ingested::New { new_conversation: true, .. });
    started && message.sender_name.is_none() && !message.is_echo && connection.credentials_secret.is_some()
}

/// The rows an event locks, in the order they are locked: its account, then its thread.
fn lock_order(event: &InboundEvent) -> (&str, &str) {
    let thread = match event {
        InboundEvent::Message(message) => message.thread_id.as_str(),
        InboundEvent::Review { review, .. } => review.external_id.as_str(),
        InboundEvent::Ignored { .. } => "",
    };
    (event.account_id(), thread)
}

/// The deliveries of `event_ids` not processed yet.
async fn unprocessed(context: &ChannelContext, event_ids: &[EventId]) -> Result<Vec<Delivery>, JobError> {
    let mut deliveries = Vec::with_capacity(event_ids.len());
    for chunk in event_ids.chunks(READ_CHUNK) {
        let ids = placeholders(1, chunk.len());
        let sql = format!(
            "SELECT id, platform, body, received_at FROM raw_events \
             WHERE id IN ({ids}) AND status <> 'processed' ORDER BY received_at, id"
        );
        let rows: Vec<(EventId, String, String, i64)> = with_reader!(context.db, |pool| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
            for id in chunk {
                query = query.bind(id.as_str());
            }
            query.fetch_all(pool).await
        })
        .map_err(StoreError::from)?;
        for (id, platform, body, received_at) in rows {
            let platform = Platform::parse(&platform).ok_or_else(|| JobError::fatal("unknown platform"))?;
            deliveries.push(Delivery { id, platform, body, received_at });
        }
    }
    Ok(deliveries)
}

/// What a delivery is marked with: status, event count, error, unmatched accounts.
type Marking<'a> = (&'a str, i64, Option<&'a str>, Option<String>);

/// Records what became of each delivery, in one transaction: one statement per outcome and
/// [`READ_CHUNK`] deliveries (usually all of a batch ended alike: processed, one message each).
async fn mark(context: &ChannelContext, outcomes: &BTreeMap<String, Outcome>) -> Result<(), StoreError> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let mut alike: BTreeMap<Marking<'_>, Vec<&str>> = BTreeMap::new();
    for (id, outcome) in outcomes {
        let unmatched = (!outcome.unmatched.is_empty()).then(|| Vec::from_iter(outcome.unmatched.clone()).join(" "));
        alike.entry((outcome.status, outcome.events, outcome.error.as_deref(), unmatched)).or_default().push(id);
    }
    let now = now_millis();
    let mut tx = context.db.begin().await?;
    for ((status, events, error, unmatched), ids) in alike {
        for chunk in ids.chunks(READ_CHUNK) {
            let sql = format!(
                "UPDATE raw_events SET status = $1, events = $2, error = $3, processed_at = $4, unmatched = $5 \
                 WHERE id IN ({})",
                placeholders(6, chunk.len())
            );
            with_tx!(tx, |conn| {
                let query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(status).bind(events).bind(error);
                let mut query = query.bind(now).bind(unmatched.as_deref());
                for id in chunk {
                    query = query.bind(*id);
                }
                query.execute(&mut **conn).await.map(|_| ())
            })?;
        }
    }
    tx.commit().await
}
