//! Long work a person started (a sync, a CSV import) and how far it has got: the `tasks` table.
//! Writers take the caller's transaction, so progress commits together with the work it counts.

use serde::{Deserialize, Serialize};
use tidings_core::time::now_millis;
use tidings_core::{TaskId, UserId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader};
use utoipa::ToSchema;

use super::model::stored_enum;

stored_enum!(
    /// What kind of work a task is.
    TaskKind {
        /// A platform sync started by a person.
        Sync,
        /// A CSV import of reviews.
        Import,
    }
);

stored_enum!(
    /// Where a task is.
    TaskStatus {
        /// Still working.
        Running,
        /// Finished without error.
        Succeeded,
        /// Stopped by an error (see `error`).
        Failed,
    }
);

/// A task as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRow {
    pub id: TaskId,
    pub workspace_id: WorkspaceId,
    pub kind: TaskKind,
    pub status: TaskStatus,
    pub total: i64,
    pub done: i64,
    /// JSON object: what the work did (`{"imported": 10, "duplicates": 2}`).
    pub summary: String,
    pub error: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

/// Records a new running task of `total` steps and returns its id.
pub async fn create_task(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    kind: TaskKind,
    total: i64,
    created_by: Option<&UserId>,
) -> Result<TaskId, StoreError> {
    let id = TaskId::generate();
    let now = now_millis();
    execute!(
        tx,
        "INSERT INTO tasks (id, workspace_id, kind, status, total, done, summary, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, 'running', $4, 0, '{}', $5, $6, $6)",
        id.as_str(),
        workspace.as_str(),
        kind.as_str(),
        total,
        created_by.map(UserId::as_str),
        now
    )?;
    Ok(id)
}

/// Keeps the file a task works through until it finishes (see `finish`).
pub async fn set_input(tx: &mut Tx, workspace: &WorkspaceId, id: &TaskId, input: &str) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE tasks SET input = $3 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        input
    )?;
    Ok(())
}

/// What a running task works through, and how far it got.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskInput {
    /// The file (a CSV import's text).
    pub input: String,
    /// Steps done (rows stored) so far.
    pub done: i64,
    /// JSON object: what the done steps did.
    pub summary: String,
}

/// The input of a task still running, if it has one: what a resumed job picks up.
pub async fn input(db: &Db, workspace: &WorkspaceId, id: &TaskId) -> Result<Option<TaskInput>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_as(
        "SELECT input, done, summary FROM tasks \
         WHERE workspace_id = $1 AND id = $2 AND status = 'running' AND input IS NOT NULL"
    )
    .bind(workspace.as_str())
    .bind(id.as_str())
    .fetch_optional(pool)
    .await)?)
}

/// Counts `done_delta` more steps done and records what they did so far (`summary`, a JSON
/// object), so work resumed after a restart reports all of it.
pub async fn advance(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &TaskId,
    done_delta: i64,
    summary: &serde_json::Value,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE tasks SET done = done + $3, summary = $4, updated_at = $5 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        done_delta,
        summary.to_string(),
        now_millis()
    )?;
    Ok(())
}

/// Ends a task with its outcome: `summary` (a JSON object) and, when it failed, the error.
pub async fn finish(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &TaskId,
    status: TaskStatus,
    summary: &serde_json::Value,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let now = now_millis();
    execute!(
        tx,
        "UPDATE tasks SET status = $3, summary = $4, error = $5, finished_at = $6, updated_at = $6, input = NULL \
         WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        status.as_str(),
        summary.to_string(),
        error,
        now
    )?;
    Ok(())
}

/// One task of the workspace.
pub async fn task(db: &Db, workspace: &WorkspaceId, id: &TaskId) -> Result<Option<TaskRow>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_as(
        "SELECT id, workspace_id, kind, status, total, done, summary, error, created_by, created_at, updated_at, \
         finished_at FROM tasks WHERE workspace_id = $1 AND id = $2"
    )
    .bind(workspace.as_str())
    .bind(id.as_str())
    .fetch_optional(pool)
    .await)?)
}
