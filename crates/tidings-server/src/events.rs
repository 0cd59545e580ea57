//! Domain events: what happened to a workspace's data, announced inside the transaction that made
//! it happen.
//!
//! A capability that reacts to another's events (the AI pipeline to a stored message, automations
//! to an analysed one) subscribes here instead of being imported by the capability that publishes,
//! so imports keep running one way (ADR 0014). Each subscriber turns events into jobs on its own
//! queue, enqueued in the publishing transaction: the data and every reaction to it commit
//! together, so nothing acknowledged is lost, and one subscriber's failure retries alone.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tidings_core::{ConnectionId, ConversationId, MessageId, WorkspaceId};
use tidings_nlp::lead::LeadTag;
use tidings_nlp::sentiment::Sentiment;
use tidings_store::Tx;
use tidings_store::queue::{NewJob, Queue, QueueError};

/// Something that happened to a workspace's data that other capabilities may react to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DomainEvent {
    /// An inbound review or message was stored for the first time (an edit or a redelivery of
    /// the same item announces nothing).
    ItemStored {
        /// The conversation it belongs to.
        conversation: ConversationId,
        /// The stored message (a review is its conversation's first message).
        message: MessageId,
    },
    /// A stored review's text or rating was changed by its author on the platform.
    ItemEdited {
        /// The conversation it belongs to.
        conversation: ConversationId,
        /// The edited message (the review).
        message: MessageId,
    },
    /// The AI pipeline analysed an inbound item for the first time (a replay announces
    /// nothing, so no reply or automation fires again for an old item).
    ItemAnalysed {
        /// The conversation it belongs to.
        conversation: ConversationId,
        /// The analysed message.
        message: MessageId,
        /// Its overall sentiment.
        sentiment: Sentiment,
        /// Its lead tag, for messages (reviews are not leads).
        lead_tag: Option<LeadTag>,
        /// Why the pipeline handed the conversation to a person, if it did.
        handoff_reason: Option<String>,
        /// Whether its connection had auto-reply on when it was analysed: only then is an
        /// `ai.auto_reply` job queued (most connections do not answer automatically, and a job per
        /// message that finds auto-reply off cost more than the message's analysis).
        auto_reply: bool,
    },
    /// A channel connection started failing: its health turned from active to failing (a sync
    /// failed, or the platform refused its credentials). Announced once per turn, not per retry.
    ConnectionFailing {
        /// The connection.
        connection: ConnectionId,
        /// Its health now (`error`, `needs_reauth`).
        status: String,
        /// What failed.
        error: String,
        /// When it turned (unix ms): one announcement per turn.
        since: i64,
    },
    /// A workspace's AI token use crossed a share of its budget (80 % or 100 %) in a period.
    BudgetReached {
        /// `day` or `month`.
        period: String,
        /// The period it happened in: `2026-12-04` or `2026-12` (UTC).
        period_key: String,
        /// 80 or 100.
        percent: u8,
        /// Tokens used in the period.
        used: u64,
        /// The period's budget.
        limit: u64,
    },
}

/// A capability that reacts to domain events.
pub trait Subscriber: Send + Sync {
    /// The jobs this subscriber wants for `events` of `workspace`. Called inside the publishing
    /// transaction, so it does no I/O: the reaction itself happens when the jobs run.
    fn jobs_for(&self, workspace: &WorkspaceId, events: &[DomainEvent]) -> Result<Vec<NewJob>, QueueError>;
}

/// The subscribers of this process, in the order they were registered. Cheap to clone.
#[derive(Clone)]
pub struct Events {
    queue: Queue,
    subscribers: Arc<Vec<Arc<dyn Subscriber>>>,
}

impl Events {
    /// Events published through `queue` to `subscribers`.
    pub fn new(queue: Queue, subscribers: Vec<Arc<dyn Subscriber>>) -> Self {
        Self { queue, subscribers: Arc::new(subscribers) }
    }

    /// Enqueues, in `tx`, every subscriber's jobs for `events` of `workspace`, all of them in one
    /// multi-row insert: this runs once per ingestion transaction, on the webhook path.
    pub async fn publish_in(
        &self,
        tx: &mut Tx,
        workspace: &WorkspaceId,
        events: &[DomainEvent],
    ) -> Result<(), QueueError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut jobs = Vec::new();
        for subscriber in self.subscribers.iter() {
            jobs.extend(
                subscriber.jobs_for(workspace, events)?.into_iter().map(|job| job.workspace(workspace.clone())),
            );
        }
        self.queue.enqueue_many_in(tx, &jobs).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_stored_with_their_type_named() {
        let event =
            DomainEvent::ItemStored { conversation: ConversationId::generate(), message: MessageId::generate() };
        let json = serde_json::to_value(&event).expect("serializes");
        assert_eq!(json["type"], "item_stored");
        let back: DomainEvent = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, event);
    }
}
