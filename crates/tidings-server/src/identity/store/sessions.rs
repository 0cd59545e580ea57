//! Sessions and their refresh tokens.

use tidings_core::time::now_millis;
use tidings_core::{SessionId, UserId, WorkspaceId};
use tidings_store::{StoreError, Tx, execute, with_tx};

/// A refresh token joined with its session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshRow {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub async fn insert_session(
    tx: &mut Tx,
    session: &SessionId,
    user: &UserId,
    workspace: &WorkspaceId,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "INSERT INTO sessions (id, user_id, workspace_id, ip, user_agent, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        session.as_str(),
        user.as_str(),
        workspace.as_str(),
        ip,
        user_agent,
        now_millis()
    )?;
    Ok(())
}

pub async fn insert_refresh_token(
    tx: &mut Tx,
    session: &SessionId,
    token_hash: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "INSERT INTO refresh_tokens (token_hash, session_id, expires_at, created_at) VALUES ($1, $2, $3, $4)",
        token_hash,
        session.as_str(),
        expires_at,
        now_millis()
    )?;
    Ok(())
}

pub async fn refresh_token(tx: &mut Tx, token_hash: &str) -> Result<Option<RefreshRow>, StoreError> {
    let sql = "SELECT r.session_id, s.user_id, s.workspace_id, r.expires_at, r.used_at, s.revoked_at \
               FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1";
    Ok(with_tx!(tx, |conn| sqlx::query_as(sql).bind(token_hash).fetch_optional(&mut **conn).await)?)
}

/// Spends a refresh token; `false` when it was spent already (a concurrent refresh won).
pub async fn spend_refresh_token(tx: &mut Tx, token_hash: &str) -> Result<bool, StoreError> {
    let spent = execute!(
        tx,
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
        now_millis(),
        token_hash
    )?;
    Ok(spent == 1)
}

pub async fn revoke_session(tx: &mut Tx, session: &str, reason: &str) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
        now_millis(),
        reason,
        session
    )?;
    Ok(())
}

pub async fn revoke_user_sessions(tx: &mut Tx, user: &UserId, reason: &str) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL",
        now_millis(),
        reason,
        user.as_str()
    )?;
    Ok(())
}

pub async fn revoke_user_sessions_except(
    tx: &mut Tx,
    user: &UserId,
    keep: &str,
    reason: &str,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE user_id = $3 AND id <> $4 AND revoked_at IS NULL",
        now_millis(),
        reason,
        user.as_str(),
        keep
    )?;
    Ok(())
}
