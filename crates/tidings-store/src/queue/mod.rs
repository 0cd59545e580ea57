//! The durable work queue.
//!
//! Jobs live in the `jobs` table of the same database as the data they concern, so a job can be
//! enqueued in the transaction that writes that data: both commit, or neither does. Workers claim
//! jobs under a lease they renew while running; a job whose worker dies is reclaimed when its
//! lease expires. Failures are retried on the queue's backoff schedule, then dead-lettered.

mod admin;
mod local;
mod registry;
mod run;
mod schedule;
mod spec;
mod worker;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tidings_core::time::{UnixMillis, millis, now_millis};
use tidings_core::{JobId, WorkspaceId};

pub use admin::{DeadLetterPage, QueueStats};
pub use registry::{JobContext, JobError, Registry};
pub use schedule::Schedule;
pub use spec::{QueueSpec, names, standard_queues};
pub use worker::{WorkerOptions, WorkerPool};

use crate::db::{Db, StoreError, Tx};
use crate::with_tx;

/// Errors from queue operations.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The storage layer failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A job named a queue this deployment does not define.
    #[error("unknown queue `{0}`")]
    UnknownQueue(String),
    /// A job payload could not be serialized.
    #[error("job payload for `{kind}` could not be serialized: {message}")]
    Payload {
        /// The job kind.
        kind: String,
        /// The serializer's message.
        message: String,
    },
    /// A schedule's cron expression is invalid.
    #[error("schedule `{name}`: invalid cron expression `{cron}`: {message}")]
    Cron {
        /// The schedule name.
        name: String,
        /// The rejected expression.
        cron: String,
        /// The parser's message.
        message: String,
    },
}

impl From<sqlx::Error> for QueueError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(error))
    }
}

/// A typed job: its payload type knows its kind and its queue.
pub trait JobPayload: Serialize + DeserializeOwned + Send + 'static {
    /// Stable name of the job kind, stored with each job (`queue.purge_dead_letters`).
    const KIND: &'static str;
    /// The queue jobs of this kind run on.
    const QUEUE: &'static str;
}

/// Where a job is in its life, stored by name (`ready`). Completed jobs are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::AsRefStr, strum::EnumString)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum JobState {
    /// Waiting for its `run_at` time and a free worker.
    Ready,
    /// Claimed by a worker under a lease.
    Running,
    /// Failed every attempt (or failed fatally); kept for inspection, retry or discard.
    Dead,
}

tidings_core::stored_as_text!(JobState);

/// A job as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// The queue it runs on.
    pub queue: String,
    /// Its kind, naming the handler.
    pub kind: String,
    /// The JSON payload.
    pub payload: serde_json::Value,
    /// The workspace it concerns, if any.
    pub workspace_id: Option<WorkspaceId>,
    /// Higher runs first within its queue.
    pub priority: i32,
    /// Its state.
    pub state: JobState,
    /// Attempts started so far (including the one running).
    pub attempts: i32,
    /// Attempts allowed before it becomes a dead letter.
    pub max_attempts: i32,
    /// Earliest time it may run.
    pub run_at: UnixMillis,
    /// The deduplication key it was enqueued with.
    pub unique_key: Option<String>,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: UnixMillis,
    /// When it was last changed.
    pub updated_at: UnixMillis,
    /// When it became a dead letter.
    pub dead_at: Option<UnixMillis>,
}

/// Every column of `jobs`, in [`JobRow`] order.
pub(crate) const JOB_COLUMNS: &str = "id, queue, kind, payload, workspace_id, priority, state, attempts, max_attempts, \
     run_at, unique_key, last_error, created_at, updated_at, dead_at";

#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: JobId,
    queue: String,
    kind: String,
    payload: String,
    workspace_id: Option<WorkspaceId>,
    priority: i32,
    state: JobState,
    attempts: i32,
    max_attempts: i32,
    run_at: i64,
    unique_key: Option<String>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
    dead_at: Option<i64>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;

    fn try_from(row: JobRow) -> Result<Self, StoreError> {
        Ok(Job {
            payload: serde_json::from_str(&row.payload)
                .map_err(|e| StoreError::Corrupt(format!("job {}: {e}", row.id)))?,
            id: row.id,
            workspace_id: row.workspace_id,
            state: row.state,
            queue: row.queue,
            kind: row.kind,
            priority: row.priority,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            run_at: row.run_at,
            unique_key: row.unique_key,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
            dead_at: row.dead_at,
        })
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    queue: String,
    kind: String,
    payload: String,
    workspace_id: Option<WorkspaceId>,
    priority: i32,
    run_at: Option<UnixMillis>,
    unique_key: Option<String>,
    max_attempts: Option<i32>,
}

