//! Putting, reading and deleting a workspace's secrets, and re-wrapping data keys when the
//! master key changes.

use std::sync::Arc;

use serde::Serialize;
use tidings_core::crypto::{Aad, CryptoError, DataKey, SecretBytes};
use tidings_core::secrets::MasterKeys;
use tidings_core::time::now_millis;
use tidings_core::{SecretId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx};

use super::store::{self, WrappedKeyRow};

/// The longest secret name accepted, in bytes.
const MAX_NAME_LEN: usize = 200;

/// Why a vault operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No workspace has this id.
    #[error("workspace {0} does not exist")]
    UnknownWorkspace(WorkspaceId),
    /// A secret name is empty, too long or contains control characters.
    #[error("secret name `{0}` is invalid: use 1 to 200 bytes without control characters")]
    InvalidName(String),
    /// The workspace's data key is wrapped by a master key this process does not have.
    #[error(
        "the data key of workspace {workspace_id} is wrapped by master key {master_key_id}, which is not configured \
         (configured: {configured}); set that key in master_key or previous_master_keys (TIDINGS_PREVIOUS_MASTER_KEYS)"
    )]
    UnknownMasterKey {
        /// The workspace whose data key could not be unwrapped.
        workspace_id: WorkspaceId,
        /// The fingerprint recorded with the wrapped key.
        master_key_id: String,
        /// The fingerprints of the configured keys, the current one first.
        configured: String,
    },
    /// A key or a secret did not decrypt: tampered, moved to another row, or wrapped by a
    /// different key with the same fingerprint (never expected).
    #[error("cannot decrypt the {what} of workspace {workspace_id}: {source}")]
    Crypto {
        /// The workspace.
        workspace_id: WorkspaceId,
        /// `data key`, or `secret <name>`.
        what: String,
        /// What the cipher reported.
        source: CryptoError,
    },
}

/// The workspaces' encrypted credentials: cheap to clone, one per process.
#[derive(Clone)]
pub struct Vault {
    db: Db,
    keys: Arc<MasterKeys>,
}

/// Which of this process's master keys wraps a group of data keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    /// The configured `master_key`.
    Current,
    /// One of `previous_master_keys`: rotation will re-wrap these.
    Previous,
    /// Not configured at all: these data keys cannot be read until the key is configured again.
    Unknown,
}

/// How many workspaces' data keys one master key wraps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MasterKeyUsage {
    /// The master key's fingerprint.
    pub master_key_id: String,
    /// Its role in this process's configuration.
    pub role: KeyRole,
    /// Workspaces whose data key it wraps.
    pub workspaces: i64,
}

/// A workspace whose data key could not be re-wrapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationFailure {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// Why (names the unknown master key, when that is the reason).
    pub reason: String,
}

/// What a master key rotation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationReport {
    /// The fingerprint of the current master key, which now wraps the re-wrapped data keys.
    pub master_key_id: String,
    /// Data keys re-wrapped by this run.
    pub rewrapped: u64,
    /// Data keys already wrapped by the current key (before this run, or by a concurrent one).
    pub already_current: u64,
    /// Data keys left as they were because they could not be unwrapped.
    pub failed: Vec<RotationFailure>,
}

impl RotationReport {
    /// True when every data key is now wrapped by the current key, so the previous keys may
    /// be removed from the configuration.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

impl Vault {
    /// A vault over `db`, wrapping new data keys with the current of `keys`.
    pub fn new(db: Db, keys: Arc<MasterKeys>) -> Self {
        Self { db, keys }
    }

    /// The master keys in use.
    pub fn master_keys(&self) -> &MasterKeys {
        &self.keys
    }

    /// Stores `plaintext` as the workspace's secret `name`, replacing any value it had; returns
    /// the secret's id (the same id when replacing). Creates the workspace's data key on first use.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace_id, name = %name))]
    pub async fn put(&self, workspace_id: &WorkspaceId, name: &str, plaintext: &[u8]) -> Result<SecretId, VaultError> {
        check_name(name)?;
        let mut tx = self.db.begin_for_tenant(workspace_id).await?;
        let key = self.data_key(workspace_id, &mut tx).await?;
        let ciphertext = key
            .encrypt(plaintext, &Aad::secret(workspace_id, name))
            .map_err(|source| crypto_error(workspace_id, format!("secret {name}"), source))?;
        let id = store::upsert_secret(&mut tx, workspace_id, &SecretId::generate(), name, &ciphertext, now_millis())
            .await
            .map_err(|error| missing_workspace(workspace_id, error))?;
        tx.commit().await?;
        Ok(id)
    }

    /// The workspace's secret `name`, decrypted; `None` when the workspace has no such secret.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace_id, name = %name))]
    pub async fn get(&self, workspace_id: &WorkspaceId, name: &str) -> Result<Option<SecretBytes>, VaultError> {
        let mut tx = self.db.read_for_tenant(workspace_id).await?;
        let found = store::sealed_secret(&mut tx, workspace_id, name).await?;
        tx.commit().await?;
        let Some(row) = found else {
            return Ok(None);
        };
        let key = self
            .unwrap(workspace_id, &WrappedKeyRow { wrapped_key: row.wrapped_key, master_key_id: row.master_key_id })?;
        key.decrypt(&row.ciphertext, &Aad::secret(workspace_id, name))
            .map(Some)
            .map_err(|source| crypto_error(workspace_id, format!("secret {name}"), source))
    }

