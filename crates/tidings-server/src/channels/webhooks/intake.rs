//! Durable, deduplicated intake of webhook deliveries with group commit.
//!
//! A delivery is acknowledged only after its raw body and its processing job are committed in
//! one transaction. Committing each delivery alone would cost one disk flush per webhook, which
//! caps SQLite at a few hundred a second; instead one writer task takes every delivery waiting
//! at that moment and commits them together, answering each caller once the batch is durable.
//! Under light load a batch is one delivery and nothing waits; under heavy load batches grow and
//! throughput follows. The batch's deliveries are processed together too: one job for up to
//! [`MAX_PER_JOB`] of them.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tidings_core::EventId;
use tidings_core::time::now_millis;
use tidings_store::queue::{JobPayload, NewJob, Queue, QueueError, names};
use tidings_store::{Db, Engine, StoreError, with_tx};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

use crate::inbox::query::placeholders;

/// The most deliveries committed in one transaction.
const MAX_BATCH: usize = 512;
/// How long a delivery may wait for its acknowledgement before processing stands back for it.
/// A delivery that arrives while a writer commits waits a commit or two as a matter of course
/// (group commit); one that has waited longer means intake is falling behind.
const PATIENCE: Duration = Duration::from_millis(5);
/// Deliveries written per `INSERT` (bound parameters stay few: binding is slow past hundreds).
const ROWS_PER_INSERT: usize = 64;
/// Intake writers on PostgreSQL: while one commits (a network round trip and a WAL flush), the
/// next gathers the deliveries that arrived meanwhile.
const POSTGRES_WRITERS: u32 = 2;
/// The most deliveries one processing job takes (several workers share a large batch).
const MAX_PER_JOB: usize = 128;

/// Processes stored deliveries: parse, route to workspaces, ingest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessEvents {
    pub event_ids: Vec<EventId>,
}

impl JobPayload for ProcessEvents {
    const KIND: &'static str = "inbound.process_events";
    const QUEUE: &'static str = names::INBOUND;
}

/// What intake did with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Stored with its processing job.
    New(EventId),
    /// The same delivery (same platform, same bytes) was stored before: nothing was written.
    Duplicate,
}

/// Why a delivery could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The batch holding the delivery could not be committed (the reason is logged with it).
    #[error("the delivery was not stored: {0}")]
    NotStored(String),
    #[error("the intake writer has stopped")]
    Stopped,
}

struct Pending {
    platform: &'static str,
    dedup_key: String,
    body: String,
    reply: oneshot::Sender<Result<Accepted, String>>,
}

/// The handle handlers store deliveries through.
#[derive(Clone)]
pub struct Intake {
    sender: mpsc::Sender<Pending>,
    backlog: Arc<Backlog>,
}

/// When each delivery received but not yet answered arrived, oldest first, and a signal each
/// time some are answered.
struct Backlog {
    arrivals: std::sync::Mutex<VecDeque<Instant>>,
    settled: Notify,
    /// How long a delivery waits before processing stands back for it ([`PATIENCE`]).
    patience: Duration,
}

