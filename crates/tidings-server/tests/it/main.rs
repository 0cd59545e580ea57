//! The server suite: the real application on a random port with a fresh database, driven over HTTP.

mod api;
mod browser;
mod helpers;
mod identity;
mod identity_mail;
mod mail;
mod vault;
