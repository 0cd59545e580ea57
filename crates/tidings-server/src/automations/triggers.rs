//! The triggers that are not an item arriving (ADR 0024):
//!
//! - `response_needed`: a review or message still unanswered N hours after it arrived. N is the
//!   rule's `unansweredFor` condition. A scan every five minutes ([`ScanUnanswered`]) looks, for
//!   each N some enabled rule uses, at the items whose wait reached N hours in the last day, and
//!   stores one event per item and N (`tidings:response_needed:{N}:{message}`), so each fires once
//!   however many scans or processes see it, and a rule only matches the event of its own N.
//! - `connection_failing` and `budget_threshold`: domain events from channels and the AI pipeline
//!   (subscriber.rs), whose facts are read here.
//!
//! Also their conditions (`unansweredFor`, `threshold`), template variables, messages and the
//! samples a test-send uses.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tidings_connectors::notify::Message;
use tidings_core::time::now_millis;
use tidings_core::{ConnectionId, WorkspaceId};
use tidings_store::queue::{JobError, JobPayload, NewJob, QueueError, Registry, Schedule, names};

use super::actions::NotifyAction;
use super::model::{BudgetFacts, ConnectionFacts, Facts, ItemFacts, Trigger};
use super::rules::{Condition, FieldError};
use super::store::{EventRow, scans};
use super::{Automations, AutomationsError};
use crate::channels::store as channel_store;
use crate::inbox::locations;

/// The longest wait a rule may ask for: 30 days.
const MAX_HOURS: i64 = 720;
/// How long after its N hours an item is still announced (the scan missed it while the server
/// was down); older ones are history, not news.
const LOOKBACK_MS: i64 = 24 * 3_600_000;

/// Finds the items whose wait for an answer reached a rule's N hours.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanUnanswered {}

impl JobPayload for ScanUnanswered {
    const KIND: &'static str = "automations.scan_unanswered";
    const QUEUE: &'static str = names::MAINTENANCE;
}

/// Every five minutes.
pub fn schedules() -> Result<Vec<Schedule>, QueueError> {
    Ok(vec![Schedule {
        name: ScanUnanswered::KIND.to_owned(),
        cron: "15 */5 * * * *".to_owned(),
        job: NewJob::new(&ScanUnanswered {})?,
    }])
}

/// Registers the scan.
pub fn register(registry: &mut Registry, automations: Automations) {
    registry.register(move |_: ScanUnanswered, _| {
        let automations = automations.clone();
        async move {
            let fired = automations.scan_unanswered(now_millis()).await.map_err(JobError::retry)?;
            if fired > 0 {
                tracing::info!(fired, "items waiting for an answer");
            }
            Ok(())
        }
    });
}

impl Automations {
    /// Stores a `response_needed` event for every item whose wait reached some enabled rule's N
    /// hours at `now` (unix ms); returns how many were new.
    #[tracing::instrument(skip_all)]
    pub async fn scan_unanswered(&self, now: i64) -> Result<usize, AutomationsError> {
        let mut waits = BTreeSet::new();
        for (workspace, conditions) in scans::rules_of_trigger(&self.db, Trigger::ResponseNeeded.as_str()).await? {
            let conditions: Value = serde_json::from_str(&conditions).unwrap_or_default();
            let hours = conditions
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|c| (c["type"] == "unansweredFor").then(|| c["hours"].as_i64()).flatten());
            if let (Ok(workspace), Some(hours)) = (WorkspaceId::parse(&workspace), hours) {
                waits.insert((workspace, hours));
            }
        }
        let mut fired = 0;
        for (workspace, hours) in waits {
            let due = now - hours * 3_600_000;
            for (conversation, message) in scans::unanswered_items(&self.db, &workspace, due - LOOKBACK_MS, due).await?
            {
                let payload = json!({ "conversation": conversation, "message": message, "unansweredHours": hours });
                let key = format!("tidings:{}:{hours}:{message}", Trigger::ResponseNeeded.as_str());
                if self.store_tidings_event(&workspace, Trigger::ResponseNeeded, &key, &payload).await? {
                    fired += 1;
                }
            }
        }
        Ok(fired)
    }

    /// The facts of a `connection_failing` or `budget_threshold` event.
    pub(crate) async fn state_facts(
        &self,
        workspace: &WorkspaceId,
        trigger: Trigger,
        event: &EventRow,
    ) -> Result<Facts, AutomationsError> {
        let payload: Value = serde_json::from_str(&event.payload).unwrap_or_default();
        let text = |key: &str| payload[key].as_str().unwrap_or_default().to_owned();
        let mut facts = Facts { trigger, deal: None, item: None, connection: None, budget: None };
        match trigger {
            Trigger::ConnectionFailing => {
                let id =
                    ConnectionId::parse(&text("connection")).map_err(|_| AutomationsError::NotFound("connection"))?;
                let row = channel_store::connection(&self.db, workspace, &id)
                    .await?
                    .ok_or(AutomationsError::NotFound("connection"))?;
                let location = match &row.location_id {
                    Some(location) => locations::location(&self.db, workspace, location).await?.map(|l| l.name),
                    None => None,
                };
                facts.connection = Some(ConnectionFacts {
                    connection_id: row.id.into(),
                    platform: row.platform.as_str().to_owned(),
                    name: row.display_name,
                    location_id: row.location_id.map(String::from),
                    location,
                    status: text("status"),
                    error: text("error"),
                    link: Some(format!("{}/settings/channels", self.public_url)),
                });
            }
            _ => {
                let number = |key: &str| payload[key].as_i64().unwrap_or_default();
                facts.budget = Some(BudgetFacts {
                    period: text("period"),
                    period_key: text("periodKey"),
                    percent: number("percent"),
                    used: number("used"),
                    limit: number("limit"),
                    link: Some(format!("{}/settings/ai/usage", self.public_url)),
                });
            }
        }
        Ok(facts)
    }
}

