//! Two-factor sign-in: setting up and turning on TOTP with recovery codes, the second step of a
//! sign-in, turning it off, and a workspace requiring it of its members.
//!
//! A TOTP code is accepted once: the last accepted time step is kept per member and a code of
//! that step or an earlier one is refused. Recovery codes are stored hashed and spent on use.

use secrecy::ExposeSecret;
use serde_json::json;
use tidings_core::time::now_millis;
use tidings_core::{UserId, WorkspaceId};
use tidings_store::{StoreError, Tx};

use super::{Identity, IdentityError, IssuedTokens, Origin, corrupt, invalid, require_name};
use crate::access::Role;
use crate::access::{Actor, Caller};
use crate::audit::{self, AuditEntry};
use crate::identity::store::{self, WorkspaceRow};
use crate::identity::tokens::{hash_token, opaque_token};
use crate::identity::totp;

/// How long the second step of a sign-in may wait for its code.
const CHALLENGE_TTL_MS: i64 = 5 * 60 * 1000;
/// Wrong codes a challenge takes before the password must be given again.
const CHALLENGE_MAX_FAILURES: i64 = 5;

/// What the right password leads to.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in.
    Tokens(IssuedTokens),
    /// The member uses two-factor sign-in: answer the challenge with a code.
    TwoFactorRequired(TwoFactorChallenge),
}

/// The pending second step of a sign-in.
#[derive(Debug)]
pub struct TwoFactorChallenge {
    /// Single-use; presented with the code to `POST /api/v1/auth/login/two-factor`.
    pub challenge_token: String,
    /// Seconds it stays valid.
    pub expires_in: i64,
}

/// What an authenticator app needs to start producing codes.
#[derive(Debug)]
pub struct TwoFactorEnrolment {
    /// The secret in base32, to type in.
    pub secret: String,
    /// The `otpauth://totp/…` URL, to scan as a QR code.
    pub otpauth_url: String,
}

/// What proved the second factor, recorded with the sign-in by its snake_case name.
#[derive(Debug, Clone, Copy, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
enum Proof {
    Totp,
    RecoveryCode,
}

impl Identity {
    /// Opens the second step of a sign-in whose password was right.
    pub(super) async fn challenge_second_factor(
        &self,
        user: &UserId,
        workspace: &WorkspaceId,
    ) -> Result<TwoFactorChallenge, IdentityError> {
        let (token, hash) = opaque_token("tdc");
        let mut tx = self.db.begin().await?;
        store::insert_challenge(&mut tx, &hash, user, workspace, now_millis() + CHALLENGE_TTL_MS).await?;
        tx.commit().await?;
        Ok(TwoFactorChallenge { challenge_token: token, expires_in: CHALLENGE_TTL_MS / 1000 })
    }

    /// Checks `code` against the member's secret (or, when `recovery` allows, their unused
    /// recovery codes) and spends what it matched, inside `tx`. `None` when it is wrong, replayed
    /// or already spent.
    async fn prove_second_factor(
        &self,
        tx: &mut Tx,
        user: &UserId,
        sealed_secret: &[u8],
        code: &str,
        recovery: bool,
    ) -> Result<Option<Proof>, IdentityError> {
        if totp::is_totp_code(code) {
            let secret =
                self.totp_secrets.open(user, sealed_secret).map_err(|e| corrupt(format!("TOTP secret: {e}")))?;
            let now_secs = u64::try_from(now_millis() / 1000).unwrap_or(0);
            let Some(step) = totp::matching_step(secret.expose_secret(), code, now_secs).map_err(corrupt)? else {
                return Ok(None);
            };
            let step = i64::try_from(step).map_err(corrupt)?;
            return Ok(store::spend_totp_step(tx, user, step).await?.then_some(Proof::Totp));
        }
        if !recovery {
            return Ok(None);
        }
        let hash = totp::recovery_code_hash(user, code);
        Ok(store::spend_recovery_code(tx, user, &hash).await?.then_some(Proof::RecoveryCode))
    }

