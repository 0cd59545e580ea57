//! The inbox in the dashboard: `/inbox` (the conversation list and the open thread, updated
//! live), `/reviews` (reviews with their star ratings and a chart per star) and
//! `/reviews/import` (CSV import with a progress bar).
//!
//! Server-rendered and readable without JavaScript: filters are a plain GET form, a thread is
//! its own address (`/inbox/{id}`), actions are forms posting with the CSRF token. With htmx, the
//! same handlers return only the part of the page being replaced, chosen by the `HX-Target`
//! header; `assets/inbox.js` listens to `/api/v1/events` and asks htmx to refresh the list and
//! the open thread when something changes.

mod charts;
mod filters;
mod reviews;
mod thread;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tidings_connectors::Platform;
use tidings_core::ConversationId;
use tidings_core::time::now_millis;

use self::filters::{Chip, FilterForm, FilterQuery, Filters, Tab};
use super::model::ConversationStatus;
use super::store::{ConversationRow, PageStart};
use crate::AppState;
use crate::dashboard::asset_url;
use crate::dashboard::csrf::Csrf;
use crate::dashboard::page::PageError;
use crate::identity::Permission;
use crate::identity::session::DashboardUser;

/// The inbox and reviews pages.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/inbox", get(inbox_page))
        .route("/inbox/{id}", get(thread_page))
        .route("/inbox/{id}/reply", post(thread::reply))
        .route("/inbox/{id}/assign", post(thread::assign))
        .route("/inbox/{id}/status", post(thread::set_status))
        .route("/inbox/{id}/posted-manually", post(thread::confirm_posted_manually))
        .route("/reviews", get(reviews::reviews_page))
        .route("/reviews/import", get(reviews::import_page).post(reviews::import))
        .route("/reviews/import/tasks/{id}", get(reviews::import_progress))
        .route("/inbox/{id}/reply/edit", post(thread::edit_reply))
        .route("/inbox/{id}/reply/delete", post(thread::delete_reply))
        .merge(super::saved_replies::pages::router())
}

/// Conversations per page of the list.
const PAGE_SIZE: i64 = 50;
/// The most rows a live refresh of the list returns (a list scrolled further loads the rest
/// with "Load more" again).
const MAX_REFRESH_ROWS: i64 = 500;

/// The element an htmx request will swap, from its `HX-Target` header; `None` for a whole page.
fn htmx_target(headers: &HeaderMap) -> Option<&str> {
    if !headers.contains_key("hx-request") {
        return None;
    }
    Some(headers.get("hx-target").and_then(|v| v.to_str().ok()).unwrap_or_default())
}

/// "3 min ago", "yesterday", "12 Mar": how long ago `at` (unix ms) was, for people.
pub(crate) fn relative_time(at: i64, now: i64) -> String {
    let seconds = (now - at).max(0) / 1000;
    match seconds {
        s if s < 45 => "just now".to_owned(),
        s if s < 3_600 => format!("{} min ago", (s + 30) / 60),
        s if s < 86_400 => format!("{} h ago", s / 3_600),
        s if s < 2 * 86_400 => "yesterday".to_owned(),
        s if s < 7 * 86_400 => format!("{} days ago", s / 86_400),
        _ => chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at)
            .map(|t| t.format("%-d %b %Y").to_string())
            .unwrap_or_default(),
    }
}

/// `at` (unix ms) as an RFC 3339 instant, for `<time datetime>`.
pub(crate) fn iso_time(at: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// `at` (unix ms) in full, for a tooltip.
pub(crate) fn full_time(at: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A platform's name as people know it.
pub(crate) fn platform_label(platform: &str) -> String {
    Platform::parse(platform).map_or_else(|| platform.to_owned(), |p| p.label().to_owned())
}

/// Five stars, `rating` of them filled: "★★★★☆".
fn stars(rating: i64) -> String {
    let filled = usize::try_from(rating.clamp(0, 5)).unwrap_or(0);
    format!("{}{}", "★".repeat(filled), "☆".repeat(5 - filled))
}

/// How a status reads.
fn status_label(status: ConversationStatus) -> &'static str {
    match status {
        ConversationStatus::Open => "open",
        ConversationStatus::Snoozed => "snoozed",
        ConversationStatus::Closed => "closed",
        ConversationStatus::NeedsHuman => "needs a person",
    }
}

/// The badge colour of a conversation status.
fn status_class(status: ConversationStatus) -> &'static str {
    match status {
        ConversationStatus::Open => "ok",
        ConversationStatus::NeedsHuman => "bad",
        ConversationStatus::Snoozed => "warn",
        ConversationStatus::Closed => "",
    }
}

/// One row of the conversation list.
struct RowView {
    id: String,
    href: String,
    platform: String,
    platform_label: String,
    name: String,
    is_review: bool,
    rating: Option<i64>,
    stars: String,
    preview: String,
    ago: String,
    at_iso: String,
    at_full: String,
    status: String,
    status_label: &'static str,
    status_class: &'static str,
    assignee: String,
    responded: bool,
    location: String,
    selected: bool,
    /// The list position (`activity_key`): "Load more" and live refreshes start from it.
    key: i64,
    /// Sentiment and lead badges (`templates/pipeline/badges.html`).
    badges: super::analysis::Badges,
}