/// Parses the conditions only these triggers take.
pub(crate) fn condition(
    kind: &str,
    object: &Map<String, Value>,
    trigger: Trigger,
    path: &str,
) -> Result<Condition, FieldError> {
    let field = |name: &str| format!("{path}.{name}");
    match kind {
        "unansweredFor" => {
            if trigger != Trigger::ResponseNeeded {
                return Err(FieldError::new(field("type"), "`unansweredFor` applies to `response_needed` only"));
            }
            let hours = object.get("hours").and_then(Value::as_i64).filter(|h| (1..=MAX_HOURS).contains(h));
            let hours = hours.ok_or_else(|| {
                FieldError::new(field("hours"), format!("must be a whole number of hours from 1 to {MAX_HOURS}"))
            })?;
            Ok(Condition::UnansweredFor(hours))
        }
        _ => {
            if trigger != Trigger::BudgetThreshold {
                return Err(FieldError::new(field("type"), "`threshold` applies to `budget_threshold` only"));
            }
            let percent = object.get("percent").and_then(Value::as_i64).filter(|p| [80, 100].contains(p));
            let percent = percent.ok_or_else(|| FieldError::new(field("percent"), "must be 80 or 100"))?;
            Ok(Condition::Threshold(percent))
        }
    }
}

/// A `response_needed` rule says after how many hours, once; conditions about items' text do
/// not apply to connections and budgets, nor platforms to budgets.
pub(crate) fn check_parameters(trigger: Trigger, conditions: &[Condition]) -> Result<(), FieldError> {
    for (i, condition) in conditions.iter().enumerate() {
        let misplaced = match condition {
            Condition::Keywords(_) => !trigger.is_deal() && !trigger.is_item(),
            Condition::Platform(_) => trigger == Trigger::BudgetThreshold,
            _ => false,
        };
        if misplaced {
            let message = format!("this condition does not apply to `{}`", trigger.as_str());
            return Err(FieldError::new(format!("conditions[{i}].type"), message));
        }
    }
    let waits = conditions.iter().filter(|c| matches!(c, Condition::UnansweredFor(_))).count();
    match (trigger, waits) {
        (Trigger::ResponseNeeded, 0) => Err(FieldError::new(
            "conditions",
            "`response_needed` needs an `unansweredFor` condition saying after how many hours",
        )),
        (_, 2..) => Err(FieldError::new("conditions", "at most one `unansweredFor` condition")),
        _ => Ok(()),
    }
}

pub(crate) fn check_unanswered(hours: i64, item: Option<&ItemFacts>) -> Result<String, String> {
    match item.and_then(|i| i.unanswered_hours) {
        Some(waited) if waited == hours => Ok(format!("unanswered for {hours} h")),
        Some(waited) => Err(format!("this event is for {waited} h without an answer, the rule waits {hours} h")),
        None => Err("the event has no wait for an answer".into()),
    }
}

pub(crate) fn check_threshold(percent: i64, budget: Option<&BudgetFacts>) -> Result<String, String> {
    match budget {
        Some(b) if b.percent >= percent => Ok(format!("{} % of the {} budget used", b.percent, b.period)),
        Some(b) => Err(format!("{} % of the {} budget is below {percent} %", b.percent, b.period)),
        None => Err("the event has no budget".into()),
    }
}

/// The `connection.*` and `budget.*` template variables.
pub(crate) fn variable(name: &str, facts: &Facts) -> String {
    let connection = facts.connection.as_ref();
    let budget = facts.budget.as_ref();
    let value = match name {
        "connection.name" => connection.map(|c| c.name.clone()),
        "connection.platform" => connection.map(|c| c.platform.clone()),
        "connection.location" => connection.and_then(|c| c.location.clone()),
        "connection.error" => connection.map(|c| c.error.clone()),
        "budget.period" => budget.map(|b| b.period.clone()),
        "budget.percent" => budget.map(|b| b.percent.to_string()),
        "budget.used" => budget.map(|b| b.used.to_string()),
        "budget.limit" => budget.map(|b| b.limit.to_string()),
        _ => None,
    };
    value.unwrap_or_default()
}

