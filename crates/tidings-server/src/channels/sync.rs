//! Polling review platforms: each connection is synced on its interval (default 15 minutes) and
//! on demand (`POST /api/v1/reviews/sync`, with a progress task).
//!
//! A sync reads the newest reviews page by page and stops at the first page with nothing new,
//! so a regular sync costs one call. DataForSEO works by tasks: the pending task id is kept as
//! the connection's cursor and polled on the next run. Failures go through the connection's
//! health (last error, consecutive failures), the platform's circuit breaker, and the `sync`
//! queue's backoff (30 s, 2 min, 10 min, 30 min), honouring `Retry-After`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tidings_connectors::Platform;
use tidings_core::time::now_millis;
use tidings_core::{ConnectionId, TaskId, UserId, WorkspaceId};
use tidings_store::queue::{JobContext, JobError, JobPayload, NewJob, Queue, QueueError, Registry, Schedule, names};
use tidings_store::{Db, StoreError, with_tx};

use super::accounts::ChannelContext;
use super::model::ConnectionStatus;
use super::store::{self, ConnectionRow, SyncOutcome};
use crate::inbox::ingest::{self, Ingested};
use crate::inbox::live::LiveEvent;
use crate::inbox::tasks::{self, TaskKind, TaskStatus};

/// The most pages one sync reads (a first sync of a busy location continues on the next run).
const MAX_PAGES: usize = 20;
/// How soon a pending DataForSEO task is polled again.
const PENDING_POLL: Duration = Duration::from_secs(60);

/// Syncs one connection; counts towards `task` when a person asked for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncConnection {
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
    #[serde(default)]
    pub task_id: Option<TaskId>,
}

impl JobPayload for SyncConnection {
    const KIND: &'static str = "sync.connection";
    const QUEUE: &'static str = names::SYNC;
}

/// Every minute: queues the connections whose sync is due.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncDue {}

impl JobPayload for SyncDue {
    const KIND: &'static str = "sync.due";
    const QUEUE: &'static str = names::MAINTENANCE;
}

/// The schedule that finds due connections.
pub fn schedules() -> Result<Vec<Schedule>, QueueError> {
    Ok(vec![Schedule { name: "sync.due".to_owned(), cron: "0 * * * * *".to_owned(), job: NewJob::new(&SyncDue {})? }])
}

/// Registers the sync handlers.
pub fn register(registry: &mut Registry, context: ChannelContext, queue: Queue) {
    let due_context = context.clone();
    registry.register(move |_: SyncDue, _: JobContext| {
        let (context, queue) = (due_context.clone(), queue.clone());
        async move { queue_due(&context.db, &queue).await.map(|_| ()).map_err(JobError::retry) }
    });
    registry.register(move |job: SyncConnection, job_context: JobContext| {
        let context = context.clone();
        async move { sync(&context, &job, &job_context).await }
    });
}

/// Queues every connection whose next sync is due, claiming each so no other process does too.
pub async fn queue_due(db: &Db, queue: &Queue) -> Result<usize, QueueError> {
    let now = now_millis();
    let mut queued = 0;
    for connection in store::due_connections(db, now, 500).await? {
        let Some(platform) = Platform::parse(&connection.platform).filter(|p| p.is_review_source()) else { continue };
        let Some(seen) = connection.next_sync_at else { continue };
        let next = now + connection.sync_interval_secs.max(60) * 1000;
        if !store::claim_sync(db, &connection.id, seen, next).await? {
            continue;
        }
        let job = SyncConnection { workspace_id: connection.workspace_id, connection_id: connection.id, task_id: None };
        let unique = format!("sync:{}", job.connection_id);
        queue.enqueue(NewJob::new(&job)?.workspace(job.workspace_id.clone()).unique_key(unique)).await?;
        queued += 1;
        tracing::debug!(%platform, connection_id = %job.connection_id, "sync queued");
    }
    Ok(queued)
}

