//! Sign-in (with the two-factor second step) and sign-out.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{INVALID, NextQuery, NoFields, form_errors, redirect_with_cookies, safe_next, sentence, signed_in};
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{self, FormErrors, PageError};
use crate::http::cookies::{REFRESH_COOKIE, cookie};
use crate::identity::routes::RequestOrigin;
use crate::identity::service::{IdentityError, SignIn, normalize_email};
use crate::identity::session::{DashboardUser, cleared_cookies};

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SignInForm {
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

pub(super) async fn sign_in_page(
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

pub(super) async fn sign_in(
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
pub(super) struct TwoFactorForm {
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
pub(super) async fn sign_in_two_factor(
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

/// Ends the session (both the refresh cookie's and the access cookie's) and clears the cookies.
pub(super) async fn sign_out(
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
