//! The work queue, driven as the application drives it: enqueue, run workers, observe outcomes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tidings_core::time::now_millis;
use tidings_store::Db;
use tidings_store::queue::{
    Enqueued, JobError, JobPayload, JobState, NewJob, Queue, QueueSpec, Registry, Schedule, WorkerOptions, WorkerPool,
};
use tokio_util::sync::CancellationToken;

use crate::common::eventually;

#[derive(Serialize, Deserialize)]
struct Count {
    n: u32,
}
impl JobPayload for Count {
    const KIND: &'static str = "test.count";
    const QUEUE: &'static str = "work";
}

#[derive(Serialize, Deserialize)]
struct Flaky;
impl JobPayload for Flaky {
    const KIND: &'static str = "test.flaky";
    const QUEUE: &'static str = "flaky";
}

#[derive(Serialize, Deserialize)]
struct Tick;
impl JobPayload for Tick {
    const KIND: &'static str = "test.tick";
    const QUEUE: &'static str = "work";
}

pub(crate) fn queue(db: &Db, concurrency: usize) -> Queue {
    Queue::new(
        db.clone(),
        [
            QueueSpec::new("work").concurrency(concurrency),
            QueueSpec::new("flaky").max_attempts(3).backoff([Duration::from_millis(200), Duration::from_millis(400)]),
        ],
    )
}

pub(crate) fn fast_options() -> WorkerOptions {
    WorkerOptions {
        lease: Duration::from_secs(2),
        poll_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_secs(5),
        ..WorkerOptions::default()
    }
}

/// A running pool, stopped (gracefully) when dropped or by `stop`.
pub(crate) struct Running {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub(crate) fn start(queue: &Queue, registry: Registry, options: WorkerOptions) -> Self {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(WorkerPool::run(queue.clone(), registry, options, shutdown.clone()));
        Self { shutdown, task }
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("pool stopped cleanly");
    }
}

/// Counts how often each `Count { n }` ran.
fn counting_registry(runs: Arc<Mutex<HashMap<u32, u32>>>) -> Registry {
    let mut registry = Registry::new();
    registry.register(move |job: Count, _| {
        let runs = runs.clone();
        async move {
            *runs.lock().expect("lock").entry(job.n).or_default() += 1;
            Ok(())
        }
    });
    registry
}

pub(crate) async fn job_count(queue: &Queue) -> i64 {
    queue.stats().await.expect("stats").iter().map(|s| s.ready + s.scheduled + s.running + s.dead).sum()
}

async fn failing_job_is_retried_with_backoff_then_dead_lettered_and_can_be_retried(db: Db) {
    let queue = queue(&db, 1);
    let attempts: Arc<Mutex<Vec<i64>>> = Arc::default();
    let succeed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut registry = Registry::new();
    {
        let attempts = attempts.clone();
        let succeed = succeed.clone();
        registry.register(move |_: Flaky, context| {
            let attempts = attempts.clone();
            let succeed = succeed.clone();
            async move {
                attempts.lock().expect("lock").push(now_millis());
                if succeed.load(std::sync::atomic::Ordering::SeqCst) {
                    Ok(())
                } else {
                    Err(JobError::retry(format!("upstream said no on attempt {}", context.attempt)))
                }
            }
        });
    }
    let id = queue.enqueue(NewJob::new(&Flaky).expect("job")).await.expect("enqueue").id().clone();
    let pool = Running::start(&queue, registry.clone(), fast_options());

    let dead = eventually(Duration::from_secs(10), || async {
        queue.job(&id).await.expect("lookup").is_some_and(|job| job.state == JobState::Dead)
    })
    .await;
    assert!(dead, "the job should be dead-lettered after its attempts are used up");
    let job = queue.job(&id).await.expect("lookup").expect("kept as a dead letter");
    assert_eq!(job.attempts, 3);
    assert_eq!(job.last_error.as_deref(), Some("upstream said no on attempt 3"));
    let times = attempts.lock().expect("lock").clone();
    assert_eq!(times.len(), 3, "exactly max_attempts attempts");
    assert!(times[1] - times[0] >= 180, "first retry waits the first backoff step: {times:?}");
    assert!(times[2] - times[1] >= 360, "second retry waits the second backoff step: {times:?}");

    let page = queue.dead_letters(Some("flaky"), 10, 0).await.expect("dead letters");
    assert_eq!(page.total, 1);
    assert_eq!(page.jobs[0].id, id);

    succeed.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(queue.retry_dead(&id).await.expect("retry"));
    let gone = eventually(Duration::from_secs(5), || async { queue.job(&id).await.expect("lookup").is_none() }).await;
    assert!(gone, "a retried dead letter runs again and completes");
    assert_eq!(attempts.lock().expect("lock").len(), 4);
    assert!(!queue.retry_dead(&id).await.expect("retry"), "only dead letters can be retried");
    pool.stop().await;
}

