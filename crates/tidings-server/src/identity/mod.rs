//! Identity: accounts, workspaces and their members, roles and permissions, sessions and
//! API keys. Every tenant-scoped handler starts from the [`Auth`] extractor defined here.

mod api_error;
pub mod auth;
pub mod dto;
mod emails;
pub mod pages;
pub mod password;
pub mod routes;
pub mod service;
pub mod session;
pub mod store;
pub mod tokens;
pub mod totp;

pub use crate::access::{Auth, Permission, Role};
pub use auth::TwoFactorExempt;
pub use service::{Identity, IdentityError};
