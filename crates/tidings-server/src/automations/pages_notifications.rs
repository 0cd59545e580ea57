//! The dashboard of each member's notifications (ADR 0024): the bell in the header
//! (`/notifications/bell`, loaded by htmx and reloaded when the live stream announces a
//! notification), `/notifications` (the list, mark read, mark all read), `/settings/notifications`
//! (choices per kind and quiet hours) and `/automations/digests`. Everything goes through the
//! same [`Automations`](super::Automations) methods as the API.

use std::collections::HashMap;
use strum::VariantArray;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tidings_core::time::now_millis;
use tidings_core::{DigestId, NotificationId, UserId};

use super::dto_notifications::{DigestIn, KindChoice, PreferencesIo, QuietHoursIo};
use super::forms::{NoFields, automations_error, form_errors};
use super::members::NotificationKind;
use super::store;
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{FormErrors, PageError};
use crate::identity::Permission;
use crate::identity::session::DashboardUser;
use crate::inbox::pages::{full_time, relative_time};

const BELL: &str = "/notifications";
const SETTINGS: &str = "/settings/notifications";
const DIGESTS: &str = "/automations/digests";

/// The pages and their forms.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route(BELL, get(bell_page).post(mark_all_read))
        .route("/notifications/bell", get(bell_button))
        .route("/notifications/{id}/read", post(mark_one_read))
        .route(SETTINGS, get(settings_page).post(save_settings))
        .route(DIGESTS, get(digests_page).post(add_digest))
        .route("/automations/digests/{id}/remove", post(remove_digest))
}

fn member(user: &DashboardUser) -> Result<UserId, PageError> {
    user.require(Permission::ViewDashboard)?;
    user.auth.user_id.clone().ok_or_else(|| PageError::forbidden("Notifications belong to a signed-in member."))
}

/// The header's bell: a link to the list with the unread count.
#[derive(Template)]
#[template(path = "automations/bell_button.html")]
struct BellButton {
    unread: i64,
}

async fn bell_button(State(state): State<AppState>, user: DashboardUser) -> Result<Response, PageError> {
    let member = member(&user)?;
    let unread = state.automations.unread(&user.auth.workspace_id, &member).await.map_err(automations_error)?;
    Ok(Html(BellButton { unread }.render()?).into_response())
}

struct NotificationView {
    id: String,
    title: String,
    body: String,
    link: String,
    unread: bool,
    quiet: bool,
    when: String,
    when_full: String,
}

#[derive(Template)]
#[template(path = "automations/bell.html")]
struct BellBody<'a> {
    csrf: &'a str,
    unread: i64,
    items: Vec<NotificationView>,
}

async fn bell_page(State(state): State<AppState>, user: DashboardUser, csrf: Csrf) -> Result<Response, PageError> {
    let member = member(&user)?;
    let (unread, rows) = state.automations.bell(&user.auth.workspace_id, &member).await.map_err(automations_error)?;
    let now = now_millis();
    let items = rows
        .into_iter()
        .map(|n| NotificationView {
            unread: n.read_at.is_none(),
            quiet: n.quiet,
            when: relative_time(n.created_at, now),
            when_full: full_time(n.created_at),
            id: n.id.into(),
            title: n.title,
            body: n.body,
            link: n.link.unwrap_or_default(),
        })
        .collect();
    let body = BellBody { csrf: csrf.token(), unread, items };
    let html = user.page(&state, &csrf, BELL, "Notifications", &body).await?;
    Ok((csrf, html).into_response())
}

async fn mark_all_read(
    State(state): State<AppState>,
    user: DashboardUser,
    _form: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    let member = member(&user)?;
    state.automations.mark_read(&user.auth.workspace_id, &member, None).await.map_err(automations_error)?;
    Ok(Redirect::to(BELL).into_response())
}

async fn mark_one_read(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    let member = member(&user)?;
    let id = NotificationId::parse(&id).map_err(|_| PageError::not_found("No such notification."))?;
    state.automations.mark_read(&user.auth.workspace_id, &member, Some(&id)).await.map_err(automations_error)?;
    Ok(Redirect::to(BELL).into_response())
}

#[derive(Template)]
#[template(path = "automations/notification_settings.html")]
struct SettingsBody<'a> {
    csrf: &'a str,
    saved: bool,
    errors: FormErrors,
    kinds: Vec<KindChoice>,
    quiet: QuietHoursIo,
}

async fn render_settings(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    preferences: PreferencesIo,
    errors: FormErrors,
    saved: bool,
) -> Result<Response, PageError> {
    let quiet = preferences.quiet_hours.unwrap_or_else(|| QuietHoursIo {
        start: String::new(),
        end: String::new(),
        time_zone: "UTC".into(),
    });
    let body = SettingsBody { csrf: csrf.token(), saved, errors, kinds: preferences.kinds, quiet };
    let html = user.page(state, &csrf, SETTINGS, "Notification settings", &body).await?;
    Ok((csrf, html).into_response())
}

async fn settings_page(State(state): State<AppState>, user: DashboardUser, csrf: Csrf) -> Result<Response, PageError> {
    let member = member(&user)?;
    let preferences =
        state.automations.preferences(&user.auth.workspace_id, &member).await.map_err(automations_error)?;
    render_settings(&state, &user, csrf, preferences, FormErrors::new(), false).await
}

