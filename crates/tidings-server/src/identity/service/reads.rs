//! What the API and the dashboard read about accounts and workspaces: the signed-in member,
//! their workspaces, a workspace's members, invitations and API keys, an invitation's preview.
//! Reads of a workspace's data are confined to it (`Db::read_for_tenant` in the store); a
//! member's own account and their list of workspaces span workspaces by nature.

use tidings_core::time::now_millis;
use tidings_core::{UserId, WorkspaceId};

use super::{Identity, IdentityError};
use crate::access::Role;
use crate::identity::store::{self, ApiKeyRow, InviteRow, MemberRow, MyWorkspaceRow, UserRow, WorkspaceRow};
use crate::identity::tokens::hash_token;

/// What an invitation link shows before it is accepted.
pub struct InvitePreview {
    /// The workspace's name.
    pub workspace: String,
    /// The invited address.
    pub email: String,
    /// The role offered.
    pub role: Role,
    /// Whether the address has an account already (then it signs in rather than signs up).
    pub has_account: bool,
}

impl Identity {
    /// A member's account.
    pub async fn user(&self, user: &UserId) -> Result<UserRow, IdentityError> {
        store::user_by_id(&self.db, user).await?.ok_or(IdentityError::NotFound("user"))
    }

    /// A workspace.
    pub async fn workspace(&self, workspace: &WorkspaceId) -> Result<WorkspaceRow, IdentityError> {
        store::workspace(&self.db, workspace).await?.ok_or(IdentityError::NotFound("workspace"))
    }

    /// Every workspace `user` belongs to, oldest membership first.
    pub async fn workspaces_of(&self, user: &UserId) -> Result<Vec<MyWorkspaceRow>, IdentityError> {
        Ok(store::workspaces_of(&self.db, user).await?)
    }

    /// The workspace's members, by when they joined.
    pub async fn members(&self, workspace: &WorkspaceId) -> Result<Vec<MemberRow>, IdentityError> {
        Ok(store::members(&self.db, workspace).await?)
    }

    /// The workspace's invitations neither accepted nor withdrawn.
    pub async fn pending_invites(&self, workspace: &WorkspaceId) -> Result<Vec<InviteRow>, IdentityError> {
        Ok(store::pending_invites(&self.db, workspace).await?)
    }

    /// The workspace's API keys (never their secrets), newest first.
    pub async fn api_keys(&self, workspace: &WorkspaceId) -> Result<Vec<ApiKeyRow>, IdentityError> {
        Ok(store::api_keys(&self.db, workspace).await?)
    }

    /// What the invitation `token` offers; `None` when it is unknown, used, withdrawn or expired.
    pub async fn invite_preview(&self, token: &str) -> Result<Option<InvitePreview>, IdentityError> {
        // The token is all the visitor has: the invitation is looked up across workspaces.
        let mut tx = self.db.begin().await?;
        let row = store::invite_by_token(&mut tx, &hash_token(token)).await?;
        drop(tx);
        let Some(row) =
            row.filter(|r| r.accepted_at.is_none() && r.revoked_at.is_none() && r.expires_at > now_millis())
        else {
            return Ok(None);
        };
        let Some(workspace) = store::workspace(&self.db, &row.workspace_id).await? else { return Ok(None) };
        let has_account = store::user_by_email(&self.db, &row.email).await?.is_some();
        Ok(Some(InvitePreview { workspace: workspace.name, email: row.email, role: row.role, has_account }))
    }
}
