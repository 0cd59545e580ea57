//! One reason behind a score: what was seen and how much it weighed.

use serde::{Deserialize, Serialize};

/// A weighted piece of evidence. `weight` is in the unit of the score it explains
/// (lead points, sentiment valence, urgency, risk); `reason` is what a person reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Contribution to the score (may be negative, or 0 for a note that changes no number).
    pub weight: f32,
    /// What was seen, e.g. "pricing question" or "'terrible'".
    pub reason: String,
}

impl Signal {
    /// A signal that adds `weight` for `reason`.
    pub fn new(weight: f32, reason: impl Into<String>) -> Self {
        Self { weight, reason: reason.into() }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.weight == 0.0 {
            f.write_str(&self.reason)
        } else {
            write!(f, "{:+} {}", (self.weight * 100.0).round() / 100.0, self.reason)
        }
    }
}
