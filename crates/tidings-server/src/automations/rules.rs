//! Rules as data: the JSON schema of conditions and actions, its validation (every error names
//! the field at fault, as a path like `conditions[1].amount`), evaluation against an event's
//! [`Facts`] with the reason each condition failed, and the templates messages are written with.
//!
//! Pure functions, no I/O: the processing job, the test-send and the backtest all call them.
//!
//! # Schema
//! ```json
//! { "match": "all",                       // or "any"
//!   "conditions": [
//!     { "type": "pipeline",  "ids": [1] },            // Pipedrive pipeline ids
//!     { "type": "stage",     "ids": [3, 4] },         // stage ids (the stage it is in now)
//!     { "type": "owner",     "ids": [7] },            // Pipedrive user ids
//!     { "type": "minValue",  "amount": "1000", "currency": "EUR" },
//!     { "type": "rating",    "min": 1, "max": 2 },    // stars, both ends included
//!     { "type": "sentiment", "values": ["negative", "mixed"] },
//!     { "type": "platform",  "values": ["google"] },
//!     { "type": "location",  "ids": ["loc_…"] },
//!     { "type": "keywords",  "any": ["refund", "manager"] },   // case-insensitive, title or text
//!     { "type": "leadTag",   "values": ["HOT"] },
//!     { "type": "unansweredFor", "hours": 4 },      // response_needed: required, exactly one
//!     { "type": "threshold", "percent": 100 } ],    // budget_threshold: 80 or 100 reached
//!   "actions": [
//!     { "type": "notify", "destinationId": "dst_…", "template": "detailed",
//!       "title": "{{deal.title}} won by {{deal.owner}}", "body": "optional, Tidings events" } ] }
//! ```
//! The actions (notify, assign, set_status, sync_to_crm) are in [`super::actions`].
//! With no conditions a rule matches every event of its trigger. `unansweredFor` is the
//! `response_needed` trigger's parameter rather than a condition: it must hold whatever `match`
//! says (see triggers.rs).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use strum::VariantArray;
use tidings_connectors::money::Money;
use tidings_connectors::notify::{DealNotice, Message, Template};
use utoipa::ToSchema;

use super::actions::{self, Action, NotifyAction};
use super::model::{DealFacts, Facts, ItemFacts, Trigger};
use super::triggers;
use crate::inbox::model::stored_enum;

/// A validation error: the path of the bad field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// `conditions[1].amount`, `actions[0].title`…
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

stored_enum!(
    /// How conditions combine.
    MatchMode {
        /// Every condition must hold.
        All,
        /// One condition is enough.
        Any,
    }
);

/// One condition, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The deal's pipeline is one of these.
    Pipeline(Vec<i64>),
    /// The deal's stage is one of these.
    Stage(Vec<i64>),
    /// The deal's owner is one of these.
    Owner(Vec<i64>),
    /// The deal is worth at least this much (in the same currency).
    MinValue(Money),
    /// The review's rating is within these bounds.
    Rating { min: i64, max: i64 },
    /// The item's sentiment is one of these.
    Sentiment(Vec<String>),
    /// The item came from one of these platforms (`pipedrive` for deals).
    Platform(Vec<String>),
    /// The item belongs to one of these locations.
    Location(Vec<String>),
    /// The text (or the deal's title) contains one of these words.
    Keywords(Vec<String>),
    /// The message's lead tag is one of these.
    LeadTag(Vec<String>),
    /// `response_needed`: the item has waited this many hours (the trigger's parameter).
    UnansweredFor(i64),
    /// `budget_threshold`: at least this share (80 or 100 %) of the budget is used.
    Threshold(i64),
}

/// A rule's logic, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleLogic {
    /// What it reacts to.
    pub trigger: Trigger,
    /// How conditions combine.
    pub match_mode: MatchMode,
    /// The conditions, as validated.
    pub conditions: Vec<Condition>,
    /// The conditions as submitted (stored as they were written).
    pub conditions_json: Value,
    /// The actions.
    pub actions: Vec<Action>,
}

