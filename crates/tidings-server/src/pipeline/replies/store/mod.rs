//! Reply generation's tables: settings, knowledge and templates, auto-reply per connection,
//! usage and the response cache. Every function takes the workspace first; writes run in a
//! tenant transaction (row-level security on PostgreSQL, ADR 0007).

mod knowledge;
mod log;
mod settings;
mod usage;

pub use knowledge::*;
pub use log::*;
pub use settings::*;
pub use usage::*;

/// Whether a database error is a unique-constraint violation (a duplicate name).
fn is_unique_violation(error: &tidings_store::StoreError) -> bool {
    matches!(error, tidings_store::StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
}
