//! The open thread: its messages (the customer's on the left, the business's on the right),
//! the replies written in Tidings with where they are, the reply box, assignment and status.
//!
//! Every action is a form posting with the CSRF token. Sent by htmx, the answer is the thread
//! again (with the message next to the field when something was wrong) and an `inbox-changed`
//! trigger so the list refreshes; sent without JavaScript, a redirect back to the thread.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use tidings_connectors::{Platform, ReplySupport, TemplateMessage};
use tidings_core::UserId;
use tidings_core::time::now_millis;

use super::{conversation_id, full_time, iso_time, platform_label, relative_time, stars, status_class, status_label};
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{FormErrors, PageError};
use crate::identity::Permission;
use crate::identity::session::DashboardUser;
use crate::inbox::analysis::{self, MessageAnalysisOut};
use crate::inbox::model::{ConversationStatus, ReplyKind, ResponseStatus};
use crate::inbox::service::{InboxError, MAX_REPLY_CHARS, ReplyRequest};
use crate::inbox::store::{self, ConversationRow, MessageRow, ResponseRow};
use crate::inbox::window::{SendAs, Window};

/// The workspace's conversation named in the path, or the 404 page.
pub(super) async fn find(state: &AppState, user: &DashboardUser, id: &str) -> Result<ConversationRow, PageError> {
    let id = conversation_id(id)?;
    store::conversation(&state.db, &user.auth.workspace_id, &id)
        .await?
        .ok_or_else(|| PageError::not_found("There is no such conversation in this workspace."))
}

struct MessageView {
    inbound: bool,
    author: String,
    body: String,
    title: String,
    rating: Option<i64>,
    stars: String,
    kind: String,
    ago: String,
    at_iso: String,
    at_full: String,
    /// What the AI pipeline understood (`templates/pipeline/analysis.html`).
    analysis: Option<MessageAnalysisOut>,
}

/// A reply written in Tidings that is not (yet) a message of the thread.
struct ResponseView {
    body: String,
    status: String,
    status_label: &'static str,
    status_class: &'static str,
    error: String,
    deep_link: String,
    manual: bool,
    ago: String,
    at_iso: String,
}

#[derive(Template)]
#[template(path = "inbox/messages.html")]
struct MessagesPartial {
    messages: Vec<MessageView>,
    responses: Vec<ResponseView>,
    platform_label: String,
    csrf: String,
    conversation_id: String,
    can_reply: bool,
}

struct MemberChoice {
    id: String,
    name: String,
    selected: bool,
}

struct StatusButton {
    value: &'static str,
    label: &'static str,
    current: bool,
}

#[derive(Template)]
#[template(path = "inbox/thread.html")]
struct ThreadPartial<'a> {
    id: String,
    name: String,
    /// The contact's, when known (empty otherwise); the phone is digits with the country code.
    email: String,
    phone: String,
    platform: String,
    platform_label: String,
    location: String,
    is_review: bool,
    rating: Option<i64>,
    stars: String,
    url: String,
    status: String,
    status_label: &'static str,
    status_class: &'static str,
    snoozed_until: String,
    assignee: String,
    messages: String,
    can_reply: bool,
    manual_only: bool,
    members: Vec<MemberChoice>,
    statuses: Vec<StatusButton>,
    csrf: &'a str,
    errors: &'a FormErrors,
    draft: &'a str,
    template: TemplateDraft<'a>,
    post_to_platform: bool,
    max_chars: usize,
    notice: Option<&'static str>,
    window: WindowView,
}

/// A thread's messaging window as the reply box offers it; everything off for reviews and
/// platforms without one, where the box takes free text.
#[derive(Default)]
struct WindowView {
    /// `open`, `human_agent_only`, `template_only`, `closed`; empty without a window.
    state: &'static str,
    text: String,
    /// The text box (free text, or text tagged HUMAN_AGENT).
    text_box: bool,
    offer_human_agent: bool,
    /// Only HUMAN_AGENT is allowed now: the box is ticked.
    human_agent_only: bool,
    offer_template: bool,
    closed: bool,
}

