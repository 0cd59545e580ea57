//! `/settings/channels`: the workspace's locations (add, edit, remove) and connected platform
//! accounts with their health (status, last sync, last error, token expiry, cost), with "Sync
//! now", pause/resume and remove; and the platforms to connect: OAuth platforms through their
//! consent screen, the others with an API key or token. Messaging platforms show the webhook
//! address to register with the platform.
//!
//! Every member may read the page; changing locations needs `ManageLocations`, connecting and
//! managing accounts `ConnectChannels`. Actions go through [`Channels`](super::service::Channels) (`state.channels`), like the API's.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use secrecy::ExposeSecret;
use serde::Deserialize;
use tidings_connectors::{Platform, ReplySupport, describe};
use tidings_core::time::now_millis;
use tidings_core::{ConnectionId, LocationId};

use super::dto::WebhookSubscriptionOut;
use super::guides::{guide, is_loopback};
use super::model::{ConnectionChanges, ConnectionInput, ConnectionStatus, CredentialsInput, LocationInput};
use super::service::ChannelsError;
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{FormErrors, PageError};
use crate::http::ApiError;
use crate::identity::Permission;
use crate::identity::session::DashboardUser;
use crate::inbox::pages::{full_time, relative_time};

/// The page and its forms.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/settings/channels", get(channels_page))
        .route("/settings/channels/locations", post(add_location))
        .route("/settings/channels/locations/{id}", post(edit_location))
        .route("/settings/channels/locations/{id}/delete", post(delete_location))
        .route("/settings/channels/connections", post(connect_with_token))
        .route("/settings/channels/connections/{id}/sync", post(sync_now))
        .route("/settings/channels/connections/{id}/subscribe", post(subscribe_webhooks))
        .route("/settings/channels/connections/{id}/pause", post(pause))
        .route("/settings/channels/connections/{id}/resume", post(resume))
        .route("/settings/channels/connections/{id}/remove", post(remove))
        .route("/settings/channels/connections/{id}/location", post(move_to_location))
        .route("/settings/channels/oauth/{platform}", post(start_oauth))
}

const PAGE: &str = "/settings/channels";

struct LocationView {
    id: String,
    name: String,
    address: String,
    city: String,
    country: String,
    phone: String,
    website: String,
    timezone: String,
    connections: i64,
    reviews: i64,
    average: String,
    /// The refused edit of this location is being shown again.
    editing: bool,
    /// What its edit form shows: its fields, or the refused edit.
    form: LocationForm,
    /// The ids of its edit form's fields start with this.
    prefix: String,
}

struct ConnectionView {
    id: String,
    platform: String,
    platform_label: String,
    display_name: String,
    account: String,
    location: String,
    location_id: String,
    status: String,
    status_label: &'static str,
    status_class: &'static str,
    paused: bool,
    last_sync: String,
    last_sync_full: String,
    next_sync: String,
    last_error: String,
    last_error_at: String,
    failures: i64,
    token_expiry: String,
    token_expired: bool,
    cost: String,
    /// `subscribed`, `failed` or empty: whether the platform sends this account's webhooks.
    subscription: &'static str,
    subscription_error: String,
}

struct PlatformView {
    value: &'static str,
    label: &'static str,
    description: &'static str,
    oauth: bool,
    /// OAuth is configured on this server (the button works).
    oauth_ready: bool,
    /// Replies are posted by hand on the platform's site.
    manual_replies: bool,
    /// Where the platform must send webhooks, for platforms that push them.
    webhook_url: String,
    /// The Meta webhook object to register it for (`page`, `instagram`, …), when Meta.
    webhook_object: &'static str,
    /// Meta's verify token, for those who may connect channels; empty otherwise.
    verify_token: String,
    /// The OAuth redirect address to register with the platform's app, for OAuth platforms.
    redirect_uri: String,
    /// What connecting it takes, and the steps.
    needs: &'static str,
    steps: &'static [&'static str],
}

