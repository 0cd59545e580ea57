//! Kinds registered for batches: several claimed jobs per handler call, and every guarantee of a
//! job run alone kept — each job completes once, a failed batch runs its jobs alone so a bad one
//! fails (and dead-letters) by itself, and two pools never run a job twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tidings_core::JobId;
use tidings_store::Db;
use tidings_store::queue::{JobContext, JobError, JobPayload, JobState, NewJob, Queue, Registry};

use crate::common::eventually;
use crate::queue::{Running, fast_options, job_count, queue};

#[derive(Serialize, Deserialize)]
struct Batched {
    n: u32,
}
impl JobPayload for Batched {
    const KIND: &'static str = "test.batched";
    const QUEUE: &'static str = "work";
}

#[derive(Serialize, Deserialize)]
struct FlakyBatched {
    n: u32,
}
impl JobPayload for FlakyBatched {
    const KIND: &'static str = "test.flaky_batched";
    const QUEUE: &'static str = "flaky";
}

const MOST: usize = 16;

/// Each handler call's jobs, and how often each job's work was done (counted only when the call
/// succeeds, as a transaction would be kept only then).
#[derive(Clone, Default)]
struct Calls {
    calls: Arc<Mutex<Vec<Vec<u32>>>>,
    done: Arc<Mutex<HashMap<u32, u32>>>,
}

impl Calls {
    fn record(&self, ns: &[u32], succeeded: bool) {
        self.calls.lock().expect("lock").push(ns.to_vec());
        if succeeded {
            let mut done = self.done.lock().expect("lock");
            for n in ns {
                *done.entry(*n).or_default() += 1;
            }
        }
    }

    fn largest_call(&self) -> usize {
        self.calls.lock().expect("lock").iter().map(Vec::len).max().unwrap_or(0)
    }

    fn done(&self) -> HashMap<u32, u32> {
        self.done.lock().expect("lock").clone()
    }
}

fn batching_registry(calls: &Calls) -> Registry {
    let mut registry = Registry::new();
    let calls = calls.clone();
    registry.register_batch(MOST, move |jobs: Vec<(Batched, JobContext)>| {
        let calls = calls.clone();
        async move {
            calls.record(&jobs.iter().map(|(job, _)| job.n).collect::<Vec<_>>(), true);
            Ok(())
        }
    });
    registry
}

async fn enqueue(queue: &Queue, jobs: impl Iterator<Item = NewJob>) {
    queue.enqueue_batch(jobs).await.expect("enqueue");
}

async fn jobs_of_a_batch_kind_are_handed_over_together_and_each_completes_once(db: Db) {
    const JOBS: u32 = 500;
    let queue = queue(&db, 2);
    enqueue(&queue, (0..JOBS).map(|n| NewJob::new(&Batched { n }).expect("job"))).await;
    let calls = Calls::default();
    let pool = Running::start(&queue, batching_registry(&calls), fast_options());
    let finished = eventually(Duration::from_secs(30), || async { job_count(&queue).await == 0 }).await;
    pool.stop().await;
    assert!(finished, "every job completes");
    let done = calls.done();
    assert_eq!(done.len(), JOBS as usize, "every job ran");
    assert!(done.values().all(|runs| *runs == 1), "no job ran twice");
    let largest = calls.largest_call();
    assert!(largest > 1, "jobs claimed together were handed over together");
    assert!(largest <= MOST, "no call takes more than the kind's most: {largest}");
    let calls_made = calls.calls.lock().expect("lock").len();
    assert!(calls_made < JOBS as usize / 2, "{calls_made} calls for {JOBS} jobs");
}

