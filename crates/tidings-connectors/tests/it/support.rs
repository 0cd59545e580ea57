//! Helpers shared by the connector tests.

use secrecy::SecretString;
use tidings_connectors::{AccountRef, Credentials};

/// A fixture file's text, from `tests/fixtures/<platform>/<name>`.
pub fn fixture(platform: &str, name: &str) -> String {
    let path = format!("{}/tests/fixtures/{platform}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// A fixture parsed as JSON.
pub fn fixture_json(platform: &str, name: &str) -> serde_json::Value {
    serde_json::from_str(&fixture(platform, name)).expect("fixture is JSON")
}

/// An account with an access token (OAuth token, Page token or API key).
pub fn account_with_token(external_id: &str, token: &str) -> AccountRef {
    AccountRef {
        external_id: external_id.to_owned(),
        credentials: Credentials { access_token: Some(SecretString::from(token.to_owned())), ..Credentials::default() },
    }
}

/// Unix milliseconds of an RFC 3339 time.
pub fn ms(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339).expect("valid time").timestamp_millis()
}

/// The form fields (or query pairs) of an urlencoded string, in order.
pub fn form_pairs(encoded: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(encoded).expect("urlencoded")
}
