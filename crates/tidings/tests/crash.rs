//! Crash safety: a process is killed (SIGKILL) while a load generator posts webhooks.
//!
//! * Intake: every delivery that was acknowledged with a 200 is present exactly once and
//!   processed into the inbox: on SQLite after a restart, on PostgreSQL by the other of two
//!   processes sharing the database, which takes over the killed one's leased jobs.
//! * Signed outbound webhooks: with a rule sending every received message to a Standard Webhooks
//!   receiver (this test), every acknowledged message reaches the receiver after the restart,
//!   correctly signed, under exactly one `webhook-id` — a resend after the kill may repeat the
//!   id, which receivers drop, but never sends the message as a second one.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use secrecy::SecretString;
use serde_json::json;
use sqlx::sqlite::SqlitePoolOptions;
use tidings_connectors::standard_webhooks::{self, WebhookSecret};
use tidings_connectors::{Platform, WebhookHeaders};
use tidings_server::channels::platforms::WebhookSecrets;
use tidings_server::demo::deliveries::{self, Delivery, Incoming};

const APP_SECRET: &str = "crash-test-app-secret";
const PAGE_ID: &str = "104729585";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Starts `tidings serve` in `dir` on `port`, with `env` added (a PostgreSQL URL, a lease).
fn start(dir: &Path, port: u16, env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tidings"))
        .current_dir(dir)
        .arg("serve")
        .env("TIDINGS_LISTEN", format!("127.0.0.1:{port}"))
        .env("TIDINGS_LOG_LEVEL", "warn")
        .env("TIDINGS_CONNECTORS__META__APP_SECRET", APP_SECRET)
        .env("TIDINGS_DEMO__SEED_ON_EMPTY", "false")
        .env("TIDINGS_DEMO__SIMULATE", "false")
        .env("TIDINGS_AUTH__PASSWORD_MEMORY_KIB", "1024")
        .env("TIDINGS_AUTH__PASSWORD_ITERATIONS", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tidings starts")
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{base}/ready")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("tidings did not become ready");
}

/// A signed Messenger delivery of one message, as Meta sends it.
fn delivery(secrets: &WebhookSecrets, mid: &str) -> Delivery {
    let text = format!("message {mid}");
    let incoming = Incoming {
        account_id: PAGE_ID,
        sender_id: &mid[..6],
        sender_name: "Sender",
        message_id: mid,
        text: &text,
        sent_at_ms: tidings_core::time::now_millis(),
    };
    deliveries::message(Platform::Messenger, secrets, &incoming).expect("a Messenger delivery")
}

/// Signs up an owner; returns the new workspace's id and the owner's access token.
async fn sign_up(client: &reqwest::Client, base: &str) -> (String, String) {
    let signup = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": "owner@example.com", "password": "correct horse battery", "name": "Owner", "workspaceName": "Shop"}))
        .send()
        .await
        .expect("sign-up");
    assert_eq!(signup.status(), 201);
    let session: serde_json::Value = signup.json().await.expect("json");
    let data = &session["data"];
    (
        data["workspaceId"].as_str().expect("workspace").to_owned(),
        data["accessToken"].as_str().expect("token").to_owned(),
    )
}

/// Connects the test's Messenger page to `workspace`, as the set-up page would (same SQL on both engines).
const CONNECT_PAGE: &str = "INSERT INTO channel_connections (id, workspace_id, platform, external_account_id, \
     display_name, status, sync_interval_secs, created_at, updated_at) VALUES ('con_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b', \
     $1, 'messenger', $2, 'Page', 'active', 900, 0, 0)";

/// Sixteen senders posting unique deliveries, `pause` apart each, spread over the servers at
/// `bases`, until stopped.
struct Load {
    acknowledged: Arc<Mutex<BTreeSet<String>>>,
    stop: Arc<AtomicBool>,
    senders: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(client: &reqwest::Client, bases: &[String], pause: Duration) -> Self {
        let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let secrets = Arc::new(WebhookSecrets {
            meta_app_secret: SecretString::from(APP_SECRET),
            meta_verify_token: SecretString::from("unused"),
            x_consumer_secret: SecretString::from("unused"),
        });
        let senders = (0..16)
            .map(|sender| {
                let (client, acknowledged, stop) = (client.clone(), acknowledged.clone(), stop.clone());
                let (secrets, base) = (secrets.clone(), bases[sender % bases.len()].clone());
                tokio::spawn(async move {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let mid = format!("m{sender:03}x{n:06}");
                        let delivery = delivery(&secrets, &mid);
                        let sent = client
                            .post(format!("{base}/webhooks/messenger"))
                            .header("content-type", "application/json")
                            .header(delivery.header, delivery.signature)
                            .body(delivery.body)
                            .timeout(Duration::from_secs(5))
                            .send()
                            .await;
                        match sent {
                            Ok(response) if response.status().is_success() => {
                                acknowledged.lock().expect("lock").insert(mid);
                            }
                            Ok(response) => panic!("refused: {}", response.status()),
                            // The server is gone: a delivery in flight was never acknowledged.
                            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                        }
                        tokio::time::sleep(pause).await;
                    }
                })
            })
            .collect();
        Self { acknowledged, stop, senders }
    }

    /// Stops the senders; returns the message ids of every acknowledged delivery.
    async fn stop(self) -> BTreeSet<String> {
        self.stop.store(true, Ordering::Relaxed);
        for sender in self.senders {
            sender.await.expect("sender");
        }
        let acknowledged = self.acknowledged.lock().expect("lock").clone();
        assert!(acknowledged.len() > 100, "the load generator got going ({} acknowledged)", acknowledged.len());
        acknowledged
    }
}

