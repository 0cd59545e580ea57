//! Agents 1 and 6: the input guardrail (is this message safe to hand to a model and worth an
//! answer?) and the output guardrail (may this reply be sent?).

mod input;
mod output;
mod profanity;
mod relevance;

pub use input::{InputCheck, InputFlag, check_input};
pub use output::{ReplyCheck, ReplyContext, Violation, ViolationKind, check_reply, luhn_valid};
pub use relevance::Subject;