async fn a_fatal_error_dead_letters_at_once_and_can_be_discarded(db: Db) {
    let queue = queue(&db, 1);
    let mut registry = Registry::new();
    registry.register(|_: Flaky, _| async { Err(JobError::fatal("payload refers to a deleted review")) });
    let id = queue.enqueue(NewJob::new(&Flaky).expect("job")).await.expect("enqueue").id().clone();
    let pool = Running::start(&queue, registry, fast_options());
    let dead = eventually(Duration::from_secs(5), || async {
        queue.job(&id).await.expect("lookup").is_some_and(|job| job.state == JobState::Dead)
    })
    .await;
    assert!(dead);
    assert_eq!(queue.job(&id).await.expect("lookup").expect("dead").attempts, 1);
    assert!(queue.discard_dead(&id).await.expect("discard"));
    assert!(queue.job(&id).await.expect("lookup").is_none());
    pool.stop().await;
}

async fn a_unique_key_makes_a_duplicate_enqueue_a_no_op(db: Db) {
    let queue = queue(&db, 1);
    let first = queue.enqueue(NewJob::new(&Count { n: 1 }).expect("job").unique_key("review:42")).await.expect("first");
    let second =
        queue.enqueue(NewJob::new(&Count { n: 2 }).expect("job").unique_key("review:42")).await.expect("second");
    let Enqueued::New(id) = first else { panic!("first enqueue stores a job") };
    assert_eq!(second, Enqueued::Duplicate(id.clone()));
    let other = queue.enqueue(NewJob::new(&Count { n: 3 }).expect("job").unique_key("review:43")).await.expect("other");
    assert!(matches!(other, Enqueued::New(_)));
    assert_eq!(job_count(&queue).await, 2);
    assert_eq!(queue.job(&id).await.expect("lookup").expect("stored").payload["n"], 1);
}

async fn an_unknown_queue_is_refused(db: Db) {
    let queue = queue(&db, 1);
    let error = queue.enqueue(NewJob::raw("nowhere", "x", "{}".into())).await.expect_err("unknown queue");
    assert_eq!(error.to_string(), "unknown queue `nowhere`");
}

async fn a_delayed_job_waits_for_its_time(db: Db) {
    let queue = queue(&db, 1);
    let runs: Arc<Mutex<HashMap<u32, u32>>> = Arc::default();
    let enqueued_at = now_millis();
    queue
        .enqueue(NewJob::new(&Count { n: 7 }).expect("job").delay(Duration::from_millis(1200)))
        .await
        .expect("enqueue");
    let ran_at: Arc<Mutex<Option<i64>>> = Arc::default();
    let mut registry = counting_registry(runs.clone());
    {
        let ran_at = ran_at.clone();
        registry.register(move |_: Tick, _| {
            let ran_at = ran_at.clone();
            async move {
                *ran_at.lock().expect("lock") = Some(now_millis());
                Ok(())
            }
        });
    }
    let pool = Running::start(&queue, registry, fast_options());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(runs.lock().expect("lock").is_empty(), "not before its time");
    assert_eq!(queue.stats().await.expect("stats").iter().find(|s| s.queue == "work").expect("work").scheduled, 1);
    let ran = eventually(Duration::from_secs(5), || async { runs.lock().expect("lock").get(&7) == Some(&1) }).await;
    assert!(ran, "runs once its time has come");
    assert!(now_millis() - enqueued_at >= 1200);
    pool.stop().await;
}

