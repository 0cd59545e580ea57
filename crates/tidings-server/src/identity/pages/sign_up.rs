//! Sign-up: a new account with its first workspace.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{INVALID, NextQuery, field_error, form_errors, safe_next, signed_in};
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{self, FormErrors, PageError};
use crate::identity::password::check_new_password;
use crate::identity::routes::RequestOrigin;
use crate::identity::service::{IdentityError, normalize_email, require_name};
use crate::identity::session::DashboardUser;

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SignUpForm {
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

pub(super) async fn sign_up_page(
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

pub(super) async fn sign_up(
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
