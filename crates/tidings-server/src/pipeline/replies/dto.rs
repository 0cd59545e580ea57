//! What the reply-generation API takes and answers (reviewpilot §2.3 `/ai/*`).

use serde::{Deserialize, Serialize};
use tidings_core::time::to_rfc3339;
use tidings_core::{ConnectionId, ConversationId, KnowledgeId, MessageId, ReplyTemplateId, ResponseId};
use tidings_nlp::guardrail::Violation;
use utoipa::ToSchema;

use super::model::BudgetState;
use super::store::{KnowledgeKind, KnowledgeRow, TemplateRow};

/// Ask for reply drafts to a review or a message thread.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateIn {
    /// The review's or thread's conversation id (`cnv_…`); `reviewId` is accepted as in reviewpilot.
    #[serde(alias = "reviewId")]
    pub conversation_id: String,
    /// One tone (reviewpilot): it is offered first, followed by other tones up to `variants`.
    pub tone: Option<String>,
    /// The tones wanted, in order (`professional`, `friendly`, `empathetic`, `casual`); overrides `tone`.
    pub tones: Option<Vec<String>>,
    /// How many drafts (1–4; default 3).
    pub variants: Option<u8>,
    /// Extra instructions for the model (ignored by the offline composer).
    pub custom_instructions: Option<String>,
}

/// Drafts and what they cost.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedOut {
    /// The drafts, in the order of the tones asked for.
    pub responses: Vec<DraftOut>,
    /// Drafts the output guardrail held back, with why.
    pub dropped: Vec<DroppedOut>,
    /// Where the drafts came from: `model`, `cache`, `template` (offline composer) or `short_circuit`
    /// (a greeting or thanks, answered without a model).
    pub source: String,
    /// Why the offline composer answered instead of the model: `no_model`, `budget_exhausted`,
    /// `breaker_open`, `rate_limited`, `model_unavailable`, `model_error`, `malformed_answer`,
    /// `guardrail_rejected`.
    pub fallback_reason: Option<String>,
    /// Whether the model asked for a person to take over.
    pub requires_human: bool,
    /// Tokens and cost of this request.
    pub usage: UsageOut,
    /// The workspace's budget after this request.
    pub budget: BudgetOut,
    /// What the drafts answer.
    pub analysis: AnalysisOut,
    /// The knowledge-base entries the drafts could draw on, best first.
    pub knowledge: Vec<KnowledgeHitOut>,
}

/// One draft.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DraftOut {
    /// `ai_resp_1`, `ai_resp_2` … within this answer.
    pub id: String,
    pub text: String,
    pub tone: String,
    /// 0–1.
    pub confidence: f32,
    /// `model`, `cache` or `template`.
    pub source: String,
    /// The template a composed draft came from (`builtin:friendly`, `workspace:<name>`).
    pub template: Option<String>,
    /// Whether the output guardrail passed it (a composed draft that failed is still offered, with its violations).
    pub passed: bool,
    /// What the guardrail found.
    #[schema(value_type = Vec<Object>)]
    pub violations: Vec<Violation>,
    /// The guardrail shortened it to the brand voice's maximum length.
    pub shortened: bool,
}

/// A draft held back by the output guardrail.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DroppedOut {
    pub tone: String,
    pub text: String,
    #[schema(value_type = Vec<Object>)]
    pub violations: Vec<Violation>,
}

/// Tokens and cost of one request (reviewpilot's `usage`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageOut {
    /// The model called, if one was.
    pub model: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt plus completion tokens.
    pub tokens: u64,
    /// US dollars, from the configured price of the model (0 when it has none).
    pub cost: f64,
    /// Whether the model has a configured price.
    pub priced: bool,
}

/// A workspace's token budget.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetOut {
    pub state: BudgetState,
    /// Tokens per day; absent: unlimited.
    pub daily_limit: Option<u64>,
    pub monthly_limit: Option<u64>,
    pub used_today: u64,
    pub used_this_month: u64,
    /// Whether a spent budget stops model calls.
    pub hard_stop: bool,
}

