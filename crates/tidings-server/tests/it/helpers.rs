//! `TestApp`: the real application, started on port 0 against a fresh database.

use std::net::SocketAddr;

use tidings_core::Config;
use tidings_server::{AppState, Application};
use tokio_util::sync::CancellationToken;

/// Which storage engine a test app runs on.
#[derive(Clone, Copy, Debug)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A running Tidings, stopped when dropped.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub state: AppState,
    shutdown: CancellationToken,
    _data_dir: tempfile::TempDir,
}

impl TestApp {
    /// On SQLite.
    pub async fn spawn() -> TestApp {
        Self::spawn_on(Engine::Sqlite, |_| {}).await.expect("sqlite always runs")
    }

    /// On the given engine, after `adjust` has changed the configuration; `None` when the
    /// engine is not available here (the reason is printed).
    pub async fn spawn_on(engine: Engine, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.path().to_owned(),
            ..Config::default()
        };
        config.queue.poll_interval_ms = 50;
        if let Engine::Postgres = engine {
            config.database_url = Some(tidings_store::testing::postgres_schema_url().await?);
        }
        adjust(&mut config);
        let app = Application::build(config).await.expect("application starts");
        let addr = app.local_addr();
        let state = app.state().clone();
        let admin_token = state_admin_token(&state);
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run(shutdown.clone()));
        Some(TestApp {
            addr,
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
            admin_token,
            state,
            shutdown,
            _data_dir: data_dir,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    /// A request carrying the operator token.
    pub fn as_operator(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(&self.admin_token)
    }
}

fn state_admin_token(state: &AppState) -> String {
    state.admin_token.expose().to_owned()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Reads a JSON body.
pub async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.expect("a JSON body")
}

/// Turns `async fn name(engine: Engine)` tests into one test per storage engine.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Engine::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Engine::Postgres).await;
                }
            )*
        }
    };
}
