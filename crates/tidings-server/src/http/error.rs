//! The one error envelope: `{"error": {"code", "message", "details"}}` for every 4xx and 5xx.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tidings_store::StoreError;

use tidings_store::queue::QueueError;
use utoipa::ToSchema;

/// An error as the API reports it. Handlers return it; nothing else builds error JSON.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable snake_case code clients can match on.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// Machine-readable specifics (the offending field, limits…).
    pub details: Option<serde_json::Value>,
    /// Seconds after which a refused request may be retried (`Retry-After`).
    pub retry_after: Option<u64>,
    /// The caller's quota, reported in `RateLimit-*` headers.
    pub quota: Option<super::rate_limit::Quota>,
}

/// The body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code: `bad_request`, `invalid_json`, `validation_failed`, `unauthorized`, `forbidden`, `not_found`,
    /// `route_not_found`, `method_not_allowed`, `email_taken`, `invalid_credentials`, `invalid_refresh_token`,
    /// `refresh_token_reused`, `invalid_token`, `last_owner`, `already_member`, `invalid_two_factor_code`,
    /// `invalid_challenge`, `two_factor_required`, `two_factor_already_enabled`, `two_factor_not_set_up`,
    /// `two_factor_not_enabled`, `already_verified`, `conflict`, `already_connected`, `invalid_signature`,
    /// `stale_delivery`, `invalid_payload`, `not_configured`, `invalid_state`, `platform_error`, `request_timeout`, `payload_too_large`,
    /// `messaging_window_closed`, `destination_refused`,
    /// `unsupported_media_type`, `rate_limited`, `internal_error`, `unavailable`, and `error` for any
    /// other status.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// Specifics, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: None, retry_after: None, quota: None }
    }

    /// Adds machine-readable details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 404 for a resource that does not exist (or is not visible to the caller).
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    /// 422 naming the field at fault.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", format!("{field}: {message}"))
            .with_details(serde_json::json!({ "field": field }))
    }

    /// 500; the cause is logged, never shown.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "something went wrong on our side")
    }

    /// The code conventionally used for a bare status, for responses that arrive without one.
    pub fn code_for(status: StatusCode) -> &'static str {
        match status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::REQUEST_TIMEOUT => "request_timeout",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "validation_failed",
            StatusCode::TOO_MANY_REQUESTS => "rate_limited",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            s if s.is_server_error() => "internal_error",
            _ => "error",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail { code: self.code.to_owned(), message: self.message, details: self.details },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(value) = axum::http::HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
        }
        if let Some(quota) = self.quota {
            super::rate_limit::set_quota_headers(&mut response, quota);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::internal(&error)
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::UnknownQueue(queue) => Self::validation("queue", format!("unknown queue `{queue}`")),
            other => Self::internal(&other),
        }
    }
}
