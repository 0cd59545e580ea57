//! How identity's errors read in the API's one error envelope. The mapping lives with the error
//! it maps, so that `http/` (plumbing, below every capability) names none of them (ADR 0014).

use axum::http::StatusCode;

use super::IdentityError;
use crate::dashboard::page::PageError;
use crate::http::error::ApiError;

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        let message = error.to_string();
        match error {
            IdentityError::EmailTaken => ApiError::new(StatusCode::CONFLICT, "email_taken", message),
            IdentityError::InvalidCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", message)
            }
            IdentityError::InvalidRefreshToken => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_refresh_token", message)
            }
            IdentityError::RefreshTokenReused => {
                ApiError::new(StatusCode::UNAUTHORIZED, "refresh_token_reused", message)
            }
            IdentityError::InvalidLink => ApiError::new(StatusCode::BAD_REQUEST, "invalid_token", message),
            IdentityError::Validation { field, message } => ApiError::validation(field, message),
            IdentityError::NotFound(what) => ApiError::not_found(what),
            IdentityError::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            IdentityError::LastOwner => ApiError::new(StatusCode::CONFLICT, "last_owner", message),
            IdentityError::AlreadyMember(_) => ApiError::new(StatusCode::CONFLICT, "already_member", message),
            IdentityError::InvalidTwoFactorCode => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_two_factor_code", message)
            }
            IdentityError::InvalidChallenge => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_challenge", message),
            IdentityError::TwoFactorAlreadyEnabled => {
                ApiError::new(StatusCode::CONFLICT, "two_factor_already_enabled", message)
            }
            IdentityError::TwoFactorNotSetUp => ApiError::new(StatusCode::CONFLICT, "two_factor_not_set_up", message),
            IdentityError::TwoFactorNotEnabled => {
                ApiError::new(StatusCode::CONFLICT, "two_factor_not_enabled", message)
            }
            IdentityError::AlreadyVerified => ApiError::new(StatusCode::CONFLICT, "already_verified", message),
            IdentityError::Store(error) => ApiError::internal(&error),
            IdentityError::Queue(error) => ApiError::internal(&error),
        }
    }
}

/// A page shows an identity error as the API would word it, on an HTML error page.
impl From<IdentityError> for PageError {
    fn from(error: IdentityError) -> Self {
        ApiError::from(error).into()
    }
}
