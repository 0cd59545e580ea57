//! Locations, connected platform accounts, the platforms on offer, and the OAuth connect flow.
//!
//! Everything is under `/api/v1` except the OAuth callback, which the platform redirects the
//! member's browser to: it lives at `/oauth/callback/{platform}` ([`callback_router`]).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::ExposeSecret;
use tidings_connectors::{Platform, describe};
use tidings_core::time::to_rfc3339;
use tidings_core::{ConnectionId, LocationId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::*;
use super::service::{ChannelsError, required_credentials};
use crate::AppState;
use crate::access::{Auth, Permission};
use crate::dashboard::page::PageError;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, Envelope};

/// The endpoints of this module, under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_locations, create_location))
        .routes(routes!(get_location, update_location, delete_location))
        .routes(routes!(list_connections, create_connection))
        .routes(routes!(get_connection, update_connection, delete_connection))
        .routes(routes!(sync_connection))
        .routes(routes!(subscribe_connection_webhooks))
        .routes(routes!(start_oauth))
        .routes(routes!(list_platforms))
}

/// The OAuth callback, at the root (not under `/api/v1`): the platform redirects the member's
/// browser here. Merge it next to the API routes.
pub fn callback_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(oauth_callback))
}

fn location_id(value: &str) -> Result<LocationId, ApiError> {
    LocationId::parse(value).map_err(|_| ApiError::not_found("location"))
}

fn connection_id(value: &str) -> Result<ConnectionId, ApiError> {
    ConnectionId::parse(value).map_err(|_| ApiError::not_found("connection"))
}

fn oauth_platform(value: &str) -> Result<Platform, ApiError> {
    Platform::parse(value).filter(|p| p.uses_oauth()).ok_or_else(|| ApiError::not_found("OAuth platform"))
}

/// The workspace's locations, with connection and review counts and the average rating.
#[utoipa::path(get, path = "/locations", tag = "locations", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<Vec<LocationOut>>), (status = 401, body = ErrorBody)))]
async fn list_locations(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let views = state.channels.locations(&auth.workspace_id).await?;
    Ok(Envelope::new(views.into_iter().map(|v| LocationOut::from_row(v.row, v.stats.as_ref())).collect::<Vec<_>>()))
}

/// Adds a location.
#[utoipa::path(post, path = "/locations", tag = "locations", request_body = LocationIn, security(("bearer" = [])), responses(
    (status = 201, body = Envelope<LocationOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_location(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<LocationIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageLocations)?;
    let view = state.channels.create_location(&auth, body.into()).await?;
    Ok((StatusCode::CREATED, Envelope::new(LocationOut::from_row(view.row, view.stats.as_ref()))))
}

/// One location.
#[utoipa::path(get, path = "/locations/{id}", tag = "locations", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<LocationOut>), (status = 404, body = ErrorBody)))]
async fn get_location(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let view = state.channels.location(&auth.workspace_id, &location_id(&id)?).await?;
    Ok(Envelope::new(LocationOut::from_row(view.row, view.stats.as_ref())))
}

/// Replaces a location's fields.
#[utoipa::path(put, path = "/locations/{id}", tag = "locations", params(("id" = String, Path)), request_body = LocationIn, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<LocationOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_location(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LocationIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageLocations)?;
    let view = state.channels.update_location(&auth, &location_id(&id)?, body.into()).await?;
    Ok(Envelope::new(LocationOut::from_row(view.row, view.stats.as_ref())))
}

/// Removes a location. Its connections and conversations stay, no longer attached to it.
#[utoipa::path(delete, path = "/locations/{id}", tag = "locations", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DeletedOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_location(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageLocations)?;
    state.channels.delete_location(&auth, &location_id(&id)?).await?;
    Ok(Envelope::new(DeletedOut { deleted: true }))
}

/// The workspace's connected accounts and their health (never their credentials).
#[utoipa::path(get, path = "/connections", tag = "channels", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<Vec<ConnectionOut>>), (status = 401, body = ErrorBody)))]
async fn list_connections(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let rows = state.channels.connections(&auth.workspace_id).await?;
    Ok(Envelope::new(rows.into_iter().map(ConnectionOut::from).collect::<Vec<_>>()))
}

