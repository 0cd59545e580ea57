//! Time in Tidings is UTC, stored as integer milliseconds since the Unix epoch.
//!
//! Both storage engines compare and index plain integers the same way, which keeps
//! every time-based query (queue claims, leases, schedules) identical on SQLite and PostgreSQL.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC.
pub type UnixMillis = i64;

/// The current time in milliseconds since the Unix epoch.
pub fn now_millis() -> UnixMillis {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// A duration as whole milliseconds, saturating instead of overflowing.
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
