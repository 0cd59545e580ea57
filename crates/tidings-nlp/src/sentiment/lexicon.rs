//! The word lists the scorer reads, per language: valence lexicons shipped under `data/`
//! (sources and licences in `data/LICENSES.md`) and the small closed-class lists (negations,
//! intensifiers, dampeners, contrast words) written here by hand.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use crate::language::Language;

/// Looked up once per word of every text: hashed with FxHash, not SipHash (the keys are ours).
type Lexicon = FxHashMap<&'static str, f32>;

fn parse(tsv: &'static str) -> Lexicon {
    tsv.lines()
        .filter_map(|line| {
            let (word, valence) = line.split_once('\t')?;
            Some((word, valence.trim().parse().ok()?))
        })
        .collect()
}

static EN: LazyLock<Lexicon> = LazyLock::new(|| parse(include_str!("../../data/en.tsv")));
static EN_REVIEWS: LazyLock<Lexicon> = LazyLock::new(|| parse(include_str!("../../data/en_reviews.tsv")));
static EN_PATTERN: LazyLock<Lexicon> = LazyLock::new(|| parse(include_str!("../../data/en_pattern.tsv")));
static ES: LazyLock<Lexicon> = LazyLock::new(|| parse(include_str!("../../data/es.tsv")));
static FR: LazyLock<Lexicon> = LazyLock::new(|| parse(include_str!("../../data/fr.tsv")));
static DE: LazyLock<Lexicon> = LazyLock::new(|| parse(include_str!("../../data/de.tsv")));
static IT: LazyLock<Lexicon> = LazyLock::new(|| parse(include_str!("../../data/it.tsv")));
static PT: LazyLock<Lexicon> = LazyLock::new(|| parse(include_str!("../../data/pt.tsv")));
static NL: LazyLock<Lexicon> = LazyLock::new(|| parse(include_str!("../../data/nl.tsv")));
static EMOJI: LazyLock<Lexicon> = LazyLock::new(|| parse(include_str!("../../data/emoji.tsv")));

/// Weight of Pattern's English adjectives, which fill words VADER's lexicon lacks; Pattern's
/// polarities are coarser than VADER's human ratings, so they count for less.
const EN_PATTERN_WEIGHT: f32 = 0.8;

/// Where a word's valence came from, for the explanation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Source {
    Lexicon,
    Supplement,
    Reviews,
    Emoji,
    /// An English word in a text of another language ("super", "top", "cool" are everywhere).
    English,
}

/// Common emoji whose CLDR description carries no valence in VADER's lexicon ("pouting face"),
/// rated here by hand on the same scale.
const EMOJI_EXTRA: &[(&str, f32)] = &[
    ("😡", -2.5),
    ("🤬", -3.0),
    ("👎", -2.0),
    ("💩", -2.0),
    ("🙄", -1.2),
    ("😤", -1.5),
    ("😒", -1.3),
    ("🤮", -2.5),
    ("👍", 2.0),
    ("🙏", 1.5),
    ("👏", 2.0),
    ("💯", 2.0),
    ("🔥", 1.5),
];

/// Inflection endings tried when a word of an inflected language is not in its lexicon
/// ("slechte" → "slecht", "déçue" → "déçu"); lexicons list mostly base forms.
const ENDINGS: &[&str] = &["e", "en", "er", "es", "em", "s", "n"];