impl From<&super::model::Budget> for BudgetOut {
    fn from(b: &super::model::Budget) -> Self {
        Self {
            state: b.state(),
            daily_limit: b.daily_limit,
            monthly_limit: b.monthly_limit,
            used_today: b.used_today,
            used_this_month: b.used_this_month,
            hard_stop: b.hard_stop,
        }
    }
}

/// The message the drafts answer, as the local pipeline understood it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisOut {
    pub message_id: String,
    pub language: Option<String>,
    pub topic: String,
    pub sentiment: String,
    pub is_question: bool,
}

/// A knowledge-base entry found for the message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KnowledgeHitOut {
    pub id: String,
    pub title: String,
    /// BM25 score.
    pub score: f64,
}

/// A new FAQ entry or document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KnowledgeIn {
    /// `faq` (title is the question, body the answer), `document` (text or Markdown) or
    /// `product` (title is the product's name, body its description and prices).
    pub kind: String,
    /// 1–200 characters.
    pub title: String,
    /// 1–100,000 characters.
    pub body: String,
}

/// A change to an entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KnowledgePatch {
    pub title: Option<String>,
    pub body: Option<String>,
}

/// A knowledge-base entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KnowledgeOut {
    pub id: KnowledgeId,
    pub kind: KnowledgeKind,
    pub title: String,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<KnowledgeRow> for KnowledgeOut {
    fn from(row: KnowledgeRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            title: row.title,
            body: row.body,
            created_at: to_rfc3339(row.created_at),
            updated_at: to_rfc3339(row.updated_at),
        }
    }
}

/// A reply template. Placeholders: `{{name}}`, `{{business}}`, `{{answer}}`, `{{order}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateIn {
    /// 1–100 characters, unique in the workspace.
    pub name: String,
    /// The tone it is written in; absent: any.
    pub tone: Option<String>,
    /// The topic it answers (`pricing`, `support`, `complaint`, `inquiry`, `feedback`, `other`); absent: any.
    pub topic: Option<String>,
    /// Its language (ISO 639-1); absent: any.
    pub language: Option<String>,
    /// 1–4,000 characters.
    pub body: String,
}

/// A stored reply template.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateOut {
    pub id: ReplyTemplateId,
    pub name: String,
    pub tone: Option<String>,
    pub topic: Option<String>,
    pub language: Option<String>,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<TemplateRow> for TemplateOut {
    fn from(row: TemplateRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            tone: row.tone,
            topic: row.topic,
            language: row.language,
            body: row.body,
            created_at: to_rfc3339(row.created_at),
            updated_at: to_rfc3339(row.updated_at),
        }
    }
}

/// The workspace's AI settings: model, budget, brand voice, holding message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsOut {
    /// The workspace's own model endpoint; absent: the server's, if any.
    pub model_base_url: Option<String>,
    pub model_name: Option<String>,
    pub model_timeout_secs: i64,
    /// Whether an API key for the workspace's model is stored (it is never shown).
    pub api_key_set: bool,
    /// The model replies come from now: `workspace`, `server` or `none` (offline composer).
    pub effective_model: String,
    /// Tokens per day; absent: the server's default; 0: unlimited.
    pub daily_token_budget: Option<i64>,
    pub monthly_token_budget: Option<i64>,
    pub hard_stop: bool,
    pub business_name: Option<String>,
    pub tone: String,
    pub style: String,
    pub guidelines: String,
    pub emoji_allowed: bool,
    pub max_length: i64,
    pub holding_message: Option<String>,
}

