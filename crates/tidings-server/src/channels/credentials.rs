//! A connection's credentials, kept in the workspace's vault (encrypted with its data key) and
//! decrypted only for the call that needs them.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tidings_connectors::Credentials;
use tidings_core::{ConnectionId, WorkspaceId};

use crate::vault::{Vault, VaultError};

/// The vault name of a connection's credentials.
pub fn secret_name(connection: &ConnectionId) -> String {
    format!("connection.{connection}")
}

/// The stored form: plain strings, only ever inside the vault's ciphertext.
#[derive(Serialize, Deserialize, Default)]
struct Stored {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    login: Option<String>,
}

/// Stores (or replaces) a connection's credentials.
pub async fn save(
    vault: &Vault,
    workspace: &WorkspaceId,
    connection: &ConnectionId,
    credentials: &Credentials,
) -> Result<(), VaultError> {
    let expose = |s: &Option<SecretString>| s.as_ref().map(|s| s.expose_secret().to_owned());
    let stored = Stored {
        access_token: expose(&credentials.access_token),
        refresh_token: expose(&credentials.refresh_token),
        expires_at_ms: credentials.expires_at_ms,
        secret: expose(&credentials.secret),
        login: credentials.login.clone(),
    };
    let json = serde_json::to_vec(&stored).map_err(|e| VaultError::Store(tidings_store::StoreError::corrupt(e)))?;
    vault.put(workspace, &secret_name(connection), &json).await?;
    Ok(())
}

/// A connection's credentials; empty when none were stored.
pub async fn load(
    vault: &Vault,
    workspace: &WorkspaceId,
    connection: &ConnectionId,
) -> Result<Credentials, VaultError> {
    let Some(bytes) = vault.get(workspace, &secret_name(connection)).await? else {
        return Ok(Credentials::default());
    };
    let stored: Stored = serde_json::from_slice(bytes.expose_secret())
        .map_err(|e| VaultError::Store(tidings_store::StoreError::corrupt(e)))?;
    Ok(Credentials {
        access_token: stored.access_token.map(SecretString::from),
        refresh_token: stored.refresh_token.map(SecretString::from),
        expires_at_ms: stored.expires_at_ms,
        secret: stored.secret.map(SecretString::from),
        login: stored.login,
    })
}

/// Removes a connection's credentials.
pub async fn forget(vault: &Vault, workspace: &WorkspaceId, connection: &ConnectionId) -> Result<(), VaultError> {
    vault.delete(workspace, &secret_name(connection)).await?;
    Ok(())
}