/// The variables templates may use.
pub const VARIABLES: &[&str] = &[
    "trigger",
    "deal.title",
    "deal.value",
    "deal.status",
    "deal.pipeline",
    "deal.stage",
    "deal.previousStage",
    "deal.owner",
    "deal.link",
    "item.kind",
    "item.platform",
    "item.location",
    "item.rating",
    "item.sentiment",
    "item.leadTag",
    "item.author",
    "item.text",
    "item.link",
    "item.handoffReason",
    "item.unansweredHours",
    "connection.name",
    "connection.platform",
    "connection.location",
    "connection.error",
    "budget.period",
    "budget.percent",
    "budget.used",
    "budget.limit",
];

const SENTIMENTS: &[&str] = &["positive", "negative", "neutral", "mixed"];
const LEAD_TAGS: &[&str] = &["HOT", "WARM", "COLD"];
const MAX_CONDITIONS: usize = 20;

/// Validates a rule's trigger, conditions and actions as submitted.
pub fn parse(trigger: &str, match_mode: &str, conditions: &Value, actions: &Value) -> Result<RuleLogic, FieldError> {
    let trigger = trigger.parse::<Trigger>().map_err(|_| {
        let known: Vec<_> = Trigger::VARIANTS.iter().map(|t| t.as_str()).collect();
        FieldError::new("trigger", format!("unknown trigger `{trigger}`; one of {}", known.join(", ")))
    })?;
    let match_mode = match_mode.parse::<MatchMode>().map_err(|_| FieldError::new("match", "must be `all` or `any`"))?;
    let none = Vec::new();
    let list = match conditions {
        Value::Null => &none,
        Value::Array(list) => list,
        _ => return Err(FieldError::new("conditions", "must be a list")),
    };
    if list.len() > MAX_CONDITIONS {
        return Err(FieldError::new("conditions", format!("at most {MAX_CONDITIONS} conditions")));
    }
    let conditions = list
        .iter()
        .enumerate()
        .map(|(i, c)| condition(&format!("conditions[{i}]"), c, trigger))
        .collect::<Result<Vec<_>, _>>()?;
    triggers::check_parameters(trigger, &conditions)?;
    let actions = actions::parse(actions, trigger)?;
    Ok(RuleLogic { trigger, match_mode, conditions, conditions_json: Value::Array(list.clone()), actions })
}

