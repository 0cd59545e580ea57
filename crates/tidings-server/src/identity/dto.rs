//! What the identity endpoints accept and promise.

use serde::{Deserialize, Serialize};
use tidings_core::time::to_rfc3339;
use tidings_core::{ApiKeyId, InviteId, UserId, WorkspaceId};
use utoipa::ToSchema;

use super::service::{IssuedTokens, SignIn, TwoFactorChallenge, TwoFactorEnrolment};
use super::store::{ApiKeyRow, InviteRow, MemberRow, MyWorkspaceRow, UserRow, WorkspaceRow};
use crate::access::Role;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterIn {
    pub email: String,
    pub password: String,
    pub name: String,
    pub workspace_name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginIn {
    pub email: String,
    pub password: String,
    /// Sign in to this workspace (default: the first one joined).
    pub workspace_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshIn {
    pub refresh_token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenIn {
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailIn {
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetPasswordIn {
    pub token: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspaceIdIn {
    pub workspace_id: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcceptInviteIn {
    pub token: String,
    /// For a new account: your name.
    pub name: Option<String>,
    /// For a new account: your password.
    pub password: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfilePatch {
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordIn {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NameIn {
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspacePatch {
    pub name: Option<String>,
    /// Members must sign in with a second factor.
    pub require_two_factor: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InviteIn {
    pub email: String,
    pub role: Role,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleIn {
    pub role: Role,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKeyIn {
    pub name: String,
    pub role: Role,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserOut {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    /// Signs in with a second factor (an authenticator app's code).
    pub two_factor_enabled: bool,
    pub created_at: String,
}

impl From<UserRow> for UserOut {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            name: row.name,
            email_verified: row.email_verified_at.is_some(),
            two_factor_enabled: row.totp_enabled_at.is_some(),
            created_at: to_rfc3339(row.created_at),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokensOut {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
    pub role: Role,
}

impl From<IssuedTokens> for TokensOut {
    fn from(tokens: IssuedTokens) -> Self {
        Self {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            token_type: "Bearer".to_owned(),
            expires_in: tokens.expires_in,
            user_id: tokens.user_id,
            workspace_id: tokens.workspace_id,
            role: tokens.role,
        }
    }
}

/// What `POST /auth/login` answers: tokens, or, for a member with two-factor sign-in, a
/// challenge to complete at `POST /auth/login/two-factor`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum LoginOut {
    Tokens(TokensOut),
    TwoFactorRequired(TwoFactorChallengeOut),
}

impl From<SignIn> for LoginOut {
    fn from(sign_in: SignIn) -> Self {
        match sign_in {
            SignIn::Tokens(tokens) => Self::Tokens(tokens.into()),
            SignIn::TwoFactorRequired(challenge) => Self::TwoFactorRequired(challenge.into()),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorChallengeOut {
    /// Always `true`: send a code with the challenge token to finish signing in.
    pub two_factor_required: bool,
    /// Single-use, for `POST /auth/login/two-factor`.
    pub challenge_token: String,
    /// Seconds the challenge stays valid.
    pub expires_in: i64,
}

impl From<TwoFactorChallenge> for TwoFactorChallengeOut {
    fn from(challenge: TwoFactorChallenge) -> Self {
        Self { two_factor_required: true, challenge_token: challenge.challenge_token, expires_in: challenge.expires_in }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TwoFactorLoginIn {
    pub challenge_token: String,
    /// The 6-digit code of the authenticator app, or an unused recovery code.
    pub code: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorSetupOut {
    /// The secret in base32, to type into an authenticator app.
    pub secret: String,
    /// The `otpauth://totp/…` URL, to show as a QR code.
    pub otpauth_url: String,
}

impl From<TwoFactorEnrolment> for TwoFactorSetupOut {
    fn from(enrolment: TwoFactorEnrolment) -> Self {
        Self { secret: enrolment.secret, otpauth_url: enrolment.otpauth_url }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TwoFactorCodeIn {
    /// The 6-digit code the authenticator app shows now.
    pub code: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodesOut {
    /// One-time codes for when the authenticator app is lost: shown this once, never again.
    pub recovery_codes: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TwoFactorDisableIn {
    pub password: String,
    /// A current code of the authenticator app, or an unused recovery code.
    pub code: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceOut {
    pub id: WorkspaceId,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub require_two_factor: bool,
    pub created_at: String,
}

impl From<WorkspaceRow> for WorkspaceOut {
    fn from(row: WorkspaceRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            slug: row.slug,
            plan: row.plan,
            require_two_factor: row.require_two_factor,
            created_at: to_rfc3339(row.created_at),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyWorkspaceOut {
    pub id: WorkspaceId,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub role: Role,
    /// The workspace this request acts in.
    pub current: bool,
}

impl MyWorkspaceOut {
    pub fn new(row: MyWorkspaceRow, current: &WorkspaceId) -> Self {
        Self { current: &row.id == current, id: row.id, name: row.name, slug: row.slug, plan: row.plan, role: row.role }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeOut {
    pub user: UserOut,
    pub workspace: WorkspaceOut,
    pub role: Role,
    pub permissions: Vec<String>,
    /// The workspace requires two-factor sign-in and it is not on yet: until it is, every other
    /// endpoint of the workspace answers 403 `two_factor_required`.
    pub two_factor_setup_required: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberOut {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: String,
}

impl From<MemberRow> for MemberOut {
    fn from(row: MemberRow) -> Self {
        Self {
            user_id: row.user_id,
            email: row.email,
            name: row.name,
            role: row.role,
            joined_at: to_rfc3339(row.joined_at),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteOut {
    pub id: InviteId,
    pub email: String,
    pub role: Role,
    pub invited_by: UserId,
    pub expires_at: String,
    pub created_at: String,
}

impl From<InviteRow> for InviteOut {
    fn from(row: InviteRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            role: row.role,
            invited_by: row.invited_by,
            expires_at: to_rfc3339(row.expires_at),
            created_at: to_rfc3339(row.created_at),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeamOut {
    pub members: Vec<MemberOut>,
    /// Pending invitations (shown to those who manage the team).
    pub invites: Vec<InviteOut>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyOut {
    pub id: ApiKeyId,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub role: Role,
    pub created_by: UserId,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    pub created_at: String,
}

impl From<ApiKeyRow> for ApiKeyOut {
    fn from(row: ApiKeyRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            role: row.role,
            created_by: row.created_by,
            last_used_at: row.last_used_at.map(to_rfc3339),
            revoked_at: row.revoked_at.map(to_rfc3339),
            created_at: to_rfc3339(row.created_at),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewApiKeyOut {
    pub api_key: ApiKeyOut,
    /// The key itself: shown this once, never again.
    pub key: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DoneOut {
    pub done: bool,
}
