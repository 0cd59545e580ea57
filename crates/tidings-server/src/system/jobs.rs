//! Housekeeping jobs of the queue itself.

use serde::{Deserialize, Serialize};
use tidings_core::time::days_ago;
use tidings_store::queue::{JobError, JobPayload, NewJob, Queue, QueueError, Registry, Schedule, names};

/// Deletes dead letters older than the retention period (7 days by default).
#[derive(Serialize, Deserialize)]
pub struct PurgeDeadLetters {
    /// Dead letters older than this many days go.
    pub retention_days: u32,
}

impl JobPayload for PurgeDeadLetters {
    const KIND: &'static str = "queue.purge_dead_letters";
    const QUEUE: &'static str = names::MAINTENANCE;
}

/// Registers the handlers of this capability.
pub fn register(registry: &mut Registry, queue: &Queue) {
    let queue = queue.clone();
    registry.register(move |job: PurgeDeadLetters, _| {
        let queue = queue.clone();
        async move {
            let purged = queue.purge_dead_before(days_ago(job.retention_days)).await.map_err(JobError::retry)?;
            if purged > 0 {
                tracing::info!(purged, "purged expired dead letters");
            }
            Ok(())
        }
    });
}

/// The recurring jobs of this capability.
pub fn schedules(retention_days: u32) -> Result<Vec<Schedule>, QueueError> {
    Ok(vec![Schedule {
        name: "queue.purge_dead_letters".to_owned(),
        cron: "0 7 * * * *".to_owned(),
        job: NewJob::new(&PurgeDeadLetters { retention_days })?,
    }])
}