fn condition(path: &str, value: &Value, trigger: Trigger) -> Result<Condition, FieldError> {
    let object = value.as_object().ok_or_else(|| FieldError::new(path, "must be an object with a `type`"))?;
    let kind = object.get("type").and_then(Value::as_str).unwrap_or_default();
    let field = |name: &str| format!("{path}.{name}");
    let ints = |name: &str| -> Result<Vec<i64>, FieldError> {
        let list = object.get(name).and_then(Value::as_array).filter(|l| !l.is_empty());
        let list = list.ok_or_else(|| FieldError::new(field(name), "must be a non-empty list of ids"))?;
        list.iter()
            .map(|v| v.as_i64().ok_or_else(|| FieldError::new(field(name), "ids must be whole numbers")))
            .collect()
    };
    let texts = |name: &str, allowed: Option<&[&str]>| -> Result<Vec<String>, FieldError> {
        let list = object.get(name).and_then(Value::as_array).filter(|l| !l.is_empty());
        let list = list.ok_or_else(|| FieldError::new(field(name), "must be a non-empty list of text"))?;
        list.iter()
            .map(|v| {
                let text = v.as_str().map(str::trim).filter(|s| !s.is_empty());
                let text = text.ok_or_else(|| FieldError::new(field(name), "entries must be non-empty text"))?;
                match allowed {
                    Some(allowed) if !allowed.contains(&text) => {
                        Err(FieldError::new(field(name), format!("`{text}` is not one of {}", allowed.join(", "))))
                    }
                    _ => Ok(text.to_owned()),
                }
            })
            .collect()
    };
    let deal_only = |condition: Condition| {
        if trigger.is_deal() {
            Ok(condition)
        } else {
            Err(FieldError::new(field("type"), format!("`{kind}` applies to Pipedrive deal triggers only")))
        }
    };
    let item_only = |condition: Condition| {
        if trigger.is_item() {
            Ok(condition)
        } else {
            Err(FieldError::new(field("type"), format!("`{kind}` applies to review and message triggers only")))
        }
    };
    match kind {
        "pipeline" => deal_only(Condition::Pipeline(ints("ids")?)),
        "stage" => deal_only(Condition::Stage(ints("ids")?)),
        "owner" => deal_only(Condition::Owner(ints("ids")?)),
        "minValue" => {
            let currency = object.get("currency").and_then(Value::as_str).map(str::trim).unwrap_or_default();
            if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(FieldError::new(field("currency"), "must be a three-letter ISO 4217 code such as EUR"));
            }
            let money = match object.get("amount") {
                Some(Value::String(s)) => Money::from_decimal(s, currency),
                Some(Value::Number(n)) => Money::from_json(n, currency),
                _ => None,
            };
            let money = money
                .filter(|m| m.minor >= 0)
                .ok_or_else(|| FieldError::new(field("amount"), "must be a non-negative amount such as \"1000.00\""))?;
            deal_only(Condition::MinValue(money))
        }
        "rating" => {
            let bound = |name: &str, default: i64| match object.get(name) {
                None | Some(Value::Null) => Ok(default),
                Some(v) => v
                    .as_i64()
                    .filter(|n| (1..=5).contains(n))
                    .ok_or_else(|| FieldError::new(field(name), "must be a whole number of stars from 1 to 5")),
            };
            let (min, max) = (bound("min", 1)?, bound("max", 5)?);
            if min > max {
                return Err(FieldError::new(field("max"), "must not be below min"));
            }
            item_only(Condition::Rating { min, max })
        }
        "sentiment" => item_only(Condition::Sentiment(texts("values", Some(SENTIMENTS))?)),
        "platform" => Ok(Condition::Platform(texts("values", None)?)),
        "location" if trigger == Trigger::ConnectionFailing => Ok(Condition::Location(texts("ids", None)?)),
        "location" => item_only(Condition::Location(texts("ids", None)?)),
        "unansweredFor" | "threshold" => triggers::condition(kind, object, trigger, path),
        "keywords" => Ok(Condition::Keywords(texts("any", None)?.into_iter().map(|k| k.to_lowercase()).collect())),
        "leadTag" => {
            let tags = texts("values", None)?.into_iter().map(|t| t.to_uppercase()).collect::<Vec<_>>();
            if let Some(bad) = tags.iter().find(|t| !LEAD_TAGS.contains(&t.as_str())) {
                return Err(FieldError::new(field("values"), format!("`{bad}` is not one of HOT, WARM, COLD")));
            }
            item_only(Condition::LeadTag(tags))
        }
        "" => Err(FieldError::new(field("type"), "is required")),
        other => Err(FieldError::new(
            field("type"),
            format!(
                "unknown condition `{other}`; one of pipeline, stage, owner, minValue, rating, sentiment, platform, \
                 location, keywords, leadTag, unansweredFor, threshold"
            ),
        )),
    }
}

/// Every `{{name}}` must be a known variable and every `{{` closed.
pub(crate) fn check_variables(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| "a `{{` is not closed by `}}`".to_owned())?;
        let name = after[..end].trim();
        if !VARIABLES.contains(&name) {
            return Err(format!("unknown variable `{{{{{name}}}}}`; known: {}", VARIABLES.join(", ")));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

/// Reads conditions stored by [`parse`] back (they were valid when saved).
pub fn stored(
    trigger: Trigger,
    match_mode: MatchMode,
    conditions: &str,
    actions: &str,
) -> Result<RuleLogic, FieldError> {
    let conditions: Value =
        serde_json::from_str(conditions).map_err(|e| FieldError::new("conditions", e.to_string()))?;
    let actions: Value = serde_json::from_str(actions).map_err(|e| FieldError::new("actions", e.to_string()))?;
    parse(trigger.as_str(), match_mode.as_str(), &conditions, &actions)
}

/// Whether a rule matched an event, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// True when the rule's actions run for the event.
    pub matched: bool,
    /// Why it did not match (each failed condition), or what matched.
    pub reasons: Vec<String>,
}

