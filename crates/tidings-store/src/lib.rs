//! Storage for Tidings: connection pools for SQLite and PostgreSQL, the migrations of both,
//! and the durable work queue that lives in the same database as the data it concerns.
//!
//! SQL is written once with `$1`-style placeholders, which both engines accept; the few
//! places where the dialects differ are marked where they occur.

pub mod db;
pub mod queue;
#[cfg(feature = "testing")]
pub mod testing;
pub mod upkeep;

pub use db::{Db, Engine, StoreError, Tx};
