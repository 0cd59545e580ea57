//! The identity pages of the dashboard: sign-up, sign-in and out, password reset, email
//! confirmation, invitations, the workspace switcher and new workspaces, and the profile (with
//! two-factor sign-in), team and API-key settings. Server-rendered forms that work without JavaScript; every POST goes through
//! [`CsrfForm`]. Invalid input re-renders the form (422) with a message next to each field and
//! the entered values kept, passwords excepted; a done action redirects (303) to a page that
//! says so.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tidings_core::time::now_millis;
use tidings_core::{ApiKeyId, InviteId, UserId, WorkspaceId};

use super::cookies::{REFRESH_COOKIE, cookie};
use super::password::check_new_password;
use super::routes::RequestOrigin;
use super::service::{IdentityError, IssuedTokens, SignIn, TwoFactorEnrolment, normalize_email, require_name};
use super::session::{DashboardUser, cleared_cookies, query_escape, session_cookies};
use super::tokens::hash_token;
use super::{Permission, Role, store};
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{self, FormErrors, PageError};

/// The identity pages.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/sign-up", get(sign_up_page).post(sign_up))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-in/two-factor", post(sign_in_two_factor))
        .route("/sign-out", post(sign_out))
        .route("/forgot-password", get(forgot_password_page).post(forgot_password))
        .route("/reset-password", get(reset_password_page).post(reset_password))
        .route("/verify-email", get(verify_email_page))
        .route("/invite", get(invite_page).post(accept_invite))
        // The address the invitation email links to.
        .route("/invitations/accept", get(invite_page).post(accept_invite))
        .route("/workspaces/switch", post(switch_workspace))
        .route("/workspaces/new", get(new_workspace_page).post(create_workspace))
        .route("/settings/profile", get(profile_page).post(update_profile))
        .route("/settings/profile/password", post(change_password))
        .route("/settings/profile/verify-email", post(resend_verification))
        .route("/settings/profile/two-factor/setup", post(setup_two_factor))
        .route("/settings/profile/two-factor/enable", post(enable_two_factor))
        .route("/settings/profile/two-factor/disable", post(disable_two_factor))
        .route("/settings/team", get(team_page))
        .route("/settings/team/invite", post(invite))
        .route("/settings/team/invites/{id}/revoke", post(revoke_invite))
        .route("/settings/team/members/{user_id}/role", post(change_role))
        .route("/settings/team/members/{user_id}/remove", post(remove_member))
        .route("/settings/api-keys", get(api_keys_page).post(create_api_key))
        .route("/settings/api-keys/{id}/revoke", post(revoke_api_key))
}

/// Where to go after signing in: a path on this site, never another site (`//evil`, `/\evil`).
fn safe_next(next: Option<&str>) -> String {
    match next.map(str::trim) {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(char::is_control)
                && !path.starts_with("/sign-") =>
        {
            path.to_owned()
        }
        _ => "/inbox".to_owned(),
    }
}

/// A redirect that also sets (or clears) the session cookies.
fn redirect_with_cookies(cookies: [axum::http::HeaderValue; 2], to: &str) -> Response {
    (AppendHeaders(cookies.map(|value| (header::SET_COOKIE, value))), Redirect::to(to)).into_response()
}

fn signed_in(state: &AppState, headers: &HeaderMap, tokens: &IssuedTokens, to: &str) -> Response {
    redirect_with_cookies(session_cookies(state, headers, tokens), to)
}

/// The form field a service error names, and a sentence about it.
fn field_error(field: &str, message: &str) -> (&'static str, String) {
    let (name, label) = match field {
        "email" => ("email", "Email"),
        "name" => ("name", "Name"),
        "workspaceName" => ("workspace_name", "Workspace name"),
        "password" => ("password", "Password"),
        "currentPassword" => ("current_password", "This"),
        "newPassword" => ("new_password", "New password"),
        "code" => ("code", "Code"),
        _ => ("form", "This"),
    };
    (name, format!("{label} {message}."))
}

/// The messages a refused identity operation shows on its form; failures that are not the
/// visitor's to fix become an error page.
fn form_errors(error: IdentityError) -> Result<FormErrors, PageError> {
    let mut errors = FormErrors::new();
    match error {
        IdentityError::Validation { field, message } => {
            let (name, message) = field_error(field, &message);
            if name == "form" {
                errors.form = Some(message);
            } else {
                errors.add(name, message);
            }
        }
        IdentityError::EmailTaken => {
            errors.add(
                "email",
                "An account with this email address already exists. Sign in instead, or use another address.",
            );
        }
        IdentityError::InvalidCredentials => errors.form = Some("Email or password is incorrect.".to_owned()),
        IdentityError::InvalidLink => {
            errors.form = Some("This link is invalid, has expired or was already used.".to_owned());
        }
        IdentityError::Forbidden(why) => errors.form = Some(sentence(why)),
        IdentityError::LastOwner => {
            errors.form =
                Some("A workspace must keep at least one owner: make someone else an owner first.".to_owned());
        }
        IdentityError::AlreadyMember(email) => {
            errors.add("email", format!("{email} is already a member of this workspace."))
        }
        IdentityError::NotFound(what) => errors.form = Some(sentence(&format!("{what} not found"))),
        IdentityError::TwoFactorAlreadyEnabled => errors.form = Some("Two-factor sign-in is already on.".to_owned()),
        IdentityError::TwoFactorNotSetUp => {
            errors.form =
                Some("This setup is no longer pending: start again with “Set up two-factor sign-in”.".to_owned());
        }
        IdentityError::TwoFactorNotEnabled => errors.form = Some("Two-factor sign-in is already off.".to_owned()),
        IdentityError::AlreadyVerified => errors.form = Some("Your address is already confirmed.".to_owned()),
        other => return Err(other.into()),
    }
    Ok(errors)
}

/// Capitalized, with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

