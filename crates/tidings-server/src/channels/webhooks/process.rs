//! The `inbound.process_event` job: a stored delivery becomes conversations and messages in the
//! workspaces whose accounts it names. Idempotent: messages are unique by platform id, so a job
//! run twice (after a crash, or a retry) stores nothing twice.

use std::collections::BTreeMap;

use tidings_connectors::{InboundEvent, Platform};
use tidings_core::EventId;
use tidings_core::time::now_millis;
use tidings_store::queue::{JobContext, JobError, Registry};
use tidings_store::{StoreError, with_reader, with_writer};

use super::intake::ProcessEvent;
use crate::channels::accounts::ChannelContext;
use crate::channels::store::{self, ConnectionRow};
use crate::inbox::ingest::{self, Ingested};
use crate::inbox::live::LiveEvent;

/// Registers the handler.
pub fn register(registry: &mut Registry, context: ChannelContext) {
    registry.register(move |job: ProcessEvent, _: JobContext| {
        let context = context.clone();
        async move { process(&context, &job.event_id).await }
    });
}

#[tracing::instrument(skip_all, fields(event_id = %event_id))]
async fn process(context: &ChannelContext, event_id: &EventId) -> Result<(), JobError> {
    let row: Option<(String, String, String, i64)> = with_reader!(context.db, |pool| sqlx::query_as(
        "SELECT platform, body, status, received_at FROM raw_events WHERE id = $1"
    )
    .bind(event_id.as_str())
    .fetch_optional(pool)
    .await)
    .map_err(StoreError::from)?;
    let Some((platform_name, body, status, received_at)) = row else { return Ok(()) };
    if status == "processed" {
        return Ok(());
    }
    let platform = Platform::parse(&platform_name).ok_or_else(|| JobError::fatal("unknown platform"))?;
    let channel = context.platforms.channel(platform).ok_or_else(|| JobError::fatal("no channel"))?;
    // Parsed against the time it was received: a retry hours later must not find it stale.
    let events = match channel.parse_webhook(body.as_bytes(), received_at) {
        Ok(events) => events,
        Err(error) => {
            mark(context, event_id, "failed", 0, Some(&error.to_string())).await?;
            return Err(JobError::fatal(error));
        }
    };
    // Ratings arrive on the Page's webhook but belong to its Facebook (reviews) connection.
    let mut by_connection: BTreeMap<String, (ConnectionRow, Vec<InboundEvent>)> = BTreeMap::new();
    let mut unrouted = 0;
    for event in events {
        let target = match &event {
            InboundEvent::Message(_) => platform,
            InboundEvent::Review { .. } => Platform::Facebook,
            InboundEvent::Ignored { .. } => continue,
        };
        match store::connection_by_account(&context.db, target.as_str(), event.account_id()).await? {
            Some(connection) => {
                by_connection.entry(connection.id.clone()).or_insert((connection, Vec::new())).1.push(event)
            }
            None => unrouted += 1,
        }
    }
    if unrouted > 0 {
        tracing::info!(unrouted, %platform, "events for accounts no workspace has connected were skipped");
    }
    let mut stored = 0;
    let mut live = Vec::new();
    for (connection, events) in by_connection.into_values() {
        let source = connection.source().map_err(JobError::fatal)?;
        let ws = source.workspace_id.clone();
        let mut tx = context.db.begin_for_tenant(&ws).await?;
        for event in &events {
            let outcome = match event {
                InboundEvent::Message(message) => ingest::message(&mut tx, &source, message).await?,
                InboundEvent::Review { review, .. } => ingest::review(&mut tx, &source, review).await?,
                InboundEvent::Ignored { .. } => Ingested::Duplicate,
            };
            match outcome {
                Ingested::New { conversation_id, new_conversation, .. } => {
                    stored += 1;
                    let kind = if new_conversation { "conversation.created" } else { "message.created" };
                    live.push(LiveEvent::new(&ws, kind, &conversation_id));
                }
                Ingested::Updated { conversation_id } => {
                    live.push(LiveEvent::new(&ws, "conversation.updated", &conversation_id))
                }
                Ingested::Duplicate => {}
            }
        }
        tx.commit().await?;
    }
    mark(context, event_id, "processed", stored, None).await?;
    metrics::counter!("tidings_inbound_messages_stored_total", "platform" => platform.as_str())
        .increment(stored as u64);
    context.live.publish(live).await;
    Ok(())
}

async fn mark(
    context: &ChannelContext,
    id: &EventId,
    status: &str,
    events: i64,
    error: Option<&str>,
) -> Result<(), StoreError> {
    with_writer!(context.db, |pool| sqlx::query(
        "UPDATE raw_events SET status = $2, events = $3, error = $4, processed_at = $5 WHERE id = $1"
    )
    .bind(id.as_str())
    .bind(status)
    .bind(events)
    .bind(error)
    .bind(now_millis())
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}
