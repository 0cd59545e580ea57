//! Sending replies to platforms from the `outbound` queue (6 attempts: 1, 2, 4, 8, 16 s apart).
//!
//! A response is marked `sending` and committed before the platform is called, and the answer
//! is recorded right after. A job that finds its response already `sending` ran before and was
//! interrupted between the two: the platform may have the reply. For platforms whose reply call
//! is an idempotent upsert (Google) it is simply sent again; for the others it is marked
//! `unconfirmed` for a person to check rather than risk a customer receiving it twice.

use std::time::Duration;

use tidings_connectors::{Platform, ReplySupport};
use tidings_core::time::now_millis;
use tidings_core::{ConnectionId, ConversationId, ResponseId, WorkspaceId};
use tidings_store::queue::{JobContext, JobError, Registry};
use tidings_store::{StoreError, with_reader};

use super::accounts::ChannelContext;
use super::store as channel_store;
use crate::inbox::ingest;
use crate::inbox::live::LiveEvent;
use crate::inbox::model::{ConversationKind, MessageKind, ResponseStatus};
use crate::inbox::outbox::{DeleteResponse, SendResponse};
use crate::inbox::store::{self, ResponseUpdate};

/// Registers the outbound handlers.
pub fn register(registry: &mut Registry, context: ChannelContext) {
    let send_context = context.clone();
    registry.register(move |job: SendResponse, job_context: JobContext| {
        let context = send_context.clone();
        async move { send(&context, &job, &job_context).await }
    });
    registry.register(move |job: DeleteResponse, _: JobContext| {
        let context = context.clone();
        async move { delete(&context, &job).await }
    });
}

#[tracing::instrument(skip_all, fields(workspace_id = %job.workspace_id, response_id = %job.response_id, attempt = job_context.attempt))]
async fn send(context: &ChannelContext, job: &SendResponse, job_context: &JobContext) -> Result<(), JobError> {
    let workspace = &job.workspace_id;
    let Some(response) = store::response(&context.db, workspace, &job.response_id).await? else { return Ok(()) };
    let status = response.status;
    let conversation_id = response.conversation_id.clone();
    let conversation = store::conversation(&context.db, workspace, &conversation_id)
        .await?
        .ok_or_else(|| JobError::fatal("conversation gone"))?;
    let platform = Platform::parse(&conversation.platform).ok_or_else(|| JobError::fatal("unknown platform"))?;
    let is_review = conversation.kind == ConversationKind::Review;
    match status {
        ResponseStatus::Queued => {}
        // Interrupted after the platform was called: only an idempotent upsert may be repeated.
        ResponseStatus::Sending if is_review && platform == Platform::Google => {}
        ResponseStatus::Sending => {
            let update = update(
                ResponseStatus::Unconfirmed,
                Some("interrupted while sending: check the platform before sending again"),
            );
            return finish(context, workspace, &job.response_id, &conversation_id, &update).await;
        }
        // Posted, deleted, edited back to a draft…: nothing left to send.
        _ => return Ok(()),
    }
    if platform.reply_support() == ReplySupport::ManualOnly {
        return manual(context, workspace, &job.response_id, &conversation_id, platform, conversation.url.as_deref())
            .await;
    }
    let Some(connection_id) = conversation.connection_id.clone() else {
        return manual(context, workspace, &job.response_id, &conversation_id, platform, conversation.url.as_deref())
            .await;
    };
    let connection = channel_store::connection(&context.db, workspace, &connection_id)
        .await?
        .ok_or_else(|| JobError::fatal("the connection was removed"))?;
    // The demo's accounts exist on no platform: their replies are recorded without a call.
    let account = if connection.demo {
        None
    } else {
        context.check_breaker(platform)?;
        check_rate(context, &connection_id, platform).await?;
        Some(context.account(workspace, &connection, platform).await?)
    };

    // The kind stored with the reply (text, HUMAN_AGENT, template), so a retry sends the same.
    let message = response.outgoing().map_err(JobError::fatal)?;
    let mut tx = context.db.begin_for_tenant(workspace).await?;
    let sending = ResponseUpdate { count_attempt: true, ..update(ResponseStatus::Sending, None) };
    store::update_response(&mut tx, workspace, &job.response_id, &sending).await?;
    tx.commit().await?;

    let result = match &account {
        None => Ok(Some(format!("demo-{}", job.response_id))),
        Some(account) if is_review => {
            let source =
                context.platforms.review_source(platform).ok_or_else(|| JobError::fatal("no review client"))?;
            source.post_reply(account, &conversation.external_thread_id, &response.body).await.map(|p| p.external_id)
        }
        Some(account) => {
            let channel = context.platforms.channel(platform).ok_or_else(|| JobError::fatal("no messaging client"))?;
            channel.send(account, &conversation.external_thread_id, &message).await.map(|s| Some(s.external_id))
        }
    };
    match result {
        Ok(external_id) => {
            context.breakers.record_success(platform.as_str());
            let external_id = external_id.unwrap_or_else(|| format!("{}#reply", conversation.external_thread_id));
            let mut tx = context.db.begin_for_tenant(workspace).await?;
            let posted = ResponseUpdate {
                external_id: Some(&external_id),
                posted_at: Some(now_millis()),
                ..update(ResponseStatus::Posted, None)
            };
            store::update_response(&mut tx, workspace, &job.response_id, &posted).await?;
            let source = connection.source();
            let kind = if is_review { MessageKind::Reply } else { MessageKind::Message };
            ingest::outbound(
                &mut tx,
                &source,
                &conversation_id,
                job.response_id.as_str(),
                &external_id,
                kind,
                &response.body,
            )
            .await?;
            tx.commit().await?;
            metrics::counter!("tidings_outbound_sent_total", "platform" => platform.as_str()).increment(1);
            context.live.publish(vec![LiveEvent::new(workspace, "message.created", &conversation_id)]).await;
            Ok(())
        }
        Err(tidings_connectors::ConnectorError::ReplyNotSupported { deep_link: link, .. }) => {
            let link = link.unwrap_or_else(|| platform.deep_link(conversation.url.as_deref()));
            set_manual(context, workspace, &job.response_id, &conversation_id, &link).await
        }
        Err(error) => {
            let outcome = context.fail(workspace, &connection_id, platform, error).await;
            let (status, message) = match &outcome {
                JobError::Retry { message, .. } if !job_context.is_last_attempt() => {
                    (ResponseStatus::Queued, message.clone())
                }
                JobError::Retry { message, .. } | JobError::Fatal { message } => {
                    (ResponseStatus::Failed, message.clone())
                }
            };
            finish(context, workspace, &job.response_id, &conversation_id, &update(status, Some(&message))).await?;
            metrics::counter!("tidings_outbound_failed_total", "platform" => platform.as_str()).increment(1);
            Err(outcome)
        }
    }
}

