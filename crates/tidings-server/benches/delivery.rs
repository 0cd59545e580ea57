//! Automations end to end under a steady rate: Pipedrive deal webhooks in, rule evaluated, a
//! message out to a receiver that records when each one arrived.
//!
//! ```text
//! cargo bench -p tidings-server --bench delivery
//! TIDINGS_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p tidings-server --bench delivery
//! ```
//!
//! Each row starts the real application (`Application::build` and `run`: the HTTP server and
//! the workers, as `tidings serve` does) against a fresh database, signs up, connects Pipedrive
//! through the API (against a mock of Pipedrive's API, which only the connection and the names
//! of pipelines, stages and owners reach), adds one destination pointing at a receiver in this
//! process, and a rule "deal won → that destination". Two scenarios:
//!
//! * **`chat`**: a Google Chat destination, the detailed card; `TIDINGS_BENCH_RATE` deals/s
//!   (default 1,000). The per-space pacing (`chat_min_interval_ms`, Google Chat takes about one
//!   message a second per space) is turned off: the row measures Tidings, not Google's limit.
//! * **`webhook`**: a signed webhook destination (Standard Webhooks); the receiver verifies
//!   every signature with the destination's secret and counts repeats by `webhook-id`;
//!   `TIDINGS_BENCH_WEBHOOK_RATE` deals/s (default 2,000). "Accepted by the API" is the
//!   Pipedrive intake's `200`: the event is stored with its processing job in one transaction,
//!   the most direct way an event enters Tidings.
//!
//! The load generator posts real Pipedrive v2 `deal` deliveries (the documented "deal won"
//! payload with a unique `meta.id`, deal id and title; Basic auth as registered) at the fixed
//! rate for `TIDINGS_BENCH_SECS` (default 10), each from its own task so a slow answer does not
//! slow the schedule. Latency is from just before the request is sent to the moment the
//! receiver got the post, both read from one monotonic clock. *Delivered/s* is the deals
//! delivered over the time from the first request to the last arrival. The row fails if any
//! request is not answered `2xx`, any deal is lost or delivered twice, or a signature is wrong.
//!
//! `TIDINGS_BENCH_ONLY=sqlite`, `postgres`, `chat`, `webhook` or `sqlite/webhook` … runs the
//! matching rows. Progress goes to stderr, the result table (markdown) to stdout.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};
use tidings_connectors::WebhookHeaders;
use tidings_connectors::standard_webhooks::{self, WebhookSecret};
use tidings_core::Config;
use tidings_server::app::Application;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tidings-connectors/tests/fixtures/pipedrive/");
/// The deals' titles carry their index, which is how the receiver knows which one arrived.
const TITLE_PREFIX: &str = "Bench deal #";
const TARGET_P99: Duration = Duration::from_millis(250);

fn fixture(name: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(format!("{FIXTURES}{name}")).with_context(|| format!("fixture {name}"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Chat,
    Webhook,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Chat => "chat",
            Scenario::Webhook => "webhook",
        }
    }
}

/// What the receiver saw, per deal index: when it first arrived (nanoseconds after `epoch`,
/// plus one so zero means "not yet") and how many times.
struct Receiver {
    epoch: Instant,
    arrived_at: Vec<AtomicU64>,
    arrivals: Vec<AtomicU32>,
    /// Set once the webhook destination exists; every post is then verified against it.
    secret: OnceLock<WebhookSecret>,
    bad_signatures: AtomicUsize,
    unrecognised: AtomicUsize,
}

impl Receiver {
    fn new(epoch: Instant, deals: usize) -> Self {
        Self {
            epoch,
            arrived_at: (0..deals).map(|_| AtomicU64::new(0)).collect(),
            arrivals: (0..deals).map(|_| AtomicU32::new(0)).collect(),
            secret: OnceLock::new(),
            bad_signatures: AtomicUsize::new(0),
            unrecognised: AtomicUsize::new(0),
        }
    }

