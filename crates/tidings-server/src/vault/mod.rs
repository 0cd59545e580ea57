//! The vault: every credential Tidings stores for a workspace (platform tokens, webhook secrets,
//! SMTP passwords), encrypted at rest with envelope encryption (ADR 0005).
//!
//! Each workspace has a random data key, stored only wrapped by the master key; each secret is
//! sealed with its workspace's data key and bound to its workspace and name. The database never
//! sees a plaintext credential or an unwrapped key. A master key is replaced without touching a
//! single secret: `tidings admin rotate-master-key` re-wraps the data keys.

mod service;
mod store;

pub use service::{KeyRole, MasterKeyUsage, RotationFailure, RotationReport, Vault, VaultError};
pub use tidings_core::crypto::SecretBytes;
