//! Sustained webhook ingestion: signed Messenger deliveries posted to `POST /webhooks/messenger`
//! by many concurrent HTTP clients, on SQLite and PostgreSQL.
//!
//! ```text
//! TIDINGS_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p tidings-server --bench webhooks
//! ```
//!
//! Each row starts the real application (the same state, router and workers `tidings serve`
//! runs) on `127.0.0.1:0` against a fresh database, signs up, connects a Messenger Page, and
//! pre-builds `TIDINGS_BENCH_DELIVERIES` unique signed deliveries (default 150,000) before
//! anything is timed: signing is the platform's cost, not ours. A load generator in the same
//! process, on its own Tokio runtime, then runs `TIDINGS_BENCH_CLIENTS` (default 128) tasks over
//! one keep-alive `reqwest` client, each posting one delivery at a time, for
//! `TIDINGS_BENCH_WARMUP_SECS` (default 2) then `TIDINGS_BENCH_SECS` (default 10) seconds.
//!
//! * **Acknowledged events/s**: `200`s with `duplicate: false` completed inside the measured
//!   window, divided by its length. Latency is per request, from send to the full response.
//! * **Drain**: how fast the `inbound.process_events` jobs (one per intake batch) turn the stored deliveries into
//!   conversations and messages. Two modes:
//!   * `intake only`: no workers while the load runs; afterwards the workers start and the time
//!     until every stored delivery is processed gives *messages stored/s* for the backlog alone;
//!   * `with workers`: the workers run during the load, as in production (processing competes with
//!     intake for the database); drain is the processing rate from the first request until the
//!     backlog is empty.
//!
//! After each row the bench checks that every acknowledged event id is in `raw_events` exactly
//! once, that no other row is there, and that the inbox holds one message per delivery.
//! On a PostgreSQL server with autovacuum off, the workers analyse and vacuum the tables
//! themselves (`tidings_store::upkeep`), as in production: the bench does no maintenance.
//! `TIDINGS_BENCH_ONLY=sqlite` (or `postgres`, `intake`, `workers`, `sqlite/intake`, …) runs only
//! the matching rows. Progress goes to stderr, the result table (markdown) to stdout.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use indicatif::{ProgressBar, ProgressStyle};
use tidings_connectors::Platform;
use tidings_core::time::now_millis;
use tidings_core::{Config, ConnectionId, WorkspaceId};
use tidings_server::AppState;
use tidings_server::channels::store::{self as channel_store, NewConnection};
use tidings_server::demo::deliveries::{self, Delivery, Incoming};
use tidings_store::with_reader;
use tokio_util::sync::CancellationToken;

const PAGE_ID: &str = "104729585";
/// Distinct people messaging the Page: each becomes one conversation.
const SENDERS: usize = 10_000;
/// Target from the issue, for SQLite.
const TARGET_EVENTS_PER_SEC: f64 = 5_000.0;
const TARGET_P99: Duration = Duration::from_millis(50);

/// What people write to a business on Messenger, short and long.
const TEXTS: &[&str] = &[
    "Hi! Are you open tonight?",
    "Do you have a table for four at 8pm on Saturday? One of us is vegetarian.",
    "Thanks, see you then",
    "I ordered the lasagne for delivery an hour ago and it still hasn't arrived. Order number is in the app, could you check what happened please?",
    "Is there parking nearby or should we take the tram?",
    "Hello, I left my scarf at the bar yesterday evening, a green wool one. Did anyone find it?",
    "Can I bring my dog on the terrace?",
    "We would like to book the back room for a birthday party of about twenty people next month. Do you do set menus, and what would the deposit be? We'd also need a cake brought in if that's allowed.",
    "👍",
    "Do you have gluten free options?",
    "The soup was cold when it came out and the waiter didn't seem to care. Not what I expect for the price.",
    "Merci beaucoup pour hier soir, c'était délicieux !",
    "¿Tienen menú del día entre semana?",
    "What time does the kitchen close on Sundays?",
    "Could you send me the invoice for last Friday's dinner? Company name and VAT number below.",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No workers during the load; they start afterwards and drain the backlog.
    IntakeOnly,
    /// Workers run during the load, as in production.
    WithWorkers,
}

