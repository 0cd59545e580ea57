//! The local queue: jobs a claim took ahead of a free worker, handed out in-process.
//!
//! A claim costs a round trip and a commit whatever it takes, so taking many jobs per claim is
//! what makes short jobs cheap (graphile-worker's `localQueue`). Taking too many has costs of its
//! own: jobs held here cannot run in another process, and a higher-priority job enqueued meanwhile
//! waits behind them. So the queue is sized by time, not by a count: it holds about as many jobs as
//! the workers start in [`WINDOW`] at the pace jobs have been running — hundreds of no-op jobs, one
//! per worker for jobs that take a second. See `docs/adr/0027-local-queue-sized-by-time.md`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::Job;

/// How long, at the current pace, the jobs held locally should keep the workers busy.
const WINDOW: Duration = Duration::from_millis(100);
/// The most jobs held locally, whatever the pace.
const MAX_AHEAD: usize = 512;
/// The most jobs one claim takes.
const MAX_CLAIM: usize = 256;

/// Jobs claimed and not yet started, in claim order.
pub(super) struct LocalQueue {
    jobs: VecDeque<Job>,
    concurrency: usize,
}

impl LocalQueue {
    pub(super) fn new(concurrency: usize) -> Self {
        Self { jobs: VecDeque::new(), concurrency }
    }

    /// How many jobs to claim now, with `running` jobs running at `pace`: none while the local
    /// queue holds more than half its target, so the next claim is on its way before the workers
    /// run dry, and never more than tops it up.
    pub(super) fn to_claim(&self, running: usize, pace: &Pace) -> usize {
        let target = self.target(pace);
        if self.jobs.len() > target / 2 {
            return 0;
        }
        (self.concurrency + target).saturating_sub(running + self.jobs.len()).min(MAX_CLAIM)
    }

    /// Jobs worth holding beyond the running ones: as many as the workers start in [`WINDOW`],
    /// at least one per worker.
    fn target(&self, pace: &Pace) -> usize {
        let per_worker = match pace.mean() {
            Some(mean) if !mean.is_zero() => WINDOW.as_nanos() / mean.as_nanos(),
            _ => 1,
        };
        let started_in_window = usize::try_from(per_worker).unwrap_or(usize::MAX).saturating_mul(self.concurrency);
        started_in_window.clamp(self.concurrency, MAX_AHEAD.max(self.concurrency))
    }

    pub(super) fn extend(&mut self, jobs: Vec<Job>) {
        self.jobs.extend(jobs);
    }

    pub(super) fn pop(&mut self) -> Option<Job> {
        self.jobs.pop_front()
    }

    /// Takes up to `count` jobs of `kind`, in claim order; the others keep their places.
    pub(super) fn take_kind(&mut self, kind: &str, count: usize) -> Vec<Job> {
        let mut taken = Vec::new();
        if count == 0 {
            return taken;
        }
        let mut kept = VecDeque::with_capacity(self.jobs.len());
        for job in self.jobs.drain(..) {
            if taken.len() < count && job.kind == kind {
                taken.push(job);
            } else {
                kept.push_back(job);
            }
        }
        self.jobs = kept;
        taken
    }

    pub(super) fn len(&self) -> usize {
        self.jobs.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}

/// How long a queue's jobs take, from start to recorded outcome: a moving mean.
#[derive(Default)]
pub(super) struct Pace {
    /// Nanoseconds; 0 until a job has run.
    mean_nanos: AtomicU64,
}

impl Pace {
    pub(super) fn record(&self, took: Duration) {
        let sample = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1);
        // Each sample moves the mean an eighth of the way: a change of job mix shows within a
        // few dozen jobs, one slow job does not.
        let _ = self.mean_nanos.fetch_update(Ordering::AcqRel, Ordering::Acquire, |mean| {
            Some(if mean == 0 { sample } else { mean - mean / 8 + sample / 8 })
        });
    }

    fn mean(&self) -> Option<Duration> {
        match self.mean_nanos.load(Ordering::Acquire) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paced(took: Duration) -> Pace {
        let pace = Pace::default();
        pace.record(took);
        pace
    }

    #[test]
    fn before_any_job_ran_it_holds_one_job_per_worker() {
        let local = LocalQueue::new(4);
        assert_eq!(local.to_claim(0, &Pace::default()), 8);
        assert_eq!(local.to_claim(4, &Pace::default()), 4);
    }

    #[test]
    fn short_jobs_are_claimed_by_the_hundred() {
        let local = LocalQueue::new(4);
        let pace = paced(Duration::from_micros(20));
        assert_eq!(local.target(&pace), MAX_AHEAD);
        assert_eq!(local.to_claim(0, &pace), MAX_CLAIM);
    }

    #[test]
    fn long_jobs_are_not_hoarded() {
        let local = LocalQueue::new(15);
        let pace = paced(Duration::from_secs(1));
        assert_eq!(local.target(&pace), 15, "one per worker: a second's jobs would wait ten windows");
        assert_eq!(local.to_claim(15, &pace), 15);
        // 25 ms jobs: each worker starts four in the window.
        assert_eq!(local.target(&paced(Duration::from_millis(25))), 60);
    }

    #[test]
    fn no_claim_while_the_local_queue_is_more_than_half_full() {
        let mut local = LocalQueue::new(1);
        let pace = Pace::default();
        local.extend(vec![job()]);
        assert_eq!(local.to_claim(1, &pace), 0, "target 1: one waiting is more than half");
        local.pop();
        assert_eq!(local.to_claim(1, &pace), 1);
    }

    #[test]
    fn a_batch_takes_jobs_of_its_kind_and_leaves_the_others_in_order() {
        let mut local = LocalQueue::new(2);
        local.extend(["a", "b", "a", "b", "a"].iter().map(|kind| Job { kind: (*kind).into(), ..job() }).collect());
        let ids: Vec<_> = local.jobs.iter().map(|job| job.id.clone()).collect();
        let taken = local.take_kind("a", 2);
        assert_eq!(taken.iter().map(|job| &job.id).collect::<Vec<_>>(), [&ids[0], &ids[2]]);
        let left: Vec<_> = local.jobs.iter().map(|job| (job.kind.as_str(), &job.id)).collect();
        assert_eq!(left, [("b", &ids[1]), ("b", &ids[3]), ("a", &ids[4])]);
        assert!(local.take_kind("c", 5).is_empty());
        assert_eq!(local.len(), 3);
    }

    #[test]
    fn the_pace_follows_the_jobs_gradually() {
        let pace = paced(Duration::from_millis(8));
        pace.record(Duration::from_millis(16));
        assert_eq!(pace.mean(), Some(Duration::from_millis(9)));
    }

    fn job() -> Job {
        Job {
            id: tidings_core::JobId::generate(),
            queue: "q".into(),
            kind: "k".into(),
            payload: serde_json::Value::Null,
            workspace_id: None,
            priority: 0,
            state: super::super::JobState::Running,
            attempts: 1,
            max_attempts: 3,
            run_at: 0,
            unique_key: None,
            last_error: None,
            created_at: 0,
            updated_at: 0,
            dead_at: None,
        }
    }
}
