//! Who is calling and what they may do: the data every capability's handlers and services
//! share, below all of them (ADR 0014, layer 2).
//!
//! - [`Role`] and [`Permission`]: the roles and the permission matrix, kept as data.
//! - [`Auth`]: the authenticated caller a handler extracts (workspace, role, actor, session or
//!   key). Identity authenticates it (`impl FromRequestParts for Auth` is in
//!   `identity/auth.rs`), so a capability checks its caller without importing identity.
//! - [`Caller`]: what a service is given about the caller (workspace, actor, role, origin), and
//!   nothing of HTTP.
//! - [`Actor`] and [`Origin`]: who did something and from where, for the audit log.

mod auth;
mod origin;
mod roles;

pub use auth::{Actor, Auth, Caller};
pub use origin::{ClientAddressPolicy, Origin, origin_of};
pub use roles::{Permission, Role};
