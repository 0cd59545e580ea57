//! The two process-wide secrets: the master encryption key (with the previous master keys kept
//! for reading during a rotation) and the operator token.
//!
//! Each comes from configuration when set. Otherwise it is read from a file in the data dir,
//! or generated into that file (mode 0600) on first start with a loud warning, so a
//! development install works with no set-up and keeps working across restarts.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::Config;
use crate::crypto::{self, Aad, CryptoError, DataKey};

/// File in the data dir holding the generated master key.
pub const MASTER_KEY_FILE: &str = "master.key";
/// File in the data dir holding the generated operator token.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// What losing the generated master key costs, said when it is generated.
const MASTER_KEY_IF_LOST: &str = "in production set master_key in configuration and keep a backup apart from the \
     database — without it, encrypted data cannot be read";
/// What the generated operator token is, said when it is generated: nothing depends on it.
const ADMIN_TOKEN_IF_LOST: &str = "in production set admin_token in configuration (the same in every process); it \
     only guards the operator API, nothing is encrypted with it, and a new one is generated if the file is removed";

/// Why a secret could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The configured or stored value is malformed.
    #[error("{origin}: {message}")]
    Malformed {
        /// Where the value came from (a config key or a file).
        origin: String,
        /// What is wrong with it.
        message: String,
    },
    /// Reading or writing the secret file failed.
    #[error("{path}: {source}")]
    Io {
        /// The secret file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Where a secret came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretOrigin {
    /// Configuration (`tidings.toml` or the environment).
    Configured,
    /// A file in the data dir written by an earlier start.
    Stored(PathBuf),
    /// Generated just now into a file in the data dir.
    Generated(PathBuf),
}

/// The 256-bit key that wraps every workspace's data key.
pub struct MasterKey {
    key: SecretBox<[u8; 32]>,
    id: String,
    /// Where it came from.
    pub origin: SecretOrigin,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).field("origin", &self.origin).finish_non_exhaustive()
    }
}

impl MasterKey {
    /// The configured key, or the one stored in (or generated into) the data dir.
    pub fn resolve(config: &Config) -> Result<Self, SecretError> {
        let (encoded, origin) =
            resolve_secret(config.master_key.as_ref(), &config.data_dir, MASTER_KEY_FILE, MASTER_KEY_IF_LOST, || {
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                STANDARD.encode(bytes)
            })?;
        let origin_name = match &origin {
            SecretOrigin::Configured => "master_key (TIDINGS_MASTER_KEY)".to_owned(),
            SecretOrigin::Stored(path) | SecretOrigin::Generated(path) => path.display().to_string(),
        };
        Self::decode(&encoded, &origin_name, origin)
    }

    /// Decodes base64 of exactly 32 bytes; `origin_name` names the value in errors.
    fn decode(encoded: &SecretString, origin_name: &str, origin: SecretOrigin) -> Result<Self, SecretError> {
        let malformed =
            |message: &str| SecretError::Malformed { origin: origin_name.to_owned(), message: message.to_owned() };
        let mut decoded = STANDARD
            .decode(encoded.expose_secret().trim())
            .map_err(|_| malformed("must be base64 (generate one with `openssl rand -base64 32`)"))?;
        if decoded.len() != 32 {
            decoded.zeroize();
            return Err(malformed("must decode to exactly 32 bytes (generate one with `openssl rand -base64 32`)"));
        }
        let key = SecretBox::init_with_mut(|key: &mut [u8; 32]| key.copy_from_slice(&decoded));
        decoded.zeroize();
        Ok(Self::with_key(key, origin))
    }

    fn with_key(key: SecretBox<[u8; 32]>, origin: SecretOrigin) -> Self {
        let id = crypto::master_key_fingerprint(key.expose_secret());
        Self { key, id, origin }
    }

    /// A configured key from raw bytes (for tests).
    #[cfg(test)]
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        Self::with_key(SecretBox::new(Box::new(bytes)), SecretOrigin::Configured)
    }

    /// The key's fingerprint: 16 hex digits, stable, recorded next to everything it wraps
    /// (see [`crypto::master_key_fingerprint`]).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The raw key bytes, for the encryption layer only.
    pub fn expose(&self) -> &[u8; 32] {
        self.key.expose_secret()
    }

    /// Wraps (encrypts) a data key under this key, bound to `aad` (see [`Aad::workspace_key`]).
    pub fn wrap_key(&self, key: &DataKey, aad: &Aad) -> Result<Vec<u8>, CryptoError> {
        key.wrap(self.expose(), aad)
    }

    /// Unwraps what [`MasterKey::wrap_key`] produced with the same `aad`.
    pub fn unwrap_key(&self, wrapped: &[u8], aad: &Aad) -> Result<DataKey, CryptoError> {
        DataKey::unwrap(self.expose(), wrapped, aad)
    }
}

