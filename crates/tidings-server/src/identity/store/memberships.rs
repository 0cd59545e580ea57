//! Memberships: who belongs to a workspace, in which role, and a signed-in member's standing.

use tidings_core::time::now_millis;
use tidings_core::{UserId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader, with_tx};

use crate::access::Role;

/// A member of a workspace.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: i64,
}

pub async fn role_of(db: &Db, workspace: &WorkspaceId, user: &UserId) -> Result<Option<Role>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_scalar(
        "SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2"
    )
    .bind(workspace.as_str())
    .bind(user.as_str())
    .fetch_optional(pool)
    .await)?)
}

/// Adds a member; `false` when already a member.
pub async fn insert_membership(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    user: &UserId,
    role: Role,
) -> Result<bool, StoreError> {
    let inserted = execute!(
        tx,
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        workspace.as_str(),
        user.as_str(),
        role.as_str(),
        now_millis()
    )?;
    Ok(inserted == 1)
}

pub async fn members(db: &Db, workspace: &WorkspaceId) -> Result<Vec<MemberRow>, StoreError> {
    let sql = "SELECT u.id AS user_id, u.email, u.name, m.role, m.created_at AS joined_at FROM memberships m \
               JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 ORDER BY m.created_at, u.id";
    let mut tx = db.read_for_tenant(workspace).await?;
    let rows = with_tx!(tx, |conn| sqlx::query_as(sql).bind(workspace.as_str()).fetch_all(&mut **conn).await)?;
    tx.commit().await?;
    Ok(rows)
}

/// Owners of the workspace, counted inside the transaction that is about to change one.
pub async fn count_owners(tx: &mut Tx, workspace: &WorkspaceId) -> Result<i64, StoreError> {
    Ok(with_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'"
    )
    .bind(workspace.as_str())
    .fetch_one(&mut **conn)
    .await)?)
}

pub async fn member_role_in_tx(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    user: &UserId,
) -> Result<Option<Role>, StoreError> {
    Ok(with_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2"
    )
    .bind(workspace.as_str())
    .bind(user.as_str())
    .fetch_optional(&mut **conn)
    .await)?)
}

pub async fn set_role(tx: &mut Tx, workspace: &WorkspaceId, user: &UserId, role: Role) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3",
        role.as_str(),
        workspace.as_str(),
        user.as_str()
    )?;
    Ok(())
}

pub async fn delete_membership(tx: &mut Tx, workspace: &WorkspaceId, user: &UserId) -> Result<(), StoreError> {
    execute!(
        tx,
        "DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2",
        workspace.as_str(),
        user.as_str()
    )?;
    // Sessions in that workspace end with the membership.
    execute!(
        tx,
        "UPDATE sessions SET revoked_at = $1, revoked_reason = 'membership removed' \
         WHERE workspace_id = $2 AND user_id = $3 AND revoked_at IS NULL",
        now_millis(),
        workspace.as_str(),
        user.as_str()
    )?;
    Ok(())
}

/// A signed-in member's standing in the workspace of their session.
#[derive(Debug, Clone)]
pub struct LiveMember {
    /// Their current role.
    pub role: Role,
    /// The workspace requires two-factor sign-in and they have not turned it on.
    pub owes_two_factor: bool,
    /// The workspace's plan, which sets its API quota.
    pub plan: String,
}

/// The member's current role, if the session is live and still a member's (access tokens die
/// with their session and with the membership), and whether they owe the workspace a second
/// factor, all in one query.
pub async fn live_member(
    db: &Db,
    workspace: &WorkspaceId,
    user: &UserId,
    session: &str,
) -> Result<Option<LiveMember>, StoreError> {
    let row: Option<(Role, bool, Option<i64>, String)> = with_reader!(db, |pool| {
        sqlx::query_as(
            "SELECT m.role, w.require_two_factor, u.totp_enabled_at, w.plan FROM sessions s \
             JOIN memberships m ON m.workspace_id = s.workspace_id AND m.user_id = s.user_id \
             JOIN workspaces w ON w.id = s.workspace_id JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND s.revoked_at IS NULL AND s.workspace_id = $2 AND s.user_id = $3",
        )
        .bind(session)
        .bind(workspace.as_str())
        .bind(user.as_str())
        .fetch_optional(pool)
        .await
    })?;
    Ok(row.map(|(role, required, enabled_at, plan)| LiveMember {
        role,
        owes_two_factor: required && enabled_at.is_none(),
        plan,
    }))
}
