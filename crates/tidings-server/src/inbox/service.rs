//! What a team does with the inbox: reply (posted where the platform allows, a draft with a
//! deep link where it does not), assign, change status. No HTTP here.

use serde_json::json;
use tidings_connectors::{Platform, ReplySupport};
use tidings_core::time::now_millis;
use tidings_core::{ConversationId, ResponseId, UserId, WorkspaceId};
use tidings_store::queue::{Queue, QueueError};
use tidings_store::{Db, StoreError};

use super::live::{Live, LiveEvent};
use super::model::{ConversationKind, ConversationStatus, ResponseStatus};
use super::outbox;
use super::store::{
    self, ConversationFilter, ConversationRow, MessageRow, NewResponse, PageStart, ResponseRow, ResponseUpdate, WeekRow,
};
use super::window::{self, SendAs, Window};
use crate::access::Caller;
use crate::audit::{self, AuditEntry};
use crate::identity::store as identity_store;

mod reads;

use super::zone::{SnoozePreset, Zone};
pub use reads::{ConversationPage, ReviewRows, Thread};

/// Why an inbox action failed.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field}: {message}")]
    Validation { field: &'static str, message: String },
    #[error("{0}")]
    Conflict(String),
    /// The thread's messaging window does not allow this reply (the message says what it allows).
    #[error("{0}")]
    WindowClosed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// The longest reply accepted (Google allows 4,096 characters; the others less or similar).
pub const MAX_REPLY_CHARS: usize = 4_000;

/// The inbox's actions, shared by the API and the dashboard.
#[derive(Clone)]
pub struct Inbox {
    db: Db,
    queue: Queue,
    live: Live,
}

/// A reply to write.
pub struct ReplyRequest<'a> {
    /// The member writing it; `None` for an API key.
    pub author: Option<&'a UserId>,
    pub text: &'a str,
    /// Post it to the platform (when it allows), or keep it as a draft.
    pub post_to_platform: bool,
    /// Free text, tagged `HUMAN_AGENT`, or a WhatsApp template (then `text` is empty).
    pub send_as: &'a SendAs,
}

impl Inbox {
    pub fn new(db: Db, queue: Queue, live: Live) -> Self {
        Self { db, queue, live }
    }

    /// The live-event hub.
    pub fn live(&self) -> &Live {
        &self.live
    }

    /// The workspace's conversation, or `NotFound`.
    pub async fn conversation(
        &self,
        workspace: &WorkspaceId,
        id: &ConversationId,
    ) -> Result<ConversationRow, InboxError> {
        store::conversation(&self.db, workspace, id).await?.ok_or(InboxError::NotFound("conversation"))
    }

    /// The messaging window of a Messenger, Instagram or WhatsApp thread, now; `None` for
    /// reviews and platforms without one.
    pub async fn messaging_window(
        &self,
        workspace: &WorkspaceId,
        conversation: &ConversationRow,
    ) -> Result<Option<Window>, InboxError> {
        let last_inbound_at = store::last_inbound_at(&self.db, workspace, &conversation.id).await?;
        Ok(window::window_of(conversation, last_inbound_at, now_millis()))
    }

