//! Worker pools: claim jobs under a lease, run their handlers, record the outcome.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::AssertSqlSafe;
use tidings_core::time::{millis, now_millis};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};

use super::local::{LocalQueue, Pace};
use super::registry::Registry;
use super::run::run_batch;
use super::{Job, JobRow, Queue, QueueError, QueueSpec};
use crate::db::{Engine, Pools, WAKE_CHANNEL};
use crate::with_writer;
/// The most completions deleted in one statement.
const MAX_COMPLETION_BATCH: usize = 512;

/// How a worker pool runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// How long a claim holds a job without a heartbeat.
    pub lease: Duration,
    /// How often an idle queue looks for work when no wake-up arrives.
    pub poll_interval: Duration,
    /// On shutdown, how long running jobs may take before their leases are released.
    pub shutdown_grace: Duration,
    /// Per-queue concurrency overriding the queue's own.
    pub concurrency: HashMap<String, usize>,
    /// Run only these queues (all when empty).
    pub only_queues: Vec<String>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(20),
            concurrency: HashMap::new(),
            only_queues: Vec::new(),
        }
    }
}

/// A set of workers, one claim loop per named queue, sharing one lease owner name.
pub struct WorkerPool;

pub(super) struct Inner {
    pub(super) queue: Queue,
    pub(super) registry: Registry,
    options: WorkerOptions,
    /// Unique per pool: rows claimed by this pool carry it in `locked_by`.
    pub(super) worker_id: String,
    /// Jobs claimed and not yet recorded as done or failed; their leases are renewed.
    pub(super) in_flight: Mutex<HashSet<String>>,
}

/// What a running job needs from its pool.
#[derive(Clone)]
pub(super) struct JobRuntime {
    tracker: TaskTracker,
    pub(super) shutdown: CancellationToken,
    pub(super) completions: mpsc::UnboundedSender<String>,
}

impl WorkerPool {
    /// Runs `registry`'s handlers for the jobs of `queue` until `shutdown` is cancelled, then
    /// lets running jobs finish for the grace period and releases the leases of the rest.
    pub async fn run(queue: Queue, registry: Registry, options: WorkerOptions, shutdown: CancellationToken) {
        let inner = Arc::new(Inner {
            queue,
            registry,
            options,
            worker_id: format!("{}:{}", hostname(), uuid::Uuid::now_v7().simple()),
            in_flight: Mutex::default(),
        });
        tracing::info!(worker = %inner.worker_id, "workers starting");
        let (completions, completion_rx) = mpsc::unbounded_channel();
        let completer = spawn(complete_batches(inner.clone(), completion_rx));
        let runtime = JobRuntime { tracker: TaskTracker::new(), shutdown: CancellationToken::new(), completions };
        let claim_loops: Vec<_> = inner
            .queue
            .specs()
            .filter(|spec| inner.runs(&spec.name))
            .cloned()
            .map(|spec| spawn(claim_loop(inner.clone(), spec, shutdown.clone(), runtime.clone())))
            .collect();
        let background = CancellationToken::new();
        let maintenance = spawn(maintain(inner.clone(), background.clone()));
        let listener = spawn(listen_for_wakeups(inner.clone(), background.clone()));

        shutdown.cancelled().await;
        for claim_loop in claim_loops {
            let _ = claim_loop.await;
        }
        let JobRuntime { tracker, shutdown: job_shutdown, completions } = runtime;
        tracker.close();
        if tokio::time::timeout(inner.options.shutdown_grace, tracker.wait()).await.is_err() {
            tracing::warn!("shutdown grace period over: stopping jobs still running");
            job_shutdown.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(2), tracker.wait()).await;
        }
        // With every sender gone, the completer records what is left and stops.
        drop(completions);
        let _ = tokio::time::timeout(Duration::from_secs(10), completer).await;
        match release_held(&inner).await {
            Ok(0) => {}
            Ok(released) => tracing::warn!(released, "released the leases of unfinished jobs; they will run again"),
            Err(error) => tracing::error!(%error, "could not release leases; they will expire instead"),
        }
        background.cancel();
        let _ = maintenance.await;
        let _ = listener.await;
        tracing::info!(worker = %inner.worker_id, "workers stopped");
    }
}

impl Inner {
    fn runs(&self, queue: &str) -> bool {
        self.options.only_queues.is_empty() || self.options.only_queues.iter().any(|q| q == queue)
    }

    fn lease_until(&self) -> i64 {
        now_millis() + millis(self.options.lease)
    }

