//! `/settings/saved-replies`: the workspace's saved replies, to add, change and delete. Plain
//! forms posting with the CSRF token; after a change, back to the page with a notice.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tidings_core::SavedReplyId;

use super::{SavedReplies, VARIABLES};
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{FormErrors, PageError};
use crate::identity::Permission;
use crate::identity::session::DashboardUser;
use crate::inbox::service::InboxError;

const PATH: &str = "/settings/saved-replies";

/// The saved-replies pages.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route(PATH, get(saved_replies_page).post(create))
        .route("/settings/saved-replies/{id}", post(update))
        .route("/settings/saved-replies/{id}/delete", post(delete))
}

struct Row {
    id: String,
    shortcut: String,
    body: String,
    /// The field errors when this one's change was refused.
    errors: FormErrors,
    open: bool,
}

#[derive(Template)]
#[template(path = "inbox/saved_replies.html")]
struct SavedRepliesBody<'a> {
    rows: Vec<Row>,
    csrf: &'a str,
    can_manage: bool,
    notice: Option<&'static str>,
    /// The add form as sent, with its errors.
    shortcut: &'a str,
    body: &'a str,
    errors: &'a FormErrors,
    variables: Vec<(String, &'static str)>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Done {
    done: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SavedReplyForm {
    shortcut: String,
    body: String,
}

#[derive(Deserialize, Default)]
pub(super) struct NoFields {}

/// A refused form: which field, and the message.
struct Refused {
    /// The saved reply being changed; `None` for the add form.
    id: Option<String>,
    errors: FormErrors,
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    form: &SavedReplyForm,
    notice: Option<&'static str>,
    refused: Option<Refused>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let rows = SavedReplies::new(state.db.clone()).list(&user.auth.workspace_id).await.map_err(inbox_error)?;
    let (refused_id, refused_errors) = match refused {
        Some(Refused { id, errors }) => (id, errors),
        None => (None, FormErrors::new()),
    };
    let mut add_errors = FormErrors::new();
    let mut row_errors = Some(refused_errors);
    if refused_id.is_none()
        && let Some(errors) = row_errors.take()
    {
        add_errors = errors;
    }
    let rows = rows
        .into_iter()
        .map(|r| {
            let refused_here = refused_id.as_deref() == Some(r.id.as_str());
            let errors = if refused_here { row_errors.take().unwrap_or_default() } else { FormErrors::new() };
            Row {
                shortcut: if refused_here { form.shortcut.clone() } else { r.shortcut },
                body: if refused_here { form.body.clone() } else { r.body },
                open: refused_here,
                errors,
                id: r.id.into(),
            }
        })
        .collect();
    let adding = refused_id.is_none() && !add_errors.is_empty();
    let page = SavedRepliesBody {
        rows,
        csrf: csrf.token(),
        can_manage: user.auth.role.can(Permission::SendReplies),
        notice,
        shortcut: if adding { &form.shortcut } else { "" },
        body: if adding { &form.body } else { "" },
        errors: &add_errors,
        variables: VARIABLES.iter().map(|(name, what)| (format!("{{{{{name}}}}}"), *what)).collect(),
    };
    let html = user.page(state, &csrf, PATH, "Saved replies", &page).await?;
    Ok((status, csrf, html).into_response())
}

fn inbox_error(error: InboxError) -> PageError {
    PageError::from(crate::http::ApiError::from(error))
}

async fn saved_replies_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    user.require(Permission::ViewConversations)?;
    let notice = match done.done.as_deref() {
        Some("added") => Some("Saved reply added."),
        Some("saved") => Some("Saved reply changed."),
        Some("deleted") => Some("Saved reply deleted."),
        _ => None,
    };
    render(&state, &user, csrf, &SavedReplyForm::default(), notice, None, StatusCode::OK).await
}

/// A refusal of the service as the form's field errors; other errors stay errors.
fn refusal(error: InboxError) -> Result<FormErrors, PageError> {
    let mut errors = FormErrors::new();
    match error {
        InboxError::Validation { field: "shortcut", message } => {
            errors.add("shortcut", format!("The shortcut {message}."))
        }
        InboxError::Validation { message, .. } => errors.add("body", format!("The text {message}.")),
        InboxError::Conflict(message) => {
            errors.add("shortcut", format!("There is already {}.", message.trim_start_matches("a ")))
        }
        error => return Err(inbox_error(error)),
    }
    Ok(errors)
}

async fn create(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<SavedReplyForm>,
) -> Result<Response, PageError> {
    user.require(Permission::SendReplies)?;
    let service = SavedReplies::new(state.db.clone());
    match service.create(&user.auth.workspace_id, &form.shortcut, &form.body, Some(&user.user_id)).await {
        Ok(_) => Ok(Redirect::to(&format!("{PATH}?done=added")).into_response()),
        Err(error) => {
            let refused = Refused { id: None, errors: refusal(error)? };
            render(&state, &user, csrf, &form, None, Some(refused), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

fn saved_reply_id(id: &str) -> Result<SavedReplyId, PageError> {
    SavedReplyId::parse(id).map_err(|_| PageError::not_found("There is no such saved reply in this workspace."))
}

async fn update(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<SavedReplyForm>,
) -> Result<Response, PageError> {
    user.require(Permission::SendReplies)?;
    let saved = saved_reply_id(&id)?;
    let service = SavedReplies::new(state.db.clone());
    match service.update(&user.auth.workspace_id, &saved, Some(&form.shortcut), Some(&form.body)).await {
        Ok(_) => Ok(Redirect::to(&format!("{PATH}?done=saved")).into_response()),
        Err(error) => {
            let refused = Refused { id: Some(id), errors: refusal(error)? };
            render(&state, &user, csrf, &form, None, Some(refused), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn delete(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    _: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::SendReplies)?;
    let saved = saved_reply_id(&id)?;
    SavedReplies::new(state.db.clone()).delete(&user.auth.workspace_id, &saved).await.map_err(inbox_error)?;
    Ok(Redirect::to(&format!("{PATH}?done=deleted")).into_response())
}
