//! Rules (create, replace, enable, delete), test-sends, backtests, the delivery log with its
//! retry: what the API and the dashboard both call.

use std::collections::HashMap;

use serde_json::Value;
use tidings_connectors::money::Money;
use tidings_connectors::notify::Message;
use tidings_core::time::{now_millis, to_rfc3339};
use tidings_core::{CrmConnectionId, DeliveryId, DestinationId, EventId, RuleId, WorkspaceId};

use super::actions::Action;
use super::dto::{BacktestItem, BacktestOut, LogQuery, RuleIn, TestOut};
use super::model::{DealFacts, DeliveryStatus, Facts, ItemFacts, Trigger};
use super::process::thread_key;
use super::rules::{self, RuleLogic};
use super::store::deliveries::{self as log_store, DeliveryFilter, DeliveryRow};
use super::store::{self, EventRow, RuleFields, RuleRow};
use super::{Automations, AutomationsError};
use crate::identity::store as identity_store;

/// How far back a backtest looks.
pub const BACKTEST_DAYS: i64 = 30;
/// The most events a backtest reads.
const BACKTEST_EVENTS: i64 = 5_000;

impl Automations {
    /// Validates a rule definition, including that its destinations exist in the workspace.
    async fn validate_rule(&self, workspace: &WorkspaceId, input: &RuleIn) -> Result<RuleLogic, AutomationsError> {
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(AutomationsError::invalid("name", "1 to 120 characters"));
        }
        let logic = rules::parse(
            &input.trigger,
            input.match_mode.as_deref().unwrap_or("all"),
            &input.conditions,
            &input.actions,
        )?;
        for (i, action) in logic.actions.iter().enumerate() {
            let field = |name: &str| format!("actions[{i}].{name}");
            match action {
                Action::Notify(notify) => {
                    if store::destination(&self.db, workspace, &notify.destination_id).await?.is_none() {
                        let message = "no such destination in this workspace";
                        return Err(AutomationsError::invalid(field("destinationId"), message));
                    }
                }
                Action::Assign(assign) => {
                    if identity_store::role_of(&self.db, workspace, &assign.member_id).await?.is_none() {
                        return Err(AutomationsError::invalid(field("memberId"), "is not a member of this workspace"));
                    }
                }
                Action::SetStatus(_) => {}
                Action::SyncToCrm(sync) => {
                    if store::crm_connection(&self.db, workspace, &sync.connection_id).await?.is_none() {
                        let message = "no such CRM connection in this workspace";
                        return Err(AutomationsError::invalid(field("connectionId"), message));
                    }
                }
            }
        }
        Ok(logic)
    }

    /// Creates a rule.
    pub async fn create_rule(&self, workspace: &WorkspaceId, input: &RuleIn) -> Result<RuleRow, AutomationsError> {
        let logic = self.validate_rule(workspace, input).await?;
        let id = RuleId::generate();
        let (conditions, actions) = stored_json(&logic);
        let fields = RuleFields {
            name: input.name.trim(),
            trigger: logic.trigger,
            match_mode: logic.match_mode,
            conditions: &conditions,
            actions: &actions,
            enabled: input.enabled.unwrap_or(true),
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::insert_rule(&mut tx, workspace, &id, &fields).await?;
        tx.commit().await?;
        self.rule(workspace, &id).await
    }

    /// Replaces a rule's definition.
    pub async fn replace_rule(
        &self,
        workspace: &WorkspaceId,
        id: &RuleId,
        input: &RuleIn,
    ) -> Result<RuleRow, AutomationsError> {
        let current = self.rule(workspace, id).await?;
        let logic = self.validate_rule(workspace, input).await?;
        let (conditions, actions) = stored_json(&logic);
        let fields = RuleFields {
            name: input.name.trim(),
            trigger: logic.trigger,
            match_mode: logic.match_mode,
            conditions: &conditions,
            actions: &actions,
            enabled: input.enabled.unwrap_or(current.enabled),
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::update_rule(&mut tx, workspace, id, &fields).await?;
        tx.commit().await?;
        self.rule(workspace, id).await
    }

    /// Enables or disables a rule.
    pub async fn set_rule_enabled(
        &self,
        workspace: &WorkspaceId,
        id: &RuleId,
        enabled: bool,
    ) -> Result<RuleRow, AutomationsError> {
        let row = self.rule(workspace, id).await?;
        let fields = RuleFields {
            name: &row.name,
            trigger: row.trigger_kind,
            match_mode: row.match_mode,
            conditions: &row.conditions,
            actions: &row.actions,
            enabled,
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::update_rule(&mut tx, workspace, id, &fields).await?;
        tx.commit().await?;
        self.rule(workspace, id).await
    }

    /// One rule.
    pub async fn rule(&self, workspace: &WorkspaceId, id: &RuleId) -> Result<RuleRow, AutomationsError> {
        store::rule(&self.db, workspace, id).await?.ok_or(AutomationsError::NotFound("rule"))
    }

    /// Deletes a rule (its deliveries stay in the log).
    pub async fn delete_rule(&self, workspace: &WorkspaceId, id: &RuleId) -> Result<(), AutomationsError> {
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::delete_rule(&mut tx, workspace, id).await? {
            return Err(AutomationsError::NotFound("rule"));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sends a rule's messages for one event, marked as tests: a stored event, the most recent
    /// one of the rule's trigger, or a made-up sample. Sent whether or not the conditions hold.
    pub async fn test_rule(
        &self,
        workspace: &WorkspaceId,
        rule_id: &RuleId,
        event_id: Option<&str>,
        sample: bool,
    ) -> Result<TestOut, AutomationsError> {
        let row = self.rule(workspace, rule_id).await?;
        let trigger = row.trigger_kind;
        let logic = rules::stored(trigger, row.match_mode, &row.conditions, &row.actions)?;
        let event = match event_id {
            Some(id) => {
                let id =
                    EventId::parse(id).map_err(|_| AutomationsError::invalid("eventId", "not an event id (evt_…)"))?;
                Some(store::event(&self.db, workspace, &id).await?.ok_or(AutomationsError::NotFound("event"))?)
            }
            None if sample => None,
            None => {
                store::processed_events(&self.db, workspace, 0, Some(trigger.as_str()), 1).await?.into_iter().next()
            }
        };
        let facts = match &event {
            Some(event) => self.facts(workspace, event).await?,
            None => sample_facts(trigger),
        };
        let verdict = rules::evaluate(&logic, &facts);
        let event_id = event.as_ref().map(|e| e.id.clone());
        let names = self.action_names(workspace).await?;
        let mut orders = Vec::new();
        for action in &logic.actions {
            if let Action::SyncToCrm(sync) = action {
                orders.push((sync.connection_id.clone(), self.lead_for(workspace, sync, &facts).await?));
            }
        }
        let mut orders = orders.into_iter();
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let mut ids = Vec::new();
        let mut actions = Vec::new();
        for action in &logic.actions {
            match action {
                Action::Notify(notify) => {
                    let mut message = rules::message(notify, &facts);
                    mark_test(&mut message);
                    let (event, thread) = (event_id.as_ref(), thread_key(&facts));
                    let destination = &notify.destination_id;
                    ids.push(
                        self.enqueue_delivery(
                            &mut tx,
                            workspace,
                            event,
                            Some(rule_id),
                            destination,
                            &message,
                            true,
                            thread,
                        )
                        .await?,
                    );
                    actions.push(describe(action, &facts, &names));
                }
                Action::SyncToCrm(_) => {
                    let Some((connection, order)) = orders.next() else { continue };
                    let event = event_id.as_ref();
                    ids.push(
                        self.enqueue_sync(&mut tx, workspace, event, Some(rule_id), &connection, order, true).await?,
                    );
                    actions.push(describe(action, &facts, &names));
                }
                Action::Assign(_) | Action::SetStatus(_) => {
                    actions.push(format!("would {} (not applied in a test)", describe(action, &facts, &names)));
                }
            }
        }
        tx.commit().await?;
        let mut deliveries = Vec::new();
        for id in ids {
            if let Some(row) = log_store::delivery(&self.db, workspace, &id).await? {
                deliveries.push(super::dto::DeliveryOut::from_row(row));
            }
        }
        Ok(TestOut { event_id: event.map(|e| e.id.into()), sample: event_id.is_none(), verdict, actions, deliveries })
    }

    /// Sends a sample message to one destination, marked as a test.
    pub async fn test_destination(
        &self,
        workspace: &WorkspaceId,
        id: &DestinationId,
    ) -> Result<DeliveryRow, AutomationsError> {
        self.destination(workspace, id).await?;
        let message = Message::Text {
            title: "[Test] Tidings can reach this destination".into(),
            body: "Rules that notify this destination will post here.".into(),
            link: Some(format!("{}/automations/destinations", self.public_url)),
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        let delivery = self.enqueue_delivery(&mut tx, workspace, None, None, id, &message, true, None).await?;
        tx.commit().await?;
        log_store::delivery(&self.db, workspace, &delivery).await?.ok_or(AutomationsError::NotFound("delivery"))
    }

    /// What a rule (saved, or being edited) would have sent over the last 30 days of events.
    pub async fn backtest(&self, workspace: &WorkspaceId, input: &RuleIn) -> Result<BacktestOut, AutomationsError> {
        let logic = self.validate_rule(workspace, input).await?;
        let since = now_millis() - BACKTEST_DAYS * 86_400_000;
        let events =
            store::processed_events(&self.db, workspace, since, Some(logic.trigger.as_str()), BACKTEST_EVENTS).await?;
        let names = self.action_names(workspace).await?;
        let mut results = Vec::with_capacity(events.len());
        for event in &events {
            let Some(facts) = stored_facts(event) else { continue };
            let verdict = rules::evaluate(&logic, &facts);
            let notify = logic.actions.iter().find_map(|a| match a {
                Action::Notify(notify) => Some(notify),
                _ => None,
            });
            let message = verdict.matched.then(|| notify.map(|a| rules::message(a, &facts).subject())).flatten();
            let actions = match verdict.matched {
                true => logic.actions.iter().map(|a| describe(a, &facts, &names)).collect(),
                false => Vec::new(),
            };
            results.push(BacktestItem {
                event_id: event.id.to_string(),
                received_at: to_rfc3339(event.received_at),
                matched: verdict.matched,
                reasons: verdict.reasons,
                message,
                actions,
            });
        }
        let matched = results.iter().filter(|r| r.matched).count();
        Ok(BacktestOut {
            since: to_rfc3339(since),
            events: results.len(),
            matched,
            messages: matched * logic.actions.iter().filter(|a| matches!(a, Action::Notify(_))).count(),
            results,
        })
    }

    /// The rule definition of a saved rule, as the editor submits it.
    pub async fn rule_input(&self, workspace: &WorkspaceId, id: &RuleId) -> Result<RuleIn, AutomationsError> {
        let row = self.rule(workspace, id).await?;
        Ok(RuleIn {
            name: row.name,
            trigger: row.trigger_kind.to_string(),
            match_mode: Some(row.match_mode.to_string()),
            conditions: serde_json::from_str(&row.conditions).unwrap_or(Value::Array(Vec::new())),
            actions: serde_json::from_str(&row.actions).unwrap_or(Value::Array(Vec::new())),
            enabled: Some(row.enabled),
        })
    }

    /// The delivery log, filtered.
    pub async fn deliveries(
        &self,
        workspace: &WorkspaceId,
        query: &LogQuery,
    ) -> Result<Vec<DeliveryRow>, AutomationsError> {
        if let Some(status) = &query.status
            && status.parse::<DeliveryStatus>().is_err()
        {
            return Err(AutomationsError::invalid("status", "one of queued, sending, delivered, failed, unconfirmed"));
        }
        let limit = query.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(AutomationsError::invalid("limit", "1 to 200"));
        }
        let filter = DeliveryFilter {
            status: query.status.clone(),
            rule_id: query.rule.clone().filter(|s| !s.is_empty()),
            destination_id: query.destination.clone().filter(|s| !s.is_empty()),
            from: parse_time("from", query.from.as_deref())?,
            to: parse_time("to", query.to.as_deref())?,
            before: query.before.clone().filter(|s| !s.is_empty()),
            limit,
        };
        Ok(log_store::deliveries(&self.db, workspace, &filter).await?)
    }

    /// One delivery.
    pub async fn delivery(&self, workspace: &WorkspaceId, id: &DeliveryId) -> Result<DeliveryRow, AutomationsError> {
        log_store::delivery(&self.db, workspace, id).await?.ok_or(AutomationsError::NotFound("delivery"))
    }

    /// Sends a failed or unconfirmed delivery again (the dead letter's retry).
    pub async fn retry_delivery(
        &self,
        workspace: &WorkspaceId,
        id: &DeliveryId,
    ) -> Result<DeliveryRow, AutomationsError> {
        let row = self.delivery(workspace, id).await?;
        if let Some(target) = row
            .destination_id
            .as_ref()
            .map(DestinationId::as_str)
            .or(row.crm_connection_id.as_ref().map(CrmConnectionId::as_str))
        {
            self.breakers.record_success(target);
        }
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !log_store::requeue(&mut tx, workspace, id).await? {
            return Err(AutomationsError::Conflict(format!(
                "only failed or unconfirmed deliveries can be retried; this one is {}",
                row.status
            )));
        }
        self.queue_delivery(&mut tx, workspace, id).await?;
        tx.commit().await?;
        self.delivery(workspace, id).await
    }

    /// A processed event with every rule's verdict.
    pub async fn event(&self, workspace: &WorkspaceId, id: &EventId) -> Result<EventRow, AutomationsError> {
        store::event(&self.db, workspace, id).await?.ok_or(AutomationsError::NotFound("event"))
    }
}

impl Automations {
    /// The names actions refer to by id: destinations, members and CRM connections.
    async fn action_names(&self, workspace: &WorkspaceId) -> Result<HashMap<String, String>, AutomationsError> {
        let mut names = HashMap::new();
        names.extend(store::destinations(&self.db, workspace).await?.into_iter().map(|d| (d.id.into(), d.name)));
        names.extend(store::crm_connections(&self.db, workspace).await?.into_iter().map(|c| (c.id.into(), c.name)));
        names.extend(
            identity_store::members(&self.db, workspace).await?.into_iter().map(|m| (m.user_id.to_string(), m.name)),
        );
        Ok(names)
    }
}

/// What an action does for an event, in words (backtest, test-send).
fn describe(action: &Action, facts: &Facts, names: &HashMap<String, String>) -> String {
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let who = facts.item.as_ref().and_then(|i| i.author.clone()).unwrap_or_else(|| "the contact".into());
    match action {
        Action::Notify(notify) => {
            format!("notify {}: {}", name(notify.destination_id.as_str()), rules::message(notify, facts).subject())
        }
        Action::Assign(assign) => format!("assign the conversation to {}", name(assign.member_id.as_str())),
        Action::SetStatus(set) => format!("set the conversation's status to {}", set.status),
        Action::SyncToCrm(sync) => {
            let objects = sync.objects.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            format!("sync {who} to {} ({objects})", name(sync.connection_id.as_str()))
        }
    }
}

fn stored_json(logic: &RuleLogic) -> (String, String) {
    let actions = serde_json::to_string(&logic.actions).unwrap_or_else(|_| "[]".into());
    (logic.conditions_json.to_string(), actions)
}

fn stored_facts(event: &EventRow) -> Option<Facts> {
    event.facts.as_deref().and_then(|f| serde_json::from_str(f).ok())
}

/// `2026-12-01T10:00:00Z` or `2026-12-01` (midnight UTC) as unix ms.
fn parse_time(field: &str, value: Option<&str>) -> Result<Option<i64>, AutomationsError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(Some(at.timestamp_millis()));
    }
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| Some(d.and_utc().timestamp_millis()))
        .ok_or_else(|| AutomationsError::invalid(field, "an RFC 3339 time or a date such as 2026-12-01"))
}

fn mark_test(message: &mut Message) {
    match message {
        Message::Deal { notice, .. } => notice.headline = format!("[Test] {}", notice.headline),
        Message::Text { title, .. } => *title = format!("[Test] {title}"),
    }
}

/// A made-up event of `trigger`, for test-sends before any real one arrived.
pub fn sample_facts(trigger: Trigger) -> Facts {
    if trigger.is_deal() {
        let previous = (trigger == Trigger::DealStageChanged).then_some(2);
        return Facts {
            trigger,
            deal: Some(DealFacts {
                id: 1001,
                title: "Sample deal: 20 licences for Northwind".into(),
                value: Some(Money { minor: 1_250_000, currency: "EUR".into() }),
                status: match trigger {
                    Trigger::DealWon => "won".into(),
                    Trigger::DealLost => "lost".into(),
                    _ => "open".into(),
                },
                pipeline_id: Some(1),
                pipeline: Some("Sales".into()),
                stage_id: Some(3),
                stage: Some("Negotiation".into()),
                previous_stage_id: previous,
                previous_stage: previous.map(|_| "Proposal sent".into()),
                owner_id: Some(1),
                owner: Some("Sample Owner".into()),
                link: None,
            }),
            item: None,
            connection: None,
            budget: None,
        };
    }
    if !trigger.is_item() {
        return super::triggers::sample_facts(trigger);
    }
    let review = matches!(trigger, Trigger::ReviewReceived | Trigger::NegativeReview | Trigger::ResponseNeeded);
    Facts::of_item(
        trigger,
        ItemFacts {
            kind: if review { "review".into() } else { "message".into() },
            platform: "google".into(),
            location: Some("Sample location".into()),
            rating: review.then_some(2),
            sentiment: Some(if trigger == Trigger::LeadHot { "positive".into() } else { "negative".into() }),
            lead_tag: (trigger == Trigger::LeadHot).then(|| "HOT".into()),
            handoff_reason: (trigger == Trigger::HandoffRequested).then(|| "the customer asked for a person".into()),
            author: Some("Sample Customer".into()),
            text: if review {
                "Sample review: the food was cold and nobody came to the table.".into()
            } else {
                "Sample message: do you have a table for six on Friday?".into()
            },
            unanswered_hours: (trigger == Trigger::ResponseNeeded).then_some(4),
            ..ItemFacts::default()
        },
    )
}
