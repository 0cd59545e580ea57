//! Knowledge-base retrieval with Okapi BM25 (k1 = 1.2, b = 0.75, Lucene's idf): which FAQ
//! entries and document passages a reply may draw on.
//!
//! A workspace's knowledge base is small (tens to a few thousand passages), so the index is
//! built per question in memory, in microseconds for a hundred passages; no index is stored.
//! Words are lower-cased, split on anything that is not a letter or digit, stripped of common
//! stop words (English, Spanish, French, German, Italian, Portuguese, Dutch) and of a plural
//! `s`, so "prices" finds "price". ADR 0022 says why this is not tantivy.

use std::collections::HashMap;

/// Term-frequency saturation.
const K1: f64 = 1.2;
/// Length normalisation.
const B: f64 = 0.75;

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from", "have", "how", "i",
    "if", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "so", "that", "the", "this", "to", "was", "we",
    "what", "when", "where", "which", "who", "will", "with", "you", "your", "hi", "hello", "please", "el", "la", "los",
    "las", "de", "del", "y", "en", "un", "una", "que", "es", "por", "para", "con", "le", "les", "des", "et", "est",
    "du", "au", "une", "pour", "avec", "der", "die", "das", "und", "ist", "ein", "eine", "mit", "für", "il", "di",
    "che", "per", "o", "os", "as", "um", "uma", "het", "een", "van", "voor", "ik",
];

/// The words of `text` as the index sees them.
pub fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

/// A light, language-neutral stem: a trailing plural `s` goes from words of four letters or more.
fn stem(word: &str) -> String {
    if word.chars().count() >= 4 && word.ends_with('s') && !word.ends_with("ss") {
        word[..word.len() - 1].to_owned()
    } else {
        word.to_owned()
    }
}

/// An in-memory BM25 index over passages.
#[derive(Debug, Clone, Default)]
pub struct Index {
    docs: Vec<HashMap<String, u32>>,
    lengths: Vec<f64>,
    document_frequency: HashMap<String, u32>,
    average_length: f64,
}

/// One passage found, by its position in the indexed list, with its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Position of the passage in the list given to [`Index::build`].
    pub index: usize,
    /// BM25 score; higher is better.
    pub score: f64,
    /// How many of the query's distinct terms the passage contains.
    pub matched_terms: usize,
    /// How many distinct terms the query has.
    pub query_terms: usize,
}

impl Hit {
    /// Whether the passage shares enough of the query to be an answer rather than a chance
    /// match: two distinct terms, or every term of a one-term query.
    pub fn is_relevant(&self) -> bool {
        self.matched_terms >= 2 || (self.matched_terms >= 1 && self.matched_terms == self.query_terms)
    }
}

impl Index {
    /// Indexes `passages` (their order gives the hits' `index`).
    pub fn build<S: AsRef<str>>(passages: &[S]) -> Self {
        let mut index = Index::default();
        for passage in passages {
            let mut counts: HashMap<String, u32> = HashMap::new();
            let words = terms(passage.as_ref());
            index.lengths.push(words.len() as f64);
            for word in words {
                *counts.entry(word).or_default() += 1;
            }
            for word in counts.keys() {
                *index.document_frequency.entry(word.clone()).or_default() += 1;
            }
            index.docs.push(counts);
        }
        let total: f64 = index.lengths.iter().sum();
        index.average_length = if index.docs.is_empty() { 0.0 } else { total / index.docs.len() as f64 };
        index
    }

    /// The `limit` best passages for `query` with a score above zero, best first (ties by position).
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let mut query_terms = terms(query);
        query_terms.sort();
        query_terms.dedup();
        let n = self.docs.len() as f64;
        let mut hits: Vec<Hit> = self
            .docs
            .iter()
            .enumerate()
            .map(|(i, counts)| {
                let length_norm = if self.average_length > 0.0 { self.lengths[i] / self.average_length } else { 0.0 };
                let matched_terms = query_terms.iter().filter(|term| counts.contains_key(*term)).count();
                let score = query_terms
                    .iter()
                    .filter_map(|term| {
                        let tf = f64::from(*counts.get(term)?);
                        let df = f64::from(*self.document_frequency.get(term)?);
                        let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
                        Some(idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length_norm)))
                    })
                    .sum::<f64>();
                Hit { index: i, score, matched_terms, query_terms: query_terms.len() }
            })
            .filter(|hit| hit.score > 0.0)
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        hits.truncate(limit);
        hits
    }
}

