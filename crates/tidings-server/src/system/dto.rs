//! What the system endpoints promise.

use serde::{Deserialize, Serialize};
use tidings_core::time::to_rfc3339;
use tidings_core::{JobId, WorkspaceId};
use tidings_store::queue::{Job, QueueStats};
use utoipa::{IntoParams, ToSchema};

use crate::http::Pagination;

/// Liveness.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct HealthOut {
    /// Always `ok` while the process answers.
    pub status: String,
}

/// One readiness check.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CheckOut {
    /// `database`, `migrations` or `queue`.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// Readiness: 200 when every check passes, 503 otherwise.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReadyOut {
    /// `ready` or `not_ready`.
    pub status: String,
    /// Each check.
    pub checks: Vec<CheckOut>,
}

/// The depth of one named queue.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueOut {
    /// Queue name.
    pub queue: String,
    /// Jobs due now.
    pub ready: i64,
    /// Jobs waiting for a later time (delayed or backing off).
    pub scheduled: i64,
    /// Jobs being run.
    pub running: i64,
    /// Dead letters.
    pub dead: i64,
    /// Seconds the oldest due job has waited.
    pub oldest_ready_age_secs: f64,
}

impl From<QueueStats> for QueueOut {
    fn from(stats: QueueStats) -> Self {
        Self {
            queue: stats.queue,
            ready: stats.ready,
            scheduled: stats.scheduled,
            running: stats.running,
            dead: stats.dead,
            oldest_ready_age_secs: stats.oldest_ready_age_secs,
        }
    }
}

/// A job that failed every attempt.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterOut {
    /// Job id.
    pub id: JobId,
    /// Queue it ran on.
    pub queue: String,
    /// Job kind.
    pub kind: String,
    /// The job's payload.
    pub payload: serde_json::Value,
    /// Workspace it concerns.
    pub workspace_id: Option<WorkspaceId>,
    /// Attempts made.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// Error of the last attempt.
    pub last_error: Option<String>,
    /// When it was enqueued (RFC 3339, UTC).
    pub created_at: String,
    /// When it was dead-lettered (RFC 3339, UTC).
    pub dead_at: Option<String>,
}

impl From<Job> for DeadLetterOut {
    fn from(job: Job) -> Self {
        Self {
            id: job.id,
            queue: job.queue,
            kind: job.kind,
            payload: job.payload,
            workspace_id: job.workspace_id,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            last_error: job.last_error,
            created_at: to_rfc3339(job.created_at),
            dead_at: job.dead_at.map(to_rfc3339),
        }
    }
}

/// A page of dead letters.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterListOut {
    /// Newest first.
    pub dead_letters: Vec<DeadLetterOut>,
    /// Where this page sits.
    pub pagination: Pagination,
}

/// Filters for the dead-letter list.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Only this queue.
    pub queue: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    pub offset: Option<i64>,
}

/// Which dead letters to put back to work.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryDeadLettersIn {
    /// Only dead letters of this queue; all queues when absent.
    pub queue: Option<String>,
}

/// How many dead letters were affected.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AffectedOut {
    /// Number of jobs.
    pub affected: u64,
}
