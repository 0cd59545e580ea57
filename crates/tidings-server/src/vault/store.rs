//! Queries of the vault: each workspace's wrapped data key, and its sealed secrets.
//!
//! Every function touching a workspace's rows takes its `WorkspaceId` right after the executor,
//! which is a transaction confined to that workspace (`Db::begin_for_tenant`, row-level security
//! on PostgreSQL); only the operator's cross-workspace queries (rotation) take the `Db`.

use tidings_core::{SecretId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader, with_tx};

/// A workspace's data key as stored: wrapped, and the fingerprint of the master key that wrapped it.
#[derive(sqlx::FromRow)]
pub(super) struct WrappedKeyRow {
    pub wrapped_key: Vec<u8>,
    pub master_key_id: String,
}

/// A sealed secret together with the wrapped data key that opens it.
#[derive(sqlx::FromRow)]
pub(super) struct SealedSecretRow {
    pub ciphertext: Vec<u8>,
    pub wrapped_key: Vec<u8>,
    pub master_key_id: String,
}

/// How many workspaces' data keys one master key wraps.
#[derive(sqlx::FromRow)]
pub(super) struct KeyUsageRow {
    pub master_key_id: String,
    pub workspaces: i64,
}

pub(super) async fn wrapped_key(tx: &mut Tx, workspace_id: &WorkspaceId) -> Result<Option<WrappedKeyRow>, StoreError> {
    Ok(with_tx!(tx, |conn| sqlx::query_as(
        "SELECT wrapped_key, master_key_id FROM workspace_keys WHERE workspace_id = $1"
    )
    .bind(workspace_id.as_str())
    .fetch_optional(&mut **conn)
    .await)?)
}

/// Stores the workspace's first data key; false when one already exists (another process won).
pub(super) async fn insert_wrapped_key(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    wrapped_key: &[u8],
    master_key_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let inserted = execute!(
        tx,
        "INSERT INTO workspace_keys (workspace_id, wrapped_key, master_key_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace_id) DO NOTHING",
        workspace_id.as_str(),
        wrapped_key,
        master_key_id,
        now
    )?;
    Ok(inserted == 1)
}

/// Replaces the wrapping of a data key, only if it is still wrapped by `expected_master_key_id`.
pub(super) async fn rewrap_key(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    expected_master_key_id: &str,
    wrapped_key: &[u8],
    master_key_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let updated = execute!(
        tx,
        "UPDATE workspace_keys SET wrapped_key = $1, master_key_id = $2, rotated_at = $3 \
         WHERE workspace_id = $4 AND master_key_id = $5",
        wrapped_key,
        master_key_id,
        now,
        workspace_id.as_str(),
        expected_master_key_id
    )?;
    Ok(updated == 1)
}

/// Inserts the secret, or replaces the ciphertext of the one with the same name; returns its id.
pub(super) async fn upsert_secret(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    id: &SecretId,
    name: &str,
    ciphertext: &[u8],
    now: i64,
) -> Result<SecretId, StoreError> {
    Ok(with_tx!(tx, |conn| {
        sqlx::query_scalar(
        "INSERT INTO secrets (id, workspace_id, name, ciphertext, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (workspace_id, name) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at \
         RETURNING id"
    )
    .bind(id.as_str())
    .bind(workspace_id.as_str())
    .bind(name)
    .bind(ciphertext)
    .bind(now)
    .fetch_one(&mut **conn)
    .await
    })?)
}

pub(super) async fn sealed_secret(
    tx: &mut Tx,
    workspace_id: &WorkspaceId,
    name: &str,
) -> Result<Option<SealedSecretRow>, StoreError> {
    Ok(with_tx!(tx, |conn| sqlx::query_as(
        "SELECT s.ciphertext, k.wrapped_key, k.master_key_id \
         FROM secrets s JOIN workspace_keys k ON k.workspace_id = s.workspace_id \
         WHERE s.workspace_id = $1 AND s.name = $2"
    )
    .bind(workspace_id.as_str())
    .bind(name)
    .fetch_optional(&mut **conn)
    .await)?)
}

pub(super) async fn delete_secret(tx: &mut Tx, workspace_id: &WorkspaceId, name: &str) -> Result<bool, StoreError> {
    let deleted =
        execute!(tx, "DELETE FROM secrets WHERE workspace_id = $1 AND name = $2", workspace_id.as_str(), name)?;
    Ok(deleted > 0)
}

/// Across workspaces (operator use): data keys per wrapping master key.
pub(super) async fn key_usage(db: &Db) -> Result<Vec<KeyUsageRow>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_as(
        "SELECT master_key_id, COUNT(*) AS workspaces FROM workspace_keys GROUP BY master_key_id ORDER BY master_key_id"
    )
    .fetch_all(pool)
    .await)?)
}

/// Across workspaces (operator use): those whose data key is wrapped by another master key.
pub(super) async fn workspaces_not_wrapped_by(db: &Db, master_key_id: &str) -> Result<Vec<WorkspaceId>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_scalar(
        "SELECT workspace_id FROM workspace_keys WHERE master_key_id <> $1 ORDER BY workspace_id"
    )
    .bind(master_key_id)
    .fetch_all(pool)
    .await)?)
}
