//! Sign-up, sign-in, sessions, profile, workspaces, team and API keys.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use tidings_core::{ApiKeyId, InviteId, UserId, WorkspaceId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::TwoFactorExempt;
use super::dto::*;
use super::service::{IdentityError, Origin, SignIn, WorkspaceChange, normalize_email};
use crate::AppState;
use crate::access::Permission;
use crate::access::{Auth, origin_of};
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, Envelope};

/// The identity endpoints, under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(login_two_factor))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(verify_email))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(switch_workspace))
        .routes(routes!(accept_invite))
        .routes(routes!(me, update_me))
        .routes(routes!(change_password))
        .routes(routes!(resend_verification))
        .routes(routes!(setup_two_factor))
        .routes(routes!(enable_two_factor))
        .routes(routes!(disable_two_factor))
        .routes(routes!(list_workspaces, create_workspace))
        .routes(routes!(current_workspace, update_workspace))
        .routes(routes!(team))
        .routes(routes!(invite))
        .routes(routes!(revoke_invite))
        .routes(routes!(change_role))
        .routes(routes!(remove_member))
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
}

/// The caller's address and agent, for unauthenticated endpoints.
pub struct RequestOrigin(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(origin_of(parts)))
    }
}

fn parse<T>(
    field: &'static str,
    value: &str,
    parse: impl Fn(&str) -> Result<T, tidings_core::ids::IdError>,
) -> Result<T, ApiError> {
    parse(value).map_err(|e| ApiError::validation(field, e.to_string()))
}

fn path_id<T>(
    what: &'static str,
    value: &str,
    parse: impl Fn(&str) -> Result<T, tidings_core::ids::IdError>,
) -> Result<T, ApiError> {
    parse(value).map_err(|_| ApiError::not_found(what))
}

/// Creates an account and its first workspace, and signs in.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterIn, responses(
    (status = 201, body = Envelope<TokensOut>), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody)))]
async fn register(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<RegisterIn>,
) -> Result<impl IntoResponse, ApiError> {
    state.limits.check_ip(origin.ip.as_deref())?;
    let registered =
        state.identity.register(&body.email, &body.password, &body.name, &body.workspace_name, &origin).await?;
    Ok((StatusCode::CREATED, Envelope::new(TokensOut::from(registered.tokens))))
}

/// Signs in with email and password. A member with two-factor sign-in gets
/// `{twoFactorRequired: true, challengeToken}` instead of tokens, to finish at `/auth/login/two-factor`.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginIn, responses(
    (status = 200, body = Envelope<LoginOut>), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<LoginIn>,
) -> Result<impl IntoResponse, ApiError> {
    let workspace = body.workspace_id.as_deref().map(|id| parse("workspaceId", id, WorkspaceId::parse)).transpose()?;
    // Lockouts are per account: an address that cannot be one is refused before it is counted.
    let email = normalize_email(&body.email)?;
    state.limits.check_sign_in(origin.ip.as_deref(), &email)?;
    match state.identity.login(&email, &body.password, workspace.as_ref(), &origin).await {
        Ok(sign_in) => {
            // With a second factor owed, the lockout stays until the code checks out too.
            if matches!(sign_in, SignIn::Tokens(_)) {
                state.limits.record_success(&email);
            }
            Ok(Envelope::new(LoginOut::from(sign_in)))
        }
        Err(error) => {
            if matches!(error, IdentityError::InvalidCredentials) {
                state.limits.record_failure(&email);
            }
            Err(error.into())
        }
    }
}

/// Finishes a two-factor sign-in: the challenge token from `/auth/login` and the authenticator
/// app's current code (each code works once), or an unused recovery code (spent by this).
/// Five wrong codes end the challenge.
#[utoipa::path(post, path = "/auth/login/two-factor", tag = "auth", request_body = TwoFactorLoginIn, responses(
    (status = 200, body = Envelope<TokensOut>), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login_two_factor(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<TwoFactorLoginIn>,
) -> Result<impl IntoResponse, ApiError> {
    state.limits.check_ip(origin.ip.as_deref())?;
    let tokens = state.identity.login_two_factor(&body.challenge_token, &body.code, &origin).await?;
    Ok(Envelope::new(TokensOut::from(tokens)))
}

/// Spends a refresh token for a new pair (single use; reuse signs out the whole session).
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshIn, responses(
    (status = 200, body = Envelope<TokensOut>), (status = 401, body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshIn>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Envelope::new(TokensOut::from(state.identity.refresh(&body.refresh_token).await?)))
}

/// Ends the session of a refresh token.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshIn, responses((status = 200, body = Envelope<DoneOut>)))]
async fn logout(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshIn>,
) -> Result<impl IntoResponse, ApiError> {
    state.identity.logout(&body.refresh_token).await?;
    Ok(Envelope::new(DoneOut { done: true }))
}