/// Starts a sync of every review connection of the workspace now; returns the progress task and
/// how many connections it covers.
pub async fn start_sync(
    db: &Db,
    queue: &Queue,
    workspace: &WorkspaceId,
    requested_by: Option<&UserId>,
    only: Option<&ConnectionId>,
) -> Result<(TaskId, i64), QueueError> {
    let connections: Vec<ConnectionRow> = store::connections(db, workspace)
        .await?
        .into_iter()
        .filter(|c| c.platform.is_review_source())
        .filter(|c| c.status != ConnectionStatus::Paused)
        .filter(|c| only.is_none_or(|id| *id == c.id))
        .collect();
    let total = i64::try_from(connections.len()).unwrap_or(i64::MAX);
    let mut tx = db.begin_for_tenant(workspace).await?;
    let task = tasks::create_task(&mut tx, workspace, TaskKind::Sync, total, requested_by).await?;
    if total == 0 {
        let summary = serde_json::json!({ "connections": 0, "newReviews": 0, "failed": 0 });
        tasks::finish(&mut tx, workspace, &task, TaskStatus::Succeeded, &summary, None).await?;
    }
    for connection in &connections {
        let job = SyncConnection {
            workspace_id: workspace.clone(),
            connection_id: connection.id.clone(),
            task_id: Some(task.clone()),
        };
        queue.enqueue_in(&mut tx, NewJob::new(&job)?.workspace(workspace.clone())).await?;
    }
    tx.commit().await?;
    Ok((task, total))
}

#[tracing::instrument(skip_all, fields(workspace_id = %job.workspace_id, connection_id = %job.connection_id, attempt = job_context.attempt))]
async fn sync(context: &ChannelContext, job: &SyncConnection, job_context: &JobContext) -> Result<(), JobError> {
    let workspace = &job.workspace_id;
    let Some(connection) = store::connection(&context.db, workspace, &job.connection_id).await? else {
        return count(context, job, false).await;
    };
    let result = run(context, workspace, &connection).await;
    let failed = result.is_err();
    if let Err(error) = &result {
        let message = match error {
            JobError::Retry { message, .. } | JobError::Fatal { message } => message.as_str(),
        };
        let mut tx = context.db.begin_for_tenant(workspace).await?;
        // Refused credentials were already marked `needs_reauth` (ChannelContext::fail), and
        // record_sync keeps that mark on a failure.
        let outcome = SyncOutcome {
            status: ConnectionStatus::Error,
            cursor: None,
            error: Some(message),
            next_sync_at: connection.next_sync_at.unwrap_or_else(now_millis),
            cost_centi_cents: 0,
        };
        store::record_sync(&mut tx, workspace, &job.connection_id, &outcome).await?;
        // Refused credentials were announced when they were marked; an outage turns the health
        // from active to failing here, once (the retries find it failing already).
        let refused = store::connection(&context.db, workspace, &job.connection_id)
            .await?
            .is_some_and(|row| row.status == ConnectionStatus::NeedsReauth);
        if connection.status == ConnectionStatus::Active && !refused {
            context.announce_failing(&mut tx, workspace, &job.connection_id, ConnectionStatus::Error, message).await?;
        }
        tx.commit().await?;
    }
    // A person's sync counts each connection once: on success, or when retries are over.
    if !failed || matches!(result, Err(JobError::Fatal { .. })) || job_context.is_last_attempt() {
        count(context, job, failed).await?;
    }
    result
}