/// New AI settings; every field replaces the stored one (absent optional fields clear it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsIn {
    pub model_base_url: Option<String>,
    pub model_name: Option<String>,
    /// 1–300; default 30.
    pub model_timeout_secs: Option<i64>,
    /// A new API key for the workspace's model; `""` removes it; absent keeps it.
    pub api_key: Option<String>,
    pub daily_token_budget: Option<i64>,
    pub monthly_token_budget: Option<i64>,
    /// Default true.
    pub hard_stop: Option<bool>,
    pub business_name: Option<String>,
    /// `professional` (default), `friendly`, `empathetic` or `casual`.
    pub tone: Option<String>,
    /// At most 500 characters.
    pub style: Option<String>,
    /// At most 4,000 characters.
    pub guidelines: Option<String>,
    pub emoji_allowed: Option<bool>,
    /// 50–4,000; default 600.
    pub max_length: Option<i64>,
    /// At most 1,000 characters.
    pub holding_message: Option<String>,
}

/// Auto-reply on one channel connection.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoReplyOut {
    pub connection_id: String,
    pub enabled: bool,
    /// Confidence (0–1) a reply needs to go out without review.
    pub threshold: f32,
    /// Business hours in the location's time zone; absent: always.
    pub business_hours: Option<super::hours::BusinessHours>,
    /// The time zone they are read in (the connection's location's, UTC without one).
    pub time_zone: String,
}

/// New auto-reply settings of a connection.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoReplyIn {
    pub enabled: bool,
    /// 0–1; default 0.8.
    pub threshold: Option<f32>,
    pub business_hours: Option<super::hours::BusinessHours>,
}

/// Usage per day.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageReportOut {
    /// First and last day (UTC, inclusive).
    pub from: String,
    pub to: String,
    /// Every day of the range, days without use included.
    pub days: Vec<DayUsageOut>,
    pub budget: BudgetOut,
    /// Sums over the range.
    pub total_tokens: u64,
    pub total_cost: f64,
}

/// One day's usage.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayUsageOut {
    pub day: String,
    /// Model calls.
    pub calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub tokens: u64,
    /// US dollars.
    pub cost: f64,
    /// Answers reused from the cache.
    pub cache_hits: u64,
    /// Greetings and thanks answered without a model.
    pub short_circuits: u64,
    /// Requests answered by the offline composer.
    pub offline_drafts: u64,
    /// Failed model calls.
    pub failures: u64,
}

/// The range of a usage report.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// First day, `YYYY-MM-DD` (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (default: today, UTC).
    pub to: Option<String>,
}

/// A document uploaded as text or Markdown.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The document's title (default: its first Markdown heading, else "Document").
    pub title: Option<String>,
}

/// What auto-reply did with one message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoReplyLogOut {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub connection_id: Option<ConnectionId>,
    /// `pending`, `auto_sent`, `drafted`, `handed_off` or `skipped`.
    pub action: String,
    /// Agent 7's reasons (`{"trigger": "asks_for_human", "phrase": "a person"}` …).
    #[schema(value_type = Vec<Object>)]
    pub reasons: serde_json::Value,
    /// The draft's confidence, 0–1.
    pub confidence: Option<f32>,
    /// Where the draft came from (`model`, `cache`, `template`, `short_circuit`).
    pub source: Option<String>,
    /// The reply written (sent automatically, or kept as a draft).
    pub response_id: Option<ResponseId>,
    /// The holding message sent on a handoff.
    pub holding_response_id: Option<ResponseId>,
    pub created_at: String,
}

impl From<super::store::ReplyLogRow> for AutoReplyLogOut {
    fn from(row: super::store::ReplyLogRow) -> Self {
        Self {
            reasons: serde_json::from_str(&row.reasons).unwrap_or_else(|_| serde_json::json!([])),
            confidence: row.confidence_percent.map(|c| c as f32 / 100.0),
            message_id: row.message_id,
            conversation_id: row.conversation_id,
            connection_id: row.connection_id,
            action: row.action,
            source: row.source,
            response_id: row.response_id,
            holding_response_id: row.holding_response_id,
            created_at: to_rfc3339(row.created_at),
        }
    }
}

/// Which auto-reply outcomes to list.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AutoReplyLogQuery {
    /// Only this conversation's.
    pub conversation_id: Option<String>,
    /// 1–200; default 50.
    pub limit: Option<i64>,
}
