//! The server suite: the real application on a random port with a fresh database, driven over HTTP.

mod api;
mod browser;
mod helpers;
mod identity;
mod mail;
mod vault;