/// Evaluates a rule's logic against an event's facts.
pub fn evaluate(logic: &RuleLogic, facts: &Facts) -> Verdict {
    if logic.trigger != facts.trigger {
        return Verdict {
            matched: false,
            reasons: vec![format!(
                "the rule reacts to {}, this event is {}",
                logic.trigger.as_str(),
                facts.trigger.as_str()
            )],
        };
    }
    // A trigger's parameter holds whatever `match` says.
    let (parameters, conditions): (Vec<&Condition>, Vec<&Condition>) =
        logic.conditions.iter().partition(|c| matches!(c, Condition::UnansweredFor(_)));
    let mut held = Vec::new();
    for parameter in parameters {
        match check(parameter, facts) {
            Ok(reason) => held.push(reason),
            Err(reason) => return Verdict { matched: false, reasons: vec![reason] },
        }
    }
    if conditions.is_empty() {
        held.push("no conditions: every such event matches".into());
        return Verdict { matched: true, reasons: held };
    }
    let results: Vec<Result<String, String>> = conditions.into_iter().map(|c| check(c, facts)).collect();
    let matched = match logic.match_mode {
        MatchMode::All => results.iter().all(Result::is_ok),
        MatchMode::Any => results.iter().any(Result::is_ok),
    };
    let reasons = if matched {
        held.into_iter().chain(results.into_iter().filter_map(Result::ok)).collect()
    } else {
        results.into_iter().filter_map(Result::err).collect()
    };
    Verdict { matched, reasons }
}

fn check(condition: &Condition, facts: &Facts) -> Result<String, String> {
    let deal = facts.deal.as_ref();
    let item = facts.item.as_ref();
    let in_ids = |what: &str, ids: &[i64], id: Option<i64>, name: Option<&String>| match id {
        Some(id) if ids.contains(&id) => Ok(format!("{what} is {}", name.cloned().unwrap_or_else(|| format!("#{id}")))),
        Some(id) => Err(format!("{what} {} is not one of {ids:?}", name.cloned().unwrap_or_else(|| format!("#{id}")))),
        None => Err(format!("the event has no {what}")),
    };
    let in_texts = |what: &str, values: &[String], value: Option<&str>| match value {
        Some(v) if values.iter().any(|x| x.eq_ignore_ascii_case(v)) => Ok(format!("{what} is {v}")),
        Some(v) => Err(format!("{what} {v} is not one of {}", values.join(", "))),
        None => Err(format!("the event has no {what}")),
    };
    match condition {
        Condition::Pipeline(ids) => {
            in_ids("pipeline", ids, deal.and_then(|d| d.pipeline_id), deal.and_then(|d| d.pipeline.as_ref()))
        }
        Condition::Stage(ids) => {
            in_ids("stage", ids, deal.and_then(|d| d.stage_id), deal.and_then(|d| d.stage.as_ref()))
        }
        Condition::Owner(ids) => {
            in_ids("owner", ids, deal.and_then(|d| d.owner_id), deal.and_then(|d| d.owner.as_ref()))
        }
        Condition::MinValue(min) => match deal.and_then(|d| d.value.as_ref()) {
            None => Err("the deal has no value".into()),
            Some(value) if value.currency != min.currency => {
                Err(format!("the deal is in {}, the minimum in {}", value.currency, min.currency))
            }
            Some(value) if value.minor >= min.minor => {
                Ok(format!("value {} is at least {}", value.display(), min.display()))
            }
            Some(value) => Err(format!("value {} is below the minimum {}", value.display(), min.display())),
        },
        Condition::Rating { min, max } => match item.and_then(|i| i.rating) {
            Some(r) if (*min..=*max).contains(&r) => Ok(format!("rating {r} is within {min}–{max}")),
            Some(r) => Err(format!("rating {r} is outside {min}–{max}")),
            None => Err("the item has no rating".into()),
        },
        Condition::Sentiment(values) => in_texts("sentiment", values, item.and_then(|i| i.sentiment.as_deref())),
        Condition::Platform(values) => {
            let platform = item
                .map(|i| i.platform.as_str())
                .or(facts.connection.as_ref().map(|c| c.platform.as_str()))
                .or(deal.map(|_| "pipedrive"));
            in_texts("platform", values, platform)
        }
        Condition::Location(ids) => {
            let location = item
                .and_then(|i| i.location_id.as_deref())
                .or(facts.connection.as_ref().and_then(|c| c.location_id.as_deref()));
            in_texts("location", ids, location)
        }
        Condition::UnansweredFor(hours) => triggers::check_unanswered(*hours, item),
        Condition::Threshold(percent) => triggers::check_threshold(*percent, facts.budget.as_ref()),
        Condition::LeadTag(values) => in_texts("lead tag", values, item.and_then(|i| i.lead_tag.as_deref())),
        Condition::Keywords(words) => {
            let text = item.map(|i| i.text.to_lowercase()).or(deal.map(|d| d.title.to_lowercase())).unwrap_or_default();
            match words.iter().find(|w| text.contains(w.as_str())) {
                Some(word) => Ok(format!("mentions “{word}”")),
                None => Err(format!("mentions none of {}", words.join(", "))),
            }
        }
    }
}

