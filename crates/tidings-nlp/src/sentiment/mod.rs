//! Agent 3: sentiment, urgency and emotions, VADER-style.
//!
//! The scorer follows VADER (Hutto & Gilbert, 2014): word valences from a lexicon, boosted by
//! intensifiers and ALL-CAPS, flipped and damped by negation within three words, re-weighted
//! around a contrast word ("but": ×0.5 before, ×1.5 after), emphasised by `!`, and normalised
//! to −1..1. It adds lexicons for es, fr, de, it, pt and nl (English words in any language are
//! looked up in English), Pattern's adjectives and a few review words where VADER's English
//! lexicon has no entry, a negated clause without sentiment words as an unmet expectation, praise
//! after "expected" or "wish" as disappointment, a "mixed" label when both sides weigh, and an
//! optional star-rating prior applied as a separate, explained step ([`apply_star_prior`]).
//! Accuracy and the data each rule was tuned on: docs/EVALUATION.md.

mod emotion;
mod lexicon;
mod urgency;

use serde::{Deserialize, Serialize};

pub use emotion::{Emotion, EmotionCue};
pub use urgency::{Urgency, UrgencyLevel};

use crate::Signal;
use crate::language::Language;
use crate::text::tokens;
use lexicon::Source;

/// Overall polarity of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sentiment {
    /// Mostly favourable.
    Positive,
    /// Mostly unfavourable.
    Negative,
    /// Neither, or too little to go by.
    Neutral,
    /// Favourable and unfavourable in comparable measure.
    Mixed,
}

impl Sentiment {
    /// The label as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Sentiment::Positive => "positive",
            Sentiment::Negative => "negative",
            Sentiment::Neutral => "neutral",
            Sentiment::Mixed => "mixed",
        }
    }
}

/// What agent 3 says about a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentimentAnalysis {
    /// The label.
    pub sentiment: Sentiment,
    /// −1 (very negative) .. 1 (very positive).
    pub score: f32,
    /// The words and modifiers behind the score (weights in valence units, before normalising).
    pub signals: Vec<Signal>,
    /// How pressing the message is, with reasons.
    pub urgency: Urgency,
    /// Emotions with the cues that showed them.
    pub emotions: Vec<EmotionCue>,
}

/// VADER's constants: intensifier step, ALL-CAPS step, negation factor, normalisation alpha.
const BOOST: f32 = 0.293;
const CAPS_BOOST: f32 = 0.733;
const NEGATION: f32 = -0.74;
const ALPHA: f32 = 15.0;
/// A score within this distance of 0 is neutral (VADER's usual threshold).
const NEUTRAL_BAND: f32 = 0.05;
/// Both sides must carry at least this much valence, and the weaker at least [`MIXED_RATIO`] of
/// the stronger, for a text to be mixed.
const MIXED_MIN: f32 = 2.0;
const MIXED_RATIO: f32 = 0.75;
/// Factor for praise in a hoped-for clause.
const IRREALIS: f32 = -0.5;
/// Valence of a negated clause without sentiment words.
const UNMET_EXPECTATION: f32 = -0.9;

/// Scores `text`, read as `language`.
pub fn analyse(text: &str, language: Language) -> SentimentAnalysis {
    let (score, signals, sides) = score(text, language);
    let (positive, negative) = sides;
    let sentiment = if positive >= MIXED_MIN
        && negative >= MIXED_MIN
        && positive.min(negative) >= MIXED_RATIO * positive.max(negative)
    {
        Sentiment::Mixed
    } else if score >= NEUTRAL_BAND {
        Sentiment::Positive
    } else if score <= -NEUTRAL_BAND {
        Sentiment::Negative
    } else {
        Sentiment::Neutral
    };
    SentimentAnalysis {
        sentiment,
        score,
        signals,
        urgency: urgency::assess(text, language),
        emotions: emotion::detect(text, language),
    }
}