    fn record(&self, body: &[u8]) {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let index = std::str::from_utf8(body).ok().and_then(|text| {
            let start = text.find(TITLE_PREFIX)? + TITLE_PREFIX.len();
            text[start..].chars().take_while(char::is_ascii_digit).collect::<String>().parse::<usize>().ok()
        });
        match index.filter(|i| *i < self.arrivals.len()) {
            Some(i) => {
                self.arrivals[i].fetch_add(1, Ordering::Relaxed);
                let _ = self.arrived_at[i].compare_exchange(0, now + 1, Ordering::Relaxed, Ordering::Relaxed);
            }
            None => {
                self.unrecognised.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        let Some(secret) = self.secret.get() else { return false };
        let pairs =
            [standard_webhooks::ID_HEADER, standard_webhooks::TIMESTAMP_HEADER, standard_webhooks::SIGNATURE_HEADER]
                .into_iter()
                .filter_map(|name| Some((name.to_owned(), headers.get(name)?.to_str().ok()?.to_owned())));
        let headers = WebhookHeaders(pairs.collect::<BTreeMap<_, _>>());
        let now = chrono::Utc::now().timestamp();
        standard_webhooks::verify(std::slice::from_ref(secret), &headers, body, now).is_ok()
    }
}

async fn chat_space(State(receiver): State<Arc<Receiver>>, body: Bytes) -> (StatusCode, axum::Json<Value>) {
    receiver.record(&body);
    (StatusCode::OK, axum::Json(json!({ "name": "spaces/AAA/messages/bench" })))
}

async fn signed_hook(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !receiver.verify(&headers, &body) {
        receiver.bad_signatures.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED;
    }
    receiver.record(&body);
    StatusCode::NO_CONTENT
}

/// The receiver's HTTP server; returns its base URL.
async fn serve_receiver(receiver: Arc<Receiver>, shutdown: CancellationToken) -> anyhow::Result<String> {
    let router = axum::Router::new()
        .route("/v1/spaces/AAA/messages", axum::routing::post(chat_space))
        .route("/hooks/tidings", axum::routing::post(signed_hook))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await;
    });
    Ok(base)
}

/// Pipedrive's API as far as connecting and naming reach it.
async fn mock_pipedrive() -> anyhow::Result<MockServer> {
    let server = MockServer::start().await;
    let ok = |name: &str| fixture(name).map(|body| ResponseTemplate::new(200).set_body_string(body));
    Mock::given(method("GET")).and(path("/v1/users/me")).respond_with(ok("users_me.json")?).mount(&server).await;
    let created = ResponseTemplate::new(201).set_body_string(fixture("webhook_created.json")?);
    Mock::given(method("POST")).and(path("/v1/webhooks")).respond_with(created).mount(&server).await;
    Mock::given(method("GET")).and(path("/v1/pipelines")).respond_with(ok("pipelines.json")?).mount(&server).await;
    for (start, page) in [("0", "stages_page1.json"), ("2", "stages_page2.json")] {
        let stages = Mock::given(method("GET")).and(path("/v1/stages")).and(query_param("start", start));
        stages.respond_with(ok(page)?).mount(&server).await;
    }
    Mock::given(method("GET")).and(path("/v1/users")).respond_with(ok("users.json")?).mount(&server).await;
    Ok(server)
}

async fn api(client: &reqwest::Client, request: reqwest::RequestBuilder, expected: u16) -> anyhow::Result<Value> {
    let response = client.execute(request.build()?).await?;
    let status = response.status();
    let body: Value = response.json().await?;
    ensure!(status.as_u16() == expected, "answered {status}: {body}");
    Ok(body["data"].clone())
}