/// Connects a platform account with an API key or token (`GET /platforms` lists what each
/// platform needs). 409 `already_connected` when that account is connected already.
#[utoipa::path(post, path = "/connections", tag = "channels", request_body = ConnectionIn, security(("bearer" = [])), responses(
    (status = 201, body = Envelope<ConnectionOut>), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_connection(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ConnectionIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConnectChannels)?;
    let row = state.channels.connect(&auth, body.into()).await?;
    Ok((StatusCode::CREATED, Envelope::new(ConnectionOut::from(row))))
}

/// One connection and its health.
#[utoipa::path(get, path = "/connections/{id}", tag = "channels", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<ConnectionOut>), (status = 404, body = ErrorBody)))]
async fn get_connection(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let row = state.channels.connection(&auth.workspace_id, &connection_id(&id)?).await?;
    Ok(Envelope::new(ConnectionOut::from(row)))
}

/// Renames, moves, pauses or resumes a connection, or changes its sync interval.
#[utoipa::path(patch, path = "/connections/{id}", tag = "channels", params(("id" = String, Path)), request_body = ConnectionPatch, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<ConnectionOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_connection(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ConnectionPatch>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConnectChannels)?;
    let row = state.channels.update_connection(&auth, &connection_id(&id)?, body.into()).await?;
    Ok(Envelope::new(ConnectionOut::from(row)))
}

/// Disconnects an account and forgets its credentials. Its conversations stay in the inbox.
#[utoipa::path(delete, path = "/connections/{id}", tag = "channels", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DeletedOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_connection(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConnectChannels)?;
    state.channels.disconnect(&auth, &connection_id(&id)?).await?;
    Ok(Envelope::new(DeletedOut { deleted: true }))
}

/// Asks for a connection to be synced now; the sync scheduler picks it up on its next tick.
/// 409 `conflict` while it is paused or needs connecting again.
#[utoipa::path(post, path = "/connections/{id}/sync", tag = "channels", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 202, body = Envelope<SyncRequestedOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn sync_connection(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConnectChannels)?;
    let id = connection_id(&id)?;
    let next_sync_at = state.channels.request_sync(&auth.workspace_id, &id).await?;
    let out = SyncRequestedOut { connection_id: id, next_sync_at: to_rfc3339(next_sync_at) };
    Ok((StatusCode::ACCEPTED, Envelope::new(out)))
}

/// Asks the platform again to send the connection's events to our webhook (Meta
/// `subscribed_apps`), as connecting does. The outcome is in `webhookSubscription`: `subscribed`,
/// `failed` with `webhookSubscriptionError`, or `not_applicable`.
#[utoipa::path(post, path = "/connections/{id}/webhook-subscription", tag = "channels", params(("id" = String, Path)),
    security(("bearer" = [])), responses(
    (status = 200, body = Envelope<ConnectionOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn subscribe_connection_webhooks(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConnectChannels)?;
    let row = state.channels.subscribe_webhooks(&auth.workspace_id, &connection_id(&id)?).await?;
    Ok(Envelope::new(ConnectionOut::from(row)))
}

/// Starts connecting a Google or Meta account: returns the platform's consent URL, carrying a
/// single-use `state` valid for ten minutes. The platform sends the member back to
/// `/oauth/callback/{platform}`, which creates one connection per location or Page.
#[utoipa::path(get, path = "/connections/oauth/{platform}/start", tag = "channels",
    params(("platform" = String, Path, description = "`google`, `facebook`, `messenger` or `instagram`"), OAuthStartQuery),
    security(("bearer" = [])), responses(
    (status = 200, body = Envelope<OAuthStartOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "`not_configured`: the server has no OAuth app for this platform"),
    (status = 422, body = ErrorBody)))]
async fn start_oauth(
    State(state): State<AppState>,
    auth: Auth,
    Path(platform): Path<String>,
    Query(query): Query<OAuthStartQuery>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConnectChannels)?;
    auth.user()?;
    let platform = oauth_platform(&platform)?;
    let started = state.channels.start_oauth(&auth, platform, query.location_id.as_deref()).await?;
    Ok(Envelope::new(OAuthStartOut {
        authorize_url: started.authorize_url,
        redirect_uri: started.redirect_uri,
        expires_at: to_rfc3339(started.expires_at),
    }))
}

