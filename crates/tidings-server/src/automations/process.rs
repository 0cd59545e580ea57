//! Processing events from the queue: for each, its facts (a Pipedrive deal with names resolved,
//! or a review or message read from the inbox), every rule of the workspace evaluated with the
//! verdict stored on the event (which matched, and why the others did not), and one delivery
//! with its job per action of each matching rule. A job carries the events stored together (the
//! items of one batch); their outcomes are written in one transaction.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tidings_connectors::pipedrive::{DealEventKind, PipedriveEvent, parse_webhook};
use tidings_core::{ConversationId, CrmConnectionId, DeliveryId, DestinationId, EventId, RuleId, WorkspaceId};
use tidings_store::queue::{JobError, JobPayload, NewJob, Registry, names};

use super::actions::{Action, NotifyAction};
use super::crm::sync::SyncOrder;
use super::delivery::Deliver;
use super::model::{DealFacts, EventSource, EventStatus, Facts, ItemFacts, Trigger};
use super::rules::{self, RuleLogic};
use super::store::deliveries::{self as log_store, NewDelivery, Target};
use super::store::{self, EventRow, RuleRow};
use super::{Automations, AutomationsError};
use crate::access::Caller;
use crate::inbox::service::InboxError;
use crate::inbox::store as inbox_store;

/// Evaluates the rules for stored events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessEvent {
    pub workspace_id: WorkspaceId,
    #[serde(default)]
    pub event_ids: Vec<EventId>,
    /// One event alone, as jobs queued before events were batched carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
}

impl JobPayload for ProcessEvent {
    const KIND: &'static str = "automations.process_event";
    const QUEUE: &'static str = names::INBOUND;
}

/// Registers the processing handler.
pub fn register(registry: &mut Registry, automations: Automations) {
    registry.register(move |job: ProcessEvent, _| {
        let automations = automations.clone();
        async move {
            let ids: Vec<EventId> = job.event_ids.into_iter().chain(job.event_id).collect();
            automations.process(&job.workspace_id, &ids).await.map_err(|e| match e {
                AutomationsError::Store(_)
                | AutomationsError::Queue(_)
                | AutomationsError::Vault(_)
                | AutomationsError::Unavailable(_) => JobError::retry(e),
                other => JobError::fatal(other),
            })
        }
    });
}

/// The trigger a deal event fires.
pub fn deal_trigger(kind: &DealEventKind) -> Trigger {
    match kind {
        DealEventKind::Added => Trigger::DealAdded,
        DealEventKind::Won => Trigger::DealWon,
        DealEventKind::Lost => Trigger::DealLost,
        DealEventKind::StageChanged { .. } => Trigger::DealStageChanged,
        DealEventKind::Updated => Trigger::DealUpdated,
    }
}

/// A rule's verdict on one event, as stored with the event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleVerdict {
    pub rule_id: String,
    pub rule_name: String,
    pub matched: bool,
    pub reasons: Vec<String>,
    /// What its actions did (assigned, status set, queued).
    #[serde(default)]
    pub actions: Vec<String>,
}

/// A rule read back from storage, with its logic parsed.
pub(crate) struct LoadedRule {
    pub row: RuleRow,
    pub logic: Result<RuleLogic, rules::FieldError>,
}

impl Automations {
    pub(crate) async fn enabled_rules(&self, workspace: &WorkspaceId) -> Result<Vec<LoadedRule>, AutomationsError> {
        Ok(store::rules(&self.db, workspace)
            .await?
            .into_iter()
            .filter(|r| r.enabled)
            .map(|row| {
                let logic = rules::stored(row.trigger_kind, row.match_mode, &row.conditions, &row.actions);
                LoadedRule { row, logic }
            })
            .collect())
    }

    /// The facts of a stored event (names resolved, inbox rows read).
    pub(crate) async fn facts(&self, workspace: &WorkspaceId, event: &EventRow) -> Result<Facts, AutomationsError> {
        let trigger = event.trigger_kind;
        match event.source {
            EventSource::Pipedrive => self.deal_facts(workspace, event).await,
            _ if !trigger.is_item() => self.state_facts(workspace, trigger, event).await,
            _ => {
                let payload: serde_json::Value = serde_json::from_str(&event.payload).unwrap_or_default();
                let conversation = payload["conversation"].as_str().unwrap_or_default();
                let message = payload["message"].as_str().unwrap_or_default();
                let mut item = self.item_facts(workspace, conversation, message).await?;
                item.sentiment = payload["sentiment"].as_str().map(str::to_owned).or(item.sentiment);
                item.lead_tag = payload["leadTag"].as_str().map(str::to_owned);
                item.handoff_reason = payload["handoffReason"].as_str().map(str::to_owned);
                item.unanswered_hours = payload["unansweredHours"].as_i64();
                Ok(Facts::of_item(trigger, item))
            }
        }
    }

