//! What the pipeline's endpoints accept and promise: lead rules, leads and their stats.

use serde::{Deserialize, Serialize};
use tidings_core::time::to_rfc3339;
use tidings_core::{ContactId, ConversationId};
use tidings_nlp::lead::{FactRule, LeadRules, PhraseRule};
use utoipa::{IntoParams, ToSchema};

use super::store::{LeadCounts, LeadRow};
use crate::http::Pagination;
use crate::inbox::analysis::SignalOut;
use crate::inbox::model::ConversationStatus;

/// Points for a rule triggered by words, and the words (any language, matched as whole words,
/// case-insensitive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhraseRuleDto {
    /// −100..100.
    pub points: i32,
    /// 1–200 phrases of 1–100 characters.
    pub phrases: Vec<String>,
}

/// Points for a rule triggered by a fact of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FactRuleDto {
    /// −100..100.
    pub points: i32,
}

/// The lead-scoring rules of replyforce §3.2 agent 4, as data. A field left out of a `PUT` takes
/// its default (the seed's value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct LeadRulesDto {
    /// Mentions pricing or buying (seed: +30).
    pub pricing: PhraseRuleDto,
    /// Asks about availability (+20).
    pub availability: PhraseRuleDto,
    /// Requests a demo or trial (+15).
    pub demo: PhraseRuleDto,
    /// Urgency language (+15).
    pub urgency: PhraseRuleDto,
    /// Asks about features (+15).
    pub features: PhraseRuleDto,
    /// A generic greeting (+10).
    pub greeting: PhraseRuleDto,
    /// Explicitly not interested (−20).
    pub not_interested: PhraseRuleDto,
    /// Repeat engagement: `repeatMessages` or more messages in the thread (+10).
    pub repeat_engagement: FactRuleDto,
    /// Messages from the sender that count as repeat engagement (2–50; seed: 3).
    pub repeat_messages: u32,
    /// Positive sentiment (+10).
    pub positive_sentiment: FactRuleDto,
    /// A question about a product (+20).
    pub product_inquiry: FactRuleDto,
    /// First message of the thread, showing interest (+10).
    pub first_time_interest: FactRuleDto,
    /// Follows the account (+10).
    pub follows: FactRuleDto,
    /// A question unrelated to buying (+5).
    pub unrelated_question: FactRuleDto,
    /// Negative sentiment (−10).
    pub negative_sentiment: FactRuleDto,
    /// Score from which a lead is HOT (1–100, above `warmFrom`; seed: 70).
    pub hot_from: i32,
    /// Score from which a lead is WARM (1–100; seed: 40).
    pub warm_from: i32,
}

impl Default for LeadRulesDto {
    fn default() -> Self {
        Self::from(&LeadRules::default())
    }
}

fn phrase(rule: &PhraseRule) -> PhraseRuleDto {
    PhraseRuleDto { points: rule.points, phrases: rule.phrases.clone() }
}

fn fact(rule: FactRule) -> FactRuleDto {
    FactRuleDto { points: rule.points }
}

impl From<&LeadRules> for LeadRulesDto {
    fn from(r: &LeadRules) -> Self {
        Self {
            pricing: phrase(&r.pricing),
            availability: phrase(&r.availability),
            demo: phrase(&r.demo),
            urgency: phrase(&r.urgency),
            features: phrase(&r.features),
            greeting: phrase(&r.greeting),
            not_interested: phrase(&r.not_interested),
            repeat_engagement: fact(r.repeat_engagement),
            repeat_messages: r.repeat_messages,
            positive_sentiment: fact(r.positive_sentiment),
            product_inquiry: fact(r.product_inquiry),
            first_time_interest: fact(r.first_time_interest),
            follows: fact(r.follows),
            unrelated_question: fact(r.unrelated_question),
            negative_sentiment: fact(r.negative_sentiment),
            hot_from: r.hot_from,
            warm_from: r.warm_from,
        }
    }
}

