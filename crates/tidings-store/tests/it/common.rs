//! Fresh databases for tests: a temporary SQLite file, or a private PostgreSQL schema.

use std::time::Duration;

use tidings_core::config::DatabaseConfig;
use tidings_store::Db;

/// A migrated database that lives as long as the value.
pub struct TestDb {
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    let db = Db::connect(&url, &DatabaseConfig::default()).await.expect("open sqlite");
    db.migrate().await.expect("migrate sqlite");
    TestDb { db, _dir: Some(dir) }
}

/// A PostgreSQL schema of its own, or `None` (with the reason printed) when no server is configured.
pub async fn postgres() -> Option<TestDb> {
    let url = tidings_store::testing::postgres_schema_url().await?;
    let db = Db::connect(&url, &DatabaseConfig::default()).await.expect("open postgres");
    db.migrate().await.expect("migrate postgres");
    Some(TestDb { db, _dir: None })
}

/// Polls `check` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Turns `async fn name(db: Db)` tests into one test per storage engine.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let test_db = $crate::common::sqlite().await;
                    super::$name(test_db.db.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(test_db) = $crate::common::postgres().await else { return };
                    super::$name(test_db.db.clone()).await;
                }
            )*
        }
    };
}