    async fn deal_facts(&self, workspace: &WorkspaceId, event: &EventRow) -> Result<Facts, AutomationsError> {
        let PipedriveEvent::Deal(deal_event) =
            parse_webhook(event.payload.as_bytes()).map_err(|e| AutomationsError::invalid("payload", e.to_string()))?
        else {
            return Err(AutomationsError::invalid("payload", "not a deal event"));
        };
        let previous_stage = match deal_event.kind {
            DealEventKind::StageChanged { from, .. } => Some(from),
            _ => None,
        };
        let deal = &deal_event.deal;
        let connection = match &event.crm_connection_id {
            Some(id) => store::crm_connection(&self.db, workspace, id).await?,
            None => None,
        };
        let names = match &connection {
            Some(row) => {
                let stages: Vec<i64> = deal.stage_id.into_iter().chain(previous_stage).collect();
                self.names_for(workspace, row, &stages, deal.owner_id, deal.pipeline_id).await
            }
            None => Default::default(),
        };
        let name =
            |map: &std::collections::BTreeMap<i64, String>, id: Option<i64>| id.and_then(|id| map.get(&id).cloned());
        let link = deal_event.deal_url().or_else(|| {
            connection
                .as_ref()
                .and_then(|c| c.company_domain.as_ref())
                .map(|domain| format!("https://{domain}.pipedrive.com/deal/{}", deal.id))
        });
        Ok(Facts {
            trigger: deal_trigger(&deal_event.kind),
            deal: Some(DealFacts {
                id: deal.id,
                title: deal.title.clone(),
                value: deal.value.clone(),
                status: deal.status.clone(),
                pipeline_id: deal.pipeline_id,
                pipeline: name(&names.pipelines, deal.pipeline_id),
                stage_id: deal.stage_id,
                stage: name(&names.stages, deal.stage_id),
                previous_stage_id: previous_stage,
                previous_stage: name(&names.stages, previous_stage),
                owner_id: deal.owner_id,
                owner: name(&names.users, deal.owner_id),
                link,
            }),
            item: None,
            connection: None,
            budget: None,
        })
    }

    async fn item_facts(
        &self,
        workspace: &WorkspaceId,
        conversation: &str,
        message: &str,
    ) -> Result<ItemFacts, AutomationsError> {
        let conversation_id =
            ConversationId::parse(conversation).map_err(|_| AutomationsError::NotFound("conversation"))?;
        let row = inbox_store::conversation(&self.db, workspace, &conversation_id)
            .await?
            .ok_or(AutomationsError::NotFound("conversation"))?;
        let messages = inbox_store::messages(&self.db, workspace, &conversation_id).await?;
        let item = messages.iter().find(|m| m.id.as_str() == message).or(messages.first());
        Ok(ItemFacts {
            conversation_id: row.id.to_string(),
            message_id: message.to_owned(),
            kind: row.kind.to_string(),
            platform: row.platform.clone(),
            location_id: row.location_id.as_ref().map(ToString::to_string),
            location: row.location_name.clone(),
            rating: item.and_then(|m| m.rating).or(row.rating),
            sentiment: item.and_then(|m| m.sentiment.clone()).or(row.sentiment.clone()),
            lead_tag: None,
            handoff_reason: None,
            unanswered_hours: None,
            author: item.and_then(|m| m.author_name.clone()).or(row.contact_name.clone()),
            text: item.map(|m| m.body.clone()).unwrap_or_else(|| row.preview.clone()),
            link: Some(format!("{}/inbox/{}", self.public_url, row.id)),
        })
    }

