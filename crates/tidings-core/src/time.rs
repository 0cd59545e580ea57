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

/// The time `days` whole days before now: where a retention period ends.
pub fn days_ago(days: u32) -> UnixMillis {
    now_millis() - i64::from(days) * 86_400_000
}

/// A duration as whole milliseconds, saturating instead of overflowing.
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// RFC 3339 in UTC with millisecond precision (`2026-11-25T10:30:00.000Z`), as the API shows times.
pub fn to_rfc3339(at: UnixMillis) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
