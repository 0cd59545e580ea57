//! Work queue throughput: enqueue → claim → complete, on SQLite and PostgreSQL.
//!
//! ```text
//! TIDINGS_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p tidings-store --bench queue
//! ```
//!
//! Each row runs a no-op handler over `TIDINGS_BENCH_JOBS` jobs (default 20,000) on one queue
//! whose concurrency is the row's worker count, each phase against a fresh database:
//!
//! * **enqueue**: jobs are enqueued in transactions of 1,000 ([`Queue::enqueue_batch`]), no worker running;
//! * **drain**: a worker pool is started over those jobs and timed until every job ran and was deleted;
//! * **enqueue + drain**: the two phases above back to back, `jobs / (enqueue + drain)`;
//! * **end-to-end**: a fresh database, the pool already running while the same batches are enqueued,
//!   timed from the first enqueue until the last job is deleted.
//!
//! Every phase checks that each job ran exactly once and that the `jobs` table is empty at the
//! end; anything else fails the run. `TIDINGS_BENCH_RUNS` (default 1) repeats every measurement
//! and reports the median; `TIDINGS_BENCH_ONLY=postgres` (or `sqlite`, `sqlite/normal`, …) runs
//! only the rows whose engine matches. Progress goes to stderr, the result table (markdown) to stdout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use tidings_core::config::{DatabaseConfig, SqliteSynchronous};
use tidings_core::time::now_millis;
use tidings_store::Db;
use tidings_store::queue::{JobError, JobPayload, NewJob, Queue, QueueSpec, Registry, WorkerOptions, WorkerPool};
use tokio_util::sync::CancellationToken;

const DEFAULT_JOBS: usize = 20_000;
/// Jobs per enqueue transaction.
const ENQUEUE_BATCH: usize = 1_000;
const QUEUE: &str = "bench";
/// Schemas of earlier runs older than this are dropped (a run that crashed leaves its schema behind).
const STALE_SCHEMA_SECS: i64 = 3600;

/// Targets from the issue, for the 4-worker rows.
const SQLITE_TARGET: f64 = 5_000.0;
const POSTGRES_TARGET: f64 = 3_000.0;

#[derive(Serialize, Deserialize)]
struct Noop {
    n: u32,
}

impl JobPayload for Noop {
    const KIND: &'static str = "bench.noop";
    const QUEUE: &'static str = QUEUE;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite(SqliteSynchronous),
    Postgres,
}