/// The normalised score, its signals and the summed positive and negative valence.
fn score(text: &str, language: Language) -> (f32, Vec<Signal>, (f32, f32)) {
    let cues = lexicon::cues(language);
    let words = tokens(text);
    let lower: Vec<String> = words.iter().map(|t| t.raw.to_lowercase()).collect();
    let mut signals = Vec::new();
    if !lexicon::has_lexicon(language) {
        signals.push(Signal::new(
            0.0,
            format!("no sentiment lexicon for {language}: emoji, punctuation and English words only"),
        ));
    }
    let shouting = words.iter().filter(|t| is_caps(t.raw)).count();
    // ALL-CAPS only emphasises when some words are not in capitals (VADER's rule).
    let caps_differ = shouting > 0 && shouting < words.len();
    let contrast_at = lower.iter().rposition(|w| cues.contrast.contains(&w.as_str()));
    if let Some(at) = contrast_at {
        signals.push(Signal::new(
            0.0,
            format!("'{}' shifts weight to the second clause (×0.5 before, ×1.5 after)", words[at].raw),
        ));
    }

    let mut valences = Vec::with_capacity(words.len());
    let mut scored_clauses = Vec::new();
    for (i, word) in lower.iter().enumerate() {
        let Some((mut v, source)) = lexicon::valence(language, word) else { continue };
        // A modifier modifies the next word; only at the end of its clause ("it loads super!")
        // does it carry its own valence (VADER skips it always).
        let clause_goes_on = words.get(i + 1).is_some_and(|next| next.sentence == words[i].sentence);
        if is_modifier(cues, word) && clause_goes_on {
            continue;
        }
        let mut notes: Vec<String> = Vec::new();
        if caps_differ && is_caps(words[i].raw) {
            v += CAPS_BOOST * v.signum();
            notes.push("in capitals".into());
        }
        for (distance, factor) in [(1, 1.0), (2, 0.95), (3, 0.9)] {
            let Some(j) = i.checked_sub(distance) else { break };
            if words[j].sentence != words[i].sentence {
                break;
            }
            let prev = lower[j].as_str();
            if cues.boosters.contains(&prev) {
                v += BOOST * factor * v.signum();
                notes.push(format!("intensified by '{}'", words[j].raw));
            } else if cues.dampeners.contains(&prev) {
                v -= BOOST * factor * v.signum();
                notes.push(format!("softened by '{}'", words[j].raw));
            }
        }
        if !lexicon::negation_keeps_sign(word)
            && let Some(j) = (i.saturating_sub(3)..i)
                .rev()
                .find(|&j| words[j].sentence == words[i].sentence && lexicon::is_negation(language, &lower[j]))
        {
            v *= NEGATION;
            notes.push(format!("negated by '{}'", words[j].raw));
        }
        if v > 0.0
            && let Some(j) = (0..i)
                .rev()
                .take_while(|&j| words[j].sentence == words[i].sentence)
                .find(|&j| is_irrealis(language, &lower[j]))
        {
            v *= IRREALIS;
            notes.push(format!("only hoped for ('{}')", words[j].raw));
        }
        if let Some(at) = contrast_at {
            v *= if i < at { 0.5 } else { 1.5 };
        }
        let kind = match source {
            Source::Lexicon => "",
            Source::Supplement => " (Pattern)",
            Source::Reviews => " (review terms)",
            Source::Emoji => " (emoji)",
            Source::English => " (English)",
        };
        let reason = if notes.is_empty() {
            format!("'{}'{kind}", words[i].raw)
        } else {
            format!("'{}'{kind}, {}", words[i].raw, notes.join(", "))
        };
        signals.push(Signal::new(v, reason));
        valences.push(v);
        scored_clauses.push(words[i].sentence);
    }
    // A negated clause with no sentiment word states an unmet expectation in a customer's
    // message ("it does not charge", "the holster did not match the photo").
    for (j, word) in lower.iter().enumerate() {
        let clause = words[j].sentence;
        if lexicon::is_negation(language, word) && !scored_clauses.contains(&clause) {
            let mut v = UNMET_EXPECTATION;
            if let Some(at) = contrast_at {
                v *= if j < at { 0.5 } else { 1.5 };
            }
            signals.push(Signal::new(v, format!("'{}' without a sentiment word: unmet expectation", words[j].raw)));
            valences.push(v);
            scored_clauses.push(clause);
        }
    }

    let mut sum: f32 = valences.iter().sum();
    if sum != 0.0 {
        let exclamations = text.matches('!').count().min(4);
        if exclamations > 0 {
            let emphasis = exclamations as f32 * 0.292 * sum.signum();
            sum += emphasis;
            signals.push(Signal::new(emphasis, format!("{} emphasis", "!".repeat(exclamations))));
        }
    }
    let positive: f32 = valences.iter().filter(|v| **v > 0.0).sum();
    let negative: f32 = -valences.iter().filter(|v| **v < 0.0).sum::<f32>();
    let normalised = (sum / (sum * sum + ALPHA).sqrt()).clamp(-1.0, 1.0);
    (normalised, signals, (positive, negative))
}

