//! Two-factor sign-in: secrets, used time steps, recovery codes and sign-in challenges.

use tidings_core::time::now_millis;
use tidings_core::{UserId, WorkspaceId};
use tidings_store::{StoreError, Tx, execute, with_tx};

/// A member's two-factor secret (encrypted) and whether it is in use.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotpRow {
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enabled_at: Option<i64>,
}

pub async fn totp_state(tx: &mut Tx, user: &UserId) -> Result<Option<TotpRow>, StoreError> {
    Ok(with_tx!(tx, |conn| sqlx::query_as("SELECT totp_secret, totp_enabled_at FROM users WHERE id = $1")
        .bind(user.as_str())
        .fetch_optional(&mut **conn)
        .await)?)
}

/// Stores a new secret, not yet in use; `false` when two-factor sign-in is already on.
pub async fn set_pending_totp_secret(tx: &mut Tx, user: &UserId, sealed: &[u8]) -> Result<bool, StoreError> {
    let updated = execute!(
        tx,
        "UPDATE users SET totp_secret = $1, totp_last_step = NULL, updated_at = $2 \
         WHERE id = $3 AND totp_enabled_at IS NULL",
        sealed,
        now_millis(),
        user.as_str()
    )?;
    Ok(updated == 1)
}

/// Turns two-factor sign-in on; `false` when it already was, or no secret was set up.
pub async fn enable_totp(tx: &mut Tx, user: &UserId) -> Result<bool, StoreError> {
    let updated = execute!(
        tx,
        "UPDATE users SET totp_enabled_at = $1, updated_at = $1 \
         WHERE id = $2 AND totp_enabled_at IS NULL AND totp_secret IS NOT NULL",
        now_millis(),
        user.as_str()
    )?;
    Ok(updated == 1)
}

/// Turns two-factor sign-in off and forgets the secret and the recovery codes.
pub async fn disable_totp(tx: &mut Tx, user: &UserId) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL, updated_at = $1 \
         WHERE id = $2",
        now_millis(),
        user.as_str()
    )?;
    execute!(tx, "DELETE FROM recovery_codes WHERE user_id = $1", user.as_str())?;
    Ok(())
}

/// Records that the code of time step `step` was used; `false` when that step or a later one
/// already was (a replayed or outdated code).
pub async fn spend_totp_step(tx: &mut Tx, user: &UserId, step: i64) -> Result<bool, StoreError> {
    let updated = execute!(
        tx,
        "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        step,
        user.as_str()
    )?;
    Ok(updated == 1)
}

/// Replaces the member's recovery codes with these (hashed) ones.
pub async fn replace_recovery_codes(tx: &mut Tx, user: &UserId, code_hashes: &[String]) -> Result<(), StoreError> {
    execute!(tx, "DELETE FROM recovery_codes WHERE user_id = $1", user.as_str())?;
    for hash in code_hashes {
        execute!(tx, "INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)", user.as_str(), hash.as_str())?;
    }
    Ok(())
}

/// Spends an unused recovery code; `false` when the member has no such unused code.
pub async fn spend_recovery_code(tx: &mut Tx, user: &UserId, code_hash: &str) -> Result<bool, StoreError> {
    let updated = execute!(
        tx,
        "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        now_millis(),
        user.as_str(),
        code_hash
    )?;
    Ok(updated == 1)
}

pub async fn unused_recovery_codes(tx: &mut Tx, user: &UserId) -> Result<i64, StoreError> {
    Ok(with_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL"
    )
    .bind(user.as_str())
    .fetch_one(&mut **conn)
    .await)?)
}

/// The step between password and code of a two-factor sign-in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChallengeRow {
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
    pub failed_attempts: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Stores a challenge, and clears the member's expired ones.
pub async fn insert_challenge(
    tx: &mut Tx,
    token_hash: &str,
    user: &UserId,
    workspace: &WorkspaceId,
    expires_at: i64,
) -> Result<(), StoreError> {
    let now = now_millis();
    execute!(tx, "DELETE FROM two_factor_challenges WHERE user_id = $1 AND expires_at <= $2", user.as_str(), now)?;
    execute!(
        tx,
        "INSERT INTO two_factor_challenges (token_hash, user_id, workspace_id, failed_attempts, expires_at, created_at) \
         VALUES ($1, $2, $3, 0, $4, $5)",
        token_hash,
        user.as_str(),
        workspace.as_str(),
        expires_at,
        now
    )?;
    Ok(())
}

pub async fn challenge(tx: &mut Tx, token_hash: &str) -> Result<Option<ChallengeRow>, StoreError> {
    Ok(with_tx!(tx, |conn| sqlx::query_as(
        "SELECT user_id, workspace_id, failed_attempts, expires_at, used_at FROM two_factor_challenges \
         WHERE token_hash = $1"
    )
    .bind(token_hash)
    .fetch_optional(&mut **conn)
    .await)?)
}

pub async fn count_failed_challenge(tx: &mut Tx, token_hash: &str) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE two_factor_challenges SET failed_attempts = failed_attempts + 1 WHERE token_hash = $1",
        token_hash
    )?;
    Ok(())
}

/// Spends a live challenge; `false` when it was spent already or has expired.
pub async fn spend_challenge(tx: &mut Tx, token_hash: &str) -> Result<bool, StoreError> {
    let now = now_millis();
    let spent = execute!(
        tx,
        "UPDATE two_factor_challenges SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
        now,
        token_hash
    )?;
    Ok(spent == 1)
}
