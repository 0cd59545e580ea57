//! `/reviews`: reviews only, with their stars, a summary (count, average) and a bar chart of how
//! many reviews have each star rating under the current filters; and `/reviews/import`, a CSV
//! import whose progress bar follows the import task.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use tidings_core::time::now_millis;
use tidings_core::{ConversationId, TaskId};

use super::charts::{PageLink, StarBar, WeekColumn, page_links, star_bars, trend_start, week_chart_size, week_columns};
use super::filters::{FilterForm, FilterQuery, Filters};
use super::{PAGE_SIZE, full_time, htmx_target, iso_time, platform_label, relative_time, stars};
use crate::AppState;
use crate::dashboard::asset_url;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::PageError;
use crate::identity::Permission;
use crate::identity::session::DashboardUser;
use crate::inbox::csv::{self, ImportError, RowError};
use crate::inbox::model::ConversationKind;
use crate::inbox::service::InboxError;
use crate::inbox::store::{ConversationRow, MessageRow, PageStart};
use crate::inbox::tasks::TaskStatus;

/// One review of the table.
struct ReviewView {
    id: String,
    href: String,
    platform: String,
    platform_label: String,
    author: String,
    rating: Option<i64>,
    stars: String,
    excerpt: String,
    location: String,
    responded: bool,
    status: String,
    ago: String,
    at_iso: String,
    at_full: String,
}

#[derive(Template)]
#[template(path = "inbox/reviews_results.html")]
struct ResultsPartial {
    reviews: Vec<ReviewView>,
    total_label: String,
    average: String,
    rated: i64,
    bars: Vec<StarBar>,
    weeks: Vec<WeekColumn>,
    week_chart: (u32, u32),
    first: i64,
    last: i64,
    previous: Option<String>,
    next: Option<String>,
    pages: Vec<PageLink>,
    /// The table shows one star rating (a bar was chosen): the address of all of them again.
    all_ratings: Option<String>,
    export: String,
}

#[derive(Template)]
#[template(path = "inbox/reviews.html")]
struct ReviewsBody {
    form: FilterForm,
    results: String,
    can_import: bool,
}

fn inbox_error(error: InboxError) -> PageError {
    PageError::from(crate::http::ApiError::from(error))
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 180;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{}…", cut.trim_end())
}

/// A listed review: the review itself (its first inbound message) gives the text and the date,
/// whatever was said after it; without one (never, once ingested) the conversation's own.
fn review_view(row: ConversationRow, review: Option<MessageRow>, now: i64) -> ReviewView {
    let (text, at) = review.map_or((row.preview, row.last_message_at), |m| (m.body, m.sent_at));
    ReviewView {
        href: format!("/inbox/{}", row.id),
        platform_label: platform_label(&row.platform),
        author: row.contact_name.unwrap_or_else(|| "Unknown".to_owned()),
        stars: row.rating.map(stars).unwrap_or_default(),
        rating: row.rating,
        excerpt: excerpt(&text),
        location: row.location_name.unwrap_or_default(),
        responded: row.responded,
        status: row.status.to_string(),
        ago: relative_time(at, now),
        at_iso: iso_time(at),
        at_full: full_time(at),
        platform: row.platform,
        id: row.id.into(),
    }
}

pub(super) async fn reviews_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    headers: HeaderMap,
    Query(query): Query<FilterQuery>,
) -> Result<Response, PageError> {
    user.require(Permission::ViewConversations)?;
    let workspace = &user.auth.workspace_id;
    let filters = Filters::parse(&query, &user.user_id, Some(ConversationKind::Review));
    let start = PageStart::Offset(filters.offset);
    let (rows, total) = state.inbox.list(workspace, &filters.filter, &start, PAGE_SIZE).await.map_err(inbox_error)?;
    let ids: Vec<ConversationId> = rows.iter().map(|row| row.id.clone()).collect();
    let mut reviews = state.inbox.reviews_of(workspace, &ids).await.map_err(inbox_error)?;
    let now = now_millis();
    let (counts, weeks) =
        state.inbox.review_trends(workspace, &filters.filter, trend_start(now)).await.map_err(inbox_error)?;
    let (bars, rated, average) = star_bars(&counts, &filters);
    let one_rating = bars.iter().any(|b| b.current);
    let shown = i64::try_from(rows.len()).unwrap_or(0);
    let offset = filters.offset;
    let api_query = filters.api_query();
    let results = ResultsPartial {
        reviews: rows
            .into_iter()
            .map(|row| {
                let review = reviews.remove(&row.id);
                review_view(row, review, now)
            })
            .collect(),
        total_label: filters.filter.total_label(total),
        average,
        rated,
        bars,
        first: if shown == 0 { 0 } else { offset + 1 },
        last: offset + shown,
        previous: (offset > 0).then(|| filters.link("/reviews", (offset - PAGE_SIZE).max(0))),
        next: (offset + shown < total).then(|| filters.link("/reviews", offset + PAGE_SIZE)),
        pages: page_links(&filters, total.min(filters.filter.count_cap()), PAGE_SIZE, offset),
        weeks: week_columns(&weeks, now),
        week_chart: week_chart_size(),
        all_ratings: one_rating.then(|| filters.link_setting("/reviews", &[("ratingMin", None), ("ratingMax", None)])),
        export: if api_query.is_empty() {
            "/api/v1/reviews/export.csv".to_owned()
        } else {
            format!("/api/v1/reviews/export.csv?{api_query}")
        },
    }
    .render()?;
    if htmx_target(&headers).is_some() {
        return Ok((csrf, Html(results)).into_response());
    }
    let locations = crate::inbox::locations::locations(&state.db, workspace).await?;
    let body = ReviewsBody {
        form: FilterForm::reviews(&filters, &locations),
        results,
        can_import: user.auth.role.can(Permission::ConnectChannels),
    };
    let html = user.page(&state, &csrf, "/reviews", "Reviews", &body).await?;
    let status = if filters.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, csrf, html).into_response())
}