/// Words that put what follows in the hoped-for rather than the real ("I expected better",
/// "I wish it worked"): praise after them is disappointment.
fn is_irrealis(language: Language, lower: &str) -> bool {
    language == Language::En
        && matches!(lower, "expected" | "wish" | "hoping" | "hoped" | "expect" | "should've" | "would've")
}

fn is_modifier(cues: &lexicon::Cues, word: &str) -> bool {
    cues.boosters.contains(&word) || cues.dampeners.contains(&word) || cues.contrast.contains(&word)
}

fn is_caps(word: &str) -> bool {
    word.chars().filter(|c| c.is_alphabetic()).count() >= 2 && !word.chars().any(char::is_lowercase)
}

/// Blends a review's star rating into its text score, as a separate and explained step:
/// the text keeps 70% of the weight, the stars (1★ = −1 … 5★ = +1) 30%.
pub fn apply_star_prior(analysis: &SentimentAnalysis, stars: u8) -> SentimentAnalysis {
    const STAR_WEIGHT: f32 = 0.3;
    let stars = stars.clamp(1, 5);
    let prior = (f32::from(stars) - 3.0) / 2.0;
    let score = (1.0 - STAR_WEIGHT) * analysis.score + STAR_WEIGHT * prior;
    let mut out = analysis.clone();
    out.score = score;
    if analysis.sentiment != Sentiment::Mixed {
        out.sentiment = if score >= NEUTRAL_BAND {
            Sentiment::Positive
        } else if score <= -NEUTRAL_BAND {
            Sentiment::Negative
        } else {
            Sentiment::Neutral
        };
    }
    out.signals.push(Signal::new(
        score - analysis.score,
        format!("star-rating prior: {stars}★ counts for 30% (text alone scored {:.2})", analysis.score),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(text: &str, language: Language) -> Sentiment {
        analyse(text, language).sentiment
    }

    #[test]
    fn english_basics_negation_and_intensifiers() {
        assert_eq!(label("The staff were friendly and the room was great.", Language::En), Sentiment::Positive);
        assert_eq!(label("Terrible service, I waited an hour.", Language::En), Sentiment::Negative);
        assert_eq!(label("The food was not good.", Language::En), Sentiment::Negative);
        assert_eq!(label("Our table is booked for 7pm.", Language::En), Sentiment::Neutral);
        let good = analyse("The food was good.", Language::En).score;
        let very = analyse("The food was very good.", Language::En).score;
        let caps = analyse("The food was GOOD.", Language::En).score;
        let bang = analyse("The food was good!!!", Language::En).score;
        assert!(very > good && caps > good && bang > good, "{good} {very} {caps} {bang}");
    }

    #[test]
    fn but_shifts_weight_to_the_second_clause_and_says_so() {
        let a = analyse("The room was nice but the staff were rude and unhelpful.", Language::En);
        assert_eq!(a.sentiment, Sentiment::Negative);
        assert!(a.signals.iter().any(|s| s.reason.contains("'but' shifts weight")));
        let b = analyse("The wait was annoying but the food was excellent.", Language::En);
        assert_eq!(b.sentiment, Sentiment::Positive);
    }

    #[test]
    fn explanations_name_the_words_and_their_modifiers() {
        let a = analyse("This is not terrible.", Language::En);
        let terrible = a.signals.iter().find(|s| s.reason.starts_with("'terrible'")).expect("terrible is a signal");
        assert!(terrible.reason.contains("negated by 'not'"));
        assert!(terrible.weight > 0.0);
    }

    #[test]
    fn emoji_carry_sentiment() {
        assert_eq!(label("Delivery 😡😡", Language::En), Sentiment::Negative);
        assert_eq!(label("Thanks ❤️", Language::En), Sentiment::Positive);
    }

    #[test]
    fn six_more_languages() {
        let cases = [
            ("El servicio fue excelente, muy amables.", Language::Es, Sentiment::Positive),
            ("El producto llegó roto, una experiencia horrible.", Language::Es, Sentiment::Negative),
            ("Le service était vraiment excellent.", Language::Fr, Sentiment::Positive),
            ("Ce n'est pas bon, je suis très déçu.", Language::Fr, Sentiment::Negative),
            ("Das Essen war sehr gut und das Personal freundlich.", Language::De, Sentiment::Positive),
            ("Der Service war schlecht und unfreundlich.", Language::De, Sentiment::Negative),
            ("Il personale è stato gentile e la camera bellissima.", Language::It, Sentiment::Positive),
            ("Servizio pessimo, non tornerò.", Language::It, Sentiment::Negative),
            ("Adorei o atendimento, muito bom!", Language::Pt, Sentiment::Positive),
            ("Péssimo produto, não recomendo.", Language::Pt, Sentiment::Negative),
            ("Heel vriendelijk personeel en lekker eten.", Language::Nl, Sentiment::Positive),
            ("Slechte service, nooit meer.", Language::Nl, Sentiment::Negative),
        ];
        for (text, language, expected) in cases {
            assert_eq!(label(text, language), expected, "{text}");
        }
    }

    #[test]
    fn review_language_vader_misses() {
        let unmet = analyse("The charger does not hold a charge.", Language::En);
        assert_eq!(unmet.sentiment, Sentiment::Negative);
        assert!(unmet.signals.iter().any(|s| s.reason.contains("unmet expectation")));
        let hoped = analyse("I expected better quality.", Language::En);
        assert_eq!(hoped.sentiment, Sentiment::Negative);
        assert!(hoped.signals.iter().any(|s| s.reason.contains("only hoped for ('expected')")));
        assert_eq!(label("Don't waste your money.", Language::En), Sentiment::Negative);
        assert_eq!(label("The phone loads super!", Language::En), Sentiment::Positive);
    }

    #[test]
    fn english_words_count_in_other_languages() {
        let a = analyse("Der Support war einfach awesome", Language::De);
        assert_eq!(a.sentiment, Sentiment::Positive);
        assert!(a.signals.iter().any(|s| s.reason == "'awesome' (English)"));
    }

    #[test]
    fn mixed_when_both_sides_weigh() {
        let a = analyse("I love the design. I hate the battery.", Language::En);
        assert_eq!(a.sentiment, Sentiment::Mixed);
    }

    #[test]
    fn star_prior_is_a_separate_explained_step() {
        let text = analyse("It arrived on Tuesday.", Language::En);
        assert_eq!(text.sentiment, Sentiment::Neutral);
        let with_stars = apply_star_prior(&text, 1);
        assert_eq!(with_stars.sentiment, Sentiment::Negative);
        assert!(with_stars.signals.last().is_some_and(|s| s.reason.contains("1★")));
        assert_eq!(text.score, analyse("It arrived on Tuesday.", Language::En).score, "the text score stands alone");
    }

    #[test]
    fn languages_without_lexicon_say_so() {
        let a = analyse("Dziękuję 😍", Language::Pl);
        assert_eq!(a.sentiment, Sentiment::Positive);
        assert!(a.signals[0].reason.contains("no sentiment lexicon for pl"));
    }
}