struct LocationChoice {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "channels/channels.html")]
struct ChannelsBody<'a> {
    csrf: &'a str,
    locations: Vec<LocationView>,
    connections: Vec<ConnectionView>,
    platforms: Vec<PlatformView>,
    /// This server's public address; `loopback` when platforms cannot reach it.
    public_url: String,
    loopback: bool,
    choices: Vec<LocationChoice>,
    can_manage_locations: bool,
    can_connect: bool,
    notice: Option<&'static str>,
    errors: &'a FormErrors,
    /// Which form the errors belong to: `add-location`, `location-{id}`, `connect`.
    errors_for: &'a str,
    draft: &'a Draft,
    /// What the "add a location" form shows.
    add_form: LocationForm,
}

/// What was typed into a refused form, shown again.
#[derive(Default)]
struct Draft {
    location: LocationForm,
    connect: ConnectForm,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct LocationForm {
    name: String,
    address: String,
    city: String,
    country: String,
    phone: String,
    website: String,
    timezone: String,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct ConnectForm {
    platform: String,
    external_account_id: String,
    display_name: String,
    location_id: String,
    /// Never shown again.
    access_token: String,
    login: String,
    /// Never shown again.
    secret: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PageQuery {
    done: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OAuthForm {
    location_id: String,
}

#[derive(Deserialize, Default)]
struct NoFields {}

fn optional(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn status_class(status: ConnectionStatus) -> &'static str {
    match status {
        ConnectionStatus::Active => "ok",
        ConnectionStatus::Paused => "warn",
        ConnectionStatus::Error | ConnectionStatus::NeedsReauth => "bad",
    }
}

/// "in 3 days", "in 5 h", or "expired 2 days ago".
fn until(at: i64, now: i64) -> (String, bool) {
    if at <= now {
        return (format!("expired {}", relative_time(at, now)), true);
    }
    let seconds = (at - now) / 1000;
    let text = match seconds {
        s if s < 3_600 => format!("in {} min", (s + 59) / 60),
        s if s < 2 * 86_400 => format!("in {} h", s / 3_600),
        s => format!("in {} days", s / 86_400),
    };
    (text, false)
}

/// Hundredths of a US cent as dollars: `1234` → `$0.12`.
fn dollars(centi_cents: i64) -> String {
    format!("${:.2}", centi_cents as f64 / 10_000.0)
}

async fn render(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    notice: Option<&'static str>,
    errors: &FormErrors,
    errors_for: &str,
    draft: &Draft,
) -> Result<Response, PageError> {
    user.require(Permission::ViewConversations)?;
    let channels = &state.channels;
    let workspace = &user.auth.workspace_id;
    let locations = channels.locations(workspace).await.map_err(channels_error)?;
    let connections = channels.connections(workspace).await.map_err(channels_error)?;
    let now = now_millis();
    let location_name = |id: &Option<LocationId>| {
        id.as_ref()
            .and_then(|id| locations.iter().find(|l| l.row.id == *id))
            .map(|l| l.row.name.clone())
            .unwrap_or_default()
    };
    let connection_views: Vec<ConnectionView> = connections
        .into_iter()
        .map(|c| {
            let (token_expiry, token_expired) = c.token_expires_at.map(|at| until(at, now)).unwrap_or_default();
            ConnectionView {
                platform_label: c.platform.label().to_owned(),
                location: location_name(&c.location_id),
                location_id: c.location_id.clone().map(String::from).unwrap_or_default(),
                status_class: status_class(c.status),
                status_label: match c.status {
                    ConnectionStatus::Active => "active",
                    ConnectionStatus::Error => "sync failing",
                    ConnectionStatus::NeedsReauth => "connect again",
                    ConnectionStatus::Paused => "paused",
                },
                paused: c.status == ConnectionStatus::Paused,
                last_sync: c.last_synced_at.map(|at| relative_time(at, now)).unwrap_or_else(|| "never".to_owned()),
                last_sync_full: c.last_synced_at.map(full_time).unwrap_or_default(),
                next_sync: c
                    .next_sync_at
                    .filter(|_| matches!(c.status, ConnectionStatus::Active | ConnectionStatus::Error))
                    .map(|at| if at <= now { "due now".to_owned() } else { until(at, now).0 })
                    .unwrap_or_default(),
                last_error: c.last_error.clone().unwrap_or_default(),
                last_error_at: c.last_error_at.map(|at| relative_time(at, now)).unwrap_or_default(),
                failures: c.consecutive_failures,
                token_expiry,
                token_expired,
                cost: dollars(c.cost_centi_cents),
                subscription: match WebhookSubscriptionOut::of(c.webhook_subscription) {
                    WebhookSubscriptionOut::Subscribed => "subscribed",
                    WebhookSubscriptionOut::Failed => "failed",
                    WebhookSubscriptionOut::NotApplicable => "",
                },
                subscription_error: c.webhook_subscription_error.unwrap_or_default(),
                id: c.id.into(),
                platform: c.platform.as_str().to_owned(),
                display_name: c.display_name,
                account: c.external_account_id,
                status: c.status.to_string(),
            }
        })
        .collect();
    let may_connect = user.auth.role.can(Permission::ConnectChannels);
    let verify_token = state.platforms.secrets().meta_verify_token.expose_secret().to_owned();
    let public_url = channels.absolute("");
    let platforms = Platform::ALL
        .into_iter()
        .map(|p| {
            let pushes = state.platforms.channel(p).is_some();
            let meta = p.meta_object().is_some();
            let guide = guide(p);
            PlatformView {
                value: p.as_str(),
                label: p.label(),
                description: describe(p),
                oauth: p.uses_oauth(),
                oauth_ready: p.uses_oauth() && state.platforms.oauth(p).is_some(),
                manual_replies: p.reply_support() == ReplySupport::ManualOnly,
                webhook_url: p
                    .webhook_path()
                    .filter(|_| pushes)
                    .map(|path| channels.absolute(path))
                    .unwrap_or_default(),
                webhook_object: p.meta_object().unwrap_or_default(),
                verify_token: if pushes && meta && may_connect { verify_token.clone() } else { String::new() },
                redirect_uri: if p.uses_oauth() {
                    channels.absolute(&format!("/oauth/callback/{}", p.as_str()))
                } else {
                    String::new()
                },
                needs: guide.needs,
                steps: guide.steps,
            }
        })
        .collect();
    let choices =
        locations.iter().map(|l| LocationChoice { id: l.row.id.to_string(), name: l.row.name.clone() }).collect();
    let location_views = locations
        .into_iter()
        .map(|l| {
            let stats = l.stats.as_ref();
            let editing = errors_for == format!("location-{}", l.row.id);
            let form = if editing {
                draft.location.clone()
            } else {
                LocationForm {
                    name: l.row.name.clone(),
                    address: l.row.address.clone().unwrap_or_default(),
                    city: l.row.city.clone().unwrap_or_default(),
                    country: l.row.country.clone().unwrap_or_default(),
                    phone: l.row.phone.clone().unwrap_or_default(),
                    website: l.row.website.clone().unwrap_or_default(),
                    timezone: l.row.timezone.clone(),
                }
            };
            LocationView {
                prefix: format!("location-{}", l.row.id),
                editing,
                form,
                connections: stats.map_or(0, |s| s.connections),
                reviews: stats.map_or(0, |s| s.reviews),
                average: stats.and_then(|s| s.average_rating).map(|a| format!("{a:.1}")).unwrap_or_default(),
                id: l.row.id.to_string(),
                name: l.row.name,
                address: l.row.address.unwrap_or_default(),
                city: l.row.city.unwrap_or_default(),
                country: l.row.country.unwrap_or_default(),
                phone: l.row.phone.unwrap_or_default(),
                website: l.row.website.unwrap_or_default(),
                timezone: l.row.timezone,
            }
        })
        .collect();
    let body = ChannelsBody {
        csrf: csrf.token(),
        locations: location_views,
        connections: connection_views,
        platforms,
        loopback: is_loopback(&public_url),
        public_url,
        choices,
        can_manage_locations: user.auth.role.can(Permission::ManageLocations),
        can_connect: user.auth.role.can(Permission::ConnectChannels),
        notice,
        errors,
        errors_for,
        draft,
        add_form: if errors_for == "add-location" { draft.location.clone() } else { LocationForm::default() },
    };
    let html = user.page(state, &csrf, PAGE, "Locations & channels", &body).await?;
    let status =
        if errors.is_empty() { axum::http::StatusCode::OK } else { axum::http::StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, csrf, html).into_response())
}

fn channels_error(error: ChannelsError) -> PageError {
    PageError::from(ApiError::from(error))
}

/// A refused action: its message next to the field (validation) or above the form.
fn form_errors(error: ChannelsError) -> Result<FormErrors, PageError> {
    let mut errors = FormErrors::new();
    match error {
        ChannelsError::Validation { field, message } => {
            let field = match field {
                "credentials.accessToken" => "access_token",
                "credentials.secret" => "secret",
                "credentials.login" => "login",
                "externalAccountId" => "external_account_id",
                "displayName" => "display_name",
                "locationId" => "location_id",
                other => other,
            };
            let mut message = message;
            if let Some(first) = message.get(..1) {
                message = first.to_uppercase() + &message[1..];
            }
            errors.add(field, format!("{message}."));
        }
        ChannelsError::AlreadyConnected(_) | ChannelsError::Conflict(_) | ChannelsError::NotConfigured(_) => {
            errors.form = Some(format!("{}.", capitalised(&error.to_string())));
        }
        other => return Err(channels_error(other)),
    }
    Ok(errors)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

fn done(what: &str) -> Response {
    Redirect::to(&format!("{PAGE}?done={what}")).into_response()
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "location-added" => "Location added.",
        "location-saved" => "Location saved.",
        "location-deleted" => "Location removed. Its conversations stay in the inbox.",
        "connected" => "Account connected. Its first sync starts in a moment.",
        "sync-requested" => "Sync requested: it starts within a minute.",
        "subscription-checked" => "Webhook subscription asked again; its state is shown on the account.",
        "paused" => "Syncing paused.",
        "resumed" => "Syncing resumed.",
        "moved" => "Account moved, with its conversations.",
        "removed" => "Account disconnected. Its conversations stay in the inbox.",
        _ => return None,
    })
}

async fn channels_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    render(&state, &user, csrf, notice(query.done.as_deref()), &FormErrors::new(), "", &Draft::default()).await
}

fn location_input(form: &LocationForm) -> LocationInput {
    LocationInput {
        name: form.name.clone(),
        address: optional(&form.address),
        city: optional(&form.city),
        country: optional(&form.country),
        phone: optional(&form.phone),
        website: optional(&form.website),
        timezone: optional(&form.timezone),
    }
}

fn location_id(id: &str) -> Result<LocationId, PageError> {
    LocationId::parse(id).map_err(|_| PageError::not_found("There is no such location in this workspace."))
}

fn connection_id(id: &str) -> Result<ConnectionId, PageError> {
    ConnectionId::parse(id).map_err(|_| PageError::not_found("There is no such connection in this workspace."))
}

async fn add_location(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<LocationForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageLocations)?;
    match state.channels.create_location(&user.auth, location_input(&form)).await {
        Ok(_) => Ok(done("location-added")),
        Err(error) => {
            let errors = form_errors(error)?;
            let draft = Draft { location: form, ..Draft::default() };
            render(&state, &user, csrf, None, &errors, "add-location", &draft).await
        }
    }
}

