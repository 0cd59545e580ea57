//! Queries of automations: CRM connections, events, destinations and rules here; deliveries and
//! in-app notifications in [`deliveries`]; members' preferences and quiet hours in [`members`];
//! digests in [`digests`]; the scheduled scans' reads in [`scans`]. Functions touching a workspace's data take its
//! `WorkspaceId` first (after the transaction or database).

pub mod deliveries;
pub mod digests;
pub mod members;
pub mod scans;

use tidings_connectors::crm::Crm;
use tidings_core::time::now_millis;
use tidings_core::{CrmConnectionId, DestinationId, EventId, RuleId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader};

use super::model::{DestinationKind, EventSource, EventStatus, Trigger};
use super::rules::MatchMode;

/// A CRM account sending events in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CrmConnectionRow {
    pub id: CrmConnectionId,
    pub workspace_id: WorkspaceId,
    #[sqlx(try_from = "String")]
    pub provider: Crm,
    pub name: String,
    pub account_name: String,
    pub company_domain: Option<String>,
    /// Pipedrive only.
    pub webhook_user: Option<String>,
    pub webhook_ids: String,
    pub names_json: Option<String>,
    pub names_fetched_at: Option<i64>,
    pub last_event_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Salesforce only.
    pub instance_url: Option<String>,
    /// Set while the CRM refuses the connection's credentials.
    pub failing_since: Option<i64>,
    /// What the CRM answered then.
    pub last_error: Option<String>,
}

pub(crate) const CRM_COLUMNS: &str = "id, workspace_id, provider, name, account_name, company_domain, webhook_user, \
     webhook_ids, names_json, names_fetched_at, last_event_at, created_at, updated_at, instance_url, failing_since, \
     last_error";

/// A new CRM connection.
pub struct NewCrmConnection<'a> {
    pub id: &'a CrmConnectionId,
    pub name: &'a str,
    pub account_name: &'a str,
    pub company_domain: Option<&'a str>,
    pub webhook_user: &'a str,
    pub webhook_ids: &'a str,
}

pub async fn insert_crm_connection(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    new: &NewCrmConnection<'_>,
) -> Result<(), StoreError> {
    let now = now_millis();
    execute!(
        tx,
        "INSERT INTO crm_connections (id, workspace_id, provider, name, account_name, company_domain, webhook_user, \
         webhook_ids, created_at, updated_at) VALUES ($1, $2, 'pipedrive', $3, $4, $5, $6, $7, $8, $8)",
        new.id.as_str(),
        workspace.as_str(),
        new.name,
        new.account_name,
        new.company_domain,
        new.webhook_user,
        new.webhook_ids,
        now
    )?;
    Ok(())
}

pub async fn crm_connections(db: &Db, workspace: &WorkspaceId) -> Result<Vec<CrmConnectionRow>, StoreError> {
    let sql = format!("SELECT {CRM_COLUMNS} FROM crm_connections WHERE workspace_id = $1 ORDER BY created_at");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .fetch_all(pool)
        .await)?)
}

pub async fn crm_connection(
    db: &Db,
    workspace: &WorkspaceId,
    id: &CrmConnectionId,
) -> Result<Option<CrmConnectionRow>, StoreError> {
    let sql = format!("SELECT {CRM_COLUMNS} FROM crm_connections WHERE workspace_id = $1 AND id = $2");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)?)
}

/// The connection a webhook delivery names in its URL, whichever workspace it belongs to: the
/// intake learns the workspace from it.
pub async fn crm_connection_for_intake(db: &Db, id: &CrmConnectionId) -> Result<Option<CrmConnectionRow>, StoreError> {
    let sql = format!("SELECT {CRM_COLUMNS} FROM crm_connections WHERE id = $1");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)?)
}

pub async fn delete_crm_connection(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &CrmConnectionId,
) -> Result<bool, StoreError> {
    let deleted = execute!(
        tx,
        "DELETE FROM crm_connections WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str()
    )?;
    Ok(deleted > 0)
}

/// Caches the pipeline, stage and user names.
pub async fn set_crm_names(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &CrmConnectionId,
    names_json: &str,
) -> Result<(), StoreError> {
    let now = now_millis();
    execute!(
        tx,
        "UPDATE crm_connections SET names_json = $3, names_fetched_at = $4, updated_at = $4 \
         WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        names_json,
        now
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Events.
// ---------------------------------------------------------------------------------------------

/// An event as received, and what processing made of it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: EventId,
    pub workspace_id: WorkspaceId,
    pub source: EventSource,
    pub crm_connection_id: Option<CrmConnectionId>,
    pub trigger_kind: Trigger,
    pub dedup_key: String,
    pub payload: String,
    pub facts: Option<String>,
    pub evaluation: Option<String>,
    pub status: EventStatus,
    pub error: Option<String>,
    pub received_at: i64,
    pub processed_at: Option<i64>,
}

const EVENT_COLUMNS: &str = "id, workspace_id, source, crm_connection_id, trigger_kind, dedup_key, payload, facts, \
     evaluation, status, error, received_at, processed_at";

/// A new event.
pub struct NewEvent<'a> {
    pub id: &'a EventId,
    pub source: EventSource,
    pub crm_connection_id: Option<&'a CrmConnectionId>,
    pub trigger: Trigger,
    pub dedup_key: &'a str,
    pub payload: &'a str,
}