/// Every master key this process knows: the current one, which wraps every new data key, and
/// the previous ones, kept only to read data keys they wrapped until `tidings admin
/// rotate-master-key` has re-wrapped those under the current key.
#[derive(Debug)]
pub struct MasterKeys {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl MasterKeys {
    /// The current key (as [`MasterKey::resolve`]) and every key of `previous_master_keys`.
    ///
    /// A previous key equal to the current one, or listed twice, is ignored.
    pub fn resolve(config: &Config) -> Result<Self, SecretError> {
        let current = MasterKey::resolve(config)?;
        let mut previous: Vec<MasterKey> = Vec::new();
        for (index, encoded) in config.previous_master_keys.iter().enumerate() {
            let origin_name = format!("previous_master_keys[{index}] (TIDINGS_PREVIOUS_MASTER_KEYS)");
            let key = MasterKey::decode(encoded, &origin_name, SecretOrigin::Configured)?;
            if key.id() != current.id() && previous.iter().all(|known| known.id() != key.id()) {
                previous.push(key);
            }
        }
        Ok(Self { current, previous })
    }

    /// Only `current` (for tests and tools).
    pub fn single(current: MasterKey) -> Self {
        Self { current, previous: Vec::new() }
    }

    /// The key that wraps new data keys and that rotation re-wraps to.
    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// The keys kept for reading only.
    pub fn previous(&self) -> &[MasterKey] {
        &self.previous
    }

    /// The key with this fingerprint, current or previous.
    pub fn find(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current).chain(&self.previous).find(|key| key.id() == id)
    }

    /// Every known fingerprint, the current key's first.
    pub fn ids(&self) -> Vec<&str> {
        std::iter::once(&self.current).chain(&self.previous).map(MasterKey::id).collect()
    }
}

/// The bearer token guarding the operator API.
pub struct OperatorToken {
    token: SecretString,
    /// Where it came from.
    pub origin: SecretOrigin,
}

