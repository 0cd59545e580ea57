//! Inbox processing with analysis: a backlog of signed webhook messages drained into analysed
//! inbox items, the analysis alone (a replay), and the delay from a webhook sent to its analysis
//! stored under a steady rate.
//!
//! ```text
//! cargo bench -p tidings-server --bench pipeline
//! TIDINGS_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p tidings-server --bench pipeline
//! ```
//!
//! Each engine's row starts the real application (`app::prepare`, `app::router`, and later
//! `app::run_workers`, as `tidings serve` does) against a fresh database, signs up and connects a
//! Messenger Page. Then:
//!
//! 1. **Backlog.** `TIDINGS_BENCH_MESSAGES` (default 20,000) signed deliveries of one message
//!    each, from 5,000 people, are posted by 64 concurrent clients while no worker runs.
//! 2. **Drain.** The workers start. *Stored/s* is the backlog over the time until every message is
//!    in the inbox (the `inbound` jobs); *analysed/s* the backlog over the time until every one
//!    has its analysis stored (the `ai` jobs, which the `inbound` jobs enqueue as they commit).
//! 3. **Replay.** The same items analysed again by `pipeline::replay` (no intake competing):
//!    the analysis with its reads and writes alone.
//! 4. **Steady rate.** `TIDINGS_BENCH_RATE` messages/s (default 200) for `TIDINGS_BENCH_SECS`
//!    (default 10) with the workers running; for each, the time from building the signed delivery
//!    to its analysis being stored (`analysed_at − sent_at`), p50 and p99.
//!
//! `TIDINGS_BENCH_ONLY=sqlite` or `postgres` runs one engine. Progress goes to stderr, the result
//! table (markdown) to stdout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use tidings_connectors::Platform;
use tidings_core::time::now_millis;
use tidings_core::{Config, ConnectionId, WorkspaceId};
use tidings_server::AppState;
use tidings_server::channels::store::{self as channel_store, NewConnection};
use tidings_server::demo::deliveries::{self, Delivery, Incoming};
use tidings_server::pipeline::Pipeline;
use tidings_server::pipeline::replay::replay;
use tidings_store::with_reader;
use tokio_util::sync::CancellationToken;

const PAGE_ID: &str = "104729585";
const SENDERS: usize = 5_000;
const CLIENTS: usize = 64;

/// What people write to a business on Messenger (the webhooks bench's texts and a few leads).
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
    "Hi, how much is the tasting menu and is it available this Friday? I need to book today.",
    "I want to talk to a real person about my booking, nobody answers the phone.",
];

struct Running {
    state: AppState,
    base: String,
    shutdown: CancellationToken,
    workers: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn start(postgres: bool) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut config = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        config.log_level = "error".into();
        config.auth.password_memory_kib = 1024;
        config.auth.password_iterations = 1;
        if postgres {
            config.database_url = Some(
                tidings_store::testing::postgres_schema_url().await.context("TIDINGS_TEST_POSTGRES_URL is not set")?,
            );
        }
        let listen = config.listen;
        let state = tidings_server::app::prepare(config).await?;
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let router = tidings_server::app::router(state.clone());
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        Ok(Self { state, base, shutdown, workers: None, _dir: dir })
    }

    fn start_workers(&mut self) {
        let workers = tokio::spawn(tidings_server::app::run_workers(self.state.clone(), self.shutdown.clone()));
        self.workers = Some(workers);
    }

    async fn stop(self) {
        self.shutdown.cancel();
        if let Some(workers) = self.workers {
            let _ = workers.await;
        }
        self.state.db.close().await;
    }
}

