//! Queries of each member's notifications: the bell (per member), their choices per kind, their
//! quiet hours.

use tidings_core::time::now_millis;
use tidings_core::{DeliveryId, NotificationId, UserId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader};

use super::deliveries::NotificationRow;
use crate::automations::members::NotificationKind;

/// A notification for one member.
pub struct MemberNotification<'a> {
    pub member: &'a UserId,
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub link: Option<&'a str>,
    /// The delivery it comes from: a retried delivery adds no second notification.
    pub delivery_id: Option<&'a DeliveryId>,
    /// Arrived during the member's quiet hours: stored without a live announcement.
    pub quiet: bool,
}

/// Adds a member's notification; false when the delivery already added it.
pub async fn insert(tx: &mut Tx, workspace: &WorkspaceId, new: &MemberNotification<'_>) -> Result<bool, StoreError> {
    let inserted = execute!(
        tx,
        "INSERT INTO notifications (id, workspace_id, member_id, kind, title, body, link, delivery_id, quiet, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (delivery_id, member_id) DO NOTHING",
        NotificationId::generate().as_str(),
        workspace.as_str(),
        new.member.as_str(),
        new.kind,
        new.title,
        new.body,
        new.link,
        new.delivery_id.map(DeliveryId::as_str),
        new.quiet,
        now_millis()
    )?;
    Ok(inserted > 0)
}

/// Rows for `member`: their own, and those from before notifications had members.
const FOR_MEMBER: &str = "workspace_id = $1 AND (member_id = $2 OR member_id IS NULL)";

/// The member's latest notifications, newest first.
pub async fn latest(
    db: &Db,
    workspace: &WorkspaceId,
    member: &UserId,
    limit: i64,
) -> Result<Vec<NotificationRow>, StoreError> {
    let sql = format!(
        "SELECT id, workspace_id, kind, title, body, link, delivery_id, read_at, quiet, created_at FROM notifications \
         WHERE {FOR_MEMBER} ORDER BY id DESC LIMIT $3"
    );
    Ok(with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(member.as_str())
        .bind(limit)
        .fetch_all(pool)
        .await)?)
}

/// How many of the member's notifications are unread.
pub async fn unread(db: &Db, workspace: &WorkspaceId, member: &UserId) -> Result<i64, StoreError> {
    let sql = format!("SELECT COUNT(*) FROM notifications WHERE {FOR_MEMBER} AND read_at IS NULL");
    Ok(with_reader!(db, |pool| sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(member.as_str())
        .fetch_one(pool)
        .await)?)
}

/// Marks the member's notifications read: one (`only`), or all. Returns how many changed.
pub async fn mark_read(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    member: &UserId,
    only: Option<&NotificationId>,
) -> Result<u64, StoreError> {
    let sql = format!(
        "UPDATE notifications SET read_at = $3 WHERE {FOR_MEMBER} AND read_at IS NULL AND ($4 IS NULL OR id = $4)"
    );
    Ok(execute!(
        tx,
        sqlx::AssertSqlSafe(sql.as_str()),
        workspace.as_str(),
        member.as_str(),
        now_millis(),
        only.map(NotificationId::as_str)
    )?)
}

/// Whether the member has this notification (read or not).
pub async fn exists(
    db: &Db,
    workspace: &WorkspaceId,
    member: &UserId,
    id: &NotificationId,
) -> Result<bool, StoreError> {
    let sql = format!("SELECT COUNT(*) FROM notifications WHERE {FOR_MEMBER} AND id = $3");
    let count: i64 = with_reader!(db, |pool| sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(member.as_str())
        .bind(id.as_str())
        .fetch_one(pool)
        .await)?;
    Ok(count > 0)
}

/// One member's choice for one kind.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PreferenceRow {
    pub member_id: UserId,
    pub kind: NotificationKind,
    pub in_app: bool,
    pub email: bool,
}

/// Every member's choices in the workspace (`member`: one member's).
pub async fn preferences(
    db: &Db,
    workspace: &WorkspaceId,
    member: Option<&UserId>,
) -> Result<Vec<PreferenceRow>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_as(
        "SELECT member_id, kind, in_app, email FROM notification_preferences \
         WHERE workspace_id = $1 AND ($2 IS NULL OR member_id = $2)"
    )
    .bind(workspace.as_str())
    .bind(member.map(UserId::as_str))
    .fetch_all(pool)
    .await)?)
}

/// Stores a member's choice for one kind.
pub async fn set_preference(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    member: &UserId,
    kind: &str,
    in_app: bool,
    email: bool,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "INSERT INTO notification_preferences (workspace_id, member_id, kind, in_app, email, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, member_id, kind) \
         DO UPDATE SET in_app = excluded.in_app, email = excluded.email, updated_at = excluded.updated_at",
        workspace.as_str(),
        member.as_str(),
        kind,
        in_app,
        email,
        now_millis()
    )?;
    Ok(())
}

/// A member's quiet hours.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QuietHoursRow {
    pub member_id: UserId,
    pub starts_minute: i64,
    pub ends_minute: i64,
    pub time_zone: String,
}

/// Every member's quiet hours in the workspace (`member`: one member's).
pub async fn quiet_hours(
    db: &Db,
    workspace: &WorkspaceId,
    member: Option<&UserId>,
) -> Result<Vec<QuietHoursRow>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_as(
        "SELECT member_id, starts_minute, ends_minute, time_zone FROM notification_quiet_hours \
         WHERE workspace_id = $1 AND ($2 IS NULL OR member_id = $2)"
    )
    .bind(workspace.as_str())
    .bind(member.map(UserId::as_str))
    .fetch_all(pool)
    .await)?)
}

/// Sets (`Some`) or clears a member's quiet hours.
pub async fn set_quiet_hours(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    member: &UserId,
    quiet: Option<(i64, i64, &str)>,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "DELETE FROM notification_quiet_hours WHERE workspace_id = $1 AND member_id = $2",
        workspace.as_str(),
        member.as_str()
    )?;
    let Some((starts, ends, zone)) = quiet else { return Ok(()) };
    execute!(
        tx,
        "INSERT INTO notification_quiet_hours (workspace_id, member_id, starts_minute, ends_minute, time_zone, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
        workspace.as_str(),
        member.as_str(),
        starts,
        ends,
        zone,
        now_millis()
    )?;
    Ok(())
}
