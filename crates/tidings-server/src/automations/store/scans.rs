//! Reads for the scheduled scans (ADR 0024): rules of one trigger in every workspace, the items
//! still waiting for an answer, and a digest's numbers. The inbox's tables are read, never written.

use tidings_core::WorkspaceId;
use tidings_store::{Db, StoreError, tenant_read, with_reader};

/// `(workspace, conditions JSON)` of every enabled rule of `trigger`, in every workspace.
pub async fn rules_of_trigger(db: &Db, trigger: &str) -> Result<Vec<(String, String)>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_as(
        "SELECT workspace_id, conditions FROM automation_rules WHERE trigger_kind = $1 AND enabled = TRUE"
    )
    .bind(trigger)
    .fetch_all(pool)
    .await)?)
}

/// An inbound item is answered once an outbound message of its conversation was sent at or
/// after it, or (reviews) the platform shows the owner's response; closed conversations need
/// nothing more.
const UNANSWERED: &str = "c.status <> 'closed' AND NOT (c.kind = 'review' AND c.responded = TRUE) \
     AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.conversation_id = m.conversation_id \
       AND o.direction = 'outbound' AND o.sent_at >= m.sent_at)";

/// `(conversation, message)` of the inbound items that arrived in `[from, to]` (unix ms) and are
/// still unanswered, each the first unanswered one of its conversation (a customer writing three
/// times waits from the first message).
pub async fn unanswered_items(
    db: &Db,
    workspace: &WorkspaceId,
    from: i64,
    to: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    let sql = format!(
        "SELECT m.conversation_id, m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id \
         WHERE m.workspace_id = $1 AND m.direction = 'inbound' AND m.sent_at >= $2 AND m.sent_at <= $3 \
         AND {UNANSWERED} \
         AND NOT EXISTS (SELECT 1 FROM messages e WHERE e.conversation_id = m.conversation_id \
           AND e.direction = 'inbound' AND e.sent_at < m.sent_at AND e.sent_at >= $2) \
         ORDER BY m.sent_at LIMIT 1000"
    );
    Ok(tenant_read!(db, workspace, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(&mut **conn)
        .await)?)
}

/// What a digest reports for a period.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct DigestNumbers {
    /// Reviews written in the period.
    pub new_reviews: i64,
    /// Their average rating (reviews with a rating).
    pub average_rating: Option<f64>,
    /// Of them, still without an answer.
    pub unanswered: i64,
    /// Of them, negative: rated 1–2 stars, or analysed negative when unrated.
    pub negative: i64,
}

/// A digest's numbers for reviews written in `[from, to)` (unix ms), of one location or all.
pub async fn digest_numbers(
    db: &Db,
    workspace: &WorkspaceId,
    location: Option<&str>,
    from: i64,
    to: i64,
) -> Result<DigestNumbers, StoreError> {
    let sql = format!(
        "SELECT COUNT(*) AS new_reviews, AVG(CAST(m.rating AS DOUBLE PRECISION)) AS average_rating, \
         COALESCE(SUM(CASE WHEN {UNANSWERED} THEN 1 ELSE 0 END), 0) AS unanswered, \
         COALESCE(SUM(CASE WHEN m.rating <= 2 OR (m.rating IS NULL AND m.sentiment = 'negative') THEN 1 ELSE 0 END), 0) \
           AS negative \
         FROM messages m JOIN conversations c ON c.id = m.conversation_id \
         WHERE m.workspace_id = $1 AND m.kind = 'review' AND m.direction = 'inbound' \
         AND m.sent_at >= $2 AND m.sent_at < $3 AND ($4 IS NULL OR c.location_id = $4)"
    );
    Ok(tenant_read!(db, workspace, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(from)
        .bind(to)
        .bind(location)
        .fetch_one(&mut **conn)
        .await)?)
}
