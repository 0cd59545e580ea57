//! Two-factor sign-in codes: TOTP (RFC 6238 with HMAC-SHA-1, 30-second steps and 6 digits, which
//! every authenticator app speaks) and one-time recovery codes.
//!
//! Pure functions plus the encryption of the TOTP secret at rest; the flows that use them are in
//! `service/two_factor.rs`.

use std::sync::Arc;

use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use tidings_core::UserId;
use tidings_core::crypto::{Aad, CryptoError, DataKey, SecretBytes};
use totp_rs::{Algorithm, Builder, Totp, TotpError};

/// The name authenticator apps show above the account.
pub const ISSUER: &str = "Tidings";
/// Bytes of a TOTP secret: 160 bits, as RFC 4226 §4 recommends.
pub const SECRET_BYTES: usize = 20;
/// Seconds of one TOTP step.
pub const STEP_SECS: u64 = 30;
/// Recovery codes issued when two-factor sign-in is enabled.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Lower-case letters and digits without the look-alikes (0/o, 1/l/i).
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
/// Characters of a recovery code, shown as two groups of five (about 49 bits).
const RECOVERY_CODE_CHARS: usize = 10;
/// Derives the key that encrypts TOTP secrets from the master key.
const KEY_LABEL: &str = "tidings totp key v1";

/// Encrypts and decrypts members' TOTP secrets (AES-256-GCM under a key derived from the master
/// key); each ciphertext is bound to its user, so one copied onto another account does not open.
#[derive(Clone)]
pub struct TotpSecrets(Arc<Vec<DataKey>>);

impl TotpSecrets {
    /// The key for this installation's master key.
    pub fn derive(master_key: &[u8; 32]) -> Self {
        Self::derive_with_previous(master_key, &[])
    }

    /// Seals with the current master key's derivation; opens with it or a previous one, so a
    /// master-key change does not lock anyone out (`rotate-master-key` re-seals them all).
    pub fn derive_with_previous(current: &[u8; 32], previous: &[&[u8; 32]]) -> Self {
        let keys = std::iter::once(current).chain(previous.iter().copied()).map(|key| DataKey::derive(key, KEY_LABEL));
        Self(Arc::new(keys.collect()))
    }

    /// `nonce || ciphertext || tag` of `secret`, bound to `user`, under the current key.
    pub fn seal(&self, user: &UserId, secret: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.0[0].encrypt(secret, &aad(user))
    }

    /// The secret [`TotpSecrets::seal`] sealed for `user`, under the current or a previous key.
    pub fn open(&self, user: &UserId, sealed: &[u8]) -> Result<SecretBytes, CryptoError> {
        let mut last = None;
        for key in self.0.iter() {
            match key.decrypt(sealed, &aad(user)) {
                Ok(secret) => return Ok(secret),
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or(CryptoError::Decrypt))
    }
}

fn aad(user: &UserId) -> Aad {
    Aad::new("tidings.totp-secret.v1").with(user.as_str())
}

/// A fresh random secret.
pub fn new_secret() -> [u8; SECRET_BYTES] {
    let mut secret = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    secret
}

/// The authenticator for `secret`: SHA-1, 6 digits, 30 s, one step of clock skew either way.
fn authenticator(secret: &[u8], account: &str) -> Result<Totp, TotpError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(STEP_SECS)
        .with_skew(1)
        .with_secret(secret.to_vec())
        .with_issuer(Some(ISSUER))
        // A colon separates issuer and account in the label; addresses practically never hold one.
        .with_account_name(account.replace(':', "_"))
        .build()
}

/// What an authenticator app needs: the secret in base32 (to type in) and the `otpauth://` URL
/// (to scan as a QR code), labelled `Tidings:<account>`.
pub fn enrolment(secret: &[u8], account: &str) -> Result<(String, String), TotpError> {
    let totp = authenticator(secret, account)?;
    Ok((totp.secret().to_base32(), totp.to_url()?))
}

/// A submitted code without the spaces apps and people put in it.
fn normalized(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_lowercase()
}

