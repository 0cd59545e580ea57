//! Stored deliveries are kept for a while after processing, to inspect or replay one, then
//! purged, so `raw_events` does not grow for ever. A delivery not yet processed is never purged,
//! and the messages a delivery became keep their own copy of the platform's payload.

use serde::{Deserialize, Serialize};
use tidings_core::time::days_ago;
use tidings_store::queue::{JobError, JobPayload, NewJob, QueueError, Registry, Schedule, names};
use tidings_store::{Db, StoreError, with_writer};

/// Rows deleted per statement, so SQLite's one writer is never held for long.
const PURGE_BATCH: i64 = 1_000;

/// Deletes processed and failed deliveries received before the retention period.
#[derive(Serialize, Deserialize)]
pub struct PurgeDeliveries {
    /// Deliveries received more than this many days ago go.
    pub retention_days: u32,
}

impl JobPayload for PurgeDeliveries {
    const KIND: &'static str = "inbound.purge_deliveries";
    const QUEUE: &'static str = names::MAINTENANCE;
}

pub(super) fn register(registry: &mut Registry, db: Db) {
    registry.register(move |job: PurgeDeliveries, _| {
        let db = db.clone();
        async move {
            let purged = purge_before(&db, days_ago(job.retention_days)).await.map_err(JobError::retry)?;
            if purged > 0 {
                tracing::info!(purged, "purged expired webhook deliveries");
            }
            Ok(())
        }
    });
}

/// The hourly purge, unless `retention_days` is 0 (keep every delivery).
pub fn schedules(retention_days: u32) -> Result<Vec<Schedule>, QueueError> {
    if retention_days == 0 {
        return Ok(Vec::new());
    }
    Ok(vec![Schedule {
        name: PurgeDeliveries::KIND.to_owned(),
        cron: "0 17 * * * *".to_owned(),
        job: NewJob::new(&PurgeDeliveries { retention_days })?,
    }])
}

/// Deletes the settled deliveries received before `cutoff` (Unix ms); returns how many.
async fn purge_before(db: &Db, cutoff: i64) -> Result<u64, StoreError> {
    let sql = "DELETE FROM raw_events WHERE id IN (SELECT id FROM raw_events \
               WHERE received_at < $1 AND status <> 'received' ORDER BY received_at LIMIT $2)";
    let mut purged = 0;
    loop {
        let deleted = with_writer!(db, |pool| sqlx::query(sql)
            .bind(cutoff)
            .bind(PURGE_BATCH)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        purged += deleted;
        if deleted < PURGE_BATCH.unsigned_abs() {
            return Ok(purged);
        }
    }
}
