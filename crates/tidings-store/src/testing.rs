//! Test support: a fresh database per test, on either engine.
//!
//! PostgreSQL tests read `TIDINGS_TEST_POSTGRES_URL`. Without it they are skipped with a printed
//! reason, unless `TIDINGS_TEST_REQUIRE_ALL=1` (as in CI), where a skip is a failure.

use tidings_core::time::now_millis;

/// Prefix of the schemas test runs create.
const SCHEMA_PREFIX: &str = "tidings_test_";

/// True when every test must really run (CI).
pub fn require_all() -> bool {
    std::env::var("TIDINGS_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// A URL whose connections use a new, empty schema of their own, or `None` (reason printed)
/// when no PostgreSQL is configured. Schemas older than an hour, left by earlier runs, are dropped.
pub async fn postgres_schema_url() -> Option<String> {
    let Ok(base) = std::env::var("TIDINGS_TEST_POSTGRES_URL") else {
        assert!(!require_all(), "TIDINGS_TEST_REQUIRE_ALL=1 but TIDINGS_TEST_POSTGRES_URL is not set");
        eprintln!("skipped: set TIDINGS_TEST_POSTGRES_URL to run the PostgreSQL variant of this test");
        return None;
    };
    let admin = sqlx::PgPool::connect(&base).await.expect("connect to TIDINGS_TEST_POSTGRES_URL");
    let existing: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'tidings_test_%'")
            .fetch_all(&admin)
            .await
            .expect("list schemas");
    let hour_ago = now_millis() / 1000 - 3600;
    for schema in existing {
        let created: i64 =
            schema.trim_start_matches(SCHEMA_PREFIX).split('_').next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if created < hour_ago {
            let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&admin).await;
        }
    }
    let schema = format!("{SCHEMA_PREFIX}{}_{}", now_millis() / 1000, uuid::Uuid::now_v7().simple());
    let create = format!("CREATE SCHEMA {schema}");
    sqlx::query(sqlx::AssertSqlSafe(create)).execute(&admin).await.expect("create schema");
    admin.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{separator}options=-c%20search_path%3D{schema}"))
}
