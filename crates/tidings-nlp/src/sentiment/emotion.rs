//! Emotions from lexicon cues: a short hand-written list per emotion, covering the analysed
//! languages and common emoji. A cue is evidence, not a diagnosis; each comes with the words
//! that showed it.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::language::Language;
use crate::text::{PhraseSet, normalised};

/// Plutchik's basic emotions that matter for customer messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Emotion {
    /// Frustration, rage.
    Anger,
    /// Delight, gratitude.
    Joy,
    /// Disappointment, sorrow.
    Sadness,
    /// Worry, anxiety.
    Fear,
    /// Astonishment.
    Surprise,
}

/// An emotion and the cues that showed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmotionCue {
    /// The emotion.
    pub emotion: Emotion,
    /// 0..1: share of the emotion cues in the text that point to this emotion.
    pub strength: f32,
    /// The words or emoji seen.
    pub cues: Vec<String>,
}

const CUES: &[(Emotion, &[&str])] = &[
    (
        Emotion::Anger,
        &[
            "angry",
            "furious",
            "outraged",
            "annoyed",
            "fed up",
            "ridiculous",
            "unacceptable",
            "disgusting",
            "hate",
            "scam",
            "livid",
            "enfadado",
            "furioso",
            "inaceptable",
            "en colère",
            "furieux",
            "inadmissible",
            "inacceptable",
            "wütend",
            "sauer",
            "unverschämt",
            "inakzeptabel",
            "arrabbiato",
            "inaccettabile",
            "bravo",
            "irritado",
            "absurdo",
            "boos",
            "woedend",
            "belachelijk",
            "😡",
            "🤬",
            "😠",
        ],
    ),
    (
        Emotion::Joy,
        &[
            "love",
            "happy",
            "delighted",
            "great",
            "amazing",
            "wonderful",
            "thank you",
            "thanks",
            "excellent",
            "glad",
            "encanta",
            "feliz",
            "genial",
            "gracias",
            "adore",
            "heureux",
            "merci",
            "génial",
            "liebe",
            "glücklich",
            "danke",
            "toll",
            "felice",
            "grazie",
            "fantastico",
            "adorei",
            "obrigado",
            "obrigada",
            "blij",
            "dank",
            "geweldig",
            "😍",
            "😊",
            "😀",
            "😁",
            "❤",
            "🥰",
            "🎉",
        ],
    ),
    (
        Emotion::Sadness,
        &[
            "sad",
            "disappointed",
            "disappointing",
            "unhappy",
            "heartbroken",
            "let down",
            "upset",
            "triste",
            "decepcionado",
            "déçu",
            "déçue",
            "deçu",
            "enttäuscht",
            "traurig",
            "deluso",
            "delusa",
            "decepcionada",
            "teleurgesteld",
            "verdrietig",
            "😢",
            "😭",
            "😞",
            "☹",
        ],
    ),
    (
        Emotion::Fear,
        &[
            "worried",
            "afraid",
            "scared",
            "anxious",
            "concerned",
            "nervous",
            "fraud",
            "preocupado",
            "miedo",
            "inquiet",
            "inquiète",
            "peur",
            "besorgt",
            "angst",
            "preoccupato",
            "paura",
            "bezorgd",
            "bang",
            "😨",
            "😰",
            "😱",
        ],
    ),
    (
        Emotion::Surprise,
        &[
            "surprised",
            "unexpected",
            "wow",
            "shocked",
            "can't believe",
            "sorprendido",
            "increíble",
            "surpris",
            "surprise",
            "überrascht",
            "unglaublich",
            "sorpreso",
            "surpreso",
            "verrast",
            "😮",
            "😲",
            "🤯",
        ],
    ),
];

fn is_pictograph(cue: &str) -> bool {
    cue.chars().any(|c| crate::text::is_emoji(c) || c == '☹')
}

/// Per emotion: its word cues and their automaton (emoji are looked for in the raw text).
static WORD_CUES: LazyLock<Vec<(Vec<&'static str>, PhraseSet)>> = LazyLock::new(|| {
    CUES.iter()
        .map(|(_, cues)| {
            let words: Vec<&'static str> = cues.iter().copied().filter(|c| !is_pictograph(c)).collect();
            let set = PhraseSet::new(words.iter().copied());
            (words, set)
        })
        .collect()
});

/// The emotions cued in `text`, strongest first.
pub(crate) fn detect(text: &str, _language: Language) -> Vec<EmotionCue> {
    let lower = normalised(text);
    let mut found: Vec<EmotionCue> = CUES
        .iter()
        .zip(WORD_CUES.iter())
        .filter_map(|((emotion, cues), (words, set))| {
            let mut seen: Vec<String> = set.matches(&lower).into_iter().map(|i| words[i].to_string()).collect();
            seen.extend(cues.iter().filter(|c| is_pictograph(c) && text.contains(**c)).map(|c| (*c).to_string()));
            (!seen.is_empty()).then_some(EmotionCue { emotion: *emotion, strength: 0.0, cues: seen })
        })
        .collect();
    let total: usize = found.iter().map(|e| e.cues.len()).sum();
    for e in &mut found {
        e.strength = e.cues.len() as f32 / total as f32;
    }
    found.sort_by_key(|e| std::cmp::Reverse(e.cues.len()));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cues_in_several_languages_and_emoji() {
        let e = detect("This is unacceptable, I'm furious 😡", Language::En);
        assert_eq!(e[0].emotion, Emotion::Anger);
        assert_eq!(e[0].cues.len(), 3);
        let d = detect("Ich bin sehr enttäuscht.", Language::De);
        assert_eq!(d[0].emotion, Emotion::Sadness);
        let j = detect("Merci, le service était génial !", Language::Fr);
        assert_eq!(j[0].emotion, Emotion::Joy);
        assert!(detect("The invoice number is 42.", Language::En).is_empty());
    }
}