async fn delete(context: &ChannelContext, job: &DeleteResponse) -> Result<(), JobError> {
    let workspace = &job.workspace_id;
    let Some(response) = store::response(&context.db, workspace, &job.response_id).await? else { return Ok(()) };
    let conversation_id = response.conversation_id;
    let Some(conversation) = store::conversation(&context.db, workspace, &conversation_id).await? else {
        return Ok(());
    };
    let platform = Platform::parse(&conversation.platform).ok_or_else(|| JobError::fatal("unknown platform"))?;
    let (Some(source), Some(connection_id)) =
        (context.platforms.review_source(platform), conversation.connection_id.as_ref())
    else {
        // Messages cannot be unsent; nothing to do on the platform.
        return Ok(());
    };
    let Some(connection) = channel_store::connection(&context.db, workspace, connection_id).await? else {
        return Ok(());
    };
    context.check_breaker(platform)?;
    let account = context.account(workspace, &connection, platform).await?;
    match source.delete_reply(&account, &conversation.external_thread_id).await {
        Ok(()) | Err(tidings_connectors::ConnectorError::ReplyNotSupported { .. }) => Ok(()),
        Err(error) => Err(context.fail(workspace, connection_id, platform, error).await),
    }
}

/// Refuses to send faster than the platform's hourly limit for one connection
/// (`connectors.outbound_per_hour`), counted from what was posted in the last hour.
async fn check_rate(context: &ChannelContext, connection: &ConnectionId, platform: Platform) -> Result<(), JobError> {
    let Some(limit) = context.platforms.config().outbound_per_hour.get(platform.as_str()).copied() else {
        return Ok(());
    };
    let since = now_millis() - 3_600_000;
    let (count, oldest): (i64, Option<i64>) = with_reader!(context.db, |pool| sqlx::query_as(
        "SELECT COUNT(*), MIN(r.posted_at) FROM responses r JOIN conversations c ON c.id = r.conversation_id \
         WHERE c.connection_id = $1 AND r.posted_at IS NOT NULL AND r.posted_at > $2 AND r.status = 'posted'"
    )
    .bind(connection.as_str())
    .bind(since)
    .fetch_one(pool)
    .await)
    .map_err(StoreError::from)?;
    if count < i64::from(limit) {
        return Ok(());
    }
    let wait_ms = oldest.map_or(60_000, |oldest| (oldest + 3_600_000 - now_millis()).max(1_000));
    metrics::counter!("tidings_outbound_rate_limited_total", "platform" => platform.as_str()).increment(1);
    Err(JobError::retry_after(
        format!("{platform} allows {limit} replies an hour per account"),
        Duration::from_millis(u64::try_from(wait_ms).unwrap_or(60_000)),
    ))
}

fn update(status: ResponseStatus, error: Option<&str>) -> ResponseUpdate<'_> {
    ResponseUpdate { error, ..ResponseUpdate::to(status) }
}

async fn manual(
    context: &ChannelContext,
    workspace: &WorkspaceId,
    id: &ResponseId,
    conversation: &ConversationId,
    platform: Platform,
    url: Option<&str>,
) -> Result<(), JobError> {
    set_manual(context, workspace, id, conversation, &platform.deep_link(url)).await
}

async fn set_manual(
    context: &ChannelContext,
    workspace: &WorkspaceId,
    id: &ResponseId,
    conversation: &ConversationId,
    link: &str,
) -> Result<(), JobError> {
    let mut tx = context.db.begin_for_tenant(workspace).await?;
    store::set_deep_link(&mut tx, workspace, id, link).await?;
    tx.commit().await?;
    let message = "this platform does not accept replies through its API: post it by hand";
    finish(context, workspace, id, conversation, &update(ResponseStatus::ManualRequired, Some(message))).await
}

async fn finish(
    context: &ChannelContext,
    workspace: &WorkspaceId,
    id: &ResponseId,
    conversation: &ConversationId,
    update: &ResponseUpdate<'_>,
) -> Result<(), JobError> {
    let mut tx = context.db.begin_for_tenant(workspace).await?;
    store::update_response(&mut tx, workspace, id, update).await?;
    tx.commit().await?;
    context.live.publish(vec![LiveEvent::new(workspace, "conversation.updated", conversation)]).await;
    Ok(())
}
