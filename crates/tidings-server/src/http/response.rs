//! Success bodies: `{"success": true, "data": …}`, with `pagination` for lists.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiError;

/// The success envelope.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Envelope<T> {
    /// Always true.
    pub success: bool,
    /// The payload.
    pub data: T,
}

impl<T> Envelope<T> {
    /// Wraps a payload.
    pub fn new(data: T) -> axum::Json<Self> {
        axum::Json(Self { success: true, data })
    }
}

/// Where a page sits in a list.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// Items matching the filter, over all pages. Inbox lists count exactly up to 10,000 (1,000
    /// when searching) and report one more for anything larger (`hasMore` stays exact).
    pub total: i64,
    /// Page size.
    pub limit: i64,
    /// Items skipped.
    pub offset: i64,
    /// More items follow this page.
    pub has_more: bool,
}

impl Pagination {
    /// The pagination of a page of `shown` items.
    pub fn of(total: i64, limit: i64, offset: i64) -> Self {
        Self { total, limit, offset, has_more: offset + limit < total }
    }
}

/// A JSON body whose rejections (bad JSON, wrong content type, wrong shape) use the error
/// envelope. NUL characters are removed from every string first (`tidings_core::text`, ADR 0015),
/// so no handler sees one and both storage engines keep the same text.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(mut value) = axum::Json::<serde_json::Value>::from_request(request, state).await?;
        tidings_core::text::strip_nul_json(&mut value);
        serde_json::from_value(value).map(ApiJson).map_err(|error| {
            let message = format!("Failed to deserialize the JSON body into the target type: {error}");
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", message)
        })
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = match rejection {
            JsonRejection::JsonSyntaxError(_) => "invalid_json",
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            JsonRejection::JsonDataError(_) => "validation_failed",
            _ => ApiError::code_for(status),
        };
        ApiError::new(status, code, rejection.body_text())
    }
}