async fn edit_location(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<LocationForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageLocations)?;
    let id = location_id(&id)?;
    match state.channels.update_location(&user.auth, &id, location_input(&form)).await {
        Ok(_) => Ok(done("location-saved")),
        Err(ChannelsError::NotFound(_)) => Err(PageError::not_found("There is no such location in this workspace.")),
        Err(error) => {
            let errors = form_errors(error)?;
            let draft = Draft { location: form, ..Draft::default() };
            render(&state, &user, csrf, None, &errors, &format!("location-{id}"), &draft).await
        }
    }
}

async fn delete_location(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageLocations)?;
    let id = location_id(&id)?;
    state.channels.delete_location(&user.auth, &id).await.map_err(channels_error)?;
    Ok(done("location-deleted"))
}

async fn connect_with_token(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<ConnectForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ConnectChannels)?;
    let input = ConnectionInput {
        platform: form.platform.clone(),
        external_account_id: form.external_account_id.clone(),
        display_name: form.display_name.clone(),
        location_id: optional(&form.location_id),
        credentials: CredentialsInput {
            access_token: optional(&form.access_token),
            refresh_token: None,
            secret: optional(&form.secret),
            login: optional(&form.login),
        },
        sync_interval_secs: None,
    };
    match state.channels.connect(&user.auth, input).await {
        Ok(_) => Ok(done("connected")),
        Err(error) => {
            let errors = form_errors(error)?;
            let draft = Draft {
                connect: ConnectForm { access_token: String::new(), secret: String::new(), ..form },
                ..Draft::default()
            };
            render(&state, &user, csrf, None, &errors, "connect", &draft).await
        }
    }
}