    /// Deletes the workspace's secret `name`; false when there was none.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace_id, name = %name))]
    pub async fn delete(&self, workspace_id: &WorkspaceId, name: &str) -> Result<bool, VaultError> {
        let mut tx = self.db.begin_for_tenant(workspace_id).await?;
        let deleted = store::delete_secret(&mut tx, workspace_id, name).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// How many workspaces' data keys each master key wraps, current key first.
    pub async fn master_key_usage(&self) -> Result<Vec<MasterKeyUsage>, VaultError> {
        let current = self.keys.current().id();
        let mut usage: Vec<MasterKeyUsage> = store::key_usage(&self.db)
            .await?
            .into_iter()
            .map(|row| MasterKeyUsage {
                role: if row.master_key_id == current {
                    KeyRole::Current
                } else if self.keys.find(&row.master_key_id).is_some() {
                    KeyRole::Previous
                } else {
                    KeyRole::Unknown
                },
                master_key_id: row.master_key_id,
                workspaces: row.workspaces,
            })
            .collect();
        usage.sort_by_key(|u| u.role != KeyRole::Current);
        Ok(usage)
    }

    /// Re-wraps, under the current master key, every data key still wrapped by another one.
    ///
    /// Each workspace is re-wrapped in its own transaction (confined to that workspace; only the
    /// listing crosses workspaces), only if its row still names the key
    /// it was read with, so running it again, or in two processes at once, is safe. Data keys
    /// and the secrets they encrypt are not changed. A data key that cannot be unwrapped (its
    /// master key is not configured) is reported and left as it was.
    #[tracing::instrument(skip_all, fields(master_key_id = %self.keys.current().id()))]
    pub async fn rotate_master_key(&self) -> Result<RotationReport, VaultError> {
        let current = self.keys.current().id().to_owned();
        let already_current = store::key_usage(&self.db)
            .await?
            .iter()
            .find(|row| row.master_key_id == current)
            .map_or(0, |row| row.workspaces.max(0) as u64);
        let mut report =
            RotationReport { master_key_id: current.clone(), rewrapped: 0, already_current, failed: Vec::new() };
        for workspace_id in store::workspaces_not_wrapped_by(&self.db, &current).await? {
            match self.rewrap(&workspace_id).await {
                Ok(true) => report.rewrapped += 1,
                Ok(false) => report.already_current += 1,
                Err(error) => {
                    tracing::error!(%workspace_id, %error, "could not re-wrap the workspace's data key");
                    report.failed.push(RotationFailure { workspace_id, reason: error.to_string() });
                }
            }
        }
        tracing::info!(rewrapped = report.rewrapped, failed = report.failed.len(), "master key rotation finished");
        Ok(report)
    }

    /// True when this call re-wrapped the key; false when it was already current (or is gone).
    async fn rewrap(&self, workspace_id: &WorkspaceId) -> Result<bool, VaultError> {
        let current = self.keys.current();
        let mut tx = self.db.begin_for_tenant(workspace_id).await?;
        let Some(row) = store::wrapped_key(&mut tx, workspace_id).await? else {
            return Ok(false);
        };
        if row.master_key_id == current.id() {
            return Ok(false);
        }
        let key = self.unwrap(workspace_id, &row)?;
        let wrapped = current
            .wrap_key(&key, &Aad::workspace_key(workspace_id))
            .map_err(|source| crypto_error(workspace_id, "data key".to_owned(), source))?;
        let updated =
            store::rewrap_key(&mut tx, workspace_id, &row.master_key_id, &wrapped, current.id(), now_millis()).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// The workspace's data key, created (wrapped by the current master key) if it has none.
    async fn data_key(&self, workspace_id: &WorkspaceId, tx: &mut Tx) -> Result<DataKey, VaultError> {
        if let Some(row) = store::wrapped_key(tx, workspace_id).await? {
            return self.unwrap(workspace_id, &row);
        }
        let current = self.keys.current();
        let key = DataKey::generate();
        let wrapped = current
            .wrap_key(&key, &Aad::workspace_key(workspace_id))
            .map_err(|source| crypto_error(workspace_id, "data key".to_owned(), source))?;
        let inserted = store::insert_wrapped_key(tx, workspace_id, &wrapped, current.id(), now_millis())
            .await
            .map_err(|error| missing_workspace(workspace_id, error))?;
        if inserted {
            tracing::info!(master_key_id = current.id(), "created the workspace's data key");
            return Ok(key);
        }
        // Another process created it between our read and our insert: use theirs.
        let row = store::wrapped_key(tx, workspace_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("data key of {workspace_id} vanished")))?;
        self.unwrap(workspace_id, &row)
    }

    fn unwrap(&self, workspace_id: &WorkspaceId, row: &WrappedKeyRow) -> Result<DataKey, VaultError> {
        let master = self.keys.find(&row.master_key_id).ok_or_else(|| VaultError::UnknownMasterKey {
            workspace_id: workspace_id.clone(),
            master_key_id: row.master_key_id.clone(),
            configured: self.keys.ids().join(", "),
        })?;
        master
            .unwrap_key(&row.wrapped_key, &Aad::workspace_key(workspace_id))
            .map_err(|source| crypto_error(workspace_id, "data key".to_owned(), source))
    }
}

fn check_name(name: &str) -> Result<(), VaultError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(VaultError::InvalidName(name.to_owned()));
    }
    Ok(())
}

fn crypto_error(workspace_id: &WorkspaceId, what: String, source: CryptoError) -> VaultError {
    VaultError::Crypto { workspace_id: workspace_id.clone(), what, source }
}

/// A foreign-key violation on insert means the workspace row does not exist.
fn missing_workspace(workspace_id: &WorkspaceId, error: StoreError) -> VaultError {
    match &error {
        StoreError::Database(sqlx::Error::Database(db_error)) if db_error.is_foreign_key_violation() => {
            VaultError::UnknownWorkspace(workspace_id.clone())
        }
        _ => VaultError::Store(error),
    }
}
