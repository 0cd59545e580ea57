//! Running claimed jobs: one handler call for one job, or for a batch of jobs of one kind, and
//! recording each job's outcome (completion, retry, dead letter).

use std::time::{Duration, Instant};

use rand::Rng;
use tidings_core::time::{millis, now_millis};

use super::registry::{JobContext, JobError};
use super::worker::{Inner, JobRuntime};
use super::{Job, QueueError, QueueSpec};
use crate::with_writer;

/// The longest a remote `Retry-After` may postpone a retry.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Runs `jobs` (all of one kind) in one handler call. When that fails, each runs again alone,
/// so every job ends with its own outcome: the batch was only a way to share a transaction.
pub(super) async fn run_batch(inner: &Inner, spec: &QueueSpec, mut jobs: Vec<Job>, runtime: &JobRuntime) {
    if jobs.len() == 1 {
        if let Some(job) = jobs.pop() {
            run_job(inner, spec, job, runtime).await;
        }
        return;
    }
    let Some(first) = jobs.first() else { return };
    let kind = first.kind.clone();
    let labels = [("queue", first.queue.clone()), ("kind", kind.clone())];
    metrics::histogram!("tidings_queue_batch_size", &labels).record(jobs.len() as f64);
    match call(inner, &jobs, runtime).await {
        // Shutting down: the leases are released with the others, the attempts do not count.
        None => {}
        Some(Ok(())) => {
            for job in &jobs {
                completed(job, runtime);
            }
        }
        Some(Err(error)) => {
            tracing::warn!(%kind, jobs = jobs.len(), error = error.message(), "batch failed; running its jobs one by one");
            for job in jobs {
                if runtime.shutdown.is_cancelled() {
                    return;
                }
                run_job(inner, spec, job, runtime).await;
            }
        }
    }
}

#[tracing::instrument(skip_all, fields(job_id = %job.id, kind = %job.kind, queue = %job.queue, attempt = job.attempts))]
async fn run_job(inner: &Inner, spec: &QueueSpec, job: Job, runtime: &JobRuntime) {
    let jobs = [job];
    let outcome = call(inner, &jobs, runtime).await;
    let [job] = jobs;
    match outcome {
        // Shutting down: the lease is released with the others, the attempt does not count.
        None => {}
        Some(Ok(())) => completed(&job, runtime),
        Some(Err(error)) => {
            metrics::counter!("tidings_queue_jobs_failed_total", "queue" => job.queue.clone(), "kind" => job.kind.clone())
                .increment(1);
            if let Err(store_error) = record_failure(inner, spec, &job, &error).await {
                tracing::error!(%store_error, "could not record a failed attempt; the lease will expire and it runs again");
            }
            forget(inner, job.id.as_str());
        }
    }
}

/// Calls the handler of `jobs`' kind with them; `None` when shutdown stopped it.
async fn call(inner: &Inner, jobs: &[Job], runtime: &JobRuntime) -> Option<Result<(), JobError>> {
    let first = jobs.first()?;
    let labels = [("queue", first.queue.clone()), ("kind", first.kind.clone())];
    let now = now_millis();
    for job in jobs {
        metrics::counter!("tidings_queue_job_attempts_total", &labels).increment(1);
        // From due (enqueued, or its retry's time) to started: what a job spends waiting in the queue.
        let waited = (now - job.run_at).max(0);
        metrics::histogram!("tidings_queue_job_wait_seconds", &labels).record(waited as f64 / 1000.0);
    }
    let started = Instant::now();
    let outcome = match inner.registry.get(&first.kind) {
        Some(registered) => {
            let batch = jobs.iter().map(|job| (job.payload.clone(), context(job, runtime))).collect();
            tokio::select! {
                outcome = (registered.handler)(batch) => Some(outcome),
                () = runtime.shutdown.cancelled() => None,
            }
        }
        None => Some(Err(JobError::retry(format!("no handler registered for job kind `{}`", first.kind)))),
    };
    // Per job: a batch's time shared among its jobs.
    let took = started.elapsed().as_secs_f64() / jobs.len() as f64;
    for _ in jobs {
        metrics::histogram!("tidings_queue_job_duration_seconds", &labels).record(took);
    }
    outcome
}

fn context(job: &Job, runtime: &JobRuntime) -> JobContext {
    JobContext {
        id: job.id.clone(),
        attempt: job.attempts,
        max_attempts: job.max_attempts,
        workspace_id: job.workspace_id.clone(),
        unique_key: job.unique_key.clone(),
        shutdown: runtime.shutdown.clone(),
    }
}

fn completed(job: &Job, runtime: &JobRuntime) {
    metrics::counter!("tidings_queue_jobs_completed_total", "queue" => job.queue.clone(), "kind" => job.kind.clone())
        .increment(1);
    // The completer deletes it; until then it stays in `in_flight` and keeps its lease.
    let _ = runtime.completions.send(job.id.as_str().to_owned());
}

fn forget(inner: &Inner, id: &str) {
    if let Ok(mut held) = inner.in_flight.lock() {
        held.remove(id);
    }
}

async fn record_failure(inner: &Inner, spec: &QueueSpec, job: &Job, error: &JobError) -> Result<(), QueueError> {
    let now = now_millis();
    let dead = matches!(error, JobError::Fatal { .. }) || job.attempts >= job.max_attempts;
    let message = error.message();
    if dead {
        metrics::counter!("tidings_queue_jobs_dead_total", "queue" => job.queue.clone(), "kind" => job.kind.clone())
            .increment(1);
        // Error level: a dead letter runs again only when an operator retries it (`/status`
        // lists them, `tidings_queue_depth{state="dead"}` counts them).
        tracing::error!(error = message, "job dead-lettered; it will not run again unless retried");
        with_writer!(inner.queue.db(), |pool| sqlx::query(
            "UPDATE jobs SET state = 'dead', last_error = $1, locked_by = NULL, lease_until = NULL, \
             updated_at = $2, dead_at = $2 WHERE id = $3 AND locked_by = $4"
        )
        .bind(message)
        .bind(now)
        .bind(job.id.as_str())
        .bind(&inner.worker_id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        return Ok(());
    }
    let delay = match error {
        JobError::Retry { after: Some(after), .. } => (*after).min(MAX_RETRY_AFTER),
        _ => jitter(spec.delay_after(job.attempts)),
    };
    tracing::info!(error = message, retry_in_ms = millis(delay), "job failed; will retry");
    with_writer!(inner.queue.db(), |pool| sqlx::query(
        "UPDATE jobs SET state = 'ready', last_error = $1, locked_by = NULL, lease_until = NULL, \
         run_at = $2, updated_at = $3 WHERE id = $4 AND locked_by = $5"
    )
    .bind(message)
    .bind(now + millis(delay))
    .bind(now)
    .bind(job.id.as_str())
    .bind(&inner.worker_id)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// ±10%, so jobs that failed together do not all retry in the same instant.
fn jitter(delay: Duration) -> Duration {
    delay.mul_f64(rand::rng().random_range(0.9..=1.1))
}