async fn higher_priority_runs_first(db: Db) {
    let queue = queue(&db, 1);
    let order: Arc<Mutex<Vec<u32>>> = Arc::default();
    let mut registry = Registry::new();
    {
        let order = order.clone();
        registry.register(move |job: Count, _| {
            let order = order.clone();
            async move {
                order.lock().expect("lock").push(job.n);
                Ok(())
            }
        });
    }
    for (n, priority) in [(1, 0), (2, 10), (3, 5)] {
        queue.enqueue(NewJob::new(&Count { n }).expect("job").priority(priority)).await.expect("enqueue");
    }
    let pool = Running::start(&queue, registry, fast_options());
    assert!(eventually(Duration::from_secs(5), || async { order.lock().expect("lock").len() == 3 }).await);
    assert_eq!(*order.lock().expect("lock"), vec![2, 3, 1]);
    pool.stop().await;
}

async fn a_job_enqueued_in_a_rolled_back_transaction_never_exists(db: Db) {
    let queue = queue(&db, 1);
    let mut tx = db.begin().await.expect("begin");
    queue.enqueue_in(&mut tx, NewJob::new(&Count { n: 1 }).expect("job")).await.expect("enqueue");
    drop(tx);
    assert_eq!(job_count(&queue).await, 0, "rolled back with its transaction");
    let mut tx = db.begin().await.expect("begin");
    let id = queue.enqueue_in(&mut tx, NewJob::new(&Count { n: 2 }).expect("job")).await.expect("enqueue").id().clone();
    tx.commit().await.expect("commit");
    assert!(queue.job(&id).await.expect("lookup").is_some(), "committed with its transaction");
}

async fn a_job_whose_worker_crashed_runs_again_after_its_lease_expires(db: Db) {
    let queue = queue(&db, 1);
    let started = Arc::new(tokio::sync::Notify::new());
    let completions = Arc::new(std::sync::atomic::AtomicU32::new(0));
    // The first pool's handler hangs: its worker "crashes" while holding the job.
    let mut hanging = Registry::new();
    {
        let started = started.clone();
        hanging.register(move |_: Count, _| {
            let started = started.clone();
            async move {
                started.notify_one();
                std::future::pending::<()>().await;
                Ok(())
            }
        });
    }
    let id = queue.enqueue(NewJob::new(&Count { n: 1 }).expect("job")).await.expect("enqueue").id().clone();
    let options = WorkerOptions { lease: Duration::from_secs(2), ..fast_options() };
    let crashed = tokio::spawn(WorkerPool::run(queue.clone(), hanging, options.clone(), CancellationToken::new()));
    tokio::time::timeout(Duration::from_secs(5), started.notified()).await.expect("first worker picked the job up");
    crashed.abort(); // no shutdown, no lease release, no more heartbeats
    let _ = crashed.await;
    assert_eq!(queue.job(&id).await.expect("lookup").expect("held").state, JobState::Running);

    let mut healthy = Registry::new();
    {
        let completions = completions.clone();
        healthy.register(move |_: Count, _| {
            let completions = completions.clone();
            async move {
                completions.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }
        });
    }
    let pool = Running::start(&queue, healthy, options);
    let done = eventually(Duration::from_secs(10), || async { queue.job(&id).await.expect("lookup").is_none() }).await;
    assert!(done, "another worker runs the job once the lease expires");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(completions.load(std::sync::atomic::Ordering::SeqCst), 1, "completed exactly once");
    pool.stop().await;
}

