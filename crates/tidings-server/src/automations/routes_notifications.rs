//! The API of each member's notifications under `/api/v1` (ADR 0024): the bell, preferences
//! (choices per kind, quiet hours) and digests. The bell and preferences belong to the signed-in
//! member, so an API key, which is nobody, is refused them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use tidings_core::{DigestId, NotificationId, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto_notifications::{DigestIn, DigestOut, NotificationOut, NotificationsOut, PreferencesIo};
use super::routes::DeletedOut;
use crate::AppState;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, Envelope};
use crate::identity::{Auth, Permission};

/// The endpoints.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(read_notifications))
        .routes(routes!(read_notification))
        .routes(routes!(get_preferences, put_preferences))
        .routes(routes!(list_digests, create_digest))
        .routes(routes!(get_digest, delete_digest))
}

/// The member calling, with `ViewDashboard`.
fn member(auth: &Auth) -> Result<UserId, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    auth.user_id.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "notifications belong to a member: call with a member's access token, not an API key",
        )
    })
}

async fn bell(state: &AppState, auth: &Auth, member: &UserId) -> Result<NotificationsOut, ApiError> {
    let (unread, rows) = state.automations.bell(&auth.workspace_id, member).await?;
    Ok(NotificationsOut { unread, items: rows.into_iter().map(NotificationOut::from_row).collect() })
}

/// The signed-in member's bell: unread count and latest notifications.
#[utoipa::path(get, path = "/notifications", tag = "notifications", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<NotificationsOut>), (status = 403, body = ErrorBody)))]
async fn list_notifications(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    let member = member(&auth)?;
    Ok(Envelope::new(bell(&state, &auth, &member).await?))
}

/// Marks all of the member's notifications read.
#[utoipa::path(post, path = "/notifications/read", tag = "notifications", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<NotificationsOut>), (status = 403, body = ErrorBody)))]
async fn read_notifications(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    let member = member(&auth)?;
    state.automations.mark_read(&auth.workspace_id, &member, None).await?;
    Ok(Envelope::new(bell(&state, &auth, &member).await?))
}

/// Marks one of the member's notifications read.
#[utoipa::path(post, path = "/notifications/{id}/read", tag = "notifications", params(("id" = String, Path)),
    security(("bearer" = [])), responses(
    (status = 200, body = Envelope<NotificationsOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn read_notification(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let member = member(&auth)?;
    let id = NotificationId::parse(&id).map_err(|_| ApiError::not_found("notification"))?;
    state.automations.mark_read(&auth.workspace_id, &member, Some(&id)).await?;
    Ok(Envelope::new(bell(&state, &auth, &member).await?))
}

/// The member's notification preferences: per kind, in the app and/or by email; quiet hours.
#[utoipa::path(get, path = "/notification-preferences", tag = "notifications", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<PreferencesIo>), (status = 403, body = ErrorBody)))]
async fn get_preferences(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    let member = member(&auth)?;
    Ok(Envelope::new(state.automations.preferences(&auth.workspace_id, &member).await?))
}

/// Saves the member's preferences: kinds left out keep their choice; `quietHours: null` removes
/// the quiet hours.
#[utoipa::path(put, path = "/notification-preferences", tag = "notifications", request_body = PreferencesIo,
    security(("bearer" = [])), responses(
    (status = 200, body = Envelope<PreferencesIo>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_preferences(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<PreferencesIo>,
) -> Result<impl IntoResponse, ApiError> {
    let member = member(&auth)?;
    Ok(Envelope::new(state.automations.save_preferences(&auth.workspace_id, &member, &body).await?))
}

/// The workspace's digests.
#[utoipa::path(get, path = "/digests", tag = "notifications", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<Vec<DigestOut>>), (status = 403, body = ErrorBody)))]
async fn list_digests(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let rows = state.automations.digests(&auth.workspace_id).await?;
    Ok(Envelope::new(rows.into_iter().map(DigestOut::from_row).collect::<Vec<_>>()))
}

/// Creates a daily or weekly digest.
#[utoipa::path(post, path = "/digests", tag = "notifications", request_body = DigestIn, security(("bearer" = [])),
    responses((status = 201, body = Envelope<DigestOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_digest(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<DigestIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageAutomations)?;
    let row = state.automations.create_digest(&auth.workspace_id, &body).await?;
    Ok((StatusCode::CREATED, Envelope::new(DigestOut::from_row(row))))
}

/// One digest.
#[utoipa::path(get, path = "/digests/{id}", tag = "notifications", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Envelope<DigestOut>), (status = 404, body = ErrorBody)))]
async fn get_digest(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let id = DigestId::parse(&id).map_err(|_| ApiError::not_found("digest"))?;
    Ok(Envelope::new(DigestOut::from_row(state.automations.digest(&auth.workspace_id, &id).await?)))
}

/// Deletes a digest.
#[utoipa::path(delete, path = "/digests/{id}", tag = "notifications", params(("id" = String, Path)),
    security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DeletedOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_digest(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageAutomations)?;
    let id = DigestId::parse(&id).map_err(|_| ApiError::not_found("digest"))?;
    state.automations.delete_digest(&auth.workspace_id, &id).await?;
    Ok(Envelope::new(DeletedOut { deleted: true }))
}
