//! Model usage per day and model, and the response cache.

use tidings_core::WorkspaceId;
use tidings_core::time::now_millis;
use tidings_store::{Db, StoreError, Tx, execute, with_reader};

/// What one generation added to a day's usage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageDelta {
    /// The model called (`""` when none was).
    pub model: String,
    pub calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_nano_usd: i64,
    pub cache_hits: i64,
    pub short_circuits: i64,
    pub offline_drafts: i64,
    pub failures: i64,
}

/// Adds `delta` to the workspace's usage of `day` (`YYYY-MM-DD`, UTC).
pub async fn record_usage(db: &Db, workspace: &WorkspaceId, day: &str, delta: &UsageDelta) -> Result<(), StoreError> {
    let mut tx = db.begin_for_tenant(workspace).await?;
    execute!(
        tx,
        "INSERT INTO ai_usage (workspace_id, day, model, calls, prompt_tokens, completion_tokens, cost_nano_usd, \
         cache_hits, short_circuits, offline_drafts, failures) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (workspace_id, day, model) DO UPDATE SET calls = ai_usage.calls + excluded.calls, \
         prompt_tokens = ai_usage.prompt_tokens + excluded.prompt_tokens, \
         completion_tokens = ai_usage.completion_tokens + excluded.completion_tokens, \
         cost_nano_usd = ai_usage.cost_nano_usd + excluded.cost_nano_usd, \
         cache_hits = ai_usage.cache_hits + excluded.cache_hits, \
         short_circuits = ai_usage.short_circuits + excluded.short_circuits, \
         offline_drafts = ai_usage.offline_drafts + excluded.offline_drafts, \
         failures = ai_usage.failures + excluded.failures",
        workspace.as_str(),
        day,
        &delta.model,
        delta.calls,
        delta.prompt_tokens,
        delta.completion_tokens,
        delta.cost_nano_usd,
        delta.cache_hits,
        delta.short_circuits,
        delta.offline_drafts,
        delta.failures
    )?;
    tx.commit().await
}

/// One day's usage, summed over models.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct DayUsageRow {
    pub day: String,
    pub calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_nano_usd: i64,
    pub cache_hits: i64,
    pub short_circuits: i64,
    pub offline_drafts: i64,
    pub failures: i64,
}

/// Usage per day from `from` to `to` (inclusive, `YYYY-MM-DD`), oldest first; days without use
/// are absent.
pub async fn usage_by_day(
    db: &Db,
    workspace: &WorkspaceId,
    from: &str,
    to: &str,
) -> Result<Vec<DayUsageRow>, StoreError> {
    Ok(with_reader!(db, |pool| {
        sqlx::query_as(
        "SELECT day, CAST(SUM(calls) AS BIGINT) AS calls, CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, \
         CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens, CAST(SUM(cost_nano_usd) AS BIGINT) AS cost_nano_usd, \
         CAST(SUM(cache_hits) AS BIGINT) AS cache_hits, CAST(SUM(short_circuits) AS BIGINT) AS short_circuits, \
         CAST(SUM(offline_drafts) AS BIGINT) AS offline_drafts, CAST(SUM(failures) AS BIGINT) AS failures \
         FROM ai_usage WHERE workspace_id = $1 AND day >= $2 AND day <= $3 GROUP BY day ORDER BY day"
    )
    .bind(workspace.as_str())
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    })?)
}

/// Tokens used on days starting with `prefix` (`2026-12-04` for a day, `2026-12` for a month).
pub async fn tokens_used(db: &Db, workspace: &WorkspaceId, prefix: &str) -> Result<i64, StoreError> {
    let pattern = format!("{prefix}%");
    let used: Option<i64> = with_reader!(db, |pool| sqlx::query_scalar(
        "SELECT CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) FROM ai_usage \
         WHERE workspace_id = $1 AND day LIKE $2"
    )
    .bind(workspace.as_str())
    .bind(&pattern)
    .fetch_one(pool)
    .await)?;
    Ok(used.unwrap_or(0))
}

/// The cached answer for `key`, if stored after `not_before` (milliseconds).
pub async fn cached(
    db: &Db,
    workspace: &WorkspaceId,
    key: &str,
    not_before: i64,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_as(
        "SELECT model, answer FROM ai_response_cache WHERE workspace_id = $1 AND cache_key = $2 AND created_at >= $3"
    )
    .bind(workspace.as_str())
    .bind(key)
    .bind(not_before)
    .fetch_optional(pool)
    .await)?)
}

/// Stores (or replaces) the answer for `key`.
pub async fn cache(db: &Db, workspace: &WorkspaceId, key: &str, model: &str, answer: &str) -> Result<(), StoreError> {
    let mut tx = db.begin_for_tenant(workspace).await?;
    execute!(
        tx,
        "INSERT INTO ai_response_cache (workspace_id, cache_key, model, answer, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (workspace_id, cache_key) DO UPDATE SET model = excluded.model, answer = excluded.answer, \
         created_at = excluded.created_at",
        workspace.as_str(),
        key,
        model,
        answer,
        now_millis()
    )?;
    tx.commit().await
}

/// Forgets every cached answer of the workspace (its knowledge, templates or voice changed).
pub async fn clear_cache_in(tx: &mut Tx, workspace: &WorkspaceId) -> Result<(), StoreError> {
    execute!(tx, "DELETE FROM ai_response_cache WHERE workspace_id = $1", workspace.as_str())?;
    Ok(())
}
