//! Workspaces and their members: another workspace, switching, invitations, roles, removal.

use serde_json::json;
use tidings_core::time::now_millis;
use tidings_core::{InviteId, UserId, WorkspaceId};

use super::{INVITE_TTL_MS, Identity, IdentityError, IssuedTokens, Origin, invalid, normalize_email, require_name};
use crate::access::Role;
use crate::access::{Actor, Caller};
use crate::audit::{self, AuditEntry};
use crate::identity::emails;
use crate::identity::password::check_new_password;
use crate::identity::store;
use crate::identity::tokens::{hash_token, opaque_token};

impl Identity {
    /// Creates another workspace owned by the user, and a session in it.
    pub async fn create_another_workspace(
        &self,
        user: &UserId,
        name: &str,
        origin: &Origin,
    ) -> Result<IssuedTokens, IdentityError> {
        let name = require_name("name", name)?;
        let mut tx = self.db.begin().await?;
        let workspace = self.found_workspace(&mut tx, user, &name, origin, json!({ "name": name })).await?;
        let tokens = self.start_session(&mut tx, user, &workspace, Role::Owner, origin).await?;
        tx.commit().await?;
        Ok(tokens)
    }

    /// A session in another workspace the user belongs to.
    pub async fn switch_workspace(
        &self,
        user: &UserId,
        workspace: &WorkspaceId,
        origin: &Origin,
    ) -> Result<IssuedTokens, IdentityError> {
        let role = store::role_of(&self.db, workspace, user).await?.ok_or(IdentityError::NotFound("workspace"))?;
        let mut tx = self.db.begin().await?;
        let tokens = self.start_session(&mut tx, user, workspace, role, origin).await?;
        tx.commit().await?;
        Ok(tokens)
    }

    /// Invites an address to the workspace with a role, by email.
    pub async fn invite(
        &self,
        caller: &Caller,
        inviter: &UserId,
        email: &str,
        role: Role,
    ) -> Result<(InviteId, String), IdentityError> {
        let workspace = &caller.workspace_id;
        let email = normalize_email(email)?;
        if role == Role::Owner && caller.role != Role::Owner {
            return Err(IdentityError::Forbidden("only an owner can invite another owner"));
        }
        if store::members(&self.db, workspace).await?.iter().any(|m| m.email == email) {
            return Err(IdentityError::AlreadyMember(email));
        }
        let workspace_row = store::workspace(&self.db, workspace).await?.ok_or(IdentityError::NotFound("workspace"))?;
        let inviter_row = store::user_by_id(&self.db, inviter).await?.ok_or(IdentityError::NotFound("user"))?;
        let invite = InviteId::generate();
        let (token, hash) = opaque_token("tdi");
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let expires_at = now_millis() + INVITE_TTL_MS;
        let new_invite =
            store::NewInvite { id: &invite, email: &email, role, token_hash: &hash, invited_by: inviter, expires_at };
        store::insert_invite(&mut tx, workspace, new_invite).await?;
        audit::record(
            &mut tx,
            workspace,
            AuditEntry::by(caller, "member.invited", "invite")
                .on(&invite)
                .with(json!({ "email": email, "role": role.as_str() })),
        )
        .await?;
        let valid_for = std::time::Duration::from_millis(INVITE_TTL_MS as u64);
        let links = self.links();
        emails::invitation(
            &self.queue,
            &mut tx,
            &links,
            &email,
            &inviter_row.name,
            &workspace_row.name,
            role,
            &token,
            valid_for,
        )
        .await?;
        tx.commit().await?;
        Ok((invite, token))
    }

