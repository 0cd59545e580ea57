//! Accounts: users, their names and passwords, and the email tokens that confirm an address or reset a password.

use tidings_core::UserId;
use tidings_core::time::now_millis;
use tidings_store::{Db, StoreError, Tx, execute, with_reader, with_tx, with_writer};

/// A person who can sign in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub email_verified_at: Option<i64>,
    /// When two-factor sign-in was turned on; `None` while it is off.
    pub totp_enabled_at: Option<i64>,
    pub created_at: i64,
}

const USER_COLUMNS: &str = "id, email, name, password_hash, email_verified_at, totp_enabled_at, created_at";

pub async fn user_by_email(db: &Db, email: &str) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(email)
        .fetch_optional(pool)
        .await)?)
}

pub async fn user_by_id(db: &Db, id: &UserId) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)?)
}

/// Inserts a user; `false` when the email is taken.
pub async fn insert_user(
    tx: &mut Tx,
    id: &UserId,
    email: &str,
    name: &str,
    password_hash: &str,
    verified: bool,
) -> Result<bool, StoreError> {
    let now = now_millis();
    let inserted = execute!(
        tx,
        "INSERT INTO users (id, email, name, password_hash, email_verified_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING",
        id.as_str(),
        email,
        name,
        password_hash,
        verified.then_some(now),
        now
    )?;
    Ok(inserted == 1)
}

pub async fn set_password(tx: &mut Tx, user: &UserId, password_hash: &str) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
        password_hash,
        now_millis(),
        user.as_str()
    )?;
    Ok(())
}

pub async fn set_name(db: &Db, user: &UserId, name: &str) -> Result<(), StoreError> {
    with_writer!(db, |pool| sqlx::query("UPDATE users SET name = $1, updated_at = $2 WHERE id = $3")
        .bind(name)
        .bind(now_millis())
        .bind(user.as_str())
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(())
}

pub async fn mark_email_verified(tx: &mut Tx, user: &UserId) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $1), updated_at = $1 WHERE id = $2",
        now_millis(),
        user.as_str()
    )?;
    Ok(())
}

pub async fn insert_email_token(
    tx: &mut Tx,
    user: &UserId,
    purpose: &str,
    token_hash: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
        token_hash,
        user.as_str(),
        purpose,
        expires_at,
        now_millis()
    )?;
    Ok(())
}

/// Spends a live email token of the given purpose, returning its user.
pub async fn spend_email_token(tx: &mut Tx, purpose: &str, token_hash: &str) -> Result<Option<UserId>, StoreError> {
    let now = now_millis();
    let user: Option<String> = with_tx!(tx, |conn| {
        sqlx::query_scalar(
        "UPDATE email_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 \
         RETURNING user_id"
    )
    .bind(now)
    .bind(token_hash)
    .bind(purpose)
    .fetch_optional(&mut **conn)
    .await
    })?;
    Ok(user.as_deref().and_then(|id| UserId::parse(id).ok()))
}
