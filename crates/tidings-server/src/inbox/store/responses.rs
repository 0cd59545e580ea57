//! Replies written in Tidings: recorded, read, and moved through the sender's states.

use tidings_connectors::{OutgoingMessage, TemplateMessage};
use tidings_core::time::now_millis;
use tidings_core::{ConversationId, MessageId, ResponseId, UserId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, tenant_read, with_reader, with_tx};

use super::ID_CHUNK;
use crate::inbox::model::{ReplyKind, ResponseStatus};
use crate::inbox::query::placeholders;

/// A reply written in Tidings.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResponseRow {
    pub id: ResponseId,
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    pub in_reply_to: Option<MessageId>,
    pub author_id: Option<UserId>,
    pub body: String,
    pub status: ResponseStatus,
    pub post_to_platform: bool,
    pub deep_link: Option<String>,
    pub external_id: Option<String>,
    pub error: Option<String>,
    pub attempts: i64,
    pub posted_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub kind: ReplyKind,
    pub template_name: Option<String>,
    pub template_language: Option<String>,
    /// The template's body parameters, a JSON array of strings.
    pub template_parameters: Option<String>,
}

const RESPONSE_COLUMNS: &str = "id, workspace_id, conversation_id, in_reply_to, author_id, body, status, \
     post_to_platform, deep_link, external_id, error, attempts, posted_at, created_at, updated_at, kind, \
     template_name, template_language, template_parameters";

impl ResponseRow {
    /// What the sender sends for this reply: its text, tagged or not, or its template.
    pub fn outgoing(&self) -> Result<OutgoingMessage, StoreError> {
        Ok(match self.kind {
            ReplyKind::Text => OutgoingMessage::Text(self.body.clone()),
            ReplyKind::HumanAgent => OutgoingMessage::HumanAgent(self.body.clone()),
            ReplyKind::Template => {
                let parameters = self.template_parameters.as_deref().unwrap_or("[]");
                OutgoingMessage::Template(TemplateMessage {
                    name: self.template_name.clone().unwrap_or_default(),
                    language: self.template_language.clone().unwrap_or_default(),
                    body_parameters: serde_json::from_str(parameters).map_err(StoreError::corrupt)?,
                })
            }
        })
    }
}

/// A new reply to record.
pub struct NewResponse<'a> {
    pub id: &'a ResponseId,
    pub conversation_id: &'a ConversationId,
    pub in_reply_to: Option<&'a MessageId>,
    pub author_id: Option<&'a UserId>,
    pub body: &'a str,
    pub status: ResponseStatus,
    pub post_to_platform: bool,
    pub deep_link: Option<&'a str>,
    pub kind: ReplyKind,
    /// The approved template sent, for `ReplyKind::Template`.
    pub template: Option<&'a TemplateMessage>,
}

pub async fn insert_response(tx: &mut Tx, workspace: &WorkspaceId, new: &NewResponse<'_>) -> Result<(), StoreError> {
    let now = now_millis();
    let parameters = new.template.map(|t| serde_json::json!(t.body_parameters).to_string());
    execute!(
        tx,
        "INSERT INTO responses (id, workspace_id, conversation_id, in_reply_to, author_id, body, status, \
         post_to_platform, deep_link, created_at, updated_at, kind, template_name, template_language, \
         template_parameters) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13, $14)",
        new.id.as_str(),
        workspace.as_str(),
        new.conversation_id.as_str(),
        new.in_reply_to.map(MessageId::as_str),
        new.author_id.map(UserId::as_str),
        new.body,
        new.status.as_str(),
        new.post_to_platform,
        new.deep_link,
        now,
        new.kind.as_str(),
        new.template.map(|t| t.name.as_str()),
        new.template.map(|t| t.language.as_str()),
        parameters.as_deref()
    )?;
    Ok(())
}