/// Confirms an email address with the token from the emailed link.
#[utoipa::path(post, path = "/auth/verify-email", tag = "auth", request_body = TokenIn, responses(
    (status = 200, body = Envelope<DoneOut>), (status = 400, body = ErrorBody)))]
async fn verify_email(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TokenIn>,
) -> Result<impl IntoResponse, ApiError> {
    state.identity.verify_email(&body.token).await?;
    Ok(Envelope::new(DoneOut { done: true }))
}

/// Emails a password-reset link if the address has an account (the answer is the same either way).
#[utoipa::path(post, path = "/auth/forgot-password", tag = "auth", request_body = EmailIn, responses(
    (status = 202, body = Envelope<DoneOut>), (status = 429, body = ErrorBody)))]
async fn forgot_password(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<EmailIn>,
) -> Result<impl IntoResponse, ApiError> {
    let email = normalize_email(&body.email)?;
    state.limits.check_sign_in(origin.ip.as_deref(), &email)?;
    state.identity.forgot_password(&email).await?;
    Ok((StatusCode::ACCEPTED, Envelope::new(DoneOut { done: true })))
}

/// Sets a new password with the token from the emailed link; every session is signed out.
#[utoipa::path(post, path = "/auth/reset-password", tag = "auth", request_body = ResetPasswordIn, responses(
    (status = 200, body = Envelope<DoneOut>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody)))]
async fn reset_password(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<ResetPasswordIn>,
) -> Result<impl IntoResponse, ApiError> {
    state.limits.check_ip(origin.ip.as_deref())?;
    state.identity.reset_password(&body.token, &body.password).await?;
    Ok(Envelope::new(DoneOut { done: true }))
}

/// Issues tokens for another workspace the signed-in user belongs to.
#[utoipa::path(post, path = "/auth/switch-workspace", tag = "auth", request_body = WorkspaceIdIn, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<TokensOut>), (status = 404, body = ErrorBody)))]
async fn switch_workspace(
    State(state): State<AppState>,
    TwoFactorExempt(auth): TwoFactorExempt,
    ApiJson(body): ApiJson<WorkspaceIdIn>,
) -> Result<impl IntoResponse, ApiError> {
    let workspace = path_id("workspace", &body.workspace_id, WorkspaceId::parse)?;
    let tokens = state.identity.switch_workspace(auth.user()?, &workspace, &auth.origin).await?;
    Ok(Envelope::new(TokensOut::from(tokens)))
}

/// Accepts an invitation: signed in as the invited address, or creating the account with a name and password.
#[utoipa::path(post, path = "/invites/accept", tag = "team", request_body = AcceptInviteIn, responses(
    (status = 200, body = Envelope<TokensOut>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn accept_invite(
    State(state): State<AppState>,
    auth: Option<Auth>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<AcceptInviteIn>,
) -> Result<impl IntoResponse, ApiError> {
    let new_account = body.name.as_deref().zip(body.password.as_deref());
    let signed_in = auth.as_ref().and_then(|a| a.user_id.as_ref());
    let tokens = state.identity.accept_invite(&body.token, signed_in, new_account, &origin).await?;
    Ok(Envelope::new(TokensOut::from(tokens)))
}

/// The signed-in member, the workspace the request acts in, and what they may do there.
/// Answers even while the workspace waits for the member to turn on two-factor sign-in.
#[utoipa::path(get, path = "/me", tag = "profile", security(("bearer" = [])), responses((status = 200, body = Envelope<MeOut>), (status = 401, body = ErrorBody)))]
async fn me(
    State(state): State<AppState>,
    TwoFactorExempt(auth): TwoFactorExempt,
) -> Result<impl IntoResponse, ApiError> {
    let user = state.identity.user(auth.user()?).await?;
    let workspace = state.identity.workspace(&auth.workspace_id).await?;
    Ok(Envelope::new(MeOut {
        user: user.into(),
        workspace: workspace.into(),
        role: auth.role,
        permissions: auth.role.permissions().into_iter().map(|p| p.as_str().to_owned()).collect(),
        two_factor_setup_required: auth.owes_two_factor,
    }))
}

/// Changes the signed-in member's name.
#[utoipa::path(patch, path = "/me", tag = "profile", request_body = ProfilePatch, security(("bearer" = [])), responses((status = 200, body = Envelope<DoneOut>), (status = 422, body = ErrorBody)))]
async fn update_me(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ProfilePatch>,
) -> Result<impl IntoResponse, ApiError> {
    state.identity.rename(auth.user()?, &body.name).await?;
    Ok(Envelope::new(DoneOut { done: true }))
}

/// Changes the password; other sessions are signed out.
#[utoipa::path(post, path = "/me/password", tag = "profile", request_body = ChangePasswordIn, security(("bearer" = [])), responses((status = 200, body = Envelope<DoneOut>), (status = 422, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ChangePasswordIn>,
) -> Result<impl IntoResponse, ApiError> {
    let session = auth.session_id.clone().unwrap_or_default();
    state.identity.change_password(auth.user()?, &body.current_password, &body.new_password, &session).await?;
    Ok(Envelope::new(DoneOut { done: true }))
}

