//! API keys (their hashes, never the keys).

use tidings_core::time::now_millis;
use tidings_core::{ApiKeyId, UserId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader, with_tx, with_writer};

use crate::access::Role;

/// An API key (never its secret).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: ApiKeyId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub prefix: String,
    pub role: Role,
    pub created_by: UserId,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
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
    execute!(
        tx,
        "INSERT INTO api_keys (id, workspace_id, name, prefix, key_hash, role, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        key.as_str(),
        workspace.as_str(),
        name,
        prefix,
        key_hash,
        role.as_str(),
        created_by.as_str(),
        now_millis()
    )?;
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
    let revoked = execute!(
        tx,
        "UPDATE api_keys SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 AND revoked_at IS NULL",
        now_millis(),
        workspace.as_str(),
        key.as_str()
    )?;
    Ok(revoked == 1)
}
