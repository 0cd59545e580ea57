//! What auto-reply did with each analysed message.

use tidings_core::time::now_millis;
use tidings_core::{ConnectionId, ConversationId, MessageId, ResponseId, WorkspaceId};
use tidings_store::{Db, StoreError, execute, with_reader};

use super::is_unique_violation;

/// One message's auto-reply outcome.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ReplyLogRow {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub connection_id: Option<ConnectionId>,
    /// `pending`, `auto_sent`, `drafted`, `handed_off` or `skipped`.
    pub action: String,
    /// JSON list of agent 7's reasons.
    pub reasons: String,
    pub confidence_percent: Option<i64>,
    pub source: Option<String>,
    pub response_id: Option<ResponseId>,
    pub holding_response_id: Option<ResponseId>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Claims `message` for auto-reply; false when it was claimed before (the job runs at most once).
pub async fn claim_message(
    db: &Db,
    workspace: &WorkspaceId,
    message: &MessageId,
    conversation: &ConversationId,
    connection: Option<&str>,
) -> Result<bool, StoreError> {
    let mut tx = db.begin_for_tenant(workspace).await?;
    let inserted = execute!(
        tx,
        "INSERT INTO ai_reply_log (message_id, workspace_id, conversation_id, connection_id, action, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5, $5)",
        message.as_str(),
        workspace.as_str(),
        conversation.as_str(),
        connection,
        now_millis()
    );
    match inserted {
        Ok(_) => {
            tx.commit().await?;
            Ok(true)
        }
        Err(error) if is_unique_violation(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

/// What happened to a claimed message.
pub struct Outcome<'a> {
    pub action: &'a str,
    pub reasons: &'a str,
    pub confidence_percent: Option<i64>,
    pub source: Option<&'a str>,
    pub response_id: Option<&'a str>,
    pub holding_response_id: Option<&'a str>,
}

/// Records the outcome of a claimed message.
pub async fn record_outcome(
    db: &Db,
    workspace: &WorkspaceId,
    message: &MessageId,
    outcome: &Outcome<'_>,
) -> Result<(), StoreError> {
    let mut tx = db.begin_for_tenant(workspace).await?;
    execute!(
        tx,
        "UPDATE ai_reply_log SET action = $3, reasons = $4, confidence_percent = $5, source = $6, response_id = $7, \
         holding_response_id = $8, updated_at = $9 WHERE workspace_id = $1 AND message_id = $2",
        workspace.as_str(),
        message.as_str(),
        outcome.action,
        outcome.reasons,
        outcome.confidence_percent,
        outcome.source,
        outcome.response_id,
        outcome.holding_response_id,
        now_millis()
    )?;
    tx.commit().await
}

/// The workspace's auto-reply outcomes, newest first, optionally of one conversation.
pub async fn reply_log(
    db: &Db,
    workspace: &WorkspaceId,
    conversation: Option<&ConversationId>,
    limit: i64,
) -> Result<Vec<ReplyLogRow>, StoreError> {
    Ok(with_reader!(db, |pool| {
        sqlx::query_as(
        "SELECT message_id, conversation_id, connection_id, action, reasons, confidence_percent, source, response_id, \
         holding_response_id, created_at, updated_at FROM ai_reply_log \
         WHERE workspace_id = $1 AND ($2 IS NULL OR conversation_id = $2) ORDER BY created_at DESC, message_id DESC LIMIT $3"
    )
    .bind(workspace.as_str())
    .bind(conversation.map(ConversationId::as_str))
    .bind(limit)
    .fetch_all(pool)
    .await
    })?)
}