impl Intake {
    /// Starts the writer tasks for `db`: one on SQLite (one writer), [`POSTGRES_WRITERS`] on
    /// PostgreSQL, each on a connection of its own so intake never waits for the workers' pool.
    pub fn start(db: Db, queue: Queue) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 8);
        let backlog = Arc::new(Backlog::new(PATIENCE));
        let writers = match db.engine() {
            Engine::Sqlite => 1,
            Engine::Postgres => POSTGRES_WRITERS,
        };
        let db = db.with_own_connections(writers);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..writers {
            tokio::spawn(run(db.clone(), queue.clone(), receiver.clone(), backlog.clone()));
        }
        Self { sender, backlog }
    }

    /// Waits while a delivery has waited longer than [`PATIENCE`] to be stored, for at most
    /// `longest`. Processing calls this before each transaction (it shares SQLite's one writer
    /// with intake, and PostgreSQL's connections and CPU), so a platform's delivery is not
    /// acknowledged late because processing held them; under sustained overload the processing
    /// still advances once per `longest`. Deliveries merely in flight do not count: at a steady
    /// rate one nearly always is, and standing back for it cost every transaction the full
    /// `longest` (issue 16).
    pub async fn yield_to_deliveries(&self, longest: Duration) {
        let started = tokio::time::Instant::now();
        let deadline = started + longest;
        loop {
            let settled = self.backlog.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            if !self.backlog.is_late() {
                break;
            }
            if tokio::time::timeout_at(deadline, settled).await.is_err() {
                break;
            }
        }
        metrics::histogram!("tidings_webhook_processing_yield_seconds").record(started.elapsed().as_secs_f64());
    }

    /// Stores a verified delivery and its processing job; returns once both are durable.
    pub async fn accept(&self, platform: &'static str, body: String) -> Result<Accepted, IntakeError> {
        let dedup_key = hex::encode(Sha256::digest(body.as_bytes()));
        let (reply, answer) = oneshot::channel();
        self.backlog.arrived();
        if self.sender.send(Pending { platform, dedup_key, body, reply }).await.is_err() {
            self.backlog.settled(1);
            return Err(IntakeError::Stopped);
        }
        match answer.await {
            Ok(Ok(accepted)) => Ok(accepted),
            Ok(Err(message)) => Err(IntakeError::NotStored(message)),
            Err(_) => Err(IntakeError::Stopped),
        }
    }
}

impl Backlog {
    fn new(patience: Duration) -> Self {
        Self { arrivals: std::sync::Mutex::default(), settled: Notify::new(), patience }
    }

    fn arrivals(&self) -> std::sync::MutexGuard<'_, VecDeque<Instant>> {
        self.arrivals.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn arrived(&self) {
        self.arrivals().push_back(Instant::now());
    }

    /// Batches are taken in arrival order, so the deliveries answered are (about) the oldest.
    fn settled(&self, deliveries: usize) {
        let mut arrivals = self.arrivals();
        let answered = deliveries.min(arrivals.len());
        arrivals.drain(..answered);
        drop(arrivals);
        self.settled.notify_waiters();
    }

    /// Whether the oldest delivery still waiting has waited longer than the patience.
    fn is_late(&self) -> bool {
        self.arrivals().front().is_some_and(|arrived| arrived.elapsed() >= self.patience)
    }
}

/// One writer: takes every delivery waiting (up to [`MAX_BATCH`]) and commits them together.
/// With several writers, one gathers the next batch while another commits.
async fn run(db: Db, queue: Queue, receiver: Arc<Mutex<mpsc::Receiver<Pending>>>, backlog: Arc<Backlog>) {
    while let Some(batch) = take_batch(&receiver, MAX_BATCH).await {
        metrics::histogram!("tidings_webhook_batch_size").record(batch.len() as f64);
        let deliveries = batch.len();
        let started = std::time::Instant::now();
        let written = write(&db, &queue, &batch).await;
        metrics::histogram!("tidings_webhook_batch_seconds").record(started.elapsed().as_secs_f64());
        match written {
            Ok(outcomes) => {
                for (pending, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = pending.reply.send(Ok(outcome));
                }
            }
            Err(error) => {
                tracing::error!(%error, deliveries = batch.len(), "webhook batch not stored");
                for pending in batch {
                    let _ = pending.reply.send(Err(error.to_string()));
                }
            }
        }
        backlog.settled(deliveries);
    }
}