/// Stores an event; false when one with the same dedup key exists (a redelivery).
pub async fn insert_event(tx: &mut Tx, workspace: &WorkspaceId, new: &NewEvent<'_>) -> Result<bool, StoreError> {
    let now = now_millis();
    let inserted = execute!(
        tx,
        "INSERT INTO automation_events (id, workspace_id, source, crm_connection_id, trigger_kind, dedup_key, payload, \
         status, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'received', $8) \
         ON CONFLICT (workspace_id, dedup_key) DO NOTHING",
        new.id.as_str(),
        workspace.as_str(),
        new.source.as_str(),
        new.crm_connection_id.map(CrmConnectionId::as_str),
        new.trigger.as_str(),
        new.dedup_key,
        new.payload,
        now
    )?;
    if inserted > 0
        && let Some(connection) = new.crm_connection_id
    {
        crm_event_seen(tx, workspace, connection, now).await?;
    }
    Ok(inserted > 0)
}

/// Notes when a connection's last event came. The page shows it to the minute, so the row is
/// rewritten at most once a second: every delivery of a busy connection writing it would make
/// the row a lock that concurrent intake transactions queue on (PostgreSQL).
pub async fn crm_event_seen(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    connection: &CrmConnectionId,
    now: i64,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE crm_connections SET last_event_at = $3 WHERE workspace_id = $1 AND id = $2 \
         AND (last_event_at IS NULL OR last_event_at < $3 - 1000)",
        workspace.as_str(),
        connection.as_str(),
        now
    )?;
    Ok(())
}

pub async fn event(db: &Db, workspace: &WorkspaceId, id: &EventId) -> Result<Option<EventRow>, StoreError> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM automation_events WHERE workspace_id = $1 AND id = $2");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)?)
}

/// Processed events received since `since`, newest first, optionally of one trigger.
pub async fn processed_events(
    db: &Db,
    workspace: &WorkspaceId,
    since: i64,
    trigger: Option<&str>,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM automation_events WHERE workspace_id = $1 AND received_at >= $2 \
         AND status = 'processed' AND ($3 IS NULL OR trigger_kind = $3) ORDER BY received_at DESC, id DESC LIMIT $4"
    );
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(since)
        .bind(trigger)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
}

/// Records what processing made of an event.
pub async fn finish_event(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &EventId,
    trigger: Trigger,
    facts: Option<&str>,
    evaluation: Option<&str>,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let status = if error.is_some() { EventStatus::Failed } else { EventStatus::Processed };
    execute!(
        tx,
        "UPDATE automation_events SET status = $3, trigger_kind = $4, facts = $5, evaluation = $6, error = $7, \
         processed_at = $8 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        status.as_str(),
        trigger.as_str(),
        facts,
        evaluation,
        error,
        now_millis()
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Destinations.
// ---------------------------------------------------------------------------------------------

/// A destination (never its secrets).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DestinationRow {
    pub id: DestinationId,
    pub workspace_id: WorkspaceId,
    pub kind: DestinationKind,
    pub name: String,
    pub config: String,
    pub target_hint: Option<String>,
    pub enabled: bool,
    pub paused_until: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub last_delivered_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const DESTINATION_COLUMNS: &str = "id, workspace_id, kind, name, config, target_hint, enabled, paused_until, last_error, \
     last_error_at, last_delivered_at, created_at, updated_at";

/// The editable fields of a destination.
pub struct DestinationFields<'a> {
    pub name: &'a str,
    pub config: &'a str,
    pub target_hint: Option<&'a str>,
    pub enabled: bool,
}

pub async fn insert_destination(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &DestinationId,
    kind: &str,
    fields: &DestinationFields<'_>,
) -> Result<(), StoreError> {
    let now = now_millis();
    execute!(
        tx,
        "INSERT INTO automation_destinations (id, workspace_id, kind, name, config, target_hint, enabled, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        id.as_str(),
        workspace.as_str(),
        kind,
        fields.name,
        fields.config,
        fields.target_hint,
        fields.enabled,
        now
    )?;
    Ok(())
}

pub async fn update_destination(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &DestinationId,
    fields: &DestinationFields<'_>,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE automation_destinations SET name = $3, config = $4, target_hint = $5, enabled = $6, \
         updated_at = CASE WHEN updated_at >= $7 THEN updated_at + 1 ELSE $7 END, \
         paused_until = CASE WHEN $6 THEN paused_until ELSE NULL END WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        fields.name,
        fields.config,
        fields.target_hint,
        fields.enabled,
        now_millis()
    )?;
    Ok(())
}