    /// Writes a reply. Posted through the outbound queue when asked and the platform allows;
    /// kept with a deep link (`manual_required`) when the platform's API takes no replies. A
    /// reply the thread's messaging window does not allow is refused before anything is stored.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, conversation_id = %id))]
    pub async fn reply(
        &self,
        workspace: &WorkspaceId,
        id: &ConversationId,
        request: &ReplyRequest<'_>,
    ) -> Result<ResponseRow, InboxError> {
        let text = match request.send_as {
            SendAs::Template(template) if request.text.trim().is_empty() => window::template_summary(template),
            SendAs::Template(_) => {
                return Err(InboxError::Validation {
                    field: "text",
                    message: "must be empty when sending a template (its words are approved in WhatsApp Manager)"
                        .into(),
                });
            }
            SendAs::Text | SendAs::HumanAgent => validate_text(request.text)?,
        };
        let conversation = self.conversation(workspace, id).await?;
        let window = self.messaging_window(workspace, &conversation).await?;
        window::check(&conversation, window.as_ref(), request.send_as)?;
        let platform = Platform::parse(&conversation.platform);
        let in_reply_to = store::first_inbound(&self.db, workspace, id).await?;
        let (status, deep_link) = plan(&conversation, platform, request.post_to_platform);
        let response_id = ResponseId::generate();
        let in_reply_to_id = in_reply_to.as_ref().map(|m| m.id.clone());
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::insert_response(
            &mut tx,
            workspace,
            &NewResponse {
                id: &response_id,
                conversation_id: id,
                in_reply_to: in_reply_to_id.as_ref(),
                author_id: request.author,
                body: &text,
                status,
                post_to_platform: request.post_to_platform,
                deep_link: deep_link.as_deref(),
                kind: request.send_as.kind(),
                template: match request.send_as {
                    SendAs::Template(template) => Some(template),
                    SendAs::Text | SendAs::HumanAgent => None,
                },
            },
        )
        .await?;
        if status == ResponseStatus::Queued {
            outbox::enqueue_send(&self.queue, &mut tx, workspace, &response_id).await?;
        }
        tx.commit().await?;
        self.live.publish(vec![LiveEvent::new(workspace, "conversation.updated", id)]).await;
        store::response(&self.db, workspace, &response_id).await?.ok_or(InboxError::NotFound("response"))
    }

    /// Replaces the text of the current reply; a posted reply is posted again (platforms that
    /// allow replies treat it as an edit).
    pub async fn edit_reply(
        &self,
        workspace: &WorkspaceId,
        id: &ConversationId,
        request: &ReplyRequest<'_>,
    ) -> Result<ResponseRow, InboxError> {
        let Some(current) = store::current_response(&self.db, workspace, id).await? else {
            return self.reply(workspace, id, request).await;
        };
        let conversation = self.conversation(workspace, id).await?;
        if !is_review(&conversation) {
            // Re-posting would send a new message, past the checks of the messaging window.
            return Err(InboxError::Conflict("a message sent in a thread cannot be edited; send a new one".into()));
        }
        let text = validate_text(request.text)?;
        if matches!(current.status, ResponseStatus::Queued | ResponseStatus::Sending) {
            return Err(InboxError::Conflict("the reply is being posted; try again in a moment".into()));
        }
        let (status, _) = plan(&conversation, Platform::parse(&conversation.platform), request.post_to_platform);
        let response_id = current.id.clone();
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let update = ResponseUpdate { body: Some(&text), ..ResponseUpdate::to(status) };
        store::update_response(&mut tx, workspace, &response_id, &update).await?;
        if status == ResponseStatus::Queued {
            outbox::enqueue_send(&self.queue, &mut tx, workspace, &response_id).await?;
        }
        tx.commit().await?;
        self.live.publish(vec![LiveEvent::new(workspace, "conversation.updated", id)]).await;
        store::response(&self.db, workspace, &response_id).await?.ok_or(InboxError::NotFound("response"))
    }

    /// Deletes the current reply, and removes it from the platform where it was posted.
    pub async fn delete_reply(&self, workspace: &WorkspaceId, id: &ConversationId) -> Result<(), InboxError> {
        let current =
            store::current_response(&self.db, workspace, id).await?.ok_or(InboxError::NotFound("response"))?;
        let response_id = current.id.clone();
        let was_posted = current.status == ResponseStatus::Posted;
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let update = ResponseUpdate::to(ResponseStatus::Deleted);
        store::update_response(&mut tx, workspace, &response_id, &update).await?;
        if was_posted {
            outbox::enqueue_delete(&self.queue, &mut tx, workspace, &response_id).await?;
        }
        store::set_responded(&mut tx, workspace, id, false).await?;
        tx.commit().await?;
        self.live.publish(vec![LiveEvent::new(workspace, "conversation.updated", id)]).await;
        Ok(())
    }

