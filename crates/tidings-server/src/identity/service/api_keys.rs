//! API keys: created (shown once), revoked, and authenticated.

use serde_json::json;
use tidings_core::{ApiKeyId, UserId, WorkspaceId};

use super::{Identity, IdentityError, require_name};
use crate::access::Caller;
use crate::access::Role;
use crate::audit::{self, AuditEntry};
use crate::identity::store;
use crate::identity::tokens::{hash_token, opaque_token};

impl Identity {
    /// Creates an API key with a role no stronger than its creator's; the key is shown once.
    pub async fn create_api_key(
        &self,
        caller: &Caller,
        creator: &UserId,
        name: &str,
        role: Role,
    ) -> Result<(ApiKeyId, String, String), IdentityError> {
        let workspace = &caller.workspace_id;
        let name = require_name("name", name)?;
        if role < caller.role {
            return Err(IdentityError::Forbidden("an API key cannot have a stronger role than its creator"));
        }
        let id = ApiKeyId::generate();
        let (secret, hash) = opaque_token("tdk");
        let prefix: String = secret.chars().take(12).collect();
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let new_key =
            store::NewApiKey { id: &id, name: &name, prefix: &prefix, key_hash: &hash, role, created_by: creator };
        store::insert_api_key(&mut tx, workspace, new_key).await?;
        audit::record(
            &mut tx,
            workspace,
            AuditEntry::by(caller, "api_key.created", "api_key")
                .on(&id)
                .with(json!({ "name": name, "role": role.as_str(), "prefix": prefix })),
        )
        .await?;
        tx.commit().await?;
        Ok((id, secret, prefix))
    }

    /// Revokes an API key of the workspace.
    pub async fn revoke_api_key(&self, caller: &Caller, key: &ApiKeyId) -> Result<(), IdentityError> {
        let workspace = &caller.workspace_id;
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::revoke_api_key(&mut tx, workspace, key).await? {
            return Err(IdentityError::NotFound("API key"));
        }
        audit::record(&mut tx, workspace, AuditEntry::by(caller, "api_key.revoked", "api_key").on(key)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Resolves a presented API key to its workspace and role, recording the use.
    pub async fn authenticate_api_key(
        &self,
        presented: &str,
    ) -> Result<Option<(WorkspaceId, ApiKeyId, Role)>, IdentityError> {
        let Some(row) = store::api_key_by_hash(&self.db, &hash_token(presented)).await? else { return Ok(None) };
        if self.key_uses.should_record(row.id.as_str()) {
            store::touch_api_key(&self.db, row.id.as_str()).await?;
        }
        Ok(Some((row.workspace_id, row.id, row.role)))
    }
}
