//! Signing and verifying webhooks per the Standard Webhooks specification, for the generic
//! webhooks Tidings sends (and any receiver written against the spec's libraries).
//!
//! * Three headers: `webhook-id` (the message id, the same on every retry so receivers can
//!   deduplicate), `webhook-timestamp` (unix seconds) and `webhook-signature`.
//! * The signature is `v1,` + base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed with
//!   the secret's bytes. The secret is shown to users as `whsec_` + base64 of those bytes.
//! * `webhook-signature` holds several space-separated signatures while a secret is being
//!   rotated: the sender signs with the old and the new secret, and a receiver that knows either
//!   accepts the message. Receivers refuse timestamps more than five minutes away from now.
//!
//! Spec: <https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>.
//! The `standard_webhooks_interop` test checks our signatures with the official Python library.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

use crate::{WebhookError, WebhookHeaders};

/// The message id header.
pub const ID_HEADER: &str = "webhook-id";
/// The timestamp header (unix seconds).
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// How a secret is written for people.
pub const SECRET_PREFIX: &str = "whsec_";
/// How far a timestamp may be from the receiver's clock, either way.
pub const TOLERANCE_SECS: i64 = 5 * 60;
/// The length of generated secrets: the spec asks for 24 to 64 bytes.
const GENERATED_SECRET_BYTES: usize = 32;

/// A signing secret.
#[derive(Clone)]
pub struct WebhookSecret(SecretSlice<u8>);

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// Not base64 after the `whsec_` prefix.
    #[error("the secret is not base64 (expected whsec_ followed by base64)")]
    NotBase64,
    /// Fewer than 24 or more than 64 bytes, outside what the spec allows.
    #[error("the secret is {0} bytes; the Standard Webhooks spec requires 24 to 64")]
    BadLength(usize),
}

impl WebhookSecret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        let mut key = vec![0u8; GENERATED_SECRET_BYTES];
        rand::rng().fill_bytes(&mut key);
        Self(SecretSlice::from(key))
    }

    /// Reads `whsec_<base64>` (the prefix is optional, padding too).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.trim();
        let encoded = encoded.strip_prefix(SECRET_PREFIX).unwrap_or(encoded).trim_end_matches('=');
        let key =
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded).map_err(|_| SecretError::NotBase64)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::BadLength(key.len()));
        }
        Ok(Self(SecretSlice::from(key)))
    }

    /// The secret as users copy it: `whsec_` + base64.
    pub fn to_whsec(&self) -> SecretString {
        SecretString::from(format!("{SECRET_PREFIX}{}", BASE64.encode(self.0.expose_secret())))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret()).expect("HMAC takes keys of any length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac
    }

    /// `v1,<base64 HMAC-SHA256(id.timestamp.body)>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", BASE64.encode(self.mac(id, timestamp, body).finalize().into_bytes()))
    }
}

/// The three headers of one signed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: String,
    /// `webhook-signature`: one `v1,…` per secret, space-separated.
    pub signature: String,
}

impl SignedHeaders {
    /// The headers as name/value pairs.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [(ID_HEADER, &self.id), (TIMESTAMP_HEADER, &self.timestamp), (SIGNATURE_HEADER, &self.signature)]
    }
}

/// Signs `body` with every secret in `secrets` (the current one, plus the previous one while
/// rotating), so a receiver that knows any of them accepts it.
pub fn sign(secrets: &[WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> SignedHeaders {
    let signature = secrets.iter().map(|secret| secret.sign(id, timestamp, body)).collect::<Vec<_>>().join(" ");
    SignedHeaders { id: id.to_owned(), timestamp: timestamp.to_string(), signature }
}

/// A new message id: `msg_` and 26 random base32 characters. Keep it for every retry of the
/// same message: receivers deduplicate on it.
pub fn new_message_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bytes = [0u8; 26];
    rand::rng().fill_bytes(&mut bytes);
    let suffix: String = bytes.iter().map(|b| char::from(ALPHABET[usize::from(b % 32)])).collect();
    format!("msg_{suffix}")
}

/// Verifies a message against any of `secrets` at `now_secs`: the timestamp must be within
/// [`TOLERANCE_SECS`] and one of the `v1` signatures must match (compared in constant time).
/// Signatures of other versions are skipped, as the spec asks.
pub fn verify(
    secrets: &[WebhookSecret],
    headers: &WebhookHeaders,
    body: &[u8],
    now_secs: i64,
) -> Result<(), WebhookError> {
    let header = |name: &'static str| {
        headers
            .get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(WebhookError::MissingSignature { header: name })
    };
    let (id, timestamp, signatures) = (header(ID_HEADER)?, header(TIMESTAMP_HEADER)?, header(SIGNATURE_HEADER)?);
    let timestamp: i64 =
        timestamp.parse().map_err(|_| WebhookError::Malformed("webhook-timestamp is not a number".into()))?;
    let age = now_secs.saturating_sub(timestamp);
    if age.saturating_abs() > TOLERANCE_SECS {
        return Err(WebhookError::Stale { age_secs: age, max_secs: TOLERANCE_SECS });
    }
    let candidates: Vec<Vec<u8>> = signatures
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|encoded| BASE64.decode(encoded).ok())
        .collect();
    let matches = secrets.iter().any(|secret| {
        candidates.iter().any(|candidate| secret.mac(id, timestamp, body).verify_slice(candidate).is_ok())
    });
    if matches { Ok(()) } else { Err(WebhookError::BadSignature) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_bad_ones_are_refused() {
        let secret = WebhookSecret::generate();
        let text = secret.to_whsec();
        assert!(text.expose_secret().starts_with("whsec_"));
        let again = WebhookSecret::parse(text.expose_secret()).expect("parses");
        assert_eq!(again.sign("msg_1", 1, b"{}"), secret.sign("msg_1", 1, b"{}"));
        assert_eq!(WebhookSecret::parse("whsec_***").err(), Some(SecretError::NotBase64));
        assert_eq!(WebhookSecret::parse("whsec_c2hvcnQ=").err(), Some(SecretError::BadLength(5)));
    }

    #[test]
    fn message_ids_are_prefixed_and_distinct() {
        let (a, b) = (new_message_id(), new_message_id());
        assert!(a.starts_with("msg_") && a.len() == 30, "{a}");
        assert_ne!(a, b);
    }
}
