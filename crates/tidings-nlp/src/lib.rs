//! Tidings' local language understanding: the pure, offline half of the AI pipeline (input
//! guardrail, understanding, sentiment and urgency, lead scoring, the output guardrail and the
//! send/draft/hand-over decision).
//!
//! Everything here is a pure function of its input and its configuration: no I/O, no network,
//! no async, no clock. Every score carries its explanation as a list of [`Signal`]s, so the
//! dashboard can show *why* (“+30 pricing question”, “−0.74× negated by 'not'”).
//! The server wires these functions to its queue and tables; the `tidings eval` subcommand
//! measures them on labelled files ([`eval`]).

pub mod compose;
pub mod decision;
pub mod entities;
pub mod eval;
pub mod guardrail;
pub mod keywords;
pub mod language;
pub mod lead;
pub mod pipeline;
pub mod retrieval;
pub mod sentiment;
mod signal;
mod text;
pub mod understanding;

pub use signal::Signal;
