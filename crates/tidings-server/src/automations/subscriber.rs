//! Tidings' own events as automation triggers: the [`Subscriber`] registered in `app.rs` turns
//! each domain event into a job (no I/O in the publishing transaction); the job stores one
//! automation event per trigger it fires, with its processing job, like a Pipedrive delivery.
//!
//! - `ItemStored` → `review_received` or `message_received`;
//! - `ItemAnalysed` → `negative_review` (a review analysed negative), `lead_hot` (a HOT lead),
//!   `handoff_requested` (the pipeline handed the conversation to a person);
//! - `ItemEdited` → nothing: an edited review was already announced when it arrived.
//! - `ConnectionFailing` → `connection_failing` (once per turn of a connection's health);
//! - `BudgetReached` → `budget_threshold` (once per period and threshold).
//!
//! Each event's dedup key is the trigger and the message (the connection and the turn, the
//! period and the threshold), so a replay fires nothing twice. `response_needed` has no domain
//! event: a scheduled scan finds the items (triggers.rs).

use serde::{Deserialize, Serialize};
use serde_json::json;
use tidings_core::{ConversationId, EventId, WorkspaceId};
use tidings_nlp::lead::LeadTag;
use tidings_nlp::sentiment::Sentiment;
use tidings_store::queue::{JobError, JobPayload, NewJob, QueueError, Registry, names};

use super::model::Trigger;
use super::store::{self, NewEvent};
use super::{Automations, AutomationsError};
use crate::events::{DomainEvent, Subscriber};
use crate::inbox::store as inbox_store;

/// Reacts to domain events (see the module doc).
pub struct AutomationsSubscriber;

/// One domain event to turn into automation events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OnDomainEvent {
    pub workspace_id: WorkspaceId,
    pub event: DomainEvent,
}

impl JobPayload for OnDomainEvent {
    const KIND: &'static str = "automations.domain_event";
    const QUEUE: &'static str = names::INBOUND;
}

impl Subscriber for AutomationsSubscriber {
    fn jobs_for(&self, workspace: &WorkspaceId, events: &[DomainEvent]) -> Result<Vec<NewJob>, QueueError> {
        events
            .iter()
            .filter(|event| !matches!(event, DomainEvent::ItemEdited { .. }))
            .map(|event| NewJob::new(&OnDomainEvent { workspace_id: workspace.clone(), event: event.clone() }))
            .collect()
    }
}

/// Registers the handler.
pub fn register(registry: &mut Registry, automations: Automations) {
    registry.register(move |job: OnDomainEvent, _| {
        let automations = automations.clone();
        async move {
            automations.on_domain_event(&job.workspace_id, &job.event).await.map_err(|e| match e {
                AutomationsError::NotFound(_) => JobError::fatal(e),
                other => JobError::retry(other),
            })
        }
    });
}

impl Automations {
    async fn on_domain_event(&self, workspace: &WorkspaceId, event: &DomainEvent) -> Result<(), AutomationsError> {
        let (conversation, message, triggers, extra) = match event {
            DomainEvent::ItemStored { conversation, message } => {
                let kind = self.conversation_kind(workspace, conversation).await?;
                let trigger = if kind == "review" { Trigger::ReviewReceived } else { Trigger::MessageReceived };
                (conversation, message, vec![trigger], json!({}))
            }
            DomainEvent::ItemAnalysed { conversation, message, sentiment, lead_tag, handoff_reason, .. } => {
                let kind = self.conversation_kind(workspace, conversation).await?;
                let mut triggers = Vec::new();
                if kind == "review" && *sentiment == Sentiment::Negative {
                    triggers.push(Trigger::NegativeReview);
                }
                if *lead_tag == Some(LeadTag::Hot) {
                    triggers.push(Trigger::LeadHot);
                }
                if handoff_reason.is_some() {
                    triggers.push(Trigger::HandoffRequested);
                }
                let extra = json!({
                    "sentiment": sentiment.as_str(),
                    "leadTag": lead_tag.map(|t| serde_json::to_value(t).unwrap_or_default()),
                    "handoffReason": handoff_reason,
                });
                (conversation, message, triggers, extra)
            }
            DomainEvent::ItemEdited { .. } => return Ok(()),
            DomainEvent::ConnectionFailing { connection, status, error, since } => {
                let payload = json!({ "connection": connection, "status": status, "error": error });
                let key = format!("tidings:{}:{connection}:{since}", Trigger::ConnectionFailing.as_str());
                self.store_tidings_event(workspace, Trigger::ConnectionFailing, &key, &payload).await?;
                return Ok(());
            }
            DomainEvent::BudgetReached { period, period_key, percent, used, limit } => {
                let payload = json!({
                    "period": period, "periodKey": period_key, "percent": percent, "used": used, "limit": limit
                });
                let key = format!("tidings:{}:{period_key}:{percent}", Trigger::BudgetThreshold.as_str());
                self.store_tidings_event(workspace, Trigger::BudgetThreshold, &key, &payload).await?;
                return Ok(());
            }
        };
        for trigger in triggers {
            let mut payload = json!({ "conversation": conversation, "message": message });
            if let (Some(target), Some(extra)) = (payload.as_object_mut(), extra.as_object()) {
                target.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let key = format!("tidings:{}:{message}", trigger.as_str());
            self.store_tidings_event(workspace, trigger, &key, &payload).await?;
        }
        Ok(())
    }

    /// Stores one event of Tidings' own with its processing job; nothing (false) when
    /// `dedup_key` was stored before (a replay, or a second process finding the same thing).
    pub(crate) async fn store_tidings_event(
        &self,
        workspace: &WorkspaceId,
        trigger: Trigger,
        dedup_key: &str,
        payload: &serde_json::Value,
    ) -> Result<bool, AutomationsError> {
        let id = EventId::generate();
        let new = NewEvent {
            id: &id,
            source: "tidings",
            crm_connection_id: None,
            trigger: trigger.as_str(),
            dedup_key,
            payload: &payload.to_string(),
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let inserted = store::insert_event(&mut tx, workspace, &new).await?;
        if inserted {
            self.queue_processing(&mut tx, workspace, &id).await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn conversation_kind(
        &self,
        workspace: &WorkspaceId,
        id: &ConversationId,
    ) -> Result<String, AutomationsError> {
        let row = inbox_store::conversation(&self.db, workspace, id)
            .await?
            .ok_or(AutomationsError::NotFound("conversation"))?;
        Ok(row.kind)
    }
}
