//! Where reviews and messages come from: the business's locations and the platform accounts
//! connected to them, kept in sync by polling and webhooks.

pub mod accounts;
mod api_error;
pub mod breaker;
pub mod credentials;
pub mod dto;
pub mod guides;
pub mod model;
pub mod oauth_flow;
pub mod outbound;
pub mod pages;
pub mod platforms;
pub mod profiles;
pub mod routes;
pub mod service;
pub mod store;
pub mod sync;
pub mod sync_api;
mod validation;
pub mod webhooks;
