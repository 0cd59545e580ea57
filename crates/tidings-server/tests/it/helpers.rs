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
    pub operator_token: String,
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
        // Cheap hashing keeps sign-up fast in tests; the production cost is benchmarked.
        config.auth.password_memory_kib = 1024;
        config.auth.password_iterations = 1;
        if let Engine::Postgres = engine {
            config.database_url = Some(tidings_store::testing::postgres_schema_url().await?);
        }
        adjust(&mut config);
        let app = Application::build(config).await.expect("application starts");
        let addr = app.local_addr();
        let state = app.state().clone();
        let operator_token = state_admin_token(&state);
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run(shutdown.clone()));
        Some(TestApp {
            addr,
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
            operator_token,
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
        self.client.request(method, self.url(path)).bearer_auth(&self.operator_token)
    }
}

fn state_admin_token(state: &AppState) -> String {
    state.operator_token.expose().to_owned()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A signed-in member, as the API returned them.
#[derive(Clone, Debug)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub user_id: String,
    pub workspace_id: String,
}

impl Session {
    pub fn from_tokens(body: &serde_json::Value) -> Session {
        let data = &body["data"];
        let text = |key: &str| data[key].as_str().unwrap_or_else(|| panic!("{key} in {body}")).to_owned();
        Session {
            access: text("accessToken"),
            refresh: text("refreshToken"),
            user_id: text("userId"),
            workspace_id: text("workspaceId"),
        }
    }
}

impl TestApp {
    /// Signs up a new account with its own workspace.
    pub async fn signup(&self, email: &str) -> Session {
        let response = self
            .client
            .post(self.url("/api/v1/auth/register"))
            .json(&serde_json::json!({
                "email": email, "password": "correct horse battery", "name": "Test Person", "workspaceName": format!("{email}'s shop")
            }))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), reqwest::StatusCode::CREATED, "sign-up of {email}");
        Session::from_tokens(&json(response).await)
    }

    /// Waits for the development mailer to deliver a message to `to` whose subject contains
    /// `subject`, and returns the `token` its link carries.
    pub async fn mail_token(&self, to: &str, subject: &str) -> String {
        let dir = self.state.config.data_dir.join("mail");
        for _ in 0..400 {
            for mail in tidings_server::mail::dev::list(&dir).await.unwrap_or_default() {
                if mail.to.contains(to) && mail.subject.contains(subject) {
                    let start = mail.text.find("token=").expect("a link with a token") + "token=".len();
                    let token: String = mail.text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
                    return token;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no mail to {to} about {subject:?}");
    }

    /// A request as a signed-in member (or with an API key).
    pub fn as_member(&self, token: &str, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(token)
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
