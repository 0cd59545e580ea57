//! Queries of CRM sync: push-only connections (HubSpot, Salesforce), field mappings, the records
//! created in CRMs, and the batch a sync job claims.

use tidings_connectors::crm::{Crm, Step};
use tidings_core::time::now_millis;
use tidings_core::{ContactId, ConversationId, CrmConnectionId, DeliveryId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader, with_tx};

use crate::automations::store::deliveries::{DELIVERY_SELECT, DeliveryRow};

/// A HubSpot or Salesforce connection to insert.
pub struct NewPushConnection<'a> {
    pub id: &'a CrmConnectionId,
    pub provider: Crm,
    pub name: &'a str,
    pub account_name: &'a str,
    pub instance_url: Option<&'a str>,
}

pub async fn insert_push_connection(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    new: &NewPushConnection<'_>,
) -> Result<(), StoreError> {
    let now = now_millis();
    execute!(
        tx,
        "INSERT INTO crm_connections (id, workspace_id, provider, name, account_name, instance_url, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        new.id.as_str(),
        workspace.as_str(),
        new.provider.as_str(),
        new.name,
        new.account_name,
        new.instance_url,
        now
    )?;
    Ok(())
}

/// Marks a connection failing with what the CRM answered; the time it started failing stays.
pub async fn mark_failing(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &CrmConnectionId,
    error: &str,
) -> Result<(), StoreError> {
    tidings_store::execute!(
        tx,
        "UPDATE crm_connections SET failing_since = COALESCE(failing_since, $3), last_error = $4, updated_at = $3 \
         WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        now_millis(),
        error,
    )?;
    Ok(())
}

/// Clears the failing mark after a sync went through.
pub async fn mark_working(tx: &mut Tx, workspace: &WorkspaceId, id: &CrmConnectionId) -> Result<(), StoreError> {
    tidings_store::execute!(
        tx,
        "UPDATE crm_connections SET failing_since = NULL, last_error = NULL, updated_at = $3 \
         WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        now_millis(),
    )?;
    Ok(())
}

/// The workspace's mapping for a CRM, as saved (JSON), if it saved one.
pub async fn mapping(db: &Db, workspace: &WorkspaceId, crm: Crm) -> Result<Option<String>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_scalar(
        "SELECT mapping FROM crm_field_mappings WHERE workspace_id = $1 AND provider = $2"
    )
    .bind(workspace.as_str())
    .bind(crm.as_str())
    .fetch_optional(pool)
    .await)?)
}

pub async fn put_mapping(tx: &mut Tx, workspace: &WorkspaceId, crm: Crm, mapping: &str) -> Result<(), StoreError> {
    execute!(
        tx,
        "INSERT INTO crm_field_mappings (workspace_id, provider, mapping, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace_id, provider) DO UPDATE SET mapping = excluded.mapping, updated_at = excluded.updated_at",
        workspace.as_str(),
        crm.as_str(),
        mapping,
        now_millis()
    )?;
    Ok(())
}

pub async fn delete_mapping(tx: &mut Tx, workspace: &WorkspaceId, crm: Crm) -> Result<(), StoreError> {
    execute!(
        tx,
        "DELETE FROM crm_field_mappings WHERE workspace_id = $1 AND provider = $2",
        workspace.as_str(),
        crm.as_str()
    )?;
    Ok(())
}

/// A record a sync created in a CRM.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RemoteRecordRow {
    pub workspace_id: WorkspaceId,
    pub delivery_id: DeliveryId,
    pub step: String,
    pub crm_connection_id: Option<CrmConnectionId>,
    #[sqlx(try_from = "String")]
    pub provider: Crm,
    pub object: String,
    pub remote_id: String,
    pub contact_id: Option<ContactId>,
    pub conversation_id: Option<ConversationId>,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
}

const RECORD_COLUMNS: &str = "workspace_id, delivery_id, step, crm_connection_id, provider, object, remote_id, \
     contact_id, conversation_id, created_at, deleted_at";

/// A record just created, to keep.
pub struct NewRemoteRecord<'a> {
    pub delivery_id: &'a DeliveryId,
    pub step: Step,
    pub connection_id: &'a CrmConnectionId,
    pub provider: Crm,
    pub object: &'a str,
    pub remote_id: &'a str,
    pub contact_id: Option<&'a ContactId>,
    pub conversation_id: Option<&'a str>,
}

