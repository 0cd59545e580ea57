//! The identity pages of the dashboard: sign-up, sign-in and out, password reset, email
//! confirmation, invitations, the workspace switcher and new workspaces, and the profile (with
//! two-factor sign-in), team, API-key and audit-log settings, one file per family. Server-rendered forms
//! that work without JavaScript; every POST goes through
//! [`CsrfForm`](crate::dashboard::csrf::CsrfForm). Invalid input re-renders the form (422) with
//! a message next to each field and the entered values kept, passwords excepted; a done action
//! redirects (303) to a page that says so.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::Role;
use super::service::{IdentityError, IssuedTokens};
use super::session::session_cookies;
use crate::AppState;
use crate::dashboard::page::{FormErrors, PageError};

mod api_keys;
mod audit_log;
mod invite;
mod password;
mod profile;
mod sign_in;
mod sign_up;
mod team;
mod workspaces;

/// The identity pages.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/sign-up", get(sign_up::sign_up_page).post(sign_up::sign_up))
        .route("/sign-in", get(sign_in::sign_in_page).post(sign_in::sign_in))
        .route("/sign-in/two-factor", post(sign_in::sign_in_two_factor))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/forgot-password", get(password::forgot_password_page).post(password::forgot_password))
        .route("/reset-password", get(password::reset_password_page).post(password::reset_password))
        .route("/verify-email", get(password::verify_email_page))
        .route("/invite", get(invite::invite_page).post(invite::accept_invite))
        // The address the invitation email links to.
        .route("/invitations/accept", get(invite::invite_page).post(invite::accept_invite))
        .route("/workspaces/switch", post(workspaces::switch_workspace))
        .route("/workspaces/new", get(workspaces::new_workspace_page).post(workspaces::create_workspace))
        .route("/settings/profile", get(profile::profile_page).post(profile::update_profile))
        .route("/settings/profile/password", post(profile::change_password))
        .route("/settings/profile/verify-email", post(profile::resend_verification))
        .route("/settings/profile/two-factor/setup", post(profile::setup_two_factor))
        .route("/settings/profile/two-factor/enable", post(profile::enable_two_factor))
        .route("/settings/profile/two-factor/disable", post(profile::disable_two_factor))
        .route("/settings/team", get(team::team_page))
        .route("/settings/team/invite", post(team::invite))
        .route("/settings/team/invites/{id}/revoke", post(team::revoke_invite))
        .route("/settings/team/members/{user_id}/role", post(team::change_role))
        .route("/settings/team/members/{user_id}/remove", post(team::remove_member))
        .route("/settings/api-keys", get(api_keys::api_keys_page).post(api_keys::create_api_key))
        .route("/settings/api-keys/{id}/revoke", post(api_keys::revoke_api_key))
        .route("/settings/audit-log", get(audit_log::audit_log_page))
}

/// The signed-in member's account is gone (removed while the page was open).
fn no_account(error: IdentityError) -> PageError {
    match error {
        IdentityError::NotFound(_) => PageError::not_found("No account."),
        other => other.into(),
    }
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

/// One `<option>` of a role select (team members, invitations, API keys).
struct RoleOption {
    value: &'static str,
    selected: bool,
}

fn role_options(assignable: &[Role], selected: &str) -> Vec<RoleOption> {
    assignable.iter().map(|role| RoleOption { value: role.as_str(), selected: role.as_str() == selected }).collect()
}

/// A form with nothing but its CSRF token (a button).
#[derive(Deserialize, Default)]
struct NoFields {}

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