/// Reads new reviews until caught up; records the outcome on the connection.
async fn run(context: &ChannelContext, workspace: &WorkspaceId, connection: &ConnectionRow) -> Result<(), JobError> {
    let platform = connection.platform;
    let source = context.platforms.review_source(platform).ok_or_else(|| JobError::fatal("not a review platform"))?;
    let id = &connection.id;
    context.check_breaker(platform)?;
    let account = context.account(workspace, connection, platform).await?;
    let target = connection.source();
    // Only a pending platform task is resumed; page tokens are for one listing and go stale.
    let mut cursor = connection.sync_cursor.clone().filter(|c| c.starts_with("task:"));
    let mut cost = 0;
    let mut pending_cursor = None;
    for _ in 0..MAX_PAGES {
        let page = match source.fetch_reviews(&account, cursor.as_deref()).await {
            Ok(page) => page,
            Err(error) => return Err(context.fail(workspace, id, platform, error).await),
        };
        context.breakers.record_success(platform.as_str());
        cost += page.cost_centi_cents;
        if page.pending {
            pending_cursor = page.next_cursor;
            break;
        }
        let mut tx = context.db.begin_for_tenant(workspace).await?;
        let mut live = Vec::new();
        let mut announced = Vec::new();
        for review in &page.reviews {
            let outcome = ingest::review(&mut tx, &target, review).await?;
            announced.extend(outcome.domain_event());
            match outcome {
                Ingested::New { conversation_id, .. } => {
                    live.push(LiveEvent::new(workspace, "conversation.created", &conversation_id));
                }
                Ingested::Updated { conversation_id, .. } => {
                    live.push(LiveEvent::new(workspace, "conversation.updated", &conversation_id));
                }
                Ingested::Duplicate => {}
            }
        }
        context.events.publish_in(&mut tx, workspace, &announced).await?;
        tx.commit().await?;
        let caught_up = live.is_empty() && !page.reviews.is_empty();
        metrics::counter!("tidings_sync_reviews_new_total", "platform" => platform.as_str())
            .increment(live.len() as u64);
        context.live.publish(live).await;
        match page.next_cursor {
            Some(next) if !caught_up => cursor = Some(next),
            _ => break,
        }
    }
    let interval_ms = connection.sync_interval_secs.max(60) * 1000;
    let next_sync_at = match pending_cursor {
        Some(_) => now_millis() + i64::try_from(PENDING_POLL.as_millis()).unwrap_or(60_000),
        None => now_millis() + interval_ms,
    };
    let mut tx = context.db.begin_for_tenant(workspace).await?;
    let outcome = SyncOutcome {
        status: ConnectionStatus::Active,
        cursor: Some(pending_cursor.as_deref().unwrap_or("")),
        error: None,
        next_sync_at,
        cost_centi_cents: cost,
    };
    store::record_sync(&mut tx, workspace, id, &outcome).await?;
    tx.commit().await?;
    Ok(())
}

/// Counts one connection done on the person's sync task; the last one finishes it.
async fn count(context: &ChannelContext, job: &SyncConnection, failed: bool) -> Result<(), JobError> {
    let Some(task) = &job.task_id else { return Ok(()) };
    let workspace = &job.workspace_id;
    let mut tx = context.db.begin_for_tenant(workspace).await?;
    let (done, total, started): (i64, i64, i64) = with_tx!(tx, |conn| sqlx::query_as(
        "UPDATE tasks SET done = done + 1, updated_at = $3 WHERE workspace_id = $1 AND id = $2 \
         RETURNING done, total, created_at"
    )
    .bind(workspace.as_str())
    .bind(task.as_str())
    .bind(now_millis())
    .fetch_one(&mut **conn)
    .await)
    .map_err(StoreError::from)?;
    if failed {
        tracing::info!(task_id = %task, "a connection of the sync failed");
    }
    if done >= total {
        let (new_reviews, failures): (i64, i64) = with_tx!(tx, |conn| {
            sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM messages WHERE workspace_id = $1 AND kind = 'review' AND created_at >= $2), \
             (SELECT COUNT(*) FROM channel_connections WHERE workspace_id = $1 AND last_error_at >= $2)"
        )
        .bind(workspace.as_str())
        .bind(started)
        .fetch_one(&mut **conn)
        .await
        })
        .map_err(StoreError::from)?;
        let summary = serde_json::json!({ "connections": total, "newReviews": new_reviews, "failed": failures });
        let status = if failures > 0 { TaskStatus::Failed } else { TaskStatus::Succeeded };
        let error = (failures > 0).then(|| format!("{failures} connection(s) failed; see their last error"));
        tasks::finish(&mut tx, workspace, task, status, &summary, error.as_deref()).await?;
    }
    tx.commit().await?;
    Ok(())
}
