//! What is done from the thread: reply (and edit or delete a review's reply), assign, change
//! the status (snooze presets included), confirm a reply posted by hand.
//!
//! Every action is a form posting with the CSRF token. Sent by htmx, the answer is the thread
//! again (with the message next to the field when something was wrong) and an `inbox-changed`
//! trigger so the list refreshes; sent without JavaScript, a redirect back to the thread.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use tidings_connectors::TemplateMessage;

use super::{Rejected, TemplateDraft, find, inbox_error, thread_html, thread_with_notice};
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{FormErrors, PageError};
use crate::identity::Permission;
use crate::identity::session::DashboardUser;
use crate::inbox::model::ConversationStatus;
use crate::inbox::service::{InboxError, ReplyRequest};
use crate::inbox::store::ConversationRow;
use crate::inbox::window::SendAs;
use crate::inbox::zone::SnoozePreset;

#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::inbox::pages) struct ReplyForm {
    text: String,
    /// A checkbox: present when ticked.
    post_to_platform: Option<String>,
    /// Present on forms that always post (message threads).
    always_post: Option<String>,
    /// A checkbox: send the text tagged HUMAN_AGENT.
    human_agent: Option<String>,
    /// An approved WhatsApp template, sent instead of text when named.
    template_name: String,
    template_language: String,
    /// The template's body values, one a line.
    template_parameters: String,
}

impl ReplyForm {
    fn send_as(&self) -> SendAs {
        if !self.template_name.trim().is_empty() {
            return SendAs::Template(TemplateMessage {
                name: self.template_name.trim().to_owned(),
                language: self.template_language.trim().to_owned(),
                body_parameters: self
                    .template_parameters
                    .lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .map(str::to_owned)
                    .collect(),
            });
        }
        if self.human_agent.is_some() { SendAs::HumanAgent } else { SendAs::Text }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::inbox::pages) struct AssignForm {
    /// A member's id; empty for nobody.
    assignee: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(in crate::inbox::pages) struct StatusForm {
    status: String,
    /// A snooze preset (`1h`, `tomorrow`, `next-week`); then `status` is not needed.
    snooze: String,
    /// `YYYY-MM-DDTHH:MM` from a `datetime-local` input.
    snoozed_until: String,
    /// The browser's `getTimezoneOffset()` (minutes behind UTC), filled in by script; UTC without.
    tz_offset: String,
}

#[derive(Deserialize, Default)]
pub(in crate::inbox::pages) struct NoFields {}

/// The answer to an action: the thread again (htmx), or back to the thread's page.
async fn answer(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    headers: &HeaderMap,
    id: &str,
    notice: &'static str,
) -> Result<Response, PageError> {
    if headers.contains_key("hx-request") {
        let conversation = find(state, user, id).await?;
        let html = thread_with_notice(state, user, &csrf, &conversation, None, Some(notice)).await?;
        return Ok((csrf, [("hx-trigger", "inbox-changed")], Html(html)).into_response());
    }
    Ok(Redirect::to(&format!("/inbox/{id}")).into_response())
}

/// An action's field error, shown in the thread (htmx) or on the thread's page (422).
async fn rejected(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    headers: &HeaderMap,
    conversation: &ConversationRow,
    rejected: Rejected<'_>,
) -> Result<Response, PageError> {
    let html = thread_html(state, user, &csrf, conversation, Some(rejected)).await?;
    if headers.contains_key("hx-request") {
        // htmx swaps 2xx answers only: the form comes back with its message as a 200.
        return Ok((csrf, Html(html)).into_response());
    }
    let page = user.page(state, &csrf, "/inbox", "Inbox", &ThreadOnly { thread: html }).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, csrf, page).into_response())
}

/// A thread on its own, for a rejected form sent without JavaScript.
#[derive(Template)]
#[template(
    source = "<p><a href=\"/inbox\">← Inbox</a></p><div id=\"thread-pane\" class=\"thread-pane alone\">{{ thread|safe }}</div>",
    ext = "html"
)]
struct ThreadOnly {
    thread: String,
}

pub(in crate::inbox::pages) async fn reply(
    State(state): State<AppState>,
    user: DashboardUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<ReplyForm>,
) -> Result<Response, PageError> {
    user.require(Permission::SendReplies)?;
    let conversation = find(&state, &user, &id).await?;
    let post_to_platform = form.always_post.is_some() || form.post_to_platform.is_some();
    let cid = &conversation.id;
    let send_as = form.send_as();
    let request = ReplyRequest { author: Some(&user.user_id), text: &form.text, post_to_platform, send_as: &send_as };
    let refusal = match state.inbox.reply(&user.auth.workspace_id, cid, &request).await {
        Ok(_) => return answer(&state, &user, csrf, &headers, conversation.id.as_str(), "Reply saved.").await,
        Err(InboxError::Validation { field, message }) => format!("{} {message}.", field_label(field)),
        Err(InboxError::WindowClosed(message)) => message,
        Err(error) => return Err(inbox_error(error)),
    };
    let mut errors = FormErrors::new();
    errors.add("text", refusal);
    let template = TemplateDraft {
        name: &form.template_name,
        language: &form.template_language,
        parameters: &form.template_parameters,
    };
    let back = Rejected { errors: &errors, draft: &form.text, post_to_platform, template };
    rejected(&state, &user, csrf, &headers, &conversation, back).await
}