/// Runs a connection action; a refusal (paused, needs reconnecting) is shown above the list.
async fn connection_action(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    outcome: Result<(), ChannelsError>,
    what: &str,
) -> Result<Response, PageError> {
    match outcome {
        Ok(()) => Ok(done(what)),
        Err(ChannelsError::NotFound(_)) => Err(PageError::not_found("There is no such connection in this workspace.")),
        Err(error) => {
            let errors = form_errors(error)?;
            render(state, user, csrf, None, &errors, "connections", &Draft::default()).await
        }
    }
}

async fn sync_now(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ConnectChannels)?;
    let id = connection_id(&id)?;
    let outcome = state.channels.request_sync(&user.auth.workspace_id, &id).await.map(|_| ());
    connection_action(&state, &user, csrf, outcome, "sync-requested").await
}

/// Asks the platform again to send the connection's webhooks (Meta `subscribed_apps`).
async fn subscribe_webhooks(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ConnectChannels)?;
    let id = connection_id(&id)?;
    let outcome = state.channels.subscribe_webhooks(&user.auth.workspace_id, &id).await.map(|_| ());
    connection_action(&state, &user, csrf, outcome, "subscription-checked").await
}

/// Applies one change to a connection and reports it as `what`.
async fn patch_connection(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    id: &str,
    patch: ConnectionChanges,
    what: &str,
) -> Result<Response, PageError> {
    user.require(Permission::ConnectChannels)?;
    let id = connection_id(id)?;
    let outcome = state.channels.update_connection(&user.auth, &id, patch).await.map(|_| ());
    connection_action(state, user, csrf, outcome, what).await
}

