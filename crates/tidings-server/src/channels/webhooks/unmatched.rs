//! Deliveries holding events for accounts no workspace has connected (a Page subscribed to the
//! app but never connected, a connection removed while the platform still sends). They were
//! acknowledged, so they are kept and listed for the operator, on `/status` and by
//! `GET /api/v1/admin/unmatched-deliveries`, until the retention purge removes them.

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tidings_core::time::to_rfc3339;
use tidings_store::{Db, StoreError, with_reader};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, Envelope, Operator, Pagination};

/// A delivery with events no connection matched.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnmatchedDeliveryOut {
    /// The stored delivery (`evt_…`).
    pub event_id: String,
    /// The channel it was filed under (`messenger`, `instagram`, `whatsapp`, `x`).
    pub platform: String,
    /// The accounts its unmatched events named, as `platform:account` (e.g. `messenger:1047…`):
    /// connecting one of them to a workspace routes its future events there.
    pub accounts: Vec<String>,
    /// When it was received (RFC 3339).
    pub received_at: String,
    /// The delivery as received.
    pub body: String,
}

/// A page of unmatched deliveries, newest first.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnmatchedDeliveryListOut {
    pub deliveries: Vec<UnmatchedDeliveryOut>,
    pub pagination: Pagination,
}

/// Paging of the unmatched deliveries.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UnmatchedQuery {
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    pub offset: Option<i64>,
}

/// The newest `limit` unmatched deliveries after `offset`, and how many there are in all.
pub async fn list(db: &Db, limit: i64, offset: i64) -> Result<(i64, Vec<UnmatchedDeliveryOut>), StoreError> {
    let total: i64 =
        with_reader!(db, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM raw_events WHERE unmatched IS NOT NULL")
            .fetch_one(pool)
            .await)?;
    let rows: Vec<(String, String, String, i64, String)> = with_reader!(db, |pool| sqlx::query_as(
        "SELECT id, platform, unmatched, received_at, body FROM raw_events WHERE unmatched IS NOT NULL \
         ORDER BY received_at DESC, id DESC LIMIT $1 OFFSET $2"
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await)?;
    let deliveries = rows
        .into_iter()
        .map(|(event_id, platform, unmatched, received_at, body)| UnmatchedDeliveryOut {
            event_id,
            platform,
            accounts: unmatched.split_whitespace().map(str::to_owned).collect(),
            received_at: to_rfc3339(received_at),
            body,
        })
        .collect();
    Ok((total, deliveries))
}

/// Webhook deliveries whose events named accounts no workspace has connected, newest first.
#[utoipa::path(get, path = "/api/v1/admin/unmatched-deliveries", tag = "webhooks", security(("operator" = [])),
    params(UnmatchedQuery), responses(
    (status = 200, body = Envelope<UnmatchedDeliveryListOut>),
    (status = 401, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
pub(super) async fn list_unmatched(
    _: Operator,
    State(state): State<AppState>,
    Query(query): Query<UnmatchedQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::validation("limit", "must be between 1 and 200"));
    }
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::validation("offset", "must not be negative"));
    }
    let (total, deliveries) = list(&state.db, limit, offset).await?;
    Ok(Envelope::new(UnmatchedDeliveryListOut { deliveries, pagination: Pagination::of(total, limit, offset) }))
}
