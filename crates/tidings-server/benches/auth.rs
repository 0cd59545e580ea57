//! Authentication costs: one login's password hashing, and the per-request overhead of
//! authenticating (JWT verification + session/membership lookup + quota) over plain HTTP.
//!
//! Run: `cargo bench -p tidings-server --bench auth`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tidings_core::config::AuthConfig;
use tidings_core::{Config, UserId, WorkspaceId};
use tidings_server::Application;
use tidings_server::identity::Role;
use tidings_server::identity::password::PasswordHashing;
use tidings_server::identity::tokens::TokenKeys;
use tokio_util::sync::CancellationToken;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(label: &str, mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    let (p50, p99) = (percentile(&samples, 0.5), percentile(&samples, 0.99));
    println!(
        "| {label} | {} | {:.1} µs | {:.1} µs | {:.1} µs |",
        samples.len(),
        mean.as_secs_f64() * 1e6,
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    (mean, p50)
}

fn login_cost() {
    let config = AuthConfig::default();
    let hashing = PasswordHashing::new(&config);
    let hash = hashing.hash("correct horse battery staple");
    let runs = 10;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        assert!(hashing.verify("correct horse battery staple", &hash));
        samples.push(started.elapsed());
    }
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / runs as u32;
    println!(
        "Password verification (argon2id, m = {} KiB, t = {}, p = 1): mean {:.0} ms, min {:.0} ms, max {:.0} ms over {runs} logins (target 50–250 ms)\n",
        config.password_memory_kib,
        config.password_iterations,
        mean.as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3,
        samples[runs - 1].as_secs_f64() * 1e3
    );
}

fn jwt_verify() {
    let keys = TokenKeys::derive(&[7; 32], "tidings", 3600);
    let token = keys.issue(&UserId::generate(), &WorkspaceId::generate(), Role::Agent, "ses_x");
    let runs = 100_000;
    let started = Instant::now();
    for _ in 0..runs {
        assert!(keys.verify(std::hint::black_box(&token)).is_some());
    }
    let per = started.elapsed() / runs;
    println!("JWT (HS256) verification alone: {:.2} µs per token over {runs}\n", per.as_secs_f64() * 1e6);
}

async fn http_overhead() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config =
        Config { listen: SocketAddr::from(([127, 0, 0, 1], 0)), data_dir: dir.path().to_owned(), ..Config::default() };
    config.rate_limits.api_per_minute.insert("free".into(), u32::MAX);
    config.log_level = "error".into();
    let app = Application::build(config).await.expect("app");
    let base = format!("http://{}", app.local_addr());
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run(shutdown.clone()));
    let client = reqwest::Client::new();
    let registered: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&serde_json::json!({"email": "bench@example.com", "password": "correct horse battery", "name": "Bench", "workspaceName": "Bench"}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let token = registered["data"]["accessToken"].as_str().expect("token").to_owned();
    let runs = 3_000;
    let measure = |path: &'static str, auth: bool| {
        let client = client.clone();
        let url = format!("{base}{path}");
        let token = token.clone();
        async move {
            let mut samples = Vec::with_capacity(runs);
            for i in 0..runs + 200 {
                let mut request = client.get(&url);
                if auth {
                    request = request.bearer_auth(&token);
                }
                let started = Instant::now();
                let response = request.send().await.expect("sent");
                assert!(response.status().is_success());
                let _ = response.bytes().await;
                if i >= 200 {
                    samples.push(started.elapsed());
                }
            }
            samples
        }
    };
    println!("| request (sequential, keep-alive, SQLite) | n | mean | p50 | p99 |\n|---|---|---|---|---|");
    let (health_mean, health_p50) = summary("GET /health (no auth)", measure("/health", false).await);
    let (me_mean, me_p50) = summary("GET /api/v1/workspace (authenticated)", measure("/api/v1/workspace", true).await);
    println!(
        "\nAuthentication + tenant context + quota overhead: {:.0} µs mean, {:.0} µs p50 per request (includes the handler's one workspace read)",
        (me_mean.saturating_sub(health_mean)).as_secs_f64() * 1e6,
        (me_p50.saturating_sub(health_p50)).as_secs_f64() * 1e6
    );
    shutdown.cancel();
}

fn main() {
    println!("## Authentication benchmark\n");
    login_cost();
    jwt_verify();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(http_overhead());
}
