//! Reply generation (issue 14, replyforce §3.2 agent 5 with agents 6 and 7 around it, §7 cost
//! control, §8.2–8.3): drafts from any OpenAI-compatible model or, without one, from the offline
//! composer; the knowledge base they draw on (BM25), brand voice and templates; token budgets,
//! the response cache and usage per day; auto-reply per channel connection. See ADR 0022.
//!
//! * `model.rs`: which model a workspace uses, its circuit breaker, budgets and prices.
//! * `prompt.rs`: the prompt and the JSON answer asked for (pure).
//! * `generate.rs`: analysis, retrieval, model or composer, the output guardrail.
//! * `auto_reply.rs`: the subscriber to `ItemAnalysed` and the `ai.auto_reply` job.
//! * `hours.rs`: business hours in the location's time zone.
//! * `chart.rs`: the usage chart, SVG drawn on the server.
//! * `service.rs`, `store/`, `dto.rs`, `routes.rs`, `api_error.rs`, `pages.rs`: the usual shape.

mod api_error;
pub mod auto_reply;
mod chart;
pub mod dto;
mod generate;
pub mod hours;
pub mod model;
pub mod pages;
mod prompt;
pub mod routes;
pub mod service;
pub mod store;

pub use service::{Replies, RepliesError};
