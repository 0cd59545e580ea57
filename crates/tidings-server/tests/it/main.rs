//! The server suite: the real application on a random port with a fresh database, driven over HTTP.

mod api;
mod authenticator;
mod browser;
mod dashboard_identity;
mod dashboard_profile;
mod helpers;
mod identity;
mod identity_mail;
mod mail;
mod tenancy;
mod two_factor;
mod vault;
