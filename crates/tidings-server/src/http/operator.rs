//! The operator: whoever holds the admin token may manage the queue across all workspaces.
//!
//! Workspace members and roles arrive with the identity capability; this bearer token guards
//! the few system-wide endpoints that exist before them.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use subtle::ConstantTimeEq;

use super::ApiError;
use crate::AppState;

/// Proof that the request carries the operator token.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented = bearer_token(&parts.headers).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send the operator token as `Authorization: Bearer …`",
            )
        })?;
        let expected = state.operator_token.expose().as_bytes();
        if bool::from(presented.as_bytes().ct_eq(expected)) {
            Ok(Operator)
        } else {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "the operator token is not valid"))
        }
    }
}

/// The credential of an `Authorization: Bearer <token>` header. The scheme is matched without
/// regard to case (RFC 7235: `bearer`, `BEARER` and `Bearer` are the same); `None` without the
/// header, for another scheme, or for an empty token.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().expect("header value"));
            bearer_token(&headers).map(str::to_owned)
        };
        for value in ["Bearer abc", "bearer abc", "BEARER  abc ", "bEaReR abc"] {
            assert_eq!(with(value).as_deref(), Some("abc"), "{value}");
        }
        for value in ["Basic abc", "Bearer", "Bearer  ", "Bearerabc"] {
            assert_eq!(with(value), None, "{value}");
        }
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