/// Keeps a created record; a step already recorded for the delivery stays as it was.
pub async fn insert_record(tx: &mut Tx, workspace: &WorkspaceId, new: &NewRemoteRecord<'_>) -> Result<(), StoreError> {
    execute!(
        tx,
        "INSERT INTO crm_remote_records (workspace_id, delivery_id, step, crm_connection_id, provider, object, \
         remote_id, contact_id, conversation_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (delivery_id, step) DO NOTHING",
        workspace.as_str(),
        new.delivery_id.as_str(),
        new.step.as_str(),
        new.connection_id.as_str(),
        new.provider.as_str(),
        new.object,
        new.remote_id,
        new.contact_id.map(ContactId::as_str),
        new.conversation_id,
        now_millis()
    )?;
    Ok(())
}

/// The records the deliveries of `leader`'s batch created so far.
pub async fn records_of_batch(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    leader: &DeliveryId,
) -> Result<Vec<RemoteRecordRow>, StoreError> {
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM crm_remote_records WHERE workspace_id = $1 AND delivery_id IN \
         (SELECT id FROM automation_deliveries WHERE workspace_id = $1 AND batch_id = $2)"
    );
    Ok(with_tx!(tx, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(leader.as_str())
        .fetch_all(&mut **conn)
        .await)?)
}

/// A contact's records not deleted yet.
pub async fn records_of_contact(
    db: &Db,
    workspace: &WorkspaceId,
    contact: &ContactId,
) -> Result<Vec<RemoteRecordRow>, StoreError> {
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM crm_remote_records WHERE workspace_id = $1 AND contact_id = $2 \
         AND deleted_at IS NULL ORDER BY created_at DESC, step DESC"
    );
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(contact.as_str())
        .fetch_all(pool)
        .await)?)
}

/// Marks every row naming this remote record deleted (several deliveries may share a contact).
pub async fn mark_deleted(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    provider: &str,
    object: &str,
    remote_id: &str,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE crm_remote_records SET deleted_at = $5 WHERE workspace_id = $1 AND provider = $2 AND object = $3 \
         AND remote_id = $4 AND deleted_at IS NULL",
        workspace.as_str(),
        provider,
        object,
        remote_id,
        now_millis()
    )?;
    Ok(())
}

/// Claims `leader` and up to `limit - 1` other queued syncs to the same connection, oldest first,
/// for one batch: each is marked `sending` (its attempt counted) with `batch_id = leader`. Only
/// queued deliveries move, so a delivery is in one batch at a time. Returns the batch, the
/// leader included when it was still queued.
pub async fn claim_batch(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    leader: &DeliveryId,
    connection: &CrmConnectionId,
    limit: i64,
) -> Result<Vec<DeliveryRow>, StoreError> {
    let now = now_millis();
    execute!(
        tx,
        "UPDATE automation_deliveries SET status = 'sending', attempts = attempts + 1, batch_id = $3, updated_at = $5 \
         WHERE workspace_id = $1 AND status = 'queued' AND id IN (SELECT id FROM automation_deliveries \
         WHERE workspace_id = $1 AND crm_connection_id = $2 AND status = 'queued' \
         ORDER BY CASE WHEN id = $3 THEN 0 ELSE 1 END, created_at, id LIMIT $4)",
        workspace.as_str(),
        connection.as_str(),
        leader.as_str(),
        limit,
        now
    )?;
    let sql = format!(
        "{DELIVERY_SELECT} WHERE d.workspace_id = $1 AND d.batch_id = $2 AND d.status = 'sending' \
         ORDER BY CASE WHEN d.id = $2 THEN 0 ELSE 1 END, d.created_at, d.id"
    );
    Ok(with_tx!(tx, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(leader.as_str())
        .fetch_all(&mut **conn)
        .await)?)
}

/// The deliveries still `sending` in `leader`'s batch (after an interruption).
pub async fn unfinished_batch(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    leader: &DeliveryId,
) -> Result<Vec<DeliveryRow>, StoreError> {
    let sql = format!("{DELIVERY_SELECT} WHERE d.workspace_id = $1 AND d.batch_id = $2 AND d.status = 'sending'");
    Ok(with_tx!(tx, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(leader.as_str())
        .fetch_all(&mut **conn)
        .await)?)
}
