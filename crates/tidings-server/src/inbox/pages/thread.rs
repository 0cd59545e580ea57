//! The open thread: its messages (the customer's on the left, the business's on the right),
//! the replies written in Tidings with who sent them and where they are, the reply box (saved
//! replies offered with "/"; a review's existing reply to edit or delete), assignment and status
//! (Resolve first, snooze presets in the location's time zone). The actions are in `actions.rs`.

use std::collections::{HashMap, HashSet};

use askama::Template;
use tidings_connectors::{Platform, ReplySupport};
use tidings_core::time::now_millis;
use tidings_core::{ResponseId, UserId};

use super::{conversation_id, full_time, iso_time, platform_label, relative_time, stars, status_class, status_label};
use crate::AppState;
use crate::dashboard::csrf::Csrf;
use crate::dashboard::page::{FormErrors, PageError};
use crate::identity::Permission;
use crate::identity::session::DashboardUser;
use crate::inbox::analysis::{self, MessageAnalysisOut};
use crate::inbox::model::{Direction, ReplyKind, ResponseStatus};
use crate::inbox::saved_replies::{self, Fill, SavedReplies};
use crate::inbox::service::{InboxError, MAX_REPLY_CHARS, Thread, is_review};
use crate::inbox::store::{ConversationRow, MessageRow, ResponseRow};
use crate::inbox::window::Window;
use crate::inbox::zone::SnoozePreset;

mod actions;

pub(in crate::inbox::pages) use actions::{
    assign, confirm_posted_manually, delete_reply, edit_reply, reply, set_status,
};

/// The workspace's conversation named in the path, or the 404 page.
pub(super) async fn find(state: &AppState, user: &DashboardUser, id: &str) -> Result<ConversationRow, PageError> {
    let id = conversation_id(id)?;
    match state.inbox.conversation(&user.auth.workspace_id, &id).await {
        Err(InboxError::NotFound(_)) => Err(PageError::not_found("There is no such conversation in this workspace.")),
        found => found.map_err(inbox_error),
    }
}

struct MessageView {
    id: String,
    inbound: bool,
    /// For a reply sent from Tidings: who sent it, and its platform state.
    sent_by: String,
    sent_state: &'static str,
    sent_class: &'static str,
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
    /// Who wrote it ("API" for an API key).
    author: String,
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

/// The reply a review has, to edit or delete.
struct CurrentReply {
    body: String,
    /// It is on the platform: deleting removes it there too.
    posted: bool,
}

/// A saved reply as the reply box offers it.
struct SavedReplyChoice {
    shortcut: String,
    /// The text with the conversation's variables filled in.
    text: String,
    preview: String,
}

/// A snooze preset as the thread offers it, with the local time it means.
struct SnoozeChoice {
    value: &'static str,
    label: &'static str,
    /// "Sat 5 Dec, 09:00".
    when: String,
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
    snooze_choices: Vec<SnoozeChoice>,
    /// A review's reply already written: the box offers Edit and Delete instead of a new one.
    current_reply: Option<CurrentReply>,
    /// The workspace's saved replies, their variables filled for this conversation.
    saved_replies: Vec<SavedReplyChoice>,
    /// The location's time zone the snooze times are in.
    zone: String,
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
        analysis: analyses.remove(row.id.as_str()),
        id: row.id.into(),
        inbound: row.direction == Direction::Inbound,
        sent_by: String::new(),
        sent_state: "",
        sent_class: "",
        author: row.author_name.unwrap_or_default(),
        title: row.title.unwrap_or_default(),
        stars: row.rating.map(stars).unwrap_or_default(),
        rating: row.rating,
        kind: row.kind.to_string(),
        ago: relative_time(row.sent_at, now),
        at_iso: iso_time(row.sent_at),
        at_full: full_time(row.sent_at),
        body: row.body,
    }
}

fn response_status_label(status: ResponseStatus) -> &'static str {
    match status {
        ResponseStatus::Draft => "draft",
        ResponseStatus::Queued => "queued",
        ResponseStatus::Sending => "sending",
        ResponseStatus::Posted => "posted",
        ResponseStatus::Failed => "failed",
        ResponseStatus::ManualRequired => "post it by hand",
        ResponseStatus::PostedManually => "posted by hand",
        ResponseStatus::Unconfirmed => "unconfirmed",
        ResponseStatus::Deleted => "deleted",
    }
}

/// The badge colour of a reply's state.
fn response_status_class(status: ResponseStatus) -> &'static str {
    match status {
        ResponseStatus::Posted | ResponseStatus::PostedManually => "ok",
        ResponseStatus::Failed | ResponseStatus::Unconfirmed => "bad",
        ResponseStatus::ManualRequired | ResponseStatus::Queued | ResponseStatus::Sending => "warn",
        ResponseStatus::Draft | ResponseStatus::Deleted => "",
    }
}

/// Who wrote a reply: the member's name, "a former member", or "API" (an API key's reply).
fn author_name(author_id: Option<&str>, members: &HashMap<String, String>) -> String {
    match author_id {
        Some(id) => members.get(id).cloned().unwrap_or_else(|| "a former member".to_owned()),
        None => "API".to_owned(),
    }
}