impl LeadRulesDto {
    /// Every rule with its name, for validation.
    pub fn phrase_rules(&self) -> [(&'static str, &PhraseRuleDto); 7] {
        [
            ("pricing", &self.pricing),
            ("availability", &self.availability),
            ("demo", &self.demo),
            ("urgency", &self.urgency),
            ("features", &self.features),
            ("greeting", &self.greeting),
            ("notInterested", &self.not_interested),
        ]
    }

    /// Every fact rule with its name, for validation.
    pub fn fact_rules(&self) -> [(&'static str, FactRuleDto); 7] {
        [
            ("repeatEngagement", self.repeat_engagement),
            ("positiveSentiment", self.positive_sentiment),
            ("productInquiry", self.product_inquiry),
            ("firstTimeInterest", self.first_time_interest),
            ("follows", self.follows),
            ("unrelatedQuestion", self.unrelated_question),
            ("negativeSentiment", self.negative_sentiment),
        ]
    }

    /// The rules tidings-nlp scores with; phrases trimmed and lower-cased.
    pub fn into_rules(self) -> LeadRules {
        let phrase = |rule: PhraseRuleDto| PhraseRule {
            points: rule.points,
            phrases: rule.phrases.iter().map(|p| p.trim().to_lowercase()).collect(),
        };
        let fact = |rule: FactRuleDto| FactRule { points: rule.points };
        LeadRules {
            pricing: phrase(self.pricing),
            availability: phrase(self.availability),
            demo: phrase(self.demo),
            repeat_engagement: fact(self.repeat_engagement),
            repeat_messages: self.repeat_messages,
            positive_sentiment: fact(self.positive_sentiment),
            urgency: phrase(self.urgency),
            product_inquiry: fact(self.product_inquiry),
            features: phrase(self.features),
            first_time_interest: fact(self.first_time_interest),
            follows: fact(self.follows),
            greeting: phrase(self.greeting),
            unrelated_question: fact(self.unrelated_question),
            negative_sentiment: fact(self.negative_sentiment),
            not_interested: phrase(self.not_interested),
            hot_from: self.hot_from,
            warm_from: self.warm_from,
        }
    }
}

/// The workspace's lead rules.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadRulesOut {
    pub rules: LeadRulesDto,
    /// False while the workspace uses the defaults.
    pub custom: bool,
    /// When they were last changed; null for the defaults.
    pub updated_at: Option<String>,
}

/// Filters and paging of the lead list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct LeadQuery {
    /// Only leads with this tag: `HOT`, `WARM` or `COLD` (any case).
    pub tag: Option<String>,
    /// Page size, 1–100 (default 20).
    pub limit: Option<i64>,
    /// Leads skipped (default 0).
    pub offset: Option<i64>,
}

/// A lead: a message thread with its latest lead score and tag.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadOut {
    /// The conversation's id (`cnv_…`).
    pub id: ConversationId,
    pub platform: String,
    pub contact_id: Option<ContactId>,
    pub contact_name: Option<String>,
    /// The latest message, shortened.
    pub preview: String,
    /// The conversation's status.
    pub status: ConversationStatus,
    /// `HOT`, `WARM` or `COLD`; null for a thread not scored yet.
    pub tag: Option<String>,
    /// 0..100, from the latest scored message.
    pub score: Option<i64>,
    /// True when a member set the tag by hand: re-analysis keeps it.
    pub manual: bool,
    /// Why the latest message scored as it did ("+30 pricing question ('price')").
    pub reasons: Vec<SignalOut>,
    /// What the team should do next.
    pub recommended_action: Option<String>,
    pub last_message_at: String,
}

impl LeadOut {
    /// A lead from its conversation and the lead score of its latest scored message.
    pub fn new(row: LeadRow, latest: Option<&tidings_nlp::lead::LeadScore>) -> Self {
        Self {
            id: row.id,
            platform: row.platform,
            contact_id: row.contact_id,
            contact_name: row.contact_name,
            preview: row.preview,
            status: row.status,
            tag: row.lead_tag,
            score: row.lead_score,
            manual: row.lead_tag_manual,
            reasons: latest.map(|l| l.signals.iter().map(SignalOut::from).collect()).unwrap_or_default(),
            recommended_action: latest.map(|l| l.recommended_action.clone()),
            last_message_at: to_rfc3339(row.last_message_at),
        }
    }
}

/// A page of leads.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadListOut {
    pub leads: Vec<LeadOut>,
    pub pagination: Pagination,
}

/// A lead's tag set by hand.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeadTagIn {
    /// `HOT`, `WARM` or `COLD` (any case); null gives the tag back to the pipeline (the latest
    /// scored message's tag applies again).
    pub tag: Option<String>,
}

/// The workspace's leads in numbers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadStatsOut {
    /// Message threads with a lead tag.
    pub total: i64,
    pub hot: i64,
    pub warm: i64,
    pub cold: i64,
    /// Leads whose tag a member set by hand.
    pub manual: i64,
    /// Mean lead score, 0..100; null without leads.
    pub average_score: Option<f64>,
    /// Leads among the threads started in the last seven days.
    pub new_last_7_days: i64,
}

impl From<LeadCounts> for LeadStatsOut {
    fn from(c: LeadCounts) -> Self {
        Self {
            total: c.total,
            hot: c.hot,
            warm: c.warm,
            cold: c.cold,
            manual: c.manual,
            average_score: c.average_score.map(|a| (a * 10.0).round() / 10.0),
            new_last_7_days: c.new_last_7_days,
        }
    }
}