impl NewJob {
    /// A job for a typed payload, on the payload's queue.
    pub fn new<J: JobPayload>(payload: &J) -> Result<Self, QueueError> {
        let payload = serde_json::to_string(payload)
            .map_err(|e| QueueError::Payload { kind: J::KIND.to_owned(), message: e.to_string() })?;
        Ok(Self::raw(J::QUEUE, J::KIND, payload))
    }

    /// A job from its parts; `payload` must be JSON.
    pub fn raw(queue: &str, kind: &str, payload: String) -> Self {
        Self {
            queue: queue.to_owned(),
            kind: kind.to_owned(),
            payload,
            workspace_id: None,
            priority: 0,
            run_at: None,
            unique_key: None,
            max_attempts: None,
        }
    }

    /// Marks the workspace the job concerns.
    pub fn workspace(mut self, workspace_id: WorkspaceId) -> Self {
        self.workspace_id = Some(workspace_id);
        self
    }

    /// Higher priority runs first within the queue (default 0).
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Runs no earlier than `delay` from now.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.run_at = Some(now_millis() + millis(delay));
        self
    }

    /// Runs no earlier than the given time.
    pub fn run_at(mut self, run_at: UnixMillis) -> Self {
        self.run_at = Some(run_at);
        self
    }

    /// While a job with the same key exists on the same queue, enqueueing this one does nothing.
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// Overrides the queue's attempt limit for this job.
    pub fn max_attempts(mut self, max_attempts: i32) -> Self {
        self.max_attempts = Some(max_attempts.max(1));
        self
    }
}

/// The outcome of an enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job was stored.
    New(JobId),
    /// A job with the same unique key already exists; nothing was stored.
    Duplicate(JobId),
}

impl Enqueued {
    /// The id of the job that will run.
    pub fn id(&self) -> &JobId {
        match self {
            Enqueued::New(id) | Enqueued::Duplicate(id) => id,
        }
    }
}

/// A handle on the queue: enqueue, inspect and manage jobs. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    db: Db,
    specs: Arc<BTreeMap<String, QueueSpec>>,
}

/// Jobs written per multi-row `INSERT` (nine bound values each).
const JOBS_PER_INSERT: usize = 50;

const INSERT_JOB: &str = "INSERT INTO jobs (id, queue, kind, payload, workspace_id, priority, state, attempts, \
     max_attempts, run_at, unique_key, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 'ready', 0, $7, $8, $9, $10, $10) ON CONFLICT DO NOTHING";

impl Queue {
    /// A queue over `db` serving the given named queues.
    pub fn new(db: Db, specs: impl IntoIterator<Item = QueueSpec>) -> Self {
        let specs = specs.into_iter().map(|spec| (spec.name.clone(), spec)).collect();
        Self { db, specs: Arc::new(specs) }
    }

    /// The database this queue lives in.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The named queues, by name.
    pub fn specs(&self) -> impl Iterator<Item = &QueueSpec> {
        self.specs.values()
    }

    pub(crate) fn spec(&self, queue: &str) -> Option<&QueueSpec> {
        self.specs.get(queue)
    }

