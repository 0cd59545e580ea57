//! What the automations endpoints accept and promise. Secrets (API tokens, webhook URLs, auth
//! tokens) go in and never come out; a signed webhook's signing secret is shown once, when it is
//! created or rotated.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tidings_core::time::to_rfc3339;
use tidings_core::{CrmConnectionId, DeliveryId, DestinationId, EventId, RuleId};
use utoipa::{IntoParams, ToSchema};

use super::actions::Action;
use super::destinations::DestinationConfig;
use super::model::{DeliveryStatus, DestinationKind, EventSource, EventStatus, Trigger};
use super::rules::{MatchMode, Verdict};
use super::store::deliveries::DeliveryRow;
use super::store::{CrmConnectionRow, DestinationRow, EventRow, RuleRow};

/// Connects a Pipedrive account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PipedriveConnectIn {
    /// The API token (Pipedrive → Personal preferences → API). Checked against Pipedrive before
    /// anything is saved; stored encrypted.
    pub api_token: String,
    /// A name for the connection (`Pipedrive` when left out).
    #[serde(default)]
    pub name: Option<String>,
}

/// A connected CRM account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrmConnectionOut {
    pub id: CrmConnectionId,
    pub provider: String,
    pub name: String,
    /// The token's user and company, as Pipedrive named them.
    pub account_name: String,
    pub company_domain: Option<String>,
    /// Where Pipedrive posts this connection's deal events.
    pub webhook_url: String,
    /// The Basic auth user name Pipedrive sends (the password is never shown).
    pub webhook_user: Option<String>,
    /// Webhooks registered in Pipedrive.
    pub webhook_count: usize,
    pub names_fetched_at: Option<String>,
    pub last_event_at: Option<String>,
    pub created_at: String,
}

impl CrmConnectionOut {
    pub fn from_row(row: CrmConnectionRow, webhook_url: String) -> Self {
        Self {
            webhook_count: serde_json::from_str::<Vec<i64>>(&row.webhook_ids).map(|w| w.len()).unwrap_or(0),
            id: row.id,
            provider: row.provider.as_str().to_owned(),
            name: row.name,
            account_name: row.account_name,
            company_domain: row.company_domain,
            webhook_url,
            webhook_user: row.webhook_user,
            names_fetched_at: row.names_fetched_at.map(to_rfc3339),
            last_event_at: row.last_event_at.map(to_rfc3339),
            created_at: to_rfc3339(row.created_at),
        }
    }
}

/// What a disconnect did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisconnectedOut {
    pub deleted: bool,
    /// False when Pipedrive could not be reached or refused: remove the webhook there by hand.
    pub webhooks_removed: bool,
}

/// A destination to add. Which fields apply depends on `kind`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationIn {
    pub kind: Option<DestinationKind>,
    /// A name people recognise, e.g. `#sales-wins`.
    pub name: String,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Google Chat, Slack and signed webhooks: the https URL (checked against SSRF rules).
    #[serde(default)]
    pub url: Option<String>,
    /// Google Chat: one thread per deal (default true).
    #[serde(default)]
    pub thread_by_deal: Option<bool>,
    /// Email: the recipients; SMS/WhatsApp: the one number (E.164).
    #[serde(default)]
    pub to: Option<Vec<String>>,
    /// Email: "the team" instead of `to`: every member who chose email for the notification's
    /// kind (`/settings/notifications`), respecting their quiet hours. Sent by this server's mail.
    #[serde(default)]
    pub team: Option<bool>,
    /// Email: `smtp` (this server's mail settings, the default) or `sendgrid`.
    #[serde(default)]
    pub provider: Option<String>,
    /// SendGrid: the verified sender; Twilio: the sending number.
    #[serde(default)]
    pub from: Option<String>,
    /// SendGrid's API key.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Twilio's account SID (`AC…`) or API key SID (`SK…`).
    #[serde(default)]
    pub account_sid: Option<String>,
    /// Twilio's auth token (or API key secret).
    #[serde(default)]
    pub auth_token: Option<String>,
    /// WhatsApp: an approved Content template (`HX…`) for messages outside the 24-hour window.
    #[serde(default)]
    pub content_sid: Option<String>,
}

