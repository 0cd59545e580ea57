//! The output guardrail: a reply may go out only if it leaks no personal data (card numbers,
//! national ids, emails or phones other than the customer's own or the business's published
//! ones), states no price or promise the knowledge base does not, fits the length limit and is
//! in the customer's language.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::relevance::{self, Subject};
use crate::entities::{self, EntityKind};
use crate::language::{self, Language};
use crate::text::{PhraseList, contains_phrase, normalised};

/// Why a reply may not be sent as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// A payment card number (passes the Luhn check).
    CardNumber,
    /// A national id or bank account number (SSN, DNI/NIE, IBAN).
    NationalId,
    /// An email address that is neither the customer's nor in the knowledge base.
    ForeignEmail,
    /// A phone number that is neither the customer's nor in the knowledge base.
    ForeignPhone,
    /// An amount of money the knowledge base does not state.
    UnsupportedPrice,
    /// A promise (refund, guarantee, free, discount …) the knowledge base does not make.
    UnsupportedPromise,
    /// Longer than allowed.
    TooLong,
    /// Not in the customer's language.
    WrongLanguage,
    /// Takes up nothing of a message that needs an answer (see `relevance`).
    OffTopic,
}

/// One reason to hold a reply back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// What kind.
    pub kind: ViolationKind,
    /// What exactly, for the person reviewing the draft.
    pub detail: String,
}

/// The output guardrail's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyCheck {
    /// True when there is no violation.
    pub passed: bool,
    /// Every violation found.
    pub violations: Vec<Violation>,
}

/// What a reply is checked against.
#[derive(Debug, Clone, Default)]
pub struct ReplyContext<'a> {
    /// The customer's language, if known.
    pub customer_language: Option<Language>,
    /// The customer's own message(s): their own email or phone may be repeated back.
    pub customer_text: &'a str,
    /// The knowledge-base passages the reply may draw on (prices, promises, contact details).
    pub knowledge: &'a [String],
    /// Longest reply allowed, in characters.
    pub max_chars: usize,
    /// The language the reply is written in, when its author knows it (the offline composer's
    /// own sentences, quoting no knowledge passage): then it is not identified again. `None` for
    /// a model's reply, a workspace template or a quoted passage, which are identified.
    pub reply_language: Option<Language>,
    /// What the customer's message is about; `None` skips the relevance check.
    pub subject: Option<Subject<'a>>,
}

/// Promise words the knowledge base must contain for a reply to make them.
const PROMISES: &[&str] = &[
    "refund",
    "refunded",
    "guarantee",
    "guaranteed",
    "free",
    "discount",
    "compensation",
    "voucher",
    "money back",
    "promise",
    "lifetime",
    "reembolso",
    "garantía",
    "gratis",
    "descuento",
    "remboursement",
    "garantie",
    "gratuit",
    "réduction",
    "rückerstattung",
    "kostenlos",
    "rabatt",
    "rimborso",
    "garanzia",
    "gratuito",
    "sconto",
    "reembolso",
    "garantia",
    "desconto",
    "terugbetaling",
    "gratis",
    "korting",
];

static PROMISE_LIST: LazyLock<PhraseList> = LazyLock::new(|| PhraseList::new(PROMISES));

static CARD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(?:\d[ -]?){12,18}\d\b").expect("card pattern"));
static NATIONAL_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b\d{3}-\d{2}-\d{4}\b|\b[XYZ]?\d{7,8}-?[A-HJ-NP-TV-Z]\b|\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")
        .expect("national id pattern")
});

/// Whether the digits of `number` pass the Luhn checksum (payment cards).
pub fn luhn_valid(number: &str) -> bool {
    let digits: Vec<u32> = number.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
        .sum();
    sum.is_multiple_of(10)
}

