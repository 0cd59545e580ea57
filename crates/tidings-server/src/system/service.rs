//! Readiness: can this process do its work right now?

use std::time::Duration;

use crate::AppState;

/// One check's outcome.
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// The database answers, every migration is applied, and no due job has waited too long.
pub async fn readiness(state: &AppState) -> Vec<Check> {
    let database = match tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await {
        Ok(Ok(())) => Check { name: "database", ok: true, detail: format!("{} reachable", state.db.engine()) },
        Ok(Err(error)) => Check { name: "database", ok: false, detail: error.to_string() },
        Err(_) => Check { name: "database", ok: false, detail: "no answer within 2 s".to_owned() },
    };
    if !database.ok {
        return vec![database];
    }
    let migrations = match state.db.pending_migrations().await {
        Ok(pending) if pending.is_empty() => Check { name: "migrations", ok: true, detail: "all applied".to_owned() },
        Ok(pending) => {
            Check { name: "migrations", ok: false, detail: format!("{} pending: run `tidings migrate`", pending.len()) }
        }
        Err(error) => Check { name: "migrations", ok: false, detail: error.to_string() },
    };
    let stall_after = state.config.queue.stall_after_secs as f64;
    let queue = match state.queue.stats().await {
        Ok(stats) => match stats.iter().find(|s| s.oldest_ready_age_secs > stall_after) {
            Some(stalled) => Check {
                name: "queue",
                ok: false,
                detail: format!(
                    "queue `{}` stalled: a job has waited {:.0} s (limit {stall_after:.0} s)",
                    stalled.queue, stalled.oldest_ready_age_secs
                ),
            },
            None => Check { name: "queue", ok: true, detail: "flowing".to_owned() },
        },
        Err(error) => Check { name: "queue", ok: false, detail: error.to_string() },
    };
    vec![database, migrations, queue]
}

/// Refreshes the gauges read at scrape time: queue depths and database pool figures.
pub async fn refresh_gauges(state: &AppState) {
    if let Ok(stats) = state.queue.stats().await {
        for queue in stats {
            for (state_name, depth) in [
                ("ready", queue.ready),
                ("scheduled", queue.scheduled),
                ("running", queue.running),
                ("dead", queue.dead),
            ] {
                metrics::gauge!("tidings_queue_depth", "queue" => queue.queue.clone(), "state" => state_name)
                    .set(depth as f64);
            }
            metrics::gauge!("tidings_queue_oldest_ready_age_seconds", "queue" => queue.queue)
                .set(queue.oldest_ready_age_secs);
        }
    }
    let pool = state.db.pool_stats();
    metrics::gauge!("tidings_db_pool_connections", "state" => "open").set(f64::from(pool.open));
    metrics::gauge!("tidings_db_pool_connections", "state" => "idle").set(pool.idle as f64);
}
