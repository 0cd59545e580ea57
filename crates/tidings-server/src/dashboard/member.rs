//! The signed-in person a page is shown to, and the checks every page makes on them.
//!
//! Identity decides who is signed in: the extractor (`FromRequestParts for DashboardUser`) and
//! the header's menu (`DashboardUser::menu`, `DashboardUser::page`) are in
//! `identity/session.rs`, as `Auth`'s extractor is in `identity/auth.rs`. A capability's page
//! takes a `DashboardUser` and calls `require(…)` and `page(…)` without importing identity.

use super::page::PageError;
use crate::access::{Auth, Permission};
use tidings_core::UserId;

/// A signed-in person (never an API key), acting in one workspace.
#[derive(Debug, Clone)]
pub struct DashboardUser {
    /// What the API's extractor yields: workspace, role, actor, session.
    pub auth: Auth,
    /// The person.
    pub user_id: UserId,
    /// Their session.
    pub session_id: String,
}

impl DashboardUser {
    /// A 403 page unless the member's role holds `permission` (and the member does not owe
    /// the workspace a second factor).
    pub fn require(&self, permission: Permission) -> Result<(), PageError> {
        self.require_second_factor()?;
        if self.auth.role.can(permission) {
            Ok(())
        } else {
            Err(PageError::forbidden(format!(
                "Your role in this workspace ({}) does not allow this page or action. Ask an owner or admin.",
                self.auth.role.as_str()
            )))
        }
    }

    /// A 403 page, leading to the profile page where it is turned on, while the member owes the
    /// workspace a second factor.
    pub fn require_second_factor(&self) -> Result<(), PageError> {
        if self.auth.owes_two_factor {
            return Err(PageError::forbidden(
                "This workspace requires two-factor sign-in. Turn it on for your account first, then come back.",
            )
            .with_link("/settings/profile#two-factor", "Set up two-factor sign-in"));
        }
        Ok(())
    }
}

/// Percent-encodes a query value.
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_escape("/invite?token=a b&x=é"), "/invite%3Ftoken%3Da%20b%26x%3D%C3%A9");
    }
}
