//! The status page: version, storage engine, queue depths (as a chart), recent dead letters and
//! webhook deliveries no connection matched.

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tidings_core::time::to_rfc3339;
use tidings_store::queue::{Job, QueueStats};

use crate::AppState;
use crate::channels::webhooks::unmatched::{self, UnmatchedDeliveryOut};
use crate::dashboard::csrf::Csrf;
use crate::dashboard::page::UserMenu;
use crate::dashboard::{NavItem, asset_url, nav_for};
use crate::http::ApiError;
use crate::identity::session::DashboardUser;

/// `/` and `/status`.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/", get(home)).route("/status", get(status_page))
}

/// One bar of the queue chart, in SVG user units.
struct Bar {
    queue: String,
    y: u32,
    ready: u32,
    scheduled: u32,
    running: u32,
    dead: u32,
    total: i64,
}

struct DeadLetterRow {
    id: String,
    queue: String,
    kind: String,
    attempts: i32,
    error: String,
    dead_at: String,
}

#[derive(Template)]
#[template(path = "system/status.html")]
struct StatusPage {
    nav: Vec<NavItem>,
    css: String,
    htmx: String,
    version: &'static str,
    engine: String,
    uptime: String,
    panel: QueuePanel,
    /// Webhook deliveries for accounts no workspace has connected (newest few, and the count).
    unmatched: Vec<UnmatchedDeliveryOut>,
    unmatched_total: i64,
    /// The signed-in member's menu; the page is public (operators read it signed out).
    menu: Option<UserMenu>,
}

#[derive(Template)]
#[template(path = "system/queue_panel.html")]
struct QueuePanel {
    queues: Vec<QueueStats>,
    bars: Vec<Bar>,
    chart_height: u32,
    dead_letters: Vec<DeadLetterRow>,
    dead_total: i64,
}

const CHART_WIDTH: f64 = 560.0;
const ROW_HEIGHT: u32 = 28;

fn bars(queues: &[QueueStats]) -> Vec<Bar> {
    let max = queues.iter().map(|q| q.ready + q.scheduled + q.running + q.dead).max().unwrap_or(0).max(1) as f64;
    let width = |n: i64| ((n as f64 / max) * CHART_WIDTH).round() as u32;
    queues
        .iter()
        .zip(0u32..)
        .map(|(q, row)| Bar {
            queue: q.queue.clone(),
            y: row * ROW_HEIGHT,
            ready: width(q.ready),
            scheduled: width(q.scheduled),
            running: width(q.running),
            dead: width(q.dead),
            total: q.ready + q.scheduled + q.running + q.dead,
        })
        .collect()
}

fn uptime(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

async fn queue_panel(state: &AppState) -> Result<QueuePanel, ApiError> {
    let queues = state.queue.stats().await?;
    let dead = state.queue.dead_letters(None, 10, 0).await?;
    let chart_height = u32::try_from(queues.len()).unwrap_or(0) * ROW_HEIGHT;
    Ok(QueuePanel {
        bars: bars(&queues),
        chart_height,
        queues,
        dead_total: dead.total,
        dead_letters: dead.jobs.into_iter().map(dead_letter_row).collect(),
    })
}

fn dead_letter_row(job: Job) -> DeadLetterRow {
    DeadLetterRow {
        id: job.id.to_string(),
        queue: job.queue,
        kind: job.kind,
        attempts: job.attempts,
        error: job.last_error.unwrap_or_default(),
        dead_at: job.dead_at.map(to_rfc3339).unwrap_or_default(),
    }
}

/// The whole page, or only the queue panel when htmx refreshes it.
async fn status_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Option<DashboardUser>,
    csrf: Csrf,
) -> Result<Response, ApiError> {
    let panel = queue_panel(&state).await?;
    let html = if headers.contains_key("hx-request") {
        panel.render()
    } else {
        let menu = match &user {
            Some(user) => Some(user.menu(&state, &csrf, "/status").await.map_err(|e| ApiError::internal(&e.message))?),
            None => None,
        };
        let (unmatched_total, unmatched) = unmatched::list(&state.db, 10, 0).await?;
        StatusPage {
            nav: nav_for("/status", user.as_ref().map(|u| u.auth.role)),
            menu,
            css: asset_url("app.css"),
            htmx: asset_url("htmx.min.js"),
            version: env!("CARGO_PKG_VERSION"),
            engine: state.db.engine().to_string(),
            uptime: uptime(state.started_at.elapsed().as_secs()),
            panel,
            unmatched,
            unmatched_total,
        }
        .render()
    };
    Ok((csrf, Html(html.map_err(|e| ApiError::internal(&e))?)).into_response())
}

/// The front door: the inbox for a signed-in member, the sign-in page otherwise.
async fn home(user: Option<crate::identity::session::DashboardUser>) -> axum::response::Redirect {
    axum::response::Redirect::to(if user.is_some() { "/inbox" } else { "/sign-in" })
}