fn when(at: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

const INVALID: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// The status of a form refused by `error`: 409 when the account changed under the form (another
/// tab turned two-factor sign-in on, the address got confirmed), 422 for input to correct.
fn refused_status(error: &IdentityError) -> StatusCode {
    match error {
        IdentityError::TwoFactorAlreadyEnabled
        | IdentityError::TwoFactorNotSetUp
        | IdentityError::TwoFactorNotEnabled
        | IdentityError::AlreadyVerified => StatusCode::CONFLICT,
        _ => INVALID,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NextQuery {
    next: Option<String>,
    done: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TokenQuery {
    token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoneQuery {
    done: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Sign-up

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignUpForm {
    name: String,
    email: String,
    password: String,
    workspace_name: String,
    next: String,
}

#[derive(Template)]
#[template(path = "identity/sign_up.html")]
struct SignUpBody<'a> {
    csrf: &'a str,
    form: &'a SignUpForm,
    errors: &'a FormErrors,
}

fn sign_up_form(csrf: Csrf, form: &SignUpForm, errors: &FormErrors, status: StatusCode) -> Result<Response, PageError> {
    let html =
        page::render("/sign-up", "Create your account", None, None, &SignUpBody { csrf: csrf.token(), form, errors })?;
    Ok((status, csrf, html).into_response())
}

async fn sign_up_page(
    user: Option<DashboardUser>,
    csrf: Csrf,
    Query(query): Query<NextQuery>,
) -> Result<Response, PageError> {
    if user.is_some() {
        return Ok(Redirect::to(&safe_next(query.next.as_deref())).into_response());
    }
    let form = SignUpForm { next: query.next.unwrap_or_default(), ..SignUpForm::default() };
    sign_up_form(csrf, &form, &FormErrors::new(), StatusCode::OK)
}

async fn sign_up(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
    CsrfForm { form, csrf }: CsrfForm<SignUpForm>,
) -> Result<Response, PageError> {
    // Check every field first, so all problems show at once.
    let mut errors = FormErrors::new();
    let checks = [
        normalize_email(&form.email).err(),
        require_name("name", &form.name).err(),
        require_name("workspaceName", &form.workspace_name).err(),
        check_new_password(&form.password)
            .err()
            .map(|message| IdentityError::Validation { field: "password", message }),
    ];
    for error in checks.into_iter().flatten() {
        if let IdentityError::Validation { field, message } = error {
            let (name, message) = field_error(field, &message);
            errors.add(name, message);
        }
    }
    if !errors.is_empty() {
        return sign_up_form(csrf, &form, &errors, INVALID);
    }
    match state.identity.register(&form.email, &form.password, &form.name, &form.workspace_name, &origin).await {
        Ok(registered) => Ok(signed_in(&state, &headers, &registered.tokens, &safe_next(Some(&form.next)))),
        Err(error) => sign_up_form(csrf, &form, &form_errors(error)?, INVALID),
    }
}

// ---------------------------------------------------------------------------------------------
// Sign-in and sign-out

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignInForm {
    email: String,
    password: String,
    next: String,
}

#[derive(Template)]
#[template(path = "identity/sign_in.html")]
struct SignInBody<'a> {
    csrf: &'a str,
    email: &'a str,
    next: &'a str,
    notice: Option<&'static str>,
    errors: &'a FormErrors,
}

fn sign_in_notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "signed-out" => Some("You are signed out."),
        "reset" => Some("Your password was changed. Sign in with the new one."),
        "left" => Some("You left the workspace."),
        _ => None,
    }
}

fn sign_in_form(
    csrf: Csrf,
    email: &str,
    next: &str,
    notice: Option<&'static str>,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let body = SignInBody { csrf: csrf.token(), email, next, notice, errors };
    let html = page::render("/sign-in", "Sign in", None, None, &body)?;
    Ok((status, csrf, html).into_response())
}

async fn sign_in_page(
    user: Option<DashboardUser>,
    csrf: Csrf,
    Query(query): Query<NextQuery>,
) -> Result<Response, PageError> {
    if user.is_some() {
        return Ok(Redirect::to(&safe_next(query.next.as_deref())).into_response());
    }
    let next = query.next.unwrap_or_default();
    sign_in_form(csrf, "", &next, sign_in_notice(query.done.as_deref()), &FormErrors::new(), StatusCode::OK)
}

async fn sign_in(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
    CsrfForm { form, csrf }: CsrfForm<SignInForm>,
) -> Result<Response, PageError> {
    let mut errors = FormErrors::new();
    // Lockouts are per account: an address that cannot be one is refused before it is counted.
    let email = normalize_email(&form.email);
    if email.is_err() {
        let empty = form.email.trim().is_empty();
        errors.add("email", if empty { "Enter your email address." } else { "Enter a valid email address." });
    }
    if form.password.is_empty() {
        errors.add("password", "Enter your password.");
    }
    let (Ok(email), true) = (email, errors.is_empty()) else {
        return sign_in_form(csrf, &form.email, &form.next, None, &errors, INVALID);
    };
    if let Err(limited) = state.limits.check_sign_in(origin.ip.as_deref(), &email) {
        let status = limited.status;
        let errors = FormErrors::form(sentence(&limited.message));
        return sign_in_form(csrf, &form.email, &form.next, None, &errors, status);
    }
    match state.identity.login(&email, &form.password, None, &origin).await {
        Ok(SignIn::Tokens(tokens)) => {
            state.limits.record_success(&email);
            Ok(signed_in(&state, &headers, &tokens, &safe_next(Some(&form.next))))
        }
        Ok(SignIn::TwoFactorRequired(challenge)) => {
            // The lockout is cleared only once the second factor checks out too.
            two_factor_form(csrf, &challenge.challenge_token, &form.next, &FormErrors::new(), StatusCode::OK)
        }
        Err(error) => {
            if matches!(error, IdentityError::InvalidCredentials) {
                state.limits.record_failure(&email);
            }
            let errors = match error {
                IdentityError::NotFound("workspace") => {
                    FormErrors::form("This account is no longer a member of any workspace.")
                }
                error => form_errors(error)?,
            };
            sign_in_form(csrf, &form.email, &form.next, None, &errors, INVALID)
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TwoFactorForm {
    challenge: String,
    code: String,
    next: String,
}

#[derive(Template)]
#[template(path = "identity/two_factor.html")]
struct TwoFactorBody<'a> {
    csrf: &'a str,
    challenge: &'a str,
    next: &'a str,
    errors: &'a FormErrors,
}

fn two_factor_form(
    csrf: Csrf,
    challenge: &str,
    next: &str,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let body = TwoFactorBody { csrf: csrf.token(), challenge, next, errors };
    let html = page::render("/sign-in", "Two-factor sign-in", None, None, &body)?;
    Ok((status, [(header::CACHE_CONTROL, "no-store")], csrf, html).into_response())
}

/// The second step of a sign-in for members with two-factor sign-in: the authenticator's code
/// (or a recovery code) for the challenge the password step opened.
async fn sign_in_two_factor(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
    CsrfForm { form, csrf }: CsrfForm<TwoFactorForm>,
) -> Result<Response, PageError> {
    if form.code.trim().is_empty() {
        let mut errors = FormErrors::new();
        errors.add("code", "Enter the code from your authenticator app, or a recovery code.");
        return two_factor_form(csrf, &form.challenge, &form.next, &errors, INVALID);
    }
    if let Err(limited) = state.limits.check_ip(origin.ip.as_deref()) {
        let status = limited.status;
        return two_factor_form(
            csrf,
            &form.challenge,
            &form.next,
            &FormErrors::form(sentence(&limited.message)),
            status,
        );
    }
    match state.identity.login_two_factor(&form.challenge, form.code.trim(), &origin).await {
        Ok(tokens) => Ok(signed_in(&state, &headers, &tokens, &safe_next(Some(&form.next)))),
        Err(IdentityError::InvalidTwoFactorCode) => {
            let mut errors = FormErrors::new();
            errors.add("code", "This code is wrong, expired or was already used.");
            two_factor_form(csrf, &form.challenge, &form.next, &errors, INVALID)
        }
        Err(IdentityError::InvalidChallenge) => {
            let errors = FormErrors::form("This sign-in expired or had too many wrong codes. Sign in again.");
            sign_in_form(csrf, "", &form.next, None, &errors, INVALID)
        }
        Err(error) => Err(error.into()),
    }
}

/// A form with nothing but its CSRF token (a button).
#[derive(Deserialize, Default)]
struct NoFields {}

/// Ends the session (both the refresh cookie's and the access cookie's) and clears the cookies.
async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Option<DashboardUser>,
    CsrfForm { .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    if let Some(refresh) = cookie(&headers, REFRESH_COOKIE).filter(|v| !v.is_empty()) {
        state.identity.logout(&refresh).await?;
    }
    if let Some(user) = user {
        state.identity.end_session(&user.session_id).await?;
    }
    Ok(redirect_with_cookies(cleared_cookies(&state, &headers), "/sign-in?done=signed-out"))
}

// ---------------------------------------------------------------------------------------------
// Forgotten password, reset, email confirmation

#[derive(Deserialize, Default)]
#[serde(default)]
struct EmailForm {
    email: String,
}

#[derive(Template)]
#[template(path = "identity/forgot_password.html")]
struct ForgotBody<'a> {
    csrf: &'a str,
    email: &'a str,
    sent: bool,
    errors: &'a FormErrors,
}

fn forgot_form(
    csrf: Csrf,
    email: &str,
    sent: bool,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let body = ForgotBody { csrf: csrf.token(), email, sent, errors };
    let html = page::render("/forgot-password", "Forgotten password", None, None, &body)?;
    Ok((status, csrf, html).into_response())
}

async fn forgot_password_page(csrf: Csrf) -> Result<Response, PageError> {
    forgot_form(csrf, "", false, &FormErrors::new(), StatusCode::OK)
}

async fn forgot_password(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    CsrfForm { form, csrf }: CsrfForm<EmailForm>,
) -> Result<Response, PageError> {
    let email = match normalize_email(&form.email) {
        Ok(email) => email,
        Err(error) => return forgot_form(csrf, &form.email, false, &form_errors(error)?, INVALID),
    };
    if let Err(limited) = state.limits.check_sign_in(origin.ip.as_deref(), &email) {
        let status = limited.status;
        return forgot_form(csrf, form.email.trim(), false, &FormErrors::form(sentence(&limited.message)), status);
    }
    // The same answer whether or not the address has an account.
    state.identity.forgot_password(&email).await?;
    forgot_form(csrf, form.email.trim(), true, &FormErrors::new(), StatusCode::OK)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResetForm {
    token: String,
    password: String,
}

#[derive(Template)]
#[template(path = "identity/reset_password.html")]
struct ResetBody<'a> {
    csrf: &'a str,
    token: &'a str,
    invalid: bool,
    errors: &'a FormErrors,
}

fn reset_form(
    csrf: Csrf,
    token: &str,
    invalid: bool,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let body = ResetBody { csrf: csrf.token(), token, invalid, errors };
    let html = page::render("/reset-password", "Choose a new password", None, None, &body)?;
    Ok((status, csrf, html).into_response())
}

async fn reset_password_page(csrf: Csrf, Query(query): Query<TokenQuery>) -> Result<Response, PageError> {
    match query.token.filter(|t| !t.is_empty()) {
        Some(token) => reset_form(csrf, &token, false, &FormErrors::new(), StatusCode::OK),
        None => reset_form(csrf, "", true, &FormErrors::new(), StatusCode::BAD_REQUEST),
    }
}

async fn reset_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm { form, csrf }: CsrfForm<ResetForm>,
) -> Result<Response, PageError> {
    match state.identity.reset_password(&form.token, &form.password).await {
        // Every session was signed out, this browser's too.
        Ok(()) => Ok(redirect_with_cookies(cleared_cookies(&state, &headers), "/sign-in?done=reset")),
        Err(IdentityError::InvalidLink) => reset_form(csrf, "", true, &FormErrors::new(), StatusCode::BAD_REQUEST),
        Err(error) => reset_form(csrf, &form.token, false, &form_errors(error)?, INVALID),
    }
}

#[derive(Template)]
#[template(path = "identity/verify_email.html")]
struct VerifyBody {
    verified: bool,
    signed_in: bool,
}

async fn verify_email_page(
    State(state): State<AppState>,
    user: Option<DashboardUser>,
    csrf: Csrf,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let verified = match query.token.filter(|t| !t.is_empty()) {
        Some(token) => match state.identity.verify_email(&token).await {
            Ok(_) => true,
            Err(IdentityError::InvalidLink) => false,
            Err(error) => return Err(error.into()),
        },
        None => false,
    };
    let body = VerifyBody { verified, signed_in: user.is_some() };
    let status = if verified { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let title = if verified { "Email address confirmed" } else { "Link invalid or expired" };
    let html = match &user {
        Some(user) => user.page(&state, &csrf, "/verify-email", title, &body).await?,
        None => page::render("/verify-email", title, None, None, &body)?,
    };
    Ok((status, csrf, html).into_response())
}

// ---------------------------------------------------------------------------------------------
// Invitations

/// A live invitation, as the invited person sees it.
struct Invitation {
    workspace: String,
    email: String,
    role: String,
    has_account: bool,
}

async fn invitation(state: &AppState, token: &str) -> Result<Option<Invitation>, PageError> {
    let db = state.identity.db();
    let mut tx = db.begin().await?;
    let row = store::invite_by_token(&mut tx, &hash_token(token)).await?;
    drop(tx);
    let Some(row) = row.filter(|r| r.accepted_at.is_none() && r.revoked_at.is_none() && r.expires_at > now_millis())
    else {
        return Ok(None);
    };
    let Ok(workspace_id) = WorkspaceId::parse(&row.workspace_id) else { return Ok(None) };
    let Some(workspace) = store::workspace(db, &workspace_id).await? else { return Ok(None) };
    let has_account = store::user_by_email(db, &row.email).await?.is_some();
    Ok(Some(Invitation { workspace: workspace.name, email: row.email, role: row.role, has_account }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AcceptForm {
    token: String,
    name: String,
    password: String,
}

#[derive(Template)]
#[template(path = "identity/invite.html")]
struct InviteBody<'a> {
    csrf: &'a str,
    token: &'a str,
    invitation: Option<&'a Invitation>,
    /// `join` (signed in as the invited address), `other-account`, `sign-in` (the address has an
    /// account) or `create`.
    mode: &'static str,
    signed_in_as: &'a str,
    sign_in_link: String,
    name: &'a str,
    errors: &'a FormErrors,
}

async fn render_invite(
    state: &AppState,
    user: Option<&DashboardUser>,
    csrf: Csrf,
    token: &str,
    name: &str,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let invitation = if token.is_empty() { None } else { invitation(state, token).await? };
    let signed_in_as = match user {
        Some(user) => store::user_by_id(state.identity.db(), &user.user_id).await?.map(|u| u.email).unwrap_or_default(),
        None => String::new(),
    };
    let mode = match &invitation {
        Some(invite) if user.is_some() && signed_in_as == invite.email => "join",
        Some(_) if user.is_some() => "other-account",
        Some(invite) if invite.has_account => "sign-in",
        _ => "create",
    };
    let status = if invitation.is_none() { StatusCode::BAD_REQUEST } else { status };
    let body = InviteBody {
        csrf: csrf.token(),
        token,
        invitation: invitation.as_ref(),
        mode,
        signed_in_as: &signed_in_as,
        sign_in_link: format!("/sign-in?next={}", query_escape(&format!("/invite?token={token}"))),
        name,
        errors,
    };
    let title = match &invitation {
        Some(invite) => format!("Join {}", invite.workspace),
        None => "Invitation invalid or expired".to_owned(),
    };
    let html = match user {
        Some(user) => user.page(state, &csrf, "/invite", &title, &body).await?,
        None => page::render("/invite", &title, None, None, &body)?,
    };
    Ok((status, csrf, html).into_response())
}

async fn invite_page(
    State(state): State<AppState>,
    user: Option<DashboardUser>,
    csrf: Csrf,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let token = query.token.unwrap_or_default();
    render_invite(&state, user.as_ref(), csrf, &token, "", &FormErrors::new(), StatusCode::OK).await
}

async fn accept_invite(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
    user: Option<DashboardUser>,
    CsrfForm { form, csrf }: CsrfForm<AcceptForm>,
) -> Result<Response, PageError> {
    let creating = !form.name.is_empty() || !form.password.is_empty();
    if creating {
        let mut errors = FormErrors::new();
        if let Err(IdentityError::Validation { field, message }) = require_name("name", &form.name) {
            let (name, message) = field_error(field, &message);
            errors.add(name, message);
        }
        if let Err(message) = check_new_password(&form.password) {
            let (name, message) = field_error("password", &message);
            errors.add(name, message);
        }
        if !errors.is_empty() {
            return render_invite(&state, user.as_ref(), csrf, &form.token, &form.name, &errors, INVALID).await;
        }
    }
    let new_account = creating.then_some((form.name.as_str(), form.password.as_str()));
    let signed_in_as = user.as_ref().map(|u| &u.user_id);
    match state.identity.accept_invite(&form.token, signed_in_as, new_account, &origin).await {
        Ok(tokens) => {
            // This browser now holds the new session; the one it replaces ends.
            if let Some(user) = &user {
                state.identity.end_session(&user.session_id).await?;
            }
            Ok(signed_in(&state, &headers, &tokens, "/inbox"))
        }
        Err(error) => {
            let errors = form_errors(error)?;
            render_invite(&state, user.as_ref(), csrf, &form.token, &form.name, &errors, INVALID).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Workspace switcher

#[derive(Deserialize, Default)]
#[serde(default)]
struct SwitchForm {
    workspace_id: String,
    next: String,
}

async fn switch_workspace(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: DashboardUser,
    CsrfForm { form, .. }: CsrfForm<SwitchForm>,
) -> Result<Response, PageError> {
    let workspace = WorkspaceId::parse(&form.workspace_id).map_err(|_| PageError::not_found("No such workspace."))?;
    if workspace == user.auth.workspace_id {
        return Ok(Redirect::to(&safe_next(Some(&form.next))).into_response());
    }
    let tokens = state.identity.switch_workspace(&user.user_id, &workspace, &user.auth.origin).await?;
    state.identity.end_session(&user.session_id).await?;
    Ok(signed_in(&state, &headers, &tokens, &safe_next(Some(&form.next))))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WorkspaceForm {
    name: String,
}

#[derive(Template)]
#[template(path = "identity/new_workspace.html")]
struct NewWorkspaceBody<'a> {
    csrf: &'a str,
    name: &'a str,
    errors: &'a FormErrors,
}

async fn render_new_workspace(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    name: &str,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let body = NewWorkspaceBody { csrf: csrf.token(), name, errors };
    let html = user.page(state, &csrf, "/workspaces/new", "New workspace", &body).await?;
    Ok((status, csrf, html).into_response())
}

/// The form for another workspace, reached from the header and the profile page. Like the API,
/// it waits until a member who owes their workspace a second factor has turned it on.
async fn new_workspace_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
) -> Result<Response, PageError> {
    user.require_second_factor()?;
    render_new_workspace(&state, &user, csrf, "", &FormErrors::new(), StatusCode::OK).await
}

/// Creates a workspace the member owns and carries on there, as switching to it would.
async fn create_workspace(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<WorkspaceForm>,
) -> Result<Response, PageError> {
    user.require_second_factor()?;
    match state.identity.create_another_workspace(&user.user_id, &form.name, &user.auth.origin).await {
        Ok(tokens) => {
            state.identity.end_session(&user.session_id).await?;
            Ok(signed_in(&state, &headers, &tokens, "/inbox"))
        }
        Err(error) => {
            let errors = form_errors(error)?;
            render_new_workspace(&state, &user, csrf, &form.name, &errors, INVALID).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Profile

#[derive(Deserialize, Default)]
#[serde(default)]
struct NameForm {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordForm {
    current_password: String,
    new_password: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeForm {
    code: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DisableTwoFactorForm {
    password: String,
    code: String,
}

/// Where setting up two-factor sign-in stands, beyond what is stored.
#[derive(Default)]
enum TwoFactorStep {
    /// Nothing in progress: the page shows it on or off.
    #[default]
    Settled,
    /// Set up just now: the secret for the authenticator app, and the form for its first code.
    Enrolling(TwoFactorEnrolment),
    /// Turned on just now: the recovery codes, shown this once.
    Enabled(Vec<String>),
}

/// What the profile page shows besides the stored account.
#[derive(Default)]
struct ProfileView<'a> {
    /// The name as entered, when its form comes back with an error.
    name: Option<&'a str>,
    notice: Option<&'static str>,
    two_factor: TwoFactorStep,
}

impl ProfileView<'_> {
    fn notice(notice: &'static str) -> Self {
        Self { notice: Some(notice), ..Self::default() }
    }
}

#[derive(Template)]
#[template(path = "identity/profile.html")]
struct ProfileBody<'a> {
    csrf: &'a str,
    email: &'a str,
    verified: bool,
    name: &'a str,
    notice: Option<&'static str>,
    errors: &'a FormErrors,
    /// The workspace requires two-factor sign-in and the member has not turned it on yet.
    owes_two_factor: bool,
    two_factor_on: bool,
    enrolment: Option<TwoFactorEnrolment>,
    recovery_codes: Vec<String>,
}

async fn render_profile(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    view: ProfileView<'_>,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let row = store::user_by_id(state.identity.db(), &user.user_id)
        .await?
        .ok_or_else(|| PageError::not_found("No account."))?;
    // Read after the change this request made, so a member who just turned it on owes nothing.
    let two_factor_on = row.totp_enabled_at.is_some();
    let (enrolment, recovery_codes) = match view.two_factor {
        TwoFactorStep::Settled => (None, Vec::new()),
        TwoFactorStep::Enrolling(enrolment) => (Some(enrolment), Vec::new()),
        TwoFactorStep::Enabled(codes) => (None, codes),
    };
    let body = ProfileBody {
        csrf: csrf.token(),
        email: &row.email,
        verified: row.email_verified_at.is_some(),
        name: view.name.unwrap_or(&row.name),
        notice: view.notice,
        errors,
        owes_two_factor: user.auth.owes_two_factor && !two_factor_on,
        two_factor_on,
        enrolment,
        recovery_codes,
    };
    let html = user.page(state, &csrf, "/settings/profile", "Profile", &body).await?;
    // The page may show a TOTP secret or recovery codes: never cached.
    Ok((status, [(header::CACHE_CONTROL, "no-store")], csrf, html).into_response())
}

async fn profile_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    Query(query): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let notice = match query.done.as_deref() {
        Some("name") => Some("Your name was saved."),
        Some("password") => Some("Your password was changed. Your other sessions were signed out."),
        Some("verification-sent") => {
            Some("The confirmation email is on its way again. Follow the link in it to confirm your address.")
        }
        Some("already-verified") => Some("Your address is already confirmed."),
        Some("two-factor-off") => Some("Two-factor sign-in is off. Signing in asks for your password only."),
        _ => None,
    };
    let view = ProfileView { notice, ..ProfileView::default() };
    render_profile(&state, &user, csrf, view, &FormErrors::new(), StatusCode::OK).await
}

async fn update_profile(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<NameForm>,
) -> Result<Response, PageError> {
    match require_name("name", &form.name) {
        Ok(name) => {
            store::set_name(state.identity.db(), &user.user_id, &name).await?;
            Ok(Redirect::to("/settings/profile?done=name").into_response())
        }
        Err(error) => {
            let errors = form_errors(error)?;
            let view = ProfileView { name: Some(&form.name), ..ProfileView::default() };
            render_profile(&state, &user, csrf, view, &errors, INVALID).await
        }
    }
}

async fn change_password(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<PasswordForm>,
) -> Result<Response, PageError> {
    let changed = state
        .identity
        .change_password(&user.user_id, &form.current_password, &form.new_password, &user.session_id)
        .await;
    match changed {
        Ok(()) => Ok(Redirect::to("/settings/profile?done=password").into_response()),
        Err(error) => {
            let errors = form_errors(error)?;
            render_profile(&state, &user, csrf, ProfileView::default(), &errors, INVALID).await
        }
    }
}

/// Sends the confirmation email again, counted like a sign-in attempt from this address.
async fn resend_verification(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    let row = store::user_by_id(state.identity.db(), &user.user_id)
        .await?
        .ok_or_else(|| PageError::not_found("No account."))?;
    if let Err(limited) = state.limits.check_sign_in(user.auth.origin.ip.as_deref(), &row.email) {
        let errors = FormErrors::form("Too many attempts for now. Wait a minute, then ask for the email again.");
        return render_profile(&state, &user, csrf, ProfileView::default(), &errors, limited.status).await;
    }
    match state.identity.resend_verification(&user.user_id).await {
        Ok(()) => Ok(Redirect::to("/settings/profile?done=verification-sent").into_response()),
        Err(IdentityError::AlreadyVerified) => {
            Ok(Redirect::to("/settings/profile?done=already-verified").into_response())
        }
        Err(error) => Err(error.into()),
    }
}

/// The profile page again after a refused two-factor step, with the setup still pending shown
/// again when there is one (so a mistyped first code can be retried).
async fn two_factor_refused(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    error: IdentityError,
) -> Result<Response, PageError> {
    let status = refused_status(&error);
    let errors = form_errors(error)?;
    let two_factor = match state.identity.pending_two_factor(&user.user_id).await? {
        Some(enrolment) => TwoFactorStep::Enrolling(enrolment),
        None => TwoFactorStep::Settled,
    };
    render_profile(state, user, csrf, ProfileView { two_factor, ..ProfileView::default() }, &errors, status).await
}

/// Starts setting up two-factor sign-in: a new secret, shown on the page that answers. Open to
/// members who owe their workspace a second factor: this is where they pay it.
async fn setup_two_factor(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    match state.identity.setup_two_factor(&user.user_id).await {
        Ok(enrolment) => {
            let view = ProfileView { two_factor: TwoFactorStep::Enrolling(enrolment), ..ProfileView::default() };
            render_profile(&state, &user, csrf, view, &FormErrors::new(), StatusCode::OK).await
        }
        Err(error) => two_factor_refused(&state, &user, csrf, error).await,
    }
}

/// Turns two-factor sign-in on with the app's first code, and shows the recovery codes once.
async fn enable_two_factor(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let auth = &user.auth;
    let enabled =
        state.identity.enable_two_factor(&auth.workspace_id, &user.user_id, auth.role, form.code.trim(), &auth.origin);
    match enabled.await {
        Ok(codes) => {
            let view = ProfileView {
                two_factor: TwoFactorStep::Enabled(codes),
                ..ProfileView::notice("Two-factor sign-in is on.")
            };
            render_profile(&state, &user, csrf, view, &FormErrors::new(), StatusCode::OK).await
        }
        Err(error) => two_factor_refused(&state, &user, csrf, error).await,
    }
}

/// Turns two-factor sign-in off with the password and a code or a recovery code.
async fn disable_two_factor(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<DisableTwoFactorForm>,
) -> Result<Response, PageError> {
    let mut errors = FormErrors::new();
    if form.password.is_empty() {
        errors.add("password", "Enter your password.");
    }
    if form.code.trim().is_empty() {
        errors.add("code", "Enter the code your authenticator app shows, or a recovery code.");
    }
    if !errors.is_empty() {
        return render_profile(&state, &user, csrf, ProfileView::default(), &errors, INVALID).await;
    }
    let auth = &user.auth;
    let disabled = state.identity.disable_two_factor(
        &auth.workspace_id,
        &user.user_id,
        auth.role,
        &form.password,
        form.code.trim(),
        &auth.origin,
    );
    match disabled.await {
        Ok(()) => Ok(Redirect::to("/settings/profile?done=two-factor-off").into_response()),
        Err(error) => two_factor_refused(&state, &user, csrf, error).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Team

/// One `<option>` of a role select.
struct RoleOption {
    value: &'static str,
    selected: bool,
}

fn role_options(assignable: &[Role], selected: &str) -> Vec<RoleOption> {
    assignable.iter().map(|role| RoleOption { value: role.as_str(), selected: role.as_str() == selected }).collect()
}

/// The roles `actor` may give: owners give any; others any but owner.
fn assignable_roles(actor: Role) -> Vec<Role> {
    Role::ALL.into_iter().filter(|role| actor == Role::Owner || *role != Role::Owner).collect()
}

struct MemberView {
    user_id: String,
    name: String,
    email: String,
    role: String,
    joined: String,
    is_me: bool,
    /// The actor may change this member's role and remove them.
    manageable: bool,
    roles: Vec<RoleOption>,
}

struct InviteView {
    id: String,
    email: String,
    role: String,
    expires: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InviteForm {
    email: String,
    role: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RoleForm {
    role: String,
}

#[derive(Template)]
#[template(path = "identity/team.html")]
struct TeamBody<'a> {
    csrf: &'a str,
    workspace: &'a str,
    members: Vec<MemberView>,
    invites: Vec<InviteView>,
    can_manage: bool,
    invite_email: &'a str,
    invite_roles: Vec<RoleOption>,
    notice: Option<&'static str>,
    errors: &'a FormErrors,
}

async fn render_team(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    form: &InviteForm,
    notice: Option<&'static str>,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let db = state.identity.db();
    let auth = &user.auth;
    let can_manage = auth.role.can(Permission::ManageTeam);
    let assignable = assignable_roles(auth.role);
    let members = store::members(db, &auth.workspace_id)
        .await?
        .into_iter()
        .map(|m| {
            let manageable = can_manage && (auth.role == Role::Owner || m.role != Role::Owner.as_str());
            MemberView {
                is_me: m.user_id == user.user_id.as_str(),
                roles: role_options(&assignable, &m.role),
                joined: when(m.joined_at),
                user_id: m.user_id,
                name: m.name,
                email: m.email,
                role: m.role,
                manageable,
            }
        })
        .collect();
    let invites = if can_manage {
        store::pending_invites(db, &auth.workspace_id)
            .await?
            .into_iter()
            .map(|i| InviteView { id: i.id, email: i.email, role: i.role, expires: when(i.expires_at) })
            .collect()
    } else {
        Vec::new()
    };
    let workspace = store::workspace(db, &auth.workspace_id).await?.map(|w| w.name).unwrap_or_default();
    let invite_role = if form.role.is_empty() { Role::Agent.as_str() } else { form.role.as_str() };
    let body = TeamBody {
        csrf: csrf.token(),
        workspace: &workspace,
        members,
        invites,
        can_manage,
        invite_email: &form.email,
        invite_roles: role_options(&assignable, invite_role),
        notice,
        errors,
    };
    let html = user.page(state, &csrf, "/settings/team", "Team", &body).await?;
    Ok((status, csrf, html).into_response())
}

async fn team_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    Query(query): Query<DoneQuery>,
) -> Result<Response, PageError> {
    user.require(Permission::ViewDashboard)?;
    let notice = match query.done.as_deref() {
        Some("invited") => Some("Invitation sent."),
        Some("revoked") => Some("Invitation withdrawn."),
        Some("role") => Some("Role changed."),
        Some("removed") => Some("Member removed."),
        _ => None,
    };
    render_team(&state, &user, csrf, &InviteForm::default(), notice, &FormErrors::new(), StatusCode::OK).await
}

async fn invite(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<InviteForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageTeam)?;
    let Some(role) = Role::parse(&form.role) else {
        let mut errors = FormErrors::new();
        errors.add("role", "Choose a role.");
        return render_team(&state, &user, csrf, &form, None, &errors, INVALID).await;
    };
    let auth = &user.auth;
    match state.identity.invite(&auth.workspace_id, &user.user_id, auth.role, &form.email, role, &auth.origin).await {
        Ok(_) => Ok(Redirect::to("/settings/team?done=invited").into_response()),
        Err(IdentityError::Forbidden(why)) => {
            let mut errors = FormErrors::new();
            errors.add("role", sentence(why));
            render_team(&state, &user, csrf, &form, None, &errors, StatusCode::FORBIDDEN).await
        }
        Err(error) => {
            let errors = form_errors(error)?;
            render_team(&state, &user, csrf, &form, None, &errors, INVALID).await
        }
    }
}

async fn revoke_invite(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageTeam)?;
    let invite = InviteId::parse(&id).map_err(|_| PageError::not_found("No such invitation."))?;
    if !store::revoke_invite(state.identity.db(), &user.auth.workspace_id, &invite).await? {
        return Err(PageError::not_found("No such pending invitation."));
    }
    Ok(Redirect::to("/settings/team?done=revoked").into_response())
}

async fn change_role(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(member): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<RoleForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageTeam)?;
    let member = UserId::parse(&member).map_err(|_| PageError::not_found("No such member."))?;
    let role = Role::parse(&form.role).ok_or_else(|| PageError::bad_request("Choose a role."))?;
    let auth = &user.auth;
    match state.identity.change_role(&auth.workspace_id, &auth.actor, auth.role, &member, role, &auth.origin).await {
        Ok(()) => Ok(Redirect::to("/settings/team?done=role").into_response()),
        Err(error) => {
            let status =
                if matches!(error, IdentityError::Forbidden(_)) { StatusCode::FORBIDDEN } else { StatusCode::CONFLICT };
            let errors = form_errors(error)?;
            render_team(&state, &user, csrf, &InviteForm::default(), None, &errors, status).await
        }
    }
}

async fn remove_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: DashboardUser,
    Path(member): Path<String>,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    let member = UserId::parse(&member).map_err(|_| PageError::not_found("No such member."))?;
    let leaving = member == user.user_id;
    if !leaving {
        user.require(Permission::ManageTeam)?;
    }
    let auth = &user.auth;
    if let Err(error) =
        state.identity.remove_member(&auth.workspace_id, &auth.actor, auth.role, &member, &auth.origin).await
    {
        let status =
            if matches!(error, IdentityError::Forbidden(_)) { StatusCode::FORBIDDEN } else { StatusCode::CONFLICT };
        let errors = form_errors(error)?;
        return render_team(&state, &user, csrf, &InviteForm::default(), None, &errors, status).await;
    }
    if !leaving {
        return Ok(Redirect::to("/settings/team?done=removed").into_response());
    }
    // Leaving ended this session; carry on in another workspace, or sign out.
    let remaining = store::workspaces_of(state.identity.db(), &user.user_id).await?;
    match remaining.first().and_then(|w| WorkspaceId::parse(&w.id).ok()) {
        Some(next) => {
            let tokens = state.identity.switch_workspace(&user.user_id, &next, &auth.origin).await?;
            Ok(signed_in(&state, &headers, &tokens, "/inbox"))
        }
        None => Ok(redirect_with_cookies(cleared_cookies(&state, &headers), "/sign-in?done=left")),
    }
}

// ---------------------------------------------------------------------------------------------
// API keys

struct KeyView {
    id: String,
    name: String,
    prefix: String,
    role: String,
    created: String,
    last_used: String,
    revoked: bool,
}

/// A key just created: shown once.
struct NewKey {
    name: String,
    key: String,
}

/// What the API-key page reports above the list.
enum KeysNotice {
    Nothing,
    Revoked,
    Created(NewKey),
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiKeyForm {
    name: String,
    role: String,
}

#[derive(Template)]
#[template(path = "identity/api_keys.html")]
struct ApiKeysBody<'a> {
    csrf: &'a str,
    keys: Vec<KeyView>,
    roles: Vec<RoleOption>,
    name: &'a str,
    new_key: Option<NewKey>,
    notice: Option<&'static str>,
    errors: &'a FormErrors,
}

async fn render_api_keys(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    form: &ApiKeyForm,
    notice: KeysNotice,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (new_key, notice) = match notice {
        KeysNotice::Nothing => (None, None),
        KeysNotice::Revoked => (None, Some("The key was revoked; it no longer works.")),
        KeysNotice::Created(key) => (Some(key), None),
    };
    let auth = &user.auth;
    let keys = store::api_keys(state.identity.db(), &auth.workspace_id)
        .await?
        .into_iter()
        .map(|k| KeyView {
            revoked: k.revoked_at.is_some(),
            last_used: k.last_used_at.map(when).unwrap_or_else(|| "never".to_owned()),
            created: when(k.created_at),
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            role: k.role,
        })
        .collect();
    // A key may not be stronger than its creator.
    let grantable: Vec<Role> = Role::ALL.into_iter().filter(|role| *role >= auth.role).collect();
    let selected = if form.role.is_empty() { Role::Viewer.as_str() } else { form.role.as_str() };
    let fresh = new_key.is_some();
    let body = ApiKeysBody {
        csrf: csrf.token(),
        keys,
        roles: role_options(&grantable, selected),
        name: if fresh { "" } else { &form.name },
        new_key,
        notice,
        errors,
    };
    let html = user.page(state, &csrf, "/settings/api-keys", "API keys", &body).await?;
    // A page showing a secret is never cached.
    Ok((status, [(header::CACHE_CONTROL, "no-store")], csrf, html).into_response())
}

async fn api_keys_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    Query(query): Query<DoneQuery>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageApiKeys)?;
    let notice = if query.done.as_deref() == Some("revoked") { KeysNotice::Revoked } else { KeysNotice::Nothing };
    render_api_keys(&state, &user, csrf, &ApiKeyForm::default(), notice, &FormErrors::new(), StatusCode::OK).await
}

async fn create_api_key(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<ApiKeyForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageApiKeys)?;
    let mut errors = FormErrors::new();
    let role = Role::parse(&form.role);
    if role.is_none() {
        errors.add("role", "Choose a role.");
    }
    if let Err(IdentityError::Validation { field, message }) = require_name("name", &form.name) {
        let (name, message) = field_error(field, &message);
        errors.add(name, message);
    }
    let Some(role) = role.filter(|_| errors.is_empty()) else {
        return render_api_keys(&state, &user, csrf, &form, KeysNotice::Nothing, &errors, INVALID).await;
    };
    let auth = &user.auth;
    match state
        .identity
        .create_api_key(&auth.workspace_id, &user.user_id, auth.role, &form.name, role, &auth.origin)
        .await
    {
        Ok((_, key, _)) => {
            let new_key = NewKey { name: form.name.trim().to_owned(), key };
            let created = KeysNotice::Created(new_key);
            render_api_keys(&state, &user, csrf, &form, created, &FormErrors::new(), StatusCode::CREATED).await
        }
        Err(IdentityError::Forbidden(why)) => {
            let mut errors = FormErrors::new();
            errors.add("role", sentence(why));
            render_api_keys(&state, &user, csrf, &form, KeysNotice::Nothing, &errors, INVALID).await
        }
        Err(error) => {
            let errors = form_errors(error)?;
            render_api_keys(&state, &user, csrf, &form, KeysNotice::Nothing, &errors, INVALID).await
        }
    }
}

async fn revoke_api_key(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageApiKeys)?;
    let key = ApiKeyId::parse(&id).map_err(|_| PageError::not_found("No such API key."))?;
    let auth = &user.auth;
    state.identity.revoke_api_key(&auth.workspace_id, &auth.actor, &key, &auth.origin).await?;
    Ok(Redirect::to("/settings/api-keys?done=revoked").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/settings/team")), "/settings/team");
        assert_eq!(safe_next(Some("/invite?token=x")), "/invite?token=x");
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example", "", "/sign-out", "/a\nb"] {
            assert_eq!(safe_next(Some(bad)), "/inbox", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/inbox");
    }

    #[test]
    fn service_errors_name_the_form_field() {
        let errors = form_errors(IdentityError::Validation { field: "workspaceName", message: "must be short".into() })
            .expect("a form error");
        assert_eq!(errors.get("workspace_name"), Some("Workspace name must be short."));
        let errors = form_errors(IdentityError::InvalidCredentials).expect("a form error");
        assert_eq!(errors.form.as_deref(), Some("Email or password is incorrect."));
    }
}
