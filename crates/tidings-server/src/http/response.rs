//! Success bodies: `{"success": true, "data": …}`, with `pagination` for lists (reviewpilot §2.3).

use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiError;

/// The success envelope.
#[derive(Serialize, ToSchema)]
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
#[derive(Serialize, ToSchema)]
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

/// A JSON body whose rejections (bad JSON, wrong content type, wrong shape) use the error envelope.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

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
