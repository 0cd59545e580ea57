//! Locations and connected platform accounts. Functions touching a workspace's data take its
//! `WorkspaceId` first.

use tidings_connectors::{Platform, WebhookSubscription};
use tidings_core::time::now_millis;
use tidings_core::{ConnectionId, LocationId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, tenant_read, with_reader, with_tx, with_writer};

use super::model::{ConnectionStatus, WebhookSubscriptionState};
use crate::inbox::ingest::Source;
pub use crate::inbox::locations::{LocationRow, location, locations};

/// The editable fields of a location.
#[derive(Debug, Clone, Default)]
pub struct LocationFields {
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub timezone: String,
}

/// A connected platform account (never its credentials).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConnectionRow {
    pub id: ConnectionId,
    pub workspace_id: WorkspaceId,
    pub location_id: Option<LocationId>,
    #[sqlx(try_from = "String")]
    pub platform: Platform,
    pub external_account_id: String,
    pub display_name: String,
    pub status: ConnectionStatus,
    pub credentials_secret: Option<String>,
    pub token_expires_at: Option<i64>,
    pub sync_cursor: Option<String>,
    pub sync_interval_secs: i64,
    pub next_sync_at: Option<i64>,
    pub last_synced_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub consecutive_failures: i64,
    pub cost_centi_cents: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// `Failed` with `webhook_subscription_error`; `None` where the platform needs no webhook
    /// subscription per account.
    pub webhook_subscription: Option<WebhookSubscriptionState>,
    pub webhook_subscription_error: Option<String>,
    /// One of the demo workspace's made-up accounts, which exist on no platform: replies to it
    /// are recorded as posted without a call. Only the demo seeder sets it.
    pub demo: bool,
}

impl ConnectionRow {
    /// Where items arriving through this account are filed: its workspace, platform, connection
    /// and location.
    pub fn source(&self) -> Source {
        Source {
            workspace_id: self.workspace_id.clone(),
            platform: self.platform.as_str().to_owned(),
            connection_id: Some(self.id.clone()),
            location_id: self.location_id.clone(),
        }
    }
}

const CONNECTION_COLUMNS: &str = "id, workspace_id, location_id, platform, external_account_id, display_name, status, \
     credentials_secret, token_expires_at, sync_cursor, sync_interval_secs, next_sync_at, last_synced_at, last_error, \
     last_error_at, consecutive_failures, cost_centi_cents, created_at, updated_at, webhook_subscription, \
     webhook_subscription_error, demo";

pub async fn insert_location(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &LocationId,
    fields: &LocationFields,
) -> Result<(), StoreError> {
    let now = now_millis();
    execute!(
        tx,
        "INSERT INTO locations (id, workspace_id, name, address, city, country, phone, website, timezone, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        id.as_str(),
        workspace.as_str(),
        &fields.name,
        &fields.address,
        &fields.city,
        &fields.country,
        &fields.phone,
        &fields.website,
        &fields.timezone,
        now
    )?;
    Ok(())
}

pub async fn update_location(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &LocationId,
    fields: &LocationFields,
) -> Result<bool, StoreError> {
    let changed = execute!(
        tx,
        "UPDATE locations SET name = $3, address = $4, city = $5, country = $6, phone = $7, website = $8, \
         timezone = $9, updated_at = $10 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        &fields.name,
        &fields.address,
        &fields.city,
        &fields.country,
        &fields.phone,
        &fields.website,
        &fields.timezone,
        now_millis()
    )?;
    Ok(changed == 1)
}

pub async fn delete_location(tx: &mut Tx, workspace: &WorkspaceId, id: &LocationId) -> Result<bool, StoreError> {
    let deleted =
        execute!(tx, "DELETE FROM locations WHERE workspace_id = $1 AND id = $2", workspace.as_str(), id.as_str())?;
    Ok(deleted == 1)
}

/// A connection to create.
pub struct NewConnection<'a> {
    pub id: &'a ConnectionId,
    pub location_id: Option<&'a LocationId>,
    pub platform: &'a str,
    pub external_account_id: &'a str,
    pub display_name: &'a str,
    pub credentials_secret: Option<&'a str>,
    pub token_expires_at: Option<i64>,
    pub sync_interval_secs: i64,
}

