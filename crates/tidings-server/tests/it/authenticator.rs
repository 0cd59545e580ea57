//! An authenticator app in the tests: the codes a member's phone would show.

use totp_rs::{Builder, Secret, Totp};

/// The authenticator app: SHA-1, 6 digits, 30-second steps (the defaults apps assume).
pub fn authenticator(secret_base32: &str) -> Totp {
    let secret = Secret::try_from_base32(secret_base32).expect("base32 secret");
    Builder::new().with_secret(secret).build().expect("RFC-compliant secret")
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

/// The code the app shows at `at` (seconds since the epoch).
pub fn code_at(totp: &Totp, at: u64) -> String {
    totp.generate(at).to_string()
}

/// A six-digit code that is none of the app's codes around `at`.
pub fn wrong_code(totp: &Totp, at: u64) -> String {
    let near: Vec<String> = (0..5).map(|i| code_at(totp, at + i * 30 - 60)).collect();
    (0..).map(|n: u32| format!("{:06}", (n * 7919) % 1_000_000)).find(|c| !near.contains(c)).expect("a wrong code")
}
