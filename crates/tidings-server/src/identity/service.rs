//! Identity flows: sign-up, sign-in, sessions, email verification, password reset, team, API keys.
//!
//! Nothing here knows HTTP. Every change that matters is audited in the same transaction.

use tidings_core::config::AuthConfig;
use tidings_core::secrets::MasterKeys;
use tidings_core::time::now_millis;
use tidings_core::{SessionId, UserId, WorkspaceId};
use tidings_store::queue::{Queue, QueueError};
use tidings_store::{Db, StoreError, Tx};

use super::emails;
use super::password::PasswordHashing;
use super::store;
use super::tokens::{TokenKeys, opaque_token};
use super::totp::TotpSecrets;
use crate::access::Actor;
pub use crate::access::Origin;
use crate::access::Role;
use crate::audit::{self, AuditEntry};

mod accounts;
mod api_keys;
mod reads;
mod sessions;
mod team;
mod two_factor;

pub use reads::InvitePreview;
pub use two_factor::{SignIn, TwoFactorChallenge, TwoFactorEnrolment, WorkspaceChange};

const EMAIL_VERIFICATION_TTL_MS: i64 = 48 * 3600 * 1000;
const PASSWORD_RESET_TTL_MS: i64 = 3600 * 1000;
const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// Why an identity operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("an account with this email address already exists")]
    EmailTaken,
    #[error("email or password is incorrect")]
    InvalidCredentials,
    #[error("the refresh token is not valid; sign in again")]
    InvalidRefreshToken,
    #[error("this refresh token was already used; every session of its family is now signed out")]
    RefreshTokenReused,
    #[error("the link is invalid, expired or already used")]
    InvalidLink,
    #[error("{field}: {message}")]
    Validation { field: &'static str, message: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("a workspace must keep at least one owner")]
    LastOwner,
    #[error("{0} is already a member of this workspace")]
    AlreadyMember(String),
    #[error("the code is wrong, expired or was already used")]
    InvalidTwoFactorCode,
    #[error("the sign-in challenge is invalid, expired or already used; sign in again")]
    InvalidChallenge,
    #[error("two-factor sign-in is already on; turn it off first to set it up again")]
    TwoFactorAlreadyEnabled,
    #[error("set up two-factor sign-in first (POST /api/v1/me/two-factor/setup)")]
    TwoFactorNotSetUp,
    #[error("two-factor sign-in is not on")]
    TwoFactorNotEnabled,
    #[error("this email address is already confirmed")]
    AlreadyVerified,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// A stored value that does not parse: the database holds something Tidings never wrote.
fn corrupt(what: impl std::fmt::Display) -> IdentityError {
    IdentityError::Store(StoreError::corrupt(what))
}

fn invalid(field: &'static str, message: impl Into<String>) -> IdentityError {
    IdentityError::Validation { field, message: message.into() }
}

/// API-key uses recorded by this process: a key's `last_used_at` is written at most once a
/// minute, so busy keys do not send every request through the (SQLite: single) writer.
#[derive(Clone, Default)]
struct KeyUses(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>>);

impl KeyUses {
    fn should_record(&self, key: &str) -> bool {
        let now = std::time::Instant::now();
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.get(key).is_some_and(|at| now.duration_since(*at) < std::time::Duration::from_secs(60)) {
            return false;
        }
        if seen.len() > 10_000 {
            seen.retain(|_, at| now.duration_since(*at) < std::time::Duration::from_secs(60));
        }
        seen.insert(key.to_owned(), now);
        true
    }
}

/// A freshly issued pair of tokens.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
    pub role: Role,
}

/// Tokens that went out by email, returned so callers (and tests through the mailer) can use them.
#[derive(Debug, Clone)]
pub struct Registered {
    pub tokens: IssuedTokens,
    pub verification_token: String,
}

/// The identity service.
#[derive(Clone)]
pub struct Identity {
    db: Db,
    queue: Queue,
    hashing: PasswordHashing,
    tokens: TokenKeys,
    refresh_ttl_ms: i64,
    /// Links in emails point under this URL.
    public_url: String,
    /// When this process last recorded each API key's use.
    key_uses: KeyUses,
    /// Encrypts members' TOTP secrets at rest.
    totp_secrets: TotpSecrets,
}

/// Lower-cased, trimmed, and shaped like an address.
pub fn normalize_email(email: &str) -> Result<String, IdentityError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if valid { Ok(email) } else { Err(invalid("email", "is not a valid email address")) }
}

pub(crate) fn require_name(field: &'static str, value: &str) -> Result<String, IdentityError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 120 {
        return Err(invalid(field, "must be between 1 and 120 characters"));
    }
    Ok(value.to_owned())
}

