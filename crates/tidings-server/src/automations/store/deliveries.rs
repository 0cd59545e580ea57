//! Queries of the delivery log, and the row of an in-app notification (written and read in
//! [`super::members`]).

use tidings_core::time::now_millis;
use tidings_core::{CrmConnectionId, DeliveryId, DestinationId, EventId, NotificationId, RuleId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader, with_writer};

use crate::automations::members::NotificationKind;
use crate::automations::model::DeliveryStatus;

/// One delivery, with the names of its rule and destination for the log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: DeliveryId,
    pub workspace_id: WorkspaceId,
    pub event_id: Option<EventId>,
    pub rule_id: Option<RuleId>,
    pub rule_name: Option<String>,
    /// Where a notification goes…
    pub destination_id: Option<DestinationId>,
    /// …or the CRM connection a sync goes to.
    pub crm_connection_id: Option<CrmConnectionId>,
    /// The destination's or the CRM connection's name.
    pub destination_name: Option<String>,
    /// The destination's kind, or the CRM (`hubspot`…).
    pub destination_kind: Option<String>,
    pub status: DeliveryStatus,
    pub test: bool,
    pub payload: String,
    pub attempts: i64,
    pub response_code: Option<i64>,
    pub remote_id: Option<String>,
    pub error: Option<String>,
    pub latency_ms: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub delivered_at: Option<i64>,
    /// The delivery whose job pushes this one in a batch (CRM syncs).
    pub batch_id: Option<DeliveryId>,
}

pub(crate) const DELIVERY_SELECT: &str = "SELECT d.id, d.workspace_id, d.event_id, d.rule_id, r.name AS rule_name, \
     d.destination_id, d.crm_connection_id, COALESCE(t.name, c.name) AS destination_name, \
     COALESCE(t.kind, c.provider) AS destination_kind, d.status, d.test, d.payload, d.attempts, d.response_code, \
     d.remote_id, d.error, d.latency_ms, d.created_at, d.updated_at, d.delivered_at, d.batch_id \
     FROM automation_deliveries d LEFT JOIN automation_rules r ON r.id = d.rule_id \
     LEFT JOIN automation_destinations t ON t.id = d.destination_id \
     LEFT JOIN crm_connections c ON c.id = d.crm_connection_id";

/// Where a delivery goes.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A notification to a destination.
    Destination(&'a DestinationId),
    /// A sync to a CRM connection.
    Crm(&'a CrmConnectionId),
}

/// A new delivery, queued.
pub struct NewDelivery<'a> {
    pub id: &'a DeliveryId,
    pub event_id: Option<&'a EventId>,
    pub rule_id: Option<&'a RuleId>,
    pub target: Target<'a>,
    pub test: bool,
    pub payload: &'a str,
}

pub async fn insert_delivery(tx: &mut Tx, workspace: &WorkspaceId, new: &NewDelivery<'_>) -> Result<(), StoreError> {
    let now = now_millis();
    execute!(
        tx,
        "INSERT INTO automation_deliveries (id, workspace_id, event_id, rule_id, destination_id, crm_connection_id, \
         status, test, payload, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $9, 'queued', $6, $7, $8, $8)",
        new.id.as_str(),
        workspace.as_str(),
        new.event_id.map(EventId::as_str),
        new.rule_id.map(RuleId::as_str),
        match new.target {
            Target::Destination(id) => Some(id.as_str()),
            Target::Crm(_) => None,
        },
        new.test,
        new.payload,
        now,
        match new.target {
            Target::Crm(id) => Some(id.as_str()),
            Target::Destination(_) => None,
        }
    )?;
    Ok(())
}

pub async fn delivery(db: &Db, workspace: &WorkspaceId, id: &DeliveryId) -> Result<Option<DeliveryRow>, StoreError> {
    let sql = format!("{DELIVERY_SELECT} WHERE d.workspace_id = $1 AND d.id = $2");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)?)
}

/// Marks a delivery `sending` and counts the attempt, only if it is `queued` (or, for a resend
/// allowed after an interruption, `sending`). False when another state won.
pub async fn start_attempt(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &DeliveryId,
    from_sending: bool,
) -> Result<bool, StoreError> {
    let updated = execute!(
        tx,
        "UPDATE automation_deliveries SET status = 'sending', attempts = attempts + 1, updated_at = $3 \
         WHERE workspace_id = $1 AND id = $2 AND (status = 'queued' OR ($4 AND status = 'sending'))",
        workspace.as_str(),
        id.as_str(),
        now_millis(),
        from_sending
    )?;
    Ok(updated > 0)
}

