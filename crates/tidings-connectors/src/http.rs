//! What every client shares: one way to send a request and turn the platform's answer into
//! a value or a [`ConnectorError`].

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::ConnectorError;

/// The longest wait a `Retry-After` may ask for before it is clamped.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Sends a request and decodes a JSON answer, mapping failures by status:
/// 429 → `RateLimited` (with `Retry-After`), 401/403 → `Unauthorized`, 5xx and connection
/// errors → `Unavailable`, other 4xx → `Rejected`, undecodable bodies → `Malformed`.
pub async fn send_json<T: DeserializeOwned>(
    platform: &'static str,
    request: RequestBuilder,
) -> Result<T, ConnectorError> {
    let response = send(platform, request).await?;
    let bytes = response.bytes().await.map_err(|e| ConnectorError::Unavailable { platform, message: e.to_string() })?;
    serde_json::from_slice(&bytes).map_err(|e| ConnectorError::Malformed { platform, message: e.to_string() })
}

/// Sends a request and checks its status as [`send_json`] does, returning the response.
pub async fn send(platform: &'static str, request: RequestBuilder) -> Result<Response, ConnectorError> {
    let response = request.send().await.map_err(|e| request_error(platform, &e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = retry_after(&response);
    let body = response.text().await.unwrap_or_default();
    Err(error_for_status(platform, status, retry_after, &body))
}

/// A request that got no answer: refused by the SSRF guard (not worth retrying), or a connection
/// failure or timeout (worth retrying).
pub fn request_error(platform: &'static str, error: &reqwest::Error) -> ConnectorError {
    match crate::ssrf::refusal(error) {
        Some(refused) => ConnectorError::ForbiddenDestination(refused),
        None => ConnectorError::Unavailable { platform, message: error.to_string() },
    }
}

/// The error a non-success status means.
pub fn error_for_status(
    platform: &'static str,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> ConnectorError {
    let message = short(body);
    match status.as_u16() {
        429 => ConnectorError::RateLimited { platform, retry_after },
        401 | 403 => ConnectorError::Unauthorized { platform, message },
        // The status leads the message so logs show which 5xx it was (`HTTP 503: …`).
        code @ 500..=599 => ConnectorError::Unavailable { platform, message: format!("HTTP {code}: {message}") },
        code => ConnectorError::Rejected { platform, status: code, message },
    }
}

/// The `Retry-After` header as a duration (seconds or an HTTP date), clamped to [`MAX_RETRY_AFTER`].
pub fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, chrono::Utc::now())
}

/// Parses a `Retry-After` value relative to `now`.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        (at.with_timezone(&chrono::Utc) - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The first 300 characters of an error body, for messages and logs.
fn short(body: &str) -> String {
    body.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates_and_clamps() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").map(|t| t.to_utc());
        let now = now.expect("valid time");
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
