//! Envelope encryption: AES-256-GCM, pure functions, no I/O.
//!
//! Two layers of keys (ADR 0005):
//!
//! * the **master key** (`secrets::MasterKey`, configured per installation) wraps
//! * one **data key** per workspace ([`DataKey`], random, stored only wrapped), which encrypts
//!   that workspace's credentials.
//!
//! This module takes keys as bytes and knows nothing of where they come from; `secrets` loads the
//! master key and calls it, never the other way round.
//!
//! Every sealed value is `nonce (12 bytes) || ciphertext || tag (16 bytes)`, with a fresh random
//! nonce per encryption. Every encryption is bound to where the value belongs by its associated
//! data ([`Aad`]): a ciphertext copied to another workspace or another secret's row fails to
//! decrypt instead of yielding the wrong credential.

use aes_gcm::aead::{Aead, AeadInPlace, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce};
use rand::RngCore;
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretBox, SecretSlice};
use sha2::{Digest, Sha256};

use crate::WorkspaceId;

/// Bytes of a key (AES-256).
pub const KEY_LEN: usize = 32;
/// Bytes of the random nonce in front of every sealed value (96 bits, as GCM prefers).
pub const NONCE_LEN: usize = 12;
/// Bytes of the authentication tag at the end of every sealed value.
pub const TAG_LEN: usize = 16;

/// Decrypted bytes: wiped from memory when dropped, never printed by `Debug`.
pub type SecretBytes = SecretSlice<u8>;

/// Why a value could not be sealed or opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The sealed value is shorter than a nonce and a tag, so it cannot be ours.
    #[error("sealed value is {0} bytes, shorter than a nonce and a tag ({min} bytes)", min = NONCE_LEN + TAG_LEN)]
    Truncated(usize),
    /// The tag did not verify: wrong key, wrong context (associated data) or tampered bytes.
    #[error("decryption failed: wrong key, wrong context or tampered ciphertext")]
    Decrypt,
    /// Encryption failed (only for inputs far larger than anything Tidings stores).
    #[error("encryption failed")]
    Encrypt,
    /// An unwrapped data key does not have the length of a key.
    #[error("unwrapped data key is {0} bytes, expected {KEY_LEN}")]
    KeyLength(usize),
}

/// The associated data a ciphertext is bound to: a purpose and the parts naming its place.
///
/// Each part is length-prefixed, so `("ab", "c")` and `("a", "bc")` never collide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aad(Vec<u8>);

impl Aad {
    /// Associated data for `purpose` (a fixed, versioned label such as `tidings.secret.v1`).
    pub fn new(purpose: &str) -> Self {
        Self(Vec::new()).with(purpose)
    }

    /// Appends one part.
    pub fn with(mut self, part: &str) -> Self {
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(part.as_bytes());
        self
    }

    /// For a workspace's data key wrapped by the master key: bound to the workspace.
    pub fn workspace_key(workspace_id: &WorkspaceId) -> Self {
        Self::new("tidings.workspace-key.v1").with(workspace_id.as_str())
    }

    /// For a workspace's named secret: bound to the workspace and the name.
    pub fn secret(workspace_id: &WorkspaceId, name: &str) -> Self {
        Self::new("tidings.secret.v1").with(workspace_id.as_str()).with(name)
    }