/// The valence of a lower-cased word (or emoji) in `language`, on VADER's −4..4 scale.
pub(crate) fn valence(language: Language, word: &str) -> Option<(f32, Source)> {
    if let Some(v) = EMOJI.get(word) {
        return Some((*v, Source::Emoji));
    }
    if let Some((_, v)) = EMOJI_EXTRA.iter().find(|(e, _)| *e == word) {
        return Some((*v, Source::Emoji));
    }
    let main = match language {
        Language::En => &EN,
        Language::Es => &ES,
        Language::Fr => &FR,
        Language::De => &DE,
        Language::It => &IT,
        Language::Pt => &PT,
        Language::Nl => &NL,
        _ if word.is_ascii() => return EN.get(word).map(|v| (*v, Source::English)),
        _ => return None,
    };
    if let Some(v) = main.get(word) {
        return Some((*v, Source::Lexicon));
    }
    if language != Language::En && word.chars().count() > 4 {
        let stem = ENDINGS.iter().find_map(|e| word.strip_suffix(e).and_then(|w| main.get(w)));
        if let Some(v) = stem {
            return Some((*v, Source::Lexicon));
        }
    }
    if let Some(v) = EN_REVIEWS.get(word) {
        return Some((*v, if language == Language::En { Source::Reviews } else { Source::English }));
    }
    if language == Language::En {
        return EN_PATTERN.get(word).map(|v| (v * EN_PATTERN_WEIGHT, Source::Supplement));
    }
    // Short texts are often misidentified, and English words turn up in every language: an
    // ASCII word the language's lexicon lacks is looked up in English.
    if word.is_ascii() && !is_cue(language, word) {
        return EN.get(word).map(|v| (*v, Source::English));
    }
    None
}

fn is_cue(language: Language, word: &str) -> bool {
    let c = cues(language);
    [c.negations, c.boosters, c.dampeners, c.contrast].iter().any(|list| list.contains(&word))
}

/// Words whose sense survives a negation: "don't waste your money" warns, it does not praise.
pub(crate) fn negation_keeps_sign(word: &str) -> bool {
    matches!(word, "waste" | "wasted")
}

/// Whether a valence lexicon exists for `language` (others get emoji and punctuation only).
pub(crate) fn has_lexicon(language: Language) -> bool {
    matches!(
        language,
        Language::En | Language::Es | Language::Fr | Language::De | Language::It | Language::Pt | Language::Nl
    )
}

/// The closed-class words of one language.
pub(crate) struct Cues {
    pub negations: &'static [&'static str],
    pub boosters: &'static [&'static str],
    pub dampeners: &'static [&'static str],
    pub contrast: &'static [&'static str],
}