impl WindowView {
    fn of(window: Option<&Window>) -> Self {
        let Some(window) = window else { return Self { text_box: true, ..Self::default() } };
        let allows = window.allows();
        let offer_human_agent = allows.contains(&ReplyKind::HumanAgent);
        Self {
            state: window.state_name(),
            text: window.describe(),
            text_box: allows.contains(&ReplyKind::Text) || offer_human_agent,
            offer_human_agent,
            human_agent_only: offer_human_agent && !allows.contains(&ReplyKind::Text),
            offer_template: allows.contains(&ReplyKind::Template),
            closed: allows.is_empty(),
        }
    }
}

fn message_view(row: MessageRow, now: i64, analyses: &mut HashMap<String, MessageAnalysisOut>) -> MessageView {
    MessageView {
        analysis: analyses.remove(&row.id),
        inbound: row.direction == "inbound",
        author: row.author_name.unwrap_or_default(),
        title: row.title.unwrap_or_default(),
        stars: row.rating.map(stars).unwrap_or_default(),
        rating: row.rating,
        kind: row.kind,
        ago: relative_time(row.sent_at, now),
        at_iso: iso_time(row.sent_at),
        at_full: full_time(row.sent_at),
        body: row.body,
    }
}

fn response_status_label(status: &str) -> &'static str {
    match ResponseStatus::parse(status) {
        Some(ResponseStatus::Draft) => "draft",
        Some(ResponseStatus::Queued) => "queued",
        Some(ResponseStatus::Sending) => "sending",
        Some(ResponseStatus::Posted) => "posted",
        Some(ResponseStatus::Failed) => "failed",
        Some(ResponseStatus::ManualRequired) => "post it by hand",
        Some(ResponseStatus::PostedManually) => "posted by hand",
        Some(ResponseStatus::Unconfirmed) => "unconfirmed",
        Some(ResponseStatus::Deleted) => "deleted",
        None => "unknown",
    }
}

fn response_view(row: ResponseRow, now: i64) -> ResponseView {
    let status_class = match ResponseStatus::parse(&row.status) {
        Some(ResponseStatus::Posted | ResponseStatus::PostedManually) => "ok",
        Some(ResponseStatus::Failed | ResponseStatus::Unconfirmed) => "bad",
        Some(ResponseStatus::ManualRequired | ResponseStatus::Queued | ResponseStatus::Sending) => "warn",
        _ => "",
    };
    ResponseView {
        manual: row.status == ResponseStatus::ManualRequired.as_str(),
        status_label: response_status_label(&row.status),
        status_class,
        error: row.error.unwrap_or_default(),
        deep_link: row.deep_link.filter(|l| l.starts_with("https://") || l.starts_with("http://")).unwrap_or_default(),
        ago: relative_time(row.updated_at, now),
        at_iso: iso_time(row.updated_at),
        body: row.body,
        status: row.status,
    }
}

/// The messages of the thread and the replies not yet among them.
pub(super) async fn messages_html(
    state: &AppState,
    user: &DashboardUser,
    csrf: &Csrf,
    conversation: &ConversationRow,
) -> Result<String, PageError> {
    let workspace = &user.auth.workspace_id;
    let id = conversation_id(&conversation.id)?;
    let messages = store::messages(&state.db, workspace, &id).await?;
    let responses = store::responses(&state.db, workspace, &id).await?;
    let mut analyses = analysis::of_conversation(&state.db, workspace, &id).await?;
    // A reply the sender posted is recorded as an outbound message: show it once, as the message.
    let delivered: HashSet<&str> = messages.iter().filter_map(|m| m.response_id.as_deref()).collect();
    let now = now_millis();
    let responses: Vec<ResponseView> = responses
        .into_iter()
        .filter(|r| r.status != ResponseStatus::Deleted.as_str() && !delivered.contains(r.id.as_str()))
        .map(|r| response_view(r, now))
        .collect();
    let partial = MessagesPartial {
        messages: messages.into_iter().map(|m| message_view(m, now, &mut analyses)).collect(),
        responses,
        platform_label: platform_label(&conversation.platform),
        csrf: csrf.token().to_owned(),
        conversation_id: conversation.id.clone(),
        can_reply: user.auth.role.can(Permission::SendReplies),
    };
    Ok(partial.render()?)
}

