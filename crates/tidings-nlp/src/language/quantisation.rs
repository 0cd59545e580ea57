// Shared by `build.rs` (which writes the models) and `ngrams.rs` (which reads them), through
// `include!`, so the two cannot disagree on the scale.

/// Steps per unit of natural-log probability: lingua's `f64` log-probabilities are stored as
/// `u16` multiples of 1/2000 (an error under 0.00025 per n-gram, against differences of whole
/// units between languages), which leaves the transducers' outputs two bytes instead of eight.
const STEPS_PER_UNIT: f64 = 2000.0;

/// The stored form of a log-probability (≤ 0); the least likely n-grams (below e^−32.7) are
/// clamped.
#[allow(dead_code, reason = "ngrams.rs only decodes")]
fn quantise(log_probability: f64) -> u64 {
    (-log_probability * STEPS_PER_UNIT).round().clamp(0.0, f64::from(u16::MAX)) as u64
}

/// The log-probability a stored value stands for.
#[allow(dead_code, reason = "build.rs only encodes")]
fn log_probability(stored: u64) -> f64 {
    -(stored as f64) / STEPS_PER_UNIT
}
