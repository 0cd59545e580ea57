//! The store suite: every test runs once on SQLite and once on PostgreSQL.

mod common;
mod queue;
mod queue_batch;
mod schema;
mod typed_rows;