/// The destination's secrets changed (a rotation): `updated_at` moves forward, always, even
/// within one millisecond, so every process's cache of its decrypted secrets misses next time.
pub async fn touch_destination(tx: &mut Tx, workspace: &WorkspaceId, id: &DestinationId) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE automation_destinations SET updated_at = CASE WHEN updated_at >= $3 THEN updated_at + 1 ELSE $3 END \
         WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        now_millis()
    )?;
    Ok(())
}

pub async fn destinations(db: &Db, workspace: &WorkspaceId) -> Result<Vec<DestinationRow>, StoreError> {
    let sql =
        format!("SELECT {DESTINATION_COLUMNS} FROM automation_destinations WHERE workspace_id = $1 ORDER BY name, id");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .fetch_all(pool)
        .await)?)
}

pub async fn destination(
    db: &Db,
    workspace: &WorkspaceId,
    id: &DestinationId,
) -> Result<Option<DestinationRow>, StoreError> {
    let sql = format!("SELECT {DESTINATION_COLUMNS} FROM automation_destinations WHERE workspace_id = $1 AND id = $2");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)?)
}

pub async fn delete_destination(tx: &mut Tx, workspace: &WorkspaceId, id: &DestinationId) -> Result<bool, StoreError> {
    let deleted = execute!(
        tx,
        "DELETE FROM automation_destinations WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str()
    )?;
    Ok(deleted > 0)
}

/// A delivery succeeded: the destination is healthy again.
pub async fn destination_delivered(tx: &mut Tx, workspace: &WorkspaceId, id: &DestinationId) -> Result<(), StoreError> {
    // Every delivery to a destination ends here: written each time, the row is one lock that
    // all of them wait for in turn (PostgreSQL). The page shows the time to the minute, so a
    // healthy destination's row is rewritten at most once a second.
    execute!(
        tx,
        "UPDATE automation_destinations SET last_error = NULL, paused_until = NULL, last_delivered_at = $3 \
         WHERE workspace_id = $1 AND id = $2 AND (last_error IS NOT NULL OR paused_until IS NOT NULL \
         OR last_delivered_at IS NULL OR last_delivered_at < $3 - 1000)",
        workspace.as_str(),
        id.as_str(),
        now_millis()
    )?;
    Ok(())
}

/// A delivery failed; `paused_until` is set when the circuit breaker opened.
pub async fn destination_failed(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &DestinationId,
    error: &str,
    paused_until: Option<i64>,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE automation_destinations SET last_error = $3, last_error_at = $4, \
         paused_until = COALESCE($5, paused_until) WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        error,
        now_millis(),
        paused_until
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rules.
// ---------------------------------------------------------------------------------------------

/// A rule as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RuleRow {
    pub id: RuleId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub trigger_kind: Trigger,
    pub match_mode: MatchMode,
    pub conditions: String,
    pub actions: String,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const RULE_COLUMNS: &str =
    "id, workspace_id, name, trigger_kind, match_mode, conditions, actions, enabled, created_at, updated_at";

/// The fields of a rule.
pub struct RuleFields<'a> {
    pub name: &'a str,
    pub trigger: Trigger,
    pub match_mode: MatchMode,
    pub conditions: &'a str,
    pub actions: &'a str,
    pub enabled: bool,
}

pub async fn insert_rule(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &RuleId,
    fields: &RuleFields<'_>,
) -> Result<(), StoreError> {
    let now = now_millis();
    execute!(
        tx,
        "INSERT INTO automation_rules (id, workspace_id, name, trigger_kind, match_mode, conditions, actions, enabled, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        id.as_str(),
        workspace.as_str(),
        fields.name,
        fields.trigger.as_str(),
        fields.match_mode.as_str(),
        fields.conditions,
        fields.actions,
        fields.enabled,
        now
    )?;
    Ok(())
}

pub async fn update_rule(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &RuleId,
    fields: &RuleFields<'_>,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE automation_rules SET name = $3, trigger_kind = $4, match_mode = $5, conditions = $6, actions = $7, \
         enabled = $8, updated_at = $9 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        fields.name,
        fields.trigger.as_str(),
        fields.match_mode.as_str(),
        fields.conditions,
        fields.actions,
        fields.enabled,
        now_millis()
    )?;
    Ok(())
}

pub async fn rules(db: &Db, workspace: &WorkspaceId) -> Result<Vec<RuleRow>, StoreError> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM automation_rules WHERE workspace_id = $1 ORDER BY created_at, id");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .fetch_all(pool)
        .await)?)
}

pub async fn rule(db: &Db, workspace: &WorkspaceId, id: &RuleId) -> Result<Option<RuleRow>, StoreError> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM automation_rules WHERE workspace_id = $1 AND id = $2");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)?)
}

pub async fn delete_rule(tx: &mut Tx, workspace: &WorkspaceId, id: &RuleId) -> Result<bool, StoreError> {
    let deleted = execute!(
        tx,
        "DELETE FROM automation_rules WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str()
    )?;
    Ok(deleted > 0)
}