/// Signs up, connects Pipedrive, adds the destination and the rule. Returns the intake URL
/// and its `Authorization` header.
async fn set_up(
    client: &reqwest::Client,
    base: &str,
    pipedrive: &MockServer,
    receiver: &Receiver,
    receiver_base: &str,
    scenario: Scenario,
) -> anyhow::Result<(String, String)> {
    let signup = client.post(format!("{base}/api/v1/auth/register")).json(&json!({
        "email": "bench@example.com", "password": "correct horse battery", "name": "Bench", "workspaceName": "Bench Sales"
    }));
    let session = api(client, signup, 201).await?;
    let token = session["accessToken"].as_str().context("accessToken")?.to_owned();
    let call = |method: reqwest::Method, path: &str| {
        client.request(method, format!("{base}/api/v1{path}")).bearer_auth(&token)
    };

    let connect =
        call(reqwest::Method::POST, "/automations/pipedrive").json(&json!({ "apiToken": "pd-token", "name": "Bench" }));
    let connection = api(client, connect, 201).await?;
    let requests = pipedrive.received_requests().await.context("recorded")?;
    let registration = requests.iter().find(|r| r.url.path() == "/v1/webhooks").context("webhook registered")?;
    let registered: Value = serde_json::from_slice(&registration.body)?;
    let pair = format!(
        "{}:{}",
        registered["http_auth_user"].as_str().context("user")?,
        registered["http_auth_password"].as_str().context("password")?
    );
    let authorization = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));

    let destination = match scenario {
        Scenario::Chat => json!({ "kind": "google_chat", "name": "#sales-wins",
            "url": format!("{receiver_base}/v1/spaces/AAA/messages?key=k&token=t") }),
        Scenario::Webhook => {
            json!({ "kind": "webhook", "name": "Ops", "url": format!("{receiver_base}/hooks/tidings") })
        }
    };
    let destination = api(client, call(reqwest::Method::POST, "/destinations").json(&destination), 201).await?;
    if scenario == Scenario::Webhook {
        let secret = destination["signingSecret"].as_str().context("signingSecret")?;
        let secret = WebhookSecret::parse(secret).map_err(|e| anyhow::anyhow!("{e}"))?;
        let _ = receiver.secret.set(secret);
    }
    let rule = json!({
        "name": "Deal won", "trigger": "deal_won", "conditions": [],
        "actions": [{ "type": "notify", "destinationId": destination["id"], "template": "detailed" }],
    });
    api(client, call(reqwest::Method::POST, "/rules").json(&rule), 201).await?;
    let intake = connection["webhookUrl"].as_str().context("webhookUrl")?.to_owned();
    // The URL is built from the public URL; the bench talks to the bound address.
    let path = intake.find("/webhooks/").map(|at| &intake[at..]).context("an intake path")?;
    Ok((format!("{base}{path}"), authorization))
}

/// Pipedrive's documented v2 "deal won" delivery, made unique for deal `index`.
fn deal_won(template: &Value, scenario: Scenario, index: usize) -> Vec<u8> {
    let mut body = template.clone();
    let id = 1_000_000 + index;
    body["meta"]["id"] = json!(format!("bench-{}-{index:08}", scenario.name()));
    body["meta"]["entity_id"] = json!(id.to_string());
    body["data"]["id"] = json!(id);
    body["data"]["title"] = json!(format!("{TITLE_PREFIX}{index}"));
    body.to_string().into_bytes()
}

struct Row {
    engine: &'static str,
    scenario: Scenario,
    rate: u64,
    sent: usize,
    delivered_per_sec: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    refused: usize,
    lost: usize,
    duplicated: usize,
    bad_signatures: usize,
}