/// Checks a reply before it is sent.
pub fn check_reply(reply: &str, context: &ReplyContext<'_>) -> ReplyCheck {
    let mut violations = Vec::new();
    let mut add = |kind, detail: String| violations.push(Violation { kind, detail });
    let knowledge = context.knowledge.join("\n");
    let knowledge_lower = normalised(&knowledge);
    let allowed = |value: &str| context.customer_text.contains(value) || knowledge.contains(value);

    for m in CARD.find_iter(reply) {
        if luhn_valid(m.as_str()) {
            add(ViolationKind::CardNumber, format!("card number ending {}", last_digits(m.as_str())));
        }
    }
    for m in NATIONAL_ID.find_iter(reply) {
        if !allowed(m.as_str()) {
            add(ViolationKind::NationalId, format!("id number ending {}", last_digits(m.as_str())));
        }
    }
    let mut states_amount = false;
    for entity in entities::extract(reply, &[]) {
        states_amount |= entity.kind == EntityKind::Money;
        match entity.kind {
            EntityKind::Email if !allowed(&entity.value) => add(ViolationKind::ForeignEmail, entity.value),
            EntityKind::Phone if !allowed(&entity.value) && !luhn_valid(&entity.value) => {
                add(ViolationKind::ForeignPhone, entity.value)
            }
            EntityKind::Money if !knowledge.contains(entity.value.trim_end_matches(['.', ','])) => {
                add(ViolationKind::UnsupportedPrice, format!("{} is not in the knowledge base", entity.value))
            }
            _ => {}
        }
    }
    let reply_lower = normalised(reply);
    for promise in PROMISE_LIST.found(&reply_lower) {
        if !contains_phrase(&knowledge_lower, promise) {
            add(ViolationKind::UnsupportedPromise, format!("'{promise}' is not offered in the knowledge base"));
        }
    }
    let chars = reply.chars().count();
    if context.max_chars > 0 && chars > context.max_chars {
        add(ViolationKind::TooLong, format!("{chars} characters, limit {}", context.max_chars));
    }
    // Too short a reply ("Thanks!") says little about its language.
    if let Some(expected) = context.customer_language
        && reply.chars().filter(|c| c.is_alphabetic()).count() >= 20
        && let Some(found) = context.reply_language.or_else(|| language::detect(reply).language)
        && found != expected
    {
        add(ViolationKind::WrongLanguage, format!("reply is in {found}, customer wrote in {expected}"));
    }
    if let Some(subject) = &context.subject
        && let Some(reason) = relevance::unaddressed(&reply_lower, states_amount, subject)
    {
        add(ViolationKind::OffTopic, reason);
    }
    ReplyCheck { passed: violations.is_empty(), violations }
}

fn last_digits(value: &str) -> String {
    let digits: Vec<char> = value.chars().filter(char::is_ascii_alphanumeric).collect();
    digits[digits.len().saturating_sub(4)..].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context<'a>(customer: &'a str, knowledge: &'a [String]) -> ReplyContext<'a> {
        ReplyContext {
            customer_language: Some(Language::En),
            customer_text: customer,
            knowledge,
            max_chars: 500,
            ..ReplyContext::default()
        }
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid("4111 1111 1111 1111"));
        assert!(!luhn_valid("4111 1111 1111 1112"));
        assert!(!luhn_valid("123"));
    }

    #[test]
    fn blocks_card_numbers_ids_and_other_peoples_contacts() {
        let kb = ["Support: help@shop.example, +1 555 010 2030".to_string()];
        let c = check_reply(
            "Your card 4111-1111-1111-1111 is on file; SSN 078-05-1120. Contact bob@other.example or help@shop.example.",
            &context("I'm alice@mail.example", &kb),
        );
        let kinds: Vec<ViolationKind> = c.violations.iter().map(|v| v.kind).collect();
        assert!(!c.passed);
        assert!(kinds.contains(&ViolationKind::CardNumber) && kinds.contains(&ViolationKind::NationalId));
        assert_eq!(c.violations.iter().filter(|v| v.kind == ViolationKind::ForeignEmail).count(), 1);
        assert!(c.violations.iter().any(|v| v.detail == "bob@other.example"));
        let own = check_reply("We will write to alice@mail.example today.", &context("I'm alice@mail.example", &kb));
        assert!(own.passed, "{own:?}");
    }

    #[test]
    fn prices_and_promises_must_come_from_the_knowledge_base() {
        let kb = ["The Pro plan costs $49/month and includes priority support.".to_string()];
        let ok = check_reply("The Pro plan is $49/month, with priority support.", &context("", &kb));
        assert!(ok.passed, "{ok:?}");
        let bad = check_reply("The Pro plan is $39/month and we guarantee a full refund.", &context("", &kb));
        let kinds: Vec<ViolationKind> = bad.violations.iter().map(|v| v.kind).collect();
        assert!(kinds.contains(&ViolationKind::UnsupportedPrice));
        assert!(kinds.contains(&ViolationKind::UnsupportedPromise));
    }

    #[test]
    fn length_and_language() {
        let kb: [String; 0] = [];
        let mut ctx = context("", &kb);
        ctx.max_chars = 10;
        assert_eq!(check_reply("This reply is too long.", &ctx).violations[0].kind, ViolationKind::TooLong);
        ctx.max_chars = 500;
        ctx.customer_language = Some(Language::Es);
        let c = check_reply("Thank you for your message, we will look into it.", &ctx);
        assert_eq!(c.violations[0].kind, ViolationKind::WrongLanguage);
        assert!(check_reply("Gracias por su mensaje, lo revisaremos hoy mismo.", &ctx).passed);
        // The composer said which language it wrote in: not identified again.
        ctx.reply_language = Some(Language::Es);
        assert!(check_reply("Thank you for your message, we will look into it.", &ctx).passed);
    }
}