#[derive(Clone, Copy)]
struct Case {
    engine: Engine,
    mode: Mode,
}

impl Case {
    fn label(self) -> String {
        let engine = match self.engine {
            Engine::Sqlite => "SQLite (synchronous=FULL, default)",
            Engine::Postgres => "PostgreSQL",
        };
        format!("{engine}, {}", self.mode_label())
    }

    fn mode_label(self) -> &'static str {
        match self.mode {
            Mode::IntakeOnly => "intake only",
            Mode::WithWorkers => "with workers",
        }
    }

    fn short(self) -> String {
        let engine = match self.engine {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        };
        let mode = match self.mode {
            Mode::IntakeOnly => "intake",
            Mode::WithWorkers => "workers",
        };
        format!("{engine}/{mode}")
    }
}

#[derive(Clone, Copy)]
struct Settings {
    clients: usize,
    warmup: Duration,
    measure: Duration,
    deliveries: usize,
    postgres: bool,
    /// `queue.concurrency.inbound`, when set (default: the queue's own, 20; 2 on SQLite).
    inbound_workers: Option<usize>,
}

/// The application, served over HTTP, with its workers started on demand.
struct Running {
    state: AppState,
    base: String,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    workers: Option<tokio::task::JoinHandle<()>>,
    runtime: tokio::runtime::Handle,
    _dir: tempfile::TempDir,
    /// The PostgreSQL schema to drop afterwards (base URL, schema).
    schema: Option<(String, String)>,
}

impl Running {
    /// Prepares the state (connect, migrate, secrets) and serves HTTP on `runtime`; no workers yet.
    async fn start(engine: Engine, settings: &Settings, runtime: tokio::runtime::Handle) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let mut config = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        config.log_level = "error".into();
        // One sign-up; the production password cost is measured by the auth bench.
        config.auth.password_memory_kib = 1024;
        config.auth.password_iterations = 1;
        if let Some(workers) = settings.inbound_workers {
            config.queue.concurrency.insert("inbound".into(), workers);
        }
        let mut schema = None;
        if engine == Engine::Postgres {
            let url =
                tidings_store::testing::postgres_schema_url().await.context("TIDINGS_TEST_POSTGRES_URL is not set")?;
            schema = schema_of(&url);
            config.database_url = Some(url);
        }
        let listen = config.listen;
        let shutdown = CancellationToken::new();
        let (state, listener) = runtime
            .spawn(async move {
                let state = tidings_server::app::prepare(config).await?;
                let listener = tokio::net::TcpListener::bind(listen).await?;
                anyhow::Ok((state, listener))
            })
            .await
            .context("the start-up task panicked")?
            .context("starting the application")?;
        let base = format!("http://{}", listener.local_addr().context("the bound address")?);
        let router = tidings_server::app::router(state.clone());
        let stop = shutdown.clone();
        let server = runtime.spawn(async move {
            let served = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(error) = served {
                eprintln!("server error: {error}");
            }
        });
        runtime.spawn(state.live().clone().relay(shutdown.clone()));
        Ok(Self { state, base, shutdown, server, workers: None, runtime, _dir: dir, schema })
    }

    fn start_workers(&mut self) {
        if self.workers.is_none() {
            self.workers =
                Some(self.runtime.spawn(tidings_server::app::run_workers(self.state.clone(), self.shutdown.clone())));
        }
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let _ = self.server.await;
        if let Some(workers) = self.workers {
            let _ = workers.await;
        }
        self.state.db.close().await;
        if let Some((base, schema)) = &self.schema {
            let admin = sqlx::PgPool::connect(base).await.context("connecting to drop the bench schema")?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                .execute(&admin)
                .await
                .with_context(|| format!("dropping schema {schema}"))?;
            admin.close().await;
        }
        Ok(())
    }
}