/// Inserts a connection, due for its first sync now; `false` when that platform account is
/// already connected (to this or another workspace).
pub async fn insert_connection(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    new: &NewConnection<'_>,
) -> Result<bool, StoreError> {
    let now = now_millis();
    let inserted = execute!(
        tx,
        "INSERT INTO channel_connections (id, workspace_id, location_id, platform, external_account_id, display_name, \
         status, credentials_secret, token_expires_at, sync_interval_secs, next_sync_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10, $10, $10) \
         ON CONFLICT (platform, external_account_id) DO NOTHING",
        new.id.as_str(),
        workspace.as_str(),
        new.location_id.map(LocationId::as_str),
        new.platform,
        new.external_account_id,
        new.display_name,
        new.credentials_secret,
        new.token_expires_at,
        new.sync_interval_secs,
        now
    )?;
    Ok(inserted == 1)
}

pub async fn connections(db: &Db, workspace: &WorkspaceId) -> Result<Vec<ConnectionRow>, StoreError> {
    let sql =
        format!("SELECT {CONNECTION_COLUMNS} FROM channel_connections WHERE workspace_id = $1 ORDER BY platform, id");
    Ok(tenant_read!(db, workspace, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .fetch_all(&mut **conn)
        .await)?)
}

pub async fn connection(
    db: &Db,
    workspace: &WorkspaceId,
    id: &ConnectionId,
) -> Result<Option<ConnectionRow>, StoreError> {
    let sql = format!("SELECT {CONNECTION_COLUMNS} FROM channel_connections WHERE workspace_id = $1 AND id = $2");
    Ok(tenant_read!(db, workspace, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut **conn)
        .await)?)
}

/// The connection a webhook names by its platform account (routing crosses workspaces by nature).
pub async fn connection_by_account(
    db: &Db,
    platform: &str,
    external_account_id: &str,
) -> Result<Option<ConnectionRow>, StoreError> {
    let sql = format!(
        "SELECT {CONNECTION_COLUMNS} FROM channel_connections WHERE platform = $1 AND external_account_id = $2"
    );
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(platform)
        .bind(external_account_id)
        .fetch_optional(pool)
        .await)?)
}

/// A connection whose sync is due, as the scheduler claims it (in any workspace).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueConnection {
    pub id: ConnectionId,
    pub workspace_id: WorkspaceId,
    pub platform: String,
    /// When it became due: claiming compares it, so only one process queues the sync.
    pub next_sync_at: Option<i64>,
    pub sync_interval_secs: i64,
}

/// Connections whose next sync is due, across workspaces (the scheduler's view).
pub async fn due_connections(db: &Db, now: i64, limit: i64) -> Result<Vec<DueConnection>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_as(
        "SELECT id, workspace_id, platform, next_sync_at, sync_interval_secs FROM channel_connections \
         WHERE next_sync_at IS NOT NULL AND next_sync_at <= $1 AND status IN ('active', 'error') \
         ORDER BY next_sync_at LIMIT $2"
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await)?)
}

/// Changes what a person may edit on a connection.
pub async fn update_connection(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ConnectionId,
    display_name: &str,
    location_id: Option<&LocationId>,
    status: ConnectionStatus,
    sync_interval_secs: i64,
) -> Result<bool, StoreError> {
    let changed = execute!(
        tx,
        "UPDATE channel_connections SET display_name = $3, location_id = $4, status = $5, sync_interval_secs = $6, \
         updated_at = $7 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        display_name,
        location_id.map(LocationId::as_str),
        status.as_str(),
        sync_interval_secs,
        now_millis()
    )?;
    Ok(changed == 1)
}

pub async fn delete_connection(tx: &mut Tx, workspace: &WorkspaceId, id: &ConnectionId) -> Result<bool, StoreError> {
    let deleted = execute!(
        tx,
        "DELETE FROM channel_connections WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str()
    )?;
    Ok(deleted == 1)
}

