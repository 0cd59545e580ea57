//! What a rule does when it matches: a typed list of actions, validated from the submitted JSON
//! with every error naming its field (`actions[1].memberId`), and described in words for the
//! backtest and the test-send.
//!
//! ```json
//! [ { "type": "notify", "destinationId": "dst_…", "template": "detailed", "title": "…", "body": "…" },
//!   { "type": "assign", "memberId": "usr_…" },
//!   { "type": "set_status", "status": "closed" },               // open, closed, needs_human
//!   { "type": "sync_to_crm", "connectionId": "crm_…", "objects": ["contact", "deal", "note"] } ]
//! ```
//!
//! `assign`, `set_status` and `sync_to_crm` act on the event's conversation, so they apply to the
//! review and message triggers only. Whether the destination, member or CRM connection exists in
//! the workspace is checked by the service when the rule is saved.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tidings_connectors::crm::Step;
use tidings_connectors::notify::Template;
use tidings_core::{CrmConnectionId, DestinationId, UserId};
use utoipa::ToSchema;

use super::model::Trigger;
use super::rules::{FieldError, check_variables};
use crate::inbox::model::ConversationStatus;

/// The most actions a rule has.
const MAX_ACTIONS: usize = 10;
/// The statuses a rule may set: snoozing needs a time, which a rule has no way to say.
pub(crate) const SETTABLE: [ConversationStatus; 3] =
    [ConversationStatus::Open, ConversationStatus::Closed, ConversationStatus::NeedsHuman];

/// One action of a rule, as stored and returned (`type` names the variant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Sends a message to a destination.
    Notify(NotifyAction),
    /// Assigns the conversation to a member, through the inbox (audited as the rule).
    Assign(AssignAction),
    /// Changes the conversation's status, through the inbox (audited as the rule).
    SetStatus(SetStatusAction),
    /// Pushes the contact (and a deal and a note) to a CRM connection, on the delivery path.
    SyncToCrm(SyncAction),
}

/// Sends a message to a destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotifyAction {
    /// Where to send.
    #[schema(value_type = String)]
    pub destination_id: DestinationId,
    /// `compact` or `detailed`.
    #[schema(value_type = String)]
    pub template: Template,
    /// Replaces the headline; may use `{{variables}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Replaces the text of Tidings events; may use `{{variables}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// Assigns the conversation to a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignAction {
    /// The member (`usr_…`).
    #[schema(value_type = String)]
    pub member_id: UserId,
}

/// Changes the conversation's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetStatusAction {
    /// `open`, `closed` or `needs_human`.
    pub status: ConversationStatus,
}

/// Pushes the conversation's contact to a CRM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncAction {
    /// The CRM connection (`crm_…`): HubSpot, Salesforce or Pipedrive.
    #[schema(value_type = String)]
    pub connection_id: CrmConnectionId,
    /// What to create: `contact` (always), `deal`, `note`.
    #[schema(value_type = Vec<String>)]
    pub objects: Vec<Step>,
}

impl SyncAction {
    /// Whether the push creates `step`'s object.
    pub fn creates(&self, step: Step) -> bool {
        self.objects.contains(&step)
    }
}

/// Whether a trigger's events concern one conversation, which assign, set status and sync act on.
pub fn concerns_conversation(trigger: Trigger) -> bool {
    matches!(
        trigger,
        Trigger::ReviewReceived
            | Trigger::NegativeReview
            | Trigger::MessageReceived
            | Trigger::LeadHot
            | Trigger::HandoffRequested
    )
}

/// Validates a rule's actions as submitted.
pub fn parse(actions: &Value, trigger: Trigger) -> Result<Vec<Action>, FieldError> {
    let list = match actions {
        Value::Array(list) if !list.is_empty() => list,
        _ => return Err(FieldError::new("actions", "must be a list with at least one action")),
    };
    if list.len() > MAX_ACTIONS {
        return Err(FieldError::new("actions", format!("at most {MAX_ACTIONS} actions")));
    }
    list.iter().enumerate().map(|(i, a)| action(&format!("actions[{i}]"), a, trigger)).collect()
}