/// `(base URL, schema)` of a URL made by `postgres_schema_url` (`…options=-c%20search_path%3D<schema>`).
fn schema_of(url: &str) -> Option<(String, String)> {
    let (rest, schema) = url.rsplit_once("search_path%3D")?;
    let base = rest.strip_suffix("options=-c%20")?;
    let base = base.strip_suffix(['?', '&']).unwrap_or(base);
    Some((base.to_owned(), schema.to_owned()))
}

/// Signs up (owner + workspace) over HTTP and connects the Messenger Page to the workspace.
async fn set_up_workspace(app: &Running, client: &reqwest::Client) -> anyhow::Result<WorkspaceId> {
    let response = client
        .post(format!("{}/api/v1/auth/register", app.base))
        .json(&serde_json::json!({"email": "bench@example.com", "password": "correct horse battery",
            "name": "Bench", "workspaceName": "Bench Bistro"}))
        .send()
        .await
        .context("signing up")?;
    ensure!(response.status() == reqwest::StatusCode::CREATED, "sign-up answered {}", response.status());
    let body: serde_json::Value = response.json().await.context("sign-up JSON")?;
    let workspace = WorkspaceId::parse(body["data"]["workspaceId"].as_str().context("workspaceId")?)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let id = ConnectionId::generate();
    let mut tx = app.state.db.begin_for_tenant(&workspace).await?;
    let inserted = channel_store::insert_connection(
        &mut tx,
        &workspace,
        &NewConnection {
            id: &id,
            location_id: None,
            platform: Platform::Messenger.as_str(),
            external_account_id: PAGE_ID,
            display_name: "Bench Bistro",
            credentials_secret: None,
            token_expires_at: None,
            sync_interval_secs: 900,
        },
    )
    .await?;
    ensure!(inserted, "the Page was already connected");
    tx.commit().await?;
    Ok(workspace)
}

/// `count` unique signed Messenger deliveries of one message each, from [`SENDERS`] people.
fn build_deliveries(app: &Running, count: usize, run: &str) -> anyhow::Result<Vec<Delivery>> {
    let secrets = app.state.platforms.secrets();
    let bar = bar("sign", count as u64);
    let now = now_millis();
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let sender = format!("psid-{}", 7_000_000 + i % SENDERS);
        let message_id = format!("m_{run}_{i:08}");
        let message = Incoming {
            account_id: PAGE_ID,
            sender_id: &sender,
            sender_name: "",
            message_id: &message_id,
            text: TEXTS[(i * 7 + i / SENDERS) % TEXTS.len()],
            sent_at_ms: now + (i / 1000) as i64,
        };
        out.push(deliveries::message(Platform::Messenger, secrets, &message).context("a Messenger delivery")?);
        if i % 4096 == 0 {
            bar.set_position(i as u64);
        }
    }
    bar.finish_and_clear();
    Ok(out)
}

fn bar(message: &'static str, len: u64) -> ProgressBar {
    let style =
        ProgressStyle::with_template("{prefix:>18} {msg:<8} [{bar:30}] {pos:>7}/{len:7} {per_sec:>14} {elapsed:>4}")
            .expect("valid progress template")
            .progress_chars("=> ");
    ProgressBar::new(len).with_style(style).with_message(message)
}

/// What one client task saw.
#[derive(Default)]
struct ClientLog {
    /// Latencies (µs) of requests sent and answered inside the measured window.
    latencies_us: Vec<u64>,
    /// Acknowledged (new) deliveries answered inside the window.
    acked_in_window: usize,
    /// Every acknowledged event id, warm-up included.
    event_ids: Vec<String>,
    duplicates: usize,
    errors: Vec<String>,
}

struct Load {
    latencies_us: Vec<u64>,
    acked_in_window: usize,
    window: Duration,
    event_ids: Vec<String>,
    duplicates: usize,
    errors: Vec<String>,
    exhausted: bool,
    /// From the first request to the last answer.
    elapsed: Duration,
}

