//! Helpers shared by the messaging-channel tests: fixtures, accounts and signed deliveries.

use std::collections::BTreeMap;

use secrecy::SecretString;
use tidings_connectors::{AccountRef, Credentials, WebhookHeaders};

/// Five minutes, the freshness window the tests run with.
pub const FIVE_MIN_MS: i64 = 5 * 60 * 1000;

/// The bytes of `tests/fixtures/<platform>/<name>`.
pub fn fixture(platform: &str, name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{platform}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// A secret from a literal.
pub fn secret(value: &str) -> SecretString {
    SecretString::from(value.to_owned())
}

/// An account with an access token.
pub fn account(external_id: &str, token: &str) -> AccountRef {
    let credentials = Credentials { access_token: Some(secret(token)), ..Credentials::default() };
    AccountRef { external_id: external_id.to_owned(), credentials }
}

/// Headers holding one (lower-cased) header.
pub fn headers(name: &str, value: &str) -> WebhookHeaders {
    WebhookHeaders(BTreeMap::from([(name.to_ascii_lowercase(), value.to_owned())]))
}

/// Query pairs from literals.
pub fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// The current time in unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
