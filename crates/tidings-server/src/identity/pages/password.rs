//! Forgotten password, password reset and email confirmation.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{INVALID, TokenQuery, form_errors, redirect_with_cookies, sentence};
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{self, FormErrors, PageError};
use crate::identity::routes::RequestOrigin;
use crate::identity::service::{IdentityError, normalize_email};
use crate::identity::session::{DashboardUser, cleared_cookies};

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct EmailForm {
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

pub(super) async fn forgot_password_page(csrf: Csrf) -> Result<Response, PageError> {
    forgot_form(csrf, "", false, &FormErrors::new(), StatusCode::OK)
}

pub(super) async fn forgot_password(
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
pub(super) struct ResetForm {
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

pub(super) async fn reset_password_page(csrf: Csrf, Query(query): Query<TokenQuery>) -> Result<Response, PageError> {
    match query.token.filter(|t| !t.is_empty()) {
        Some(token) => reset_form(csrf, &token, false, &FormErrors::new(), StatusCode::OK),
        None => reset_form(csrf, "", true, &FormErrors::new(), StatusCode::BAD_REQUEST),
    }
}

pub(super) async fn reset_password(
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

pub(super) async fn verify_email_page(
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
