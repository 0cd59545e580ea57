//! Password hashing with Argon2id.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};
use tidings_core::config::AuthConfig;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Hashes and verifies passwords with the configured cost.
#[derive(Clone)]
pub struct PasswordHashing {
    params: Params,
}

impl PasswordHashing {
    /// Argon2id with the configured memory and iterations, one lane.
    pub fn new(config: &AuthConfig) -> Self {
        let params = Params::new(config.password_memory_kib, config.password_iterations, 1, None)
            .unwrap_or_else(|_| Params::default());
        Self { params }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string (`$argon2id$v=19$m=…`) carrying its own salt and parameters.
    pub fn hash(&self, password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        match self.argon2().hash_password(password.as_bytes(), &salt) {
            Ok(hash) => hash.to_string(),
            // Only reachable with parameters Params::new rejected, which `new` replaced.
            Err(error) => panic!("argon2 refused valid parameters: {error}"),
        }
    }

    /// Whether `password` matches `stored`. Uses the parameters recorded in `stored`.
    pub fn verify(&self, password: &str, stored: &str) -> bool {
        PasswordHash::new(stored).is_ok_and(|hash| self.argon2().verify_password(password.as_bytes(), &hash).is_ok())
    }

    /// Burns the time of one verification, so an unknown email answers as slowly as a wrong password.
    pub fn verify_dummy(&self, password: &str) {
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let dummy = DUMMY.get_or_init(|| self.hash("an unguessable dummy password"));
        let _ = self.verify(password, dummy);
    }
}

/// Checks a new password, returning why it is refused.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if password.len() > 1024 {
        return Err("must be at most 1024 bytes".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let config = AuthConfig { password_memory_kib: 1024, password_iterations: 1, ..AuthConfig::default() };
        let hashing = PasswordHashing::new(&config);
        let hash = hashing.hash("correct horse battery");
        assert!(hash.starts_with("$argon2id$"));
        assert!(hashing.verify("correct horse battery", &hash));
        assert!(!hashing.verify("correct horse batterY", &hash));
        assert!(!hashing.verify("anything", "not a hash"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("long enough pass").is_ok());
    }
}