    fn held_ids(&self) -> Vec<String> {
        self.in_flight.lock().map(|set| set.iter().cloned().collect()).unwrap_or_default()
    }
}

/// Dropping the pool's future (a crash, in tests) stops everything it started but running jobs.
fn spawn<F: Future<Output = ()> + Send + 'static>(task: F) -> AbortOnDropHandle<()> {
    AbortOnDropHandle::new(tokio::spawn(task))
}

fn hostname() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "worker".to_owned())
}

// The ORDER BY is exactly the `jobs_claim` index order, so a claim reads `LIMIT` index entries
// whatever the backlog. (A trailing `id` tie-break is not in the index: PostgreSQL without fresh
// statistics then sorted every ready job on each claim.) Jobs due in the same millisecond with the
// same priority come out in index order (about insertion order) rather than strictly by id.
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $1, lease_until = $2, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE queue = $4 AND state = 'ready' AND run_at <= $3 \
             ORDER BY priority DESC, run_at LIMIT $5 ",
            $lock,
            ") RETURNING id, queue, kind, payload, workspace_id, priority, state, attempts, max_attempts, \
             run_at, unique_key, last_error, created_at, updated_at, dead_at"
        )
    };
}
// SQLite has a single writer, so the sub-select cannot race; PostgreSQL skips rows other
// workers are claiming at the same moment instead of waiting for them.
const CLAIM_SQLITE: &str = claim_sql!("");
const CLAIM_POSTGRES: &str = claim_sql!("FOR UPDATE SKIP LOCKED");

async fn claim(inner: &Inner, queue: &str, limit: usize) -> Result<Vec<Job>, QueueError> {
    let now = now_millis();
    let sql = match inner.queue.db().engine() {
        Engine::Sqlite => CLAIM_SQLITE,
        Engine::Postgres => CLAIM_POSTGRES,
    };
    let rows: Vec<JobRow> = with_writer!(inner.queue.db(), |pool| sqlx::query_as(sql)
        .bind(&inner.worker_id)
        .bind(inner.lease_until())
        .bind(now)
        .bind(queue)
        .bind(i64::try_from(limit).unwrap_or(1))
        .fetch_all(pool)
        .await)?;
    let mut jobs = rows.into_iter().map(Job::try_from).collect::<Result<Vec<_>, _>>()?;
    jobs.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.run_at.cmp(&b.run_at)));
    if let Ok(mut held) = inner.in_flight.lock() {
        held.extend(jobs.iter().map(|job| job.id.as_str().to_owned()));
    }
    Ok(jobs)
}

/// A claim under way: how many jobs it asked for, and what came back.
type Claiming<'a> = Pin<Box<dyn Future<Output = (usize, Result<Vec<Job>, QueueError>)> + Send + 'a>>;

async fn claim_loop(inner: Arc<Inner>, spec: QueueSpec, shutdown: CancellationToken, runtime: JobRuntime) {
    let concurrency = (inner.options.concurrency.get(&spec.name).copied())
        .unwrap_or_else(|| spec.concurrency_on(inner.queue.db().engine()));
    let permits = Arc::new(Semaphore::new(concurrency));
    let wake = inner.queue.db().wakeups.for_queue(&spec.name);
    let spec = Arc::new(spec);
    let pace = Arc::new(Pace::default());
    let mut local = LocalQueue::new(concurrency);
    // The next claim runs while the workers go on with what the local queue holds.
    let mut claiming: Option<Claiming<'_>> = None;
    // Armed before each claim, so a job enqueued while the claim runs is not missed.
    let woken = wake.notified();
    tokio::pin!(woken);
    // After a claim that found fewer jobs than it asked for (or failed): no claim before a
    // wake-up or the poll interval.
    let mut resting: Option<Pin<Box<tokio::time::Sleep>>> = None;
    loop {
        if claiming.is_none() && resting.is_none() {
            let wanted = local.to_claim(concurrency - permits.available_permits(), &pace);
            if wanted > 0 {
                woken.set(wake.notified());
                woken.as_mut().enable();
                let claimed = claim(&inner, &spec.name, wanted);
                claiming = Some(Box::pin(async move { (wanted, claimed.await) }));
            }
        }
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                // Its jobs are released at shutdown with the rest this pool holds.
                if let Some(claimed) = claiming {
                    let _ = claimed.await;
                }
                return;
            }
            (wanted, claimed) = async {
                match claiming.as_mut() {
                    Some(claimed) => claimed.await,
                    None => std::future::pending().await,
                }
            }, if claiming.is_some() => {
                claiming = None;
                match claimed {
                    Ok(jobs) => {
                        if jobs.len() < wanted {
                            resting = Some(Box::pin(tokio::time::sleep(inner.options.poll_interval)));
                        }
                        local.extend(jobs);
                    }
                    Err(error) => {
                        tracing::error!(queue = %spec.name, %error, "claiming jobs failed");
                        resting = Some(Box::pin(tokio::time::sleep(inner.options.poll_interval)));
                    }
                }
            }
            permit = permits.clone().acquire_owned(), if !local.is_empty() => {
                // Start as many jobs (or batches of jobs) as there are free workers.
                let mut free = permit.ok();
                while let Some(permit) = free.take() {
                    let Some(job) = local.pop() else { break };
                    let batch = with_batch_mates(&inner.registry, &mut local, job, permits.available_permits());
                    let (inner, spec, pace, job_runtime) = (inner.clone(), spec.clone(), pace.clone(), runtime.clone());
                    runtime.tracker.spawn(async move {
                        let started = Instant::now();
                        let jobs = u32::try_from(batch.len()).unwrap_or(u32::MAX).max(1);
                        run_batch(&inner, &spec, batch, &job_runtime).await;
                        // The pace is per job: it sizes the local queue in jobs.
                        pace.record(started.elapsed() / jobs);
                        drop(permit);
                    });
                    if !local.is_empty() {
                        free = permits.clone().try_acquire_owned().ok();
                    }
                }
            }
            () = woken.as_mut(), if resting.is_some() => resting = None,
            () = async {
                if let Some(rest) = resting.as_mut() {
                    rest.await;
                }
            }, if resting.is_some() => resting = None,
        }
    }
}

