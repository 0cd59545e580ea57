//! Snoozed conversations come back when their time is due: a job every minute reopens them
//! (in every workspace) and announces each to open dashboards, so it reappears in "open" lists.

use serde::{Deserialize, Serialize};
use tidings_core::time::now_millis;
use tidings_store::queue::{JobError, JobPayload, NewJob, QueueError, Registry, Schedule, names};
use tidings_store::{Db, StoreError};

use super::live::{Live, LiveEvent};
use super::store;

/// Reopens the snoozed conversations that are due.
#[derive(Serialize, Deserialize)]
pub struct WakeSnoozed {}

impl JobPayload for WakeSnoozed {
    const KIND: &'static str = "inbox.wake_snoozed";
    const QUEUE: &'static str = names::MAINTENANCE;
}

/// Registers the job's handler.
pub fn register(registry: &mut Registry, db: Db, live: Live) {
    registry.register(move |_: WakeSnoozed, _| {
        let (db, live) = (db.clone(), live.clone());
        async move {
            wake_due(&db, &live, now_millis()).await.map_err(JobError::retry)?;
            Ok(())
        }
    });
}

/// Every minute, at second 30.
pub fn schedules() -> Result<Vec<Schedule>, QueueError> {
    Ok(vec![Schedule {
        name: WakeSnoozed::KIND.to_owned(),
        cron: "30 * * * * *".to_owned(),
        job: NewJob::new(&WakeSnoozed {})?,
    }])
}

/// Reopens the conversations snoozed until `now` or earlier and announces them; returns how many.
pub async fn wake_due(db: &Db, live: &Live, now: i64) -> Result<usize, StoreError> {
    let woken = store::wake_snoozed(db, now).await?;
    let events: Vec<LiveEvent> =
        woken.iter().map(|(workspace, id)| LiveEvent::new(workspace, "conversation.updated", id)).collect();
    if !woken.is_empty() {
        tracing::info!(woken = woken.len(), "snoozed conversations are due and open again");
    }
    live.publish(events).await;
    Ok(woken.len())
}