fn response_view(row: ResponseRow, now: i64, members: &HashMap<String, String>) -> ResponseView {
    let status_class = response_status_class(row.status);
    ResponseView {
        author: author_name(row.author_id.as_ref().map(UserId::as_str), members),
        manual: row.status == ResponseStatus::ManualRequired,
        status_label: response_status_label(row.status),
        status_class,
        error: row.error.unwrap_or_default(),
        deep_link: row.deep_link.filter(|l| l.starts_with("https://") || l.starts_with("http://")).unwrap_or_default(),
        ago: relative_time(row.updated_at, now),
        at_iso: iso_time(row.updated_at),
        body: row.body,
        status: row.status.to_string(),
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
    let id = &conversation.id;
    let Thread { messages, responses, .. } = state.inbox.thread(workspace, id).await.map_err(inbox_error)?;
    let members: HashMap<String, String> =
        state.identity.members(workspace).await?.into_iter().map(|m| (m.user_id.to_string(), m.name)).collect();
    // A delivered reply shows as its message, with who sent it and where it is.
    let senders: HashMap<ResponseId, (String, ResponseStatus)> = responses
        .iter()
        .map(|r| (r.id.clone(), (author_name(r.author_id.as_ref().map(UserId::as_str), &members), r.status)))
        .collect();
    let mut analyses = analysis::of_conversation(&state.db, workspace, id).await?;
    // A reply the sender posted is recorded as an outbound message: show it once, as the message.
    let delivered: HashSet<&ResponseId> = messages.iter().filter_map(|m| m.response_id.as_ref()).collect();
    let now = now_millis();
    let responses: Vec<ResponseView> = responses
        .into_iter()
        .filter(|r| r.status != ResponseStatus::Deleted && !delivered.contains(&r.id))
        .map(|r| response_view(r, now, &members))
        .collect();
    let messages = messages
        .into_iter()
        .map(|m| {
            let sender = m.response_id.as_ref().and_then(|id| senders.get(id)).cloned();
            let mut view = message_view(m, now, &mut analyses);
            if let Some((by, status)) = sender {
                view.sent_by = by;
                view.sent_state = response_status_label(status);
                view.sent_class = response_status_class(status);
            }
            view
        })
        .collect();
    let partial = MessagesPartial {
        messages,
        responses,
        platform_label: platform_label(&conversation.platform),
        csrf: csrf.token().to_owned(),
        conversation_id: conversation.id.to_string(),
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
    let members = state.identity.members(&user.auth.workspace_id).await?;
    let platform = Platform::parse(&conversation.platform);
    let window = state.inbox.messaging_window(&user.auth.workspace_id, conversation).await.map_err(inbox_error)?;
    let no_errors = FormErrors::new();
    let (errors, draft, post_to_platform, template) = match &rejected {
        Some(r) => (r.errors, r.draft, r.post_to_platform, r.template),
        None => (&no_errors, "", true, TemplateDraft::default()),
    };
    let assignee_id = conversation.assignee_id.as_ref().map(UserId::as_str).unwrap_or_default();
    let workspace = &user.auth.workspace_id;
    let cid = &conversation.id;
    let is_review = is_review(conversation);
    let current_reply = match is_review {
        true => state.inbox.current_reply(workspace, cid).await.map_err(inbox_error)?,
        false => None,
    }
    .filter(|r| r.status != ResponseStatus::Draft)
    .map(|r| CurrentReply { posted: r.status == ResponseStatus::Posted, body: r.body });
    let fill =
        Fill { customer_name: conversation.contact_name.as_deref(), location: conversation.location_name.as_deref() };
    let saved_replies = SavedReplies::new(state.db.clone())
        .list(workspace)
        .await
        .map_err(inbox_error)?
        .into_iter()
        .map(|r| {
            let text = saved_replies::fill(&r.body, &fill);
            let preview: String = text.chars().take(80).collect();
            SavedReplyChoice { shortcut: r.shortcut, text, preview }
        })
        .collect();
    let zone = state.inbox.location_zone(&user.auth.workspace_id, conversation).await.map_err(inbox_error)?;
    let now = now_millis();
    let local = |at: i64| zone.local(at).format("%a %-d %b, %H:%M").to_string();
    let partial = ThreadPartial {
        id: conversation.id.to_string(),
        name: conversation.contact_name.clone().unwrap_or_else(|| "Unknown".to_owned()),
        email: conversation.contact_email.clone().unwrap_or_default(),
        phone: conversation.contact_phone.clone().unwrap_or_default(),
        platform: conversation.platform.clone(),
        platform_label: platform_label(&conversation.platform),
        location: conversation.location_name.clone().unwrap_or_default(),
        is_review,
        stars: conversation.rating.map(stars).unwrap_or_default(),
        rating: conversation.rating,
        url: conversation
            .url
            .clone()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .unwrap_or_default(),
        status: conversation.status.to_string(),
        status_label: status_label(conversation.status),
        status_class: status_class(conversation.status),
        snoozed_until: conversation
            .snoozed_until
            .map(|at| format!("{} {}", zone.local(at).format("%a %-d %b %Y, %H:%M"), zone.name))
            .unwrap_or_default(),
        assignee: conversation.assignee_name.clone().unwrap_or_default(),
        messages,
        can_reply: user.auth.role.can(Permission::SendReplies),
        manual_only: platform.is_none_or(|p| p.reply_support() == ReplySupport::ManualOnly)
            || (is_review && conversation.connection_id.is_none()),
        members: members
            .into_iter()
            .map(|m| MemberChoice {
                selected: m.user_id.as_str() == assignee_id,
                id: m.user_id.to_string(),
                name: m.name,
            })
            .collect(),
        snooze_choices: SnoozePreset::ALL
            .into_iter()
            .map(|p| SnoozeChoice { value: p.as_str(), label: p.label(), when: local(p.until(&zone, now)) })
            .collect(),
        zone: zone.name.clone(),
        current_reply,
        saved_replies,
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

/// An inbox refusal as the error page.
fn inbox_error(error: InboxError) -> PageError {
    PageError::from(crate::http::ApiError::from(error))
}