    /// The second step of a two-factor sign-in: the challenge [`Identity::login`] returned and
    /// the current code of the authenticator app, or an unused recovery code (which is spent).
    pub async fn login_two_factor(
        &self,
        challenge_token: &str,
        code: &str,
        origin: &Origin,
    ) -> Result<IssuedTokens, IdentityError> {
        let hash = hash_token(challenge_token);
        let mut tx = self.db.begin().await?;
        let challenge = store::challenge(&mut tx, &hash).await?.ok_or(IdentityError::InvalidChallenge)?;
        if challenge.used_at.is_some()
            || challenge.expires_at <= now_millis()
            || challenge.failed_attempts >= CHALLENGE_MAX_FAILURES
        {
            return Err(IdentityError::InvalidChallenge);
        }
        let user = challenge.user_id.clone();
        let workspace = challenge.workspace_id.clone();
        // Two-factor sign-in may have been turned off since the password step.
        let sealed = store::totp_state(&mut tx, &user)
            .await?
            .filter(|state| state.totp_enabled_at.is_some())
            .and_then(|state| state.totp_secret)
            .ok_or(IdentityError::InvalidChallenge)?;
        let Some(proof) = self.prove_second_factor(&mut tx, &user, &sealed, code, true).await? else {
            store::count_failed_challenge(&mut tx, &hash).await?;
            audit::record(
                &mut tx,
                &workspace,
                AuditEntry::failure(
                    Actor::User { id: user.to_string(), role: String::new() },
                    origin,
                    "session.two_factor_failed",
                    "session",
                )
                .with(json!({ "userAgent": origin.user_agent })),
            )
            .await?;
            tx.commit().await?;
            return Err(IdentityError::InvalidTwoFactorCode);
        };
        if !store::spend_challenge(&mut tx, &hash).await? {
            return Err(IdentityError::InvalidChallenge);
        }
        let role =
            store::member_role_in_tx(&mut tx, &workspace, &user).await?.ok_or(IdentityError::InvalidChallenge)?;
        let tokens = self.finish_sign_in(&mut tx, &user, &workspace, role, origin, Some(proof.into())).await?;
        tx.commit().await?;
        Ok(tokens)
    }

    /// Stores a new secret for the member, not yet in use, and returns what their authenticator
    /// app needs. Setting up again replaces a secret that was never turned on.
    pub async fn setup_two_factor(&self, user: &UserId) -> Result<TwoFactorEnrolment, IdentityError> {
        let row = store::user_by_id(&self.db, user).await?.ok_or(IdentityError::NotFound("user"))?;
        if row.totp_enabled_at.is_some() {
            return Err(IdentityError::TwoFactorAlreadyEnabled);
        }
        let secret = totp::new_secret();
        let (secret_base32, otpauth_url) = totp::enrolment(&secret, &row.email).map_err(corrupt)?;
        let sealed = self.totp_secrets.seal(user, &secret).map_err(corrupt)?;
        let mut tx = self.db.begin().await?;
        if !store::set_pending_totp_secret(&mut tx, user, &sealed).await? {
            return Err(IdentityError::TwoFactorAlreadyEnabled);
        }
        tx.commit().await?;
        Ok(TwoFactorEnrolment { secret: secret_base32, otpauth_url })
    }

    /// The setup started by [`Identity::setup_two_factor`] and not turned on yet, for showing it
    /// again next to a code that was refused; `None` when there is none.
    pub async fn pending_two_factor(&self, user: &UserId) -> Result<Option<TwoFactorEnrolment>, IdentityError> {
        let row = store::user_by_id(&self.db, user).await?.ok_or(IdentityError::NotFound("user"))?;
        let mut tx = self.db.begin().await?;
        let state = store::totp_state(&mut tx, user).await?;
        drop(tx);
        let Some(sealed) = state.filter(|state| state.totp_enabled_at.is_none()).and_then(|state| state.totp_secret)
        else {
            return Ok(None);
        };
        let secret = self.totp_secrets.open(user, &sealed).map_err(|e| corrupt(format!("TOTP secret: {e}")))?;
        let (secret, otpauth_url) = totp::enrolment(secret.expose_secret(), &row.email).map_err(corrupt)?;
        Ok(Some(TwoFactorEnrolment { secret, otpauth_url }))
    }

