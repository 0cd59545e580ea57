//! Reading and verifying the audit log.

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::{AuditEntryOut, AuditListOut, AuditQuery, ChainOut};
use crate::AppState;
use crate::access::{Auth, Permission};
use crate::audit::{self, AuditFilter};
use crate::http::error::ErrorBody;
use crate::http::{ApiError, Envelope, Pagination};

/// The audit endpoints, under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(verify))
}

fn time(field: &'static str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.timestamp_millis())
                .map_err(|_| ApiError::validation(field, "must be an RFC 3339 time such as 2026-11-25T10:00:00Z"))
        })
        .transpose()
}

/// The workspace's audit log, newest first.
#[utoipa::path(get, path = "/audit-logs", tag = "audit", params(AuditQuery), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<AuditListOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<AuditQuery>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewAuditLog)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::validation("limit", "must be between 1 and 200"));
    }
    let offset = query.offset.unwrap_or(0).max(0);
    if let Some(result) = &query.result
        && result != "success"
        && result != "failure"
    {
        return Err(ApiError::validation("result", "must be `success` or `failure`"));
    }
    let filter = AuditFilter {
        from: time("from", query.from.as_deref())?,
        to: time("to", query.to.as_deref())?,
        action: query.action,
        actor_id: query.actor_id,
        resource_type: query.resource_type,
        result: query.result,
    };
    let (rows, total) = audit::list(&state.db, &auth.workspace_id, &filter, limit, offset).await?;
    Ok(Envelope::new(AuditListOut {
        entries: rows.into_iter().map(AuditEntryOut::from).collect(),
        pagination: Pagination::of(total, limit, offset),
    }))
}

/// Recomputes the workspace's hash chain: any edited or removed entry is reported.
#[utoipa::path(get, path = "/audit-logs/verify", tag = "audit", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<ChainOut>), (status = 403, body = ErrorBody)))]
async fn verify(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewAuditLog)?;
    let report = audit::verify_chain(&state.db, &auth.workspace_id).await?;
    Ok(Envelope::new(ChainOut {
        valid: report.valid,
        entries: report.entries,
        broken_at_sequence: report.broken_at_seq,
        problem: report.problem,
    }))
}