/// Posts the deliveries from `clients` tasks until the window closes (or the deliveries run out).
async fn generate_load(base: &str, deliveries: Arc<Vec<Delivery>>, settings: &Settings, prefix: &str) -> Load {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(settings.clients)
        .tcp_nodelay(true)
        .build()
        .expect("an HTTP client");
    let url = Arc::new(format!("{base}/webhooks/messenger"));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let window_start = started + settings.warmup;
    let window_end = window_start + settings.measure;
    let progress = bar("post", (settings.warmup + settings.measure).as_secs());
    progress.set_prefix(prefix.to_owned());
    let ticker = {
        let progress = progress.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                progress.set_position(started.elapsed().as_secs());
            }
        })
    };
    let mut tasks = Vec::with_capacity(settings.clients);
    for _ in 0..settings.clients {
        let (client, url, next, deliveries) = (client.clone(), url.clone(), next.clone(), deliveries.clone());
        tasks.push(tokio::spawn(async move {
            let mut log = ClientLog::default();
            loop {
                let sent = Instant::now();
                if sent >= window_end {
                    break;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(delivery) = deliveries.get(index) else { break };
                let response = client
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .header(delivery.header, &delivery.signature)
                    .body(delivery.body.clone())
                    .send()
                    .await;
                let outcome = match response {
                    Ok(response) if response.status() == reqwest::StatusCode::OK => {
                        response.json::<serde_json::Value>().await.map_err(|e| e.to_string())
                    }
                    Ok(response) => {
                        Err(format!("{}: {}", response.status(), response.text().await.unwrap_or_default()))
                    }
                    Err(error) => Err(error.to_string()),
                };
                let answered = Instant::now();
                match outcome {
                    Ok(body) => match body["data"]["eventId"].as_str() {
                        Some(id) if body["data"]["duplicate"] == false => {
                            log.event_ids.push(id.to_owned());
                            if sent >= window_start && answered <= window_end {
                                log.acked_in_window += 1;
                            }
                        }
                        _ => log.duplicates += 1,
                    },
                    Err(error) => log.errors.push(error),
                }
                if sent >= window_start && answered <= window_end {
                    log.latencies_us.push(u64::try_from((answered - sent).as_micros()).unwrap_or(u64::MAX));
                }
            }
            log
        }));
    }
    let mut load = Load {
        latencies_us: Vec::new(),
        acked_in_window: 0,
        window: settings.measure,
        event_ids: Vec::new(),
        duplicates: 0,
        errors: Vec::new(),
        exhausted: false,
        elapsed: Duration::ZERO,
    };
    for task in tasks {
        let log = task.await.expect("a client task panicked");
        load.latencies_us.extend(log.latencies_us);
        load.acked_in_window += log.acked_in_window;
        load.event_ids.extend(log.event_ids);
        load.duplicates += log.duplicates;
        load.errors.extend(log.errors);
    }
    load.elapsed = started.elapsed();
    ticker.abort();
    progress.finish_and_clear();
    if next.load(Ordering::Relaxed) >= deliveries.len() {
        load.exhausted = true;
        // The window ended when the deliveries ran out.
        load.window = load.elapsed.saturating_sub(settings.warmup).min(settings.measure);
    }
    load.latencies_us.sort_unstable();
    load
}

/// `(sum, count)` of the `tidings_webhook_batch_size` histogram (deliveries per intake
/// transaction) and the sum of `tidings_webhook_batch_seconds` (time to store each batch), read
/// from the process's Prometheus recorder.
fn batch_histogram(state: &AppState) -> (f64, f64, f64) {
    let text = state.metrics.render();
    let value = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.trim().parse::<f64>().ok()))
            .unwrap_or(0.0)
    };
    (
        value("tidings_webhook_batch_size_sum"),
        value("tidings_webhook_batch_size_count"),
        value("tidings_webhook_batch_seconds_sum"),
    )
}

fn percentile(sorted: &[u64], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    Duration::from_micros(sorted[((sorted.len() as f64 - 1.0) * p).round() as usize])
}

