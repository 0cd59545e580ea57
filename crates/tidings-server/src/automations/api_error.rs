//! How automations' errors read in the API's one error envelope.

use axum::http::StatusCode;

use super::AutomationsError;
use crate::http::error::ApiError;

impl From<AutomationsError> for ApiError {
    fn from(error: AutomationsError) -> Self {
        let message = error.to_string();
        match error {
            AutomationsError::NotFound(what) => ApiError::not_found(what),
            AutomationsError::Validation { field, message } => ApiError::validation(&field, message),
            AutomationsError::Refused { field, source } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "destination_refused", message)
                    .with_details(serde_json::json!({ "field": field, "reason": source.to_string() }))
            }
            AutomationsError::Pipedrive(_) | AutomationsError::Crm(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "platform_error", message)
            }
            AutomationsError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            AutomationsError::Unavailable(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message),
            AutomationsError::Store(error) => ApiError::internal(&error),
            AutomationsError::Queue(error) => ApiError::internal(&error),
            AutomationsError::Vault(error) => ApiError::internal(&error),
        }
    }
}