// ----- import -----

/// An import's progress, and its outcome once done. Polls itself while the task runs.
#[derive(Template)]
#[template(path = "inbox/import_progress.html")]
struct ProgressPartial {
    task_id: String,
    running: bool,
    failed: bool,
    done: i64,
    total: i64,
    percent: i64,
    imported: i64,
    duplicates: i64,
    updated: i64,
    error: String,
}

/// Rows of a refused file.
#[derive(Template)]
#[template(path = "inbox/import_errors.html")]
struct ErrorsPartial {
    count: usize,
    rows: Vec<RowError>,
    message: String,
}

#[derive(Template)]
#[template(path = "inbox/import.html")]
struct ImportBody<'a> {
    csrf: &'a str,
    result: String,
    script: String,
    columns: &'static str,
}

const COLUMNS: &str = "platform, external_id, location, author, rating, title, text, date, email, phone";

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ImportQuery {
    task: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ImportForm {
    /// The file's text: read from the chosen file by script, or pasted.
    csv: String,
}

async fn progress(state: &AppState, user: &DashboardUser, id: &str) -> Result<ProgressPartial, PageError> {
    let not_found = || PageError::not_found("There is no such import in this workspace.");
    let id = TaskId::parse(id).map_err(|_| not_found())?;
    let task = match state.inbox.task(&user.auth.workspace_id, &id).await {
        Ok(task) => task,
        Err(InboxError::NotFound(_)) => return Err(not_found()),
        Err(error) => return Err(inbox_error(error)),
    };
    let summary: serde_json::Value = serde_json::from_str(&task.summary).unwrap_or_default();
    let number = |key: &str| summary.get(key).and_then(serde_json::Value::as_i64).unwrap_or(0);
    Ok(ProgressPartial {
        running: task.status == TaskStatus::Running,
        failed: task.status == TaskStatus::Failed,
        percent: if task.total > 0 { (task.done * 100 / task.total).clamp(0, 100) } else { 100 },
        done: task.done,
        total: task.total,
        imported: number("imported"),
        duplicates: number("duplicates"),
        updated: number("updated"),
        error: task.error.unwrap_or_default(),
        task_id: task.id.to_string(),
    })
}

async fn import_view(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    status: StatusCode,
    result: String,
) -> Result<Response, PageError> {
    let body = ImportBody { csrf: csrf.token(), result, script: asset_url("inbox.js"), columns: COLUMNS };
    let html = user.page(state, &csrf, "/reviews", "Import reviews", &body).await?;
    Ok((status, csrf, html).into_response())
}

/// The import form; `?task=` shows that import's progress (for browsers without script).
pub(super) async fn import_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    headers: HeaderMap,
    Query(query): Query<ImportQuery>,
) -> Result<Response, PageError> {
    user.require(Permission::ConnectChannels)?;
    let result = match query.task.as_deref().filter(|t| !t.is_empty()) {
        Some(task) => progress(&state, &user, task).await?.render()?,
        None => String::new(),
    };
    if htmx_target(&headers).is_some() {
        return Ok((csrf, Html(result)).into_response());
    }
    import_view(&state, &user, csrf, StatusCode::OK, result).await
}

/// `GET /reviews/import/tasks/{id}`: the progress partial, polled by htmx.
pub(super) async fn import_progress(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    user.require(Permission::ConnectChannels)?;
    Ok(Html(progress(&state, &user, &id).await?.render()?).into_response())
}

/// Checks and starts an import; answers with its progress, or the rows at fault (422).
pub(super) async fn import(
    State(state): State<AppState>,
    user: DashboardUser,
    headers: HeaderMap,
    CsrfForm { form, csrf }: CsrfForm<ImportForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ConnectChannels)?;
    let workspace = &user.auth.workspace_id;
    let started = csv::start_import(&state.db, &state.queue, workspace, Some(&user.user_id), form.csv.as_bytes()).await;
    let (status, result) = match started {
        Ok((task, _)) => (StatusCode::OK, progress(&state, &user, task.as_str()).await?.render()?),
        Err(ImportError::Invalid { count, rows }) => {
            let message = if count == 1 {
                "1 problem in the file; nothing was imported.".to_owned()
            } else {
                format!("{count} problems in the file; nothing was imported.")
            };
            (StatusCode::UNPROCESSABLE_ENTITY, ErrorsPartial { count, rows, message }.render()?)
        }
        Err(ImportError::Store(error)) => return Err(error.into()),
        Err(ImportError::Queue(error)) => return Err(PageError::internal(&error)),
    };
    if headers.contains_key("hx-request") {
        // htmx swaps 2xx answers only: the row errors come back as a 200 with their own markup.
        return Ok((csrf, Html(result)).into_response());
    }
    import_view(&state, &user, csrf, status, result).await
}
