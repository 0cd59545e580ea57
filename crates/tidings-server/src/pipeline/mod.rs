//! The AI pipeline (issue 14, ADR 0021): every inbound review or message is understood within a
//! second of arriving, and the team sees why.
//!
//! Ingestion publishes `ItemStored` in the transaction that stores an item; [`AnalysisSubscriber`]
//! turns each published batch into one `pipeline.analyse` job on the `ai` queue. The job runs
//! tidings-nlp's local agents (guardrail, understanding, sentiment with urgency and emotions,
//! lead score, decision) and stores, in one transaction: the analysis with every reason
//! (`message_analyses`), the messages' and conversations' language and sentiment, the
//! conversation's latest lead tag, a hand-off to a person (`needs_human` with the reason), and
//! `ItemAnalysed` for the capabilities that react to it (auto-replies, automations). The inbox
//! shows the analysis (`inbox/analysis.rs`); leads and lead rules have their API here.
//! `replies/`: reply generation, knowledge base, brand voice, templates, budgets and auto-reply.

mod analyse;
mod api_error;
pub mod dto;
pub mod jobs;
pub mod leads;
pub mod replay;
pub mod replies;
pub mod routes;
pub mod service;
pub mod store;

pub use jobs::{AnalyseItems, AnalysisSubscriber};
pub use service::{Mode, Pipeline, PipelineError, Report};