impl OperatorToken {
    /// The configured token, or the one stored in (or generated into) the data dir.
    pub fn resolve(config: &Config) -> Result<Self, SecretError> {
        let (token, origin) = resolve_secret(
            config.admin_token.as_ref(),
            &config.data_dir,
            ADMIN_TOKEN_FILE,
            ADMIN_TOKEN_IF_LOST,
            || {
                let mut bytes = [0u8; 24];
                rand::rng().fill_bytes(&mut bytes);
                format!("tdadm_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
            },
        )?;
        Ok(Self { token, origin })
    }

    /// The token, to compare against a presented one.
    pub fn expose(&self) -> &str {
        self.token.expose_secret().trim()
    }
}

fn resolve_secret(
    configured: Option<&SecretString>,
    data_dir: &Path,
    file_name: &str,
    if_lost: &str,
    generate: impl FnOnce() -> String,
) -> Result<(SecretString, SecretOrigin), SecretError> {
    if let Some(value) = configured {
        return Ok((value.clone(), SecretOrigin::Configured));
    }
    let path = data_dir.join(file_name);
    let io_error = |source| SecretError::Io { path: path.clone(), source };
    match fs::read_to_string(&path) {
        Ok(stored) => return Ok((SecretString::from(stored), SecretOrigin::Stored(path))),
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(io_error(error)),
        Err(_) => {}
    }
    fs::create_dir_all(data_dir).map_err(io_error)?;
    let value = generate();
    write_private(&path, &value).map_err(io_error)?;
    tracing::warn!(path = %path.display(), "{}", generated_warning(&path, if_lost));
    Ok((SecretString::from(value), SecretOrigin::Generated(path)))
}

/// The start-up warning for a secret generated into `path`.
fn generated_warning(path: &Path, if_lost: &str) -> String {
    format!("GENERATED A NEW SECRET in {}: fine for development; {if_lost}", path.display())
}

/// Creates the file readable by its owner only; never overwrites an existing one.
fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(value.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_in(dir: &Path) -> Config {
        Config { data_dir: dir.to_owned(), ..Config::default() }
    }

    #[test]
    fn a_master_key_wraps_data_keys_and_is_named_by_its_fingerprint() {
        let master = MasterKey::from_bytes([7u8; 32]);
        assert_eq!(master.id(), crypto::master_key_fingerprint(&[7u8; 32]));
        let aad = Aad::new("tidings.test").with("ws_1");
        let key = DataKey::generate();
        let wrapped = master.wrap_key(&key, &aad).expect("wrapped");
        let sealed = key.encrypt(b"token", &aad).expect("sealed");
        let unwrapped = master.unwrap_key(&wrapped, &aad).expect("unwrapped");
        assert_eq!(unwrapped.decrypt(&sealed, &aad).expect("opened").expose_secret(), b"token");
        let other = MasterKey::from_bytes([8u8; 32]);
        assert_eq!(other.unwrap_key(&wrapped, &aad).err(), Some(CryptoError::Decrypt));
    }

    #[test]
    fn a_missing_key_is_generated_once_then_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config_in(dir.path());
        let first = MasterKey::resolve(&config).expect("generated");
        assert!(matches!(first.origin, SecretOrigin::Generated(_)));
        let second = MasterKey::resolve(&config).expect("stored");
        assert!(matches!(second.origin, SecretOrigin::Stored(_)));
        assert_eq!(first.expose(), second.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(MASTER_KEY_FILE)).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_configured_key_must_be_32_bytes_of_base64() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = config_in(dir.path());
        config.master_key = Some(SecretString::from("dG9vIHNob3J0"));
        let error = MasterKey::resolve(&config).expect_err("too short");
        assert!(error.to_string().contains("TIDINGS_MASTER_KEY"), "{error}");
        config.master_key = Some(SecretString::from(STANDARD.encode([7u8; 32])));
        assert_eq!(MasterKey::resolve(&config).expect("valid").expose(), &[7u8; 32]);
        assert!(!dir.path().join(MASTER_KEY_FILE).exists(), "a configured key is never written to disk");
    }

    #[test]
    fn previous_master_keys_are_decoded_named_in_errors_and_deduplicated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = config_in(dir.path());
        config.master_key = Some(SecretString::from(STANDARD.encode([1u8; 32])));
        config.previous_master_keys = vec![
            SecretString::from(STANDARD.encode([2u8; 32])),
            SecretString::from(STANDARD.encode([1u8; 32])),
            SecretString::from(STANDARD.encode([2u8; 32])),
        ];
        let keys = MasterKeys::resolve(&config).expect("valid");
        assert_eq!(keys.current().expose(), &[1u8; 32]);
        assert_eq!(keys.previous().len(), 1, "the current key and duplicates are dropped");
        let previous_id = keys.previous()[0].id().to_owned();
        assert_eq!(keys.find(&previous_id).map(MasterKey::expose), Some(&[2u8; 32]));
        assert_eq!(keys.ids(), vec![keys.current().id(), previous_id.as_str()]);
        assert!(keys.find("0000000000000000").is_none());
        assert!(!format!("{keys:?}").contains("[1, 1"), "Debug shows fingerprints, not keys");

        config.previous_master_keys.push(SecretString::from("bm90IGEga2V5"));
        let error = MasterKeys::resolve(&config).expect_err("too short");
        assert!(error.to_string().contains("previous_master_keys[3]"), "{error}");
    }

    #[test]
    fn only_the_master_keys_warning_says_encrypted_data_depends_on_it() {
        let warning = |if_lost| generated_warning(Path::new("data/x"), if_lost);
        assert!(warning(MASTER_KEY_IF_LOST).contains("without it, encrypted data cannot be read"));
        let admin = warning(ADMIN_TOKEN_IF_LOST);
        assert!(admin.contains("nothing is encrypted with it") && !admin.contains("cannot be read"), "{admin}");
    }

    #[test]
    fn the_admin_token_is_generated_with_its_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let token = OperatorToken::resolve(&config_in(dir.path())).expect("generated");
        assert!(token.expose().starts_with("tdadm_"));
        assert!(token.expose().len() > 30);
    }
}