async fn count(state: &AppState, sql: &'static str) -> anyhow::Result<i64> {
    Ok(with_reader!(state.db, |pool| sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await)?)
}

/// Every acknowledged event id is stored exactly once, and nothing else is.
async fn check_exactly_once(state: &AppState, acked: &[String]) -> anyhow::Result<()> {
    let stored: Vec<String> =
        with_reader!(state.db, |pool| sqlx::query_scalar("SELECT id FROM raw_events").fetch_all(pool).await)?;
    let stored_set: HashSet<&str> = stored.iter().map(String::as_str).collect();
    ensure!(stored_set.len() == stored.len(), "raw_events holds a repeated id");
    let acked_set: HashSet<&str> = acked.iter().map(String::as_str).collect();
    ensure!(acked_set.len() == acked.len(), "an event id was acknowledged twice");
    let missing = acked_set.iter().filter(|id| !stored_set.contains(*id)).count();
    ensure!(missing == 0, "{missing} acknowledged events are not in raw_events");
    ensure!(
        stored.len() == acked.len(),
        "raw_events holds {} rows for {} acknowledged deliveries",
        stored.len(),
        acked.len()
    );
    Ok(())
}

struct Drain {
    /// Deliveries processed when the load stopped (with workers) or 0.
    processed_during_load: i64,
    /// Deliveries left to process when the load stopped.
    backlog: i64,
    /// From the load's end (with workers) or the workers' start (intake only) to an empty backlog.
    backlog_time: Duration,
    /// Messages stored per second of processing, over the whole time processing ran.
    messages_per_sec: f64,
}

/// Waits until every stored delivery is processed.
async fn wait_processed(state: &AppState, total: i64, prefix: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let progress = bar("process", u64::try_from(total).unwrap_or(0));
    progress.set_prefix(prefix.to_owned());
    let deadline = started + Duration::from_secs(120 + u64::try_from(total).unwrap_or(0) / 100);
    loop {
        // One scan of `raw_events` (it has no status index; the application never asks), every
        // quarter second: polling more often takes a noticeable share of SQLite's one writer.
        let (processed, failed): (i64, i64) = with_reader!(state.db, |pool| sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN status = 'processed' THEN 1 ELSE 0 END), 0), \
                    COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) FROM raw_events"
        )
        .fetch_one(pool)
        .await)?;
        ensure!(failed == 0, "{failed} deliveries failed to process");
        progress.set_position(u64::try_from(processed).unwrap_or(0));
        if processed >= total {
            break;
        }
        if Instant::now() > deadline {
            bail!("timed out: {processed} of {total} deliveries processed");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    progress.finish_and_clear();
    Ok(started.elapsed())
}

struct Row {
    case: Case,
    load: Load,
    drain: Drain,
    conversations: i64,
    /// Mean deliveries per intake transaction during the load.
    mean_batch: f64,
    /// Mean time to store one intake batch (waiting for the writer, statements, commit), in ms.
    mean_batch_ms: f64,
}