/// The value of a template variable for an event (empty when the event has none).
fn variable(name: &str, facts: &Facts) -> String {
    let deal = facts.deal.as_ref();
    let item = facts.item.as_ref();
    let d = |f: fn(&DealFacts) -> Option<String>| deal.and_then(f).unwrap_or_default();
    let i = |f: fn(&ItemFacts) -> Option<String>| item.and_then(f).unwrap_or_default();
    match name {
        "trigger" => facts.trigger.label().to_owned(),
        "deal.title" => d(|d| Some(d.title.clone())),
        "deal.value" => d(|d| d.value.as_ref().map(Money::display)),
        "deal.status" => d(|d| Some(d.status.clone())),
        "deal.pipeline" => d(|d| d.pipeline.clone()),
        "deal.stage" => d(|d| d.stage.clone()),
        "deal.previousStage" => d(|d| d.previous_stage.clone()),
        "deal.owner" => d(|d| d.owner.clone()),
        "deal.link" => d(|d| d.link.clone()),
        "item.kind" => i(|i| Some(i.kind.clone())),
        "item.platform" => i(|i| Some(i.platform.clone())),
        "item.location" => i(|i| i.location.clone()),
        "item.rating" => i(|i| i.rating.map(|r| r.to_string())),
        "item.sentiment" => i(|i| i.sentiment.clone()),
        "item.leadTag" => i(|i| i.lead_tag.clone()),
        "item.author" => i(|i| i.author.clone()),
        "item.text" => i(|i| Some(i.text.clone())),
        "item.link" => i(|i| i.link.clone()),
        "item.handoffReason" => i(|i| i.handoff_reason.clone()),
        "item.unansweredHours" => i(|i| i.unanswered_hours.map(|h| h.to_string())),
        other => triggers::variable(other, facts),
    }
}

/// Fills a template's `{{variables}}` from an event.
pub fn render(template: &str, facts: &Facts) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                out.push_str(&variable(after[..end].trim(), facts));
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The message an action sends for an event.
pub fn message(action: &NotifyAction, facts: &Facts) -> Message {
    let title = action.title.as_deref().map(|t| render(t, facts));
    if let Some(message) = triggers::message(action, facts, title.clone()) {
        return message;
    }
    if let Some(deal) = &facts.deal {
        let stage = |name: &Option<String>, id: Option<i64>| {
            name.clone().or(id.map(|id| format!("#{id}"))).unwrap_or_else(|| "?".into())
        };
        let headline = title.unwrap_or_else(|| match facts.trigger {
            Trigger::DealAdded => "New deal".into(),
            Trigger::DealWon => "Deal won".into(),
            Trigger::DealLost => "Deal lost".into(),
            Trigger::DealStageChanged => format!(
                "Deal moved from {} to {}",
                stage(&deal.previous_stage, deal.previous_stage_id),
                stage(&deal.stage, deal.stage_id)
            ),
            _ => "Deal updated".into(),
        });
        let notice = DealNotice {
            headline,
            title: deal.title.clone(),
            value: deal.value.clone(),
            pipeline: deal.pipeline.clone(),
            stage: deal.stage.clone(),
            owner: deal.owner.clone(),
            link: deal.link.clone(),
        };
        return Message::Deal { notice, template: action.template };
    }
    let item = facts.item.clone().unwrap_or_default();
    let default_title = match (facts.trigger, item.rating) {
        (Trigger::ReviewReceived | Trigger::NegativeReview, Some(rating)) => {
            format!("{}: {rating}★ on {}", facts.trigger.label(), item.platform)
        }
        _ => format!("{} on {}", facts.trigger.label(), item.platform),
    };
    let mut body = match &action.body {
        Some(body) => render(body, &item_facts(facts, item.clone())),
        None => {
            let text: String =
                item.text.chars().take(if action.template == Template::Compact { 280 } else { 2000 }).collect();
            match &item.author {
                Some(author) => format!("{author}: {text}"),
                None => text,
            }
        }
    };
    if action.template == Template::Detailed && action.body.is_none() {
        let details = [
            ("Location", item.location.clone()),
            ("Sentiment", item.sentiment.clone()),
            ("Lead", item.lead_tag.clone()),
            ("Handoff", item.handoff_reason.clone()),
        ];
        for (label, value) in details {
            if let Some(value) = value {
                body.push_str(&format!("\n{label}: {value}"));
            }
        }
    }
    Message::Text { title: title.unwrap_or(default_title), body, link: item.link }
}

