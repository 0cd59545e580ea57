//! Language identification, restricted to the languages Tidings ships: whatlang first, lingua's
//! high-accuracy method (its rules, then its n-gram models) when whatlang is unsure.
//!
//! Only these languages' lingua models are compiled in (see the crate's `Cargo.toml`), merged
//! by build.rs into one model of 21.3 MB for the 11 (ADR 0032) that adds that much to the binary
//! and, once used, to the resident memory (file-backed pages of the executable, see
//! docs/EVALUATION.md). lingua's method is run here
//! over lingua's models ([`ngrams`], [`rules`]) because lingua's own implementation costs about
//! a millisecond per short text (ADR 0026).

mod ngrams;
mod rules;

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::Signal;

/// A language Tidings can identify and analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English (`en`).
    En,
    /// Spanish (`es`).
    Es,
    /// French (`fr`).
    Fr,
    /// German (`de`).
    De,
    /// Italian (`it`).
    It,
    /// Portuguese (`pt`).
    Pt,
    /// Dutch (`nl`).
    Nl,
    /// Polish (`pl`).
    Pl,
    /// Swedish (`sv`).
    Sv,
    /// Turkish (`tr`).
    Tr,
    /// Russian (`ru`).
    Ru,
}

impl Language {
    /// Every language compiled in, in build.rs's order: bit i of a row of the merged model
    /// is `ALL[i]`, so the two lists change together.
    pub const ALL: [Language; 11] = [
        Language::En,
        Language::Es,
        Language::Fr,
        Language::De,
        Language::It,
        Language::Pt,
        Language::Nl,
        Language::Pl,
        Language::Sv,
        Language::Tr,
        Language::Ru,
    ];

    /// ISO 639-1 code, as stored and shown.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
            Language::Fr => "fr",
            Language::De => "de",
            Language::It => "it",
            Language::Pt => "pt",
            Language::Nl => "nl",
            Language::Pl => "pl",
            Language::Sv => "sv",
            Language::Tr => "tr",
            Language::Ru => "ru",
        }
    }

    /// The language of an ISO 639-1 code, if compiled in.
    pub fn from_code(code: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.code().eq_ignore_ascii_case(code.trim()))
    }

    fn whatlang(self) -> whatlang::Lang {
        match self {
            Language::En => whatlang::Lang::Eng,
            Language::Es => whatlang::Lang::Spa,
            Language::Fr => whatlang::Lang::Fra,
            Language::De => whatlang::Lang::Deu,
            Language::It => whatlang::Lang::Ita,
            Language::Pt => whatlang::Lang::Por,
            Language::Nl => whatlang::Lang::Nld,
            Language::Pl => whatlang::Lang::Pol,
            Language::Sv => whatlang::Lang::Swe,
            Language::Tr => whatlang::Lang::Tur,
            Language::Ru => whatlang::Lang::Rus,
        }
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The identified language with the detector's confidence and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageGuess {
    /// The language, or `None` when the text has no letters to go by.
    pub language: Option<Language>,
    /// lingua's confidence for that language among the compiled-in ones, 0..1.
    pub confidence: f32,
    /// The runner-up languages and their confidence.
    pub signals: Vec<Signal>,
}

/// Builds the detectors and opens the models now rather than on the first message.
pub fn preload() {
    let _ = FAST.detect("preload the language models");
    ngrams::preload();
}

/// The fast first pass: whatlang's trigram profiles, restricted to the shipped languages.
static FAST: LazyLock<whatlang::Detector> =
    LazyLock::new(|| whatlang::Detector::with_allowlist(Language::ALL.iter().map(|l| l.whatlang()).collect()));

/// Letters from which whatlang is asked first. Below this whatlang seldom calls itself reliable,
/// so asking it cost more than it saved (instruction counts in docs/BENCHMARKS.md: from 50
/// letters the pass pays for itself, below it lingua's method answers anyway, and at least as
/// accurately on short texts).
const WHATLANG_FROM_LETTERS: usize = 50;

/// What lingua's method concludes about a text.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    /// The letters decide, and why.
    Letters(Language, &'static str),
    /// The n-gram models' confidence values, highest first (empty: no model knows the text).
    Models(Vec<(Language, f64)>),
}

/// lingua's high-accuracy method: its rules on the letters, then its n-gram models.
fn lingua_method(text: &str) -> Verdict {
    let lower = text.trim().to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()).collect();
    if let Some(language) = rules::decided(&words) {
        return Verdict::Letters(language, "letters only this language writes");
    }
    let candidates = rules::candidates(&words);
    if let [only] = candidates.as_slice() {
        return Verdict::Letters(*only, "the only language written with these letters");
    }
    Verdict::Models(ngrams::confidences(&words, &candidates))
}

