//! The audit log: one append-only row per sensitive action, hash-chained per workspace so that
//! editing or deleting an entry is detectable: each entry stores the hash of
//! the entry before it.

pub mod dto;
pub mod routes;
pub mod store;

pub use store::{Actor, AuditEntry, AuditFilter, AuditResult, AuditRow, list, record, verify_chain};
