//! How the channels' errors read in the API's one error envelope; the mapping lives with the
//! error it maps (ADR 0014), so the service knows nothing of HTTP.

use axum::http::StatusCode;

use super::service::ChannelsError;
use crate::http::ApiError;

impl From<ChannelsError> for ApiError {
    fn from(error: ChannelsError) -> Self {
        let message = error.to_string();
        match error {
            ChannelsError::NotFound(what) => ApiError::not_found(what),
            ChannelsError::Validation { field, message } => ApiError::validation(field, message),
            ChannelsError::AlreadyConnected(_) => ApiError::new(StatusCode::CONFLICT, "already_connected", message),
            ChannelsError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            ChannelsError::InvalidState => ApiError::new(StatusCode::BAD_REQUEST, "invalid_state", message),
            ChannelsError::NotConfigured(_) => ApiError::new(StatusCode::CONFLICT, "not_configured", message),
            ChannelsError::Platform { source, .. } => {
                tracing::warn!(error = %source, "platform error while connecting");
                ApiError::new(StatusCode::BAD_GATEWAY, "platform_error", message)
            }
            ChannelsError::Store(error) => ApiError::internal(&error),
            ChannelsError::Queue(error) => error.into(),
            ChannelsError::Vault(error) => ApiError::internal(&error),
        }
    }
}