/// Changes to a destination.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationPatch {
    #[serde(default)]
    pub name: Option<String>,
    /// Enabling a paused destination closes its circuit breaker.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// A new URL (Google Chat, Slack, webhook), checked again.
    #[serde(default)]
    pub url: Option<String>,
}

/// A destination (never its secrets).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DestinationOut {
    pub id: DestinationId,
    pub kind: DestinationKind,
    pub name: String,
    pub enabled: bool,
    /// Where it sends, without secrets: the URL's host and path, the recipients.
    pub target: Option<String>,
    #[schema(value_type = Object)]
    pub config: Value,
    /// Set while the circuit breaker pauses it.
    pub paused_until: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub last_delivered_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// A signed webhook's signing secret (`whsec_…`): only in the answer that created or rotated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
}

impl DestinationOut {
    pub fn from_row(row: DestinationRow, signing_secret: Option<String>) -> Self {
        let config: DestinationConfig = serde_json::from_str(&row.config).unwrap_or_default();
        Self {
            kind: row.kind,
            id: row.id,
            name: row.name,
            enabled: row.enabled,
            target: row.target_hint,
            config: serde_json::to_value(config).unwrap_or_default(),
            paused_until: row.paused_until.filter(|at| *at > tidings_core::time::now_millis()).map(to_rfc3339),
            last_error: row.last_error,
            last_error_at: row.last_error_at.map(to_rfc3339),
            last_delivered_at: row.last_delivered_at.map(to_rfc3339),
            created_at: to_rfc3339(row.created_at),
            updated_at: to_rfc3339(row.updated_at),
            signing_secret,
        }
    }
}

/// A rule to create, or its new definition (`PUT` replaces it). See `automations/rules.rs` for
/// the conditions and actions schema.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleIn {
    pub name: String,
    /// `deal_added`, `deal_won`, `deal_lost`, `deal_stage_changed`, `deal_updated`,
    /// `review_received`, `negative_review`, `message_received`, `lead_hot`, `handoff_requested`,
    /// `response_needed`, `connection_failing`, `budget_threshold`.
    pub trigger: String,
    /// `all` (default) or `any`.
    #[serde(default, rename = "match")]
    pub match_mode: Option<String>,
    /// `[{"type": "minValue", "amount": "1000", "currency": "EUR"}, …]`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub conditions: Value,
    /// `[{"type": "notify", "destinationId": "dst_…", "template": "detailed", "title": "…"},
    /// {"type": "assign", "memberId": "usr_…"}, {"type": "set_status", "status": "closed"},
    /// {"type": "sync_to_crm", "connectionId": "crm_…", "objects": ["contact", "deal", "note"]}]`.
    #[schema(value_type = Vec<Action>)]
    pub actions: Value,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Turns a rule on or off.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RulePatch {
    pub enabled: bool,
}

/// A rule.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleOut {
    pub id: RuleId,
    pub name: String,
    pub trigger: Trigger,
    #[serde(rename = "match")]
    pub match_mode: MatchMode,
    #[schema(value_type = Vec<Object>)]
    pub conditions: Value,
    #[schema(value_type = Vec<Action>)]
    pub actions: Value,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl RuleOut {
    pub fn from_row(row: RuleRow) -> Self {
        Self {
            trigger: row.trigger_kind,
            id: row.id,
            name: row.name,
            match_mode: row.match_mode,
            conditions: serde_json::from_str(&row.conditions).unwrap_or_default(),
            actions: serde_json::from_str(&row.actions).unwrap_or_default(),
            enabled: row.enabled,
            created_at: to_rfc3339(row.created_at),
            updated_at: to_rfc3339(row.updated_at),
        }
    }
}

/// Test-sends a rule: against a stored event, or the most recent one of its trigger, or a sample.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestIn {
    pub rule_id: String,
    /// A stored event (`evt_…`); when left out, the most recent event of the rule's trigger,
    /// else a made-up sample.
    #[serde(default)]
    pub event_id: Option<String>,
    /// Use a made-up sample even when real events exist.
    #[serde(default)]
    pub sample: bool,
}

/// What a test-send did. The messages are sent whether or not the conditions hold, marked as
/// tests in the log; `verdict` says whether the rule would have matched.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestOut {
    /// The event used, when a stored one was.
    pub event_id: Option<String>,
    pub sample: bool,
    pub verdict: Verdict,
    /// What each action did or would do: notifications and syncs are sent (marked as tests),
    /// assign and set status are only described.
    pub actions: Vec<String>,
    pub deliveries: Vec<DeliveryOut>,
}