/// Identifies the language of `text`: whatlang first on texts of [`WHATLANG_FROM_LETTERS`] letters
/// or more, lingua's high-accuracy method ([`ngrams`]) on shorter ones and wherever whatlang does
/// not call its own answer reliable, which is where lingua's accuracy is needed.
pub fn detect(text: &str) -> LanguageGuess {
    if !text.chars().any(char::is_alphabetic) {
        return LanguageGuess {
            language: None,
            confidence: 0.0,
            signals: vec![Signal::new(0.0, "no letters to identify a language from")],
        };
    }
    if text.chars().filter(|c| c.is_alphabetic()).count() >= WHATLANG_FROM_LETTERS
        && let Some(info) = FAST.detect(text).filter(whatlang::Info::is_reliable)
        && let Some(language) = Language::ALL.into_iter().find(|l| l.whatlang() == info.lang())
    {
        return LanguageGuess {
            language: Some(language),
            confidence: info.confidence() as f32,
            signals: vec![Signal::new(0.0, "trigram profile (whatlang), reliable")],
        };
    }
    let values = match lingua_method(text) {
        Verdict::Letters(language, why) => {
            return LanguageGuess { language: Some(language), confidence: 1.0, signals: vec![Signal::new(0.0, why)] };
        }
        Verdict::Models(values) => values,
    };
    let mut ranked = values.into_iter().map(|(l, c)| (l, c as f32));
    let Some((language, confidence)) = ranked.next() else {
        return LanguageGuess {
            language: None,
            confidence: 0.0,
            signals: vec![Signal::new(0.0, "no language model matched")],
        };
    };
    let signals =
        ranked.take(2).filter(|(_, c)| *c > 0.01).map(|(l, c)| Signal::new(c, format!("also possible: {l}"))).collect();
    LanguageGuess { language: Some(language), confidence, signals }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifies_short_customer_messages() {
        let cases = [
            ("Where is my order? It's been two weeks.", Language::En),
            ("¿Cuánto cuesta el plan Pro?", Language::Es),
            ("Le colis est arrivé cassé, je suis déçu.", Language::Fr),
            ("Wann wird meine Bestellung geliefert?", Language::De),
            ("Il servizio è stato ottimo, grazie!", Language::It),
            ("Quero cancelar minha assinatura hoje.", Language::Pt),
            ("Mijn bestelling is nog steeds niet aangekomen.", Language::Nl),
            ("Dziękuję za szybką dostawę!", Language::Pl),
            ("Jag vill avbryta min prenumeration.", Language::Sv),
            ("Siparişim nerede, hâlâ gelmedi.", Language::Tr),
            ("Где мой заказ? Уже две недели жду.", Language::Ru),
        ];
        for (text, expected) in cases {
            assert_eq!(detect(text).language, Some(expected), "{text}");
        }
    }

    fn lingua(language: Language) -> lingua::Language {
        match language {
            Language::En => lingua::Language::English,
            Language::Es => lingua::Language::Spanish,
            Language::Fr => lingua::Language::French,
            Language::De => lingua::Language::German,
            Language::It => lingua::Language::Italian,
            Language::Pt => lingua::Language::Portuguese,
            Language::Nl => lingua::Language::Dutch,
            Language::Pl => lingua::Language::Polish,
            Language::Sv => lingua::Language::Swedish,
            Language::Tr => lingua::Language::Turkish,
            Language::Ru => lingua::Language::Russian,
        }
    }

    /// Our run of lingua's method against lingua itself (a dev-dependency), on every text of
    /// both fixtures and on texts its rules decide: the same languages with the same confidence,
    /// but for the rounding of the stored log-probabilities (build.rs).
    #[test]
    fn same_answers_as_lingua() {
        let languages: Vec<lingua::Language> = Language::ALL.into_iter().map(lingua).collect();
        let detector = lingua::LanguageDetectorBuilder::from_languages(&languages).build();
        let mut texts = vec![
            "Где мой заказ?".to_string(),
            "Straße".to_string(),
            "Dziękuję za szybką dostawę!".to_string(),
            "Mañana".to_string(),
            "Çok güzel, teşekkürler".to_string(),
            "Καλημέρα".to_string(),
            "a".to_string(),
            "The parcel arrived two weeks late and the box was crushed, the glasses inside were broken and nobody answered my emails for days, which is why I am writing here again today.".to_string(),
        ];
        for fixture in ["language_short_sample.jsonl", "sentiment_en_sample.jsonl"] {
            let path = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
            let lines = std::fs::read_to_string(&path).expect("fixture");
            for line in lines.lines().filter(|l| !l.trim().is_empty()) {
                let value: serde_json::Value = serde_json::from_str(line).expect("JSON line");
                texts.push(value["text"].as_str().expect("text").to_string());
            }
        }
        for text in &texts {
            let theirs: Vec<(lingua::Language, f64)> = detector
                .compute_language_confidence_values(text.as_str())
                .into_iter()
                .filter(|(_, c)| *c > 0.0)
                .collect();
            match lingua_method(text) {
                Verdict::Letters(language, _) => assert_eq!(theirs, [(lingua(language), 1.0)], "{text}"),
                Verdict::Models(ours) => {
                    assert_eq!(ours.len(), theirs.len(), "{text}: {ours:?} against {theirs:?}");
                    for (language, b) in &theirs {
                        let a = ours.iter().find(|(l, _)| lingua(*l) == *language).map_or(0.0, |(_, a)| *a);
                        assert!((a - b).abs() < 0.005, "{text}: {language:?} {a} against {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn no_letters_is_no_language() {
        let guess = detect("👍👍 !!! 123");
        assert_eq!(guess.language, None);
        assert_eq!(guess.signals[0].reason, "no letters to identify a language from");
    }

    #[test]
    fn codes_round_trip() {
        for l in Language::ALL {
            assert_eq!(Language::from_code(l.code()), Some(l));
        }
        assert_eq!(Language::from_code("xx"), None);
    }
}