async fn pause(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    let patch = ConnectionChanges { paused: Some(true), ..ConnectionChanges::default() };
    patch_connection(&state, &user, csrf, &id, patch, "paused").await
}

async fn resume(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    let patch = ConnectionChanges { paused: Some(false), ..ConnectionChanges::default() };
    patch_connection(&state, &user, csrf, &id, patch, "resumed").await
}

/// The location chosen for a connection: empty for none.
#[derive(Deserialize)]
struct LocationChoiceForm {
    #[serde(default)]
    location_id: String,
}

/// Files an account (and its conversations) under another location, or under none.
async fn move_to_location(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<LocationChoiceForm>,
) -> Result<Response, PageError> {
    let location = Some(form.location_id).filter(|l| !l.is_empty());
    let patch = ConnectionChanges { location_id: Some(location), ..ConnectionChanges::default() };
    patch_connection(&state, &user, csrf, &id, patch, "moved").await
}

async fn remove(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ConnectChannels)?;
    let id = connection_id(&id)?;
    let outcome = state.channels.disconnect(&user.auth, &id).await;
    connection_action(&state, &user, csrf, outcome, "removed").await
}

/// Starts the platform's consent screen: a fresh `state` is stored and the browser sent there.
async fn start_oauth(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(platform): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<OAuthForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ConnectChannels)?;
    let platform = Platform::parse(&platform)
        .filter(|p| p.uses_oauth())
        .ok_or_else(|| PageError::not_found("There is no such platform to connect with OAuth."))?;
    let location = optional(&form.location_id);
    match state.channels.start_oauth(&user.auth, platform, location.as_deref()).await {
        Ok(started) => Ok(Redirect::to(&started.authorize_url).into_response()),
        Err(error) => {
            let errors = form_errors(error)?;
            render(&state, &user, csrf, None, &errors, "connect", &Draft::default()).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_cost_read_plainly() {
        let now = 1_700_000_000_000;
        assert_eq!(until(now + 3 * 86_400_000, now), ("in 3 days".to_owned(), false));
        assert_eq!(until(now + 90 * 60_000, now), ("in 1 h".to_owned(), false));
        assert!(until(now - 1, now).1);
        assert_eq!(dollars(1234), "$0.12");
        assert_eq!(dollars(0), "$0.00");
    }
}
