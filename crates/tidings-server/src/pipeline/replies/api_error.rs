//! How reply generation's errors read in the API's one error envelope.

use axum::http::StatusCode;

use super::service::RepliesError;
use crate::http::error::ApiError;

impl From<RepliesError> for ApiError {
    fn from(error: RepliesError) -> Self {
        let message = error.to_string();
        match error {
            RepliesError::NotFound(what) => ApiError::not_found(what),
            RepliesError::Validation { field, message } => ApiError::validation(field, message),
            RepliesError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            RepliesError::Inbox(error) => error.into(),
            RepliesError::Store(error) => ApiError::internal(&error),
            RepliesError::Vault(error) => ApiError::internal(&error),
            RepliesError::Queue(error) => ApiError::internal(&error),
        }
    }
}
