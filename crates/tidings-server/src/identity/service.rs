//! Identity flows: sign-up, sign-in, sessions, email verification, password reset, team, API keys.
//!
//! Nothing here knows HTTP. Every change that matters is audited in the same transaction.

use serde_json::json;
use tidings_core::config::AuthConfig;
use tidings_core::secrets::MasterKeys;
use tidings_core::time::now_millis;
use tidings_core::{ApiKeyId, InviteId, SessionId, UserId, WorkspaceId};
use tidings_store::queue::{Queue, QueueError};
use tidings_store::{Db, StoreError, Tx};

use super::emails;
use super::password::{PasswordHashing, check_new_password};
use super::permissions::Role;
use super::store;
use super::tokens::{TokenKeys, hash_token, opaque_token};
use super::totp::TotpSecrets;
use crate::audit::{self, Actor, AuditEntry, AuditResult};

mod two_factor;

pub use two_factor::{SignIn, TwoFactorChallenge, TwoFactorEnrolment};

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

/// Where a request came from, for sessions and the audit log.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
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

fn actor_user(user: &UserId, role: Role) -> Actor {
    Actor::User { id: user.to_string(), role: role.as_str().to_owned() }
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
            AuditEntry {
                actor: actor_user(owner, Role::Owner),
                ip: origin.ip.clone(),
                action: "workspace.created",
                resource_type: "workspace",
                resource_id: Some(id.to_string()),
                metadata,
                result: AuditResult::Success,
            },
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
        let user_id = UserId::parse(&user.id).map_err(corrupt)?;
        let memberships = store::workspaces_of(&self.db, &user_id).await?;
        let chosen = match workspace {
            Some(wanted) => memberships.iter().find(|m| m.id == wanted.as_str()),
            None => memberships.first(),
        };
        let Some(chosen) = chosen else { return Err(IdentityError::NotFound("workspace")) };
        let workspace = WorkspaceId::parse(&chosen.id).map_err(corrupt)?;
        let role = Role::parse(&chosen.role).ok_or_else(|| StoreError::Corrupt(format!("role {}", chosen.role)))?;
        if user.totp_enabled_at.is_some() {
            return Ok(SignIn::TwoFactorRequired(self.challenge_second_factor(&user_id, &workspace).await?));
        }
        let mut tx = self.db.begin().await?;
        let tokens = self.finish_sign_in(&mut tx, &user_id, &workspace, role, origin, None).await?;
        tx.commit().await?;
        Ok(SignIn::Tokens(tokens))
    }

    /// Starts the session of a sign-in and audits it, naming the second factor if one was asked.
    async fn finish_sign_in(
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
            AuditEntry {
                actor: actor_user(user, role),
                ip: origin.ip.clone(),
                action: "session.signed_in",
                resource_type: "session",
                resource_id: None,
                metadata,
                result: AuditResult::Success,
            },
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
            store::revoke_session(&mut tx, &row.session_id, "refresh token reused").await?;
            let workspace = WorkspaceId::parse(&row.workspace_id).map_err(corrupt)?;
            audit::record(
                &mut tx,
                &workspace,
                AuditEntry {
                    actor: Actor::User { id: row.user_id.clone(), role: String::new() },
                    ip: None,
                    action: "session.refresh_token_reused",
                    resource_type: "session",
                    resource_id: Some(row.session_id.clone()),
                    metadata: json!({ "revoked": "session family" }),
                    result: AuditResult::Failure,
                },
            )
            .await?;
            tx.commit().await?;
            return Err(IdentityError::RefreshTokenReused);
        }
        if row.revoked_at.is_some() || row.expires_at <= now_millis() {
            return Err(IdentityError::InvalidRefreshToken);
        }
        let user = UserId::parse(&row.user_id).map_err(corrupt)?;
        let workspace = WorkspaceId::parse(&row.workspace_id).map_err(corrupt)?;
        let Some(role) = store::member_role_in_tx(&mut tx, &workspace, &user).await? else {
            return Err(IdentityError::InvalidRefreshToken);
        };
        let session = SessionId::parse(&row.session_id).map_err(corrupt)?;
        let tokens = self.issue(&mut tx, &session, &user, &workspace, role).await?;
        tx.commit().await?;
        Ok(tokens)
    }

    /// Ends the session a refresh token belongs to. Unknown tokens are ignored.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), IdentityError> {
        let hash = hash_token(refresh_token);
        let mut tx = self.db.begin().await?;
        if let Some(row) = store::refresh_token(&mut tx, &hash).await? {
            store::revoke_session(&mut tx, &row.session_id, "signed out").await?;
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
        let user_id = UserId::parse(&user.id).map_err(corrupt)?;
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
        workspace: &WorkspaceId,
        inviter: &UserId,
        inviter_role: Role,
        email: &str,
        role: Role,
        origin: &Origin,
    ) -> Result<(InviteId, String), IdentityError> {
        let email = normalize_email(email)?;
        if role == Role::Owner && inviter_role != Role::Owner {
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
            AuditEntry {
                actor: actor_user(inviter, inviter_role),
                ip: origin.ip.clone(),
                action: "member.invited",
                resource_type: "invite",
                resource_id: Some(invite.to_string()),
                metadata: json!({ "email": email, "role": role.as_str() }),
                result: AuditResult::Success,
            },
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
        let workspace = WorkspaceId::parse(&invite.workspace_id).map_err(corrupt)?;
        let role = Role::parse(&invite.role).ok_or_else(|| StoreError::Corrupt(format!("role {}", invite.role)))?;
        let user = match store::user_by_email(&self.db, &invite.email).await? {
            Some(existing) => {
                let existing_id = UserId::parse(&existing.id).map_err(corrupt)?;
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
        store::mark_invite_accepted(&mut tx, &invite.id).await?;
        audit::record(
            &mut tx,
            &workspace,
            AuditEntry {
                actor: actor_user(&user, role),
                ip: origin.ip.clone(),
                action: "member.joined",
                resource_type: "member",
                resource_id: Some(user.to_string()),
                metadata: json!({ "email": invite.email, "role": role.as_str(), "invite": invite.id }),
                result: AuditResult::Success,
            },
        )
        .await?;
        let tokens = self.start_session(&mut tx, &user, &workspace, role, origin).await?;
        tx.commit().await?;
        Ok(tokens)
    }

    /// Changes a member's role. Only owners grant or take away ownership; one owner always remains.
    pub async fn change_role(
        &self,
        workspace: &WorkspaceId,
        actor: &Actor,
        actor_role: Role,
        member: &UserId,
        role: Role,
        origin: &Origin,
    ) -> Result<(), IdentityError> {
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let current =
            store::member_role_in_tx(&mut tx, workspace, member).await?.ok_or(IdentityError::NotFound("member"))?;
        if (current == Role::Owner || role == Role::Owner) && actor_role != Role::Owner {
            return Err(IdentityError::Forbidden("only an owner can grant or take away ownership"));
        }
        if current == Role::Owner && role != Role::Owner && store::count_owners(&mut tx, workspace).await? <= 1 {
            return Err(IdentityError::LastOwner);
        }
        store::set_role(&mut tx, workspace, member, role).await?;
        audit::record(
            &mut tx,
            workspace,
            AuditEntry {
                actor: actor.clone(),
                ip: origin.ip.clone(),
                action: "member.role_changed",
                resource_type: "member",
                resource_id: Some(member.to_string()),
                metadata: json!({ "from": current.as_str(), "to": role.as_str() }),
                result: AuditResult::Success,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a member (or lets one leave). One owner always remains.
    pub async fn remove_member(
        &self,
        workspace: &WorkspaceId,
        actor: &Actor,
        actor_role: Role,
        member: &UserId,
        origin: &Origin,
    ) -> Result<(), IdentityError> {
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let current =
            store::member_role_in_tx(&mut tx, workspace, member).await?.ok_or(IdentityError::NotFound("member"))?;
        let leaving = matches!(actor, Actor::User { id, .. } if id == member.as_str());
        if current == Role::Owner && actor_role != Role::Owner && !leaving {
            return Err(IdentityError::Forbidden("only an owner can remove an owner"));
        }
        if current == Role::Owner && store::count_owners(&mut tx, workspace).await? <= 1 {
            return Err(IdentityError::LastOwner);
        }
        store::delete_membership(&mut tx, workspace, member).await?;
        audit::record(
            &mut tx,
            workspace,
            AuditEntry {
                actor: actor.clone(),
                ip: origin.ip.clone(),
                action: if leaving { "member.left" } else { "member.removed" },
                resource_type: "member",
                resource_id: Some(member.to_string()),
                metadata: json!({ "role": current.as_str() }),
                result: AuditResult::Success,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates an API key with a role no stronger than its creator's; the key is shown once.
    pub async fn create_api_key(
        &self,
        workspace: &WorkspaceId,
        creator: &UserId,
        creator_role: Role,
        name: &str,
        role: Role,
        origin: &Origin,
    ) -> Result<(ApiKeyId, String, String), IdentityError> {
        let name = require_name("name", name)?;
        if role < creator_role {
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
            AuditEntry {
                actor: actor_user(creator, creator_role),
                ip: origin.ip.clone(),
                action: "api_key.created",
                resource_type: "api_key",
                resource_id: Some(id.to_string()),
                metadata: json!({ "name": name, "role": role.as_str(), "prefix": prefix }),
                result: AuditResult::Success,
            },
        )
        .await?;
        tx.commit().await?;
        Ok((id, secret, prefix))
    }

    /// Withdraws a pending invitation of the workspace, so its link stops working.
    pub async fn revoke_invite(
        &self,
        workspace: &WorkspaceId,
        actor: &Actor,
        invite: &InviteId,
        origin: &Origin,
    ) -> Result<(), IdentityError> {
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::revoke_invite(&mut tx, workspace, invite).await? {
            return Err(IdentityError::NotFound("invite"));
        }
        audit::record(
            &mut tx,
            workspace,
            AuditEntry {
                actor: actor.clone(),
                ip: origin.ip.clone(),
                action: "invite.revoked",
                resource_type: "invite",
                resource_id: Some(invite.to_string()),
                metadata: json!({}),
                result: AuditResult::Success,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes an API key of the workspace.
    pub async fn revoke_api_key(
        &self,
        workspace: &WorkspaceId,
        actor: &Actor,
        key: &ApiKeyId,
        origin: &Origin,
    ) -> Result<(), IdentityError> {
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::revoke_api_key(&mut tx, workspace, key).await? {
            return Err(IdentityError::NotFound("API key"));
        }
        audit::record(
            &mut tx,
            workspace,
            AuditEntry {
                actor: actor.clone(),
                ip: origin.ip.clone(),
                action: "api_key.revoked",
                resource_type: "api_key",
                resource_id: Some(key.to_string()),
                metadata: json!({}),
                result: AuditResult::Success,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Resolves a presented API key to its workspace and role, recording the use.
    pub async fn authenticate_api_key(
        &self,
        presented: &str,
    ) -> Result<Option<(WorkspaceId, ApiKeyId, Role)>, IdentityError> {
        let Some(row) = store::api_key_by_hash(&self.db, &hash_token(presented)).await? else { return Ok(None) };
        if self.key_uses.should_record(&row.id) {
            store::touch_api_key(&self.db, &row.id).await?;
        }
        let workspace = WorkspaceId::parse(&row.workspace_id).map_err(corrupt)?;
        let key = ApiKeyId::parse(&row.id).map_err(corrupt)?;
        let role = Role::parse(&row.role).ok_or_else(|| StoreError::Corrupt(format!("role {}", row.role)))?;
        Ok(Some((workspace, key, role)))
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