fn item_facts(facts: &Facts, item: ItemFacts) -> Facts {
    Facts::of_item(facts.trigger, item)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn won(value: i64) -> Facts {
        Facts {
            trigger: Trigger::DealWon,
            deal: Some(DealFacts {
                id: 1,
                title: "Northwind".into(),
                value: Some(Money { minor: value, currency: "EUR".into() }),
                status: "won".into(),
                pipeline_id: Some(1),
                pipeline: Some("Sales".into()),
                stage_id: Some(3),
                stage: Some("Negotiation".into()),
                owner_id: Some(7),
                owner: Some("Ana".into()),
                ..DealFacts::default()
            }),
            item: None,
            connection: None,
            budget: None,
        }
    }

    fn actions() -> Value {
        json!([{ "type": "notify", "destinationId": "dst_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b", "template": "detailed" }])
    }

    #[test]
    fn minimum_value_and_pipeline_decide_and_say_why() {
        let conditions =
            json!([{ "type": "pipeline", "ids": [1] }, { "type": "minValue", "amount": "1000", "currency": "EUR" }]);
        let logic = parse("deal_won", "all", &conditions, &actions()).expect("valid");
        assert!(evaluate(&logic, &won(150_000)).matched);
        let below = evaluate(&logic, &won(50_000));
        assert!(!below.matched);
        assert_eq!(below.reasons, vec!["value 500.00 EUR is below the minimum 1,000.00 EUR".to_owned()]);
        let any = parse("deal_won", "any", &conditions, &actions()).expect("valid");
        assert!(evaluate(&any, &won(50_000)).matched, "the pipeline alone is enough with any");
        let lost = Facts { trigger: Trigger::DealLost, ..won(150_000) };
        assert!(!evaluate(&logic, &lost).matched);
    }

    #[test]
    fn validation_names_the_bad_field() {
        let bad = |conditions: Value| parse("deal_won", "all", &conditions, &actions()).expect_err("invalid").field;
        assert_eq!(bad(json!([{ "type": "minValue", "amount": "lots", "currency": "EUR" }])), "conditions[0].amount");
        assert_eq!(bad(json!([{}, { "type": "stage", "ids": [] }])), "conditions[0].type");
        assert_eq!(bad(json!([{ "type": "stage", "ids": ["x"] }])), "conditions[0].ids");
        assert_eq!(bad(json!([{ "type": "rating", "min": 1 }])), "conditions[0].type", "rating is for reviews");
        let error = parse("review_received", "all", &json!([{ "type": "rating", "min": 4, "max": 2 }]), &actions());
        assert_eq!(error.expect_err("invalid").field, "conditions[0].max");
        let error = parse("deal_won", "all", &json!([]), &json!([{ "type": "notify", "destinationId": "x" }]));
        assert_eq!(error.expect_err("invalid").field, "actions[0].destinationId");
        let title = json!([{ "type": "notify", "destinationId": "dst_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b", "title": "{{deal.nope}}" }]);
        assert_eq!(parse("deal_won", "all", &json!([]), &title).expect_err("invalid").field, "actions[0].title");
        assert_eq!(parse("deal_eaten", "all", &json!([]), &actions()).expect_err("invalid").field, "trigger");
    }

    #[test]
    fn templates_fill_variables() {
        let facts = won(278_608);
        assert_eq!(
            render("{{deal.title}} won by {{ deal.owner }} ({{deal.value}})", &facts),
            "Northwind won by Ana (2,786.08 EUR)"
        );
        let action: NotifyAction = serde_json::from_value(json!({
            "destinationId": "dst_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b", "template": "detailed"
        }))
        .expect("action");
        let Message::Deal { notice, .. } = message(&action, &facts) else { panic!("a deal message") };
        assert_eq!(notice.headline, "Deal won");
        assert_eq!(notice.stage.as_deref(), Some("Negotiation"));
    }
}