    /// The bytes authenticated alongside the ciphertext.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A workspace's data key: random, 256 bits, wiped from memory when dropped.
pub struct DataKey(SecretBox<[u8; KEY_LEN]>);

impl DataKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self(SecretBox::init_with_mut(|key: &mut [u8; KEY_LEN]| rand::rng().fill_bytes(key)))
    }

    /// Encrypts `plaintext` bound to `aad`; returns `nonce || ciphertext || tag`.
    pub fn encrypt(&self, plaintext: &[u8], aad: &Aad) -> Result<Vec<u8>, CryptoError> {
        seal(self.0.expose_secret(), plaintext, aad)
    }

    /// Decrypts what [`DataKey::encrypt`] produced with the same `aad`.
    pub fn decrypt(&self, sealed: &[u8], aad: &Aad) -> Result<SecretBytes, CryptoError> {
        open(self.0.expose_secret(), sealed, aad)
    }

    /// A key derived from the master key for secrets that belong to no workspace (a member's
    /// two-factor secret): SHA-256(`label` || master key). `label` names the purpose and its
    /// version (`"tidings totp key v1"`), so each purpose gets an unrelated key.
    pub fn derive(master_key: &[u8; KEY_LEN], label: &str) -> Self {
        let digest = Sha256::new().chain_update(label.as_bytes()).chain_update(master_key).finalize();
        Self(SecretBox::init_with_mut(|key: &mut [u8; KEY_LEN]| key.copy_from_slice(&digest)))
    }

    /// Wraps (encrypts) this key under `wrapping_key` (the master key), bound to `aad` (see
    /// [`Aad::workspace_key`]).
    pub fn wrap(&self, wrapping_key: &[u8; KEY_LEN], aad: &Aad) -> Result<Vec<u8>, CryptoError> {
        seal(wrapping_key, self.0.expose_secret(), aad)
    }

    /// Unwraps what [`DataKey::wrap`] produced with the same `wrapping_key` and `aad`.
    pub fn unwrap(wrapping_key: &[u8; KEY_LEN], wrapped: &[u8], aad: &Aad) -> Result<Self, CryptoError> {
        let opened = open(wrapping_key, wrapped, aad)?;
        let bytes = opened.expose_secret();
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::KeyLength(bytes.len()));
        }
        Ok(Self(SecretBox::init_with_mut(|key: &mut [u8; KEY_LEN]| key.copy_from_slice(bytes))))
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// The short, stable fingerprint naming a master key in stored rows and messages: the first
/// 16 hex digits of SHA-256(`"tidings-master-key-id"` || key). It reveals nothing usable about
/// the key.
pub fn master_key_fingerprint(key: &[u8; KEY_LEN]) -> String {
    let digest = Sha256::new().chain_update(b"tidings-master-key-id").chain_update(key).finalize();
    digest.iter().take(8).map(|byte| format!("{byte:02x}")).collect()
}

fn cipher(key: &[u8; KEY_LEN]) -> Aes256Gcm {
    let key: &Key<Aes256Gcm> = key.into();
    Aes256Gcm::new(key)
}

fn seal(key: &[u8; KEY_LEN], plaintext: &[u8], aad: &Aad) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let ciphertext = cipher(key)
        .encrypt(<&Nonce<_>>::from(&nonce), Payload { msg: plaintext, aad: aad.as_bytes() })
        .map_err(|_| CryptoError::Encrypt)?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

