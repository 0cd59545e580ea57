//! Job handlers by kind, and what a handler is told and may answer.
//!
//! A kind registered with [`Registry::register_batch`] may be handed several claimed jobs in one
//! call, so a handler can do their work in one transaction: a commit per batch rather than per
//! job, which on SQLite's single writer is most of a short job's cost. The runner falls back to
//! one job per call when a batch fails, so each job keeps its own retries and dead letter.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tidings_core::{JobId, WorkspaceId};
use tokio_util::sync::CancellationToken;

use super::JobPayload;

/// Why a job attempt failed.
#[derive(Debug)]
pub enum JobError {
    /// Try again later: after the queue's backoff, or after `after` when the remote side said so.
    Retry {
        /// What went wrong.
        message: String,
        /// A delay requested by the remote side (`Retry-After`), clamped to an hour.
        after: Option<Duration>,
    },
    /// Retrying cannot help (bad payload, permanent rejection): dead-letter now.
    Fatal {
        /// What went wrong.
        message: String,
    },
}

impl JobError {
    /// A failure worth retrying on the queue's schedule.
    pub fn retry(error: impl Display) -> Self {
        Self::Retry { message: error.to_string(), after: None }
    }

    /// A failure worth retrying no sooner than `after`.
    pub fn retry_after(error: impl Display, after: Duration) -> Self {
        Self::Retry { message: error.to_string(), after: Some(after) }
    }

    /// A failure no retry can fix.
    pub fn fatal(error: impl Display) -> Self {
        Self::Fatal { message: error.to_string() }
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        match self {
            JobError::Retry { message, .. } | JobError::Fatal { message } => message,
        }
    }
}

impl<E: std::error::Error> From<E> for JobError {
    fn from(error: E) -> Self {
        Self::retry(error)
    }
}

/// What a handler knows about the attempt it is running.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The job's id: a natural idempotency key for side effects.
    pub id: JobId,
    /// This attempt's number, from 1.
    pub attempt: i32,
    /// How many attempts the job has in all: when `attempt` reaches it, a failure dead-letters.
    pub max_attempts: i32,
    /// The workspace the job concerns, if any.
    pub workspace_id: Option<WorkspaceId>,
    /// The key the job was enqueued with (schedules use `schedule:<name>:<tick>`).
    pub unique_key: Option<String>,
    /// Cancelled when the worker is shutting down and the grace period ran out.
    pub shutdown: CancellationToken,
}

impl JobContext {
    /// Whether this is the job's last attempt: a failure now is final.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;
/// Runs the jobs it is given (one, unless the kind was registered for batches).
type Handler = Arc<dyn Fn(Vec<(serde_json::Value, JobContext)>) -> BoxFuture + Send + Sync>;

/// A kind's handler and the most jobs one call may take.
#[derive(Clone)]
pub(super) struct Registered {
    pub(super) handler: Handler,
    pub(super) max_batch: usize,
}

/// Job handlers by kind.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Registered>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the handler of a typed job kind. A payload that does not parse is dead-lettered.
    pub fn register<J, F, Fut>(&mut self, handler: F) -> &mut Self
    where
        J: JobPayload,
        F: Fn(J, JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.register_batch(1, move |jobs: Vec<(J, JobContext)>| {
            let handler = handler.clone();
            async move {
                // `max_batch` 1: the runner hands over exactly one job.
                let Some((job, context)) = jobs.into_iter().next() else { return Ok(()) };
                handler(job, context).await
            }
        })
    }

    /// Registers the handler of a typed job kind that takes up to `max_batch` claimed jobs per
    /// call, in claim order. `Ok` completes them all; on `Err` each job of the batch is run
    /// again alone, so one that cannot succeed fails (retries, dead-letters) by itself: the
    /// handler must be idempotent, as every handler is. A batch whose payloads do not all parse
    /// fails that way, and the bad one is dead-lettered alone.
    pub fn register_batch<J, F, Fut>(&mut self, max_batch: usize, handler: F) -> &mut Self
    where
        J: JobPayload,
        F: Fn(Vec<(J, JobContext)>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let handler: Handler = Arc::new(move |jobs: Vec<(serde_json::Value, JobContext)>| {
            let handler = handler.clone();
            Box::pin(async move {
                let alone = jobs.len() == 1;
                let mut parsed = Vec::with_capacity(jobs.len());
                for (payload, context) in jobs {
                    let job: J = serde_json::from_value(payload).map_err(|e| {
                        let message = format!("payload does not match `{}`: {e}", J::KIND);
                        if alone { JobError::fatal(message) } else { JobError::retry(message) }
                    })?;
                    parsed.push((job, context));
                }
                handler(parsed).await
            })
        });
        self.handlers.insert(J::KIND.to_owned(), Registered { handler, max_batch: max_batch.max(1) });
        self
    }

    /// The registered kinds.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }

    pub(super) fn get(&self, kind: &str) -> Option<&Registered> {
        self.handlers.get(kind)
    }

    /// The most jobs of `kind` one call takes (1 for unknown kinds).
    pub(super) fn max_batch(&self, kind: &str) -> usize {
        self.handlers.get(kind).map_or(1, |registered| registered.max_batch)
    }
}
