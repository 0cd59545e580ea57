//! The server suite: the real application on a random port with a fresh database, driven over HTTP.

mod abuse;
mod api;
mod authenticator;
mod browser;
mod browser_a11y;
mod browser_inbox;
mod channels_api;
mod dashboard_identity;
mod dashboard_inbox;
mod dashboard_profile;
mod demo;
mod helpers;
mod identity;
mod identity_mail;
mod inbox_api;
mod mail;
mod messaging_window;
mod outbound;
mod profiles;
mod sync;
mod tenancy;
mod text_input;
mod two_factor;
mod vault;
mod webhooks;