async fn run_case(
    case: Case,
    settings: &Settings,
    server: tokio::runtime::Handle,
    client_runtime: &tokio::runtime::Handle,
) -> anyhow::Result<Row> {
    let mut app = Running::start(case.engine, settings, server).await?;
    let outcome = async {
        let setup_client = reqwest::Client::new();
        let workspace = set_up_workspace(&app, &setup_client).await?;
        let run = uuid::Uuid::now_v7().simple().to_string();
        let deliveries = Arc::new(build_deliveries(&app, settings.deliveries, &run[20..])?);
        if case.mode == Mode::WithWorkers {
            app.start_workers();
        }
        let base = app.base.clone();
        let batches_before = batch_histogram(&app.state);
        let load = {
            let settings = *settings;
            let prefix = case.short();
            let deliveries = deliveries.clone();
            client_runtime
                .spawn(async move { generate_load(&base, deliveries, &settings, &prefix).await })
                .await
                .context("the load generator panicked")?
        };
        let load_ended = Instant::now();
        let batches_after = batch_histogram(&app.state);
        let batches = (batches_after.1 - batches_before.1).max(1.0);
        let mean_batch = (batches_after.0 - batches_before.0) / batches;
        let mean_batch_ms = (batches_after.2 - batches_before.2) / batches * 1e3;
        ensure!(load.errors.is_empty(), "{} requests failed, first: {}", load.errors.len(), load.errors[0]);
        ensure!(load.duplicates == 0, "{} deliveries were answered as duplicates", load.duplicates);
        check_exactly_once(&app.state, &load.event_ids).await?;
        let total = i64::try_from(load.event_ids.len())?;
        let processed_during_load = if case.mode == Mode::WithWorkers {
            count(&app.state, "SELECT COUNT(*) FROM raw_events WHERE status = 'processed'").await?
        } else {
            0
        };
        let drain_started = Instant::now();
        app.start_workers();
        let backlog_time = wait_processed(&app.state, total, &case.short()).await?;
        let processing_time = match case.mode {
            Mode::IntakeOnly => drain_started.elapsed(),
            Mode::WithWorkers => load.elapsed + load_ended.elapsed(),
        };
        let messages = count(&app.state, "SELECT COUNT(*) FROM messages").await?;
        ensure!(messages == total, "{messages} messages stored for {total} deliveries");
        let conversations: i64 = with_reader!(app.state.db, |pool| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM conversations WHERE workspace_id = $1"
        )
        .bind(workspace.as_str())
        .fetch_one(pool)
        .await)?;
        let drain = Drain {
            processed_during_load,
            backlog: total - processed_during_load,
            backlog_time,
            messages_per_sec: messages as f64 / processing_time.as_secs_f64(),
        };
        Ok(Row { case, load, drain, conversations, mean_batch, mean_batch_ms })
    }
    .await;
    app.stop().await?;
    outcome
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

fn ms(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1e3)
}

fn env_number(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(value) => {
            let n: u64 = value.trim().replace('_', "").parse().with_context(|| format!("{name}=`{value}`"))?;
            ensure!(n > 0, "{name} must be positive");
            Ok(n)
        }
    }
}

