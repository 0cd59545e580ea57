//! Access tokens (JWT, HS256) and opaque tokens (refresh, email, invite, API keys).
//!
//! Opaque tokens are random, shown once, and stored only as their SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tidings_core::time::now_millis;
use tidings_core::{UserId, WorkspaceId};

use crate::access::Role;

/// Claims of an access token: user (`sub`), workspace (`tid`), role, session, issue and expiry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: String,
    /// The workspace the token acts in.
    pub tid: String,
    /// The member's role there.
    pub role: Role,
    /// What that role may do.
    pub permissions: Vec<String>,
    /// The session (refresh-token family) the token was issued for.
    pub sid: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expires at (seconds).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
}

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    /// The current key first, then those derived from previous master keys, so tokens signed
    /// before a master-key change (or by a process not yet restarted) stay valid.
    decoding: Vec<DecodingKey>,
    issuer: String,
    ttl_secs: i64,
}

fn signing_secret(master_key: &[u8; 32]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(b"tidings access-token signing key v1");
    hasher.update(master_key);
    hasher.finalize().to_vec()
}

impl TokenKeys {
    /// Keys derived from the master key, so every process sharing it accepts each other's tokens.
    pub fn derive(master_key: &[u8; 32], issuer: &str, ttl_secs: u64) -> Self {
        Self::derive_with_previous(master_key, &[], issuer, ttl_secs)
    }

    /// Signs with the current master key's derivation; also accepts tokens of previous keys.
    pub fn derive_with_previous(current: &[u8; 32], previous: &[&[u8; 32]], issuer: &str, ttl_secs: u64) -> Self {
        let secret = signing_secret(current);
        let mut decoding = vec![DecodingKey::from_secret(&secret)];
        decoding.extend(previous.iter().map(|key| DecodingKey::from_secret(&signing_secret(key))));
        Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding,
            issuer: issuer.to_owned(),
            ttl_secs: i64::try_from(ttl_secs).unwrap_or(3600),
        }
    }

    /// Seconds an access token lives.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// A signed access token.
    pub fn issue(&self, user: &UserId, workspace: &WorkspaceId, role: Role, session: &str) -> String {
        let now = now_millis() / 1000;
        let claims = Claims {
            sub: user.to_string(),
            tid: workspace.to_string(),
            role,
            permissions: role.permissions().into_iter().map(|p| p.as_str().to_owned()).collect(),
            sid: session.to_owned(),
            iat: now,
            exp: now + self.ttl_secs,
            iss: self.issuer.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    /// The claims of a valid, unexpired token of ours.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.leeway = 0;
        self.decoding
            .iter()
            .find_map(|key| jsonwebtoken::decode::<Claims>(token, key, &validation).ok())
            .map(|data| data.claims)
    }
}

/// A fresh random token (`<prefix>_<43 url-safe chars>`) and the hash to store.
pub fn opaque_token(prefix: &str) -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_token(&token);
    (token, hash)
}

/// The stored form of an opaque token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_with_their_keys_only() {
        let keys = TokenKeys::derive(&[1; 32], "tidings", 3600);
        let user = UserId::generate();
        let workspace = WorkspaceId::generate();
        let token = keys.issue(&user, &workspace, Role::Agent, "ses_x");
        let claims = keys.verify(&token).expect("valid");
        assert_eq!(claims.sub, user.to_string());
        assert_eq!(claims.tid, workspace.to_string());
        assert!(claims.permissions.contains(&"write:conversations".to_owned()));
        assert_eq!(claims.exp - claims.iat, 3600);
        assert!(TokenKeys::derive(&[2; 32], "tidings", 3600).verify(&token).is_none(), "other key");
        assert!(TokenKeys::derive(&[1; 32], "other", 3600).verify(&token).is_none(), "other issuer");
        assert!(keys.verify(&format!("{token}x")).is_none(), "tampered");
        let rotated = TokenKeys::derive_with_previous(&[2; 32], &[&[1; 32]], "tidings", 3600);
        assert!(rotated.verify(&token).is_some(), "tokens of the previous master key stay valid");
        assert!(
            keys.verify(&rotated.issue(&user, &workspace, Role::Agent, "ses_y")).is_none(),
            "new tokens use the new key"
        );
    }

    #[test]
    fn opaque_tokens_are_unique_and_hashed() {
        let (a, hash_a) = opaque_token("rt");
        let (b, _) = opaque_token("rt");
        assert_ne!(a, b);
        assert!(a.starts_with("rt_"));
        assert_eq!(hash_token(&a), hash_a);
        assert_eq!(hash_a.len(), 64);
    }
}
