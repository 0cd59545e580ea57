//! The audit log: one append-only row per sensitive action, hash-chained per workspace so that
//! editing or deleting an entry is detectable (replyforce §6.5 shape).

mod dto;
pub mod pages;
pub mod routes;
pub mod store;

pub use store::{Actor, AuditEntry, AuditResult, record, verify_chain};