/// Backtests a rule (saved or not) over the last 30 days of events.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BacktestIn {
    /// A saved rule…
    #[serde(default)]
    pub rule_id: Option<String>,
    /// …or a definition being edited.
    #[serde(default)]
    pub rule: Option<RuleIn>,
}

/// One event of a backtest.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BacktestItem {
    pub event_id: String,
    pub received_at: String,
    pub matched: bool,
    pub reasons: Vec<String>,
    /// What would have been sent (one line).
    pub message: Option<String>,
    /// What each action would have done, for a matched event.
    pub actions: Vec<String>,
}

/// What a rule would have sent.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BacktestOut {
    pub since: String,
    /// Events of the rule's trigger in the period.
    pub events: usize,
    pub matched: usize,
    /// Messages that would have been sent (matched events × notify actions).
    pub messages: usize,
    pub results: Vec<BacktestItem>,
}

/// One delivery of the log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOut {
    pub id: DeliveryId,
    pub status: DeliveryStatus,
    pub test: bool,
    pub event_id: Option<EventId>,
    pub rule_id: Option<RuleId>,
    pub rule_name: Option<String>,
    /// The destination of a notification…
    pub destination_id: Option<DestinationId>,
    /// …or the CRM connection of a sync.
    pub crm_connection_id: Option<CrmConnectionId>,
    pub destination_name: Option<String>,
    /// The destination's kind (`slack`…), or the CRM of a sync (`hubspot`…).
    pub destination_kind: Option<String>,
    /// What was (or is to be) sent.
    #[schema(value_type = Object)]
    pub payload: Value,
    pub attempts: i64,
    pub response_code: Option<i64>,
    pub remote_id: Option<String>,
    pub error: Option<String>,
    pub latency_ms: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    pub delivered_at: Option<String>,
}

impl DeliveryOut {
    pub fn from_row(row: DeliveryRow) -> Self {
        let payload: Value = serde_json::from_str(&row.payload).unwrap_or_default();
        Self {
            status: row.status,
            id: row.id,
            test: row.test,
            event_id: row.event_id,
            rule_id: row.rule_id,
            rule_name: row.rule_name,
            destination_id: row.destination_id,
            crm_connection_id: row.crm_connection_id,
            destination_name: row.destination_name,
            destination_kind: row.destination_kind,
            payload: payload.get("message").cloned().unwrap_or(payload),
            attempts: row.attempts,
            response_code: row.response_code,
            remote_id: row.remote_id,
            error: row.error,
            latency_ms: row.latency_ms,
            created_at: to_rfc3339(row.created_at),
            updated_at: to_rfc3339(row.updated_at),
            delivered_at: row.delivered_at.map(to_rfc3339),
        }
    }
}

/// Filters of the delivery log.
#[derive(Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// `queued`, `sending`, `delivered`, `failed`, `unconfirmed`.
    pub status: Option<String>,
    /// A rule id.
    pub rule: Option<String>,
    /// A destination id.
    pub destination: Option<String>,
    /// From this time (RFC 3339 or a date `2026-12-01`).
    pub from: Option<String>,
    /// Up to this time, excluded.
    pub to: Option<String>,
    /// The next page: deliveries older than this delivery id.
    pub before: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

/// A processed event and what every rule made of it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventOut {
    pub id: EventId,
    pub source: EventSource,
    pub trigger: Trigger,
    pub status: EventStatus,
    #[schema(value_type = Object)]
    pub facts: Option<Value>,
    /// For every enabled rule: matched, or why not.
    #[schema(value_type = Vec<Object>)]
    pub evaluation: Option<Value>,
    pub error: Option<String>,
    pub received_at: String,
    pub processed_at: Option<String>,
}

impl EventOut {
    pub fn from_row(row: EventRow) -> Self {
        Self {
            id: row.id,
            source: row.source,
            trigger: row.trigger_kind,
            status: row.status,
            facts: row.facts.and_then(|f| serde_json::from_str(&f).ok()),
            evaluation: row.evaluation.and_then(|e| serde_json::from_str(&e).ok()),
            error: row.error,
            received_at: to_rfc3339(row.received_at),
            processed_at: row.processed_at.map(to_rfc3339),
        }
    }
}