fn main() -> anyhow::Result<()> {
    let settings = Settings {
        clients: usize::try_from(env_number("TIDINGS_BENCH_CLIENTS", 128)?)?,
        warmup: Duration::from_secs(env_number("TIDINGS_BENCH_WARMUP_SECS", 2)?),
        measure: Duration::from_secs(env_number("TIDINGS_BENCH_SECS", 10)?),
        deliveries: usize::try_from(env_number("TIDINGS_BENCH_DELIVERIES", 150_000)?)?,
        postgres: std::env::var("TIDINGS_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()),
        inbound_workers: match std::env::var("TIDINGS_BENCH_INBOUND_WORKERS") {
            Ok(_) => Some(usize::try_from(env_number("TIDINGS_BENCH_INBOUND_WORKERS", 20)?)?),
            Err(_) => None,
        },
    };
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    // The server gets the runtime `tidings serve` would (one worker thread per core); the load
    // generator its own, as a second process on the same machine would.
    let server = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("server runtime")?;
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("load")
        .enable_all()
        .build()
        .context("client runtime")?;

    let mut cases = vec![
        Case { engine: Engine::Sqlite, mode: Mode::IntakeOnly },
        Case { engine: Engine::Sqlite, mode: Mode::WithWorkers },
    ];
    let postgres_note = if settings.postgres {
        cases.push(Case { engine: Engine::Postgres, mode: Mode::IntakeOnly });
        cases.push(Case { engine: Engine::Postgres, mode: Mode::WithWorkers });
        None
    } else {
        Some("PostgreSQL rows skipped: TIDINGS_TEST_POSTGRES_URL is not set")
    };
    if let Some(note) = postgres_note {
        eprintln!("{note}");
    }
    if let Ok(only) = std::env::var("TIDINGS_BENCH_ONLY") {
        cases.retain(|case| case.short().contains(only.as_str()));
        eprintln!("TIDINGS_BENCH_ONLY={only}: running {} row(s)", cases.len());
    }
    eprintln!(
        "webhooks bench: {} clients, {} s warm-up + {} s measured, {} pre-signed deliveries, {cores} cores",
        settings.clients,
        settings.warmup.as_secs(),
        settings.measure.as_secs(),
        thousands(settings.deliveries as f64)
    );

    let inbound =
        settings.inbound_workers.map_or("the queue's default (20; 2 on SQLite)".to_owned(), |n| n.to_string());
    eprintln!("inbound workers (queue.concurrency.inbound): {inbound}");
    let mut rows = Vec::with_capacity(cases.len());
    for case in cases {
        let row = server
            .block_on(run_case(case, &settings, server.handle().clone(), clients.handle()))
            .with_context(|| case.label())?;
        let l = &row.load;
        eprintln!(
            "{:>18}: {} acked/s, p50 {} ms, p99 {} ms; backlog {} drained in {:.1} s, {} messages/s{}",
            case.short(),
            thousands(l.acked_in_window as f64 / l.window.as_secs_f64()),
            ms(percentile(&l.latencies_us, 0.5)),
            ms(percentile(&l.latencies_us, 0.99)),
            row.drain.backlog,
            row.drain.backlog_time.as_secs_f64(),
            thousands(row.drain.messages_per_sec),
            if l.exhausted { " (deliveries ran out: raise TIDINGS_BENCH_DELIVERIES)" } else { "" }
        );
        rows.push(row);
    }

    println!();
    println!("Inbound workers (`queue.concurrency.inbound`): {inbound}.");
    println!();
    println!(
        "| Engine, mode | Clients | Acked events/s | Deliveries per intake commit | ms per intake commit | p50 ms | p95 ms | p99 ms | max ms | Acked in all | Processed during load | Backlog after load | Backlog drained in | Processing messages/s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        let l = &row.load;
        println!(
            "| {} | {} | {} | {:.0} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {:.1} s | {} |",
            row.case.label(),
            settings.clients,
            thousands(l.acked_in_window as f64 / l.window.as_secs_f64()),
            row.mean_batch,
            row.mean_batch_ms,
            ms(percentile(&l.latencies_us, 0.5)),
            ms(percentile(&l.latencies_us, 0.95)),
            ms(percentile(&l.latencies_us, 0.99)),
            ms(percentile(&l.latencies_us, 1.0)),
            thousands(l.event_ids.len() as f64),
            thousands(row.drain.processed_during_load as f64),
            thousands(row.drain.backlog as f64),
            row.drain.backlog_time.as_secs_f64(),
            thousands(row.drain.messages_per_sec),
        );
    }
    println!();
    if let Some(note) = postgres_note {
        println!("{note}.");
        println!();
    }
    for row in &rows {
        let l = &row.load;
        println!(
            "- {}: {} conversations, every one of {} acknowledged events stored exactly once and processed into one message{}.",
            row.case.label(),
            thousands(row.conversations as f64),
            thousands(l.event_ids.len() as f64),
            if l.exhausted { " (the pre-signed deliveries ran out before the window closed)" } else { "" }
        );
    }
    for row in rows.iter().filter(|row| row.case.engine == Engine::Sqlite) {
        let l = &row.load;
        let rate = l.acked_in_window as f64 / l.window.as_secs_f64();
        let p99 = percentile(&l.latencies_us, 0.99);
        let verdict = if rate >= TARGET_EVENTS_PER_SEC && p99 < TARGET_P99 { "met" } else { "MISSED" };
        println!(
            "- Target ≥ {} events/s with p99 < {} ms on SQLite ({}): {verdict} ({} events/s, p99 {} ms).",
            thousands(TARGET_EVENTS_PER_SEC),
            TARGET_P99.as_millis(),
            row.case.mode_label(),
            thousands(rate),
            ms(p99)
        );
    }
    Ok(())
}
