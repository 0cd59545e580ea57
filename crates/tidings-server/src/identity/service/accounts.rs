//! Accounts: sign-up, email confirmation, password reset and change.

use serde_json::json;
use tidings_core::UserId;

use super::{
    EMAIL_VERIFICATION_TTL_MS, Identity, IdentityError, Origin, PASSWORD_RESET_TTL_MS, Registered, invalid,
    normalize_email, require_name,
};
use crate::access::Role;
use crate::identity::emails;
use crate::identity::password::check_new_password;
use crate::identity::store;
use crate::identity::tokens::hash_token;

impl Identity {
    /// Creates an account, its first workspace (the user owns it) and a session.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        name: &str,
        workspace_name: &str,
        origin: &Origin,
    ) -> Result<Registered, IdentityError> {
        let email = normalize_email(email)?;
        let name = require_name("name", name)?;
        let workspace_name = require_name("workspaceName", workspace_name)?;
        check_new_password(password).map_err(|message| invalid("password", message))?;
        let hash = self.hashing.hash(password);
        let user = UserId::generate();
        let mut tx = self.db.begin().await?;
        if !store::insert_user(&mut tx, &user, &email, &name, &hash, false).await? {
            return Err(IdentityError::EmailTaken);
        }
        let metadata = json!({ "name": workspace_name, "ownerEmail": email });
        let workspace = self.found_workspace(&mut tx, &user, &workspace_name, origin, metadata).await?;
        let verification_token =
            self.new_email_token(&mut tx, &user, "verify_email", EMAIL_VERIFICATION_TTL_MS).await?;
        let tokens = self.start_session(&mut tx, &user, &workspace, Role::Owner, origin).await?;
        let valid_for = std::time::Duration::from_millis(EMAIL_VERIFICATION_TTL_MS as u64);
        emails::verify_email(&self.queue, &mut tx, &self.links(), &email, &name, &verification_token, valid_for)
            .await?;
        tx.commit().await?;
        Ok(Registered { tokens, verification_token })
    }

    /// Confirms an email address from the emailed link.
    pub async fn verify_email(&self, token: &str) -> Result<UserId, IdentityError> {
        let mut tx = self.db.begin().await?;
        let user = store::spend_email_token(&mut tx, "verify_email", &hash_token(token))
            .await?
            .ok_or(IdentityError::InvalidLink)?;
        store::mark_email_verified(&mut tx, &user).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Emails a new confirmation link to a member whose address is not confirmed yet. The links
    /// sent before keep working until they expire; whichever is followed first confirms it.
    pub async fn resend_verification(&self, user: &UserId) -> Result<(), IdentityError> {
        let row = store::user_by_id(&self.db, user).await?.ok_or(IdentityError::NotFound("user"))?;
        if row.email_verified_at.is_some() {
            return Err(IdentityError::AlreadyVerified);
        }
        let mut tx = self.db.begin().await?;
        let token = self.new_email_token(&mut tx, user, "verify_email", EMAIL_VERIFICATION_TTL_MS).await?;
        let valid_for = std::time::Duration::from_millis(EMAIL_VERIFICATION_TTL_MS as u64);
        emails::verify_email(&self.queue, &mut tx, &self.links(), &row.email, &row.name, &token, valid_for).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Emails a reset link when the address has an account; says nothing either way.
    pub async fn forgot_password(&self, email: &str) -> Result<(), IdentityError> {
        let Ok(email) = normalize_email(email) else { return Ok(()) };
        let Some(user) = store::user_by_email(&self.db, &email).await? else { return Ok(()) };
        let user_id = user.id.clone();
        let mut tx = self.db.begin().await?;
        let token = self.new_email_token(&mut tx, &user_id, "reset_password", PASSWORD_RESET_TTL_MS).await?;
        let valid_for = std::time::Duration::from_millis(PASSWORD_RESET_TTL_MS as u64);
        emails::reset_password(&self.queue, &mut tx, &self.links(), &email, &user.name, &token, valid_for).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a new password from the emailed link and signs out every session.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<(), IdentityError> {
        check_new_password(new_password).map_err(|message| invalid("password", message))?;
        let hash = self.hashing.hash(new_password);
        let mut tx = self.db.begin().await?;
        let user = store::spend_email_token(&mut tx, "reset_password", &hash_token(token))
            .await?
            .ok_or(IdentityError::InvalidLink)?;
        store::set_password(&mut tx, &user, &hash).await?;
        // Whoever could read the mailbox could reset; proving it also verifies the address.
        store::mark_email_verified(&mut tx, &user).await?;
        store::revoke_user_sessions(&mut tx, &user, "password reset").await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes a signed-in user's password after checking the current one.
    pub async fn change_password(
        &self,
        user: &UserId,
        current: &str,
        new_password: &str,
        keep_session: &str,
    ) -> Result<(), IdentityError> {
        let row = store::user_by_id(&self.db, user).await?.ok_or(IdentityError::NotFound("user"))?;
        if !self.hashing.verify(current, &row.password_hash) {
            return Err(invalid("currentPassword", "is not your current password"));
        }
        check_new_password(new_password).map_err(|message| invalid("newPassword", message))?;
        let hash = self.hashing.hash(new_password);
        let mut tx = self.db.begin().await?;
        store::set_password(&mut tx, user, &hash).await?;
        let others = format!("password changed (kept {keep_session})");
        store::revoke_user_sessions_except(&mut tx, user, keep_session, &others).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the member's name.
    pub async fn rename(&self, user: &UserId, name: &str) -> Result<(), IdentityError> {
        let name = require_name("name", name)?;
        store::set_name(&self.db, user, &name).await?;
        Ok(())
    }
}