    /// Records that someone posted a `manual_required` reply by hand on the platform.
    pub async fn confirm_posted_manually(
        &self,
        workspace: &WorkspaceId,
        id: &ConversationId,
    ) -> Result<ResponseRow, InboxError> {
        let current =
            store::current_response(&self.db, workspace, id).await?.ok_or(InboxError::NotFound("response"))?;
        if !matches!(
            current.status,
            ResponseStatus::ManualRequired | ResponseStatus::Draft | ResponseStatus::Unconfirmed
        ) {
            return Err(InboxError::Conflict(format!(
                "the reply is {}, not waiting to be posted by hand",
                current.status
            )));
        }
        let response_id = current.id.clone();
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let update = ResponseUpdate {
            status: ResponseStatus::PostedManually,
            body: None,
            error: None,
            external_id: None,
            posted_at: Some(now_millis()),
            count_attempt: false,
        };
        store::update_response(&mut tx, workspace, &response_id, &update).await?;
        store::set_responded(&mut tx, workspace, id, true).await?;
        tx.commit().await?;
        self.live.publish(vec![LiveEvent::new(workspace, "conversation.updated", id)]).await;
        store::response(&self.db, workspace, &response_id).await?.ok_or(InboxError::NotFound("response"))
    }

    /// Assigns the conversation to `assignee` (a member id, as submitted), or to nobody. Refused
    /// with 404 when the conversation is not the workspace's, and as a validation error on
    /// `assigneeId` when the id is malformed or not of a member of the workspace.
    pub async fn assign_to_member(
        &self,
        caller: &Caller,
        id: &ConversationId,
        assignee: Option<&str>,
    ) -> Result<ConversationRow, InboxError> {
        let workspace = &caller.workspace_id;
        self.conversation(workspace, id).await?;
        let refused = |message: &str| InboxError::Validation { field: "assigneeId", message: message.into() };
        let assignee = assignee.map(|a| UserId::parse(a).map_err(|_| refused("is not a member id"))).transpose()?;
        if let Some(user) = &assignee
            && identity_store::role_of(&self.db, workspace, user).await?.is_none()
        {
            return Err(refused("is not a member of this workspace"));
        }
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let found = store::assign(&mut tx, workspace, id, assignee.as_ref()).await?;
        if found {
            let entry = AuditEntry::by(caller, "conversation.assigned", "conversation")
                .on(id)
                .with(json!({ "assignee": assignee.as_ref().map(UserId::as_str) }));
            audit::record(&mut tx, workspace, entry).await?;
        }
        tx.commit().await?;
        if !found {
            return Err(InboxError::NotFound("conversation"));
        }
        self.live.publish(vec![LiveEvent::new(workspace, "conversation.updated", id)]).await;
        self.conversation(workspace, id).await
    }

