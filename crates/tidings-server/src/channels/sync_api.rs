//! `POST /api/v1/reviews/sync`: sync every review connection now, with a progress task
//! (`GET /api/v1/tasks/{id}`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tidings_core::ConnectionId;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::access::{Auth, Permission};
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, Envelope};

/// The sync endpoint.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sync_reviews))
}

/// Which connections to sync (`{}` for all).
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncIn {
    /// One connection; all review connections when absent.
    pub connection_id: Option<String>,
}

/// A started sync.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncOut {
    /// Follow progress at `GET /api/v1/tasks/{taskId}`.
    pub task_id: String,
    /// Connections being synced.
    pub connections: i64,
}

/// Starts a sync of the workspace's review connections now (each also syncs on its schedule).
#[utoipa::path(post, path = "/reviews/sync", tag = "reviews", request_body = SyncIn, security(("bearer" = [])),
    responses((status = 202, body = Envelope<SyncOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn sync_reviews(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(input): ApiJson<SyncIn>,
) -> Result<(StatusCode, axum::Json<Envelope<SyncOut>>), ApiError> {
    auth.require(Permission::ConnectChannels)?;
    let only = input
        .connection_id
        .as_deref()
        .map(|id| ConnectionId::parse(id).map_err(|_| ApiError::not_found("connection")))
        .transpose()?;
    let (task, connections) =
        state.channels.sync_reviews(&auth.workspace_id, auth.user_id.as_ref(), only.as_ref()).await?;
    Ok((StatusCode::ACCEPTED, Envelope::new(SyncOut { task_id: task.to_string(), connections })))
}
