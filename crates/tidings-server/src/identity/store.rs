//! Identity queries. Functions touching a workspace's data take its `WorkspaceId` first.

use tidings_core::time::now_millis;
use tidings_core::{ApiKeyId, InviteId, SessionId, UserId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, with_reader, with_tx, with_writer};

use super::permissions::Role;

/// A person who can sign in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub email_verified_at: Option<i64>,
    /// When two-factor sign-in was turned on; `None` while it is off.
    pub totp_enabled_at: Option<i64>,
    pub created_at: i64,
}

/// A workspace.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkspaceRow {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub require_two_factor: bool,
    pub created_at: i64,
}

/// A workspace as one of its members sees it in the switcher.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MyWorkspaceRow {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub role: String,
}

/// A member of a workspace.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub joined_at: i64,
}

/// A pending or past invitation.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InviteRow {
    pub id: String,
    pub workspace_id: String,
    pub email: String,
    pub role: String,
    pub invited_by: String,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

/// A refresh token joined with its session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshRow {
    pub session_id: String,
    pub user_id: String,
    pub workspace_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// An API key (never its secret).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub created_by: String,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

const USER_COLUMNS: &str = "id, email, name, password_hash, email_verified_at, totp_enabled_at, created_at";

pub async fn user_by_email(db: &Db, email: &str) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(email)
        .fetch_optional(pool)
        .await)?)
}

pub async fn user_by_id(db: &Db, id: &UserId) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)?)
}

/// Inserts a user; `false` when the email is taken.
pub async fn insert_user(
    tx: &mut Tx,
    id: &UserId,
    email: &str,
    name: &str,
    password_hash: &str,
    verified: bool,
) -> Result<bool, StoreError> {
    let now = now_millis();
    let inserted = with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, email_verified_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING"
    )
    .bind(id.as_str())
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(verified.then_some(now))
    .bind(now)
    .execute(&mut **conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(inserted == 1)
}

pub async fn set_password(tx: &mut Tx, user: &UserId, password_hash: &str) -> Result<(), StoreError> {
    with_tx!(tx, |conn| sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(password_hash)
        .bind(now_millis())
        .bind(user.as_str())
        .execute(&mut **conn)
        .await
        .map(|_| ()))?;
    Ok(())
}

pub async fn set_name(db: &Db, user: &UserId, name: &str) -> Result<(), StoreError> {
    with_writer!(db, |pool| sqlx::query("UPDATE users SET name = $1, updated_at = $2 WHERE id = $3")
        .bind(name)
        .bind(now_millis())
        .bind(user.as_str())
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(())
}

pub async fn mark_email_verified(tx: &mut Tx, user: &UserId) -> Result<(), StoreError> {
    with_tx!(tx, |conn| sqlx::query(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $1), updated_at = $1 WHERE id = $2"
    )
    .bind(now_millis())
    .bind(user.as_str())
    .execute(&mut **conn)
    .await
    .map(|_| ()))?;
    Ok(())
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
    let inserted = with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO workspaces (id, name, slug, plan, require_two_factor, settings, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, FALSE, '{}', $5, $5) ON CONFLICT DO NOTHING"
    )
    .bind(id.as_str())
    .bind(name)
    .bind(slug)
    .bind(plan)
    .bind(now)
    .execute(&mut **conn)
    .await
    .map(|r| r.rows_affected()))?;
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
    with_tx!(tx, |conn| sqlx::query(
        "UPDATE workspaces SET name = $1, require_two_factor = $2, updated_at = $3 WHERE id = $4"
    )
    .bind(name)
    .bind(require_two_factor)
    .bind(now_millis())
    .bind(workspace.as_str())
    .execute(&mut **conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

pub async fn workspaces_of(db: &Db, user: &UserId) -> Result<Vec<MyWorkspaceRow>, StoreError> {
    let sql = "SELECT w.id, w.name, w.slug, w.plan, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id \
               WHERE m.user_id = $1 ORDER BY m.created_at, w.id";
    Ok(with_reader!(db, |pool| sqlx::query_as(sql).bind(user.as_str()).fetch_all(pool).await)?)
}

pub async fn role_of(db: &Db, workspace: &WorkspaceId, user: &UserId) -> Result<Option<Role>, StoreError> {
    let role: Option<String> = with_reader!(db, |pool| sqlx::query_scalar(
        "SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2"
    )
    .bind(workspace.as_str())
    .bind(user.as_str())
    .fetch_optional(pool)
    .await)?;
    Ok(role.as_deref().and_then(Role::parse))
}

/// Adds a member; `false` when already a member.
pub async fn insert_membership(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    user: &UserId,
    role: Role,
) -> Result<bool, StoreError> {
    let inserted = with_tx!(tx, |conn| {
        sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
    )
    .bind(workspace.as_str())
    .bind(user.as_str())
    .bind(role.as_str())
    .bind(now_millis())
    .execute(&mut **conn)
    .await
    .map(|r| r.rows_affected())
    })?;
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
    let role: Option<String> = with_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2"
    )
    .bind(workspace.as_str())
    .bind(user.as_str())
    .fetch_optional(&mut **conn)
    .await)?;
    Ok(role.as_deref().and_then(Role::parse))
}