async fn two_pools_never_run_the_same_job_twice(db: Db) {
    const JOBS: u32 = 10_000;
    let queue = queue(&db, 4);
    for chunk in (0..JOBS).collect::<Vec<_>>().chunks(1000) {
        queue
            .enqueue_batch(chunk.iter().map(|&n| NewJob::new(&Count { n }).expect("job")))
            .await
            .expect("enqueue batch");
    }
    let runs: Arc<Mutex<HashMap<u32, u32>>> = Arc::default();
    let first = Running::start(&queue, counting_registry(runs.clone()), fast_options());
    let second = Running::start(&queue, counting_registry(runs.clone()), fast_options());
    let finished = eventually(Duration::from_secs(120), || async { job_count(&queue).await == 0 }).await;
    first.stop().await;
    second.stop().await;
    assert!(finished, "every job completes");
    let runs = runs.lock().expect("lock");
    assert_eq!(runs.len(), JOBS as usize, "every job ran");
    let total: u32 = runs.values().sum();
    assert_eq!(total, JOBS, "exactly {JOBS} completions, no job ran twice");
}

async fn a_batch_is_enqueued_with_its_duplicates_skipped(db: Db) {
    let queue = queue(&db, 1);
    queue.enqueue(NewJob::new(&Count { n: 0 }).expect("job").unique_key("taken")).await.expect("enqueue");
    // 120 jobs: more than one multi-row insert.
    let batch = (1..=120).map(|n| {
        let job = NewJob::new(&Count { n }).expect("job");
        match n {
            1 => job.unique_key("taken"),
            2 | 100 => job.unique_key("twice in the batch"),
            _ => job,
        }
    });
    assert_eq!(queue.enqueue_batch(batch).await.expect("batch"), 118, "a taken key and a repeated one are skipped");
    assert_eq!(job_count(&queue).await, 119);
}

async fn slow_jobs_are_shared_between_pools_not_hoarded_by_the_first(db: Db) {
    let queue = queue(&db, 1);
    queue.enqueue_batch((0..6).map(|n| NewJob::new(&Count { n }).expect("job"))).await.expect("enqueue");
    let ran_by: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let pool = |name: &'static str| {
        let mut registry = Registry::new();
        let ran_by = ran_by.clone();
        registry.register(move |_: Count, _| {
            let ran_by = ran_by.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                ran_by.lock().expect("lock").push(name);
                Ok(())
            }
        });
        Running::start(&queue, registry, fast_options())
    };
    let (first, second) = (pool("first"), pool("second"));
    let finished = eventually(Duration::from_secs(20), || async { job_count(&queue).await == 0 }).await;
    first.stop().await;
    second.stop().await;
    assert!(finished, "every job completes");
    let ran_by = ran_by.lock().expect("lock").clone();
    assert_eq!(ran_by.len(), 6, "each job ran once: {ran_by:?}");
    for name in ["first", "second"] {
        let ran = ran_by.iter().filter(|by| **by == name).count();
        assert!(ran >= 2, "a pool of one worker holds one job beyond the running one, so {name} ran some: {ran_by:?}");
    }
}

async fn a_cron_schedule_fires_once_per_tick_across_two_pools(db: Db) {
    let queue = queue(&db, 2);
    queue
        .register_schedules(&[Schedule {
            name: "every-second".into(),
            cron: "* * * * * *".into(),
            job: NewJob::new(&Tick).expect("job"),
        }])
        .await
        .expect("schedule registered");
    let ticks: Arc<Mutex<Vec<String>>> = Arc::default();
    let registry = {
        let mut registry = Registry::new();
        let ticks = ticks.clone();
        registry.register(move |_: Tick, context| {
            let ticks = ticks.clone();
            async move {
                ticks.lock().expect("lock").push(context.unique_key.unwrap_or_default());
                Ok(())
            }
        });
        registry
    };
    let first = Running::start(&queue, registry.clone(), fast_options());
    let second = Running::start(&queue, registry, fast_options());
    tokio::time::sleep(Duration::from_millis(3500)).await;
    first.stop().await;
    second.stop().await;
    let ticks = ticks.lock().expect("lock").clone();
    assert!((3..=5).contains(&ticks.len()), "about one firing per second over 3.5 s: {ticks:?}");
    let mut distinct = ticks.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ticks.len(), "no tick fired twice: {ticks:?}");
    assert!(ticks.iter().all(|key| key.starts_with("schedule:every-second:")));
}

