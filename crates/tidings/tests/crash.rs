//! Crash safety of webhook intake: a process is killed (SIGKILL) while a load generator posts
//! webhooks. Afterwards every delivery that was acknowledged with a 200 is present exactly once
//! and processed into the inbox: on SQLite after a restart, on PostgreSQL by the other of two
//! processes sharing the database, which takes over the killed one's leased jobs.

use std::collections::BTreeSet;
use std::future::Future;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::json;
use sqlx::sqlite::SqlitePoolOptions;
use tidings_connectors::Platform;
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

/// Signs up an owner and returns the new workspace's id.
async fn sign_up(client: &reqwest::Client, base: &str) -> String {
    let signup = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": "owner@example.com", "password": "correct horse battery", "name": "Owner", "workspaceName": "Shop"}))
        .send()
        .await
        .expect("sign-up");
    assert_eq!(signup.status(), 201);
    let workspace: serde_json::Value = signup.json().await.expect("json");
    workspace["data"]["workspaceId"].as_str().expect("workspace").to_owned()
}

/// Connects the test's Messenger page to `workspace`, as the set-up page would (same SQL on both engines).
const CONNECT_PAGE: &str = "INSERT INTO channel_connections (id, workspace_id, platform, external_account_id, \
     display_name, status, sync_interval_secs, created_at, updated_at) VALUES ('con_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b', \
     $1, 'messenger', $2, 'Page', 'active', 900, 0, 0)";

/// Sixteen senders posting unique deliveries, spread over the servers at `bases`, until stopped.
struct Load {
    acknowledged: Arc<Mutex<BTreeSet<String>>>,
    stop: Arc<AtomicBool>,
    senders: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(client: &reqwest::Client, bases: &[String]) -> Self {
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

/// Waits (a minute at most) until `pending` counts no delivery left to process.
async fn until_processed<F: Future<Output = i64>>(pending: impl Fn() -> F) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = pending().await;
        if left == 0 {
            return;
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
    let workspace = sign_up(&client, &base).await;
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("data/tidings.db").display());
    let db = SqlitePoolOptions::new().max_connections(1).connect(&url).await.expect("open the database");
    sqlx::query(CONNECT_PAGE).bind(&workspace).bind(PAGE_ID).execute(&db).await.expect("connect the page");

    let load = Load::start(&client, std::slice::from_ref(&base));
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
    let workspace = sign_up(&client, &bases[0]).await;
    let db = sqlx::PgPool::connect(&url).await.expect("connect to PostgreSQL");
    sqlx::query(CONNECT_PAGE).bind(&workspace).bind(PAGE_ID).execute(&db).await.expect("connect the page");

    let load = Load::start(&client, &bases);
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
