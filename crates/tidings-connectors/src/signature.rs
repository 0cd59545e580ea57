//! Webhook verification primitives: HMAC-SHA256 signatures as Meta and X send them, the
//! challenges they use to prove we own the callback URL, and a freshness window against replays.
//!
//! Every comparison of a secret-derived value runs in constant time (`Mac::verify_slice`,
//! `subtle`), so a forger learns nothing from how long a refusal takes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{ChallengeAnswer, WebhookError};

type HmacSha256 = Hmac<Sha256>;

/// Header Meta (Messenger, Instagram, WhatsApp) signs deliveries in.
pub const HUB_SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// Header X signs Account Activity deliveries in.
pub const X_SIGNATURE_HEADER: &str = "X-Twitter-Webhooks-Signature";

/// HMAC-SHA256 of `body` under `key`.
pub fn hmac_sha256(key: &[u8], body: &[u8]) -> [u8; 32] {
    mac(key, body).finalize().into_bytes().into()
}

/// A keyed MAC over `body`. HMAC accepts keys of any length, so building one cannot fail.
fn mac(key: &[u8], body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    mac
}

/// Signs a body as Meta does: `sha256=<lowercase hex HMAC-SHA256(app_secret, body)>`.
pub fn sign_hub(app_secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(app_secret, body)))
}

/// Signs a body as X does: `sha256=<base64 HMAC-SHA256(consumer_secret, body)>`.
pub fn sign_x(consumer_secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", BASE64.encode(hmac_sha256(consumer_secret, body)))
}

/// Checks Meta's `X-Hub-Signature-256: sha256=<hex>` header against the exact body bytes.
pub fn verify_hub_signature(app_secret: &[u8], header_value: Option<&str>, body: &[u8]) -> Result<(), WebhookError> {
    let digest = signature_digest(header_value, HUB_SIGNATURE_HEADER)?;
    let expected = hex::decode(digest).map_err(|_| WebhookError::BadSignature)?;
    mac(app_secret, body).verify_slice(&expected).map_err(|_| WebhookError::BadSignature)
}

/// Checks X's `X-Twitter-Webhooks-Signature: sha256=<base64>` header against the exact body bytes.
pub fn verify_x_signature(consumer_secret: &[u8], header_value: Option<&str>, body: &[u8]) -> Result<(), WebhookError> {
    let digest = signature_digest(header_value, X_SIGNATURE_HEADER)?;
    let expected = BASE64.decode(digest).map_err(|_| WebhookError::BadSignature)?;
    mac(consumer_secret, body).verify_slice(&expected).map_err(|_| WebhookError::BadSignature)
}

/// The encoded digest after `sha256=`; a header naming another algorithm is refused outright
/// rather than downgraded.
fn signature_digest<'a>(header_value: Option<&'a str>, header: &'static str) -> Result<&'a str, WebhookError> {
    let value = header_value.map(str::trim).filter(|v| !v.is_empty());
    let value = value.ok_or(WebhookError::MissingSignature { header })?;
    value.strip_prefix("sha256=").ok_or(WebhookError::BadSignature)
}

/// X's answer to a Challenge-Response Check: `sha256=` + base64 HMAC-SHA256(consumer_secret, crc_token).
pub fn x_crc_response(consumer_secret: &[u8], crc_token: &str) -> String {
    sign_x(consumer_secret, crc_token.as_bytes())
}

/// Answers Meta's subscription check (`GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`)
/// by echoing the challenge as text, only when the token matches ours (compared in constant time).
pub fn answer_hub_challenge(verify_token: &[u8], query: &[(String, String)]) -> Result<ChallengeAnswer, WebhookError> {
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if param("hub.mode") != Some("subscribe") {
        return Err(WebhookError::ChallengeFailed("hub.mode must be subscribe".into()));
    }
    let token = param("hub.verify_token").ok_or_else(|| WebhookError::ChallengeFailed("no hub.verify_token".into()))?;
    // An unset verify token must never match an empty one sent by a prober.
    if verify_token.is_empty() || !bool::from(token.as_bytes().ct_eq(verify_token)) {
        return Err(WebhookError::ChallengeFailed("hub.verify_token does not match".into()));
    }
    let challenge = param("hub.challenge").ok_or_else(|| WebhookError::ChallengeFailed("no hub.challenge".into()))?;
    Ok(ChallengeAnswer { content_type: "text/plain", body: challenge.to_owned() })
}

/// Refuses an event stamped more than `max_age_ms` before `now_ms`, or more than `max_age_ms`
/// after it (a clock far ahead is as suspect as one far behind). `max_age_ms <= 0` disables the check.
///
/// Neither Meta nor X signs a timestamp separately: the time inside the signed body is the only
/// clock a replayed delivery carries, so that is what callers pass here.
pub fn check_freshness(event_time_ms: i64, now_ms: i64, max_age_ms: i64) -> Result<(), WebhookError> {
    if max_age_ms <= 0 {
        return Ok(());
    }
    let age_ms = now_ms.saturating_sub(event_time_ms);
    if age_ms.saturating_abs() > max_age_ms {
        return Err(WebhookError::Stale { age_secs: age_ms / 1000, max_secs: max_age_ms / 1000 });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_window_is_symmetric_and_can_be_disabled() {
        let now = 1_700_000_000_000;
        assert_eq!(check_freshness(now - 1_000, now, 5_000), Ok(()));
        assert_eq!(check_freshness(now - 6_000, now, 5_000), Err(WebhookError::Stale { age_secs: 6, max_secs: 5 }));
        assert_eq!(check_freshness(now + 6_000, now, 5_000), Err(WebhookError::Stale { age_secs: -6, max_secs: 5 }));
        assert_eq!(check_freshness(0, now, 0), Ok(()));
    }
}
