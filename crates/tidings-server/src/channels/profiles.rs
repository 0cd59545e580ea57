//! Real names for senders whose platform sends only an id (Messenger, Instagram). Ingest names
//! such a contact `messenger user 2919`; the first message of the thread also queues a
//! [`NameSender`] job, which asks the platform's User Profile API (allowed once the person has
//! written) and renames the contact, its messages and its threads' search text.

use serde::{Deserialize, Serialize};
use tidings_connectors::ConnectorError;
use tidings_core::{ConnectionId, WorkspaceId};
use tidings_store::queue::{JobError, JobPayload, Registry, names};

use super::accounts::ChannelContext;
use super::store;
use crate::inbox::ingest;
use crate::inbox::live::LiveEvent;

/// Looks up the name of one sender of a connected account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NameSender {
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
    /// The platform's id of the sender (a PSID, an IGSID).
    pub sender_id: String,
}

impl JobPayload for NameSender {
    const KIND: &'static str = "channels.name_sender";
    const QUEUE: &'static str = names::SYNC;
}

/// Registers the handler.
pub fn register(registry: &mut Registry, context: ChannelContext) {
    registry.register(move |job: NameSender, _| {
        let context = context.clone();
        async move { name_sender(&context, &job).await }
    });
}

async fn name_sender(context: &ChannelContext, job: &NameSender) -> Result<(), JobError> {
    let workspace = &job.workspace_id;
    // Disconnected since the message arrived: the placeholder stays.
    let Some(connection) = store::connection(&context.db, workspace, &job.connection_id).await? else { return Ok(()) };
    let platform = connection.platform;
    let Some(channel) = context.platforms.channel(platform) else { return Ok(()) };
    context.check_breaker(platform)?;
    let account = context.account(workspace, &connection, platform).await?;
    // A connection without a token (the demo's) has nothing to ask with.
    if account.credentials.access_token.is_none() {
        return Ok(());
    }
    let name = match channel.sender_name(&account, &job.sender_id).await {
        Ok(name) => {
            context.breakers.record_success(platform.as_str());
            name
        }
        // No consent, blocked, or no such person: nothing will change on a retry.
        Err(ConnectorError::Rejected { message, .. }) => {
            tracing::info!(%platform, %message, "the platform gave no profile for a sender");
            None
        }
        Err(error) => return Err(context.fail(workspace, &job.connection_id, platform, error).await),
    };
    let Some(name) = name else { return Ok(()) };
    let mut tx = context.db.begin_for_tenant(workspace).await?;
    let renamed = ingest::name_sender(&mut tx, workspace, platform.as_str(), &job.sender_id, &name).await?;
    tx.commit().await?;
    let events = renamed.iter().map(|id| LiveEvent::new(workspace, "conversation.updated", id)).collect();
    context.live.publish(events).await;
    Ok(())
}
