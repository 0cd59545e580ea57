//! Tidings' own events as automation triggers: the [`Subscriber`] registered in `app.rs` turns
//! each publish (the items of one ingestion transaction, one analysis batch) into one job (no I/O
//! in the publishing transaction); the job stores one automation event per trigger fired, with
//! one processing job for them all, in one transaction. Under load that is a few jobs and
//! commits per batch of items rather than four per item.
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

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::json;
use tidings_core::{ConversationId, EventId, WorkspaceId};
use tidings_nlp::lead::LeadTag;
use tidings_nlp::sentiment::Sentiment;
use tidings_store::queue::{JobContext, JobError, JobPayload, NewJob, QueueError, Registry, names};

use super::model::{EventSource, Trigger};
use super::store::{self, NewEvent};
use super::{Automations, AutomationsError};
use crate::events::{DomainEvent, Subscriber};
use crate::inbox::model::ConversationKind;
use crate::inbox::store as inbox_store;

/// Reacts to domain events (see the module doc).
pub struct AutomationsSubscriber;

/// The domain events of one publish, to turn into automation events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OnDomainEvent {
    pub workspace_id: WorkspaceId,
    #[serde(default)]
    pub events: Vec<DomainEvent>,
    /// One event alone, as jobs queued before events were batched carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<DomainEvent>,
}

impl JobPayload for OnDomainEvent {
    const KIND: &'static str = "automations.domain_event";
    const QUEUE: &'static str = names::INBOUND;
}

impl Subscriber for AutomationsSubscriber {
    fn jobs_for(&self, workspace: &WorkspaceId, events: &[DomainEvent]) -> Result<Vec<NewJob>, QueueError> {
        let events: Vec<DomainEvent> =
            events.iter().filter(|event| !matches!(event, DomainEvent::ItemEdited { .. })).cloned().collect();
        if events.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![NewJob::new(&OnDomainEvent { workspace_id: workspace.clone(), events, event: None })?])
    }
}

/// Jobs one handler call takes from a claim: their events are stored in one transaction per
/// workspace rather than one per job.
const JOBS_PER_CALL: usize = 32;

/// Registers the handler.
pub fn register(registry: &mut Registry, automations: Automations) {
    registry.register_batch(JOBS_PER_CALL, move |jobs: Vec<(OnDomainEvent, JobContext)>| {
        let automations = automations.clone();
        async move {
            let mut by_workspace: BTreeMap<WorkspaceId, Vec<DomainEvent>> = BTreeMap::new();
            for (job, _) in jobs {
                by_workspace.entry(job.workspace_id).or_default().extend(job.events.into_iter().chain(job.event));
            }
            for (workspace, events) in by_workspace {
                automations.on_domain_events(&workspace, &events).await.map_err(JobError::retry)?;
            }
            Ok(())
        }
    });
}

impl Automations {
    async fn on_domain_events(&self, workspace: &WorkspaceId, events: &[DomainEvent]) -> Result<(), AutomationsError> {
        let mut kinds = HashMap::new();
        let mut fired = Vec::new();
        for event in events {
            self.fired_by(workspace, event, &mut kinds, &mut fired).await?;
        }
        self.store_tidings_events(workspace, &fired).await?;
        Ok(())
    }

    /// Adds to `fired` the automation events `event` fires: trigger, dedup key and payload.
    /// `kinds` caches the kind of each conversation read. An item whose conversation is gone
    /// (erased since) fires nothing, and holds up none of the others.
    async fn fired_by(
        &self,
        workspace: &WorkspaceId,
        event: &DomainEvent,
        kinds: &mut HashMap<ConversationId, ConversationKind>,
        fired: &mut Vec<Fired>,
    ) -> Result<(), AutomationsError> {
        let (conversation, message, triggers, extra) = match event {
            DomainEvent::ItemStored { conversation, message } => {
                let Some(kind) = self.conversation_kind(workspace, conversation, kinds).await? else { return Ok(()) };
                let trigger =
                    if kind == ConversationKind::Review { Trigger::ReviewReceived } else { Trigger::MessageReceived };
                (conversation, message, vec![trigger], json!({}))
            }
            DomainEvent::ItemAnalysed { conversation, message, sentiment, lead_tag, handoff_reason, .. } => {
                let Some(kind) = self.conversation_kind(workspace, conversation, kinds).await? else { return Ok(()) };
                let mut triggers = Vec::new();
                if kind == ConversationKind::Review && *sentiment == Sentiment::Negative {
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
                fired.push(Fired { trigger: Trigger::ConnectionFailing, key, payload });
                return Ok(());
            }
            DomainEvent::BudgetReached { period, period_key, percent, used, limit } => {
                let payload = json!({
                    "period": period, "periodKey": period_key, "percent": percent, "used": used, "limit": limit
                });
                let key = format!("tidings:{}:{period_key}:{percent}", Trigger::BudgetThreshold.as_str());
                fired.push(Fired { trigger: Trigger::BudgetThreshold, key, payload });
                return Ok(());
            }
        };
        for trigger in triggers {
            let mut payload = json!({ "conversation": conversation, "message": message });
            if let (Some(target), Some(extra)) = (payload.as_object_mut(), extra.as_object()) {
                target.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let key = format!("tidings:{}:{message}", trigger.as_str());
            fired.push(Fired { trigger, key, payload });
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
        let fired = Fired { trigger, key: dedup_key.to_owned(), payload: payload.clone() };
        Ok(self.store_tidings_events(workspace, &[fired]).await? > 0)
    }

    /// Stores events of Tidings' own and one job to process those that are new, in one
    /// transaction; returns how many were new (an event whose dedup key was stored before is not).
    async fn store_tidings_events(&self, workspace: &WorkspaceId, fired: &[Fired]) -> Result<usize, AutomationsError> {
        if fired.is_empty() {
            return Ok(0);
        }
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let mut stored = Vec::new();
        for event in fired {
            let id = EventId::generate();
            let payload = event.payload.to_string();
            let new = NewEvent {
                id: &id,
                source: EventSource::Tidings,
                crm_connection_id: None,
                trigger: event.trigger,
                dedup_key: &event.key,
                payload: &payload,
            };
            if store::insert_event(&mut tx, workspace, &new).await? {
                stored.push(id);
            }
        }
        self.queue_processing(&mut tx, workspace, &stored).await?;
        tx.commit().await?;
        Ok(stored.len())
    }

    async fn conversation_kind(
        &self,
        workspace: &WorkspaceId,
        id: &ConversationId,
        kinds: &mut HashMap<ConversationId, ConversationKind>,
    ) -> Result<Option<ConversationKind>, AutomationsError> {
        if let Some(kind) = kinds.get(id) {
            return Ok(Some(*kind));
        }
        let Some(row) = inbox_store::conversation(&self.db, workspace, id).await? else { return Ok(None) };
        kinds.insert(id.clone(), row.kind);
        Ok(Some(row.kind))
    }
}

/// An automation event a domain event fires: its trigger, dedup key and payload.
struct Fired {
    trigger: Trigger,
    key: String,
    payload: serde_json::Value,
}
