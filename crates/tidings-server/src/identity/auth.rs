//! Who is calling: the `Auth` extractor every tenant-scoped handler starts with.
//!
//! A request authenticates with `Authorization: Bearer <access token>` (a member's JWT) or
//! `Bearer tdk_…` (an API key). Either way the handler gets the workspace it acts in, the role
//! it acts with and the actor to audit, and checks one permission with `auth.require(…)`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use tidings_core::{ApiKeyId, UserId, WorkspaceId};

use super::permissions::{Permission, Role};
use super::service::Origin;
use super::store;
use crate::AppState;
use crate::audit::Actor;
use crate::http::rate_limit::QuotaSlot;
use crate::http::{ApiError, bearer_token};

/// An authenticated caller, acting in one workspace.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The workspace every query of this request is scoped to.
    pub workspace_id: WorkspaceId,
    /// The caller's role there.
    pub role: Role,
    /// Who, for the audit log.
    pub actor: Actor,
    /// The member, when a person (not an API key) is calling.
    pub user_id: Option<UserId>,
    /// The session of the access token, when a person is calling.
    pub session_id: Option<String>,
    /// The key, when an API key is calling.
    pub api_key_id: Option<ApiKeyId>,
    /// Where the request came from.
    pub origin: Origin,
    /// The workspace requires two-factor sign-in and this member has not turned it on: only
    /// [`TwoFactorExempt`] endpoints (who am I, set it up) let them through until they do.
    pub owes_two_factor: bool,
}

impl Auth {
    /// Refuses with 403 unless the caller's role holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.role.can(permission) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("your role ({}) may not do this (needs {})", self.role.as_str(), permission.as_str()),
            ))
        }
    }

    /// The signed-in member; 403 for API keys, which act for no person.
    pub fn user(&self) -> Result<&UserId, ApiError> {
        self.user_id.as_ref().ok_or_else(|| {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this needs a signed-in member, not an API key")
        })
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// Whether the client address may be taken from `X-Forwarded-For` (`http.trust_forwarded_for`).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddressPolicy {
    /// Trust the header (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
}

/// Where the request came from: the first `X-Forwarded-For` hop when trusted, else the socket peer.
pub fn origin_of(parts: &Parts) -> Origin {
    let trusted = parts.extensions.get::<ClientAddressPolicy>().is_some_and(|policy| policy.trust_forwarded_for);
    let forwarded = parts
        .headers
        .get("x-forwarded-for")
        .filter(|_| trusted)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned());
    let peer =
        parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|info| info.0.ip().to_string());
    Origin {
        ip: forwarded.or(peer),
        user_agent: parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    }
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
    crate::identity::cookies::access_token(&parts.headers).map(|token| (token, Source::Cookie))
}

/// Counts the request against the workspace's plan quota; the headers report what is left.
fn count_request(parts: &mut Parts, state: &AppState, workspace: &WorkspaceId, plan: &str) -> Result<(), ApiError> {
    let quota = state.limits.check_workspace(workspace.as_str(), plan)?;
    if let Some(slot) = parts.extensions.get::<QuotaSlot>() {
        *slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(quota);
    }
    Ok(())
}

impl Auth {
    /// Who is calling, whether or not they owe the workspace a second factor.
    async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
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
                workspace_id,
                role,
                actor: Actor::ApiKey { id: key.to_string(), role: role.as_str().to_owned() },
                user_id: None,
                session_id: None,
                api_key_id: Some(key),
                origin,
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
        let workspace_id =
            WorkspaceId::parse(&claims.tid).map_err(|_| unauthorized("the access token is malformed"))?;
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
            actor: Actor::User { id: user_id.to_string(), role: role.as_str().to_owned() },
            workspace_id,
            role,
            user_id: Some(user_id),
            session_id: Some(claims.sid),
            api_key_id: None,
            origin,
            owes_two_factor: member.owes_two_factor,
        })
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    /// Refuses with 403 `two_factor_required` a member who owes the workspace a second factor.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = Auth::authenticate(parts, state).await?;
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
        Auth::authenticate(parts, state).await.map(TwoFactorExempt)
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
