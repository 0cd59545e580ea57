//! Agent 2: what a message is about — language, entities, key phrases, topic, whether it asks
//! something, and a one-line extractive summary.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::Signal;
use crate::entities::{self, Entity};
use crate::keywords;
use crate::language::{self, Language, LanguageGuess};
use crate::text::{PhraseSet, normalised};

/// What a message is about, as the message-understanding step classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Topic {
    /// Prices, plans, buying.
    Pricing,
    /// Something does not work; help wanted.
    Support,
    /// Dissatisfaction, refunds, damage.
    Complaint,
    /// Questions about availability, hours, delivery, products.
    Inquiry,
    /// Praise, suggestions, reviews.
    Feedback,
    /// None of the above.
    Other,
}

/// What agent 2 says about a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Understanding {
    /// The identified language (with confidence and alternatives).
    pub language: LanguageGuess,
    /// Entities found.
    pub entities: Vec<Entity>,
    /// The topic.
    pub topic: Topic,
    /// Why that topic.
    pub topic_signals: Vec<Signal>,
    /// Whether the message asks something.
    pub is_question: bool,
    /// The message's most informative sentence, at most [`SUMMARY_CHARS`] characters.
    pub summary: String,
    /// Key phrases, most important first.
    pub key_phrases: Vec<String>,
}

/// Longest summary, in characters.
pub const SUMMARY_CHARS: usize = 160;

const TOPIC_CUES: &[(Topic, &[&str])] = &[
    (
        Topic::Pricing,
        &[
            "price",
            "prices",
            "pricing",
            "cost",
            "costs",
            "how much",
            "quote",
            "discount",
            "plan",
            "plans",
            "subscription",
            "fee",
            "fees",
            "buy",
            "purchase",
            "precio",
            "precios",
            "cuánto cuesta",
            "cuanto cuesta",
            "tarifa",
            "comprar",
            "prix",
            "tarif",
            "combien",
            "coûte",
            "acheter",
            "preis",
            "preise",
            "kostet",
            "kosten",
            "kaufen",
            "prezzo",
            "prezzi",
            "quanto costa",
            "comprare",
            "preço",
            "preços",
            "quanto custa",
            "prijs",
            "prijzen",
            "kost",
            "kopen",
            "abonnement",
        ],
    ),
    (
        Topic::Complaint,
        &[
            "refund",
            "broken",
            "damaged",
            "complaint",
            "worst",
            "never again",
            "unacceptable",
            "terrible",
            "awful",
            "disappointed",
            "scam",
            "rude",
            "reembolso",
            "roto",
            "rota",
            "queja",
            "pésimo",
            "horrible",
            "remboursement",
            "cassé",
            "cassée",
            "plainte",
            "déçu",
            "nul",
            "erstattung",
            "kaputt",
            "beschwerde",
            "enttäuscht",
            "schlecht",
            "rimborso",
            "rotto",
            "reclamo",
            "pessimo",
            "quebrado",
            "reclamação",
            "péssimo",
            "terugbetaling",
            "kapot",
            "klacht",
            "slecht",
        ],
    ),
    (
        Topic::Support,
        &[
            "help",
            "not working",
            "doesn't work",
            "does not work",
            "error",
            "problem",
            "issue",
            "bug",
            "can't log in",
            "cannot log in",
            "password",
            "reset",
            "account",
            "crash",
            "ayuda",
            "no funciona",
            "problema",
            "contraseña",
            "aide",
            "ne marche pas",
            "fonctionne pas",
            "problème",
            "mot de passe",
            "hilfe",
            "funktioniert nicht",
            "fehler",
            "passwort",
            "aiuto",
            "non funziona",
            "errore",
            "ajuda",
            "não funciona",
            "erro",
            "senha",
            "werkt niet",
            "fout",
            "probleem",
            "wachtwoord",
        ],
    ),
    (
        Topic::Inquiry,
        &[
            "available",
            "availability",
            "in stock",
            "opening hours",
            "open on",
            "do you have",
            "do you ship",
            "delivery",
            "shipping",
            "information",
            "demo",
            "trial",
            "features",
            "disponible",
            "horario",
            "envío",
            "información",
            "horaires",
            "livraison",
            "verfügbar",
            "öffnungszeiten",
            "lieferung",
            "versand",
            "disponibile",
            "orari",
            "spedizione",
            "disponível",
            "horário",
            "entrega",
            "beschikbaar",
            "openingstijden",
            "levering",
            "verzending",
        ],
    ),
    (
        Topic::Feedback,
        &[
            "love",
            "loved",
            "great",
            "thanks",
            "thank you",
            "recommend",
            "suggestion",
            "suggest",
            "excellent",
            "amazing",
            "review",
            "experience",
            "encanta",
            "gracias",
            "recomiendo",
            "merci",
            "recommande",
            "génial",
            "danke",
            "empfehlen",
            "toll",
            "grazie",
            "consiglio",
            "ottimo",
            "obrigado",
            "obrigada",
            "recomendo",
            "bedankt",
            "aanrader",
            "geweldig",
        ],
    ),
];

const QUESTION_STARTS: &[&str] = &[
    "what", "how", "when", "where", "why", "who", "which", "can", "could", "do", "does", "did", "is", "are", "will",
    "would", "should", "qué", "que", "cómo", "cuándo", "dónde", "cuánto", "cuánta", "por qué", "quel", "quelle",
    "comment", "combien", "pourquoi", "où", "est-ce", "was", "wie", "wann", "wo", "warum", "wieviel", "können", "kann",
    "cosa", "come", "quando", "dove", "perché", "quanto", "o que", "como", "onde", "quanto", "wat", "hoe", "wanneer",
    "waar", "waarom", "hoeveel", "kunnen", "kan",
];

