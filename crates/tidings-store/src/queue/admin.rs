//! Looking into the queue: depths, dead letters, and putting dead letters back to work.

use serde::Serialize;
use sqlx::AssertSqlSafe;
use tidings_core::JobId;
use tidings_core::time::{UnixMillis, now_millis};

use super::{JOB_COLUMNS, Job, JobRow, Queue, QueueError};
use crate::{with_reader, with_writer};

/// Depth of one named queue.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueStats {
    /// The queue's name.
    pub queue: String,
    /// Jobs due now, waiting for a worker.
    pub ready: i64,
    /// Jobs waiting for a later `run_at` (delayed or backing off).
    pub scheduled: i64,
    /// Jobs claimed by a worker.
    pub running: i64,
    /// Dead letters.
    pub dead: i64,
    /// Seconds the oldest due job has been waiting, 0 when none is.
    pub oldest_ready_age_secs: f64,
}

/// One page of dead letters, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetterPage {
    /// The dead letters on this page.
    pub jobs: Vec<Job>,
    /// Dead letters matching the filter, over all pages.
    pub total: i64,
}

#[derive(sqlx::FromRow)]
struct StatsRow {
    queue: String,
    ready: i64,
    scheduled: i64,
    running: i64,
    dead: i64,
    oldest_ready_at: Option<i64>,
}

const STATS: &str = "SELECT queue, \
       COALESCE(SUM(CASE WHEN state = 'ready' AND run_at <= $1 THEN 1 ELSE 0 END), 0) AS ready, \
       COALESCE(SUM(CASE WHEN state = 'ready' AND run_at > $1 THEN 1 ELSE 0 END), 0) AS scheduled, \
       COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0) AS running, \
       COALESCE(SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END), 0) AS dead, \
       MIN(CASE WHEN state = 'ready' AND run_at <= $1 THEN run_at END) AS oldest_ready_at \
     FROM jobs GROUP BY queue ORDER BY queue";

impl Queue {
    /// Depth of every named queue (and of any other queue that has jobs), by name.
    pub async fn stats(&self) -> Result<Vec<QueueStats>, QueueError> {
        let now = now_millis();
        let rows: Vec<StatsRow> = with_reader!(self.db, |pool| sqlx::query_as(STATS).bind(now).fetch_all(pool).await)?;
        let mut stats: Vec<QueueStats> = self
            .specs()
            .filter(|spec| !rows.iter().any(|row| row.queue == spec.name))
            .map(|spec| QueueStats { queue: spec.name.clone(), ..QueueStats::default() })
            .collect();
        stats.extend(rows.into_iter().map(|row| QueueStats {
            oldest_ready_age_secs: row.oldest_ready_at.map_or(0.0, |at| (now - at).max(0) as f64 / 1000.0),
            queue: row.queue,
            ready: row.ready,
            scheduled: row.scheduled,
            running: row.running,
            dead: row.dead,
        }));
        stats.sort_by(|a, b| a.queue.cmp(&b.queue));
        Ok(stats)
    }

    /// A job by id, in any state.
    pub async fn job(&self, id: &JobId) -> Result<Option<Job>, QueueError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row: Option<JobRow> = with_reader!(self.db, |pool| sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(id.as_str())
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(Job::try_from).transpose()?)
    }

    /// Dead letters, newest first, optionally of one queue.
    pub async fn dead_letters(
        &self,
        queue: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<DeadLetterPage, QueueError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'dead' AND ($1 IS NULL OR queue = $1) \
             ORDER BY dead_at DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let rows: Vec<JobRow> = with_reader!(self.db, |pool| sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(queue)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await)?;
        let total: i64 = with_reader!(self.db, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE state = 'dead' AND ($1 IS NULL OR queue = $1)"
        )
        .bind(queue)
        .fetch_one(pool)
        .await)?;
        let jobs = rows.into_iter().map(Job::try_from).collect::<Result<_, _>>()?;
        Ok(DeadLetterPage { jobs, total })
    }

    /// Puts a dead letter back on its queue with a fresh set of attempts. False if `id` is not a dead letter.
    pub async fn retry_dead(&self, id: &JobId) -> Result<bool, QueueError> {
        let now = now_millis();
        let queue: Option<String> = with_writer!(self.db, |pool| sqlx::query_scalar(
            "UPDATE jobs SET state = 'ready', attempts = 0, run_at = $1, updated_at = $1, dead_at = NULL \
             WHERE id = $2 AND state = 'dead' RETURNING queue"
        )
        .bind(now)
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)?;
        self.wake_after_write(queue.as_deref()).await?;
        Ok(queue.is_some())
    }

    /// Retries every dead letter, optionally of one queue; returns how many.
    pub async fn retry_all_dead(&self, queue: Option<&str>) -> Result<u64, QueueError> {
        let now = now_millis();
        let retried = with_writer!(self.db, |pool| sqlx::query(
            "UPDATE jobs SET state = 'ready', attempts = 0, run_at = $1, updated_at = $1, dead_at = NULL \
             WHERE state = 'dead' AND ($2 IS NULL OR queue = $2)"
        )
        .bind(now)
        .bind(queue)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        if retried > 0 {
            for spec in self.specs().filter(|s| queue.is_none_or(|q| q == s.name)) {
                self.wake_after_write(Some(&spec.name)).await?;
            }
        }
        Ok(retried)
    }

    /// Deletes a dead letter. False if `id` is not a dead letter.
    pub async fn discard_dead(&self, id: &JobId) -> Result<bool, QueueError> {
        let deleted = with_writer!(self.db, |pool| sqlx::query("DELETE FROM jobs WHERE id = $1 AND state = 'dead'")
            .bind(id.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(deleted == 1)
    }

    /// Deletes dead letters that died before `cutoff`; returns how many.
    pub async fn purge_dead_before(&self, cutoff: UnixMillis) -> Result<u64, QueueError> {
        let deleted =
            with_writer!(self.db, |pool| sqlx::query("DELETE FROM jobs WHERE state = 'dead' AND dead_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))?;
        Ok(deleted)
    }

    /// Wakes workers of `queue` here and, on PostgreSQL, in every other process.
    async fn wake_after_write(&self, queue: Option<&str>) -> Result<(), QueueError> {
        let Some(queue) = queue else { return Ok(()) };
        let mut tx = self.db.begin().await?;
        tx.wake_on_commit(queue);
        tx.commit().await?;
        Ok(())
    }
}
