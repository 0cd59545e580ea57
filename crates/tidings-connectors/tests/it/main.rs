//! The connectors' integration tests: one binary, one module per platform.

mod crm;
mod dataforseo;
mod facebook;
mod google;
mod instagram;
mod messaging_support;
mod messenger;
mod notify;
mod oauth;
mod pipedrive;
mod signature;
mod ssrf;
mod standard_webhooks;
mod support;
mod tripadvisor;
mod whatsapp;
mod x;
mod yelp;
