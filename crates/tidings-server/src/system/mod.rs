//! The system capability: health, readiness and metrics for operators; the queue's depths and
//! dead letters; the housekeeping jobs; the dashboard's status page.

mod dto;
pub mod jobs;
pub mod pages;
pub mod routes;
pub mod service;