/// Claims a due sync: moves `next_sync_at` forward so no other scheduler tick picks it; `false`
/// when another process claimed it first.
pub async fn claim_sync(db: &Db, id: &ConnectionId, seen_next: i64, next: i64) -> Result<bool, StoreError> {
    let claimed = with_writer!(db, |pool| sqlx::query(
        "UPDATE channel_connections SET next_sync_at = $3 WHERE id = $1 AND next_sync_at = $2"
    )
    .bind(id.as_str())
    .bind(seen_next)
    .bind(next)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(claimed == 1)
}

/// How a sync ended, written back to the connection for its health display. A failure never
/// replaces `needs_reauth`: only connecting again clears it.
pub struct SyncOutcome<'a> {
    pub status: ConnectionStatus,
    pub cursor: Option<&'a str>,
    pub error: Option<&'a str>,
    pub next_sync_at: i64,
    pub cost_centi_cents: i64,
}

pub async fn record_sync(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ConnectionId,
    outcome: &SyncOutcome<'_>,
) -> Result<(), StoreError> {
    let now = now_millis();
    let failed = outcome.error.is_some();
    execute!(
        tx,
        "UPDATE channel_connections \
         SET status = CASE WHEN $5 AND status = 'needs_reauth' THEN status ELSE $3 END, \
         sync_cursor = COALESCE($4, sync_cursor), \
         last_synced_at = CASE WHEN $5 THEN last_synced_at ELSE $8 END, \
         last_error = CASE WHEN $5 THEN $6 ELSE last_error END, \
         last_error_at = CASE WHEN $5 THEN $8 ELSE last_error_at END, \
         consecutive_failures = CASE WHEN $5 THEN consecutive_failures + 1 ELSE 0 END, \
         next_sync_at = $7, cost_centi_cents = cost_centi_cents + $9, updated_at = $8 \
         WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        outcome.status.as_str(),
        outcome.cursor,
        failed,
        outcome.error,
        outcome.next_sync_at,
        now,
        outcome.cost_centi_cents
    )?;
    Ok(())
}

/// Stores refreshed token expiry.
pub async fn set_token_expiry(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ConnectionId,
    expires_at: Option<i64>,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE channel_connections SET token_expires_at = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        expires_at,
        now_millis()
    )?;
    Ok(())
}

/// Records a connection's state and latest error without touching its sync schedule.
pub async fn mark_health(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ConnectionId,
    status: ConnectionStatus,
    error: &str,
) -> Result<(), StoreError> {
    let now = now_millis();
    execute!(
        tx,
        "UPDATE channel_connections SET status = $3, last_error = $4, last_error_at = $5, updated_at = $5 \
         WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        status.as_str(),
        error,
        now
    )?;
    Ok(())
}

/// What a location's card shows beside its fields: connected accounts and its reviews.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LocationStatsRow {
    pub location_id: LocationId,
    pub connections: i64,
    pub reviews: i64,
    pub average_rating: Option<f64>,
}

/// Connection and review counts and the average rating of a workspace's locations (of one
/// location when `only` is given).
pub async fn location_stats(
    db: &Db,
    workspace: &WorkspaceId,
    only: Option<&LocationId>,
) -> Result<Vec<LocationStatsRow>, StoreError> {
    let sql = "SELECT l.id AS location_id, \
         (SELECT COUNT(*) FROM channel_connections c WHERE c.workspace_id = l.workspace_id AND c.location_id = l.id) \
           AS connections, \
         (SELECT COUNT(*) FROM conversations v WHERE v.workspace_id = l.workspace_id AND v.location_id = l.id \
           AND v.kind = 'review') AS reviews, \
         (SELECT AVG(CAST(v.rating AS DOUBLE PRECISION)) FROM conversations v WHERE v.workspace_id = l.workspace_id \
           AND v.location_id = l.id AND v.kind = 'review' AND v.rating IS NOT NULL) AS average_rating \
         FROM locations l WHERE l.workspace_id = $1 AND ($2 IS NULL OR l.id = $2)";
    Ok(tenant_read!(db, workspace, |conn| sqlx::query_as(sql)
        .bind(workspace.as_str())
        .bind(only.map(LocationId::as_str))
        .fetch_all(&mut **conn)
        .await)?)
}

