//! The reply-generation service: settings, knowledge base, templates, usage and auto-reply
//! settings. Drafts are generated in `generate.rs`, auto-replies sent in `auto_reply.rs`. No HTTP.

use std::sync::Arc;

use serde_json::json;
use tidings_core::{Config, ConnectionId, ConversationId, KnowledgeId, ReplyTemplateId, WorkspaceId};
use tidings_nlp::compose::Tone;
use tidings_nlp::language::Language;
use tidings_store::{Db, StoreError};

use super::dto::{
    AutoReplyIn, AutoReplyLogOut, AutoReplyOut, DayUsageOut, KnowledgeIn, KnowledgeOut, KnowledgePatch, SettingsIn,
    SettingsOut, TemplateIn, TemplateOut, UsageReportOut,
};
use super::hours::BusinessHours;
use super::model::{API_KEY_SECRET, Models};
use super::store::{self, AutoReplyRow, KnowledgeKind, SettingsRow, TemplateFields};
use crate::access::Caller;
use crate::audit::{self, AuditEntry};
use crate::events::Events;
use crate::inbox::service::{Inbox, InboxError};
use crate::vault::{Vault, VaultError};

/// Why a reply-generation action failed.
#[derive(Debug, thiserror::Error)]
pub enum RepliesError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field}: {message}")]
    Validation { field: &'static str, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Inbox(#[from] InboxError),
    #[error(transparent)]
    Queue(#[from] tidings_store::queue::QueueError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> RepliesError {
    RepliesError::Validation { field, message: message.into() }
}

/// Reply generation for every workspace of this process.
#[derive(Clone)]
pub struct Replies {
    pub(super) db: Db,
    pub(super) models: Models,
    pub(super) vault: Vault,
    pub(super) inbox: Inbox,
    pub(super) config: Arc<Config>,
    /// Announces a budget crossing 80 % or 100 % (automations' `budget_threshold` trigger).
    pub(super) events: Events,
}

/// Longest knowledge-base document, in characters.
pub const MAX_DOCUMENT_CHARS: usize = 100_000;

impl Replies {
    pub fn new(db: Db, config: Arc<Config>, vault: Vault, inbox: Inbox, events: Events) -> Self {
        Self { models: Models::new(config.clone(), vault.clone()), db, vault, inbox, config, events }
    }

    /// The models and their breakers.
    pub fn models(&self) -> &Models {
        &self.models
    }

    /// The workspace's AI settings.
    pub async fn settings(&self, workspace: &WorkspaceId) -> Result<SettingsOut, RepliesError> {
        let row = store::settings(&self.db, workspace).await?;
        let api_key_set = self.vault.get(workspace, API_KEY_SECRET).await?.is_some();
        let effective_model = if row.model_base_url.is_some() && row.model_name.is_some() {
            "workspace"
        } else if self.config.ai.model.is_some() {
            "server"
        } else {
            "none"
        };
        Ok(SettingsOut {
            model_base_url: row.model_base_url,
            model_name: row.model_name,
            model_timeout_secs: row.model_timeout_secs,
            api_key_set,
            effective_model: effective_model.into(),
            daily_token_budget: row.daily_token_budget,
            monthly_token_budget: row.monthly_token_budget,
            hard_stop: row.hard_stop,
            business_name: row.business_name,
            tone: row.tone,
            style: row.style,
            guidelines: row.guidelines,
            emoji_allowed: row.emoji_allowed,
            max_length: row.max_length,
            holding_message: row.holding_message,
        })
    }

    /// Replaces the workspace's AI settings (the API key only when given), recorded in the audit
    /// log: they decide where customers' messages are sent and what may be spent.
    pub async fn save_settings(&self, caller: &Caller, input: SettingsIn) -> Result<SettingsOut, RepliesError> {
        let workspace = &caller.workspace_id;
        let model_base_url = text("modelBaseUrl", input.model_base_url, 500)?;
        let model_name = text("modelName", input.model_name, 200)?;
        if model_base_url.is_some() != model_name.is_some() {
            return Err(invalid("modelName", "modelBaseUrl and modelName are set together"));
        }
        if let Some(url) = &model_base_url {
            self.models.check_url(url).await.map_err(|why| invalid("modelBaseUrl", why))?;
        }
        let timeout = input.model_timeout_secs.unwrap_or(30);
        if !(1..=300).contains(&timeout) {
            return Err(invalid("modelTimeoutSecs", "must be between 1 and 300"));
        }
        for (field, budget) in
            [("dailyTokenBudget", input.daily_token_budget), ("monthlyTokenBudget", input.monthly_token_budget)]
        {
            if budget.is_some_and(|b| b < 0) {
                return Err(invalid(field, "must be 0 (unlimited) or more"));
            }
        }
        let tone = input.tone.unwrap_or_else(|| "professional".into());
        if Tone::parse(&tone).is_none() {
            return Err(invalid("tone", "must be professional, friendly, empathetic or casual"));
        }
        let max_length = input.max_length.unwrap_or(600);
        if !(50..=4_000).contains(&max_length) {
            return Err(invalid("maxLength", "must be between 50 and 4000"));
        }
        let row = SettingsRow {
            model_base_url,
            model_name,
            model_timeout_secs: timeout,
            daily_token_budget: input.daily_token_budget,
            monthly_token_budget: input.monthly_token_budget,
            hard_stop: input.hard_stop.unwrap_or(true),
            business_name: text("businessName", input.business_name, 200)?,
            tone: Tone::parse(&tone).map_or(tone, |t| t.as_str().to_owned()),
            style: text("style", input.style, 500)?.unwrap_or_default(),
            guidelines: text("guidelines", input.guidelines, 4_000)?.unwrap_or_default(),
            emoji_allowed: input.emoji_allowed.unwrap_or(false),
            max_length,
            holding_message: text("holdingMessage", input.holding_message, 1_000)?,
            updated_at: 0,
        };
        let api_key = match input.api_key.as_deref().map(str::trim) {
            Some("") => {
                self.vault.delete(workspace, API_KEY_SECRET).await?;
                "removed"
            }
            Some(key) => {
                self.vault.put(workspace, API_KEY_SECRET, key.as_bytes()).await?;
                "replaced"
            }
            None => "unchanged",
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::save_settings(&mut tx, workspace, &row).await?;
        let entry = AuditEntry::by(caller, "ai.settings_changed", "ai_settings").with(json!({
            "modelBaseUrl": row.model_base_url, "modelName": row.model_name, "apiKey": api_key,
            "dailyTokenBudget": row.daily_token_budget, "monthlyTokenBudget": row.monthly_token_budget,
            "hardStop": row.hard_stop,
        }));
        audit::record(&mut tx, workspace, entry).await?;
        tx.commit().await?;
        self.settings(workspace).await
    }

    /// The knowledge base.
    pub async fn knowledge(&self, workspace: &WorkspaceId) -> Result<Vec<KnowledgeOut>, RepliesError> {
        Ok(store::knowledge(&self.db, workspace).await?.into_iter().map(KnowledgeOut::from).collect())
    }

    /// One entry.
    pub async fn knowledge_entry(&self, workspace: &WorkspaceId, id: &str) -> Result<KnowledgeOut, RepliesError> {
        let id = knowledge_id(id)?;
        let row = store::knowledge_entry(&self.db, workspace, &id).await?;
        row.map(KnowledgeOut::from).ok_or(RepliesError::NotFound("knowledge entry"))
    }

    /// Adds an FAQ entry, a document or a product.
    pub async fn add_knowledge(
        &self,
        workspace: &WorkspaceId,
        input: KnowledgeIn,
    ) -> Result<KnowledgeOut, RepliesError> {
        let kind: KnowledgeKind =
            input.kind.parse().map_err(|_| invalid("kind", "must be faq, document or product"))?;
        let title = required("title", &input.title, 200)?;
        let body = required("body", &input.body, MAX_DOCUMENT_CHARS)?;
        let id = KnowledgeId::generate();
        store::insert_knowledge(&self.db, workspace, &id, kind, &title, &body).await?;
        self.knowledge_entry(workspace, id.as_str()).await
    }

    /// Adds an uploaded text or Markdown document, titled by `title` or its first heading.
    pub async fn upload_document(
        &self,
        workspace: &WorkspaceId,
        title: Option<String>,
        body: &str,
    ) -> Result<KnowledgeOut, RepliesError> {
        let heading =
            body.lines().find_map(|l| l.strip_prefix('#').map(|h| h.trim_start_matches('#').trim().to_owned()));
        let title = title.filter(|t| !t.trim().is_empty()).or(heading).unwrap_or_else(|| "Document".into());
        let input = KnowledgeIn { kind: "document".into(), title, body: body.to_owned() };
        self.add_knowledge(workspace, input).await
    }

    /// Changes an entry's title or text.
    pub async fn update_knowledge(
        &self,
        workspace: &WorkspaceId,
        id: &str,
        patch: KnowledgePatch,
    ) -> Result<KnowledgeOut, RepliesError> {
        let current = self.knowledge_entry(workspace, id).await?;
        let title = required("title", patch.title.as_deref().unwrap_or(&current.title), 200)?;
        let body = required("body", patch.body.as_deref().unwrap_or(&current.body), MAX_DOCUMENT_CHARS)?;
        let id = knowledge_id(id)?;
        if !store::update_knowledge(&self.db, workspace, &id, &title, &body).await? {
            return Err(RepliesError::NotFound("knowledge entry"));
        }
        self.knowledge_entry(workspace, id.as_str()).await
    }

    /// Removes an entry.
    pub async fn delete_knowledge(&self, workspace: &WorkspaceId, id: &str) -> Result<(), RepliesError> {
        let id = knowledge_id(id)?;
        if store::delete_knowledge(&self.db, workspace, &id).await? {
            Ok(())
        } else {
            Err(RepliesError::NotFound("knowledge entry"))
        }
    }

    /// The reply templates.
    pub async fn templates(&self, workspace: &WorkspaceId) -> Result<Vec<TemplateOut>, RepliesError> {
        Ok(store::templates(&self.db, workspace).await?.into_iter().map(TemplateOut::from).collect())
    }

    /// One template.
    pub async fn template(&self, workspace: &WorkspaceId, id: &str) -> Result<TemplateOut, RepliesError> {
        let id = template_id(id)?;
        store::template(&self.db, workspace, &id)
            .await?
            .map(TemplateOut::from)
            .ok_or(RepliesError::NotFound("template"))
    }

    /// Adds a template.
    pub async fn add_template(&self, workspace: &WorkspaceId, input: TemplateIn) -> Result<TemplateOut, RepliesError> {
        let id = ReplyTemplateId::generate();
        let fields = template_fields(&input)?;
        let fields = fields.as_fields();
        if !store::insert_template(&self.db, workspace, &id, &fields).await? {
            return Err(RepliesError::Conflict(format!("a template named `{}` exists", fields.name)));
        }
        self.template(workspace, id.as_str()).await
    }

    /// Replaces a template.
    pub async fn update_template(
        &self,
        workspace: &WorkspaceId,
        id: &str,
        input: TemplateIn,
    ) -> Result<TemplateOut, RepliesError> {
        let id = template_id(id)?;
        let fields = template_fields(&input)?;
        let fields = fields.as_fields();
        match store::update_template(&self.db, workspace, &id, &fields).await? {
            None => Err(RepliesError::NotFound("template")),
            Some(false) => Err(RepliesError::Conflict(format!("a template named `{}` exists", fields.name))),
            Some(true) => self.template(workspace, id.as_str()).await,
        }
    }

    /// Removes a template.
    pub async fn delete_template(&self, workspace: &WorkspaceId, id: &str) -> Result<(), RepliesError> {
        let id = template_id(id)?;
        if store::delete_template(&self.db, workspace, &id).await? {
            Ok(())
        } else {
            Err(RepliesError::NotFound("template"))
        }
    }

    /// Usage per day from `from` to `to` (UTC days, inclusive; default the last 30 days).
    pub async fn usage(
        &self,
        workspace: &WorkspaceId,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<UsageReportOut, RepliesError> {
        let day = |field: &'static str, value: &str| {
            chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .map_err(|_| invalid(field, "must be a day, YYYY-MM-DD"))
        };
        let to = match to {
            Some(value) => day("to", value)?,
            None => chrono::Utc::now().date_naive(),
        };
        let from = match from {
            Some(value) => day("from", value)?,
            None => to - chrono::Days::new(29),
        };
        if from > to || (to - from).num_days() > 366 {
            return Err(invalid("from", "must be on or before `to`, at most 366 days before"));
        }
        let (from_s, to_s) = (from.format("%Y-%m-%d").to_string(), to.format("%Y-%m-%d").to_string());
        let rows = store::usage_by_day(&self.db, workspace, &from_s, &to_s).await?;
        let mut days = Vec::new();
        let mut current = from;
        while current <= to {
            let key = current.format("%Y-%m-%d").to_string();
            let row = rows.iter().find(|r| r.day == key).cloned().unwrap_or_default();
            let n = |v: i64| v.max(0) as u64;
            days.push(DayUsageOut {
                calls: n(row.calls),
                prompt_tokens: n(row.prompt_tokens),
                completion_tokens: n(row.completion_tokens),
                tokens: n(row.prompt_tokens) + n(row.completion_tokens),
                cost: row.cost_nano_usd as f64 / 1e9,
                cache_hits: n(row.cache_hits),
                short_circuits: n(row.short_circuits),
                offline_drafts: n(row.offline_drafts),
                failures: n(row.failures),
                day: key,
            });
            current = current + chrono::Days::new(1);
        }
        let settings = store::settings(&self.db, workspace).await?;
        let budget = self.models.budget(&self.db, workspace, &settings).await?;
        Ok(UsageReportOut {
            total_tokens: days.iter().map(|d| d.tokens).sum(),
            total_cost: days.iter().map(|d| d.cost).sum(),
            from: from_s,
            to: to_s,
            days,
            budget: (&budget).into(),
        })
    }

    /// What auto-reply did, newest first.
    pub async fn auto_replies(
        &self,
        workspace: &WorkspaceId,
        conversation: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Vec<AutoReplyLogOut>, RepliesError> {
        let limit = limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(invalid("limit", "must be between 1 and 200"));
        }
        let conversation = match conversation {
            Some(id) => Some(ConversationId::parse(id).map_err(|_| RepliesError::NotFound("conversation"))?),
            None => None,
        };
        let rows = store::reply_log(&self.db, workspace, conversation.as_ref(), limit).await?;
        Ok(rows.into_iter().map(AutoReplyLogOut::from).collect())
    }

    /// A connection's auto-reply settings (off when never saved).
    pub async fn auto_reply(&self, workspace: &WorkspaceId, connection: &str) -> Result<AutoReplyOut, RepliesError> {
        let (id, time_zone) = self.connection_zone(workspace, connection).await?;
        let row = store::auto_reply(&self.db, workspace, &id).await?;
        Ok(auto_reply_out(id.as_str(), row.as_ref(), time_zone))
    }

    /// Saves a connection's auto-reply settings.
    pub async fn save_auto_reply(
        &self,
        caller: &Caller,
        connection: &str,
        input: AutoReplyIn,
    ) -> Result<AutoReplyOut, RepliesError> {
        let workspace = &caller.workspace_id;
        let (id, _) = self.connection_zone(workspace, connection).await?;
        let threshold = input.threshold.unwrap_or(0.8);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(invalid("threshold", "must be between 0 and 1"));
        }
        if let Some(hours) = &input.business_hours {
            hours.validate().map_err(|(field, message)| invalid(field, message))?;
        }
        let hours =
            input.business_hours.as_ref().map(serde_json::to_string).transpose().map_err(StoreError::corrupt)?;
        let row = AutoReplyRow {
            connection_id: id.clone(),
            enabled: input.enabled,
            threshold_percent: (threshold * 100.0).round() as i64,
            business_hours: hours,
            updated_at: 0,
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        store::save_auto_reply(&mut tx, workspace, &row).await?;
        let entry = AuditEntry::by(caller, "ai.auto_reply_changed", "connection")
            .on(&id)
            .with(json!({ "enabled": row.enabled, "thresholdPercent": row.threshold_percent }));
        audit::record(&mut tx, workspace, entry).await?;
        tx.commit().await?;
        self.auto_reply(workspace, id.as_str()).await
    }

    /// The workspace's connection and the time zone of its location (UTC without one).
    pub(super) async fn connection_zone(
        &self,
        workspace: &WorkspaceId,
        connection: &str,
    ) -> Result<(ConnectionId, String), RepliesError> {
        let id = ConnectionId::parse(connection).map_err(|_| RepliesError::NotFound("connection"))?;
        let row = crate::channels::store::connection(&self.db, workspace, &id)
            .await?
            .ok_or(RepliesError::NotFound("connection"))?;
        let zone = match &row.location_id {
            Some(location) => {
                crate::inbox::locations::location(&self.db, workspace, location).await?.map(|l| l.timezone)
            }
            None => None,
        };
        Ok((id, zone.unwrap_or_else(|| "UTC".into())))
    }
}

/// How auto-reply settings read in the API.
pub(super) fn auto_reply_out(connection: &str, row: Option<&AutoReplyRow>, time_zone: String) -> AutoReplyOut {
    AutoReplyOut {
        connection_id: connection.to_owned(),
        enabled: row.is_some_and(|r| r.enabled),
        threshold: row.map_or(0.8, |r| r.threshold_percent as f32 / 100.0),
        business_hours: row
            .and_then(|r| r.business_hours.as_deref())
            .and_then(|h| serde_json::from_str::<BusinessHours>(h).ok()),
        time_zone,
    }
}

fn knowledge_id(id: &str) -> Result<KnowledgeId, RepliesError> {
    KnowledgeId::parse(id).map_err(|_| RepliesError::NotFound("knowledge entry"))
}

fn template_id(id: &str) -> Result<ReplyTemplateId, RepliesError> {
    ReplyTemplateId::parse(id).map_err(|_| RepliesError::NotFound("template"))
}

/// Trimmed optional text of at most `max` characters; empty means absent.
fn text(field: &'static str, value: Option<String>, max: usize) -> Result<Option<String>, RepliesError> {
    let value = value.map(|v| tidings_core::text::without_nul(&v).trim().to_owned()).filter(|v| !v.is_empty());
    if value.as_ref().is_some_and(|v| v.chars().count() > max) {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    Ok(value)
}

fn required(field: &'static str, value: &str, max: usize) -> Result<String, RepliesError> {
    text(field, Some(value.to_owned()), max)?.ok_or_else(|| invalid(field, "must not be empty"))
}

/// A template's validated fields.
struct Fields {
    name: String,
    tone: Option<String>,
    topic: Option<String>,
    language: Option<String>,
    body: String,
}

impl Fields {
    fn as_fields(&self) -> TemplateFields<'_> {
        TemplateFields {
            name: &self.name,
            tone: self.tone.as_deref(),
            topic: self.topic.as_deref(),
            language: self.language.as_deref(),
            body: &self.body,
        }
    }
}

const TOPICS: [&str; 6] = ["pricing", "support", "complaint", "inquiry", "feedback", "other"];

fn template_fields(input: &TemplateIn) -> Result<Fields, RepliesError> {
    let tone = text("tone", input.tone.clone(), 20)?;
    if let Some(tone) = &tone
        && Tone::parse(tone).is_none()
    {
        return Err(invalid("tone", "must be professional, friendly, empathetic or casual"));
    }
    let topic = text("topic", input.topic.clone(), 20)?.map(|t| t.to_lowercase());
    if topic.as_deref().is_some_and(|t| !TOPICS.contains(&t)) {
        return Err(invalid("topic", "must be pricing, support, complaint, inquiry, feedback or other"));
    }
    let language = text("language", input.language.clone(), 5)?.map(|l| l.to_lowercase());
    if language.as_deref().is_some_and(|l| Language::from_code(l).is_none()) {
        return Err(invalid("language", "must be one of en, es, fr, de, it, pt, nl, pl, sv, tr, ru"));
    }
    Ok(Fields {
        name: required("name", &input.name, 100)?,
        tone: tone.map(|t| t.to_lowercase()),
        topic,
        language,
        body: required("body", &input.body, 4_000)?,
    })
}
