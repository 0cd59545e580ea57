//! What the AI pipeline understood about each inbound review or message, as the inbox shows it:
//! every score with the reasons behind it ("+30 pricing question ('price')").
//!
//! The pipeline (`pipeline/`, a layer above) computes and writes `message_analyses`; the inbox
//! only reads it here, so its thread views and API can show the analysis without importing the
//! pipeline (ADR 0014, ADR 0021). The stored JSON is tidings-nlp's own `Analysis` and
//! `Decision`; this file turns them into the API's shape.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tidings_core::time::to_rfc3339;
use tidings_core::{ConversationId, WorkspaceId};
use tidings_nlp::Signal;
use tidings_nlp::decision::{Action, Decision, Reason};
use tidings_nlp::pipeline::Analysis;
use tidings_nlp::sentiment::SentimentAnalysis;
use tidings_store::{Db, StoreError, with_reader};
use utoipa::ToSchema;

/// One reason behind a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignalOut {
    /// What it added to the score, in the score's unit (lead points, valence, urgency, risk);
    /// 0 for a note that changes no number.
    pub weight: f32,
    /// What was seen.
    pub reason: String,
    /// Weight and reason as a person reads them: `+30 pricing question ('price')`.
    pub text: String,
}

impl From<&Signal> for SignalOut {
    fn from(signal: &Signal) -> Self {
        Self { weight: signal.weight, reason: signal.reason.clone(), text: signal.to_string() }
    }
}

fn signals(list: &[Signal]) -> Vec<SignalOut> {
    list.iter().map(SignalOut::from).collect()
}

/// Sentiment: label, score and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SentimentOut {
    /// `positive`, `negative`, `neutral` or `mixed`.
    pub label: String,
    /// −1 (very negative) .. 1 (very positive).
    pub score: f32,
    /// The words and modifiers behind the score.
    pub reasons: Vec<SignalOut>,
}

impl From<&SentimentAnalysis> for SentimentOut {
    fn from(s: &SentimentAnalysis) -> Self {
        Self { label: s.sentiment.as_str().to_owned(), score: s.score, reasons: signals(&s.signals) }
    }
}

/// How pressing the item is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UrgencyOut {
    /// `low`, `medium`, `high` or `critical`.
    pub level: String,
    /// 0..1.
    pub score: f32,
    pub reasons: Vec<SignalOut>,
}

/// An emotion and the cues that showed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmotionOut {
    /// `anger`, `joy`, `sadness`, `fear` or `surprise`.
    pub emotion: String,
    /// 0..1.
    pub strength: f32,
    pub cues: Vec<String>,
}

/// Something named in the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntityOut {
    /// `money`, `email`, `phone`, `order_number`, `url`, `product` or `name`.
    pub kind: String,
    pub value: String,
}

/// The lead score of a message (reviews are not leads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadScoreOut {
    /// 0..100.
    pub score: u8,
    /// `HOT`, `WARM` or `COLD`, from the workspace's thresholds.
    pub tag: String,
    /// `purchase_evaluation`, `product_inquiry`, `support`, `not_interested`, `greeting`, `other`.
    pub intent: String,
    /// 0..1.
    pub confidence: f32,
    /// Every rule that fired, with its points.
    pub reasons: Vec<SignalOut>,
    /// What the team should do next.
    pub recommended_action: String,
}

/// The input guardrail's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuardrailOut {
    pub passed: bool,
    /// 0..1.
    pub risk_score: f32,
    /// `prompt_injection`, `spam_link`, `repeated`, `flooding`, `profanity`, …
    pub flags: Vec<String>,
    pub reasons: Vec<SignalOut>,
}

/// What happens next: `handoff` to a person (the conversation is `needs_human`), or `draft`
/// (a reply waits for a person to pick it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionOut {
    /// `auto_send`, `draft` or `handoff`.
    pub action: String,
    /// Why, as people read it ("asks for a person ('real person')").
    pub reasons: Vec<String>,
}

/// Everything the pipeline understood about one inbound item, each score with its reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageAnalysisOut {
    /// ISO 639-1 code (`en`, `es`, …); null when the text has no letters to go by.
    pub language: Option<String>,
    /// 0..1.
    pub language_confidence: f32,
    /// From the text alone.
    pub sentiment: SentimentOut,
    /// For reviews with stars: the text's sentiment with the rating as a prior (the one the
    /// conversation shows and filters on).
    pub sentiment_with_stars: Option<SentimentOut>,
    pub urgency: UrgencyOut,
    pub emotions: Vec<EmotionOut>,
    /// `pricing`, `support`, `complaint`, `inquiry`, `feedback` or `other`.
    pub topic: String,
    pub topic_reasons: Vec<SignalOut>,
    pub entities: Vec<EntityOut>,
    pub key_phrases: Vec<String>,
    pub is_question: bool,
    /// One line.
    pub summary: String,
    /// Messages only.
    pub lead: Option<LeadScoreOut>,
    pub guardrail: GuardrailOut,
    pub decision: DecisionOut,
    /// Steps that fell back (`sentiment_fallback`, …) or limits that applied (`truncated`).
    pub flags: Vec<String>,
    pub analysed_at: String,
}

/// A serde enum's name as stored (`purchase_evaluation`, `HOT`).
pub fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// A decision's reason as people read it.
pub fn reason_text(reason: &Reason) -> String {
    match reason {
        Reason::LowConfidence { confidence } => format!("low confidence ({confidence:.2})"),
        Reason::AsksForHuman { phrase } => format!("asks for a person ('{phrase}')"),
        Reason::NegativeAndCritical => "negative and critical".to_owned(),
        Reason::Unresolved { messages } => format!("{messages} customer messages without an answer"),
        Reason::LegalKeyword { phrase } => format!("legal wording ('{phrase}')"),
        Reason::BreakerOpen => "the model is unavailable (circuit open)".to_owned(),
        Reason::GuardrailFailed => "the reply failed the output guardrail".to_owned(),
        Reason::AutoReplyOff => "auto-reply is off".to_owned(),
        Reason::BelowThreshold { confidence, threshold } => {
            format!("confidence {confidence:.2} under the threshold {threshold:.2}")
        }
        Reason::NoReply => "no reply drafted yet".to_owned(),
    }
}