    /// Processes stored events (see the module doc). Processing twice does nothing more.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, events = ids.len()))]
    pub async fn process(&self, workspace: &WorkspaceId, ids: &[EventId]) -> Result<(), AutomationsError> {
        let rules = self.enabled_rules(workspace).await?;
        let mut destinations = HashMap::new();
        let mut decided = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(event) = store::event(&self.db, workspace, id).await? else { continue };
            if event.status != EventStatus::Received {
                continue;
            }
            decided.push((id, self.decide(workspace, &event, &rules, &mut destinations).await?));
        }
        if decided.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        for (id, decision) in decided {
            self.record_decision(&mut tx, workspace, id, decision).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Gathers an event's facts, evaluates `rules` on them and runs the matching rules'
    /// conversation actions (each through the inbox's service, in its own audited transaction);
    /// what is left to write goes with the job's other events. Everything is read here, before
    /// the events' transaction: a read on the pool while a job holds a connection for its
    /// transaction needs a second one, and when as many jobs as the pool has connections each
    /// hold one, none gets it until the acquire timeout (PostgreSQL; seen in benches/delivery.rs
    /// as 10-second stalls). `destinations` caches each destination's name (none: disabled or gone).
    async fn decide<'r>(
        &self,
        workspace: &WorkspaceId,
        event: &EventRow,
        rules: &'r [LoadedRule],
        destinations: &mut HashMap<DestinationId, Option<String>>,
    ) -> Result<Decision<'r>, AutomationsError> {
        let facts = match self.facts(workspace, event).await {
            Ok(facts) => facts,
            Err(error @ (AutomationsError::Store(_) | AutomationsError::Vault(_))) => return Err(error),
            Err(error) => {
                return Ok(Decision::Failed { trigger: event.trigger_kind, error: error.to_string() });
            }
        };
        let mut verdicts = Vec::with_capacity(rules.len());
        let mut planned = Vec::new();
        for rule in rules {
            let verdict = match &rule.logic {
                Ok(logic) => {
                    let verdict = rules::evaluate(logic, &facts);
                    if verdict.matched {
                        planned.extend(logic.actions.iter().map(|action| (verdicts.len(), rule, action)));
                    }
                    verdict
                }
                Err(error) => rules::Verdict {
                    matched: false,
                    reasons: vec![format!("the rule is invalid: {}: {}", error.field, error.message)],
                },
            };
            verdicts.push(RuleVerdict {
                rule_id: rule.row.id.to_string(),
                rule_name: rule.row.name.clone(),
                matched: verdict.matched,
                reasons: verdict.reasons,
                actions: Vec::new(),
            });
        }
        // Syncs read the conversation's contact; both kinds run before the events' transaction.
        let mut notify = Vec::new();
        let mut syncs = Vec::new();
        for (index, rule, action) in planned {
            let rule_id = rule.row.id.clone();
            let done = match action {
                Action::Assign(_) | Action::SetStatus(_) => {
                    self.act_on_conversation(workspace, &rule_id, &facts, action).await?
                }
                Action::SyncToCrm(sync) => {
                    match store::crm_connection(&self.db, workspace, &sync.connection_id).await? {
                        Some(connection) => {
                            syncs.push((
                                rule_id.clone(),
                                sync.connection_id.clone(),
                                self.lead_for(workspace, sync, &facts).await?,
                            ));
                            format!("sync to {} queued", connection.name)
                        }
                        None => "not synced: the CRM connection was removed".to_owned(),
                    }
                }
                Action::Notify(action) => {
                    let id = &action.destination_id;
                    if !destinations.contains_key(id) {
                        let row = store::destination(&self.db, workspace, id).await?;
                        destinations.insert(id.clone(), row.filter(|d| d.enabled).map(|d| d.name));
                    }
                    notify.push((index, rule_id, action, destinations[id].clone()));
                    continue;
                }
            };
            verdicts[index].actions.push(done);
        }
        Ok(Decision::Evaluated { facts: Box::new(facts), verdicts, notify, syncs })
    }

    /// Writes what was decided for one event, in `tx`: its deliveries and syncs with their jobs,
    /// and the event's outcome.
    async fn record_decision(
        &self,
        tx: &mut tidings_store::Tx,
        workspace: &WorkspaceId,
        id: &EventId,
        decision: Decision<'_>,
    ) -> Result<(), AutomationsError> {
        let (facts, mut verdicts, notify, syncs) = match decision {
            Decision::Failed { trigger, error } => {
                store::finish_event(tx, workspace, id, trigger, None, None, Some(&error)).await?;
                return Ok(());
            }
            Decision::Evaluated { facts, verdicts, notify, syncs } => (facts, verdicts, notify, syncs),
        };
        for (index, rule_id, action, destination) in notify {
            let Some(name) = destination else {
                verdicts[index].actions.push("not sent: the destination is disabled or removed".into());
                continue;
            };
            let message = rules::message(action, &facts);
            let thread = thread_key(&facts);
            self.enqueue_delivery(
                tx,
                workspace,
                Some(id),
                Some(&rule_id),
                &action.destination_id,
                &message,
                false,
                thread,
            )
            .await?;
            verdicts[index].actions.push(format!("message to {name} queued"));
        }
        for (rule_id, connection, order) in syncs {
            self.enqueue_sync(tx, workspace, Some(id), Some(&rule_id), &connection, order, false).await?;
        }
        let facts_json = serde_json::to_string(&facts).unwrap_or_default();
        let verdicts_json = serde_json::to_string(&verdicts).unwrap_or_default();
        store::finish_event(tx, workspace, id, facts.trigger, Some(&facts_json), Some(&verdicts_json), None).await?;
        Ok(())
    }

    /// Runs an assign or set-status action on the event's conversation through the inbox's
    /// service, as the rule (audited); says what it did, or why it could not.
    pub(crate) async fn act_on_conversation(
        &self,
        workspace: &WorkspaceId,
        rule: &RuleId,
        facts: &Facts,
        action: &Action,
    ) -> Result<String, AutomationsError> {
        let conversation = facts.item.as_ref().and_then(|i| ConversationId::parse(&i.conversation_id).ok());
        let Some(conversation) = conversation else { return Ok("no conversation to act on".into()) };
        let caller = Caller::rule(workspace, rule);
        let (done, result) = match action {
            Action::Assign(assign) => {
                let result = self.inbox.assign_to_member(&caller, &conversation, Some(assign.member_id.as_str())).await;
                let name = result.as_ref().ok().and_then(|row| row.assignee_name.clone());
                (format!("assigned to {}", name.unwrap_or_else(|| assign.member_id.to_string())), result.map(drop))
            }
            Action::SetStatus(set) => {
                let result = self.inbox.set_status(&caller, &conversation, set.status, None).await;
                (format!("status set to {}", set.status), result.map(drop))
            }
            Action::Notify(_) | Action::SyncToCrm(_) => return Ok(String::new()),
        };
        match result {
            Ok(()) => Ok(done),
            Err(InboxError::Store(error)) => Err(error.into()),
            Err(error) => Ok(format!("not done ({done}): {error}")),
        }
    }

    /// Records a delivery and queues its job, in `tx`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn enqueue_delivery(
        &self,
        tx: &mut tidings_store::Tx,
        workspace: &WorkspaceId,
        event: Option<&EventId>,
        rule: Option<&RuleId>,
        destination: &DestinationId,
        message: &tidings_connectors::notify::Message,
        test: bool,
        thread: Option<String>,
    ) -> Result<DeliveryId, AutomationsError> {
        let id = DeliveryId::generate();
        let payload = json!({ "message": message, "thread": thread }).to_string();
        let new = NewDelivery {
            id: &id,
            event_id: event,
            rule_id: rule,
            target: Target::Destination(destination),
            test,
            payload: &payload,
        };
        log_store::insert_delivery(tx, workspace, &new).await?;
        self.queue_delivery(tx, workspace, &id).await?;
        Ok(id)
    }

    /// Queues the processing of stored events (one job for them all; none for none), in `tx`.
    pub(crate) async fn queue_processing(
        &self,
        tx: &mut tidings_store::Tx,
        workspace: &WorkspaceId,
        ids: &[EventId],
    ) -> Result<(), AutomationsError> {
        let Some(first) = ids.first() else { return Ok(()) };
        let job = ProcessEvent { workspace_id: workspace.clone(), event_ids: ids.to_vec(), event_id: None };
        let job = NewJob::new(&job)?.workspace(workspace.clone()).unique_key(format!("process:{first}"));
        self.queue.enqueue_in(tx, job).await?;
        Ok(())
    }

    pub(crate) async fn queue_delivery(
        &self,
        tx: &mut tidings_store::Tx,
        workspace: &WorkspaceId,
        id: &DeliveryId,
    ) -> Result<(), AutomationsError> {
        let job = Deliver { workspace_id: workspace.clone(), delivery_id: id.clone() };
        let job = NewJob::new(&job)?.workspace(workspace.clone());
        self.queue.enqueue_in(tx, job).await?;
        Ok(())
    }
}

/// Messages about one deal share a Google Chat thread.
pub(crate) fn thread_key(facts: &Facts) -> Option<String> {
    facts.deal.as_ref().map(|deal| format!("deal-{}", deal.id))
}

/// What processing decided for one event, written with the others of its job.
enum Decision<'r> {
    /// Its facts could not be gathered: the event is marked failed with the reason.
    Failed { trigger: Trigger, error: String },
    /// The rules were evaluated; the notifications and syncs are still to queue.
    Evaluated {
        facts: Box<Facts>,
        verdicts: Vec<RuleVerdict>,
        /// Index of the rule's verdict, the rule, its notify action, and the destination's name
        /// (none: disabled or removed).
        notify: Vec<(usize, RuleId, &'r NotifyAction, Option<String>)>,
        syncs: Vec<(RuleId, CrmConnectionId, SyncOrder)>,
    },
}
