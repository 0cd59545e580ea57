//! Signatures, challenges and freshness, checked against values computed independently.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tidings_connectors::WebhookError;
use tidings_connectors::signature::{
    answer_hub_challenge, check_freshness, hmac_sha256, sign_hub, sign_x, verify_hub_signature, verify_x_signature,
    x_crc_response,
};

use crate::messaging_support::{FIVE_MIN_MS, query};

const BODY: &[u8] = br#"{"object":"page","entry":[]}"#;

/// HMAC-SHA256 computed straight from the `hmac` crate, not through the code under test.
fn reference_hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

#[test]
fn hmac_matches_the_reference_and_a_published_vector() {
    assert_eq!(hmac_sha256(b"app-secret", BODY).to_vec(), reference_hmac(b"app-secret", BODY));
    // Vector published in the WhatsApp Elixir SDK docs (hexdocs.pm/whatsapp_sdk, WhatsApp.Webhook.compute_signature).
    assert_eq!(sign_hub(b"secret", b"test"), "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914");
}

#[test]
fn a_correctly_signed_meta_body_verifies() {
    let header = format!("sha256={}", hex::encode(reference_hmac(b"app-secret", BODY)));
    assert_eq!(verify_hub_signature(b"app-secret", Some(&header), BODY), Ok(()));
    assert_eq!(
        verify_hub_signature(b"app-secret", Some(&header.to_uppercase().replace("SHA256=", "sha256=")), BODY),
        Ok(())
    );
}

#[test]
fn a_tampered_body_or_wrong_secret_is_a_bad_signature() {
    let header = sign_hub(b"app-secret", BODY);
    assert_eq!(
        verify_hub_signature(b"app-secret", Some(&header), br#"{"object":"page","entry":[1]}"#),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(verify_hub_signature(b"other-secret", Some(&header), BODY), Err(WebhookError::BadSignature));
    // Another algorithm or a digest that is not hex is refused, never downgraded.
    let sha1 = header.replace("sha256=", "sha1=");
    assert_eq!(verify_hub_signature(b"app-secret", Some(&sha1), BODY), Err(WebhookError::BadSignature));
    assert_eq!(verify_hub_signature(b"app-secret", Some("sha256=zz"), BODY), Err(WebhookError::BadSignature));
}

#[test]
fn a_missing_meta_header_is_a_missing_signature() {
    let missing = Err(WebhookError::MissingSignature { header: "X-Hub-Signature-256" });
    assert_eq!(verify_hub_signature(b"app-secret", None, BODY), missing);
    assert_eq!(verify_hub_signature(b"app-secret", Some("  "), BODY), missing);
}

#[test]
fn x_signatures_are_base64_and_checked_the_same_way() {
    let header = format!("sha256={}", BASE64.encode(reference_hmac(b"consumer-secret", BODY)));
    assert_eq!(sign_x(b"consumer-secret", BODY), header);
    assert_eq!(verify_x_signature(b"consumer-secret", Some(&header), BODY), Ok(()));
    assert_eq!(verify_x_signature(b"consumer-secret", Some(&header), b"{}"), Err(WebhookError::BadSignature));
    assert_eq!(verify_x_signature(b"wrong", Some(&header), BODY), Err(WebhookError::BadSignature));
    assert_eq!(verify_x_signature(b"consumer-secret", Some("sha256=***"), BODY), Err(WebhookError::BadSignature));
    let missing = Err(WebhookError::MissingSignature { header: "X-Twitter-Webhooks-Signature" });
    assert_eq!(verify_x_signature(b"consumer-secret", None, BODY), missing);
}

#[test]
fn crc_response_is_base64_hmac_of_the_token() {
    let expected = format!("sha256={}", BASE64.encode(reference_hmac(b"consumer-secret", b"crc-token-1")));
    assert_eq!(x_crc_response(b"consumer-secret", "crc-token-1"), expected);
    // The consumer secret and token of X's CRC sample code (gist jcipriano/373d4d441e8041f775b6227c0e2fd1f3);
    // the expected value was computed with Python's hmac/base64, an implementation independent of ours.
    assert_eq!(
        x_crc_response(b"z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu", "9b4507b3-9040-4669-9ca3-6b94edb50553"),
        "sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="
    );
}

#[test]
fn hub_challenge_is_echoed_only_for_our_token() {
    let ok = query(&[("hub.mode", "subscribe"), ("hub.verify_token", "tok"), ("hub.challenge", "1158201444")]);
    let answer = answer_hub_challenge(b"tok", &ok).expect("matching token");
    assert_eq!((answer.content_type, answer.body.as_str()), ("text/plain", "1158201444"));

    let wrong = query(&[("hub.mode", "subscribe"), ("hub.verify_token", "nope"), ("hub.challenge", "1")]);
    assert!(matches!(answer_hub_challenge(b"tok", &wrong), Err(WebhookError::ChallengeFailed(_))));
    let unsubscribe = query(&[("hub.mode", "unsubscribe"), ("hub.verify_token", "tok"), ("hub.challenge", "1")]);
    assert!(matches!(answer_hub_challenge(b"tok", &unsubscribe), Err(WebhookError::ChallengeFailed(_))));
    let no_challenge = query(&[("hub.mode", "subscribe"), ("hub.verify_token", "tok")]);
    assert!(matches!(answer_hub_challenge(b"tok", &no_challenge), Err(WebhookError::ChallengeFailed(_))));
    // An unconfigured (empty) token matches nothing, not even an empty one.
    let empty = query(&[("hub.mode", "subscribe"), ("hub.verify_token", ""), ("hub.challenge", "1")]);
    assert!(matches!(answer_hub_challenge(b"", &empty), Err(WebhookError::ChallengeFailed(_))));
}

#[test]
fn events_older_or_further_ahead_than_five_minutes_are_stale() {
    let now = 1_750_000_000_000;
    assert_eq!(check_freshness(now - 60_000, now, FIVE_MIN_MS), Ok(()));
    assert_eq!(check_freshness(now + 60_000, now, FIVE_MIN_MS), Ok(()));
    assert_eq!(
        check_freshness(now - 10 * 60_000, now, FIVE_MIN_MS),
        Err(WebhookError::Stale { age_secs: 600, max_secs: 300 })
    );
    assert!(matches!(check_freshness(now + 10 * 60_000, now, FIVE_MIN_MS), Err(WebhookError::Stale { .. })));
    assert_eq!(check_freshness(0, now, 0), Ok(()), "max_age 0 disables the check");
}