/// Splits a document into passages of at most `max_chars` characters at paragraph breaks (and
/// at sentence ends inside a longer paragraph), so retrieval returns the part that answers, not
/// the whole document. Markdown headings start a passage and are kept with what follows.
pub fn passages(document: &str, max_chars: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let push = |current: &mut String, out: &mut Vec<String>| {
        let text = current.trim();
        if !text.is_empty() {
            out.push(text.to_owned());
        }
        current.clear();
    };
    for paragraph in document.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let heading = paragraph.starts_with('#');
        if heading || current.chars().count() + paragraph.chars().count() + 2 > max_chars {
            push(&mut current, &mut out);
        }
        if paragraph.chars().count() > max_chars {
            for sentence in paragraph.split_inclusive(['.', '!', '?']) {
                if current.chars().count() + sentence.chars().count() > max_chars {
                    push(&mut current, &mut out);
                }
                current.push_str(sentence);
            }
            continue;
        }
        if !current.is_empty() {
            current.push_str("\n\n");
        }
        current.push_str(paragraph);
    }
    push(&mut current, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KB: [&str; 4] = [
        "What does the Pro plan cost? The Pro plan costs $49 per month, billed monthly.",
        "Opening hours: we are open Monday to Saturday, 9:00 to 18:00.",
        "Shipping: orders ship within 2 working days; delivery in the EU takes 3 to 5 days.",
        "Refunds: unused plans are refunded within 14 days of purchase.",
    ];

    #[test]
    fn the_passage_that_answers_ranks_first() {
        let index = Index::build(&KB);
        let hits = index.search("Hi, how much is the Pro plan per month?", 3);
        assert_eq!(hits[0].index, 0, "{hits:?}");
        assert_eq!(index.search("When are you open on Saturday?", 1)[0].index, 1);
        assert_eq!(index.search("how many days does delivery take", 1)[0].index, 2);
        assert_eq!(
            index.search("Can I get refunded?", 1)[0].index,
            3,
            "stem: refunded ≠ refund, but 'refunded' matches"
        );
    }

    #[test]
    fn a_single_shared_word_is_not_an_answer() {
        let index = Index::build(&KB);
        let hit = index.search("my plan broke yesterday evening", 1)[0];
        assert_eq!((hit.index, hit.matched_terms), (0, 1));
        assert!(!hit.is_relevant());
        assert!(index.search("pro plan", 1)[0].is_relevant());
        assert!(index.search("shipping", 1)[0].is_relevant());
    }

    #[test]
    fn unrelated_questions_find_nothing() {
        let index = Index::build(&KB);
        assert!(index.search("do you sell bicycles", 3).is_empty());
        assert!(Index::build::<&str>(&[]).search("price", 3).is_empty());
    }

    #[test]
    fn rare_words_weigh_more_than_common_ones_and_long_passages_are_normalised() {
        let docs = ["plan plan plan plan basic", "plan enterprise", "plan"];
        let index = Index::build(&docs);
        let hits = index.search("enterprise plan", 3);
        assert_eq!(hits[0].index, 1);
        // The score of a matching term saturates with its frequency (k1) instead of growing linearly.
        let tf1 = Index::build(&["price alpha beta gamma", "zeta"]).search("price", 1)[0].score;
        let tf4 = Index::build(&["price price price price", "zeta"]).search("price", 1)[0].score;
        assert!(tf4 > tf1 && tf4 < 2.0 * tf1, "{tf1} {tf4}");
    }

    #[test]
    fn documents_split_at_headings_and_paragraphs() {
        let doc = "# Pricing\n\nPro is $49.\n\nTeam is $99.\n\n# Hours\n\nOpen 9 to 6.";
        assert_eq!(passages(doc, 500), ["# Pricing\n\nPro is $49.\n\nTeam is $99.", "# Hours\n\nOpen 9 to 6."]);
        let long = "One sentence here. Another one there. A third sentence.";
        assert_eq!(passages(long, 25), ["One sentence here.", "Another one there.", "A third sentence."]);
    }
}
