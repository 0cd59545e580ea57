//! Entities worth acting on: money amounts, emails, phone numbers, order numbers, URLs,
//! products named in the knowledge base, and people or places guessed from capitalised words.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::text::{contains_phrase, normalised};

/// The kind of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// An amount with its currency, e.g. "$49" or "12,50 €".
    Money,
    /// An email address.
    Email,
    /// A phone number (7+ digits).
    Phone,
    /// An order, booking or ticket reference.
    OrderNumber,
    /// A web address.
    Url,
    /// A product from the knowledge base.
    Product,
    /// A run of capitalised words that is not at a sentence start: a person or a place
    /// (cheap heuristic, no model).
    Name,
}

/// One entity found in a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// What it is.
    pub kind: EntityKind,
    /// As written.
    pub value: String,
}

static MONEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:[$€£]\s?\d[\d.,]*(?:\s?(?:k|m))?|\b\d[\d.,]*\s?(?:[$€£]|usd|eur|gbp|dollars?|euros?|pounds?)\b?)")
        .expect("money pattern")
});
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b").expect("email pattern"));
static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:https?://|www\.)[^\s<>()]+|\b(?:bit\.ly|tinyurl\.com|t\.co|goo\.gl|ow\.ly|is\.gd|rb\.gy|cutt\.ly)/\S+",
    )
    .expect("url pattern")
});
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){2,4}").expect("phone pattern")
});
static ORDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:order|booking|reservation|ticket|invoice|pedido|commande|bestellung|ordine|encomenda|bestelling|reserva|réservation)\s*(?:no\.?|number|nr\.?|n[º°o]|#|:)?\s*#?\s*([A-Z0-9][A-Z0-9-]{3,})\b|#([0-9]{4,}|[A-Z]{2,4}-?\d{3,})\b")
        .expect("order pattern")
});
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b\p{Lu}\p{Ll}+(?:\s+(?:de |van |von |da |di |la )?\p{Lu}\p{Ll}+)+\b|(?:[,;:]\s*|\s(?:to|in|at|from|with|named|called|en|à|nach|a|em|naar)\s)(\p{Lu}\p{Ll}{2,}(?:\s+\p{Lu}\p{Ll}+)*)\b")
        .expect("name pattern")
});

/// Finds entities in `text`; `products` are the knowledge base's product names.
pub fn extract(text: &str, products: &[String]) -> Vec<Entity> {
    let mut out = Vec::new();
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut push = |kind, start: usize, end: usize, out: &mut Vec<Entity>| {
        if taken.iter().any(|(s, e)| start < *e && *s < end) {
            return;
        }
        taken.push((start, end));
        out.push(Entity { kind, value: text[start..end].trim().to_string() });
    };
    // Each pattern needs a character most texts lack (a web address a slash or "www.", an email
    // an @, money and order numbers a digit, a phone seven ASCII digits as its check below):
    // checked first, it spares most texts most searches, with the same results.
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    // `\d` in the money pattern is any script's digit.
    let numbers = digits > 0 || text.chars().any(char::is_numeric);
    let urls = text.contains('/') || text.contains("www.");
    // The haystack searched: the text where the pattern can match, nothing where it cannot.
    let searched = |possible: bool| if possible { text } else { "" };
    for m in URL.find_iter(searched(urls)) {
        push(EntityKind::Url, m.start(), m.end(), &mut out);
    }
    for m in EMAIL.find_iter(searched(text.contains('@'))) {
        push(EntityKind::Email, m.start(), m.end(), &mut out);
    }
    for c in ORDER.captures_iter(searched(digits > 0)) {
        if let Some(m) = c.get(1).or_else(|| c.get(2))
            && m.as_str().chars().any(|ch| ch.is_ascii_digit())
        {
            push(EntityKind::OrderNumber, m.start(), m.end(), &mut out);
        }
    }
    for m in MONEY.find_iter(searched(numbers)) {
        push(EntityKind::Money, m.start(), m.end(), &mut out);
    }
    for m in PHONE.find_iter(searched(digits >= 7)) {
        if m.as_str().chars().filter(char::is_ascii_digit).count() >= 7 {
            push(EntityKind::Phone, m.start(), m.end(), &mut out);
        }
    }
    let lower = normalised(text);
    for product in products {
        if contains_phrase(&lower, normalised(product).trim()) {
            out.push(Entity { kind: EntityKind::Product, value: product.clone() });
        }
    }
    // The name is group 1 of the second alternative, which starts at the match's first capital
    // letter (its lead-in, punctuation or a lower-case preposition, has none), and the whole
    // match of the first, which starts with one: so a plain search finds it, without the slower
    // search for groups.
    for m in NAME.find_iter(text) {
        let Some((offset, _)) = m.as_str().char_indices().find(|(_, c)| c.is_uppercase()) else { continue };
        let start = m.start() + offset;
        let value = &text[start..m.end()];
        let is_product = products.iter().any(|p| p.eq_ignore_ascii_case(value) || value.contains(p.as_str()));
        if !is_product {
            push(EntityKind::Name, start, m.end(), &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(entities: &[Entity], kind: EntityKind) -> Vec<&str> {
        entities.iter().filter(|e| e.kind == kind).map(|e| e.value.as_str()).collect()
    }

    #[test]
    fn finds_contact_details_money_and_orders() {
        let text = "Hi, order #48213 was charged $49.99 twice. Call me on +44 20 7946 0958 or write to jane.doe@example.com, see https://shop.example.com/o/48213";
        let e = extract(text, &[]);
        assert_eq!(values(&e, EntityKind::OrderNumber), ["48213"]);
        assert_eq!(values(&e, EntityKind::Money), ["$49.99"]);
        assert_eq!(values(&e, EntityKind::Phone), ["+44 20 7946 0958"]);
        assert_eq!(values(&e, EntityKind::Email), ["jane.doe@example.com"]);
        assert_eq!(values(&e, EntityKind::Url), ["https://shop.example.com/o/48213"]);
    }

    #[test]
    fn products_people_and_places_in_other_languages() {
        let e = extract(
            "Hola, mi pedido nº AB-7781 del Plan Pro no llegó a Sevilla. Saludos, María García",
            &["Plan Pro".to_string()],
        );
        assert_eq!(values(&e, EntityKind::OrderNumber), ["AB-7781"]);
        assert_eq!(values(&e, EntityKind::Product), ["Plan Pro"]);
        let names = values(&e, EntityKind::Name);
        assert!(names.contains(&"Sevilla") && names.contains(&"María García"), "{names:?}");
        let de = extract("Die Bestellung 2024-5531 kostet 12,50 €.", &[]);
        assert_eq!(values(&de, EntityKind::OrderNumber), ["2024-5531"]);
        assert_eq!(values(&de, EntityKind::Money), ["12,50 €"]);
    }
}