/// The platforms Tidings connects to: what each brings, how it is connected, and for platforms
/// pushing webhooks the URL to register (and, for roles that connect channels, Meta's verify token).
#[utoipa::path(get, path = "/platforms", tag = "channels", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<Vec<PlatformOut>>), (status = 401, body = ErrorBody)))]
async fn list_platforms(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let channels = &state.channels;
    let platforms = channels.platforms();
    let may_connect = auth.role.can(Permission::ConnectChannels);
    let verify_token = platforms.secrets().meta_verify_token.expose_secret().to_owned();
    let list = Platform::ALL
        .into_iter()
        .map(|p| {
            let pushes = platforms.channel(p).is_some();
            let meta = matches!(p, Platform::Facebook | Platform::Messenger | Platform::Instagram | Platform::Whatsapp);
            PlatformOut {
                platform: p.as_str().to_owned(),
                label: p.label().to_owned(),
                description: describe(p).to_owned(),
                kind: PlatformKind::of(p),
                reply_support: p.reply_support().into(),
                connect_method: if p.uses_oauth() { ConnectMethod::Oauth } else { ConnectMethod::Token },
                oauth_configured: p.uses_oauth() && platforms.oauth(p).is_some(),
                required_credentials: required_credentials(p).iter().map(|c| (*c).to_owned()).collect(),
                webhook_url: p.webhook_path().filter(|_| pushes).map(|path| channels.absolute(path)),
                webhook_object: p.meta_object().map(str::to_owned),
                webhook_secret_configured: pushes.then(|| platforms.webhook_configured(p)),
                verify_token: (pushes && meta && may_connect).then(|| verify_token.clone()),
            }
        })
        .collect::<Vec<_>>();
    Ok(Envelope::new(list))
}

/// Where Google and Meta send the member back after the consent screen (register
/// `{public_url}/oauth/callback/{platform}` as the app's redirect URI). Needs the member's
/// session (the dashboard cookie) and the `state` issued to them. On success, redirects (303)
/// to `/settings/channels?connected=N&reconnected=N&skipped=N`; a declined consent redirects
/// with `error=access_denied`. A bad, expired, used or foreign `state` is 400 `invalid_state`
/// (a page for browsers, the error envelope otherwise).
#[utoipa::path(get, path = "/oauth/callback/{platform}", tag = "channels",
    params(("platform" = String, Path), OAuthCallbackQuery), responses(
    (status = 303, description = "Back to the connections page"),
    (status = 400, body = ErrorBody, description = "`invalid_state`"), (status = 401, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "Not a platform Tidings connects with OAuth"),
    (status = 409, body = ErrorBody, description = "`not_configured`: the platform's OAuth app is not configured"),
    (status = 502, body = ErrorBody, description = "`platform_error`: the platform refused the code or failed")))]
async fn oauth_callback(
    State(state): State<AppState>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    Path(platform): Path<String>,
    Query(query): Query<OAuthCallbackQuery>,
) -> Response {
    let wants_page =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"));
    match complete_oauth(&state, auth, &platform, query).await {
        Ok(location) => Redirect::to(&location).into_response(),
        Err(error) if wants_page => {
            PageError::from(error).with_link("/settings/channels", "Back to connections").into_response()
        }
        Err(error) => error.into_response(),
    }
}

async fn complete_oauth(
    state: &AppState,
    auth: Result<Auth, ApiError>,
    platform: &str,
    query: OAuthCallbackQuery,
) -> Result<String, ApiError> {
    let auth = auth?;
    auth.require(Permission::ConnectChannels)?;
    let platform = oauth_platform(platform)?;
    if let Some(error) = query.error {
        // Only a code-like word goes into our URL.
        let error: String =
            error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect::<String>();
        return Ok(format!("/settings/channels?platform={platform}&error={error}"));
    }
    let (Some(code), Some(oauth_state)) = (query.code, query.state) else {
        return Err(ChannelsError::InvalidState.into());
    };
    let done = state.channels.complete_oauth(&auth, platform, &code, &oauth_state).await?;
    Ok(format!(
        "/settings/channels?platform={platform}&connected={}&reconnected={}&skipped={}",
        done.connected.len(),
        done.reconnected.len(),
        done.skipped
    ))
}