/// One response of the workspace.
pub async fn response(db: &Db, workspace: &WorkspaceId, id: &ResponseId) -> Result<Option<ResponseRow>, StoreError> {
    let sql = format!("SELECT {RESPONSE_COLUMNS} FROM responses WHERE workspace_id = $1 AND id = $2");
    Ok(tenant_read!(db, workspace, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut **conn)
        .await)?)
}

/// One response, read inside a transaction (the sender's state machine).
pub async fn response_in(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ResponseId,
) -> Result<Option<ResponseRow>, StoreError> {
    let sql = format!("SELECT {RESPONSE_COLUMNS} FROM responses WHERE workspace_id = $1 AND id = $2");
    Ok(with_tx!(tx, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut **conn)
        .await)?)
}

/// The responses of a conversation, oldest first.
pub async fn responses(db: &Db, workspace: &WorkspaceId, id: &ConversationId) -> Result<Vec<ResponseRow>, StoreError> {
    let sql = format!(
        "SELECT {RESPONSE_COLUMNS} FROM responses WHERE workspace_id = $1 AND conversation_id = $2 ORDER BY created_at, id"
    );
    Ok(tenant_read!(db, workspace, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_all(&mut **conn)
        .await)?)
}

/// The current (newest, not deleted) response of a conversation.
pub async fn current_response(
    db: &Db,
    workspace: &WorkspaceId,
    id: &ConversationId,
) -> Result<Option<ResponseRow>, StoreError> {
    let sql = format!(
        "SELECT {RESPONSE_COLUMNS} FROM responses WHERE workspace_id = $1 AND conversation_id = $2 \
         AND status <> 'deleted' ORDER BY created_at DESC, id DESC LIMIT 1"
    );
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)?)
}

/// Changes a response's status, text, error and platform id in one step.
pub struct ResponseUpdate<'a> {
    pub status: ResponseStatus,
    pub body: Option<&'a str>,
    pub error: Option<&'a str>,
    pub external_id: Option<&'a str>,
    pub posted_at: Option<i64>,
    pub count_attempt: bool,
}

impl ResponseUpdate<'_> {
    /// A change of status alone: text, error, platform id and posting time left as they are
    /// (the error cleared).
    pub fn to(status: ResponseStatus) -> Self {
        Self { status, body: None, error: None, external_id: None, posted_at: None, count_attempt: false }
    }
}

pub async fn update_response(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ResponseId,
    update: &ResponseUpdate<'_>,
) -> Result<bool, StoreError> {
    let changed = execute!(
        tx,
        "UPDATE responses SET status = $3, body = COALESCE($4, body), error = $5, \
         external_id = COALESCE($6, external_id), posted_at = COALESCE($7, posted_at), \
         attempts = attempts + $8, updated_at = $9 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        update.status.as_str(),
        update.body,
        update.error,
        update.external_id,
        update.posted_at,
        i64::from(update.count_attempt),
        now_millis()
    )?;
    Ok(changed == 1)
}

/// The current (newest, not deleted) response of each of the conversations `ids`, keyed by
/// conversation id.
pub async fn current_responses_of(
    db: &Db,
    workspace: &WorkspaceId,
    ids: &[ConversationId],
) -> Result<std::collections::HashMap<ConversationId, ResponseRow>, StoreError> {
    let mut found = std::collections::HashMap::new();
    for chunk in ids.chunks(ID_CHUNK) {
        let sql = format!(
            "SELECT {RESPONSE_COLUMNS} FROM responses WHERE workspace_id = $1 AND status <> 'deleted' \
             AND conversation_id IN ({}) ORDER BY created_at, id",
            placeholders(2, chunk.len())
        );
        let rows: Vec<ResponseRow> = tenant_read!(db, workspace, |conn| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(workspace.as_str());
            for id in chunk {
                query = query.bind(id.as_str());
            }
            query.fetch_all(&mut **conn).await
        })?;
        // Oldest first: the newest, inserted last, is the one kept.
        for row in rows {
            found.insert(row.conversation_id.clone(), row);
        }
    }
    Ok(found)
}