fn action(path: &str, value: &Value, trigger: Trigger) -> Result<Action, FieldError> {
    let object = value.as_object().ok_or_else(|| FieldError::new(path, "must be an object with a `type`"))?;
    let field = |name: &str| format!("{path}.{name}");
    let text_of = |name: &str| object.get(name).and_then(Value::as_str).map(str::trim).unwrap_or_default();
    let kind = object.get("type").and_then(Value::as_str).unwrap_or_default();
    let on_conversation = |action: Action| {
        if concerns_conversation(trigger) {
            Ok(action)
        } else {
            Err(FieldError::new(field("type"), format!("`{kind}` applies to review and message triggers only")))
        }
    };
    match kind {
        "notify" => notify(path, object),
        "assign" => {
            let member_id = UserId::parse(text_of("memberId"))
                .map_err(|_| FieldError::new(field("memberId"), "must be a member id (usr_…)"))?;
            on_conversation(Action::Assign(AssignAction { member_id }))
        }
        "set_status" => {
            let allowed = || SETTABLE.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            let status = (text_of("status").parse::<ConversationStatus>().ok())
                .filter(|s| SETTABLE.contains(s))
                .ok_or_else(|| FieldError::new(field("status"), format!("must be one of {}", allowed())))?;
            on_conversation(Action::SetStatus(SetStatusAction { status }))
        }
        "sync_to_crm" => {
            let connection_id = CrmConnectionId::parse(text_of("connectionId"))
                .map_err(|_| FieldError::new(field("connectionId"), "must be a CRM connection id (crm_…)"))?;
            let objects = match object.get("objects") {
                None | Some(Value::Null) => Step::ALL.to_vec(),
                Some(Value::Array(list)) => list
                    .iter()
                    .map(|v| v.as_str().and_then(Step::parse))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| FieldError::new(field("objects"), "entries must be contact, deal or note"))?,
                Some(_) => {
                    return Err(FieldError::new(field("objects"), "must be a list such as [\"contact\", \"note\"]"));
                }
            };
            if !objects.contains(&Step::Contact) {
                return Err(FieldError::new(field("objects"), "must include `contact`: deals and notes hang on it"));
            }
            let objects = Step::ALL.into_iter().filter(|s| objects.contains(s)).collect();
            on_conversation(Action::SyncToCrm(SyncAction { connection_id, objects }))
        }
        "" => Err(FieldError::new(field("type"), "is required")),
        other => Err(FieldError::new(
            field("type"),
            format!("unknown action `{other}`; one of notify, assign, set_status, sync_to_crm"),
        )),
    }
}

fn notify(path: &str, object: &serde_json::Map<String, Value>) -> Result<Action, FieldError> {
    let field = |name: &str| format!("{path}.{name}");
    let destination = object.get("destinationId").and_then(Value::as_str).unwrap_or_default();
    let destination_id = DestinationId::parse(destination)
        .map_err(|_| FieldError::new(field("destinationId"), "must be a destination id (dst_…)"))?;
    let template = match object.get("template").and_then(Value::as_str).unwrap_or("compact") {
        "compact" => Template::Compact,
        "detailed" => Template::Detailed,
        _ => return Err(FieldError::new(field("template"), "must be `compact` or `detailed`")),
    };
    let text = |name: &str| -> Result<Option<String>, FieldError> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) if s.chars().count() > 1000 => {
                Err(FieldError::new(field(name), "at most 1000 characters"))
            }
            Some(Value::String(s)) => {
                check_variables(s).map_err(|m| FieldError::new(field(name), m))?;
                Ok(Some(s.clone()))
            }
            Some(_) => Err(FieldError::new(field(name), "must be text")),
        }
    };
    Ok(Action::Notify(NotifyAction { destination_id, template, title: text("title")?, body: text("body")? }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const MEMBER: &str = "usr_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b";
    const CRM: &str = "crm_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b";

    #[test]
    fn every_kind_parses_and_round_trips_as_stored() {
        let submitted = json!([
            { "type": "assign", "memberId": MEMBER },
            { "type": "set_status", "status": "closed" },
            { "type": "sync_to_crm", "connectionId": CRM, "objects": ["note", "contact"] },
        ]);
        let actions = parse(&submitted, Trigger::LeadHot).expect("valid");
        let Action::SyncToCrm(sync) = &actions[2] else { panic!("a sync") };
        assert_eq!(sync.objects, vec![Step::Contact, Step::Note], "in push order");
        let stored = serde_json::to_value(&actions).expect("json");
        assert_eq!(stored[1], json!({ "type": "set_status", "status": "closed" }));
        assert_eq!(parse(&stored, Trigger::LeadHot).expect("stored actions parse again"), actions);
    }

    #[test]
    fn errors_name_the_field_of_the_action_at_fault() {
        let field = |actions: Value, trigger: Trigger| parse(&actions, trigger).expect_err("invalid").field;
        let notify = json!({ "type": "notify", "destinationId": "dst_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b" });
        assert_eq!(
            field(json!([notify, { "type": "assign", "memberId": "ana" }]), Trigger::LeadHot),
            "actions[1].memberId"
        );
        assert_eq!(
            field(json!([{ "type": "set_status", "status": "snoozed" }]), Trigger::LeadHot),
            "actions[0].status"
        );
        assert_eq!(
            field(json!([{ "type": "sync_to_crm", "connectionId": CRM, "objects": ["deal"] }]), Trigger::LeadHot),
            "actions[0].objects"
        );
        assert_eq!(
            field(json!([{ "type": "sync_to_crm", "connectionId": "x" }]), Trigger::LeadHot),
            "actions[0].connectionId"
        );
        assert_eq!(field(json!([{ "type": "assign", "memberId": MEMBER }]), Trigger::DealWon), "actions[0].type");
        assert_eq!(field(json!([{ "type": "escalate" }]), Trigger::LeadHot), "actions[0].type");
        assert_eq!(field(json!([]), Trigger::LeadHot), "actions");
    }
}