/// `job` and, when its kind takes batches, more waiting jobs of its kind: its share of what the
/// local queue holds, spread over this worker and the `free` others, up to the kind's most.
fn with_batch_mates(registry: &Registry, local: &mut LocalQueue, job: Job, free: usize) -> Vec<Job> {
    let max = registry.max_batch(&job.kind);
    if max <= 1 {
        return vec![job];
    }
    let share = (local.len() + 1).div_ceil(free + 1);
    let mut batch = local.take_kind(&job.kind, share.min(max) - 1);
    batch.insert(0, job);
    batch
}

/// `$3, $4, …` for `count` values after `first - 1` fixed parameters.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// Deletes completed jobs in batches: one statement (and one commit) for many completions.
async fn complete_batches(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<String>) {
    let mut batch = Vec::with_capacity(MAX_COMPLETION_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        // Likewise, let jobs finishing at the same moment send their completions first.
        tokio::task::yield_now().await;
        while batch.len() < MAX_COMPLETION_BATCH {
            match rx.try_recv() {
                Ok(id) => batch.push(id),
                Err(_) => break,
            }
        }
        let mut delay = Duration::from_millis(50);
        loop {
            match delete_completed(&inner, &batch).await {
                Ok(()) => break,
                Err(error) => {
                    tracing::error!(%error, jobs = batch.len(), "recording completions failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        if let Ok(mut held) = inner.in_flight.lock() {
            for id in &batch {
                held.remove(id);
            }
        }
        batch.clear();
    }
}

async fn delete_completed(inner: &Inner, ids: &[String]) -> Result<(), QueueError> {
    let sql = format!("DELETE FROM jobs WHERE locked_by = $1 AND id IN ({})", placeholders(2, ids.len()));
    with_writer!(inner.queue.db(), |pool| {
        let mut query = sqlx::query(AssertSqlSafe(sql.as_str())).bind(&inner.worker_id);
        for id in ids {
            query = query.bind(id);
        }
        query.execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Heartbeats, lease reaping and schedules, until cancelled.
async fn maintain(inner: Arc<Inner>, stop: CancellationToken) {
    let heartbeat_every = inner.options.lease / 3;
    let reap_every = (inner.options.lease / 2).max(Duration::from_millis(500));
    let mut heartbeat = tokio::time::interval(heartbeat_every);
    let mut reap = tokio::time::interval(reap_every);
    let mut schedules = tokio::time::interval(Duration::from_millis(250));
    let mut upkeep = tokio::time::interval(crate::upkeep::EVERY);
    for timer in [&mut heartbeat, &mut reap, &mut schedules, &mut upkeep] {
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    let mut upkeep_task: Option<AbortOnDropHandle<()>> = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = heartbeat.tick() => {
                if let Err(error) = renew_leases(&inner).await {
                    tracing::error!(%error, "renewing leases failed");
                }
            }
            _ = reap.tick() => {
                match reap_expired(&inner.queue).await {
                    Ok(reaped) => {
                        if reaped.ready > 0 {
                            tracing::warn!(reaped = reaped.ready, "reclaimed jobs whose worker stopped renewing its lease");
                        }
                        if reaped.dead > 0 {
                            tracing::error!(dead = reaped.dead, "jobs whose worker stopped on their last attempt were dead-lettered");
                        }
                    }
                    Err(error) => tracing::error!(%error, "reclaiming expired leases failed"),
                }
            }
            _ = schedules.tick() => {
                if let Err(error) = inner.queue.fire_due_schedules().await {
                    tracing::error!(%error, "firing schedules failed");
                }
            }
            // Table statistics on a PostgreSQL server without autovacuum. Its own task, so a long
            // `VACUUM` never delays the heartbeats above.
            _ = upkeep.tick() => {
                if upkeep_task.as_ref().is_none_or(|task: &AbortOnDropHandle<()>| task.is_finished()) {
                    let db = inner.queue.db().clone();
                    upkeep_task = Some(spawn(async move {
                        match crate::upkeep::keep_tables_fresh(&db).await {
                            Ok(done) if !done.is_empty() => tracing::info!(?done, "table statistics brought up to date"),
                            Ok(_) => {}
                            Err(error) => tracing::warn!(%error, "table upkeep failed"),
                        }
                    }));
                }
            }
        }
    }
}

async fn renew_leases(inner: &Inner) -> Result<(), QueueError> {
    let held = inner.held_ids();
    for chunk in held.chunks(MAX_COMPLETION_BATCH) {
        let sql = format!(
            "UPDATE jobs SET lease_until = $1 WHERE locked_by = $2 AND state = 'running' AND id IN ({})",
            placeholders(3, chunk.len())
        );
        with_writer!(inner.queue.db(), |pool| {
            let mut query = sqlx::query(AssertSqlSafe(sql.as_str())).bind(inner.lease_until()).bind(&inner.worker_id);
            for id in chunk {
                query = query.bind(id);
            }
            query.execute(pool).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Jobs whose lease expired, by what became of them.
#[derive(Debug, Default)]
pub(crate) struct Reaped {
    /// Back to ready, to run again.
    pub ready: usize,
    /// Dead-lettered: that was their last attempt.
    pub dead: usize,
}

/// Puts jobs whose lease expired back to ready (or dead, when that was their last attempt).
pub(crate) async fn reap_expired(queue: &Queue) -> Result<Reaped, QueueError> {
    let now = now_millis();
    let states: Vec<String> = with_writer!(queue.db(), |pool| sqlx::query_scalar(
        "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'ready' END, \
         dead_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE NULL END, \
         last_error = 'lease expired: the worker stopped responding', \
         locked_by = NULL, lease_until = NULL, run_at = $1, updated_at = $1 \
         WHERE state = 'running' AND lease_until < $1 RETURNING state"
    )
    .bind(now)
    .fetch_all(pool)
    .await)?;
    let dead = states.iter().filter(|state| *state == "dead").count();
    Ok(Reaped { ready: states.len() - dead, dead })
}

/// On shutdown: hands the jobs this pool still holds back to the queue, attempt not counted.
async fn release_held(inner: &Inner) -> Result<u64, QueueError> {
    let now = now_millis();
    let released = with_writer!(inner.queue.db(), |pool| sqlx::query(
        "UPDATE jobs SET state = 'ready', attempts = attempts - 1, locked_by = NULL, lease_until = NULL, \
         run_at = $1, updated_at = $1 WHERE locked_by = $2 AND state = 'running'"
    )
    .bind(now)
    .bind(&inner.worker_id)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(released)
}

/// On PostgreSQL, wakes local workers when another process enqueues (LISTEN/NOTIFY).
async fn listen_for_wakeups(inner: Arc<Inner>, stop: CancellationToken) {
    let Pools::Postgres(pool) = inner.queue.db().pools() else { return };
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "LISTEN connection failed; relying on polling");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(5)) => continue,
                }
            }
        };
        if let Err(error) = listener.listen(WAKE_CHANNEL).await {
            tracing::warn!(%error, "LISTEN failed; relying on polling");
        }
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                notification = listener.recv() => match notification {
                    Ok(n) => inner.queue.db().wakeups.wake(n.payload()),
                    Err(error) => {
                        tracing::warn!(%error, "LISTEN connection lost; reconnecting");
                        break;
                    }
                }
            }
        }
    }
}
