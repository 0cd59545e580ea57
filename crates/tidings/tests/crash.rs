//! Crash safety of webhook intake: the process is killed (SIGKILL) while a load generator posts
//! webhooks. After a restart, every delivery that was acknowledged with a 200 is present exactly
//! once and processed into the inbox.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
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

fn start(dir: &Path, port: u16) -> Child {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_webhooks_survive_a_kill_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = start(dir.path(), port);
    wait_ready(&client, &base).await;

    let signup = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": "owner@example.com", "password": "correct horse battery", "name": "Owner", "workspaceName": "Shop"}))
        .send()
        .await
        .expect("sign-up");
    assert_eq!(signup.status(), 201);
    let workspace: serde_json::Value = signup.json().await.expect("json");
    let workspace = workspace["data"]["workspaceId"].as_str().expect("workspace").to_owned();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("data/tidings.db").display());
    let db = SqlitePoolOptions::new().max_connections(1).connect(&url).await.expect("open the database");
    sqlx::query(
        "INSERT INTO channel_connections (id, workspace_id, platform, external_account_id, display_name, status, \
         sync_interval_secs, created_at, updated_at) VALUES ('con_0193a0b4c2d87f2e9a1b2c3d4e5f6a7b', $1, 'messenger', $2, \
         'Page', 'active', 900, 0, 0)",
    )
    .bind(&workspace)
    .bind(PAGE_ID)
    .execute(&db)
    .await
    .expect("connect the page");

    // Sixteen senders post unique deliveries; the process is killed while they do.
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut senders = Vec::new();
    let secrets = Arc::new(WebhookSecrets {
        meta_app_secret: SecretString::from(APP_SECRET),
        meta_verify_token: SecretString::from("unused"),
        x_consumer_secret: SecretString::from("unused"),
    });
    for sender in 0..16 {
        let (client, base, acknowledged, stop) = (client.clone(), base.clone(), acknowledged.clone(), stop.clone());
        let secrets = secrets.clone();
        senders.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
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
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for sender in senders {
        sender.await.expect("sender");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() > 100, "the load generator got going ({} acknowledged)", acknowledged.len());

    let mut restarted = start(dir.path(), port);
    wait_ready(&client, &base).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM raw_events WHERE status <> 'processed'")
            .fetch_one(&db)
            .await
            .expect("count");
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{pending} events never processed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored: Vec<(String, i64)> =
        sqlx::query_as("SELECT external_id, COUNT(*) FROM messages WHERE platform = 'messenger' GROUP BY external_id")
            .fetch_all(&db)
            .await
            .expect("messages");
    assert!(stored.iter().all(|(_, count)| *count == 1), "no message is stored twice");
    let stored: BTreeSet<String> = stored.into_iter().map(|(id, _)| id).collect();
    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged deliveries were lost, e.g. {:?}", lost.len(), lost.first());
    restarted.kill().expect("stop");
    let _ = restarted.wait();
}
