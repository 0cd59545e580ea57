//! Does a reply address the message it answers? A model may write a fluent, polite reply that
//! ignores the complaint (docs/EVALUATION.md, "A real model": "We had a great experience…" to a
//! review about cold soup). This check is cheap and explainable rather than clever: a message that
//! needs an answer (a question, a complaint, a support, pricing or availability request, or
//! anything negative) is addressed when the reply takes up what the message is about (a word of
//! its key phrases, a product or order number it names) or acknowledges it (an apology, or a
//! promise to look into it and come back). A reply that does neither is flagged, and the
//! violation says what it left out. Praise and small talk need no such link: a generic thank-you
//! answers them.

use std::sync::LazyLock;

use crate::entities::{Entity, EntityKind};
use crate::keywords;
use crate::language::Language;
use crate::text::PhraseSet;
use crate::understanding::Topic;

/// What the customer's message is about, as agents 2 and 3 found it.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Its topic.
    pub topic: Topic,
    /// Whether it asks something.
    pub is_question: bool,
    /// Whether its sentiment is negative (the stars' prior applied for a review).
    pub negative: bool,
    /// Its key phrases.
    pub key_phrases: &'a [String],
    /// Its entities (products and order numbers count).
    pub entities: &'a [Entity],
    /// Its language, for the stop words that say nothing about a subject.
    pub language: Language,
}

/// Words that acknowledge a message whatever it is about: apologies, and promises to look into
/// it and come back (the offline composer's holding sentences among them), in the languages the
/// composer writes and a few more.
const ACKNOWLEDGEMENTS: &[&str] = &[
    "sorry",
    "apologise",
    "apologize",
    "apologies",
    "apology",
    "get back to you",
    "look into",
    "looking into",
    "we will check",
    "we'll check",
    "contact you",
    "reach out",
    "lamentamos",
    "sentimos",
    "disculpa",
    "disculpe",
    "disculpas",
    "perdón",
    "le responderá",
    "te responderá",
    "revisando",
    "revisaremos",
    "nos pondremos en contacto",
    "désolé",
    "désolés",
    "désolée",
    "excuses",
    "excusez",
    "vous répondra",
    "vérifions",
    "reviendrons vers vous",
    "tut uns leid",
    "entschuldigen",
    "entschuldigung",
    "meldet sich",
    "melden uns",
    "prüfen",
    "ci dispiace",
    "scusa",
    "scuse",
    "scusi",
    "le risponderà",
    "ti risponderà",
    "controllando",
    "verificheremo",
    "desculpe",
    "desculpa",
    "vai responder",
    "verificar",
    "spijt",
    "neemt contact",
    "nemen contact",
    "contact met u",
    "bekijken",
    "przepraszamy",
    "beklagar",
    "ursäkta",
    "özür",
    "извините",
    "сожалеем",
];

static ACKNOWLEDGE: LazyLock<PhraseSet> = LazyLock::new(|| PhraseSet::new(ACKNOWLEDGEMENTS.iter().copied()));

/// Shortest word of a key phrase that counts as a subject ("pro" does, "it" does not); words this
/// short count only when the reply has them as they are.
const MIN_TERM_CHARS: usize = 3;
/// Shortest whole word that counts when the reply has it with an ending ("plan" in "plans").
const PREFIX_WORD_CHARS: usize = 4;
/// Characters two longer words must share at their start to count as one ("delivery" and
/// "delivered"; "refund" and "refunded").
const STEM_CHARS: usize = 5;

/// Whether the message needs a reply that takes it up.
fn needs_answer(subject: &Subject<'_>) -> bool {
    subject.is_question
        || subject.negative
        || matches!(subject.topic, Topic::Complaint | Topic::Support | Topic::Pricing | Topic::Inquiry)
}

/// Whether `a` and `b` (lower case) are the same word, or forms of it.
fn same_stem(a: &str, b: &str) -> bool {
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let (la, lb) = (a.chars().count(), b.chars().count());
    (common == la && common == lb) || common >= STEM_CHARS || (common >= PREFIX_WORD_CHARS && common == la.min(lb))
}