fn open(key: &[u8; KEY_LEN], sealed: &[u8], aad: &Aad) -> Result<SecretBytes, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Truncated(sealed.len()));
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Truncated(sealed.len()))?;
    let mut buffer = ciphertext.to_vec();
    cipher(key).decrypt_in_place(nonce.into(), aad.as_bytes(), &mut buffer).map_err(|_| CryptoError::Decrypt)?;
    // Copy into an exactly sized allocation, so turning it into a boxed slice cannot reallocate
    // and leave an unwiped copy behind, then wipe the working buffer.
    let plaintext = SecretBytes::from(buffer.as_slice().to_vec());
    buffer.zeroize();
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> WorkspaceId {
        WorkspaceId::generate()
    }

    #[test]
    fn a_secret_round_trips() {
        let key = DataKey::generate();
        let aad = Aad::secret(&workspace(), "google.refresh_token");
        let sealed = key.encrypt(b"1//0gLq-refresh-token", &aad).expect("sealed");
        assert_eq!(sealed.len(), NONCE_LEN + b"1//0gLq-refresh-token".len() + TAG_LEN);
        assert_eq!(key.decrypt(&sealed, &aad).expect("opened").expose_secret(), b"1//0gLq-refresh-token");
        let empty = key.encrypt(b"", &aad).expect("sealed");
        assert!(key.decrypt(&empty, &aad).expect("opened").expose_secret().is_empty());
    }

    #[test]
    fn any_flipped_bit_is_detected() {
        let key = DataKey::generate();
        let aad = Aad::secret(&workspace(), "smtp.password");
        let sealed = key.encrypt(b"hunter2", &aad).expect("sealed");
        for index in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[index] ^= 0x01;
            assert_eq!(key.decrypt(&tampered, &aad).err(), Some(CryptoError::Decrypt), "byte {index}");
        }
        assert_eq!(key.decrypt(&sealed[..NONCE_LEN + TAG_LEN - 1], &aad).err(), Some(CryptoError::Truncated(27)));
        assert_eq!(key.decrypt(&sealed[..sealed.len() - 1], &aad).err(), Some(CryptoError::Decrypt));
    }

    #[test]
    fn a_ciphertext_moved_to_another_place_does_not_decrypt() {
        let key = DataKey::generate();
        let (here, elsewhere) = (workspace(), workspace());
        let sealed = key.encrypt(b"token", &Aad::secret(&here, "a")).expect("sealed");
        assert!(key.decrypt(&sealed, &Aad::secret(&here, "b")).is_err(), "another name");
        assert!(key.decrypt(&sealed, &Aad::secret(&elsewhere, "a")).is_err(), "another workspace");
        assert!(key.decrypt(&sealed, &Aad::workspace_key(&here)).is_err(), "another purpose");
        assert_ne!(Aad::new("x").with("ab").with("c"), Aad::new("x").with("a").with("bc"));
    }

    #[test]
    fn the_wrong_key_does_not_decrypt() {
        let aad = Aad::secret(&workspace(), "a");
        let sealed = DataKey::generate().encrypt(b"token", &aad).expect("sealed");
        assert_eq!(DataKey::generate().decrypt(&sealed, &aad).err(), Some(CryptoError::Decrypt));
    }

    #[test]
    fn every_encryption_uses_a_fresh_nonce() {
        let key = DataKey::generate();
        let aad = Aad::secret(&workspace(), "a");
        let nonces: std::collections::HashSet<Vec<u8>> =
            (0..200).map(|_| key.encrypt(b"same plaintext", &aad).expect("sealed")[..NONCE_LEN].to_vec()).collect();
        assert_eq!(nonces.len(), 200);
    }

    #[test]
    fn a_wrapped_data_key_unwraps_to_the_same_key() {
        let (master, other) = ([7u8; KEY_LEN], [8u8; KEY_LEN]);
        let workspace_id = workspace();
        let aad = Aad::workspace_key(&workspace_id);
        let key = DataKey::generate();
        let wrapped = key.wrap(&master, &aad).expect("wrapped");
        assert_eq!(wrapped.len(), NONCE_LEN + KEY_LEN + TAG_LEN);
        let unwrapped = DataKey::unwrap(&master, &wrapped, &aad).expect("unwrapped");
        let secret_aad = Aad::secret(&workspace_id, "a");
        let sealed = key.encrypt(b"token", &secret_aad).expect("sealed");
        assert_eq!(unwrapped.decrypt(&sealed, &secret_aad).expect("opened").expose_secret(), b"token");
        assert_eq!(DataKey::unwrap(&other, &wrapped, &aad).err(), Some(CryptoError::Decrypt));
        assert_eq!(
            DataKey::unwrap(&master, &wrapped, &Aad::workspace_key(&workspace())).err(),
            Some(CryptoError::Decrypt)
        );
    }

    #[test]
    fn the_master_key_fingerprint_is_short_stable_and_distinct() {
        let id = master_key_fingerprint(&[7u8; KEY_LEN]);
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(id, master_key_fingerprint(&[7u8; KEY_LEN]));
        assert_ne!(id, master_key_fingerprint(&[8u8; KEY_LEN]));
    }

    #[test]
    fn derived_keys_depend_on_the_master_key_and_the_label() {
        let aad = Aad::new("tidings.totp-secret.v1").with("usr_1");
        let sealed = DataKey::derive(&[7u8; KEY_LEN], "tidings totp key v1").encrypt(b"seed", &aad).expect("sealed");
        let again = DataKey::derive(&[7u8; KEY_LEN], "tidings totp key v1");
        assert_eq!(again.decrypt(&sealed, &aad).expect("opened").expose_secret(), b"seed");
        let other_label = DataKey::derive(&[7u8; KEY_LEN], "tidings other key v1");
        assert_eq!(other_label.decrypt(&sealed, &aad).err(), Some(CryptoError::Decrypt));
        let other_master = DataKey::derive(&[8u8; KEY_LEN], "tidings totp key v1");
        assert_eq!(other_master.decrypt(&sealed, &aad).err(), Some(CryptoError::Decrypt));
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        assert_eq!(format!("{:?}", DataKey::generate()), "DataKey([redacted])");
    }
}