/// Counts an attempt made without a `sending` mark (signed webhooks), in the transaction that
/// records its answer; false when the delivery is no longer waiting to be sent (another job
/// recorded it meanwhile), and then nothing is to be recorded.
pub async fn count_attempt(tx: &mut Tx, workspace: &WorkspaceId, id: &DeliveryId) -> Result<bool, StoreError> {
    let updated = execute!(
        tx,
        "UPDATE automation_deliveries SET attempts = attempts + 1 \
         WHERE workspace_id = $1 AND id = $2 AND status IN ('queued', 'sending')",
        workspace.as_str(),
        id.as_str()
    )?;
    Ok(updated > 0)
}

/// What an attempt ended with.
pub struct AttemptOutcome<'a> {
    pub status: DeliveryStatus,
    pub response_code: Option<i64>,
    pub remote_id: Option<&'a str>,
    pub error: Option<&'a str>,
    pub latency_ms: Option<i64>,
}

pub async fn finish_attempt(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &DeliveryId,
    outcome: &AttemptOutcome<'_>,
) -> Result<(), StoreError> {
    let now = now_millis();
    let delivered_at = (outcome.status == DeliveryStatus::Delivered).then_some(now);
    execute!(
        tx,
        "UPDATE automation_deliveries SET status = $3, response_code = COALESCE($4, response_code), \
         remote_id = COALESCE($5, remote_id), error = $6, latency_ms = COALESCE($7, latency_ms), updated_at = $8, \
         delivered_at = COALESCE($9, delivered_at) WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        outcome.status.as_str(),
        outcome.response_code,
        outcome.remote_id,
        outcome.error,
        outcome.latency_ms,
        now,
        delivered_at
    )?;
    Ok(())
}

/// Puts a failed or unconfirmed delivery back in the queue (retry from the log). False when it
/// is in another state.
pub async fn requeue(tx: &mut Tx, workspace: &WorkspaceId, id: &DeliveryId) -> Result<bool, StoreError> {
    let updated = execute!(
        tx,
        "UPDATE automation_deliveries SET status = 'queued', error = NULL, batch_id = NULL, updated_at = $3 \
         WHERE workspace_id = $1 AND id = $2 AND status IN ('failed', 'unconfirmed')",
        workspace.as_str(),
        id.as_str(),
        now_millis()
    )?;
    Ok(updated > 0)
}

/// Which deliveries the log shows. `None` does not filter.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<String>,
    pub rule_id: Option<String>,
    pub destination_id: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Show deliveries created before this one (keyset paging, newest first).
    pub before: Option<String>,
    pub limit: i64,
}

pub async fn deliveries(
    db: &Db,
    workspace: &WorkspaceId,
    filter: &DeliveryFilter,
) -> Result<Vec<DeliveryRow>, StoreError> {
    let sql = format!(
        "{DELIVERY_SELECT} WHERE d.workspace_id = $1 AND ($2 IS NULL OR d.status = $2) AND ($3 IS NULL OR d.rule_id = $3) \
         AND ($4 IS NULL OR d.destination_id = $4 OR d.crm_connection_id = $4) AND ($5 IS NULL OR d.created_at >= $5) \
         AND ($6 IS NULL OR d.created_at < $6) AND ($7 IS NULL OR d.id < $7) ORDER BY d.id DESC LIMIT $8"
    );
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(filter.status.as_deref())
        .bind(filter.rule_id.as_deref())
        .bind(filter.destination_id.as_deref())
        .bind(filter.from)
        .bind(filter.to)
        .bind(filter.before.as_deref())
        .bind(filter.limit)
        .fetch_all(pool)
        .await)?)
}

/// Deletes deliveries, processed events and read notifications created before `cutoff`, in every
/// workspace (the scheduled purge). Returns the deliveries deleted.
pub async fn purge_before(db: &Db, cutoff: i64) -> Result<u64, StoreError> {
    let deleted = with_writer!(db, |pool| {
        sqlx::query(
        "DELETE FROM automation_deliveries WHERE created_at < $1 AND status IN ('delivered', 'failed', 'unconfirmed')"
    )
    .bind(cutoff)
    .execute(pool)
    .await
    .map(|r| r.rows_affected())
    })?;
    with_writer!(db, |pool| sqlx::query(
        "DELETE FROM automation_events WHERE received_at < $1 AND status <> 'received'"
    )
    .bind(cutoff)
    .execute(pool)
    .await
    .map(|_| ()))?;
    with_writer!(db, |pool| sqlx::query("DELETE FROM notifications WHERE created_at < $1 AND read_at IS NOT NULL")
        .bind(cutoff)
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(deleted)
}

// ---------------------------------------------------------------------------------------------
// In-app notifications.
// ---------------------------------------------------------------------------------------------

/// One notification of the bell.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: NotificationId,
    pub workspace_id: WorkspaceId,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub delivery_id: Option<DeliveryId>,
    pub read_at: Option<i64>,
    /// Arrived during the member's quiet hours (stored without a live announcement).
    pub quiet: bool,
    pub created_at: i64,
}