/// The draft and errors of a reply that was not accepted, shown again in the reply box.
pub(super) struct Rejected<'a> {
    errors: &'a FormErrors,
    draft: &'a str,
    post_to_platform: bool,
    /// The template fields as they were sent (WhatsApp).
    template: TemplateDraft<'a>,
}

/// The template fields of a refused reply, shown again.
#[derive(Default, Clone, Copy)]
pub(super) struct TemplateDraft<'a> {
    name: &'a str,
    language: &'a str,
    parameters: &'a str,
}

/// The whole thread pane.
pub(super) async fn thread_html(
    state: &AppState,
    user: &DashboardUser,
    csrf: &Csrf,
    conversation: &ConversationRow,
    rejected: Option<Rejected<'_>>,
) -> Result<String, PageError> {
    thread_with_notice(state, user, csrf, conversation, rejected, None).await
}

async fn thread_with_notice(
    state: &AppState,
    user: &DashboardUser,
    csrf: &Csrf,
    conversation: &ConversationRow,
    rejected: Option<Rejected<'_>>,
    notice: Option<&'static str>,
) -> Result<String, PageError> {
    let messages = messages_html(state, user, csrf, conversation).await?;
    let members = crate::identity::store::members(state.identity.db(), &user.auth.workspace_id).await?;
    let platform = Platform::parse(&conversation.platform);
    let window = state.inbox.messaging_window(&user.auth.workspace_id, conversation).await.map_err(inbox_error)?;
    let no_errors = FormErrors::new();
    let (errors, draft, post_to_platform, template) = match &rejected {
        Some(r) => (r.errors, r.draft, r.post_to_platform, r.template),
        None => (&no_errors, "", true, TemplateDraft::default()),
    };
    let assignee_id = conversation.assignee_id.as_deref().unwrap_or_default();
    let partial = ThreadPartial {
        id: conversation.id.clone(),
        name: conversation.contact_name.clone().unwrap_or_else(|| "Unknown".to_owned()),
        email: conversation.contact_email.clone().unwrap_or_default(),
        phone: conversation.contact_phone.clone().unwrap_or_default(),
        platform: conversation.platform.clone(),
        platform_label: platform_label(&conversation.platform),
        location: conversation.location_name.clone().unwrap_or_default(),
        is_review: conversation.kind == "review",
        stars: conversation.rating.map(stars).unwrap_or_default(),
        rating: conversation.rating,
        url: conversation
            .url
            .clone()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .unwrap_or_default(),
        status: conversation.status.clone(),
        status_label: status_label(&conversation.status),
        status_class: status_class(&conversation.status),
        snoozed_until: conversation.snoozed_until.map(full_time).unwrap_or_default(),
        assignee: conversation.assignee_name.clone().unwrap_or_default(),
        messages,
        can_reply: user.auth.role.can(Permission::SendReplies),
        manual_only: platform.is_none_or(|p| p.reply_support() == ReplySupport::ManualOnly)
            || (conversation.kind == "review" && conversation.connection_id.is_none()),
        members: members
            .into_iter()
            .map(|m| MemberChoice { selected: m.user_id == assignee_id, id: m.user_id, name: m.name })
            .collect(),
        statuses: [
            (ConversationStatus::Open, "Open"),
            (ConversationStatus::NeedsHuman, "Needs a person"),
            (ConversationStatus::Closed, "Close"),
        ]
        .into_iter()
        .map(|(s, label)| StatusButton { value: s.as_str(), label, current: s.as_str() == conversation.status })
        .collect(),
        csrf: csrf.token(),
        errors,
        draft,
        template,
        post_to_platform,
        max_chars: MAX_REPLY_CHARS,
        notice,
        window: WindowView::of(window.as_ref()),
    };
    Ok(partial.render()?)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ReplyForm {
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
pub(super) struct AssignForm {
    /// A member's id; empty for nobody.
    assignee: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct StatusForm {
    status: String,
    /// `YYYY-MM-DDTHH:MM` from a `datetime-local` input.
    snoozed_until: String,
    /// The browser's `getTimezoneOffset()` (minutes behind UTC), filled in by script; UTC without.
    tz_offset: String,
}

#[derive(Deserialize, Default)]
pub(super) struct NoFields {}

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

fn inbox_error(error: InboxError) -> PageError {
    PageError::from(crate::http::ApiError::from(error))
}

pub(super) async fn reply(
    State(state): State<AppState>,
    user: DashboardUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<ReplyForm>,
) -> Result<Response, PageError> {
    user.require(Permission::SendReplies)?;
    let conversation = find(&state, &user, &id).await?;
    let post_to_platform = form.always_post.is_some() || form.post_to_platform.is_some();
    let cid = conversation_id(&conversation.id)?;
    let send_as = form.send_as();
    let request = ReplyRequest { author: Some(&user.user_id), text: &form.text, post_to_platform, send_as: &send_as };
    let refusal = match state.inbox.reply(&user.auth.workspace_id, &cid, &request).await {
        Ok(_) => return answer(&state, &user, csrf, &headers, &conversation.id, "Reply saved.").await,
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

pub(super) async fn assign(
    State(state): State<AppState>,
    user: DashboardUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<AssignForm>,
) -> Result<Response, PageError> {
    user.require(Permission::SendReplies)?;
    let conversation = find(&state, &user, &id).await?;
    let cid = conversation_id(&conversation.id)?;
    let workspace = &user.auth.workspace_id;
    let assignee = match form.assignee.trim() {
        "" => None,
        value => Some(UserId::parse(value).map_err(|_| PageError::bad_request("Choose a member from the list."))?),
    };
    let is_member = match &assignee {
        Some(member) => crate::identity::store::members(state.identity.db(), workspace)
            .await?
            .iter()
            .any(|m| m.user_id == member.as_str()),
        None => true,
    };
    state.inbox.assign(workspace, &cid, assignee.as_ref(), is_member).await.map_err(inbox_error)?;
    answer(&state, &user, csrf, &headers, &conversation.id, "Assignment saved.").await
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

pub(super) async fn set_status(
    State(state): State<AppState>,
    user: DashboardUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<StatusForm>,
) -> Result<Response, PageError> {
    user.require(Permission::SendReplies)?;
    let conversation = find(&state, &user, &id).await?;
    let cid = conversation_id(&conversation.id)?;
    let status =
        ConversationStatus::parse(form.status.trim()).ok_or_else(|| PageError::bad_request("Choose a status."))?;
    let until = snooze_time(&form.snoozed_until, &form.tz_offset);
    match state.inbox.set_status(&user.auth.workspace_id, &cid, status, until).await {
        Ok(_) => answer(&state, &user, csrf, &headers, &conversation.id, "Status changed.").await,
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

pub(super) async fn confirm_posted_manually(
    State(state): State<AppState>,
    user: DashboardUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::SendReplies)?;
    let conversation = find(&state, &user, &id).await?;
    let cid = conversation_id(&conversation.id)?;
    state.inbox.confirm_posted_manually(&user.auth.workspace_id, &cid).await.map_err(inbox_error)?;
    answer(&state, &user, csrf, &headers, &conversation.id, "Marked as posted.").await
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