    /// Accepts an invitation. An existing account must be the one signed in (`signed_in`); a new
    /// address creates its account with `new_account` (name, password).
    pub async fn accept_invite(
        &self,
        token: &str,
        signed_in: Option<&UserId>,
        new_account: Option<(&str, &str)>,
        origin: &Origin,
    ) -> Result<IssuedTokens, IdentityError> {
        let mut tx = self.db.begin().await?;
        let invite = store::invite_by_token(&mut tx, &hash_token(token)).await?.ok_or(IdentityError::InvalidLink)?;
        if invite.accepted_at.is_some() || invite.revoked_at.is_some() || invite.expires_at <= now_millis() {
            return Err(IdentityError::InvalidLink);
        }
        let workspace = invite.workspace_id.clone();
        let role = invite.role;
        let user = match store::user_by_email(&self.db, &invite.email).await? {
            Some(existing) => {
                let existing_id = existing.id.clone();
                if signed_in != Some(&existing_id) {
                    return Err(IdentityError::Forbidden("sign in as the invited address to accept this invitation"));
                }
                existing_id
            }
            None => {
                let Some((name, password)) = new_account else {
                    return Err(invalid("password", "choose a name and password to create your account"));
                };
                let name = require_name("name", name)?;
                check_new_password(password).map_err(|message| invalid("password", message))?;
                let user = UserId::generate();
                // The invitation arrived at this address, which proves it.
                store::insert_user(&mut tx, &user, &invite.email, &name, &self.hashing.hash(password), true).await?;
                user
            }
        };
        if !store::insert_membership(&mut tx, &workspace, &user, role).await? {
            return Err(IdentityError::AlreadyMember(invite.email));
        }
        store::mark_invite_accepted(&mut tx, invite.id.as_str()).await?;
        audit::record(
            &mut tx,
            &workspace,
            AuditEntry::success(Actor::user(&user, role), origin, "member.joined", "member")
                .on(&user)
                .with(json!({ "email": invite.email, "role": role.as_str(), "invite": invite.id })),
        )
        .await?;
        let tokens = self.start_session(&mut tx, &user, &workspace, role, origin).await?;
        tx.commit().await?;
        Ok(tokens)
    }

    /// Withdraws a pending invitation of the workspace, so its link stops working.
    pub async fn revoke_invite(&self, caller: &Caller, invite: &InviteId) -> Result<(), IdentityError> {
        let workspace = &caller.workspace_id;
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::revoke_invite(&mut tx, workspace, invite).await? {
            return Err(IdentityError::NotFound("invite"));
        }
        audit::record(&mut tx, workspace, AuditEntry::by(caller, "invite.revoked", "invite").on(invite)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes a member's role. Only owners grant or take away ownership; one owner always remains.
    pub async fn change_role(&self, caller: &Caller, member: &UserId, role: Role) -> Result<(), IdentityError> {
        let workspace = &caller.workspace_id;
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let current =
            store::member_role_in_tx(&mut tx, workspace, member).await?.ok_or(IdentityError::NotFound("member"))?;
        if (current == Role::Owner || role == Role::Owner) && caller.role != Role::Owner {
            return Err(IdentityError::Forbidden("only an owner can grant or take away ownership"));
        }
        if current == Role::Owner && role != Role::Owner && store::count_owners(&mut tx, workspace).await? <= 1 {
            return Err(IdentityError::LastOwner);
        }
        store::set_role(&mut tx, workspace, member, role).await?;
        audit::record(
            &mut tx,
            workspace,
            AuditEntry::by(caller, "member.role_changed", "member")
                .on(member)
                .with(json!({ "from": current.as_str(), "to": role.as_str() })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a member (or lets one leave). One owner always remains.
    pub async fn remove_member(&self, caller: &Caller, member: &UserId) -> Result<(), IdentityError> {
        let workspace = &caller.workspace_id;
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let current =
            store::member_role_in_tx(&mut tx, workspace, member).await?.ok_or(IdentityError::NotFound("member"))?;
        let leaving = caller.is_user(member);
        if current == Role::Owner && caller.role != Role::Owner && !leaving {
            return Err(IdentityError::Forbidden("only an owner can remove an owner"));
        }
        if current == Role::Owner && store::count_owners(&mut tx, workspace).await? <= 1 {
            return Err(IdentityError::LastOwner);
        }
        store::delete_membership(&mut tx, workspace, member).await?;
        audit::record(
            &mut tx,
            workspace,
            AuditEntry::by(caller, if leaving { "member.left" } else { "member.removed" }, "member")
                .on(member)
                .with(json!({ "role": current.as_str() })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
