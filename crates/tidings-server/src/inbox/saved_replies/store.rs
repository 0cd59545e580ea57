//! Saved replies as stored: one table, both engines, every function scoped to its workspace.

use tidings_core::time::now_millis;
use tidings_core::{SavedReplyId, UserId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader, with_tx};

/// A saved reply.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SavedReplyRow {
    pub id: SavedReplyId,
    pub workspace_id: WorkspaceId,
    pub shortcut: String,
    pub body: String,
    pub created_by: Option<UserId>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, workspace_id, shortcut, body, created_by, created_at, updated_at";

/// The workspace's saved replies, by shortcut.
pub async fn list(db: &Db, workspace: &WorkspaceId) -> Result<Vec<SavedReplyRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM saved_replies WHERE workspace_id = $1 ORDER BY shortcut, id");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .fetch_all(pool)
        .await)?)
}

/// One saved reply of the workspace.
pub async fn get(db: &Db, workspace: &WorkspaceId, id: &SavedReplyId) -> Result<Option<SavedReplyRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM saved_replies WHERE workspace_id = $1 AND id = $2");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)?)
}

/// Stores a new saved reply; `false` when the workspace already has one with this shortcut.
pub async fn insert(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &SavedReplyId,
    shortcut: &str,
    body: &str,
    created_by: Option<&UserId>,
) -> Result<bool, StoreError> {
    let now = now_millis();
    let inserted = execute!(
        tx,
        "INSERT INTO saved_replies (id, workspace_id, shortcut, body, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (workspace_id, shortcut) DO NOTHING",
        id.as_str(),
        workspace.as_str(),
        shortcut,
        body,
        created_by.map(UserId::as_str),
        now
    )?;
    Ok(inserted == 1)
}

/// Whether another saved reply of the workspace than `except` has this shortcut.
pub async fn shortcut_taken(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    shortcut: &str,
    except: &SavedReplyId,
) -> Result<bool, StoreError> {
    let found: Option<String> = with_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT id FROM saved_replies WHERE workspace_id = $1 AND shortcut = $2 AND id <> $3"
    )
    .bind(workspace.as_str())
    .bind(shortcut)
    .bind(except.as_str())
    .fetch_optional(&mut **conn)
    .await)?;
    Ok(found.is_some())
}

/// Replaces a saved reply's shortcut and text; `false` when it is not the workspace's.
pub async fn update(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &SavedReplyId,
    shortcut: &str,
    body: &str,
) -> Result<bool, StoreError> {
    let changed = execute!(
        tx,
        "UPDATE saved_replies SET shortcut = $3, body = $4, updated_at = $5 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        shortcut,
        body,
        now_millis()
    )?;
    Ok(changed == 1)
}

/// Deletes a saved reply; `false` when it is not the workspace's.
pub async fn delete(tx: &mut Tx, workspace: &WorkspaceId, id: &SavedReplyId) -> Result<bool, StoreError> {
    let deleted =
        execute!(tx, "DELETE FROM saved_replies WHERE workspace_id = $1 AND id = $2", workspace.as_str(), id.as_str())?;
    Ok(deleted == 1)
}