/// An OAuth connect flow in flight (the `state` itself is never stored, only its SHA-256).
pub struct NewOAuthState<'a> {
    pub state_hash: &'a str,
    pub user_id: &'a str,
    pub platform: &'a str,
    pub location_id: Option<&'a LocationId>,
    pub expires_at: i64,
}

pub async fn insert_oauth_state(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    new: &NewOAuthState<'_>,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "INSERT INTO oauth_states (state_hash, workspace_id, user_id, platform, location_id, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        new.state_hash,
        workspace.as_str(),
        new.user_id,
        new.platform,
        new.location_id.map(LocationId::as_str),
        new.expires_at,
        now_millis()
    )?;
    Ok(())
}

/// Spends an OAuth `state`: marks it used when it exists in this workspace, was issued to this
/// user for this platform, has not expired and was not used before (one statement, so two
/// concurrent callbacks cannot both spend it). `Some(location_id)` when it was spent now.
pub async fn consume_oauth_state(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    state_hash: &str,
    user_id: &str,
    platform: &str,
    now: i64,
) -> Result<Option<Option<String>>, StoreError> {
    let spent = execute!(
        tx,
        "UPDATE oauth_states SET used_at = $5 WHERE state_hash = $1 AND workspace_id = $2 AND user_id = $3 \
         AND platform = $4 AND used_at IS NULL AND expires_at > $5",
        state_hash,
        workspace.as_str(),
        user_id,
        platform,
        now
    )?;
    if spent != 1 {
        return Ok(None);
    }
    let location: Option<String> = with_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT location_id FROM oauth_states WHERE state_hash = $1 AND workspace_id = $2"
    )
    .bind(state_hash)
    .bind(workspace.as_str())
    .fetch_one(&mut **conn)
    .await)?;
    Ok(Some(location))
}

/// Removes OAuth states that expired before `before` (housekeeping).
pub async fn delete_expired_oauth_states(db: &Db, before: i64) -> Result<u64, StoreError> {
    Ok(with_writer!(db, |pool| sqlx::query("DELETE FROM oauth_states WHERE expires_at < $1")
        .bind(before)
        .execute(pool)
        .await?
        .rows_affected()))
}

/// Makes a connection due for sync now (the scheduler picks it on its next tick); `false` when
/// it does not exist in this workspace.
pub async fn schedule_sync_now(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ConnectionId,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = execute!(
        tx,
        "UPDATE channel_connections SET next_sync_at = $3, updated_at = $3 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        now
    )?;
    Ok(changed == 1)
}

/// A connection connected again (new credentials after an OAuth flow): active, its failures
/// forgotten, due for sync now.
/// Records whether the platform sends the connection's events to our webhook, or why the
/// subscription failed.
pub async fn set_webhook_subscription(
    db: &Db,
    workspace: &WorkspaceId,
    id: &ConnectionId,
    outcome: Result<WebhookSubscription, &str>,
) -> Result<(), StoreError> {
    let (state, error) = match outcome {
        Ok(WebhookSubscription::Subscribed) => (Some(WebhookSubscriptionState::Subscribed), None),
        Ok(WebhookSubscription::NotApplicable) => (None, None),
        Err(reason) => (Some(WebhookSubscriptionState::Failed), Some(reason)),
    };
    let mut tx = db.begin_for_tenant(workspace).await?;
    execute!(
        tx,
        "UPDATE channel_connections SET webhook_subscription = $3, webhook_subscription_error = $4, updated_at = $5 \
         WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        state.map(WebhookSubscriptionState::as_str),
        error,
        now_millis()
    )?;
    tx.commit().await
}

pub async fn reactivate_connection(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ConnectionId,
    token_expires_at: Option<i64>,
) -> Result<bool, StoreError> {
    let now = now_millis();
    let changed = execute!(
        tx,
        "UPDATE channel_connections SET status = 'active', token_expires_at = $3, consecutive_failures = 0, \
         next_sync_at = $4, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        token_expires_at,
        now
    )?;
    Ok(changed == 1)
}