/// Emails the confirmation link again while the member's address is not confirmed (409
/// `already_verified` once it is). Counted like sign-in attempts, per address and per caller.
/// Answers even while the workspace waits for the member to turn on two-factor sign-in.
#[utoipa::path(post, path = "/me/verify-email", tag = "profile", security(("bearer" = [])), responses(
    (status = 202, body = Envelope<DoneOut>), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn resend_verification(
    State(state): State<AppState>,
    TwoFactorExempt(auth): TwoFactorExempt,
) -> Result<impl IntoResponse, ApiError> {
    let user = auth.user()?;
    let row = state.identity.user(user).await?;
    state.limits.check_sign_in(auth.origin.ip.as_deref(), &row.email)?;
    state.identity.resend_verification(user).await?;
    Ok((StatusCode::ACCEPTED, Envelope::new(DoneOut { done: true })))
}

/// Starts setting up two-factor sign-in: a new secret for an authenticator app, as base32 and as
/// an `otpauth://` URL (for a QR code). Nothing changes at sign-in until it is enabled.
#[utoipa::path(post, path = "/me/two-factor/setup", tag = "profile", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<TwoFactorSetupOut>), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn setup_two_factor(
    State(state): State<AppState>,
    TwoFactorExempt(auth): TwoFactorExempt,
) -> Result<impl IntoResponse, ApiError> {
    let enrolment = state.identity.setup_two_factor(auth.user()?).await?;
    Ok(Envelope::new(TwoFactorSetupOut::from(enrolment)))
}

/// Turns two-factor sign-in on with the app's current code; answers ten recovery codes, shown
/// this once.
#[utoipa::path(post, path = "/me/two-factor/enable", tag = "profile", request_body = TwoFactorCodeIn, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<RecoveryCodesOut>), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn enable_two_factor(
    State(state): State<AppState>,
    TwoFactorExempt(auth): TwoFactorExempt,
    ApiJson(body): ApiJson<TwoFactorCodeIn>,
) -> Result<impl IntoResponse, ApiError> {
    let codes =
        state.identity.enable_two_factor(&auth.workspace_id, auth.user()?, auth.role, &body.code, &auth.origin).await?;
    Ok(Envelope::new(RecoveryCodesOut { recovery_codes: codes }))
}

/// Turns two-factor sign-in off, with the password and a current code or a recovery code.
#[utoipa::path(post, path = "/me/two-factor/disable", tag = "profile", request_body = TwoFactorDisableIn, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DoneOut>), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn disable_two_factor(
    State(state): State<AppState>,
    TwoFactorExempt(auth): TwoFactorExempt,
    ApiJson(body): ApiJson<TwoFactorDisableIn>,
) -> Result<impl IntoResponse, ApiError> {
    let user = auth.user()?;
    state
        .identity
        .disable_two_factor(&auth.workspace_id, user, auth.role, &body.password, &body.code, &auth.origin)
        .await?;
    Ok(Envelope::new(DoneOut { done: true }))
}

/// The workspaces the signed-in member belongs to, for the switcher.
#[utoipa::path(get, path = "/workspaces", tag = "workspaces", security(("bearer" = [])), responses((status = 200, body = Envelope<Vec<MyWorkspaceOut>>)))]
async fn list_workspaces(
    State(state): State<AppState>,
    TwoFactorExempt(auth): TwoFactorExempt,
) -> Result<impl IntoResponse, ApiError> {
    let rows = state.identity.workspaces_of(auth.user()?).await?;
    Ok(Envelope::new(rows.into_iter().map(|row| MyWorkspaceOut::new(row, &auth.workspace_id)).collect::<Vec<_>>()))
}

/// Creates another workspace owned by the signed-in member (an agency's client) and signs in to it.
#[utoipa::path(post, path = "/workspaces", tag = "workspaces", request_body = NameIn, security(("bearer" = [])), responses((status = 201, body = Envelope<TokensOut>), (status = 422, body = ErrorBody)))]
async fn create_workspace(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<NameIn>,
) -> Result<impl IntoResponse, ApiError> {
    let tokens = state.identity.create_another_workspace(auth.user()?, &body.name, &auth.origin).await?;
    Ok((StatusCode::CREATED, Envelope::new(TokensOut::from(tokens))))
}

/// The workspace the request acts in.
#[utoipa::path(get, path = "/workspace", tag = "workspaces", security(("bearer" = [])), responses((status = 200, body = Envelope<WorkspaceOut>)))]
async fn current_workspace(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let row = state.identity.workspace(&auth.workspace_id).await?;
    Ok(Envelope::new(WorkspaceOut::from(row)))
}