pub async fn set_role(tx: &mut Tx, workspace: &WorkspaceId, user: &UserId, role: Role) -> Result<(), StoreError> {
    with_tx!(tx, |conn| sqlx::query("UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3")
        .bind(role.as_str())
        .bind(workspace.as_str())
        .bind(user.as_str())
        .execute(&mut **conn)
        .await
        .map(|_| ()))?;
    Ok(())
}

pub async fn delete_membership(tx: &mut Tx, workspace: &WorkspaceId, user: &UserId) -> Result<(), StoreError> {
    with_tx!(tx, |conn| sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
        .bind(workspace.as_str())
        .bind(user.as_str())
        .execute(&mut **conn)
        .await
        .map(|_| ()))?;
    // Sessions in that workspace end with the membership.
    with_tx!(tx, |conn| sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = 'membership removed' \
         WHERE workspace_id = $2 AND user_id = $3 AND revoked_at IS NULL"
    )
    .bind(now_millis())
    .bind(workspace.as_str())
    .bind(user.as_str())
    .execute(&mut **conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

pub async fn insert_session(
    tx: &mut Tx,
    session: &SessionId,
    user: &UserId,
    workspace: &WorkspaceId,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<(), StoreError> {
    with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO sessions (id, user_id, workspace_id, ip, user_agent, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(session.as_str())
    .bind(user.as_str())
    .bind(workspace.as_str())
    .bind(ip)
    .bind(user_agent)
    .bind(now_millis())
    .execute(&mut **conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

pub async fn insert_refresh_token(
    tx: &mut Tx,
    session: &SessionId,
    token_hash: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, expires_at, created_at) VALUES ($1, $2, $3, $4)"
    )
    .bind(token_hash)
    .bind(session.as_str())
    .bind(expires_at)
    .bind(now_millis())
    .execute(&mut **conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

pub async fn refresh_token(tx: &mut Tx, token_hash: &str) -> Result<Option<RefreshRow>, StoreError> {
    let sql = "SELECT r.session_id, s.user_id, s.workspace_id, r.expires_at, r.used_at, s.revoked_at \
               FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1";
    Ok(with_tx!(tx, |conn| sqlx::query_as(sql).bind(token_hash).fetch_optional(&mut **conn).await)?)
}

/// Spends a refresh token; `false` when it was spent already (a concurrent refresh won).
pub async fn spend_refresh_token(tx: &mut Tx, token_hash: &str) -> Result<bool, StoreError> {
    let spent = with_tx!(tx, |conn| sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL"
    )
    .bind(now_millis())
    .bind(token_hash)
    .execute(&mut **conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(spent == 1)
}

pub async fn revoke_session(tx: &mut Tx, session: &str, reason: &str) -> Result<(), StoreError> {
    with_tx!(tx, |conn| sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL"
    )
    .bind(now_millis())
    .bind(reason)
    .bind(session)
    .execute(&mut **conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

pub async fn revoke_user_sessions(tx: &mut Tx, user: &UserId, reason: &str) -> Result<(), StoreError> {
    with_tx!(tx, |conn| sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL"
    )
    .bind(now_millis())
    .bind(reason)
    .bind(user.as_str())
    .execute(&mut **conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

pub async fn revoke_user_sessions_except(
    tx: &mut Tx,
    user: &UserId,
    keep: &str,
    reason: &str,
) -> Result<(), StoreError> {
    with_tx!(tx, |conn| {
        sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE user_id = $3 AND id <> $4 AND revoked_at IS NULL"
    )
    .bind(now_millis())
    .bind(reason)
    .bind(user.as_str())
    .bind(keep)
    .execute(&mut **conn)
    .await
    .map(|_| ())
    })?;
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
    let row: Option<(String, bool, Option<i64>, String)> = with_reader!(db, |pool| {
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
    Ok(row.and_then(|(role, required, enabled_at, plan)| {
        Role::parse(&role).map(|role| LiveMember { role, owes_two_factor: required && enabled_at.is_none(), plan })
    }))
}

pub async fn insert_email_token(
    tx: &mut Tx,
    user: &UserId,
    purpose: &str,
    token_hash: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(token_hash)
    .bind(user.as_str())
    .bind(purpose)
    .bind(expires_at)
    .bind(now_millis())
    .execute(&mut **conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Spends a live email token of the given purpose, returning its user.
pub async fn spend_email_token(tx: &mut Tx, purpose: &str, token_hash: &str) -> Result<Option<UserId>, StoreError> {
    let now = now_millis();
    let user: Option<String> = with_tx!(tx, |conn| {
        sqlx::query_scalar(
        "UPDATE email_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 \
         RETURNING user_id"
    )
    .bind(now)
    .bind(token_hash)
    .bind(purpose)
    .fetch_optional(&mut **conn)
    .await
    })?;
    Ok(user.as_deref().and_then(|id| UserId::parse(id).ok()))
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
    with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO invites (id, workspace_id, email, role, token_hash, invited_by, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(invite.as_str())
    .bind(workspace.as_str())
    .bind(email)
    .bind(role.as_str())
    .bind(token_hash)
    .bind(invited_by.as_str())
    .bind(expires_at)
    .bind(now_millis())
    .execute(&mut **conn)
    .await
    .map(|_| ()))?;
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
    with_tx!(tx, |conn| sqlx::query("UPDATE invites SET accepted_at = $1 WHERE id = $2")
        .bind(now_millis())
        .bind(invite)
        .execute(&mut **conn)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Revokes a pending invite of the workspace; `false` when there is none with that id.
pub async fn revoke_invite(tx: &mut Tx, workspace: &WorkspaceId, invite: &InviteId) -> Result<bool, StoreError> {
    let revoked = with_tx!(tx, |conn| {
        sqlx::query(
        "UPDATE invites SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 AND accepted_at IS NULL AND revoked_at IS NULL"
    )
    .bind(now_millis())
    .bind(workspace.as_str())
    .bind(invite.as_str())
    .execute(&mut **conn)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(revoked == 1)
}

/// An API key about to be stored (its hash, never the key).
pub struct NewApiKey<'a> {
    pub id: &'a ApiKeyId,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub role: Role,
    pub created_by: &'a UserId,
}

pub async fn insert_api_key(tx: &mut Tx, workspace: &WorkspaceId, key: NewApiKey<'_>) -> Result<(), StoreError> {
    let NewApiKey { id: key, name, prefix, key_hash, role, created_by } = key;
    with_tx!(tx, |conn| sqlx::query(
        "INSERT INTO api_keys (id, workspace_id, name, prefix, key_hash, role, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(key.as_str())
    .bind(workspace.as_str())
    .bind(name)
    .bind(prefix)
    .bind(key_hash)
    .bind(role.as_str())
    .bind(created_by.as_str())
    .bind(now_millis())
    .execute(&mut **conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

const API_KEY_COLUMNS: &str = "id, workspace_id, name, prefix, role, created_by, last_used_at, revoked_at, created_at";

pub async fn api_keys(db: &Db, workspace: &WorkspaceId) -> Result<Vec<ApiKeyRow>, StoreError> {
    let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE workspace_id = $1 ORDER BY created_at DESC");
    let mut tx = db.read_for_tenant(workspace).await?;
    let rows = with_tx!(tx, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .fetch_all(&mut **conn)
        .await)?;
    tx.commit().await?;
    Ok(rows)
}

pub async fn api_key_by_hash(db: &Db, key_hash: &str) -> Result<Option<ApiKeyRow>, StoreError> {
    let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(key_hash)
        .fetch_optional(pool)
        .await)?)
}

/// Records a use, at most once a minute per key so busy keys do not write on every request.
pub async fn touch_api_key(db: &Db, key: &str) -> Result<(), StoreError> {
    let now = now_millis();
    with_writer!(db, |pool| sqlx::query(
        "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)"
    )
    .bind(now)
    .bind(key)
    .bind(now - 60_000)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Revokes a key of the workspace; `false` when there is no live key with that id.
pub async fn revoke_api_key(tx: &mut Tx, workspace: &WorkspaceId, key: &ApiKeyId) -> Result<bool, StoreError> {
    let revoked = with_tx!(tx, |conn| sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 AND revoked_at IS NULL"
    )
    .bind(now_millis())
    .bind(workspace.as_str())
    .bind(key.as_str())
    .execute(&mut **conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(revoked == 1)
}

/// A member's two-factor secret (encrypted) and whether it is in use.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotpRow {
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enabled_at: Option<i64>,
}

pub async fn totp_state(tx: &mut Tx, user: &UserId) -> Result<Option<TotpRow>, StoreError> {
    Ok(with_tx!(tx, |conn| sqlx::query_as("SELECT totp_secret, totp_enabled_at FROM users WHERE id = $1")
        .bind(user.as_str())
        .fetch_optional(&mut **conn)
        .await)?)
}

/// Stores a new secret, not yet in use; `false` when two-factor sign-in is already on.
pub async fn set_pending_totp_secret(tx: &mut Tx, user: &UserId, sealed: &[u8]) -> Result<bool, StoreError> {
    let updated = with_tx!(tx, |conn| sqlx::query(
        "UPDATE users SET totp_secret = $1, totp_last_step = NULL, updated_at = $2 \
         WHERE id = $3 AND totp_enabled_at IS NULL"
    )
    .bind(sealed)
    .bind(now_millis())
    .bind(user.as_str())
    .execute(&mut **conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Turns two-factor sign-in on; `false` when it already was, or no secret was set up.
pub async fn enable_totp(tx: &mut Tx, user: &UserId) -> Result<bool, StoreError> {
    let updated = with_tx!(tx, |conn| sqlx::query(
        "UPDATE users SET totp_enabled_at = $1, updated_at = $1 \
         WHERE id = $2 AND totp_enabled_at IS NULL AND totp_secret IS NOT NULL"
    )
    .bind(now_millis())
    .bind(user.as_str())
    .execute(&mut **conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Turns two-factor sign-in off and forgets the secret and the recovery codes.
pub async fn disable_totp(tx: &mut Tx, user: &UserId) -> Result<(), StoreError> {
    with_tx!(tx, |conn| sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL, updated_at = $1 \
         WHERE id = $2"
    )
    .bind(now_millis())
    .bind(user.as_str())
    .execute(&mut **conn)
    .await
    .map(|_| ()))?;
    with_tx!(tx, |conn| sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user.as_str())
        .execute(&mut **conn)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Records that the code of time step `step` was used; `false` when that step or a later one
/// already was (a replayed or outdated code).
pub async fn spend_totp_step(tx: &mut Tx, user: &UserId, step: i64) -> Result<bool, StoreError> {
    let updated = with_tx!(tx, |conn| sqlx::query(
        "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)"
    )
    .bind(step)
    .bind(user.as_str())
    .execute(&mut **conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Replaces the member's recovery codes with these (hashed) ones.
pub async fn replace_recovery_codes(tx: &mut Tx, user: &UserId, code_hashes: &[String]) -> Result<(), StoreError> {
    with_tx!(tx, |conn| sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user.as_str())
        .execute(&mut **conn)
        .await
        .map(|_| ()))?;
    for hash in code_hashes {
        with_tx!(tx, |conn| sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user.as_str())
            .bind(hash.as_str())
            .execute(&mut **conn)
            .await
            .map(|_| ()))?;
    }
    Ok(())
}

/// Spends an unused recovery code; `false` when the member has no such unused code.
pub async fn spend_recovery_code(tx: &mut Tx, user: &UserId, code_hash: &str) -> Result<bool, StoreError> {
    let updated = with_tx!(tx, |conn| sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL"
    )
    .bind(now_millis())
    .bind(user.as_str())
    .bind(code_hash)
    .execute(&mut **conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

pub async fn unused_recovery_codes(tx: &mut Tx, user: &UserId) -> Result<i64, StoreError> {
    Ok(with_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL"
    )
    .bind(user.as_str())
    .fetch_one(&mut **conn)
    .await)?)
}

/// The step between password and code of a two-factor sign-in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChallengeRow {
    pub user_id: String,
    pub workspace_id: String,
    pub failed_attempts: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Stores a challenge, and clears the member's expired ones.
pub async fn insert_challenge(
    tx: &mut Tx,
    token_hash: &str,
    user: &UserId,
    workspace: &WorkspaceId,
    expires_at: i64,
) -> Result<(), StoreError> {
    let now = now_millis();
    with_tx!(tx, |conn| sqlx::query("DELETE FROM two_factor_challenges WHERE user_id = $1 AND expires_at <= $2")
        .bind(user.as_str())
        .bind(now)
        .execute(&mut **conn)
        .await
        .map(|_| ()))?;
    with_tx!(tx, |conn| {
        sqlx::query(
        "INSERT INTO two_factor_challenges (token_hash, user_id, workspace_id, failed_attempts, expires_at, created_at) \
         VALUES ($1, $2, $3, 0, $4, $5)"
    )
    .bind(token_hash)
    .bind(user.as_str())
    .bind(workspace.as_str())
    .bind(expires_at)
    .bind(now)
    .execute(&mut **conn)
    .await
    .map(|_| ())
    })?;
    Ok(())
}

pub async fn challenge(tx: &mut Tx, token_hash: &str) -> Result<Option<ChallengeRow>, StoreError> {
    Ok(with_tx!(tx, |conn| sqlx::query_as(
        "SELECT user_id, workspace_id, failed_attempts, expires_at, used_at FROM two_factor_challenges \
         WHERE token_hash = $1"
    )
    .bind(token_hash)
    .fetch_optional(&mut **conn)
    .await)?)
}

pub async fn count_failed_challenge(tx: &mut Tx, token_hash: &str) -> Result<(), StoreError> {
    with_tx!(tx, |conn| sqlx::query(
        "UPDATE two_factor_challenges SET failed_attempts = failed_attempts + 1 WHERE token_hash = $1"
    )
    .bind(token_hash)
    .execute(&mut **conn)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Spends a live challenge; `false` when it was spent already or has expired.
pub async fn spend_challenge(tx: &mut Tx, token_hash: &str) -> Result<bool, StoreError> {
    let now = now_millis();
    let spent = with_tx!(tx, |conn| {
        sqlx::query(
        "UPDATE two_factor_challenges SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1"
    )
    .bind(now)
    .bind(token_hash)
    .execute(&mut **conn)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(spent == 1)
}