const EN_CUES: Cues = Cues {
    negations: &[
        "not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "without", "cannot", "cant", "dont",
        "doesnt", "didnt", "isnt", "wasnt", "werent", "wont", "wouldnt", "couldnt", "shouldnt", "hardly", "nowhere",
    ],
    boosters: &[
        "very",
        "really",
        "extremely",
        "so",
        "too",
        "super",
        "incredibly",
        "absolutely",
        "totally",
        "completely",
        "highly",
        "most",
        "truly",
        "utterly",
        "awfully",
        "especially",
        "exceptionally",
        "hugely",
        "remarkably",
        "seriously",
        "terribly",
        "thoroughly",
        "entirely",
        "fully",
        "majorly",
        "purely",
        "quite",
        "particularly",
    ],
    dampeners: &[
        "somewhat",
        "slightly",
        "barely",
        "kinda",
        "marginally",
        "occasionally",
        "partly",
        "scarcely",
        "sorta",
    ],
    contrast: &["but", "however", "although", "though", "yet"],
};
const ES_CUES: Cues = Cues {
    negations: &[
        "no", "nunca", "jamás", "jamas", "ni", "nada", "nadie", "tampoco", "sin", "ningún", "ninguna", "ninguno",
    ],
    boosters: &[
        "muy",
        "mucho",
        "mucha",
        "muchísimo",
        "super",
        "súper",
        "demasiado",
        "tan",
        "realmente",
        "totalmente",
        "extremadamente",
        "increíblemente",
        "sumamente",
        "bastante",
    ],
    dampeners: &["poco", "algo", "apenas", "ligeramente"],
    contrast: &["pero", "aunque", "embargo", "sino"],
};
const FR_CUES: Cues = Cues {
    negations: &["ne", "pas", "jamais", "rien", "personne", "aucun", "aucune", "sans", "non", "ni", "guère"],
    boosters: &[
        "très",
        "trop",
        "vraiment",
        "super",
        "extrêmement",
        "tellement",
        "si",
        "absolument",
        "totalement",
        "complètement",
        "hyper",
        "particulièrement",
        "vachement",
    ],
    dampeners: &["peu", "légèrement", "plutôt", "moyennement"],
    contrast: &["mais", "cependant", "pourtant", "toutefois", "néanmoins"],
};
const DE_CUES: Cues = Cues {
    negations: &[
        "nicht", "kein", "keine", "keinen", "keinem", "keiner", "nie", "niemals", "nichts", "ohne", "nein", "weder",
    ],
    boosters: &[
        "sehr",
        "wirklich",
        "total",
        "extrem",
        "super",
        "echt",
        "absolut",
        "voll",
        "so",
        "zu",
        "besonders",
        "äußerst",
        "richtig",
        "völlig",
        "höchst",
        "unglaublich",
        "ziemlich",
    ],
    dampeners: &["etwas", "kaum", "wenig", "bisschen", "leicht", "eher"],
    contrast: &["aber", "jedoch", "allerdings", "trotzdem", "sondern"],
};
const IT_CUES: Cues = Cues {
    negations: &["non", "mai", "niente", "nulla", "nessuno", "nessuna", "senza", "né"],
    boosters: &[
        "molto",
        "davvero",
        "troppo",
        "super",
        "estremamente",
        "assolutamente",
        "proprio",
        "veramente",
        "così",
        "tanto",
        "totalmente",
        "particolarmente",
        "decisamente",
    ],
    dampeners: &["poco", "leggermente", "abbastanza", "appena"],
    contrast: &["ma", "però", "tuttavia", "eppure", "invece"],
};
const PT_CUES: Cues = Cues {
    negations: &["não", "nao", "nunca", "jamais", "nem", "nada", "ninguém", "sem", "nenhum", "nenhuma"],
    boosters: &[
        "muito",
        "muita",
        "muitos",
        "muitas",
        "bastante",
        "super",
        "extremamente",
        "demais",
        "tão",
        "realmente",
        "totalmente",
        "completamente",
        "bem",
        "absolutamente",
    ],
    dampeners: &["pouco", "meio", "levemente", "ligeiramente"],
    contrast: &["mas", "porém", "contudo", "entretanto", "todavia"],
};
const NL_CUES: Cues = Cues {
    negations: &["niet", "geen", "nooit", "niets", "niemand", "zonder", "nee", "nergens"],
    boosters: &[
        "heel",
        "erg",
        "zeer",
        "echt",
        "super",
        "enorm",
        "ontzettend",
        "hartstikke",
        "zo",
        "te",
        "totaal",
        "bijzonder",
        "uiterst",
        "vreselijk",
        "zwaar",
    ],
    dampeners: &["beetje", "nauwelijks", "enigszins", "redelijk", "vrij"],
    contrast: &["maar", "echter", "toch"],
};
const NO_CUES: Cues = Cues { negations: &[], boosters: &[], dampeners: &[], contrast: &[] };

/// The closed-class words of `language` (none for languages without a lexicon).
pub(crate) fn cues(language: Language) -> &'static Cues {
    match language {
        Language::En => &EN_CUES,
        Language::Es => &ES_CUES,
        Language::Fr => &FR_CUES,
        Language::De => &DE_CUES,
        Language::It => &IT_CUES,
        Language::Pt => &PT_CUES,
        Language::Nl => &NL_CUES,
        _ => &NO_CUES,
    }
}

/// Whether `lower` negates, including English contractions ("don't") and French elision ("n'est").
pub(crate) fn is_negation(language: Language, lower: &str) -> bool {
    cues(language).negations.contains(&lower)
        || (language == Language::En && (lower.ends_with("n't") || lower.ends_with("n’t")))
        || (language == Language::Fr && (lower.starts_with("n'") || lower.starts_with("n’")))
}