    /// Changes the status; snoozing needs a time in the future. Audited as the caller.
    pub async fn set_status(
        &self,
        caller: &Caller,
        id: &ConversationId,
        status: ConversationStatus,
        snoozed_until: Option<i64>,
    ) -> Result<ConversationRow, InboxError> {
        let workspace = &caller.workspace_id;
        let snoozed_until = match status {
            ConversationStatus::Snoozed => match snoozed_until {
                Some(at) if at > now_millis() => Some(at),
                Some(_) => {
                    return Err(InboxError::Validation {
                        field: "snoozedUntil",
                        message: "must be in the future".into(),
                    });
                }
                None => {
                    return Err(InboxError::Validation {
                        field: "snoozedUntil",
                        message: "is required when snoozing".into(),
                    });
                }
            },
            _ => None,
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let found = store::set_status(&mut tx, workspace, id, status, snoozed_until).await?;
        if found {
            let entry = AuditEntry::by(caller, "conversation.status_changed", "conversation")
                .on(id)
                .with(json!({ "status": status.as_str(), "snoozedUntil": snoozed_until }));
            audit::record(&mut tx, workspace, entry).await?;
        }
        tx.commit().await?;
        if !found {
            return Err(InboxError::NotFound("conversation"));
        }
        self.live.publish(vec![LiveEvent::new(workspace, "conversation.updated", id)]).await;
        self.conversation(workspace, id).await
    }

    /// One page of the inbox list (newest activity first) and how many match in all.
    pub async fn list(
        &self,
        workspace: &WorkspaceId,
        filter: &ConversationFilter,
        start: &PageStart,
        limit: i64,
    ) -> Result<(Vec<ConversationRow>, i64), InboxError> {
        Ok(store::list_conversations(&self.db, workspace, filter, start, limit).await?)
    }

    /// The reviews page's figures for `filter`: how many reviews have each star rating, and
    /// the weeks from `since` (unix ms) with how many reviews came and their ratings.
    pub async fn review_trends(
        &self,
        workspace: &WorkspaceId,
        filter: &ConversationFilter,
        since: i64,
    ) -> Result<(Vec<(i64, i64)>, Vec<WeekRow>), InboxError> {
        let counts = store::rating_counts(&self.db, workspace, filter).await?;
        let weeks = store::weekly_reviews(&self.db, workspace, filter, since).await?;
        Ok((counts, weeks))
    }

    /// The review message (the first inbound one) of each of these conversations, by id.
    pub async fn reviews_of(
        &self,
        workspace: &WorkspaceId,
        ids: &[ConversationId],
    ) -> Result<std::collections::HashMap<ConversationId, MessageRow>, InboxError> {
        Ok(store::first_inbound_of(&self.db, workspace, ids).await?)
    }

    /// The current reply (the newest not deleted) of a conversation, if any.
    pub async fn current_reply(
        &self,
        workspace: &WorkspaceId,
        id: &ConversationId,
    ) -> Result<Option<ResponseRow>, InboxError> {
        Ok(store::current_response(&self.db, workspace, id).await?)
    }

    /// The time zone of the conversation's location (UTC without a location, or when the host
    /// does not know the zone): where "tomorrow 9:00" is.
    pub async fn location_zone(
        &self,
        workspace: &WorkspaceId,
        conversation: &ConversationRow,
    ) -> Result<Zone, InboxError> {
        let Some(location) = &conversation.location_id else {
            return Ok(Zone::utc());
        };
        let row = super::locations::location(&self.db, workspace, location).await?;
        Ok(row.map_or_else(Zone::utc, |l| Zone::named(&l.timezone)))
    }

    /// Snoozes until a preset time (in an hour; tomorrow or next Monday at 9:00 in the
    /// location's time zone); the conversation opens again then, or when the customer writes.
    pub async fn snooze(
        &self,
        caller: &Caller,
        id: &ConversationId,
        preset: SnoozePreset,
    ) -> Result<ConversationRow, InboxError> {
        let workspace = &caller.workspace_id;
        let conversation = self.conversation(workspace, id).await?;
        let zone = self.location_zone(workspace, &conversation).await?;
        let until = preset.until(&zone, now_millis());
        self.set_status(caller, id, ConversationStatus::Snoozed, Some(until)).await
    }
}

/// What happens to a new reply: queued for the platform, kept as a draft, or waiting to be
/// posted by hand (with the link to do it).
fn plan(
    conversation: &ConversationRow,
    platform: Option<Platform>,
    post_to_platform: bool,
) -> (ResponseStatus, Option<String>) {
    let manual = |platform: Option<Platform>| {
        (ResponseStatus::ManualRequired, platform.map(|p| p.deep_link(conversation.url.as_deref())))
    };
    if !post_to_platform {
        return (ResponseStatus::Draft, None);
    }
    match platform {
        Some(p) if p.reply_support() == ReplySupport::ManualOnly => manual(Some(p)),
        // Imported reviews have no connection to post through.
        Some(_) if conversation.connection_id.is_none() => manual(platform),
        Some(_) => (ResponseStatus::Queued, None),
        None => manual(None),
    }
}

fn validate_text(text: &str) -> Result<String, InboxError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(InboxError::Validation { field: "responseText", message: "must not be empty".into() });
    }
    if text.chars().count() > MAX_REPLY_CHARS {
        return Err(InboxError::Validation {
            field: "responseText",
            message: format!("must be at most {MAX_REPLY_CHARS} characters"),
        });
    }
    Ok(text.to_owned())
}

/// Whether a conversation kind takes replies as messages (threads) or as review replies.
pub fn is_review(conversation: &ConversationRow) -> bool {
    conversation.kind == ConversationKind::Review
}