impl MessageAnalysisOut {
    /// The API's view of a stored analysis and decision.
    pub fn new(analysis: &Analysis, decision: &Decision, lead: bool, analysed_at: i64) -> Self {
        let u = &analysis.understanding;
        let s = &analysis.sentiment;
        let l = &analysis.lead;
        let g = &analysis.guardrail;
        Self {
            language: u.language.language.map(|l| l.code().to_owned()),
            language_confidence: u.language.confidence,
            sentiment: SentimentOut::from(s),
            sentiment_with_stars: analysis.sentiment_with_stars.as_ref().map(SentimentOut::from),
            urgency: UrgencyOut {
                level: name(&s.urgency.level),
                score: s.urgency.score,
                reasons: signals(&s.urgency.signals),
            },
            emotions: s
                .emotions
                .iter()
                .map(|e| EmotionOut { emotion: name(&e.emotion), strength: e.strength, cues: e.cues.clone() })
                .collect(),
            topic: name(&u.topic),
            topic_reasons: signals(&u.topic_signals),
            entities: u.entities.iter().map(|e| EntityOut { kind: name(&e.kind), value: e.value.clone() }).collect(),
            key_phrases: u.key_phrases.clone(),
            is_question: u.is_question,
            summary: u.summary.clone(),
            lead: lead.then(|| LeadScoreOut {
                score: l.score,
                tag: name(&l.tag),
                intent: name(&l.intent),
                confidence: l.confidence,
                reasons: signals(&l.signals),
                recommended_action: l.recommended_action.clone(),
            }),
            guardrail: GuardrailOut {
                passed: g.passed,
                risk_score: g.risk_score,
                flags: g.flags.iter().map(name).collect(),
                reasons: signals(&g.signals),
            },
            decision: DecisionOut {
                action: match decision.action {
                    Action::AutoSend => "auto_send",
                    Action::Draft => "draft",
                    Action::Handoff => "handoff",
                }
                .to_owned(),
                reasons: decision.reasons.iter().map(reason_text).collect(),
            },
            flags: analysis.flags.iter().map(name).collect(),
            analysed_at: to_rfc3339(analysed_at),
        }
    }

    /// The sentiment the item is listed and filtered by: with the stars' prior for a rated
    /// review, else the text's.
    pub fn overall_sentiment(&self) -> &SentimentOut {
        self.sentiment_with_stars.as_ref().unwrap_or(&self.sentiment)
    }
}

#[derive(sqlx::FromRow)]
struct AnalysisRow {
    message_id: String,
    analysis: String,
    decision: String,
    lead_score: Option<i64>,
    analysed_at: i64,
}

/// The analyses of a conversation's messages, by message id (messages not analysed yet, and
/// the business's own, have none).
pub async fn of_conversation(
    db: &Db,
    workspace: &WorkspaceId,
    conversation: &ConversationId,
) -> Result<HashMap<String, MessageAnalysisOut>, StoreError> {
    let rows: Vec<AnalysisRow> = with_reader!(db, |pool| sqlx::query_as(
        "SELECT message_id, analysis, decision, lead_score, analysed_at FROM message_analyses \
         WHERE workspace_id = $1 AND conversation_id = $2"
    )
    .bind(workspace.as_str())
    .bind(conversation.as_str())
    .fetch_all(pool)
    .await)?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        // A row this version cannot read (written by a newer one) is left out, not an error.
        let (Ok(analysis), Ok(decision)) =
            (serde_json::from_str::<Analysis>(&row.analysis), serde_json::from_str::<Decision>(&row.decision))
        else {
            tracing::warn!(message_id = %row.message_id, "a stored analysis could not be read");
            continue;
        };
        let view = MessageAnalysisOut::new(&analysis, &decision, row.lead_score.is_some(), row.analysed_at);
        out.insert(row.message_id, view);
    }
    Ok(out)
}

/// Fills in the analysis of each of a conversation's messages that has one.
pub async fn attach(
    db: &Db,
    workspace: &WorkspaceId,
    conversation: &ConversationId,
    messages: &mut [super::dto::MessageOut],
) -> Result<(), StoreError> {
    let mut analyses = of_conversation(db, workspace, conversation).await?;
    for message in messages {
        message.analysis = analyses.remove(message.id.as_str());
    }
    Ok(())
}

/// The sentiment and lead badges of a conversation in a list (`templates/pipeline/badges.html`).
#[derive(Debug, Clone, Default)]
pub struct Badges {
    /// `positive`, `negative`, `neutral`, `mixed`; empty until analysed.
    pub sentiment: String,
    /// `HOT`, `WARM`, `COLD`; empty for reviews and threads not scored yet.
    pub lead_tag: String,
    /// The lead tag was set by hand.
    pub lead_manual: bool,
    /// Why the pipeline handed the conversation to a person; empty when it did not.
    pub handoff_reason: String,
}

impl Badges {
    /// The badges of a listed conversation.
    pub fn of(row: &super::store::ConversationRow) -> Self {
        Self {
            sentiment: row.sentiment.clone().unwrap_or_default(),
            lead_tag: row.lead_tag.clone().unwrap_or_default(),
            lead_manual: row.lead_tag_manual,
            handoff_reason: row.handoff_reason.clone().unwrap_or_default(),
        }
    }
}