/// What the reply leaves out, when it addresses nothing of a message that needs an answer;
/// `reply_normalised` is the reply through `text::normalised`, `states_amount` whether it names
/// an amount of money (an answer to a pricing question, checked against the knowledge base by
/// the price check).
pub(super) fn unaddressed(reply_normalised: &str, states_amount: bool, subject: &Subject<'_>) -> Option<String> {
    if !needs_answer(subject) || (states_amount && subject.topic == Topic::Pricing) {
        return None;
    }
    let reply_words: Vec<&str> = reply_normalised.split_whitespace().collect();
    let mentioned = |term: &str| reply_words.iter().any(|w| same_stem(w, term));
    let mut terms: Vec<String> = Vec::new();
    for phrase in subject.key_phrases {
        for word in phrase.split_whitespace() {
            let word = word.to_lowercase();
            if word.chars().count() >= MIN_TERM_CHARS && !keywords::is_stop_word(subject.language, &word) {
                terms.push(word);
            }
        }
    }
    if terms.iter().any(|t| mentioned(t)) {
        return None;
    }
    let named = subject.entities.iter().filter(|e| matches!(e.kind, EntityKind::Product | EntityKind::OrderNumber));
    for entity in named {
        let value = crate::text::normalised(&entity.value);
        if reply_normalised.contains(value.as_str()) {
            return None;
        }
    }
    if !ACKNOWLEDGE.matches(reply_normalised).is_empty() {
        return None;
    }
    let what = if subject.negative || subject.topic == Topic::Complaint {
        "a complaint"
    } else if subject.is_question {
        "a question"
    } else {
        "a request"
    };
    let about = if terms.is_empty() {
        String::new()
    } else {
        let shown: Vec<String> = terms.iter().take(3).map(|t| format!("'{t}'")).collect();
        format!(" mentions none of {},", shown.join(", "))
    };
    Some(format!("the reply to {what}{about} and neither apologises nor says it will look into it"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalised;
    use crate::{sentiment, understanding};

    /// The reply to `message` (a review with `stars`, if any) checked against the message's
    /// subject as agents 2 and 3 see it.
    fn review(message: &str, stars: Option<u8>, reply: &str) -> Option<String> {
        let u = understanding::understand(message, &["Pro plan".to_string()], None, 5);
        let language = u.language.language.unwrap_or(Language::En);
        let mut sentiment = sentiment::analyse(message, language);
        if let Some(stars) = stars {
            sentiment = sentiment::apply_star_prior(&sentiment, stars);
        }
        let negative = sentiment.sentiment == sentiment::Sentiment::Negative;
        let subject = Subject {
            topic: u.topic,
            is_question: u.is_question,
            negative,
            key_phrases: &u.key_phrases,
            entities: &u.entities,
            language,
        };
        let states_amount = crate::entities::extract(reply, &[]).iter().any(|e| e.kind == EntityKind::Money);
        unaddressed(&normalised(reply), states_amount, &subject)
    }

    fn check(message: &str, reply: &str) -> Option<String> {
        review(message, None, reply)
    }

    #[test]
    fn the_real_models_reply_to_a_complaint_is_flagged_with_what_it_left_out() {
        // The one-star review of the run in docs/EVALUATION.md and the model's reply to it.
        let soup = "Cold soup, we waited 40 minutes and nobody apologised.";
        let reason = review(soup, Some(1), "We had a great experience, enjoyed the local culture and food.");
        let reason = reason.expect("off topic");
        assert!(reason.starts_with("the reply to a complaint"), "{reason}");
        assert!(reason.contains("'soup'"), "{reason}");
        assert_eq!(review(soup, Some(1), "We are so sorry about the cold soup and the wait."), None);
    }

    #[test]
    fn relevant_replies_pass_in_several_languages() {
        let pass = [
            ("Hi, what's the price of your Pro plan?", "The Pro plan costs $49/month."),
            ("Hi, what's the price of your Pro plan?", "Hi Maria! Pro is $49 per month with 5 seats included."),
            (
                "¿Tienen opciones sin gluten para el desayuno?",
                "Sí, tenemos pan sin gluten y dos pasteles sin gluten cada día.",
            ),
            (
                "Le colis est arrivé cassé, je suis très déçu.",
                "Nous sommes désolés pour le colis abîmé, nous vous envoyons un remplacement.",
            ),
            (
                "Meine Bestellung 2024-5531 ist immer noch nicht angekommen!",
                "Wir prüfen die Bestellung 2024-5531 sofort.",
            ),
            (
                "Il servizio di consegna è stato lentissimo, pessimo.",
                "Ci dispiace molto per il ritardo della consegna.",
            ),
            ("Quando chega a minha encomenda?", "A sua encomenda chega amanhã de manhã."),
            (
                "Mijn wachtwoord werkt niet meer, kunnen jullie helpen?",
                "U kunt uw wachtwoord opnieuw instellen via de link op de inlogpagina.",
            ),
        ];
        for (message, reply) in pass {
            assert_eq!(check(message, reply), None, "{message} → {reply}");
        }
    }

    #[test]
    fn off_topic_replies_are_flagged_in_several_languages() {
        let flagged = [
            (
                "¿Tienen opciones sin gluten para el desayuno?",
                "¡Gracias por visitarnos, fue un placer tenerle con nosotros!",
            ),
            (
                "Le colis est arrivé cassé, je suis très déçu.",
                "Merci pour votre fidélité, à bientôt dans notre boutique !",
            ),
            (
                "Meine Bestellung ist immer noch nicht angekommen, das ist schlecht!",
                "Vielen Dank für Ihre Nachricht und einen schönen Tag!",
            ),
            ("What's the price of the Pro plan?", "Thanks for reaching us, have a lovely day!"),
        ];
        for (message, reply) in flagged {
            assert!(check(message, reply).is_some(), "{message} → {reply}");
        }
    }

    #[test]
    fn the_composers_holding_replies_acknowledge_in_each_of_its_languages() {
        use crate::compose::{self, ComposeInput, Tone, Voice};
        use crate::sentiment::Sentiment;
        let voice = Voice { business_name: None, emoji_allowed: false, max_chars: 600 };
        let phrases = ["broken zipper".to_string()];
        for language in
            [Language::En, Language::Es, Language::Fr, Language::De, Language::It, Language::Pt, Language::Nl]
        {
            for (topic, sentiment, is_question) in
                [(Topic::Complaint, Sentiment::Negative, false), (Topic::Inquiry, Sentiment::Neutral, true)]
            {
                let input = ComposeInput {
                    language,
                    topic,
                    sentiment,
                    is_question,
                    is_review: false,
                    small_talk: None,
                    customer_name: None,
                    order_number: None,
                    knowledge: &[],
                    templates: &[],
                    voice: &voice,
                };
                let subject = Subject {
                    topic,
                    is_question,
                    negative: sentiment == Sentiment::Negative,
                    key_phrases: &phrases,
                    entities: &[],
                    language,
                };
                for draft in compose::compose(&input, &Tone::ALL) {
                    assert_eq!(
                        unaddressed(&normalised(&draft.text), false, &subject),
                        None,
                        "{language}: {}",
                        draft.text
                    );
                }
            }
        }
    }

    #[test]
    fn praise_needs_no_particular_answer() {
        assert_eq!(check("Lovely brunch, the eggs were perfect!", "Thank you so much, see you soon!"), None);
    }

    #[test]
    fn forms_of_a_word_count_as_the_word() {
        assert!(same_stem("delivery", "delivered"));
        assert!(same_stem("plan", "plans"));
        assert!(!same_stem("pro", "problem"), "a short word counts only as it is");
        assert!(same_stem("soup", "soup"));
        assert!(!same_stem("soup", "sour"));
        assert!(!same_stem("cold", "culture"));
    }
}