/// The form: `in_app.{kind}` and `email.{kind}` checkboxes, `quiet_start`, `quiet_end`,
/// `time_zone` (both times empty: no quiet hours).
async fn save_settings(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let member = member(&user)?;
    let field = |name: &str| form.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
    let kinds = NotificationKind::VARIANTS
        .iter()
        .copied()
        .map(|kind| KindChoice {
            kind,
            label: kind.label().to_owned(),
            in_app: form.contains_key(&format!("in_app.{}", kind.as_str())),
            email: form.contains_key(&format!("email.{}", kind.as_str())),
        })
        .collect();
    let (start, end) = (field("quiet_start"), field("quiet_end"));
    let quiet_hours =
        (!start.is_empty() || !end.is_empty()).then(|| QuietHoursIo { start, end, time_zone: field("time_zone") });
    let input = PreferencesIo { kinds, quiet_hours };
    match state.automations.save_preferences(&user.auth.workspace_id, &member, &input).await {
        Ok(saved) => render_settings(&state, &user, csrf, saved, FormErrors::new(), true).await,
        Err(error) => render_settings(&state, &user, csrf, input, form_errors(error)?, false).await,
    }
}

struct DigestView {
    id: String,
    name: String,
    schedule: String,
    destinations: String,
    last: String,
}

struct ChoiceView {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "automations/digests.html")]
struct DigestsBody<'a> {
    csrf: &'a str,
    can_manage: bool,
    errors: FormErrors,
    digests: Vec<DigestView>,
    locations: Vec<ChoiceView>,
    destinations: Vec<ChoiceView>,
}

const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

async fn render_digests(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    errors: FormErrors,
) -> Result<Response, PageError> {
    user.require(Permission::ViewDashboard)?;
    let workspace = &user.auth.workspace_id;
    let destinations = store::destinations(&state.db, workspace).await.map_err(|e| automations_error(e.into()))?;
    let name_of =
        |id: &String| destinations.iter().find(|d| d.id.as_str() == id).map_or(id.clone(), |d| d.name.clone());
    let digests = state
        .automations
        .digests(workspace)
        .await
        .map_err(automations_error)?
        .into_iter()
        .map(|d| {
            let ids: Vec<String> = serde_json::from_str(&d.destination_ids).unwrap_or_default();
            let day = d.weekday.and_then(|w| usize::try_from(w - 1).ok()).and_then(|w| WEEKDAYS.get(w));
            DigestView {
                schedule: match day {
                    Some(day) => format!("every {day} at {:02}:00 ({})", d.hour, d.time_zone),
                    None => format!("every day at {:02}:00 ({})", d.hour, d.time_zone),
                },
                destinations: ids.iter().map(name_of).collect::<Vec<_>>().join(", "),
                last: d.last_period.unwrap_or_else(|| "not sent yet".into()),
                id: d.id.into(),
                name: d.name,
            }
        })
        .collect();
    let locations = crate::inbox::locations::locations(&state.db, workspace)
        .await
        .map_err(|e| automations_error(e.into()))?
        .into_iter()
        .map(|l| ChoiceView { value: l.id.to_string(), label: l.name })
        .collect();
    let body = DigestsBody {
        csrf: csrf.token(),
        can_manage: user.auth.role.can(Permission::ManageAutomations),
        errors,
        digests,
        locations,
        destinations: destinations
            .iter()
            .map(|d| ChoiceView { value: d.id.to_string(), label: d.name.clone() })
            .collect(),
    };
    let html = user.page(state, &csrf, DIGESTS, "Digests", &body).await?;
    Ok((csrf, html).into_response())
}

async fn digests_page(State(state): State<AppState>, user: DashboardUser, csrf: Csrf) -> Result<Response, PageError> {
    render_digests(&state, &user, csrf, FormErrors::new()).await
}

/// The form: `name`, `frequency`, `weekday`, `hour`, `time_zone`, `location_id`, and one
/// `destination` per chosen destination.
async fn add_digest(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageAutomations)?;
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned());
    let input = DigestIn {
        name: field("name").unwrap_or_default(),
        frequency: field("frequency").unwrap_or_default(),
        weekday: field("weekday")
            .and_then(|d| d.parse().ok())
            .filter(|_| field("frequency").as_deref() == Some("weekly")),
        hour: field("hour").and_then(|h| h.parse().ok()).unwrap_or(-1),
        time_zone: field("time_zone").filter(|z| !z.is_empty()),
        location_id: field("location_id").filter(|l| !l.is_empty()),
        destination_ids: form.iter().filter(|(k, _)| k == "destination").map(|(_, v)| v.clone()).collect(),
        enabled: Some(true),
    };
    match state.automations.create_digest(&user.auth.workspace_id, &input).await {
        Ok(_) => Ok(Redirect::to(DIGESTS).into_response()),
        Err(error) => render_digests(&state, &user, csrf, form_errors(error)?).await,
    }
}

async fn remove_digest(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageAutomations)?;
    let id = DigestId::parse(&id).map_err(|_| PageError::not_found("No such digest."))?;
    state.automations.delete_digest(&user.auth.workspace_id, &id).await.map_err(automations_error)?;
    Ok(Redirect::to(DIGESTS).into_response())
}
