//! Queries of digests: the workspace's list, and the claim that makes each period's digest go
//! out once.

use tidings_core::time::now_millis;
use tidings_core::{DigestId, LocationId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader};

/// A digest as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DigestRow {
    pub id: DigestId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub frequency: String,
    pub weekday: Option<i64>,
    pub hour: i64,
    pub time_zone: String,
    pub location_id: Option<LocationId>,
    pub destination_ids: String,
    pub enabled: bool,
    pub last_period: Option<String>,
    pub last_sent_at: Option<i64>,
    pub created_at: i64,
}

const COLUMNS: &str = "id, workspace_id, name, frequency, weekday, hour, time_zone, location_id, destination_ids, \
     enabled, last_period, last_sent_at, created_at";

/// A new digest.
pub struct NewDigest<'a> {
    pub name: &'a str,
    pub frequency: &'a str,
    pub weekday: Option<i64>,
    pub hour: i64,
    pub time_zone: &'a str,
    pub location_id: Option<&'a str>,
    pub destination_ids: &'a str,
    pub enabled: bool,
}

pub async fn insert(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &DigestId,
    new: &NewDigest<'_>,
) -> Result<(), StoreError> {
    let now = now_millis();
    execute!(
        tx,
        "INSERT INTO automation_digests (id, workspace_id, name, frequency, weekday, hour, time_zone, location_id, \
         destination_ids, enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        id.as_str(),
        workspace.as_str(),
        new.name,
        new.frequency,
        new.weekday,
        new.hour,
        new.time_zone,
        new.location_id,
        new.destination_ids,
        new.enabled,
        now
    )?;
    Ok(())
}

/// The workspace's digests, oldest first.
pub async fn list(db: &Db, workspace: &WorkspaceId) -> Result<Vec<DigestRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM automation_digests WHERE workspace_id = $1 ORDER BY created_at, id");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .fetch_all(pool)
        .await)?)
}

pub async fn get(db: &Db, workspace: &WorkspaceId, id: &DigestId) -> Result<Option<DigestRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM automation_digests WHERE workspace_id = $1 AND id = $2");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)?)
}

/// Deletes a digest; false when there was none.
pub async fn delete(tx: &mut Tx, workspace: &WorkspaceId, id: &DigestId) -> Result<bool, StoreError> {
    let deleted = execute!(
        tx,
        "DELETE FROM automation_digests WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str()
    )?;
    Ok(deleted > 0)
}

/// Every enabled digest of every workspace, for the schedule to see which are due.
pub async fn enabled(db: &Db) -> Result<Vec<DigestRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM automation_digests WHERE enabled = TRUE ORDER BY id");
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(pool).await)?)
}

/// Claims `period` for the digest: true for the one caller that moves it there, so a period's
/// digest goes out once however many processes find it due.
pub async fn claim(tx: &mut Tx, workspace: &WorkspaceId, id: &DigestId, period: &str) -> Result<bool, StoreError> {
    let claimed = execute!(
        tx,
        "UPDATE automation_digests SET last_period = $3, last_sent_at = $4, updated_at = $4 \
         WHERE workspace_id = $1 AND id = $2 AND (last_period IS NULL OR last_period <> $3)",
        workspace.as_str(),
        id.as_str(),
        period,
        now_millis()
    )?;
    Ok(claimed == 1)
}
