//! The unified inbox: reviews and messages from every platform as one stream of conversations a
//! team reads, filters, assigns and answers.

pub mod analysis;
mod api_error;
pub mod csv;
pub mod dto;
pub mod ingest;
pub mod ingest_batch;
pub mod live;
pub mod locations;
pub mod model;
pub mod outbox;
pub mod pages;
pub mod query;
pub mod routes;
pub mod saved_replies;
pub mod search;
pub mod service;
pub mod snooze;
pub mod store;
pub mod tasks;
pub mod window;
pub mod zone;
