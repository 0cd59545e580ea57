//! How the inbox's errors read in the API's one error envelope. The mapping lives with the error
//! it maps, so that `http/` (plumbing, below every capability) names none of them (ADR 0014).

use axum::http::StatusCode;

use super::service::InboxError;
use crate::http::error::ApiError;

impl From<InboxError> for ApiError {
    fn from(error: InboxError) -> Self {
        let message = error.to_string();
        match error {
            InboxError::NotFound(what) => ApiError::not_found(what),
            InboxError::Validation { field, message } => ApiError::validation(field, message),
            InboxError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            InboxError::WindowClosed(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "messaging_window_closed", message)
            }
            InboxError::Store(error) => ApiError::internal(&error),
            InboxError::Queue(error) => ApiError::internal(&error),
        }
    }
}
