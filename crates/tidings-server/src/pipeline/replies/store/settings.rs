//! A workspace's AI settings and its auto-reply settings per channel connection.

use tidings_core::time::now_millis;
use tidings_core::{ConnectionId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader};

/// A workspace's AI settings as stored (defaults when it saved none).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SettingsRow {
    pub model_base_url: Option<String>,
    pub model_name: Option<String>,
    pub model_timeout_secs: i64,
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
    pub updated_at: i64,
}

impl Default for SettingsRow {
    fn default() -> Self {
        Self {
            model_base_url: None,
            model_name: None,
            model_timeout_secs: 30,
            daily_token_budget: None,
            monthly_token_budget: None,
            hard_stop: true,
            business_name: None,
            tone: "professional".into(),
            style: String::new(),
            guidelines: String::new(),
            emoji_allowed: false,
            max_length: 600,
            holding_message: None,
            updated_at: 0,
        }
    }
}

const SETTINGS_COLUMNS: &str = "model_base_url, model_name, model_timeout_secs, daily_token_budget, \
     monthly_token_budget, hard_stop, business_name, tone, style, guidelines, emoji_allowed, max_length, \
     holding_message, updated_at";

/// The workspace's settings, or the defaults.
pub async fn settings(db: &Db, workspace: &WorkspaceId) -> Result<SettingsRow, StoreError> {
    let sql = format!("SELECT {SETTINGS_COLUMNS} FROM ai_settings WHERE workspace_id = $1");
    let row: Option<SettingsRow> = with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .fetch_optional(pool)
        .await)?;
    Ok(row.unwrap_or_default())
}

/// Replaces the workspace's settings and forgets its cached answers.
pub async fn save_settings(tx: &mut Tx, workspace: &WorkspaceId, row: &SettingsRow) -> Result<(), StoreError> {
    execute!(
        tx,
        "INSERT INTO ai_settings (workspace_id, model_base_url, model_name, model_timeout_secs, daily_token_budget, \
         monthly_token_budget, hard_stop, business_name, tone, style, guidelines, emoji_allowed, max_length, \
         holding_message, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (workspace_id) DO UPDATE SET model_base_url = excluded.model_base_url, \
         model_name = excluded.model_name, model_timeout_secs = excluded.model_timeout_secs, \
         daily_token_budget = excluded.daily_token_budget, monthly_token_budget = excluded.monthly_token_budget, \
         hard_stop = excluded.hard_stop, business_name = excluded.business_name, tone = excluded.tone, \
         style = excluded.style, guidelines = excluded.guidelines, emoji_allowed = excluded.emoji_allowed, \
         max_length = excluded.max_length, holding_message = excluded.holding_message, updated_at = excluded.updated_at",
        workspace.as_str(),
        row.model_base_url.as_deref(),
        row.model_name.as_deref(),
        row.model_timeout_secs,
        row.daily_token_budget,
        row.monthly_token_budget,
        row.hard_stop,
        row.business_name.as_deref(),
        &row.tone,
        &row.style,
        &row.guidelines,
        row.emoji_allowed,
        row.max_length,
        row.holding_message.as_deref(),
        now_millis()
    )?;
    // The brand voice shapes every answer: cached ones no longer fit.
    super::clear_cache_in(tx, workspace).await
}

/// Auto-reply settings of one channel connection.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AutoReplyRow {
    pub connection_id: ConnectionId,
    pub enabled: bool,
    pub threshold_percent: i64,
    /// JSON of [`super::super::hours::BusinessHours`]; `NULL`: always open.
    pub business_hours: Option<String>,
    pub updated_at: i64,
}

/// The connection's auto-reply settings, `None` when never saved (auto-reply off).
pub async fn auto_reply(
    db: &Db,
    workspace: &WorkspaceId,
    connection: &ConnectionId,
) -> Result<Option<AutoReplyRow>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_as(
        "SELECT connection_id, enabled, threshold_percent, business_hours, updated_at FROM ai_auto_reply \
         WHERE workspace_id = $1 AND connection_id = $2"
    )
    .bind(workspace.as_str())
    .bind(connection.as_str())
    .fetch_optional(pool)
    .await)?)
}

/// The workspace's connections with auto-reply on.
pub async fn auto_reply_connections(db: &Db, workspace: &WorkspaceId) -> Result<Vec<ConnectionId>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_scalar(
        "SELECT connection_id FROM ai_auto_reply WHERE workspace_id = $1 AND enabled"
    )
    .bind(workspace.as_str())
    .fetch_all(pool)
    .await)?)
}

/// Saves a connection's auto-reply settings.
pub async fn save_auto_reply(tx: &mut Tx, workspace: &WorkspaceId, row: &AutoReplyRow) -> Result<(), StoreError> {
    execute!(
        tx,
        "INSERT INTO ai_auto_reply (connection_id, workspace_id, enabled, threshold_percent, business_hours, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (connection_id) DO UPDATE SET enabled = excluded.enabled, \
         threshold_percent = excluded.threshold_percent, business_hours = excluded.business_hours, \
         updated_at = excluded.updated_at",
        row.connection_id.as_str(),
        workspace.as_str(),
        row.enabled,
        row.threshold_percent,
        row.business_hours.as_deref(),
        now_millis()
    )?;
    Ok(())
}
