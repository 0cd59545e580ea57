//! Workspaces, and the list a member switches between.

use crate::access::Role;
use tidings_core::time::now_millis;
use tidings_core::{UserId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader, with_tx};

/// A workspace.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkspaceRow {
    pub id: WorkspaceId,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub require_two_factor: bool,
    pub created_at: i64,
}

/// A workspace as one of its members sees it in the switcher.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MyWorkspaceRow {
    pub id: WorkspaceId,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub role: Role,
}

/// Inserts a workspace; `false` when the slug is taken.
pub async fn insert_workspace(
    tx: &mut Tx,
    id: &WorkspaceId,
    name: &str,
    slug: &str,
    plan: &str,
) -> Result<bool, StoreError> {
    let now = now_millis();
    let inserted = execute!(
        tx,
        "INSERT INTO workspaces (id, name, slug, plan, require_two_factor, settings, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, FALSE, '{}', $5, $5) ON CONFLICT DO NOTHING",
        id.as_str(),
        name,
        slug,
        plan,
        now
    )?;
    Ok(inserted == 1)
}

/// The workspace's plan, which sets its API quota.
pub async fn plan_of(db: &Db, workspace: &WorkspaceId) -> Result<String, StoreError> {
    let plan: Option<String> =
        with_reader!(db, |pool| sqlx::query_scalar("SELECT plan FROM workspaces WHERE id = $1")
            .bind(workspace.as_str())
            .fetch_optional(pool)
            .await)?;
    Ok(plan.unwrap_or_else(|| "free".to_owned()))
}

pub async fn workspace(db: &Db, workspace: &WorkspaceId) -> Result<Option<WorkspaceRow>, StoreError> {
    let sql = "SELECT id, name, slug, plan, require_two_factor, created_at FROM workspaces WHERE id = $1";
    let mut tx = db.read_for_tenant(workspace).await?;
    let row = with_tx!(tx, |conn| sqlx::query_as(sql).bind(workspace.as_str()).fetch_optional(&mut **conn).await)?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update_workspace(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    name: &str,
    require_two_factor: bool,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE workspaces SET name = $1, require_two_factor = $2, updated_at = $3 WHERE id = $4",
        name,
        require_two_factor,
        now_millis(),
        workspace.as_str()
    )?;
    Ok(())
}

pub async fn workspaces_of(db: &Db, user: &UserId) -> Result<Vec<MyWorkspaceRow>, StoreError> {
    let sql = "SELECT w.id, w.name, w.slug, w.plan, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id \
               WHERE m.user_id = $1 ORDER BY m.created_at, w.id";
    Ok(with_reader!(db, |pool| sqlx::query_as(sql).bind(user.as_str()).fetch_all(pool).await)?)
}
