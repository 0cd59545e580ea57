//! The AI pipeline (issue 14): what Tidings understands about each item and how it answers.
//! `replies/`: reply generation, knowledge base, budgets and auto-reply.

pub mod replies;
