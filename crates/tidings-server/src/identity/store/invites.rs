//! Invitations to a workspace.

use tidings_core::time::now_millis;
use tidings_core::{InviteId, UserId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_tx};

use crate::access::Role;

/// A pending or past invitation.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InviteRow {
    pub id: InviteId,
    pub workspace_id: WorkspaceId,
    pub email: String,
    pub role: Role,
    pub invited_by: UserId,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

/// An invitation about to be stored.
pub struct NewInvite<'a> {
    pub id: &'a InviteId,
    pub email: &'a str,
    pub role: Role,
    pub token_hash: &'a str,
    pub invited_by: &'a UserId,
    pub expires_at: i64,
}

pub async fn insert_invite(tx: &mut Tx, workspace: &WorkspaceId, invite: NewInvite<'_>) -> Result<(), StoreError> {
    let NewInvite { id: invite, email, role, token_hash, invited_by, expires_at } = invite;
    execute!(
        tx,
        "INSERT INTO invites (id, workspace_id, email, role, token_hash, invited_by, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        invite.as_str(),
        workspace.as_str(),
        email,
        role.as_str(),
        token_hash,
        invited_by.as_str(),
        expires_at,
        now_millis()
    )?;
    Ok(())
}

const INVITE_COLUMNS: &str =
    "id, workspace_id, email, role, invited_by, expires_at, accepted_at, revoked_at, created_at";

pub async fn pending_invites(db: &Db, workspace: &WorkspaceId) -> Result<Vec<InviteRow>, StoreError> {
    let sql = format!(
        "SELECT {INVITE_COLUMNS} FROM invites WHERE workspace_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL \
         AND expires_at > $2 ORDER BY created_at DESC"
    );
    let mut tx = db.read_for_tenant(workspace).await?;
    let rows = with_tx!(tx, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(now_millis())
        .fetch_all(&mut **conn)
        .await)?;
    tx.commit().await?;
    Ok(rows)
}

pub async fn invite_by_token(tx: &mut Tx, token_hash: &str) -> Result<Option<InviteRow>, StoreError> {
    let sql = format!("SELECT {INVITE_COLUMNS} FROM invites WHERE token_hash = $1");
    Ok(with_tx!(tx, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(token_hash)
        .fetch_optional(&mut **conn)
        .await)?)
}

pub async fn mark_invite_accepted(tx: &mut Tx, invite: &str) -> Result<(), StoreError> {
    execute!(tx, "UPDATE invites SET accepted_at = $1 WHERE id = $2", now_millis(), invite)?;
    Ok(())
}

/// Revokes a pending invite of the workspace; `false` when there is none with that id.
pub async fn revoke_invite(tx: &mut Tx, workspace: &WorkspaceId, invite: &InviteId) -> Result<bool, StoreError> {
    let revoked = execute!(
        tx,
        "UPDATE invites SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 AND accepted_at IS NULL AND revoked_at IS NULL",
        now_millis(),
        workspace.as_str(),
        invite.as_str()
    )?;
    Ok(revoked == 1)
}