    /// Enqueues a job in its own transaction.
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued, QueueError> {
        let mut tx = self.db.begin().await?;
        let outcome = self.enqueue_in(&mut tx, job).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Enqueues a job inside the caller's transaction: it exists if and only if the transaction commits.
    pub async fn enqueue_in(&self, tx: &mut Tx, job: NewJob) -> Result<Enqueued, QueueError> {
        let spec = self.spec(&job.queue).ok_or_else(|| QueueError::UnknownQueue(job.queue.clone()))?;
        let id = JobId::generate();
        let now = now_millis();
        let inserted = with_tx!(tx, |conn| sqlx::query(INSERT_JOB)
            .bind(id.as_str())
            .bind(&job.queue)
            .bind(&job.kind)
            .bind(&job.payload)
            .bind(job.workspace_id.as_ref().map(WorkspaceId::as_str))
            .bind(job.priority)
            .bind(job.max_attempts.unwrap_or(spec.max_attempts))
            .bind(job.run_at.unwrap_or(now))
            .bind(job.unique_key.as_deref())
            .bind(now)
            .execute(&mut **conn)
            .await?
            .rows_affected());
        if inserted == 1 {
            tx.wake_on_commit(&job.queue);
            return Ok(Enqueued::New(id));
        }
        let existing: JobId =
            with_tx!(tx, |conn| sqlx::query_scalar("SELECT id FROM jobs WHERE queue = $1 AND unique_key = $2")
                .bind(&job.queue)
                .bind(job.unique_key.as_deref())
                .fetch_one(&mut **conn)
                .await?);
        Ok(Enqueued::Duplicate(existing))
    }

    /// Whether a job with `unique_key` exists on `queue`, as `tx` sees it. A plain read: a caller
    /// that checks first takes no lock on a key another open transaction just inserted.
    pub async fn has_unique_in(&self, tx: &mut Tx, queue: &str, unique_key: &str) -> Result<bool, QueueError> {
        let found: Option<JobId> =
            with_tx!(tx, |conn| sqlx::query_scalar("SELECT id FROM jobs WHERE queue = $1 AND unique_key = $2")
                .bind(queue)
                .bind(unique_key)
                .fetch_optional(&mut **conn)
                .await?);
        Ok(found.is_some())
    }

    /// Enqueues `jobs` inside the caller's transaction with one multi-row `INSERT` per
    /// [`JOBS_PER_INSERT`]; returns how many were new (a job whose unique key is taken is not).
    pub async fn enqueue_many_in(&self, tx: &mut Tx, jobs: &[NewJob]) -> Result<usize, QueueError> {
        let now = now_millis();
        let mut new = 0;
        for chunk in jobs.chunks(JOBS_PER_INSERT) {
            let mut rows = Vec::with_capacity(chunk.len());
            for (n, job) in chunk.iter().enumerate() {
                let spec = self.spec(&job.queue).ok_or_else(|| QueueError::UnknownQueue(job.queue.clone()))?;
                let first = 2 + n * 9;
                let p = |offset: usize| format!("${}", first + offset);
                rows.push((
                    format!(
                        "({}, {}, {}, {}, {}, {}, 'ready', 0, {}, {}, {}, $1, $1)",
                        p(0),
                        p(1),
                        p(2),
                        p(3),
                        p(4),
                        p(5),
                        p(6),
                        p(7),
                        p(8)
                    ),
                    job.max_attempts.unwrap_or(spec.max_attempts),
                ));
            }
            let sql = format!(
                "INSERT INTO jobs (id, queue, kind, payload, workspace_id, priority, state, attempts, max_attempts, \
                 run_at, unique_key, created_at, updated_at) VALUES {} ON CONFLICT DO NOTHING",
                rows.iter().map(|(values, _)| values.as_str()).collect::<Vec<_>>().join(", ")
            );
            let inserted = with_tx!(tx, |conn| {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(now);
                for (job, (_, max_attempts)) in chunk.iter().zip(&rows) {
                    query = query
                        .bind(JobId::generate().to_string())
                        .bind(&job.queue)
                        .bind(&job.kind)
                        .bind(&job.payload)
                        .bind(job.workspace_id.as_ref().map(WorkspaceId::as_str))
                        .bind(job.priority)
                        .bind(*max_attempts)
                        .bind(job.run_at.unwrap_or(now))
                        .bind(job.unique_key.as_deref());
                }
                query.execute(&mut **conn).await?.rows_affected()
            });
            new += usize::try_from(inserted).unwrap_or(0);
            for job in chunk {
                tx.wake_on_commit(&job.queue);
            }
        }
        Ok(new)
    }

    /// Enqueues many jobs in one transaction with multi-row inserts ([`Queue::enqueue_many_in`]);
    /// returns how many were new.
    pub async fn enqueue_batch(&self, jobs: impl IntoIterator<Item = NewJob>) -> Result<usize, QueueError> {
        let jobs: Vec<NewJob> = jobs.into_iter().collect();
        let mut tx = self.db.begin().await?;
        let new = self.enqueue_many_in(&mut tx, &jobs).await?;
        tx.commit().await?;
        Ok(new)
    }
}
