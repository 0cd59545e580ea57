//! Urgency: how soon the sender expects an answer, from words like "urgent", "asap", "today"
//! in the supported languages, repeated exclamation marks and shouting.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::Signal;
use crate::language::Language;
use crate::text::{PhraseSet, normalised};

/// Four urgency levels, from nothing pressing to critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UrgencyLevel {
    /// Nothing pressing.
    Low,
    /// One cue.
    Medium,
    /// Several cues.
    High,
    /// Emergency wording or many cues.
    Critical,
}

/// Urgency 0..1 with its level and reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Urgency {
    /// 0 (none) .. 1 (critical).
    pub score: f32,
    /// The level the score falls in.
    pub level: UrgencyLevel,
    /// What raised it.
    pub signals: Vec<Signal>,
}

/// Cue phrases and their weights; emergencies weigh most.
const CUES: &[(&str, f32)] = &[
    ("emergency", 0.6),
    ("urgent", 0.5),
    ("urgently", 0.5),
    ("asap", 0.5),
    ("as soon as possible", 0.5),
    ("immediately", 0.4),
    ("right away", 0.4),
    ("right now", 0.35),
    ("today", 0.25),
    ("tonight", 0.25),
    ("still waiting", 0.3),
    ("deadline", 0.3),
    ("need", 0.15),
    // es / pt / it
    ("urgente", 0.5),
    ("emergencia", 0.6),
    ("emergência", 0.6),
    ("emergenza", 0.6),
    ("cuanto antes", 0.5),
    ("lo antes posible", 0.5),
    ("o mais rápido possível", 0.5),
    ("il prima possibile", 0.5),
    ("inmediatamente", 0.4),
    ("imediatamente", 0.4),
    ("immediatamente", 0.4),
    ("subito", 0.4),
    ("hoy", 0.25),
    ("hoje", 0.25),
    ("oggi", 0.25),
    ("necesito", 0.15),
    ("preciso", 0.15),
    // fr
    ("au plus vite", 0.5),
    ("dès que possible", 0.5),
    ("immédiatement", 0.4),
    ("tout de suite", 0.4),
    ("aujourd'hui", 0.25),
    // de / nl
    ("dringend", 0.5),
    ("notfall", 0.6),
    ("noodgeval", 0.6),
    ("sofort", 0.4),
    ("umgehend", 0.4),
    ("meteen", 0.4),
    ("onmiddellijk", 0.4),
    ("heute", 0.25),
    ("vandaag", 0.25),
];

static CUE_SET: LazyLock<PhraseSet> = LazyLock::new(|| PhraseSet::new(CUES.iter().map(|(cue, _)| *cue)));

/// Assesses the urgency of `text`. The cue list covers all analysed languages at once,
/// because customers mix languages and the cues do not collide.
pub(crate) fn assess(text: &str, _language: Language) -> Urgency {
    let lower = normalised(text);
    let mut signals: Vec<Signal> =
        CUE_SET.matches(&lower).into_iter().map(|i| Signal::new(CUES[i].1, format!("'{}'", CUES[i].0))).collect();
    if text.contains("!!!") {
        signals.push(Signal::new(0.2, "'!!!'"));
    } else if text.contains("!!") {
        signals.push(Signal::new(0.1, "'!!'"));
    }
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let capitals = text.chars().filter(|c| c.is_uppercase()).count();
    if letters >= 12 && capitals * 10 >= letters * 7 {
        signals.push(Signal::new(0.2, "written in capitals"));
    }
    let score = signals.iter().map(|s| s.weight).sum::<f32>().min(1.0);
    let level = match score {
        s if s >= 0.8 => UrgencyLevel::Critical,
        s if s >= 0.5 => UrgencyLevel::High,
        s if s >= 0.15 => UrgencyLevel::Medium,
        _ => UrgencyLevel::Low,
    };
    Urgency { score, level, signals }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgent_words_and_exclamations_raise_urgency_with_reasons() {
        let u = assess("URGENT: my card was charged twice, fix it today!!!", Language::En);
        assert!(u.level >= UrgencyLevel::Critical, "{u:?}");
        let reasons: Vec<&str> = u.signals.iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons.contains(&"'urgent'") && reasons.contains(&"'today'") && reasons.contains(&"'!!!'"));
    }

    #[test]
    fn calm_messages_are_low_and_other_languages_count() {
        assert_eq!(assess("Thanks for the lovely stay.", Language::En).level, UrgencyLevel::Low);
        assert!(assess("Es urgente, necesito una respuesta hoy", Language::Es).level >= UrgencyLevel::High);
        assert!(assess("Bitte dringend antworten, sofort!", Language::De).level >= UrgencyLevel::High);
        assert!(assess("Répondez-moi tout de suite", Language::Fr).level >= UrgencyLevel::Medium);
    }
}
