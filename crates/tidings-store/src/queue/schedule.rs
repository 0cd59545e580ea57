//! Recurring jobs on cron schedules.
//!
//! Every worker process checks for due schedules. A due schedule fires by moving its
//! `next_run_at` forward with a compare-and-swap in the same transaction that enqueues its job,
//! so each tick fires once however many workers race for it. Ticks missed while nothing ran
//! are not replayed: the schedule fires once and moves on to its next tick after now.

use chrono::{DateTime, Utc};
use croner::Cron;
use tidings_core::time::{UnixMillis, now_millis};

use super::{NewJob, Queue, QueueError};
use crate::{with_reader, with_tx, with_writer};

/// A job enqueued on a cron schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Unique name of the schedule.
    pub name: String,
    /// Cron expression, with an optional leading seconds field (`0 */15 * * * *`), in UTC.
    pub cron: String,
    /// The job each tick enqueues.
    pub job: NewJob,
}

fn parse(name: &str, expression: &str) -> Result<Cron, QueueError> {
    Cron::new(expression).with_seconds_optional().parse().map_err(|e| QueueError::Cron {
        name: name.to_owned(),
        cron: expression.to_owned(),
        message: e.to_string(),
    })
}

/// The first tick of `cron` strictly after `after`.
fn next_tick(name: &str, cron: &Cron, after: UnixMillis) -> Result<UnixMillis, QueueError> {
    let start = DateTime::<Utc>::from_timestamp_millis(after).unwrap_or_else(Utc::now);
    cron.find_next_occurrence(&start, false).map(|at| at.timestamp_millis()).map_err(|e| QueueError::Cron {
        name: name.to_owned(),
        cron: cron.as_str().to_owned(),
        message: e.to_string(),
    })
}

#[derive(sqlx::FromRow)]
struct DueSchedule {
    name: String,
    cron: String,
    queue: String,
    kind: String,
    payload: String,
    next_run_at: i64,
}

impl Queue {
    /// Creates or updates schedules. A schedule whose expression changed restarts from its next tick.
    pub async fn register_schedules(&self, schedules: &[Schedule]) -> Result<(), QueueError> {
        let now = now_millis();
        for schedule in schedules {
            if self.spec(&schedule.job.queue).is_none() {
                return Err(QueueError::UnknownQueue(schedule.job.queue.clone()));
            }
            let cron = parse(&schedule.name, &schedule.cron)?;
            let next = next_tick(&schedule.name, &cron, now)?;
            with_writer!(self.db(), |pool| sqlx::query(
                "INSERT INTO schedules (name, cron, queue, kind, payload, next_run_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (name) DO UPDATE SET queue = excluded.queue, kind = excluded.kind, \
                 payload = excluded.payload, updated_at = excluded.updated_at, \
                 next_run_at = CASE WHEN schedules.cron = excluded.cron THEN schedules.next_run_at \
                                    ELSE excluded.next_run_at END, \
                 cron = excluded.cron"
            )
            .bind(&schedule.name)
            .bind(&schedule.cron)
            .bind(&schedule.job.queue)
            .bind(&schedule.job.kind)
            .bind(&schedule.job.payload)
            .bind(next)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    /// Fires every schedule whose tick has come; returns how many fired here.
    pub async fn fire_due_schedules(&self) -> Result<usize, QueueError> {
        let now = now_millis();
        let due: Vec<DueSchedule> = with_reader!(self.db(), |pool| sqlx::query_as(
            "SELECT name, cron, queue, kind, payload, next_run_at FROM schedules WHERE next_run_at <= $1"
        )
        .bind(now)
        .fetch_all(pool)
        .await)?;
        let mut fired = 0;
        for schedule in due {
            let cron = parse(&schedule.name, &schedule.cron)?;
            let next = next_tick(&schedule.name, &cron, now)?;
            let mut tx = self.db().begin().await?;
            let claimed = with_tx!(tx, |conn| sqlx::query(
                "UPDATE schedules SET next_run_at = $1, last_run_at = $2, updated_at = $3 \
                 WHERE name = $4 AND next_run_at = $2"
            )
            .bind(next)
            .bind(schedule.next_run_at)
            .bind(now)
            .bind(&schedule.name)
            .execute(&mut **conn)
            .await?
            .rows_affected());
            if claimed == 1 {
                let job = NewJob::raw(&schedule.queue, &schedule.kind, schedule.payload)
                    .unique_key(format!("schedule:{}:{}", schedule.name, schedule.next_run_at));
                self.enqueue_in(&mut tx, job).await?;
                tx.commit().await?;
                fired += 1;
            }
        }
        Ok(fired)
    }
}
