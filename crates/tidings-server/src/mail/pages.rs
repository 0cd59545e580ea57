//! `/dev/mail`: the messages the dev transport wrote, newest first, and each one in full.
//! Served only when `mail.transport = "dev"`; otherwise these paths do not exist (404).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tidings_core::Config;
use tidings_core::config::MailTransport;

use super::dev::{self, StoredMail};
use crate::AppState;
use crate::dashboard::{NavItem, asset_url, nav};
use crate::http::ApiError;

/// The pages, when the dev transport is on; no routes otherwise.
pub fn router(config: &Config) -> axum::Router<AppState> {
    if config.mail.transport != MailTransport::Dev {
        return axum::Router::new();
    }
    axum::Router::new()
        .route("/dev/mail", get(list_page))
        .route("/dev/mail/{id}", get(message_page))
        .route("/dev/mail/{id}/eml", get(raw_message))
}

#[derive(Template)]
#[template(path = "mail/dev/list.html")]
struct ListPage {
    nav: Vec<NavItem>,
    css: String,
    htmx: String,
    dir: String,
    mails: Vec<StoredMail>,
}

#[derive(Template)]
#[template(path = "mail/dev/message.html")]
struct MessagePage {
    nav: Vec<NavItem>,
    css: String,
    htmx: String,
    mail: StoredMail,
}

async fn list_page(State(state): State<AppState>) -> Result<Response, ApiError> {
    let dir = dev::mail_dir(&state.config);
    let mails = dev::list(&dir).await.map_err(|e| ApiError::internal(&e))?;
    let page = ListPage {
        nav: nav("/dev/mail"),
        css: asset_url("app.css"),
        htmx: asset_url("htmx.min.js"),
        dir: dir.display().to_string(),
        mails,
    };
    Ok(Html(page.render().map_err(|e| ApiError::internal(&e))?).into_response())
}

async fn message_page(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let dir = dev::mail_dir(&state.config);
    let mail = dev::load(&dir, &id)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| ApiError::not_found("message"))?;
    let page = MessagePage { nav: nav("/dev/mail"), css: asset_url("app.css"), htmx: asset_url("htmx.min.js"), mail };
    Ok(Html(page.render().map_err(|e| ApiError::internal(&e))?).into_response())
}

/// The `.eml` as written, shown as text.
async fn raw_message(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let dir = dev::mail_dir(&state.config);
    let raw = dev::load_raw(&dir, &id)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| ApiError::not_found("message"))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], raw).into_response())
}
