//! The operator: whoever holds the admin token may manage the queue across all workspaces.
//!
//! Workspace members and roles arrive with the identity capability; this bearer token guards
//! the few system-wide endpoints that exist before them.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use super::ApiError;
use crate::AppState;

/// Proof that the request carries the operator token.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "send the operator token as `Authorization: Bearer …`",
                )
            })?;
        let expected = state.admin_token.expose().as_bytes();
        if bool::from(presented.trim().as_bytes().ct_eq(expected)) {
            Ok(Operator)
        } else {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "the operator token is not valid"))
        }
    }
}
