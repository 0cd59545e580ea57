//! Invitations, as the invited person sees and accepts them.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{INVALID, TokenQuery, field_error, form_errors, signed_in};
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{self, FormErrors, PageError};
use crate::identity::password::check_new_password;
use crate::identity::routes::RequestOrigin;
use crate::identity::service::{IdentityError, InvitePreview, require_name};
use crate::identity::session::{DashboardUser, query_escape};

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AcceptForm {
    token: String,
    name: String,
    password: String,
}

#[derive(Template)]
#[template(path = "identity/invite.html")]
struct InviteBody<'a> {
    csrf: &'a str,
    token: &'a str,
    invitation: Option<&'a InvitePreview>,
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
    let invitation = if token.is_empty() { None } else { state.identity.invite_preview(token).await? };
    let signed_in_as = match user {
        Some(user) => match state.identity.user(&user.user_id).await {
            Ok(account) => account.email,
            Err(IdentityError::NotFound(_)) => String::new(),
            Err(error) => return Err(error.into()),
        },
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

pub(super) async fn invite_page(
    State(state): State<AppState>,
    user: Option<DashboardUser>,
    csrf: Csrf,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let token = query.token.unwrap_or_default();
    render_invite(&state, user.as_ref(), csrf, &token, "", &FormErrors::new(), StatusCode::OK).await
}

pub(super) async fn accept_invite(
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