/// Renames the workspace or changes its two-factor requirement (owners only, and only an owner
/// who uses two-factor sign-in can turn it on).
#[utoipa::path(patch, path = "/workspace", tag = "workspaces", request_body = WorkspacePatch, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<WorkspaceOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_workspace(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<WorkspacePatch>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageWorkspace)?;
    let change = WorkspaceChange { name: body.name.as_deref(), require_two_factor: body.require_two_factor };
    let row = state.identity.update_workspace(&auth, auth.user_id.as_ref(), change).await?;
    Ok(Envelope::new(WorkspaceOut::from(row)))
}

/// Members of the workspace, and pending invitations for those who manage the team.
#[utoipa::path(get, path = "/team", tag = "team", security(("bearer" = [])), responses((status = 200, body = Envelope<TeamOut>)))]
async fn team(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let members = state.identity.members(&auth.workspace_id).await?;
    let invites = if auth.role.can(Permission::ManageTeam) {
        state.identity.pending_invites(&auth.workspace_id).await?
    } else {
        Vec::new()
    };
    Ok(Envelope::new(TeamOut {
        members: members.into_iter().map(MemberOut::from).collect(),
        invites: invites.into_iter().map(InviteOut::from).collect(),
    }))
}

/// Invites someone by email with a role.
#[utoipa::path(post, path = "/team/invites", tag = "team", request_body = InviteIn, security(("bearer" = [])), responses(
    (status = 201, body = Envelope<DoneOut>), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn invite(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<InviteIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageTeam)?;
    state.identity.invite(&auth, auth.user()?, &body.email, body.role).await?;
    Ok((StatusCode::CREATED, Envelope::new(DoneOut { done: true })))
}

/// Withdraws a pending invitation.
#[utoipa::path(delete, path = "/team/invites/{id}", tag = "team", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DoneOut>), (status = 404, body = ErrorBody)))]
async fn revoke_invite(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageTeam)?;
    let invite = path_id("invite", &id, InviteId::parse)?;
    state.identity.revoke_invite(&auth, &invite).await?;
    Ok(Envelope::new(DoneOut { done: true }))
}

/// Changes a member's role.
#[utoipa::path(put, path = "/team/{user_id}/role", tag = "team", params(("user_id" = String, Path)), request_body = RoleIn, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DoneOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn change_role(
    State(state): State<AppState>,
    auth: Auth,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<RoleIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageTeam)?;
    let member = path_id("member", &user_id, UserId::parse)?;
    state.identity.change_role(&auth, &member, body.role).await?;
    Ok(Envelope::new(DoneOut { done: true }))
}

/// Removes a member; anyone may remove themselves (leave).
#[utoipa::path(delete, path = "/team/{user_id}", tag = "team", params(("user_id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DoneOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    auth: Auth,
    Path(user_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let member = path_id("member", &user_id, UserId::parse)?;
    if auth.user_id.as_ref() != Some(&member) {
        auth.require(Permission::ManageTeam)?;
    }
    state.identity.remove_member(&auth, &member).await?;
    Ok(Envelope::new(DoneOut { done: true }))
}

/// API keys of the workspace (never their secrets).
#[utoipa::path(get, path = "/api-keys", tag = "api keys", security(("bearer" = [])), responses((status = 200, body = Envelope<Vec<ApiKeyOut>>), (status = 403, body = ErrorBody)))]
async fn list_api_keys(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageApiKeys)?;
    let keys = state.identity.api_keys(&auth.workspace_id).await?;
    Ok(Envelope::new(keys.into_iter().map(ApiKeyOut::from).collect::<Vec<_>>()))
}

/// Creates an API key; the key is in this response only.
#[utoipa::path(post, path = "/api-keys", tag = "api keys", request_body = ApiKeyIn, security(("bearer" = [])), responses(
    (status = 201, body = Envelope<NewApiKeyOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_api_key(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ApiKeyIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageApiKeys)?;
    let (id, key, _) = state.identity.create_api_key(&auth, auth.user()?, &body.name, body.role).await?;
    let keys = state.identity.api_keys(&auth.workspace_id).await?;
    let created = keys.into_iter().find(|k| k.id == id).ok_or_else(|| ApiError::not_found("API key"))?;
    Ok((StatusCode::CREATED, Envelope::new(NewApiKeyOut { api_key: created.into(), key })))
}

/// Revokes an API key at once.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api keys", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DoneOut>), (status = 404, body = ErrorBody)))]
async fn revoke_api_key(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageApiKeys)?;
    let key = path_id("API key", &id, ApiKeyId::parse)?;
    state.identity.revoke_api_key(&auth, &key).await?;
    Ok(Envelope::new(DoneOut { done: true }))
}
