//! The words of automations: triggers, destination kinds, delivery states, and the facts an event
//! offers to rules.

use serde::{Deserialize, Serialize};
use tidings_connectors::money::Money;
use utoipa::ToSchema;

use crate::inbox::model::stored_enum;

stored_enum!(
    /// What a rule reacts to. The editor lists them in this order.
    Trigger {
        /// Pipedrive: a deal was added.
        DealAdded,
        /// Pipedrive: a deal's status became won.
        DealWon,
        /// Pipedrive: a deal's status became lost.
        DealLost,
        /// Pipedrive: a deal moved to another stage.
        DealStageChanged,
        /// Pipedrive: any other change to a deal.
        DealUpdated,
        /// Tidings: a review arrived.
        ReviewReceived,
        /// Tidings: a review was analysed as negative.
        NegativeReview,
        /// Tidings: a message arrived.
        MessageReceived,
        /// Tidings: a message's sender was scored a HOT lead.
        LeadHot,
        /// Tidings: the AI pipeline handed a conversation to a person.
        HandoffRequested,
        /// Tidings: a review or message still unanswered N hours after it arrived (N is the rule's
        /// `unansweredFor` condition); found by a scheduled scan, fired once per item and N.
        ResponseNeeded,
        /// Tidings: a channel connection's health turned failing.
        ConnectionFailing,
        /// Tidings: the workspace's AI token use reached 80 % or 100 % of a budget.
        BudgetThreshold,
    }
);

impl Trigger {
    /// How the editor names it.
    pub fn label(self) -> &'static str {
        match self {
            Trigger::DealAdded => "Pipedrive: deal added",
            Trigger::DealWon => "Pipedrive: deal won",
            Trigger::DealLost => "Pipedrive: deal lost",
            Trigger::DealStageChanged => "Pipedrive: deal stage changed",
            Trigger::DealUpdated => "Pipedrive: deal updated",
            Trigger::ReviewReceived => "Review received",
            Trigger::NegativeReview => "Negative review",
            Trigger::MessageReceived => "Message received",
            Trigger::LeadHot => "Lead became HOT",
            Trigger::HandoffRequested => "Handoff requested",
            Trigger::ResponseNeeded => "Response needed",
            Trigger::ConnectionFailing => "Connection failing",
            Trigger::BudgetThreshold => "AI budget threshold",
        }
    }

    /// Whether the trigger is a Pipedrive deal event.
    pub fn is_deal(self) -> bool {
        matches!(
            self,
            Trigger::DealAdded
                | Trigger::DealWon
                | Trigger::DealLost
                | Trigger::DealStageChanged
                | Trigger::DealUpdated
        )
    }

    /// Whether the trigger is about one review or message (its facts have an `item`).
    pub fn is_item(self) -> bool {
        matches!(
            self,
            Trigger::ReviewReceived
                | Trigger::NegativeReview
                | Trigger::MessageReceived
                | Trigger::LeadHot
                | Trigger::HandoffRequested
                | Trigger::ResponseNeeded
        )
    }
}

stored_enum!(
    /// Where a destination sends.
    DestinationKind {
        /// A Google Chat space's incoming webhook (cards v2).
        GoogleChat,
        /// A Slack incoming webhook (Block Kit).
        Slack,
        /// Email: through the server's mailer, or SendGrid with the destination's API key.
        Email,
        /// SMS through Twilio.
        Sms,
        /// WhatsApp through Twilio.
        Whatsapp,
        /// Any HTTPS endpoint, signed per Standard Webhooks.
        Webhook,
        /// The dashboard's bell.
        InApp,
    }
);

impl DestinationKind {
    /// How the dashboard names it.
    pub fn label(self) -> &'static str {
        match self {
            DestinationKind::GoogleChat => "Google Chat",
            DestinationKind::Slack => "Slack",
            DestinationKind::Email => "Email",
            DestinationKind::Sms => "SMS",
            DestinationKind::Whatsapp => "WhatsApp",
            DestinationKind::Webhook => "Signed webhook",
            DestinationKind::InApp => "In-app",
        }
    }

    /// Chat webhooks allow about one message a second: sends to one are spaced out.
    pub fn is_chat(self) -> bool {
        matches!(self, DestinationKind::GoogleChat | DestinationKind::Slack)
    }
}