fn row_view(row: ConversationRow, query: &str, selected: Option<&str>, now: i64) -> RowView {
    let suffix = if query.is_empty() { String::new() } else { format!("?{query}") };
    let is_review = super::service::is_review(&row);
    RowView {
        badges: super::analysis::Badges::of(&row),
        href: format!("/inbox/{}{suffix}", row.id),
        selected: selected == Some(row.id.as_str()),
        platform_label: platform_label(&row.platform),
        name: row.contact_name.unwrap_or_else(|| "Unknown".to_owned()),
        is_review,
        stars: row.rating.map(stars).unwrap_or_default(),
        rating: row.rating,
        preview: row.preview,
        ago: relative_time(row.last_message_at, now),
        at_iso: iso_time(row.last_message_at),
        at_full: full_time(row.last_message_at),
        status_label: status_label(row.status),
        status_class: status_class(row.status),
        status: row.status.to_string(),
        assignee: row.assignee_name.unwrap_or_default(),
        responded: row.responded,
        location: row.location_name.unwrap_or_default(),
        key: row.activity_key,
        platform: row.platform,
        id: row.id.into(),
    }
}

/// The rows of one page of the list, and the "Load more" link after them.
#[derive(Template)]
#[template(path = "inbox/rows.html")]
struct RowsPartial {
    rows: Vec<RowView>,
    more: Option<String>,
}

/// The conversation list: its views (Mine, Unassigned, All), the active filters as chips, its
/// count, rows and the address it refreshes itself from.
#[derive(Template)]
#[template(path = "inbox/list.html")]
struct ListPartial {
    tabs: Vec<Tab>,
    chips: Vec<Chip>,
    /// The address without the popover's filters (the search and the view stay).
    clear: String,
    total: i64,
    total_label: String,
    refresh_url: String,
    rows: String,
    filtered: bool,
}

#[derive(Template)]
#[template(path = "inbox/inbox.html")]
struct InboxBody {
    form: FilterForm,
    list: String,
    thread: String,
    has_thread: bool,
    script: String,
}

/// One page of the list and the "Load more" address (the page after its last row, so rows that
/// arrive meanwhile neither repeat nor push one out). A live refresh (`through`) lists every row
/// down to the one the browser showed last, with what arrived since, so "Load more" pages stay.
async fn rows(
    state: &AppState,
    user: &DashboardUser,
    filters: &Filters,
    selected: Option<&str>,
) -> Result<(RowsPartial, i64), PageError> {
    let (start, limit) = match (filters.after, filters.through) {
        (Some(key), _) => (PageStart::After(key), PAGE_SIZE),
        (None, Some(_)) => (PageStart::Offset(0), (filters.shown + PAGE_SIZE).clamp(PAGE_SIZE, MAX_REFRESH_ROWS)),
        (None, None) => (PageStart::Offset(filters.offset), PAGE_SIZE),
    };
    // One row more than shown says whether there is a next page.
    let (mut found, total) = state
        .inbox
        .list(&user.auth.workspace_id, &filters.filter, &start, limit + 1)
        .await
        .map_err(|e| PageError::from(crate::http::ApiError::from(e)))?;
    let mut more = found.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    if let Some(through) = filters.through {
        let listed = found.len();
        found.retain(|row| row.activity_key >= through);
        more |= found.len() < listed;
    }
    let now = now_millis();
    let query = filters.query();
    let more = match found.last() {
        Some(last) if more => Some(filters.link_after("/inbox", last.activity_key)),
        _ => None,
    };
    let rows = found.into_iter().map(|row| row_view(row, &query, selected, now)).collect();
    Ok((RowsPartial { rows, more }, total))
}

/// `/inbox`: the list, no thread open.
async fn inbox_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    headers: HeaderMap,
    Query(query): Query<FilterQuery>,
) -> Result<Response, PageError> {
    render_inbox(&state, &user, csrf, &headers, &query, None).await
}

/// `/inbox/{id}`: the same page with that thread open.
async fn thread_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<FilterQuery>,
) -> Result<Response, PageError> {
    render_inbox(&state, &user, csrf, &headers, &query, Some(&id)).await
}