/// Whether `code` is shaped like a TOTP code (six digits) rather than a recovery code.
pub fn is_totp_code(code: &str) -> bool {
    let code = normalized(code);
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// The time step `code` belongs to, when it is right for `secret` at `now_secs` (within one step
/// either way). Whether that step was already used is the caller's to check.
pub fn matching_step(secret: &[u8], code: &str, now_secs: u64) -> Result<Option<u64>, TotpError> {
    if !is_totp_code(code) {
        return Ok(None);
    }
    Ok(authenticator(secret, "")?.check(&normalized(code), now_secs))
}

/// Fresh recovery codes, as shown to the member (`abcde-fghjk`).
pub fn new_recovery_codes() -> Vec<String> {
    let mut rng = rand::rng();
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let chars: String = (0..RECOVERY_CODE_CHARS)
                .map(|_| char::from(RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// The stored form of a recovery code: SHA-256 of the user and the normalized code, so the same
/// code of two members hashes differently and case, spaces and the dash do not matter.
pub fn recovery_code_hash(user: &UserId, code: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"tidings recovery code v1\0")
        .chain_update(user.as_str().as_bytes())
        .chain_update(b"\0")
        .chain_update(normalized(code).as_bytes())
        .finalize();
    hex::encode(digest)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    /// RFC 6238 Appendix B, SHA-1 seed, truncated to the six digits apps show.
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let seed = b"12345678901234567890";
        for (time, code) in
            [(59, "287082"), (1_111_111_109, "081804"), (1_111_111_111, "050471"), (1_234_567_890, "005924")]
        {
            assert_eq!(matching_step(seed, code, time).expect("valid secret"), Some(time / STEP_SECS), "{time}");
        }
        assert_eq!(matching_step(seed, "287082", 59 + 30).expect("valid"), Some(1), "one step of skew");
        assert_eq!(matching_step(seed, "287082", 59 + 60).expect("valid"), None, "but not two");
        assert_eq!(matching_step(seed, "287 082", 59).expect("valid"), Some(1), "spaces are ignored");
        assert_eq!(matching_step(seed, "28708", 59).expect("valid"), None);
        assert_eq!(matching_step(seed, "abcdef", 59).expect("valid"), None);
    }

    #[test]
    fn enrolment_gives_the_base32_secret_and_an_otpauth_url() {
        let (secret, url) = enrolment(b"12345678901234567890", "ana@example.com").expect("enrolment");
        assert_eq!(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(url, format!("otpauth://totp/Tidings:ana%40example.com?secret={secret}&issuer=Tidings"));
        assert_eq!(new_secret().len(), SECRET_BYTES);
        assert_ne!(new_secret(), new_secret());
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_forgivingly_per_user() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        assert_eq!(codes.iter().collect::<std::collections::HashSet<_>>().len(), RECOVERY_CODE_COUNT);
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        assert!(!is_totp_code(code));
        let (ana, ben) = (UserId::generate(), UserId::generate());
        let typed = format!(" {} ", code.to_uppercase().replace('-', " "));
        assert_eq!(recovery_code_hash(&ana, code), recovery_code_hash(&ana, &typed));
        assert_ne!(recovery_code_hash(&ana, code), recovery_code_hash(&ben, code));
    }

    #[test]
    fn sealed_secrets_open_only_for_their_user() {
        let secrets = TotpSecrets::derive(&[3u8; 32]);
        let (ana, ben) = (UserId::generate(), UserId::generate());
        let sealed = secrets.seal(&ana, b"12345678901234567890").expect("sealed");
        assert!(!sealed.windows(20).any(|w| w == b"12345678901234567890"), "not stored in plaintext");
        assert_eq!(secrets.open(&ana, &sealed).expect("opened").expose_secret(), b"12345678901234567890");
        assert!(secrets.open(&ben, &sealed).is_err(), "bound to the user");
        assert!(TotpSecrets::derive(&[4u8; 32]).open(&ana, &sealed).is_err(), "and to the master key");
        let rotated = TotpSecrets::derive_with_previous(&[4u8; 32], &[&[3u8; 32]]);
        assert!(rotated.open(&ana, &sealed).is_ok(), "a previous master key still opens it");
    }
}