async fn an_invalid_cron_expression_is_refused(db: Db) {
    let queue = queue(&db, 1);
    let error = queue
        .register_schedules(&[Schedule {
            name: "broken".into(),
            cron: "every day".into(),
            job: NewJob::new(&Tick).expect("job"),
        }])
        .await
        .expect_err("invalid cron");
    assert!(error.to_string().contains("schedule `broken`"), "{error}");
}

async fn shutdown_lets_running_jobs_finish_and_releases_the_rest(db: Db) {
    let queue = queue(&db, 2);
    let mut registry = Registry::new();
    // Claimed is not started: a job still waiting in the pool's local queue at shutdown is
    // released, not run, so the test waits until both handlers have begun.
    let started = Arc::new(AtomicUsize::new(0));
    let handlers_started = started.clone();
    registry.register(move |job: Count, _| {
        handlers_started.fetch_add(1, Ordering::SeqCst);
        async move {
            // Job 1 finishes within the grace period; job 2 would outlast it.
            let pause = if job.n == 1 { 300 } else { 60_000 };
            tokio::time::sleep(Duration::from_millis(pause)).await;
            Ok(())
        }
    });
    let quick = queue.enqueue(NewJob::new(&Count { n: 1 }).expect("job")).await.expect("enqueue").id().clone();
    let slow = queue.enqueue(NewJob::new(&Count { n: 2 }).expect("job")).await.expect("enqueue").id().clone();
    // A wide margin over the quick job's 300 ms, so a loaded machine still lets it finish.
    let options = WorkerOptions { shutdown_grace: Duration::from_millis(3_000), ..fast_options() };
    let pool = Running::start(&queue, registry, options);
    let both_running = eventually(Duration::from_secs(10), || async { started.load(Ordering::SeqCst) == 2 }).await;
    assert!(both_running, "both handlers started");
    pool.stop().await;
    assert!(queue.job(&quick).await.expect("lookup").is_none(), "the quick job finished during the grace period");
    let released = queue.job(&slow).await.expect("lookup").expect("the slow job is kept");
    assert_eq!(released.state, JobState::Ready, "released for another worker");
    assert_eq!(released.attempts, 0, "an interrupted attempt does not count");
}

async fn stats_count_jobs_by_state(db: Db) {
    let queue = queue(&db, 1);
    queue.enqueue(NewJob::new(&Count { n: 1 }).expect("job")).await.expect("enqueue");
    queue.enqueue(NewJob::new(&Count { n: 2 }).expect("job").delay(Duration::from_secs(60))).await.expect("enqueue");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let stats = queue.stats().await.expect("stats");
    let work = stats.iter().find(|s| s.queue == "work").expect("work queue listed");
    assert_eq!((work.ready, work.scheduled, work.running, work.dead), (1, 1, 0, 0));
    assert!(work.oldest_ready_age_secs > 0.0);
    let flaky = stats.iter().find(|s| s.queue == "flaky").expect("empty queues are listed too");
    assert_eq!(flaky.ready, 0);
}

crate::on_both_engines!(
    failing_job_is_retried_with_backoff_then_dead_lettered_and_can_be_retried,
    a_fatal_error_dead_letters_at_once_and_can_be_discarded,
    a_unique_key_makes_a_duplicate_enqueue_a_no_op,
    an_unknown_queue_is_refused,
    a_delayed_job_waits_for_its_time,
    higher_priority_runs_first,
    a_job_enqueued_in_a_rolled_back_transaction_never_exists,
    a_job_whose_worker_crashed_runs_again_after_its_lease_expires,
    two_pools_never_run_the_same_job_twice,
    a_batch_is_enqueued_with_its_duplicates_skipped,
    slow_jobs_are_shared_between_pools_not_hoarded_by_the_first,
    a_cron_schedule_fires_once_per_tick_across_two_pools,
    an_invalid_cron_expression_is_refused,
    shutdown_lets_running_jobs_finish_and_releases_the_rest,
    stats_count_jobs_by_state,
);