/// Every acknowledged delivery is stored, none twice (`stored`: message id and its count).
fn assert_exactly_once(acknowledged: &BTreeSet<String>, stored: Vec<(String, i64)>) {
    assert!(stored.iter().all(|(_, count)| *count == 1), "no message is stored twice");
    let stored: BTreeSet<String> = stored.into_iter().map(|(id, _)| id).collect();
    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged deliveries were lost, e.g. {:?}", lost.len(), lost.first());
}

/// Waits (three minutes at most) until `pending` counts no delivery left to process, saying how
/// many are left every 5 s. The bound is for liveness only: the processes are debug builds that
/// analyse and automate every message, about 50 deliveries/s on a loaded 2-core machine, and a
/// 2.5 s burst leaves ~3,500 behind.
async fn until_processed<F: Future<Output = i64>>(pending: impl Fn() -> F) {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(180);
    let mut next_report = start;
    loop {
        let left = pending().await;
        if left == 0 {
            return;
        }
        if Instant::now() >= next_report {
            eprintln!("{:>5.1} s: {left} deliveries to process", start.elapsed().as_secs_f64());
            next_report += Duration::from_secs(5);
        }
        assert!(Instant::now() < deadline, "{left} deliveries never processed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const PENDING: &str = "SELECT COUNT(*) FROM raw_events WHERE status <> 'processed'";
const STORED: &str = "SELECT external_id, COUNT(*) FROM messages WHERE platform = 'messenger' GROUP BY external_id";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_webhooks_survive_a_kill_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = start(dir.path(), port, &[]);
    wait_ready(&client, &base).await;
    let (workspace, _) = sign_up(&client, &base).await;
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("data/tidings.db").display());
    let db = SqlitePoolOptions::new().max_connections(1).connect(&url).await.expect("open the database");
    sqlx::query(CONNECT_PAGE).bind(&workspace).bind(PAGE_ID).execute(&db).await.expect("connect the page");

    let load = Load::start(&client, std::slice::from_ref(&base), Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    let acknowledged = load.stop().await;

    let mut restarted = start(dir.path(), port, &[]);
    wait_ready(&client, &base).await;
    until_processed(|| async { sqlx::query_scalar(PENDING).fetch_one(&db).await.expect("count") }).await;
    assert_exactly_once(&acknowledged, sqlx::query_as(STORED).fetch_all(&db).await.expect("messages"));
    restarted.kill().expect("stop");
    let _ = restarted.wait();
}

/// Scale-out's guarantee: two processes share one PostgreSQL database and the load; one is killed
/// mid-load and not restarted. The survivor takes over the jobs the dead one had leased once their
/// (short) lease expires, and every delivery either process acknowledged is stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_postgres_lose_nothing_when_one_is_killed() {
    let Some(url) = tidings_store::testing::postgres_schema_url().await else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [("TIDINGS_DATABASE_URL", url.as_str()), ("TIDINGS_QUEUE__LEASE_SECS", "2")];
    let client = reqwest::Client::new();
    let bases: Vec<String> = (0..2).map(|_| format!("http://127.0.0.1:{}", free_port())).collect();
    let port = |base: &str| base.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    let mut first = start(dir.path(), port(&bases[0]), &env);
    wait_ready(&client, &bases[0]).await;
    let mut second = start(dir.path(), port(&bases[1]), &env);
    wait_ready(&client, &bases[1]).await;
    let (workspace, _) = sign_up(&client, &bases[0]).await;
    let db = sqlx::PgPool::connect(&url).await.expect("connect to PostgreSQL");
    sqlx::query(CONNECT_PAGE).bind(&workspace).bind(PAGE_ID).execute(&db).await.expect("connect the page");

    let load = Load::start(&client, &bases, Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    // The survivor keeps taking its half of the load a while longer.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let acknowledged = load.stop().await;

    until_processed(|| async { sqlx::query_scalar(PENDING).fetch_one(&db).await.expect("count") }).await;
    assert_exactly_once(&acknowledged, sqlx::query_as(STORED).fetch_all(&db).await.expect("messages"));
    second.kill().expect("stop");
    let _ = second.wait();
}

/// What the Standard Webhooks receiver got: per message id (from the text), the `webhook-id`s
/// it came under, and how many posts were refused for their signature.
#[derive(Default)]
struct Received {
    secret: Option<WebhookSecret>,
    ids_by_message: BTreeMap<String, BTreeSet<String>>,
    posts: usize,
    bad_signatures: usize,
}

async fn receive(State(received): State<Arc<Mutex<Received>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let answered = record(&received, &headers, &body);
    // A receiver that takes a moment to answer, so that the kill finds posts in flight: they
    // arrived, but Tidings never heard so, and sends them again with the same id.
    tokio::time::sleep(Duration::from_millis(20)).await;
    answered
}

fn record(received: &Mutex<Received>, headers: &HeaderMap, body: &[u8]) -> StatusCode {
    let mut received = received.lock().expect("lock");
    received.posts += 1;
    let pairs =
        [standard_webhooks::ID_HEADER, standard_webhooks::TIMESTAMP_HEADER, standard_webhooks::SIGNATURE_HEADER]
            .into_iter()
            .filter_map(|name| Some((name.to_owned(), headers.get(name)?.to_str().ok()?.to_owned())));
    let signed = WebhookHeaders(pairs.collect());
    let now = tidings_core::time::now_millis() / 1000;
    let valid = received
        .secret
        .as_ref()
        .is_some_and(|secret| standard_webhooks::verify(std::slice::from_ref(secret), &signed, body, now).is_ok());
    if !valid {
        received.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let text = String::from_utf8_lossy(body);
    let Some(at) = text.find("message m") else { return StatusCode::NO_CONTENT };
    let mid: String = text[at + "message ".len()..].chars().take_while(char::is_ascii_alphanumeric).collect();
    let id = signed.get(standard_webhooks::ID_HEADER).unwrap_or_default().to_owned();
    received.ids_by_message.entry(mid).or_default().insert(id);
    StatusCode::NO_CONTENT
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signed_webhooks_survive_a_kill_exactly_once() {
    let received = Arc::new(Mutex::new(Received::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
    let hook = format!("http://{}/hooks/tidings", listener.local_addr().expect("addr"));
    let router = axum::Router::new().route("/hooks/tidings", axum::routing::post(receive)).with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    // The receiver is this test, on loopback; jobs the killed process held run again after a
    // short lease.
    let env =
        [("TIDINGS_CONNECTORS__AUTOMATIONS__ALLOW_LOOPBACK_DESTINATIONS", "true"), ("TIDINGS_QUEUE__LEASE_SECS", "3")];
    let mut server = start(dir.path(), port, &env);
    wait_ready(&client, &base).await;
    let (workspace, access_token) = sign_up(&client, &base).await;
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("data/tidings.db").display());
    let db = SqlitePoolOptions::new().max_connections(1).connect(&url).await.expect("open the database");
    sqlx::query(CONNECT_PAGE).bind(&workspace).bind(PAGE_ID).execute(&db).await.expect("connect the page");
    let api = |path: &str| client.post(format!("{base}/api/v1{path}")).bearer_auth(&access_token);
    let destination: serde_json::Value = api("/destinations")
        .json(&json!({ "kind": "webhook", "name": "Ops", "url": hook }))
        .send()
        .await
        .expect("destination")
        .json()
        .await
        .expect("json");
    let secret = destination["data"]["signingSecret"].as_str().expect("a signing secret");
    received.lock().expect("lock").secret = Some(WebhookSecret::parse(secret).expect("whsec"));
    let rule = json!({ "name": "Every message", "trigger": "message_received", "conditions": [],
        "actions": [{ "type": "notify", "destinationId": destination["data"]["id"], "template": "detailed" }] });
    let created = api("/rules").json(&rule).send().await.expect("rule");
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap_or_default());

    // Paced so the backlog left at the kill is delivered within the test's patience; killed once
    // deliveries flow, so that some are in flight.
    let load = Load::start(&client, std::slice::from_ref(&base), Duration::from_millis(30));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.lock().expect("lock").posts < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    let acknowledged = load.stop().await;
    let before_kill = received.lock().expect("lock").posts;
    let mut restarted = start(dir.path(), port, &env);
    wait_ready(&client, &base).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let missing = {
            let received = received.lock().expect("lock");
            acknowledged.iter().filter(|mid| !received.ids_by_message.contains_key(*mid)).count()
        };
        if missing == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{missing} acknowledged messages never reached the receiver");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A second copy would come after the first: give it time to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    restarted.kill().expect("stop");
    let _ = restarted.wait();

    let received = received.lock().expect("lock");
    assert_eq!(received.bad_signatures, 0, "every post is signed with the destination's secret");
    let twice: Vec<_> = received.ids_by_message.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(twice.is_empty(), "{} messages were sent under two webhook-ids, e.g. {:?}", twice.len(), twice.first());
    let resent = received.posts - received.ids_by_message.len();
    eprintln!(
        "{} messages acknowledged, {before_kill} posts before the kill, {} delivered, {resent} resent with the same webhook-id",
        acknowledged.len(),
        received.ids_by_message.len()
    );
}