/// Saves a new text for a review's reply (posted again where the platform allows).
pub(in crate::inbox::pages) async fn edit_reply(
    State(state): State<AppState>,
    user: DashboardUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<ReplyForm>,
) -> Result<Response, PageError> {
    user.require(Permission::SendReplies)?;
    let conversation = find(&state, &user, &id).await?;
    let cid = &conversation.id;
    let request =
        ReplyRequest { author: Some(&user.user_id), text: &form.text, post_to_platform: true, send_as: &SendAs::Text };
    let refusal = match state.inbox.edit_reply(&user.auth.workspace_id, cid, &request).await {
        Ok(_) => return answer(&state, &user, csrf, &headers, conversation.id.as_str(), "Reply changed.").await,
        Err(InboxError::Validation { field, message }) => format!("{} {message}.", field_label(field)),
        Err(InboxError::Conflict(message)) => format!("The reply cannot be changed now: {message}."),
        Err(error) => return Err(inbox_error(error)),
    };
    let mut errors = FormErrors::new();
    errors.add("text", refusal);
    let back =
        Rejected { errors: &errors, draft: &form.text, post_to_platform: true, template: TemplateDraft::default() };
    rejected(&state, &user, csrf, &headers, &conversation, back).await
}

/// Deletes a review's reply (and removes it from the platform where it was posted).
pub(in crate::inbox::pages) async fn delete_reply(
    State(state): State<AppState>,
    user: DashboardUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::SendReplies)?;
    let conversation = find(&state, &user, &id).await?;
    let cid = &conversation.id;
    state.inbox.delete_reply(&user.auth.workspace_id, cid).await.map_err(inbox_error)?;
    answer(&state, &user, csrf, &headers, conversation.id.as_str(), "Reply deleted.").await
}

/// How the reply form names a field the inbox refused.
fn field_label(field: &str) -> &'static str {
    match field {
        "template.name" => "The template name",
        "template.language" => "The template language",
        "template.bodyParameters" => "The template values",
        "template" => "A template",
        "tag" => "The human-agent tag:",
        _ => "The reply",
    }
}

pub(in crate::inbox::pages) async fn assign(
    State(state): State<AppState>,
    user: DashboardUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<AssignForm>,
) -> Result<Response, PageError> {
    user.require(Permission::SendReplies)?;
    let conversation = find(&state, &user, &id).await?;
    let cid = &conversation.id;
    let assignee = Some(form.assignee.trim()).filter(|value| !value.is_empty());
    state.inbox.assign_to_member(&user.auth, cid, assignee).await.map_err(inbox_error)?;
    answer(&state, &user, csrf, &headers, conversation.id.as_str(), "Assignment saved.").await
}

/// A `datetime-local` value, in the browser's time zone when its offset came along, as unix ms.
fn snooze_time(value: &str, tz_offset: &str) -> Option<i64> {
    let value = value.trim();
    let naive = chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    let offset_minutes = tz_offset.trim().parse::<i64>().unwrap_or(0).clamp(-24 * 60, 24 * 60);
    Some(naive.and_utc().timestamp_millis() + offset_minutes * 60_000)
}

pub(in crate::inbox::pages) async fn set_status(
    State(state): State<AppState>,
    user: DashboardUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<StatusForm>,
) -> Result<Response, PageError> {
    user.require(Permission::SendReplies)?;
    let conversation = find(&state, &user, &id).await?;
    let cid = &conversation.id;
    let changed = match form.snooze.trim().parse::<SnoozePreset>().ok() {
        Some(preset) => state.inbox.snooze(&user.auth, cid, preset).await,
        None => {
            let status: ConversationStatus =
                form.status.trim().parse().map_err(|_| PageError::bad_request("Choose a status."))?;
            let until = snooze_time(&form.snoozed_until, &form.tz_offset);
            state.inbox.set_status(&user.auth, cid, status, until).await
        }
    };
    match changed {
        Ok(_) => answer(&state, &user, csrf, &headers, conversation.id.as_str(), "Status changed.").await,
        Err(InboxError::Validation { message, .. }) => {
            let mut errors = FormErrors::new();
            errors.add("snoozed_until", format!("The snooze time {message}."));
            let back =
                Rejected { errors: &errors, draft: "", post_to_platform: true, template: TemplateDraft::default() };
            rejected(&state, &user, csrf, &headers, &conversation, back).await
        }
        Err(error) => Err(inbox_error(error)),
    }
}

pub(in crate::inbox::pages) async fn confirm_posted_manually(
    State(state): State<AppState>,
    user: DashboardUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::SendReplies)?;
    let conversation = find(&state, &user, &id).await?;
    let cid = &conversation.id;
    state.inbox.confirm_posted_manually(&user.auth.workspace_id, cid).await.map_err(inbox_error)?;
    answer(&state, &user, csrf, &headers, conversation.id.as_str(), "Marked as posted.").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snooze_times_follow_the_browser_zone() {
        let utc = snooze_time("2030-01-01T09:30", "").expect("parses");
        assert_eq!(snooze_time("2030-01-01T09:30", "-60"), Some(utc - 3_600_000), "UTC+1 is an hour earlier");
        assert_eq!(snooze_time("tomorrow", "0"), None);
    }
}
