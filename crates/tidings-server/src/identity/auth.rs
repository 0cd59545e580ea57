//! Who is calling: the `Auth` extractor every tenant-scoped handler starts with.
//!
//! A request authenticates with `Authorization: Bearer <access token>` (a member's JWT) or
//! `Bearer tdk_…` (an API key). Either way the handler gets the workspace it acts in, the role
//! it acts with and the actor to audit, and checks one permission with `auth.require(…)`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use tidings_core::{UserId, WorkspaceId};

use super::store;
use crate::AppState;
use crate::access::{Actor, Auth, Caller, origin_of};
use crate::http::rate_limit::QuotaSlot;
use crate::http::{ApiError, bearer_token};

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// The bearer credential of a request: the `Authorization` header, else the dashboard's cookie.
pub fn bearer(parts: &Parts) -> Option<String> {
    credential(parts).map(|(token, _)| token)
}

/// Where a request's credential came from, which decides the limit it counts against.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `Authorization: Bearer …`: an API client, counted against the workspace's plan quota.
    Header,
    /// The dashboard's session cookie: a person in a browser, counted per session (ADR 0008).
    Cookie,
}

fn credential(parts: &Parts) -> Option<(String, Source)> {
    if parts.headers.contains_key(header::AUTHORIZATION) {
        return bearer_token(&parts.headers).map(|token| (token.to_owned(), Source::Header));
    }
    crate::http::cookies::access_token(&parts.headers).map(|token| (token, Source::Cookie))
}

/// Counts the request against the workspace's plan quota; the headers report what is left.
fn count_request(parts: &mut Parts, state: &AppState, workspace: &WorkspaceId, plan: &str) -> Result<(), ApiError> {
    let quota = state.limits.check_workspace(workspace.as_str(), plan)?;
    if let Some(slot) = parts.extensions.get::<QuotaSlot>() {
        *slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(quota);
    }
    Ok(())
}

/// Who is calling, whether or not they owe the workspace a second factor.
async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Auth, ApiError> {
    let (token, source) =
        credential(parts).ok_or_else(|| unauthorized("sign in, or send `Authorization: Bearer <token>`"))?;
    let origin = origin_of(parts);
    if token.starts_with("tdk_") {
        let (workspace_id, key, role) = state
            .identity
            .authenticate_api_key(&token)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| unauthorized("the API key is not valid or was revoked"))?;
        let plan = store::plan_of(state.identity.db(), &workspace_id).await?;
        count_request(parts, state, &workspace_id, &plan)?;
        return Ok(Auth {
            caller: Caller {
                workspace_id,
                role,
                actor: Actor::ApiKey { id: key.to_string(), role: role.as_str().to_owned() },
                origin,
            },
            user_id: None,
            session_id: None,
            api_key_id: Some(key),
            // Keys act for no person, so no person's second factor applies.
            owes_two_factor: false,
        });
    }
    let claims = state
        .identity
        .tokens()
        .verify(&token)
        .ok_or_else(|| unauthorized("the access token is invalid or expired; refresh it or sign in again"))?;
    let user_id = UserId::parse(&claims.sub).map_err(|_| unauthorized("the access token is malformed"))?;
    let workspace_id = WorkspaceId::parse(&claims.tid).map_err(|_| unauthorized("the access token is malformed"))?;
    // The role comes from the membership now, not from the token: a demoted or removed member
    // loses their rights at once rather than when the token expires.
    let member = store::live_member(state.identity.db(), &workspace_id, &user_id, &claims.sid)
        .await?
        .ok_or_else(|| unauthorized("this session has ended or you are no longer a member; sign in again"))?;
    let role = member.role;
    match source {
        // Dashboard use never spends the API quota the team's integrations share.
        Source::Cookie => state.limits.check_dashboard_session(&claims.sid)?,
        Source::Header => count_request(parts, state, &workspace_id, &member.plan)?,
    }
    Ok(Auth {
        caller: Caller { actor: Actor::user(&user_id, role), workspace_id, role, origin },
        user_id: Some(user_id),
        session_id: Some(claims.sid),
        api_key_id: None,
        owes_two_factor: member.owes_two_factor,
    })
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    /// Refuses with 403 `two_factor_required` a member who owes the workspace a second factor.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = authenticate(parts, state).await?;
        if auth.owes_two_factor {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "two_factor_required",
                "this workspace requires two-factor sign-in: set it up with POST /api/v1/me/two-factor/setup, \
                 then turn it on with POST /api/v1/me/two-factor/enable",
            ));
        }
        Ok(auth)
    }
}

/// An [`Auth`] that lets through a member who still owes the workspace a second factor, for the
/// few endpoints they need to set it up: who am I, the two-factor endpoints, the workspace
/// switcher, and sending the address confirmation again. Every other tenant-scoped endpoint takes [`Auth`], which refuses them.
#[derive(Debug, Clone)]
pub struct TwoFactorExempt(pub Auth);

impl FromRequestParts<AppState> for TwoFactorExempt {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state).await.map(TwoFactorExempt)
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    /// No credential at all is `None`; a credential that does not check out is still refused.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, ApiError> {
        if bearer(parts).is_none() {
            return Ok(None);
        }
        <Auth as FromRequestParts<AppState>>::from_request_parts(parts, state).await.map(Some)
    }
}
