//! What the API and the dashboard read from the inbox: pages of conversations, a thread with
//! its messages and replies, the reviews behind a page of review conversations. Every read is
//! confined to the caller's workspace (on PostgreSQL by row-level security too).

use std::collections::HashMap;

use tidings_core::{ConversationId, TaskId, WorkspaceId};

use super::{Inbox, InboxError};
use crate::inbox::store::{self, ConversationFilter, ConversationRow, MessageRow, PageStart, ResponseRow};
use crate::inbox::tasks::{self, TaskRow};
use crate::inbox::window::Window;

/// One page of conversations, newest activity first.
pub struct ConversationPage {
    /// The conversations of the page.
    pub rows: Vec<ConversationRow>,
    /// How many match in all (capped, see `ConversationFilter::count_cap`).
    pub total: i64,
    /// Whether another page follows.
    pub has_more: bool,
}

/// A conversation with everything a reader sees of it.
pub struct Thread {
    /// The conversation.
    pub conversation: ConversationRow,
    /// Its messages, oldest first.
    pub messages: Vec<MessageRow>,
    /// Every reply written in Tidings, oldest first.
    pub responses: Vec<ResponseRow>,
}

/// A review conversation with the review (its first inbound message) and its current reply.
pub struct ReviewRows {
    /// The conversation.
    pub conversation: ConversationRow,
    /// The review itself.
    pub review: Option<MessageRow>,
    /// The reply shown with it.
    pub response: Option<ResponseRow>,
}

impl Inbox {
    /// Up to `limit` conversations matching `filter` from `start`, and whether more follow.
    pub async fn page(
        &self,
        workspace: &WorkspaceId,
        filter: &ConversationFilter,
        start: &PageStart,
        limit: i64,
    ) -> Result<ConversationPage, InboxError> {
        // One more than asked tells whether another page follows.
        let (mut rows, total) = store::list_conversations(&self.db, workspace, filter, start, limit + 1).await?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        Ok(ConversationPage { rows, total, has_more })
    }

    /// Each of the review conversations `rows` with its review and current reply, in order.
    pub async fn with_reviews(
        &self,
        workspace: &WorkspaceId,
        rows: Vec<ConversationRow>,
    ) -> Result<Vec<ReviewRows>, InboxError> {
        let ids: Vec<ConversationId> = rows.iter().map(|r| r.id.clone()).collect();
        let mut reviews: HashMap<ConversationId, MessageRow> =
            store::first_inbound_of(&self.db, workspace, &ids).await?;
        let mut responses = store::current_responses_of(&self.db, workspace, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|conversation| ReviewRows {
                review: reviews.remove(&conversation.id),
                response: responses.remove(&conversation.id),
                conversation,
            })
            .collect())
    }

    /// The workspace's conversation `id` with its messages and replies, or `NotFound`.
    pub async fn thread(&self, workspace: &WorkspaceId, id: &ConversationId) -> Result<Thread, InboxError> {
        let conversation = self.conversation(workspace, id).await?;
        let messages = store::messages(&self.db, workspace, id).await?;
        let responses = store::responses(&self.db, workspace, id).await?;
        Ok(Thread { conversation, messages, responses })
    }

    /// The thread, with its messaging window now (see [`Inbox::messaging_window`]).
    pub async fn thread_with_window(
        &self,
        workspace: &WorkspaceId,
        id: &ConversationId,
    ) -> Result<(Thread, Option<Window>), InboxError> {
        let thread = self.thread(workspace, id).await?;
        let window = self.messaging_window(workspace, &thread.conversation).await?;
        Ok((thread, window))
    }

    /// The workspace's sync or import `id` and how far it got, or `NotFound`.
    pub async fn task(&self, workspace: &WorkspaceId, id: &TaskId) -> Result<TaskRow, InboxError> {
        tasks::task(&self.db, workspace, id).await?.ok_or(InboxError::NotFound("task"))
    }

    /// The messages of the workspace's conversation `id`, oldest first, or `NotFound`.
    pub async fn messages(&self, workspace: &WorkspaceId, id: &ConversationId) -> Result<Vec<MessageRow>, InboxError> {
        self.conversation(workspace, id).await?;
        Ok(store::messages(&self.db, workspace, id).await?)
    }
}
