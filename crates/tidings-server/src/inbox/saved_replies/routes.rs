//! `/api/v1/saved-replies`: list, create, read, change and delete a workspace's saved replies.
//! Every role that reads conversations lists and reads them; those who reply manage them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use tidings_core::SavedReplyId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::SavedReplies;
use super::dto::{SavedReplyIn, SavedReplyOut, SavedReplyPatch};
use crate::AppState;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, Envelope};
use crate::identity::{Auth, Permission};

/// The saved-reply endpoints, under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get_one, update, delete))
}

fn service(state: &AppState) -> SavedReplies {
    SavedReplies::new(state.db.clone())
}

fn saved_reply_id(value: &str) -> Result<SavedReplyId, ApiError> {
    SavedReplyId::parse(value).map_err(|_| ApiError::not_found("saved reply"))
}

/// The workspace's saved replies, by shortcut.
#[utoipa::path(get, path = "/saved-replies", tag = "saved replies", security(("bearer" = [])),
    responses((status = 200, body = Envelope<Vec<SavedReplyOut>>), (status = 403, body = ErrorBody)))]
async fn list(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let rows = service(&state).list(&auth.workspace_id).await?;
    Ok(Envelope::new(rows.into_iter().map(SavedReplyOut::from).collect::<Vec<_>>()))
}

/// Adds a saved reply. 409 `conflict` when the shortcut is taken.
#[utoipa::path(post, path = "/saved-replies", tag = "saved replies", request_body = SavedReplyIn, security(("bearer" = [])),
    responses((status = 201, body = Envelope<SavedReplyOut>), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<SavedReplyIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::SendReplies)?;
    let row = service(&state).create(&auth.workspace_id, &body.shortcut, &body.body, auth.user_id.as_ref()).await?;
    Ok((StatusCode::CREATED, Envelope::new(SavedReplyOut::from(row))))
}

/// One saved reply.
#[utoipa::path(get, path = "/saved-replies/{id}", tag = "saved replies", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Envelope<SavedReplyOut>), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let row = service(&state).get(&auth.workspace_id, &saved_reply_id(&id)?).await?;
    Ok(Envelope::new(SavedReplyOut::from(row)))
}

/// Changes a saved reply's shortcut or text.
#[utoipa::path(patch, path = "/saved-replies/{id}", tag = "saved replies", params(("id" = String, Path)),
    request_body = SavedReplyPatch, security(("bearer" = [])),
    responses((status = 200, body = Envelope<SavedReplyOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SavedReplyPatch>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::SendReplies)?;
    let id = saved_reply_id(&id)?;
    let row = service(&state).update(&auth.workspace_id, &id, body.shortcut.as_deref(), body.body.as_deref()).await?;
    Ok(Envelope::new(SavedReplyOut::from(row)))
}

/// Deletes a saved reply.
#[utoipa::path(delete, path = "/saved-replies/{id}", tag = "saved replies", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::SendReplies)?;
    service(&state).delete(&auth.workspace_id, &saved_reply_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