async fn render_inbox(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    headers: &HeaderMap,
    query: &FilterQuery,
    open: Option<&str>,
) -> Result<Response, PageError> {
    user.require(Permission::ViewConversations)?;
    let conversation = match open {
        Some(id) => Some(thread::find(state, user, id).await?),
        None => None,
    };
    let filters = Filters::parse(query, &user.user_id, None);
    let target = htmx_target(headers);
    // Parts of the page, for htmx.
    match target {
        Some("thread-pane") | Some("thread-messages") if conversation.is_some() => {
            let Some(conversation) = &conversation else { return Err(PageError::not_found("conversation")) };
            let html = if target == Some("thread-messages") {
                thread::messages_html(state, user, &csrf, conversation).await?
            } else {
                thread::thread_html(state, user, &csrf, conversation, None).await?
            };
            return Ok((csrf, Html(html)).into_response());
        }
        Some("load-more") => {
            let (partial, _) = rows(state, user, &filters, open).await?;
            return Ok((csrf, Html(partial.render()?)).into_response());
        }
        Some(_) => {
            let list = list_html(state, user, &filters, open).await?;
            // The address shows only the filters that are set (the form sends every field).
            let push = match open {
                Some(id) => filters.link(&format!("/inbox/{id}"), 0),
                None => filters.link("/inbox", 0),
            };
            let mut response = (csrf, Html(list)).into_response();
            if query.has_blank()
                && filters.errors.is_empty()
                && let Ok(value) = axum::http::HeaderValue::from_str(&push)
            {
                response.headers_mut().insert("hx-push-url", value);
            }
            return Ok(response);
        }
        None if query.has_blank() && filters.errors.is_empty() => {
            let base = open.map_or_else(|| "/inbox".to_owned(), |id| format!("/inbox/{id}"));
            return Ok(Redirect::to(&filters.link(&base, 0)).into_response());
        }
        None => {}
    }
    let list = list_html(state, user, &filters, open).await?;
    let thread = match &conversation {
        Some(conversation) => thread::thread_html(state, user, &csrf, conversation, None).await?,
        None => String::new(),
    };
    let locations = crate::inbox::locations::locations(&state.db, &user.auth.workspace_id).await?;
    let members = state.identity.members(&user.auth.workspace_id).await?;
    let base = match open {
        Some(id) => format!("/inbox/{id}"),
        None => "/inbox".to_owned(),
    };
    let body = InboxBody {
        form: FilterForm::inbox(&filters, &base, &locations, &members),
        list,
        has_thread: conversation.is_some(),
        thread,
        script: asset_url("inbox.js"),
    };
    let title = conversation.as_ref().and_then(|c| c.contact_name.clone()).unwrap_or_else(|| "Inbox".to_owned());
    let html = user.page(state, &csrf, "/inbox", &title, &body).await?;
    let status = if filters.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, csrf, html).into_response())
}

/// The list section, whole (it replaces itself when filters change or something arrives).
async fn list_html(
    state: &AppState,
    user: &DashboardUser,
    filters: &Filters,
    selected: Option<&str>,
) -> Result<String, PageError> {
    // Views and chips lead to the list (an open thread closes): on a phone that is the screen.
    let base = "/inbox";
    let (partial, total) = rows(state, user, filters, selected).await?;
    let workspace = &user.auth.workspace_id;
    let locations = crate::inbox::locations::locations(&state.db, workspace).await?;
    let members = state.identity.members(workspace).await?;
    let form = FilterForm::inbox(filters, base, &locations, &members);
    let list = ListPartial {
        tabs: tabs(state, user, filters, base).await?,
        chips: form.chips(filters, base),
        clear: filters.link_keeping(base, &["q", "assignee"]),
        total,
        total_label: filters.filter.total_label(total),
        refresh_url: filters.link("/inbox", 0),
        rows: partial.render()?,
        filtered: !filters.query().is_empty(),
    };
    Ok(list.render()?)
}

/// Mine, Unassigned and All, each counted with the other filters as they are.
async fn tabs(state: &AppState, user: &DashboardUser, filters: &Filters, base: &str) -> Result<Vec<Tab>, PageError> {
    let current = filters.value("assignee");
    let mut tabs = Vec::with_capacity(3);
    for (label, value, assignee) in [
        ("Mine", Some("me"), Some(Some(user.user_id.to_string()))),
        ("Unassigned", Some("unassigned"), Some(None)),
        ("All", None, None),
    ] {
        let mut filter = filters.filter.clone();
        filter.assignee = assignee;
        let (_, total) = state
            .inbox
            .list(&user.auth.workspace_id, &filter, &PageStart::Offset(0), 0)
            .await
            .map_err(|e| PageError::from(crate::http::ApiError::from(e)))?;
        tabs.push(Tab {
            label,
            count: filter.total_label(total),
            href: filters.link_with(base, "assignee", value),
            current: current == value.unwrap_or_default(),
        });
    }
    Ok(tabs)
}

/// Parses a conversation id from a path; a malformed one is as missing as a foreign one.
fn conversation_id(id: &str) -> Result<ConversationId, PageError> {
    ConversationId::parse(id).map_err(|_| PageError::not_found("There is no such conversation in this workspace."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_like_people_say_them() {
        let now = 1_700_000_000_000;
        assert_eq!(relative_time(now - 10_000, now), "just now");
        assert_eq!(relative_time(now - 5 * 60_000, now), "5 min ago");
        assert_eq!(relative_time(now - 3 * 3_600_000, now), "3 h ago");
        assert_eq!(relative_time(now - 30 * 3_600_000, now), "yesterday");
        assert_eq!(relative_time(now - 3 * 86_400_000, now), "3 days ago");
        assert_eq!(relative_time(0, now), "1 Jan 1970");
        assert_eq!(stars(4), "★★★★☆");
        assert_eq!(stars(9), "★★★★★");
        assert_eq!(platform_label("yelp"), "Yelp");
    }
}