/// The message for a connection or budget event (`None` for the others); `title` is the
/// action's own, rendered.
pub(crate) fn message(action: &NotifyAction, facts: &Facts, title: Option<String>) -> Option<Message> {
    let render = |template: &Option<String>| template.as_deref().map(|t| super::rules::render(t, facts));
    if let Some(c) = &facts.connection {
        let where_ = c.location.as_ref().map(|l| format!(" ({l})")).unwrap_or_default();
        let what = if c.status == "needs_reauth" { "needs connecting again" } else { "is failing" };
        let body = render(&action.body).unwrap_or_else(|| format!("{}{where_}: {}", c.name, c.error));
        return Some(Message::Text {
            title: title.unwrap_or_else(|| format!("{} connection {what}", c.platform)),
            body,
            link: c.link.clone(),
        });
    }
    let b = facts.budget.as_ref()?;
    let body = render(&action.body)
        .unwrap_or_else(|| format!("{} of {} tokens used ({} {})", b.used, b.limit, b.period, b.period_key));
    Some(Message::Text {
        title: title.unwrap_or_else(|| format!("AI budget: {} % of the {}'s tokens used", b.percent, b.period)),
        body,
        link: b.link.clone(),
    })
}

/// A made-up event of a connection or budget trigger, for test-sends.
pub fn sample_facts(trigger: Trigger) -> Facts {
    let mut facts = Facts { trigger, deal: None, item: None, connection: None, budget: None };
    if trigger == Trigger::ConnectionFailing {
        facts.connection = Some(ConnectionFacts {
            connection_id: "con_sample".into(),
            platform: "google".into(),
            name: "Sample account".into(),
            location: Some("Sample location".into()),
            status: "error".into(),
            error: "the platform answered 503".into(),
            ..ConnectionFacts::default()
        });
    } else {
        facts.budget = Some(BudgetFacts {
            period: "day".into(),
            period_key: "2026-12-04".into(),
            percent: 80,
            used: 80_000,
            limit: 100_000,
            link: None,
        });
    }
    facts
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::automations::rules::{evaluate, parse};

    fn actions() -> Value {
        json!([{ "type": "notify", "destinationId": "dst_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b" }])
    }

    fn waited(hours: i64) -> Facts {
        Facts::of_item(Trigger::ResponseNeeded, ItemFacts { unanswered_hours: Some(hours), ..ItemFacts::default() })
    }

    #[test]
    fn a_response_needed_rule_matches_only_the_event_of_its_own_wait_whatever_match_says() {
        let conditions = json!([{ "type": "unansweredFor", "hours": 4 }, { "type": "platform", "values": ["google"] }]);
        let rule = parse("response_needed", "any", &conditions, &actions()).expect("valid");
        assert!(!evaluate(&rule, &waited(24)).matched, "a 24 h event is not this rule's 4 h");
        let mut four = waited(4);
        assert!(!evaluate(&rule, &four).matched, "the platform condition is still needed");
        four.item.as_mut().expect("item").platform = "google".into();
        assert!(evaluate(&rule, &four).matched);
    }

    #[test]
    fn the_new_triggers_refuse_conditions_that_cannot_apply() {
        let field = |trigger: &str, conditions: Value| {
            parse(trigger, "all", &conditions, &actions()).expect_err("invalid").field
        };
        assert_eq!(field("response_needed", json!([])), "conditions");
        assert_eq!(field("response_needed", json!([{ "type": "unansweredFor", "hours": 0 }])), "conditions[0].hours");
        assert_eq!(field("review_received", json!([{ "type": "unansweredFor", "hours": 2 }])), "conditions[0].type");
        assert_eq!(field("budget_threshold", json!([{ "type": "threshold", "percent": 50 }])), "conditions[0].percent");
        assert_eq!(field("budget_threshold", json!([{ "type": "rating", "min": 1 }])), "conditions[0].type");
        assert_eq!(field("connection_failing", json!([{ "type": "keywords", "any": ["x"] }])), "conditions[0].type");
        let ok = json!([{ "type": "platform", "values": ["google"] }, { "type": "location", "ids": ["loc_1"] }]);
        assert!(parse("connection_failing", "all", &ok, &actions()).is_ok());
    }

    #[test]
    fn a_budget_rule_reads_the_threshold_reached() {
        let rule = parse("budget_threshold", "all", &json!([{ "type": "threshold", "percent": 100 }]), &actions())
            .expect("valid");
        let mut facts = sample_facts(Trigger::BudgetThreshold);
        assert!(!evaluate(&rule, &facts).matched, "80 % is not 100 %");
        facts.budget.as_mut().expect("budget").percent = 100;
        assert!(evaluate(&rule, &facts).matched);
    }
}
