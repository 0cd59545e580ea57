//! The workspace switcher and new workspaces.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tidings_core::WorkspaceId;

use super::{INVALID, form_errors, safe_next, signed_in};
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{FormErrors, PageError};
use crate::identity::session::DashboardUser;

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SwitchForm {
    workspace_id: String,
    next: String,
}

pub(super) async fn switch_workspace(
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
pub(super) struct WorkspaceForm {
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
pub(super) async fn new_workspace_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
) -> Result<Response, PageError> {
    user.require_second_factor()?;
    render_new_workspace(&state, &user, csrf, "", &FormErrors::new(), StatusCode::OK).await
}

/// Creates a workspace the member owns and carries on there, as switching to it would.
pub(super) async fn create_workspace(
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