/// Understands `text`; `products` are the knowledge base's product names. A `language_hint`
/// (for example the platform's own language tag) is used when the text has no letters.
pub fn understand(
    text: &str,
    products: &[String],
    language_hint: Option<Language>,
    max_key_phrases: usize,
) -> Understanding {
    let mut guess = language::detect(text);
    if guess.language.is_none()
        && let Some(hint) = language_hint
    {
        guess = LanguageGuess {
            language: Some(hint),
            confidence: 0.5,
            signals: vec![Signal::new(0.0, "language taken from the platform's hint")],
        };
    }
    let language = guess.language.unwrap_or(Language::En);
    let key_phrases = keywords::extract(text, language, max_key_phrases);
    let (topic, topic_signals) = topic(text);
    Understanding {
        language: guess,
        entities: entities::extract(text, products),
        topic,
        topic_signals,
        is_question: is_question(text),
        summary: summary(text, &key_phrases),
        key_phrases,
    }
}

/// One automaton per topic's cue list.
static TOPIC_SETS: LazyLock<Vec<PhraseSet>> =
    LazyLock::new(|| TOPIC_CUES.iter().map(|(_, cues)| PhraseSet::new(cues.iter().copied())).collect());

/// The topic with the most cue words, and the cues that decided it.
pub fn topic(text: &str) -> (Topic, Vec<Signal>) {
    let lower = normalised(text);
    let mut best = (Topic::Other, Vec::new());
    for ((topic, cues), set) in TOPIC_CUES.iter().zip(TOPIC_SETS.iter()) {
        let seen: Vec<Signal> = set
            .matches(&lower)
            .into_iter()
            .map(|i| Signal::new(1.0, format!("'{}' ({})", cues[i], topic_name(*topic))))
            .collect();
        if seen.len() > best.1.len() {
            best = (*topic, seen);
        }
    }
    if best.1.is_empty() {
        best.1.push(Signal::new(0.0, "no topic cue words"));
    }
    best
}

fn topic_name(topic: Topic) -> &'static str {
    match topic {
        Topic::Pricing => "pricing",
        Topic::Support => "support",
        Topic::Complaint => "complaint",
        Topic::Inquiry => "inquiry",
        Topic::Feedback => "feedback",
        Topic::Other => "other",
    }
}

/// Whether `text` asks something: a question mark, an inverted one, or a sentence opening
/// with an interrogative word.
pub fn is_question(text: &str) -> bool {
    if text.contains('?') || text.contains('¿') {
        return true;
    }
    sentences(text).any(|s| {
        let lower = normalised(s);
        let trimmed = lower.trim_start();
        QUESTION_STARTS.iter().any(|q| trimmed.starts_with(q) && trimmed[q.len()..].starts_with(' '))
            && trimmed.split_whitespace().count() >= 3
    })
}

fn sentences(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive(['.', '!', '?', '\n']).map(str::trim).filter(|s| s.chars().any(char::is_alphanumeric))
}

/// The sentence that holds the most key phrases (the first on a tie), shortened to fit one line.
pub fn summary(text: &str, key_phrases: &[String]) -> String {
    let best = sentences(text)
        .enumerate()
        .max_by_key(|(i, s)| {
            let lower = s.to_lowercase();
            let hits = key_phrases.iter().filter(|k| lower.contains(&k.to_lowercase())).count();
            (hits, std::cmp::Reverse(*i))
        })
        .map(|(_, s)| s)
        .unwrap_or("");
    let one_line = best.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= SUMMARY_CHARS {
        return one_line;
    }
    let cut: String = one_line.chars().take(SUMMARY_CHARS - 1).collect();
    let at_word = cut.rfind(' ').map_or(cut.as_str(), |i| &cut[..i]);
    format!("{at_word}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::EntityKind;

    #[test]
    fn the_seeds_pricing_question() {
        let u = understand("Hi, what's the price of your Pro plan?", &["Pro plan".to_string()], None, 5);
        assert_eq!(u.language.language, Some(Language::En));
        assert_eq!(u.topic, Topic::Pricing);
        assert!(u.is_question);
        assert!(u.entities.iter().any(|e| e.kind == EntityKind::Product && e.value == "Pro plan"));
        assert_eq!(u.summary, "Hi, what's the price of your Pro plan?");
    }

    #[test]
    fn topics_in_several_languages() {
        assert_eq!(topic("Mi pedido llegó roto, quiero un reembolso").0, Topic::Complaint);
        assert_eq!(topic("Le site ne marche pas, j'ai une erreur de mot de passe").0, Topic::Support);
        assert_eq!(topic("Ist das Modell noch verfügbar? Wie lange dauert die Lieferung").0, Topic::Inquiry);
        assert_eq!(topic("Grazie, ottimo servizio, lo consiglio").0, Topic::Feedback);
        assert_eq!(topic("Vi vediamo domani").0, Topic::Other);
    }

    #[test]
    fn questions_without_question_marks() {
        assert!(is_question("Do you ship to Canada"));
        assert!(is_question("Wann öffnet der Laden morgen"));
        assert!(!is_question("Great stay, thank you."));
    }

    #[test]
    fn summary_picks_the_informative_sentence_and_fits_one_line() {
        let text = "Hello there. My order 4412 arrived with a cracked screen and the box was soaked. Thanks.";
        let u = understand(text, &[], None, 5);
        assert!(u.summary.contains("cracked screen"), "{}", u.summary);
        let long = "word ".repeat(100);
        assert!(summary(&long, &[]).chars().count() <= SUMMARY_CHARS);
    }
}
