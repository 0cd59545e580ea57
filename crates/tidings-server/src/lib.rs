//! The Tidings server: the HTTP API, the dashboard and the wiring of background workers.
//!
//! Each capability owns a folder with its routes, domain logic, jobs and pages; `app` merges
//! them and layers the middleware in one place.

pub mod access;
pub mod app;
pub mod audit;
pub mod automations;
pub mod channels;
mod dashboard;
pub mod demo;
pub mod events;
mod http;
pub mod identity;
pub mod inbox;
pub mod mail;
mod openapi;
pub mod pipeline;
mod state;
mod system;
pub mod telemetry;
pub mod vault;

pub use app::{Application, Mode, StartError, api_document};
pub use state::{AppState, Services};