async fn set_up(app: &Running, client: &reqwest::Client) -> anyhow::Result<WorkspaceId> {
    let response = client
        .post(format!("{}/api/v1/auth/register", app.base))
        .json(&serde_json::json!({"email": "bench@example.com", "password": "correct horse battery",
            "name": "Bench", "workspaceName": "Bench Bistro"}))
        .send()
        .await?;
    ensure!(response.status() == reqwest::StatusCode::CREATED, "sign-up answered {}", response.status());
    let body: serde_json::Value = response.json().await?;
    let workspace = WorkspaceId::parse(body["data"]["workspaceId"].as_str().context("workspaceId")?)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = app.state.db.begin_for_tenant(&workspace).await?;
    let connection = NewConnection {
        id: &ConnectionId::generate(),
        location_id: None,
        platform: Platform::Messenger.as_str(),
        external_account_id: PAGE_ID,
        display_name: "Bench Bistro",
        credentials_secret: None,
        token_expires_at: None,
        sync_interval_secs: 900,
    };
    ensure!(channel_store::insert_connection(&mut tx, &workspace, &connection).await?, "already connected");
    tx.commit().await?;
    Ok(workspace)
}

fn delivery(app: &Running, run: &str, i: usize, sent_at_ms: i64) -> anyhow::Result<Delivery> {
    let sender = format!("psid-{}", 7_000_000 + i % SENDERS);
    let message_id = format!("m_{run}_{i:08}");
    let message = Incoming {
        account_id: PAGE_ID,
        sender_id: &sender,
        sender_name: "",
        message_id: &message_id,
        text: TEXTS[(i * 7 + i / SENDERS) % TEXTS.len()],
        sent_at_ms,
    };
    deliveries::message(Platform::Messenger, app.state.platforms.secrets(), &message).context("a delivery")
}

async fn post(client: &reqwest::Client, base: &str, delivery: &Delivery) -> anyhow::Result<()> {
    let response = client
        .post(format!("{base}/webhooks/{}", delivery.platform))
        .header("content-type", "application/json")
        .header(delivery.header, &delivery.signature)
        .body(delivery.body.clone())
        .send()
        .await?;
    ensure!(response.status().is_success(), "a delivery answered {}", response.status());
    Ok(())
}

async fn count(state: &AppState, sql: &'static str) -> anyhow::Result<i64> {
    Ok(with_reader!(state.db, |pool| sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await)?)
}

const STORED: &str = "SELECT COUNT(*) FROM messages WHERE direction = 'inbound'";
const ANALYSED: &str = "SELECT COUNT(*) FROM message_analyses";

struct Row {
    engine: &'static str,
    messages: usize,
    stored_per_sec: f64,
    analysed_per_sec: f64,
    replay_per_sec: f64,
    rate: u64,
    p50: Duration,
    p99: Duration,
    handoffs: i64,
}