async fn run(engine: &'static str, scenario: Scenario, rate: u64, secs: u64) -> anyhow::Result<Row> {
    let total = usize::try_from(rate * secs)?;
    let epoch = Instant::now();
    let receiver = Arc::new(Receiver::new(epoch, total));
    let shutdown = CancellationToken::new();
    let receiver_base = serve_receiver(receiver.clone(), shutdown.clone()).await?;
    let pipedrive = mock_pipedrive().await?;

    let dir = tempfile::tempdir()?;
    let mut config =
        Config { listen: SocketAddr::from(([127, 0, 0, 1], 0)), data_dir: dir.path().to_owned(), ..Config::default() };
    config.log_level = "error".into();
    config.auth.password_memory_kib = 1024;
    config.auth.password_iterations = 1;
    let automations = &mut config.connectors.automations;
    automations.allow_loopback_destinations = true;
    automations.pipedrive_base_url = pipedrive.uri();
    automations.chat_min_interval_ms = 0;
    if engine == "postgres" {
        config.database_url =
            Some(tidings_store::testing::postgres_schema_url().await.context("TIDINGS_TEST_POSTGRES_URL is not set")?);
    }
    let app = Application::build(config).await?;
    let base = format!("http://{}", app.local_addr());
    let db = app.state().db.clone();
    let running = tokio::spawn(app.run(shutdown.clone()));

    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let (intake, authorization) = set_up(&client, &base, &pipedrive, &receiver, &receiver_base, scenario).await?;
    let template: Value = serde_json::from_str(&fixture("v2_deal_won.json")?)?;
    let bodies: Vec<Bytes> = (0..total).map(|i| Bytes::from(deal_won(&template, scenario, i))).collect();

    eprintln!("{engine}/{}: {rate} deals/s for {secs} s…", scenario.name());
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let refused = Arc::new(AtomicUsize::new(0));
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    let mut posts = Vec::with_capacity(total);
    for (i, body) in bodies.into_iter().enumerate() {
        tokio::time::sleep_until((start + interval * u32::try_from(i)?).into()).await;
        let request = client
            .post(&intake)
            .header("authorization", &authorization)
            .header("content-type", "application/json")
            .body(body);
        let (sent_at, refused) = (sent_at.clone(), refused.clone());
        posts.push(tokio::spawn(async move {
            sent_at[i].store(u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
            match request.send().await {
                Ok(response) if response.status().is_success() => {}
                _ => {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for post in posts {
        post.await?;
    }
    let refused = refused.load(Ordering::Relaxed);
    // Wait for the last deliveries: until all arrived, or nothing arrived for ten seconds.
    let arrived = || receiver.arrived_at.iter().filter(|at| at.load(Ordering::Relaxed) > 0).count();
    let (mut seen, mut quiet_since) = (arrived(), Instant::now());
    while seen < total - refused && quiet_since.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = arrived();
        if now > seen {
            (seen, quiet_since) = (now, Instant::now());
        }
    }
    // Repeats would come after the originals: give them a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let first_sent = sent_at.iter().map(|at| at.load(Ordering::Relaxed)).filter(|at| *at > 0).min().unwrap_or(0);
    let last_arrival = receiver.arrived_at.iter().map(|at| at.load(Ordering::Relaxed)).max().unwrap_or(0);
    let mut latencies: Vec<u64> = sent_at
        .iter()
        .zip(&receiver.arrived_at)
        .filter_map(|(sent, arrived)| match arrived.load(Ordering::Relaxed) {
            0 => None,
            at => Some((at - 1).saturating_sub(sent.load(Ordering::Relaxed))),
        })
        .collect();
    latencies.sort_unstable();
    let at = |p: f64| {
        let index = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len().max(1)) - 1;
        Duration::from_nanos(latencies.get(index).copied().unwrap_or_default())
    };
    let counts: Vec<u32> = receiver.arrivals.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let delivered = counts.iter().filter(|c| **c > 0).count();
    let span = Duration::from_nanos((last_arrival.saturating_sub(1)).saturating_sub(first_sent));
    let row = Row {
        engine,
        scenario,
        rate,
        sent: total,
        delivered_per_sec: delivered as f64 / span.as_secs_f64().max(f64::EPSILON),
        p50: at(0.50),
        p99: at(0.99),
        max: at(1.0),
        refused,
        lost: total - delivered,
        duplicated: counts.iter().map(|c| c.saturating_sub(1) as usize).sum(),
        bad_signatures: receiver.bad_signatures.load(Ordering::Relaxed) + receiver.unrecognised.load(Ordering::Relaxed),
    };
    shutdown.cancel();
    running.await??;
    db.close().await;
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
    let chat_rate = env_number("TIDINGS_BENCH_RATE", 1_000)?.max(1);
    let webhook_rate = env_number("TIDINGS_BENCH_WEBHOOK_RATE", 2_000)?.max(1);
    let secs = env_number("TIDINGS_BENCH_SECS", 10)?.max(1);
    let only = std::env::var("TIDINGS_BENCH_ONLY").unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut engines = vec!["sqlite"];
    if std::env::var("TIDINGS_TEST_POSTGRES_URL").is_ok() {
        engines.push("postgres");
    }
    let mut rows = Vec::new();
    for engine in engines {
        for (scenario, rate) in [(Scenario::Chat, chat_rate), (Scenario::Webhook, webhook_rate)] {
            let name = [engine, scenario.name()];
            if !only.is_empty() && !only.split('/').all(|part| name.contains(&part)) {
                continue;
            }
            rows.push(runtime.block_on(run(engine, scenario, rate, secs))?);
        }
    }
    println!(
        "| engine | destination | rate | deals | delivered/s | webhook sent → received p50 | p99 | max | non-2xx | lost | duplicated | bad signatures |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut failed = Vec::new();
    for r in &rows {
        println!(
            "| {} | {} | {}/s | {} | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {} | {} | {} | {} |",
            r.engine,
            r.scenario.name(),
            r.rate,
            r.sent,
            r.delivered_per_sec,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.max.as_secs_f64() * 1e3,
            r.refused,
            r.lost,
            r.duplicated,
            r.bad_signatures
        );
        if r.refused + r.lost + r.duplicated + r.bad_signatures > 0 {
            failed.push(format!("{}/{}: deals refused, lost, repeated or badly signed", r.engine, r.scenario.name()));
        }
        if r.p99 > TARGET_P99 {
            eprintln!("{}/{}: p99 {:?} is over the target of {TARGET_P99:?}", r.engine, r.scenario.name(), r.p99);
        }
    }
    ensure!(failed.is_empty(), "{}", failed.join("; "));
    Ok(())
}
