//! The business locations conversations are filed under, as the inbox reads them (its filters,
//! its CSV import). `channels/` creates and edits them and reads them through here: the inbox
//! sits below channels and so cannot import it (ADR 0014).

use tidings_core::{LocationId, WorkspaceId};
use tidings_store::{Db, StoreError, tenant_read};

/// A business location.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LocationRow {
    pub id: LocationId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub timezone: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const LOCATION_COLUMNS: &str =
    "id, workspace_id, name, address, city, country, phone, website, timezone, created_at, updated_at";

/// A workspace's locations, by name.
pub async fn locations(db: &Db, workspace: &WorkspaceId) -> Result<Vec<LocationRow>, StoreError> {
    let sql = format!("SELECT {LOCATION_COLUMNS} FROM locations WHERE workspace_id = $1 ORDER BY name, id");
    Ok(tenant_read!(db, workspace, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .fetch_all(&mut **conn)
        .await)?)
}

/// One location of a workspace.
pub async fn location(db: &Db, workspace: &WorkspaceId, id: &LocationId) -> Result<Option<LocationRow>, StoreError> {
    let sql = format!("SELECT {LOCATION_COLUMNS} FROM locations WHERE workspace_id = $1 AND id = $2");
    Ok(tenant_read!(db, workspace, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut **conn)
        .await)?)
}
