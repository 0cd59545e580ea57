//! Named queues and their retry policies, kept as data.

use std::time::Duration;

/// How one named queue runs its jobs.
#[derive(Debug, Clone)]
pub struct QueueSpec {
    /// The queue's name, as stored on each job.
    pub name: String,
    /// Jobs of this queue run at most this many at a time in one worker process.
    pub concurrency: usize,
    /// The concurrency on SQLite, when lower: for jobs that mostly write, since SQLite commits one
    /// writer at a time and more workers only queue for it (ahead of webhook intake).
    pub sqlite_concurrency: Option<usize>,
    /// A job failing this many times becomes a dead letter.
    pub max_attempts: i32,
    /// Delay before retry *n* is `backoff[n - 1]` (the last entry repeats), with ±10% jitter.
    pub backoff: Vec<Duration>,
}

impl QueueSpec {
    /// A queue with one worker, three attempts and a 1 s / 5 s / 30 s backoff.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            concurrency: 1,
            sqlite_concurrency: None,
            max_attempts: 3,
            backoff: vec![Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(30)],
        }
    }

    /// Sets how many jobs run at once.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Sets how many jobs run at once on SQLite, when fewer than on PostgreSQL.
    pub fn sqlite_concurrency(mut self, concurrency: usize) -> Self {
        self.sqlite_concurrency = Some(concurrency.max(1));
        self
    }

    /// How many jobs run at once on `engine`, unless configured otherwise.
    pub fn concurrency_on(&self, engine: crate::Engine) -> usize {
        match (engine, self.sqlite_concurrency) {
            (crate::Engine::Sqlite, Some(sqlite)) => sqlite.min(self.concurrency),
            _ => self.concurrency,
        }
    }

    /// Sets how many attempts a job gets before it is dead-lettered.
    pub fn max_attempts(mut self, max_attempts: i32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// Sets the delays between attempts.
    pub fn backoff(mut self, backoff: impl IntoIterator<Item = Duration>) -> Self {
        self.backoff = backoff.into_iter().collect();
        self
    }

    /// The delay before the next attempt after `attempts` failed attempts, before jitter.
    pub fn delay_after(&self, attempts: i32) -> Duration {
        let index = usize::try_from(attempts.max(1) - 1).unwrap_or(0);
        self.backoff.get(index).or(self.backoff.last()).copied().unwrap_or(Duration::from_secs(1))
    }
}

/// Queue names used across Tidings.
pub mod names {
    /// Webhook events and polled items, from raw event to stored conversation.
    pub const INBOUND: &str = "inbound";
    /// Understanding, sentiment, lead scoring and reply drafting.
    pub const AI: &str = "ai";
    /// Replies and notifications sent to external platforms.
    pub const OUTBOUND: &str = "outbound";
    /// Pushing contacts and leads to CRMs.
    pub const CRM: &str = "crm";
    /// Outgoing email.
    pub const EMAIL: &str = "email";
    /// Housekeeping: purges, digests, reports.
    pub const MAINTENANCE: &str = "maintenance";
    /// Polling platforms for new reviews, one connection per job.
    pub const SYNC: &str = "sync";
}

fn secs(values: &[u64]) -> Vec<Duration> {
    values.iter().copied().map(Duration::from_secs).collect()
}

/// The queues of a Tidings deployment and their retry policies (inbound: 4 attempts, backoff
/// 1 s, 4 s, 16 s; outbound: more attempts, platform APIs being flaky).
pub fn standard_queues() -> Vec<QueueSpec> {
    vec![
        QueueSpec::new(names::INBOUND).concurrency(20).sqlite_concurrency(2).max_attempts(4).backoff(secs(&[1, 4, 16])),
        QueueSpec::new(names::AI).concurrency(10).max_attempts(3).backoff(secs(&[2, 8])),
        QueueSpec::new(names::OUTBOUND).concurrency(15).max_attempts(6).backoff(secs(&[1, 2, 4, 8, 16])),
        QueueSpec::new(names::CRM).concurrency(5).max_attempts(6).backoff(secs(&[5, 15, 45, 135, 405])),
        QueueSpec::new(names::EMAIL).concurrency(4).max_attempts(6).backoff(secs(&[10, 60, 300, 1800, 7200])),
        QueueSpec::new(names::MAINTENANCE).concurrency(2).max_attempts(3).backoff(secs(&[60, 300])),
        QueueSpec::new(names::SYNC).concurrency(4).max_attempts(5).backoff(secs(&[30, 120, 600, 1800])),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_backoff_step_repeats() {
        let spec = QueueSpec::new("q").backoff(secs(&[1, 4]));
        assert_eq!(spec.delay_after(1), Duration::from_secs(1));
        assert_eq!(spec.delay_after(2), Duration::from_secs(4));
        assert_eq!(spec.delay_after(9), Duration::from_secs(4));
    }

    #[test]
    fn writing_queues_run_fewer_workers_on_sqlite() {
        let spec = QueueSpec::new("q").concurrency(20).sqlite_concurrency(2);
        assert_eq!(spec.concurrency_on(crate::Engine::Sqlite), 2);
        assert_eq!(spec.concurrency_on(crate::Engine::Postgres), 20);
        assert_eq!(QueueSpec::new("q").concurrency(5).concurrency_on(crate::Engine::Sqlite), 5);
    }
}
