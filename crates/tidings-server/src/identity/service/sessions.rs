//! Sessions: sign-in, token refresh, sign-out.

use serde_json::json;
use tidings_core::time::now_millis;
use tidings_core::{UserId, WorkspaceId};
use tidings_store::Tx;

use super::{Identity, IdentityError, IssuedTokens, Origin, SignIn, normalize_email};
use crate::access::Actor;
use crate::access::Role;
use crate::audit::{self, AuditEntry};
use crate::identity::store;
use crate::identity::tokens::hash_token;

impl Identity {
    /// Signs in to `workspace`, or to the first workspace the user joined. A member with
    /// two-factor sign-in gets a challenge to answer with a code instead of tokens.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        workspace: Option<&WorkspaceId>,
        origin: &Origin,
    ) -> Result<SignIn, IdentityError> {
        let email = normalize_email(email).map_err(|_| IdentityError::InvalidCredentials)?;
        let Some(user) = store::user_by_email(&self.db, &email).await? else {
            self.hashing.verify_dummy(password);
            return Err(IdentityError::InvalidCredentials);
        };
        if !self.hashing.verify(password, &user.password_hash) {
            return Err(IdentityError::InvalidCredentials);
        }
        let user_id = user.id.clone();
        let memberships = store::workspaces_of(&self.db, &user_id).await?;
        let chosen = match workspace {
            Some(wanted) => memberships.iter().find(|m| &m.id == wanted),
            None => memberships.first(),
        };
        let Some(chosen) = chosen else { return Err(IdentityError::NotFound("workspace")) };
        let workspace = chosen.id.clone();
        let role = chosen.role;
        if user.totp_enabled_at.is_some() {
            return Ok(SignIn::TwoFactorRequired(self.challenge_second_factor(&user_id, &workspace).await?));
        }
        let mut tx = self.db.begin().await?;
        let tokens = self.finish_sign_in(&mut tx, &user_id, &workspace, role, origin, None).await?;
        tx.commit().await?;
        Ok(SignIn::Tokens(tokens))
    }

    /// Starts the session of a sign-in and audits it, naming the second factor if one was asked.
    pub(super) async fn finish_sign_in(
        &self,
        tx: &mut Tx,
        user: &UserId,
        workspace: &WorkspaceId,
        role: Role,
        origin: &Origin,
        second_factor: Option<&str>,
    ) -> Result<IssuedTokens, IdentityError> {
        let tokens = self.start_session(tx, user, workspace, role, origin).await?;
        let mut metadata = json!({ "userAgent": origin.user_agent });
        if let Some(factor) = second_factor {
            metadata["secondFactor"] = json!(factor);
        }
        audit::record(
            tx,
            workspace,
            AuditEntry::success(Actor::user(user, role), origin, "session.signed_in", "session").with(metadata),
        )
        .await?;
        Ok(tokens)
    }

    /// Spends a refresh token for a new pair. A token spent twice revokes its whole family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<IssuedTokens, IdentityError> {
        let hash = hash_token(refresh_token);
        let mut tx = self.db.begin().await?;
        let Some(row) = store::refresh_token(&mut tx, &hash).await? else {
            return Err(IdentityError::InvalidRefreshToken);
        };
        if row.used_at.is_some() || !store::spend_refresh_token(&mut tx, &hash).await? {
            store::revoke_session(&mut tx, row.session_id.as_str(), "refresh token reused").await?;
            let workspace = row.workspace_id.clone();
            audit::record(
                &mut tx,
                &workspace,
                AuditEntry::failure(
                    Actor::User { id: row.user_id.to_string(), role: String::new() },
                    &Origin::default(),
                    "session.refresh_token_reused",
                    "session",
                )
                .on(&row.session_id)
                .with(json!({ "revoked": "session family" })),
            )
            .await?;
            tx.commit().await?;
            return Err(IdentityError::RefreshTokenReused);
        }
        if row.revoked_at.is_some() || row.expires_at <= now_millis() {
            return Err(IdentityError::InvalidRefreshToken);
        }
        let user = row.user_id.clone();
        let workspace = row.workspace_id.clone();
        let Some(role) = store::member_role_in_tx(&mut tx, &workspace, &user).await? else {
            return Err(IdentityError::InvalidRefreshToken);
        };
        let session = row.session_id.clone();
        let tokens = self.issue(&mut tx, &session, &user, &workspace, role).await?;
        tx.commit().await?;
        Ok(tokens)
    }

    /// Ends the session a refresh token belongs to. Unknown tokens are ignored.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), IdentityError> {
        let hash = hash_token(refresh_token);
        let mut tx = self.db.begin().await?;
        if let Some(row) = store::refresh_token(&mut tx, &hash).await? {
            store::revoke_session(&mut tx, row.session_id.as_str(), "signed out").await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends a session by id (access-token sign-out).
    pub async fn end_session(&self, session: &str) -> Result<(), IdentityError> {
        let mut tx = self.db.begin().await?;
        store::revoke_session(&mut tx, session, "signed out").await?;
        tx.commit().await?;
        Ok(())
    }
}
