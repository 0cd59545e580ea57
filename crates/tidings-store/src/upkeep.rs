//! Table statistics and visibility maps on PostgreSQL servers that do not keep them.
//!
//! PostgreSQL plans a query from each table's statistics, which `ANALYZE` gathers, and answers a
//! count from an index alone only where the visibility map, which `VACUUM` sets, says the rows are
//! visible to all. Autovacuum does both as tables change. Some servers run with it off (this
//! project's CI machine, some managed offerings); there a freshly filled table has no statistics,
//! the planner picks the wrong index (a thread look-up scanned 10,000 conversations instead of
//! one), and every filtered count of the inbox reads the table's heap. So Tidings does it itself:
//! after migrations, and every [`EVERY`] while workers run, it analyses (and where rows were
//! added or removed, vacuums) its tables that autovacuum's default thresholds say are due. With
//! autovacuum on it does nothing. SQLite needs none of this (its planner does not depend on
//! `ANALYZE` for these queries and it has no visibility map).

use std::time::Duration;

use crate::db::{Db, Pools, StoreError};

/// How often workers check whether a table is due.
pub const EVERY: Duration = Duration::from_secs(10);

/// One process at a time does the upkeep (two `VACUUM`s of a table would wait for each other).
const LOCK_KEY: i64 = 0x7469_6469_6e67_7375; // "tidingsu"

/// What was done to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upkept {
    /// The table.
    pub table: String,
    /// `ANALYZE` or `VACUUM ANALYZE`.
    pub command: &'static str,
}

/// Analyses, and vacuums where due, the tables of the current schema whose changes since the
/// last time pass autovacuum's default thresholds; nothing when autovacuum is on or on SQLite.
pub async fn keep_tables_fresh(db: &Db) -> Result<Vec<Upkept>, StoreError> {
    let Pools::Postgres(pool) = db.pools() else { return Ok(Vec::new()) };
    let mut conn = pool.acquire().await?;
    let autovacuum: String = sqlx::query_scalar("SELECT current_setting('autovacuum')").fetch_one(&mut *conn).await?;
    if autovacuum == "on" {
        return Ok(Vec::new());
    }
    let locked: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(LOCK_KEY).fetch_one(&mut *conn).await?;
    if !locked {
        return Ok(Vec::new());
    }
    let done = upkeep(&mut conn).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)").bind(LOCK_KEY).execute(&mut *conn).await;
    let done = done?;
    unlocked?;
    Ok(done)
}

async fn upkeep(conn: &mut sqlx::PgConnection) -> Result<Vec<Upkept>, StoreError> {
    // autovacuum_vacuum_threshold 50 + scale 0.2 of the table (dead rows), the insert variant
    // 1,000 + 0.2 (PostgreSQL 13+: inserts alone leave pages not all-visible), and
    // autovacuum_analyze_threshold 50 + scale 0.1.
    let due: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT s.relname::text, \
         s.n_dead_tup > 50 + 0.2 * GREATEST(c.reltuples, 0) \
           OR s.n_ins_since_vacuum > 1000 + 0.2 * GREATEST(c.reltuples, 0), \
         s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0) \
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
         WHERE s.schemaname = current_schema() ORDER BY s.relname",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut done = Vec::new();
    for (table, vacuum, analyze) in due {
        let command = match (vacuum, analyze) {
            (true, _) => "VACUUM ANALYZE",
            (false, true) => "ANALYZE",
            (false, false) => continue,
        };
        // The name comes from the catalogue; quoted as an identifier all the same.
        let sql = format!("{command} \"{}\"", table.replace('"', "\"\""));
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *conn).await?;
        done.push(Upkept { table, command });
    }
    Ok(done)
}