impl Engine {
    fn label(self) -> &'static str {
        match self {
            Engine::Sqlite(SqliteSynchronous::Full) => "SQLite (synchronous=FULL, default)",
            Engine::Sqlite(SqliteSynchronous::Normal) => "SQLite (synchronous=NORMAL)",
            Engine::Postgres => "PostgreSQL",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Engine::Sqlite(SqliteSynchronous::Full) => "sqlite/full",
            Engine::Sqlite(SqliteSynchronous::Normal) => "sqlite/normal",
            Engine::Postgres => "postgres",
        }
    }

    /// The issue's target for this engine at 4 workers (synchronous=NORMAL is informational).
    fn target(self, workers: usize) -> Option<f64> {
        match (self, workers) {
            (Engine::Sqlite(SqliteSynchronous::Full), 4) => Some(SQLITE_TARGET),
            (Engine::Postgres, 4) => Some(POSTGRES_TARGET),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
struct Case {
    engine: Engine,
    workers: usize,
}

struct Settings {
    jobs: usize,
    runs: usize,
    postgres_url: Option<String>,
}

/// A migrated database that lives until [`Fresh::dispose`].
struct Fresh {
    db: Db,
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL schema to drop, and the URL to drop it through.
    schema: Option<(String, String)>,
}

impl Fresh {
    async fn open(engine: Engine, settings: &Settings) -> anyhow::Result<Self> {
        match engine {
            Engine::Sqlite(synchronous) => {
                let dir = tempfile::tempdir().context("creating a temporary directory")?;
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
                let config = DatabaseConfig { sqlite_synchronous: synchronous, ..DatabaseConfig::default() };
                let db = Db::connect(&url, &config).await.context("opening SQLite")?;
                db.migrate().await.context("migrating SQLite")?;
                Ok(Self { db, _dir: Some(dir), schema: None })
            }
            Engine::Postgres => {
                let base = settings.postgres_url.as_deref().context("PostgreSQL row without a URL")?;
                let schema = create_schema(base).await?;
                let separator = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
                let db = match Db::connect(&url, &DatabaseConfig::default()).await {
                    Ok(db) => db,
                    Err(error) => {
                        let _ = drop_schema(base, &schema).await;
                        return Err(error).context("opening PostgreSQL");
                    }
                };
                let fresh = Self { db, _dir: None, schema: Some((base.to_owned(), schema)) };
                if let Err(error) = fresh.db.migrate().await {
                    let _ = fresh.dispose().await;
                    return Err(error).context("migrating PostgreSQL");
                }
                Ok(fresh)
            }
        }
    }

    /// Closes the pools and drops the PostgreSQL schema (the SQLite directory goes with the value).
    async fn dispose(self) -> anyhow::Result<()> {
        self.db.close().await;
        if let Some((base, schema)) = &self.schema {
            drop_schema(base, schema).await?;
        }
        Ok(())
    }
}

async fn drop_schema(base: &str, schema: &str) -> anyhow::Result<()> {
    let admin = sqlx::PgPool::connect(base).await.context("connecting to drop the bench schema")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
        .execute(&admin)
        .await
        .with_context(|| format!("dropping schema {schema}"))?;
    admin.close().await;
    Ok(())
}

/// Creates an empty schema of this run's own, after dropping stale ones of crashed runs.
async fn create_schema(base: &str) -> anyhow::Result<String> {
    let admin = sqlx::PgPool::connect(base).await.context("connecting to TIDINGS_TEST_POSTGRES_URL")?;
    let existing: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'tidings_bench_%'")
            .fetch_all(&admin)
            .await
            .context("listing bench schemas")?;
    let stale_before = now_millis() / 1000 - STALE_SCHEMA_SECS;
    for schema in existing {
        let created: i64 = schema.split('_').nth(2).and_then(|s| s.parse().ok()).unwrap_or(0);
        if created < stale_before {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                .execute(&admin)
                .await
                .with_context(|| format!("dropping stale schema {schema}"))?;
        }
    }
    let schema = format!("tidings_bench_{}_{}", now_millis() / 1000, uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .with_context(|| format!("creating schema {schema}"))?;
    admin.close().await;
    Ok(schema)
}

/// How often each job ran.
struct Tally {
    runs: Vec<AtomicU32>,
    completed: AtomicUsize,
}

impl Tally {
    fn new(jobs: usize) -> Arc<Self> {
        Arc::new(Self { runs: (0..jobs).map(|_| AtomicU32::new(0)).collect(), completed: AtomicUsize::new(0) })
    }

    fn completed(&self) -> usize {
        self.completed.load(Ordering::Acquire)
    }

    /// Fails unless every job ran exactly once.
    fn check_exactly_once(&self, phase: &str) -> anyhow::Result<()> {
        let jobs = self.runs.len();
        let completed = self.completed();
        let missing = self.runs.iter().filter(|r| r.load(Ordering::Acquire) == 0).count();
        let repeated = self.runs.iter().filter(|r| r.load(Ordering::Acquire) > 1).count();
        ensure!(
            completed == jobs && missing == 0 && repeated == 0,
            "{phase}: expected each of {jobs} jobs to complete exactly once, but {completed} completions were \
             counted ({missing} jobs never ran, {repeated} ran more than once)"
        );
        Ok(())
    }
}

/// A no-op handler that counts completions.
fn counting_registry(tally: Arc<Tally>) -> Registry {
    let mut registry = Registry::new();
    registry.register(move |job: Noop, _| {
        let tally = tally.clone();
        async move {
            let Some(runs) = usize::try_from(job.n).ok().and_then(|n| tally.runs.get(n)) else {
                return Err(JobError::fatal(format!("job number {} out of range", job.n)));
            };
            runs.fetch_add(1, Ordering::AcqRel);
            tally.completed.fetch_add(1, Ordering::AcqRel);
            Ok(())
        }
    });
    registry
}

/// A running worker pool.
struct Running {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(queue: &Queue, tally: Arc<Tally>) -> Self {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(WorkerPool::run(
            queue.clone(),
            counting_registry(tally),
            WorkerOptions::default(),
            shutdown.clone(),
        ));
        Self { shutdown, task }
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await.context("the worker pool panicked")
    }
}

fn progress(case: Case, phase: &'static str, jobs: usize) -> ProgressBar {
    let style = ProgressStyle::with_template("{prefix:>26} {msg:<10} [{bar:30}] {pos:>7}/{len:7} {per_sec:>14}")
        .expect("valid progress template")
        .progress_chars("=> ");
    ProgressBar::new(jobs as u64)
        .with_style(style)
        .with_prefix(format!("{} × {}", case.engine.short(), case.workers))
        .with_message(phase)
}

/// Enqueues jobs `0..jobs` in transactions of [`ENQUEUE_BATCH`].
async fn enqueue_all(queue: &Queue, jobs: usize, bar: &ProgressBar) -> anyhow::Result<()> {
    for start in (0..jobs).step_by(ENQUEUE_BATCH) {
        let end = (start + ENQUEUE_BATCH).min(jobs);
        let batch = (start..end)
            .map(|n| NewJob::new(&Noop { n: u32::try_from(n).context("job number")? }).context("building a job"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let new = queue.enqueue_batch(batch).await.context("enqueueing a batch")?;
        ensure!(new == end - start, "enqueued {new} new jobs out of {}", end - start);
        bar.set_position(end as u64);
    }
    Ok(())
}

/// Waits until every job has run and its row is gone (completions are recorded by deleting the row).
async fn wait_drained(queue: &Queue, tally: &Tally, bar: &ProgressBar) -> anyhow::Result<()> {
    let jobs = tally.runs.len();
    let deadline = Instant::now() + Duration::from_secs(60 + jobs as u64 / 100);
    while tally.completed() < jobs {
        bar.set_position(tally.completed() as u64);
        if Instant::now() > deadline {
            bail!("timed out: {} of {jobs} jobs completed", tally.completed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    bar.set_position(jobs as u64);
    loop {
        let stats = queue.stats().await.context("reading queue stats")?;
        let dead: i64 = stats.iter().map(|s| s.dead).sum();
        ensure!(dead == 0, "{dead} jobs were dead-lettered");
        let left: i64 = stats.iter().map(|s| s.ready + s.scheduled + s.running).sum();
        if left == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out: {left} jobs still stored after all completed");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn bench_queue(db: &Db, workers: usize) -> Queue {
    Queue::new(db.clone(), [QueueSpec::new(QUEUE).concurrency(workers)])
}

struct Sample {
    enqueue: Duration,
    drain: Duration,
    end_to_end: Duration,
}

/// Enqueue, then drain, on one fresh database.
async fn enqueue_then_drain(case: Case, settings: &Settings) -> anyhow::Result<(Duration, Duration)> {
    let fresh = Fresh::open(case.engine, settings).await?;
    let outcome = async {
        let queue = bench_queue(&fresh.db, case.workers);
        let tally = Tally::new(settings.jobs);

        let bar = progress(case, "enqueue", settings.jobs);
        let started = Instant::now();
        enqueue_all(&queue, settings.jobs, &bar).await?;
        let enqueue = started.elapsed();
        bar.finish_and_clear();

        let bar = progress(case, "drain", settings.jobs);
        let started = Instant::now();
        let pool = Running::start(&queue, tally.clone());
        let drained = wait_drained(&queue, &tally, &bar).await;
        let drain = started.elapsed();
        bar.finish_and_clear();
        pool.stop().await?;
        drained?;
        tally.check_exactly_once("drain")?;
        Ok((enqueue, drain))
    }
    .await;
    fresh.dispose().await?;
    outcome
}

/// Workers already running while the jobs are enqueued, on one fresh database.
async fn end_to_end(case: Case, settings: &Settings) -> anyhow::Result<Duration> {
    let fresh = Fresh::open(case.engine, settings).await?;
    let outcome = async {
        let queue = bench_queue(&fresh.db, case.workers);
        let tally = Tally::new(settings.jobs);
        let pool = Running::start(&queue, tally.clone());
        // Let the pool find the queue empty and go idle, as a deployed worker would be.
        tokio::time::sleep(Duration::from_millis(200)).await;

        let bar = progress(case, "end-to-end", settings.jobs);
        let started = Instant::now();
        let result = async {
            enqueue_all(&queue, settings.jobs, &ProgressBar::hidden()).await?;
            wait_drained(&queue, &tally, &bar).await
        }
        .await;
        let elapsed = started.elapsed();
        bar.finish_and_clear();
        pool.stop().await?;
        result?;
        tally.check_exactly_once("end-to-end")?;
        Ok(elapsed)
    }
    .await;
    fresh.dispose().await?;
    outcome
}

async fn measure(case: Case, settings: &Settings) -> anyhow::Result<Sample> {
    let mut samples = Vec::with_capacity(settings.runs);
    for _ in 0..settings.runs {
        let (enqueue, drain) = enqueue_then_drain(case, settings).await?;
        let end_to_end = end_to_end(case, settings).await?;
        samples.push(Sample { enqueue, drain, end_to_end });
    }
    let median = |pick: fn(&Sample) -> Duration| {
        let mut values: Vec<Duration> = samples.iter().map(pick).collect();
        values.sort();
        values[values.len() / 2]
    };
    Ok(Sample { enqueue: median(|s| s.enqueue), drain: median(|s| s.drain), end_to_end: median(|s| s.end_to_end) })
}

fn rate(jobs: usize, elapsed: Duration) -> f64 {
    jobs as f64 / elapsed.as_secs_f64()
}

/// `12345.6` → `12,346`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn env_count(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(value) => {
            let count: usize = value.trim().replace('_', "").parse().with_context(|| format!("{name}=`{value}`"))?;
            ensure!(count > 0 && u32::try_from(count).is_ok(), "{name} must be between 1 and {}", u32::MAX);
            Ok(count)
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings {
        jobs: env_count("TIDINGS_BENCH_JOBS", DEFAULT_JOBS)?,
        runs: env_count("TIDINGS_BENCH_RUNS", 1)?,
        postgres_url: std::env::var("TIDINGS_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty()),
    };
    let mut cases = vec![
        Case { engine: Engine::Sqlite(SqliteSynchronous::Full), workers: 1 },
        Case { engine: Engine::Sqlite(SqliteSynchronous::Full), workers: 4 },
        Case { engine: Engine::Sqlite(SqliteSynchronous::Normal), workers: 4 },
    ];
    let postgres_note = if settings.postgres_url.is_some() {
        cases.push(Case { engine: Engine::Postgres, workers: 1 });
        cases.push(Case { engine: Engine::Postgres, workers: 4 });
        None
    } else {
        Some("PostgreSQL rows skipped: TIDINGS_TEST_POSTGRES_URL is not set")
    };
    if let Some(note) = postgres_note {
        eprintln!("{note}");
    }
    if let Ok(only) = std::env::var("TIDINGS_BENCH_ONLY") {
        cases.retain(|case| case.engine.short().contains(only.as_str()));
        eprintln!("TIDINGS_BENCH_ONLY={only}: running {} row(s)", cases.len());
    }
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    eprintln!(
        "queue bench: {} jobs per phase, {} run(s) per row (median), {cores} cores",
        thousands(settings.jobs as f64),
        settings.runs
    );

    let mut rows = Vec::with_capacity(cases.len());
    for case in cases {
        let sample = measure(case, &settings)
            .await
            .with_context(|| format!("{} with {} worker(s)", case.engine.label(), case.workers))?;
        eprintln!(
            "{:>26}: enqueue {:.2}s, drain {:.2}s, end-to-end {:.2}s",
            format!("{} × {}", case.engine.short(), case.workers),
            sample.enqueue.as_secs_f64(),
            sample.drain.as_secs_f64(),
            sample.end_to_end.as_secs_f64()
        );
        rows.push((case, sample));
    }

    let jobs = settings.jobs;
    println!();
    println!(
        "| Engine | Workers | Jobs | Enqueue jobs/s | Drain jobs/s | Enqueue + drain jobs/s | End-to-end jobs/s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (case, sample) in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            case.engine.label(),
            case.workers,
            thousands(jobs as f64),
            thousands(rate(jobs, sample.enqueue)),
            thousands(rate(jobs, sample.drain)),
            thousands(rate(jobs, sample.enqueue + sample.drain)),
            thousands(rate(jobs, sample.end_to_end)),
        );
    }
    println!();
    if let Some(note) = postgres_note {
        println!("{note}.");
        println!();
    }
    for (case, sample) in &rows {
        if let Some(target) = case.engine.target(case.workers) {
            let drain = rate(jobs, sample.drain);
            let end_to_end = rate(jobs, sample.end_to_end);
            let verdict = if drain >= target && end_to_end >= target { "met" } else { "MISSED" };
            println!(
                "- Target {} jobs/s for {} with {} workers: {verdict} (drain {}, end-to-end {}).",
                thousands(target),
                case.engine.label(),
                case.workers,
                thousands(drain),
                thousands(end_to_end)
            );
        }
    }
    Ok(())
}