stored_enum!(
    /// Where a delivery stands.
    DeliveryStatus {
        /// Waiting for its job (first attempt or a retry).
        Queued,
        /// The destination is being called; committed before the call.
        Sending,
        /// The destination accepted it.
        Delivered,
        /// Every attempt failed, or the destination refused it for good: retry it from the log.
        Failed,
        /// Interrupted between calling the destination and recording its answer: it may have
        /// arrived. Not sent again by itself, so nobody receives it twice; retry it from the log.
        Unconfirmed,
    }
);

stored_enum!(
    /// Where an event came from.
    EventSource {
        /// A Pipedrive webhook.
        Pipedrive,
        /// Something that happened in Tidings (a review, a lead, a failing connection…).
        Tidings,
    }
);

stored_enum!(
    /// Where an event stands.
    EventStatus {
        /// Stored, not processed yet.
        Received,
        /// Its rules were evaluated.
        Processed,
        /// Processing failed (the error is stored with it).
        Failed,
    }
);

/// A Pipedrive deal as rules read it: ids and the names they stand for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DealFacts {
    /// Pipedrive's deal id.
    pub id: i64,
    /// The title.
    pub title: String,
    /// The value, when the deal has one.
    #[schema(value_type = Option<Object>)]
    pub value: Option<Money>,
    /// `open`, `won`, `lost`.
    pub status: String,
    /// The pipeline.
    pub pipeline_id: Option<i64>,
    /// Its name.
    pub pipeline: Option<String>,
    /// The stage it is in.
    pub stage_id: Option<i64>,
    /// Its name.
    pub stage: Option<String>,
    /// The stage it left, for a stage change.
    pub previous_stage_id: Option<i64>,
    /// Its name.
    pub previous_stage: Option<String>,
    /// The owner.
    pub owner_id: Option<i64>,
    /// The owner's name.
    pub owner: Option<String>,
    /// Where to open it in Pipedrive.
    pub link: Option<String>,
}

/// A review or message as rules read it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemFacts {
    /// The conversation.
    pub conversation_id: String,
    /// The message (a review is its conversation's first message).
    pub message_id: String,
    /// `review` or `message`.
    pub kind: String,
    /// The platform it came from.
    pub platform: String,
    /// The location it belongs to.
    pub location_id: Option<String>,
    /// Its name.
    pub location: Option<String>,
    /// The star rating, for reviews.
    pub rating: Option<i64>,
    /// `positive`, `negative`, `neutral`, `mixed`, once analysed.
    pub sentiment: Option<String>,
    /// `HOT`, `WARM`, `COLD`, for analysed messages.
    pub lead_tag: Option<String>,
    /// Why the AI pipeline handed it to a person.
    pub handoff_reason: Option<String>,
    /// Who wrote it.
    pub author: Option<String>,
    /// What it says.
    pub text: String,
    /// Where to read it in Tidings.
    pub link: Option<String>,
    /// For `response_needed`: how many hours it had waited for an answer when the event fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unanswered_hours: Option<i64>,
}

/// A channel connection whose health turned failing, as rules read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionFacts {
    /// The connection (`con_…`).
    pub connection_id: String,
    /// Its platform.
    pub platform: String,
    /// The account's name.
    pub name: String,
    /// The location it feeds.
    pub location_id: Option<String>,
    /// Its name.
    pub location: Option<String>,
    /// Its health: `error` or `needs_reauth`.
    pub status: String,
    /// What failed.
    pub error: String,
    /// Where to fix it in Tidings.
    pub link: Option<String>,
}

/// A budget threshold reached, as rules read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetFacts {
    /// `day` or `month`.
    pub period: String,
    /// The day (`2026-12-04`) or month (`2026-12`), UTC.
    pub period_key: String,
    /// 80 or 100.
    pub percent: i64,
    /// Tokens used in the period.
    pub used: i64,
    /// The period's budget in tokens.
    pub limit: i64,
    /// Where to read the usage in Tidings.
    pub link: Option<String>,
}

/// Everything a rule may test about one event, stored with the event once it is processed (so a
/// backtest reads the same facts the rules read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    /// What happened.
    pub trigger: Trigger,
    /// The deal, for Pipedrive events.
    pub deal: Option<DealFacts>,
    /// The review or message, for Tidings events about one.
    pub item: Option<ItemFacts>,
    /// The connection, for `connection_failing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionFacts>,
    /// The budget, for `budget_threshold`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetFacts>,
}

impl Facts {
    /// An event's facts about one review or message.
    pub fn of_item(trigger: Trigger, item: ItemFacts) -> Self {
        Self { trigger, deal: None, item: Some(item), connection: None, budget: None }
    }
}