async fn a_failed_batch_runs_its_jobs_alone_so_a_bad_one_fails_by_itself(db: Db) {
    const BAD: u32 = 7;
    let queue = queue(&db, 1);
    let calls = Calls::default();
    let mut registry = Registry::new();
    {
        let calls = calls.clone();
        // Like a transaction over the whole batch: one bad job fails the call, nothing is kept.
        registry.register_batch(MOST, move |jobs: Vec<(FlakyBatched, JobContext)>| {
            let calls = calls.clone();
            async move {
                let ns: Vec<u32> = jobs.iter().map(|(job, _)| job.n).collect();
                let bad = ns.contains(&BAD);
                calls.record(&ns, !bad);
                if bad { Err(JobError::retry(format!("job {BAD} cannot be stored"))) } else { Ok(()) }
            }
        });
    }
    // The bad job and one good one first: the pool's first claim (two jobs for one worker, before
    // it knows the jobs' pace) takes exactly them, and they share a call.
    let jobs: Vec<NewJob> = (0..40)
        .map(|n| NewJob::new(&FlakyBatched { n }).expect("job").priority(if n == BAD || n == BAD + 1 { 10 } else { 0 }))
        .collect();
    enqueue(&queue, jobs.into_iter()).await;
    let unreadable = NewJob::raw("flaky", FlakyBatched::KIND, r#"{"number": 3}"#.to_owned());
    let unreadable = queue.enqueue(unreadable).await.expect("enqueue").id().clone();
    let pool = Running::start(&queue, registry, fast_options());
    let settled = eventually(Duration::from_secs(20), || async {
        let stats = queue.stats().await.expect("stats");
        let flaky = stats.iter().find(|s| s.queue == "flaky").expect("flaky");
        flaky.ready + flaky.scheduled + flaky.running == 0
    })
    .await;
    pool.stop().await;
    assert!(settled, "every job ended");

    let done = calls.done();
    assert_eq!(done.len(), 40 - 1, "every good job's work was done: {done:?}");
    assert!(done.values().all(|runs| *runs == 1), "once each, though their first batch failed");
    let bad_calls: Vec<Vec<u32>> =
        calls.calls.lock().expect("lock").iter().filter(|c| c.contains(&BAD)).cloned().collect();
    assert!(bad_calls.iter().any(|call| call.len() > 1), "the bad job was batched with others: {bad_calls:?}");
    assert_eq!(bad_calls.iter().filter(|call| call.len() == 1).count(), 3, "then ran alone for each of its attempts");
    let dead = queue.dead_letters(Some("flaky"), 10, 0).await.expect("dead letters");
    let dead: HashMap<JobId, (i32, Option<String>)> =
        dead.jobs.into_iter().map(|job| (job.id, (job.attempts, job.last_error))).collect();
    assert_eq!(dead.len(), 2, "the bad job and the unreadable one, nothing else");
    let (attempts, error) = &dead[&unreadable];
    assert_eq!(*attempts, 1, "an unreadable payload is dead-lettered at once");
    assert!(error.as_deref().is_some_and(|e| e.contains("payload does not match")), "{error:?}");
    let (attempts, error) = dead.iter().find(|(id, _)| **id != unreadable).map(|(_, v)| v).expect("bad job");
    assert_eq!((*attempts, error.as_deref()), (3, Some("job 7 cannot be stored")));
    assert_eq!(queue.job(&unreadable).await.expect("lookup").expect("kept").state, JobState::Dead);
}

async fn two_pools_never_run_the_same_batched_job_twice(db: Db) {
    const JOBS: u32 = 3_000;
    let queue = queue(&db, 4);
    enqueue(&queue, (0..JOBS).map(|n| NewJob::new(&Batched { n }).expect("job"))).await;
    let calls = Calls::default();
    let first = Running::start(&queue, batching_registry(&calls), fast_options());
    let second = Running::start(&queue, batching_registry(&calls), fast_options());
    let finished = eventually(Duration::from_secs(60), || async { job_count(&queue).await == 0 }).await;
    first.stop().await;
    second.stop().await;
    assert!(finished, "every job completes");
    let done = calls.done();
    assert_eq!(done.len(), JOBS as usize, "every job ran");
    assert_eq!(done.values().sum::<u32>(), JOBS, "exactly {JOBS} completions, no job ran twice");
}

crate::on_both_engines!(
    jobs_of_a_batch_kind_are_handed_over_together_and_each_completes_once,
    a_failed_batch_runs_its_jobs_alone_so_a_bad_one_fails_by_itself,
    two_pools_never_run_the_same_batched_job_twice,
);