/// A URL-friendly slug from a name.
fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').chars().take(48).collect::<String>();
    if slug.is_empty() { "workspace".to_owned() } else { slug }
}

impl Identity {
    /// The service over `db`, with the configured password cost and token lifetimes.
    pub fn new(db: Db, queue: Queue, config: &AuthConfig, master_keys: &MasterKeys) -> Self {
        let master_key = master_keys.current().expose();
        let previous: Vec<&[u8; 32]> = master_keys.previous().iter().map(|key| key.expose()).collect();
        Self {
            db,
            queue,
            hashing: PasswordHashing::new(config),
            tokens: TokenKeys::derive_with_previous(
                master_key,
                &previous,
                &config.token_issuer,
                config.access_token_ttl_secs,
            ),
            refresh_ttl_ms: i64::try_from(config.refresh_token_ttl_days).unwrap_or(7) * 86_400_000,
            public_url: "http://localhost:8080".to_owned(),
            key_uses: KeyUses::default(),
            totp_secrets: TotpSecrets::derive_with_previous(master_key, &previous),
        }
    }

    /// Points the links in emails at the public URL of this deployment.
    pub fn with_public_url(mut self, public_url: String) -> Self {
        self.public_url = public_url;
        self
    }

    fn links(&self) -> emails::Links<'_> {
        emails::Links(&self.public_url)
    }

    /// The access-token keys, for the request extractor.
    pub fn tokens(&self) -> &TokenKeys {
        &self.tokens
    }

    /// The queue, for emails sent by the flows.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Creates a workspace owned by `owner` and audits it (`metadata` says what else to record).
    async fn found_workspace(
        &self,
        tx: &mut Tx,
        owner: &UserId,
        name: &str,
        origin: &Origin,
        metadata: serde_json::Value,
    ) -> Result<WorkspaceId, IdentityError> {
        let id = WorkspaceId::generate();
        let base = slugify(name);
        let mut created = false;
        for attempt in 0..20 {
            let slug = if attempt == 0 { base.clone() } else { format!("{base}-{:04x}", rand::random::<u16>()) };
            if store::insert_workspace(tx, &id, name, &slug, "free").await? {
                created = true;
                break;
            }
        }
        if !created {
            return Err(invalid("workspaceName", "could not find a free address for this workspace; try another name"));
        }
        store::insert_membership(tx, &id, owner, Role::Owner).await?;
        audit::record(
            tx,
            &id,
            AuditEntry::success(Actor::user(owner, Role::Owner), origin, "workspace.created", "workspace")
                .on(&id)
                .with(metadata),
        )
        .await?;
        Ok(id)
    }

    async fn start_session(
        &self,
        tx: &mut Tx,
        user: &UserId,
        workspace: &WorkspaceId,
        role: Role,
        origin: &Origin,
    ) -> Result<IssuedTokens, IdentityError> {
        let session = SessionId::generate();
        store::insert_session(tx, &session, user, workspace, origin.ip.as_deref(), origin.user_agent.as_deref())
            .await?;
        self.issue(tx, &session, user, workspace, role).await
    }

    async fn issue(
        &self,
        tx: &mut Tx,
        session: &SessionId,
        user: &UserId,
        workspace: &WorkspaceId,
        role: Role,
    ) -> Result<IssuedTokens, IdentityError> {
        let (refresh_token, refresh_hash) = opaque_token("tdr");
        store::insert_refresh_token(tx, session, &refresh_hash, now_millis() + self.refresh_ttl_ms).await?;
        Ok(IssuedTokens {
            access_token: self.tokens.issue(user, workspace, role, session.as_str()),
            refresh_token,
            expires_in: self.tokens.ttl_secs(),
            user_id: user.clone(),
            workspace_id: workspace.clone(),
            role,
        })
    }

    async fn new_email_token(
        &self,
        tx: &mut Tx,
        user: &UserId,
        purpose: &str,
        ttl_ms: i64,
    ) -> Result<String, IdentityError> {
        let (token, hash) = opaque_token("tde");
        store::insert_email_token(tx, user, purpose, &hash, now_millis() + ttl_ms).await?;
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email("  Ana@Example.COM ").expect("valid"), "ana@example.com");
        for bad in ["", "ana", "ana@", "@example.com", "ana@example", "a na@example.com", "ana@.com"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_are_url_friendly() {
        assert_eq!(slugify("Café Olé & Sons!"), "caf-ol-sons");
        assert_eq!(slugify("***"), "workspace");
    }
}