async fn run(engine: &'static str, messages: usize, rate: u64, secs: u64) -> anyhow::Result<Row> {
    let mut app = Running::start(engine == "postgres").await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS).build()?;
    let workspace = set_up(&app, &client).await?;
    eprintln!("{engine}: posting a backlog of {messages} messages (no workers)…");
    let now = now_millis();
    let backlog: Vec<Delivery> =
        (0..messages).map(|i| delivery(&app, "backlog", i, now + (i / 1000) as i64)).collect::<Result<_, _>>()?;
    let backlog = Arc::new(backlog);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut posters = Vec::new();
    for _ in 0..CLIENTS {
        let (client, base, backlog, next) = (client.clone(), app.base.clone(), backlog.clone(), next.clone());
        posters.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(delivery) = backlog.get(i) else { return anyhow::Ok(()) };
                post(&client, &base, delivery).await?;
            }
        }));
    }
    for poster in posters {
        poster.await??;
    }
    eprintln!("{engine}: draining with the workers…");
    let started = Instant::now();
    app.start_workers();
    let (mut stored_at, mut analysed_at) = (None, None);
    let deadline = started + Duration::from_secs(1800);
    while analysed_at.is_none() {
        ensure!(Instant::now() < deadline, "the backlog did not drain in 30 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
        if stored_at.is_none() && count(&app.state, STORED).await? >= messages as i64 {
            stored_at = Some(started.elapsed());
        }
        if count(&app.state, ANALYSED).await? >= messages as i64 {
            analysed_at = Some(started.elapsed());
        }
    }
    let stored = stored_at.unwrap_or_else(|| started.elapsed());
    let analysed = analysed_at.unwrap_or_else(|| started.elapsed());
    eprintln!("{engine}: stored in {stored:?}, analysed in {analysed:?}; replaying…");
    let replay_started = Instant::now();
    let report = replay(&Pipeline::of(&app.state), Some(&workspace), 0, |_, _| {}).await?;
    let replay_time = replay_started.elapsed();
    ensure!(report.analysed == messages as u64, "replay analysed {} of {messages}", report.analysed);

    eprintln!("{engine}: {rate} messages/s for {secs} s…");
    let total = (rate * secs) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let steady_start = Instant::now();
    let mut sent = Vec::new();
    for i in 0..total {
        let due = steady_start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let delivery = delivery(&app, "steady", i, now_millis())?;
        let (client, base) = (client.clone(), app.base.clone());
        sent.push(tokio::spawn(async move { post(&client, &base, &delivery).await }));
    }
    for post in sent {
        post.await??;
    }
    let expected = (messages + total) as i64;
    while count(&app.state, ANALYSED).await? < expected {
        ensure!(steady_start.elapsed() < Duration::from_secs(600), "the steady messages were not analysed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut delays: Vec<i64> = with_reader!(app.state.db, |pool| sqlx::query_scalar(
        "SELECT a.analysed_at - m.sent_at FROM message_analyses a JOIN messages m ON m.id = a.message_id \
         WHERE m.external_id LIKE 'm_steady_%'"
    )
    .fetch_all(pool)
    .await)?;
    delays.sort_unstable();
    let at = |p: f64| {
        let index = ((delays.len() as f64 * p).ceil() as usize).clamp(1, delays.len().max(1)) - 1;
        Duration::from_millis(delays.get(index).copied().unwrap_or_default().max(0) as u64)
    };
    let handoffs = count(&app.state, "SELECT COUNT(*) FROM conversations WHERE status = 'needs_human'").await?;
    let row = Row {
        engine,
        messages,
        stored_per_sec: messages as f64 / stored.as_secs_f64(),
        analysed_per_sec: messages as f64 / analysed.as_secs_f64(),
        replay_per_sec: messages as f64 / replay_time.as_secs_f64(),
        rate,
        p50: at(0.50),
        p99: at(0.99),
        handoffs,
    };
    app.stop().await;
    Ok(row)
}

fn env_number(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(value) => value.parse().with_context(|| format!("{name}={value} is not a number")),
        Err(_) => Ok(default),
    }
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let messages = env_number("TIDINGS_BENCH_MESSAGES", 20_000)? as usize;
    let rate = env_number("TIDINGS_BENCH_RATE", 200)?.max(1);
    let secs = env_number("TIDINGS_BENCH_SECS", 10)?.max(1);
    let only = std::env::var("TIDINGS_BENCH_ONLY").unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut engines = vec!["sqlite"];
    if std::env::var("TIDINGS_TEST_POSTGRES_URL").is_ok() {
        engines.push("postgres");
    }
    engines.retain(|e| only.is_empty() || only == *e);
    let mut rows = Vec::new();
    for engine in engines {
        rows.push(runtime.block_on(run(engine, messages, rate, secs))?);
    }
    println!(
        "| engine | backlog | stored/s | analysed/s (drain) | analysis alone (replay), items/s | steady rate | sent → analysed p50 | p99 | handed off |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {}/s | {} ms | {} ms | {} |",
            r.engine,
            r.messages,
            r.stored_per_sec,
            r.analysed_per_sec,
            r.replay_per_sec,
            r.rate,
            r.p50.as_millis(),
            r.p99.as_millis(),
            r.handoffs
        );
    }
    Ok(())
}