    /// Turns two-factor sign-in on once `code` proves the authenticator app has the secret, and
    /// returns fresh recovery codes: shown this once, stored only hashed.
    pub async fn enable_two_factor(
        &self,
        workspace: &WorkspaceId,
        user: &UserId,
        role: Role,
        code: &str,
        origin: &Origin,
    ) -> Result<Vec<String>, IdentityError> {
        let mut tx = self.db.begin().await?;
        let state = store::totp_state(&mut tx, user).await?.ok_or(IdentityError::NotFound("user"))?;
        if state.totp_enabled_at.is_some() {
            return Err(IdentityError::TwoFactorAlreadyEnabled);
        }
        let sealed = state.totp_secret.ok_or(IdentityError::TwoFactorNotSetUp)?;
        if !totp::is_totp_code(code) {
            return Err(invalid("code", "must be the 6-digit code your authenticator app shows"));
        }
        if self.prove_second_factor(&mut tx, user, &sealed, code, false).await?.is_none() {
            return Err(invalid("code", "is wrong or expired; enter the code your authenticator app shows now"));
        }
        if !store::enable_totp(&mut tx, user).await? {
            return Err(IdentityError::TwoFactorAlreadyEnabled);
        }
        let codes = totp::new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|code| totp::recovery_code_hash(user, code)).collect();
        store::replace_recovery_codes(&mut tx, user, &hashes).await?;
        audit::record(
            &mut tx,
            workspace,
            AuditEntry::success(Actor::user(user, role), origin, "user.two_factor_enabled", "user")
                .on(user)
                .with(json!({ "method": "totp", "recoveryCodes": codes.len() })),
        )
        .await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Turns two-factor sign-in off, with the password and a current code or a recovery code;
    /// the secret and the recovery codes are forgotten.
    pub async fn disable_two_factor(
        &self,
        workspace: &WorkspaceId,
        user: &UserId,
        role: Role,
        password: &str,
        code: &str,
        origin: &Origin,
    ) -> Result<(), IdentityError> {
        let row = store::user_by_id(&self.db, user).await?.ok_or(IdentityError::NotFound("user"))?;
        if !self.hashing.verify(password, &row.password_hash) {
            return Err(invalid("password", "is not your current password"));
        }
        let mut tx = self.db.begin().await?;
        let state = store::totp_state(&mut tx, user).await?.ok_or(IdentityError::NotFound("user"))?;
        let sealed = match (state.totp_enabled_at, state.totp_secret) {
            (Some(_), Some(sealed)) => sealed,
            _ => return Err(IdentityError::TwoFactorNotEnabled),
        };
        let Some(proof) = self.prove_second_factor(&mut tx, user, &sealed, code, true).await? else {
            return Err(invalid("code", "is wrong, expired or already used"));
        };
        store::disable_totp(&mut tx, user).await?;
        audit::record(
            &mut tx,
            workspace,
            AuditEntry::success(Actor::user(user, role), origin, "user.two_factor_disabled", "user")
                .on(user)
                .with(json!({ "confirmedWith": <&str>::from(proof) })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Renames the workspace and sets whether its members must sign in with a second factor
    /// (what `change` leaves out stays as it is), and returns it as it is now. Only an owner,
    /// signed in as a person, turns the requirement on or off, and to turn it on they must use
    /// two-factor sign-in themselves.
    pub async fn update_workspace(
        &self,
        caller: &Caller,
        signed_in: Option<&UserId>,
        change: WorkspaceChange<'_>,
    ) -> Result<WorkspaceRow, IdentityError> {
        let workspace = &caller.workspace_id;
        let current = self.workspace(workspace).await?;
        let name = require_name("name", change.name.unwrap_or(&current.name))?;
        let require_two_factor = change.require_two_factor.unwrap_or(current.require_two_factor);
        let changed = current.require_two_factor != require_two_factor;
        if changed {
            let (Role::Owner, Some(user)) = (caller.role, signed_in) else {
                return Err(IdentityError::Forbidden(
                    "only an owner can change whether the workspace requires two-factor sign-in",
                ));
            };
            let me = store::user_by_id(&self.db, user).await?.ok_or(IdentityError::NotFound("user"))?;
            if require_two_factor && me.totp_enabled_at.is_none() {
                return Err(invalid("requireTwoFactor", "turn on two-factor sign-in for your own account first"));
            }
        }
        let mut tx = self.db.begin().await?;
        store::update_workspace(&mut tx, workspace, &name, require_two_factor).await?;
        if changed {
            audit::record(
                &mut tx,
                workspace,
                AuditEntry::by(caller, "workspace.two_factor_required", "workspace")
                    .on(workspace)
                    .with(json!({ "required": require_two_factor })),
            )
            .await?;
        }
        tx.commit().await?;
        self.workspace(workspace).await
    }
}

/// What to change of a workspace; `None` keeps it.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkspaceChange<'a> {
    /// A new name.
    pub name: Option<&'a str>,
    /// Whether members must use two-factor sign-in.
    pub require_two_factor: Option<bool>,
}

impl Identity {
    /// Re-seals every stored TOTP secret under the current master key, after a rotation, so the
    /// previous keys can be removed. Returns how many were re-sealed; safe to run again.
    pub async fn reseal_totp_secrets(&self) -> Result<u64, IdentityError> {
        let sealed: Vec<(UserId, Vec<u8>)> = tidings_store::with_reader!(self.db, |pool| sqlx::query_as(
            "SELECT id, totp_secret FROM users WHERE totp_secret IS NOT NULL"
        )
        .fetch_all(pool)
        .await)
        .map_err(StoreError::from)?;
        let mut resealed = 0;
        for (user, secret) in sealed {
            let opened =
                self.totp_secrets.open(&user, &secret).map_err(|e| corrupt(format!("TOTP secret of {user}: {e}")))?;
            let again = self.totp_secrets.seal(&user, opened.expose_secret()).map_err(corrupt)?;
            tidings_store::with_writer!(self.db, |pool| sqlx::query(
                "UPDATE users SET totp_secret = $1 WHERE id = $2 AND totp_secret = $3"
            )
            .bind(&again)
            .bind(&user)
            .bind(&secret)
            .execute(pool)
            .await
            .map(|_| ()))
            .map_err(StoreError::from)?;
            resealed += 1;
        }
        Ok(resealed)
    }
}