async fn write(db: &Db, queue: &Queue, batch: &[Pending]) -> Result<Vec<Accepted>, IntakeError> {
    let now = now_millis();
    let mut outcomes = vec![Accepted::Duplicate; batch.len()];
    // Of identical deliveries in one batch only the first is written; the others repeat it.
    let mut seen = HashSet::new();
    let candidates: Vec<(usize, EventId)> = (batch.iter().enumerate())
        .filter(|(_, pending)| seen.insert((pending.platform, pending.dedup_key.as_str())))
        .map(|(index, _)| (index, EventId::generate()))
        .collect();
    let mut tx = db.begin().await?;
    for rows in candidates.chunks(ROWS_PER_INSERT) {
        // `$1` is the time; each row has four more.
        let values = (0..rows.len())
            .map(|row| format!("({}, 'received', $1)", placeholders(4 * row + 2, 4)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO raw_events (id, platform, dedup_key, body, status, received_at) VALUES {values} \
             ON CONFLICT (platform, dedup_key) DO NOTHING RETURNING id"
        );
        let inserted: Vec<String> = with_tx!(tx, |conn| {
            let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())).bind(now);
            for (index, id) in rows {
                let pending = &batch[*index];
                query = query.bind(id.as_str()).bind(pending.platform).bind(&pending.dedup_key).bind(&pending.body);
            }
            query.fetch_all(&mut **conn).await.map_err(StoreError::from)
        })?;
        let inserted: HashSet<String> = inserted.into_iter().collect();
        for (index, id) in rows {
            if inserted.contains(id.as_str()) {
                outcomes[*index] = Accepted::New(id.clone());
            }
        }
    }
    let stored: Vec<EventId> = outcomes
        .iter()
        .filter_map(|outcome| if let Accepted::New(id) = outcome { Some(id.clone()) } else { None })
        .collect();
    for event_ids in stored.chunks(MAX_PER_JOB) {
        queue.enqueue_in(&mut tx, NewJob::new(&ProcessEvents { event_ids: event_ids.to_vec() })?).await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Waits for one item, then takes every other item already waiting, up to `max`: what arrived
/// while the last batch was committed goes into the next commit together. `None` once every
/// sender is gone. The lock lets several writers share one receiver.
pub(crate) async fn take_batch<T>(receiver: &Mutex<mpsc::Receiver<T>>, max: usize) -> Option<Vec<T>> {
    let mut receiver = receiver.lock().await;
    let first = receiver.recv().await?;
    let mut batch = vec![first];
    while batch.len() < max {
        match receiver.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An intake whose writers never run: only its backlog is exercised.
    fn idle_intake(patience: Duration) -> Intake {
        let (sender, _) = mpsc::channel(1);
        Intake { sender, backlog: Arc::new(Backlog::new(patience)) }
    }

    async fn yield_took(intake: &Intake, longest: Duration) -> Duration {
        let started = Instant::now();
        intake.yield_to_deliveries(longest).await;
        started.elapsed()
    }

    #[tokio::test]
    async fn processing_goes_ahead_of_deliveries_that_are_not_late() {
        let intake = idle_intake(Duration::from_secs(3600));
        assert!(yield_took(&intake, Duration::from_secs(5)).await < Duration::from_secs(4), "nothing waiting");
        intake.backlog.arrived();
        assert!(yield_took(&intake, Duration::from_secs(5)).await < Duration::from_secs(4), "one in flight");
    }

    #[tokio::test]
    async fn processing_stands_back_for_a_late_delivery_until_it_is_answered() {
        let intake = idle_intake(Duration::ZERO);
        intake.backlog.arrived();
        let backlog = intake.backlog.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            backlog.settled(1);
        });
        let took = yield_took(&intake, Duration::from_secs(5)).await;
        assert!(took >= Duration::from_millis(300), "waited for the answer: {took:?}");
        assert!(took < Duration::from_secs(4), "not for the longest: {took:?}");
    }

    #[tokio::test]
    async fn under_overload_processing_still_advances_after_the_longest_wait() {
        let intake = idle_intake(Duration::ZERO);
        intake.backlog.arrived();
        let took = yield_took(&intake, Duration::from_millis(200)).await;
        assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(4), "{took:?}");
    }
}
