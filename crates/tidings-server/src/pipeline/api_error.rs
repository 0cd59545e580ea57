//! How the pipeline's errors read in the API's one error envelope.

use super::service::PipelineError;
use crate::http::error::ApiError;

impl From<PipelineError> for ApiError {
    fn from(error: PipelineError) -> Self {
        match error {
            PipelineError::NotFound(what) => ApiError::not_found(what),
            PipelineError::Validation { field, message } => ApiError::validation(&field, message),
            PipelineError::Store(error) => ApiError::internal(&error),
            PipelineError::Queue(error) => ApiError::internal(&error),
            PipelineError::Internal(message) => ApiError::internal(&message),
        }
    }
}
