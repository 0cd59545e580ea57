//! Fresh databases for tests: a temporary SQLite file, or a private PostgreSQL schema.

use std::time::Duration;

use tidings_core::config::DatabaseConfig;
use tidings_core::time::now_millis;
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
    let url = postgres_schema_url().await?;
    let db = Db::connect(&url, &DatabaseConfig::default()).await.expect("open postgres");
    db.migrate().await.expect("migrate postgres");
    Some(TestDb { db, _dir: None })
}

/// A URL whose connections use a new, empty schema. Schemas of earlier runs older than an hour are dropped.
pub async fn postgres_schema_url() -> Option<String> {
    let Ok(base) = std::env::var("TIDINGS_TEST_POSTGRES_URL") else {
        if std::env::var("TIDINGS_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1") {
            panic!("TIDINGS_TEST_REQUIRE_ALL=1 but TIDINGS_TEST_POSTGRES_URL is not set");
        }
        eprintln!("skipped: set TIDINGS_TEST_POSTGRES_URL to run the PostgreSQL variant of this test");
        return None;
    };
    let admin = sqlx::PgPool::connect(&base).await.expect("connect to TIDINGS_TEST_POSTGRES_URL");
    let stale: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'tidings_test_%'")
            .fetch_all(&admin)
            .await
            .expect("list schemas");
    let hour_ago = now_millis() / 1000 - 3600;
    for schema in stale {
        let created: i64 = schema.split('_').nth(2).and_then(|s| s.parse().ok()).unwrap_or(0);
        if created < hour_ago {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                .execute(&admin)
                .await;
        }
    }
    let schema = format!("tidings_test_{}_{}", now_millis() / 1000, uuid_suffix());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await.expect("create schema");
    admin.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{separator}options=-c%20search_path%3D{schema}"))
}

fn uuid_suffix() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{:x}{:x}", nanos, std::process::id())
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
macro_rules! on_both_backends {
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
