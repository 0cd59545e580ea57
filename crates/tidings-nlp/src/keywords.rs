//! Key phrases with YAKE (Campos et al., "YAKE! Keyword extraction from single documents using
//! multiple local features", 2020): a statistical extractor that needs no model, with the stop
//! words of the message's language (the lists yake-rust 1.0 ships, MIT, in `data/stopwords/`).
//!
//! Written here after yake-rust's features (window 1, phrases of up to 3 words, duplicates
//! dropped above a Levenshtein similarity of 0.9) because yake-rust clones its stop-word set and
//! configuration on every call and tokenises with segtok's regular expressions, 140–200 µs a
//! short message (docs/BENCHMARKS.md); here a message costs a few µs. Tokens are split on
//! whitespace and punctuation; a word keeps its inner apostrophes and hyphens ("don't",
//! "aujourd'hui" and "high-tech" are one token, as the stop-word lists spell them).

use std::sync::LazyLock;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::language::Language;

/// The longest key phrase, in words.
const MAX_WORDS: usize = 3;
/// Phrases more similar than this to a better one are dropped.
const DUPLICATE_SIMILARITY: f64 = 0.9;
/// The shortest key phrase, in characters.
const MIN_CHARS: usize = 3;
/// YAKE's punctuation symbols.
const PUNCTUATION: &str = r##"!"#$%&'()*+,-./:<=>?@[\]^_`{|}~"##;

static STOP_WORDS: LazyLock<HashMap<Language, HashSet<&'static str>>> = LazyLock::new(|| {
    Language::ALL.into_iter().map(|l| (l, stop_word_list(l).lines().map(str::trim).collect())).collect()
});

fn stop_word_list(language: Language) -> &'static str {
    match language {
        Language::En => include_str!("../data/stopwords/en.txt"),
        Language::Es => include_str!("../data/stopwords/es.txt"),
        Language::Fr => include_str!("../data/stopwords/fr.txt"),
        Language::De => include_str!("../data/stopwords/de.txt"),
        Language::It => include_str!("../data/stopwords/it.txt"),
        Language::Pt => include_str!("../data/stopwords/pt.txt"),
        Language::Nl => include_str!("../data/stopwords/nl.txt"),
        Language::Pl => include_str!("../data/stopwords/pl.txt"),
        Language::Sv => include_str!("../data/stopwords/sv.txt"),
        Language::Tr => include_str!("../data/stopwords/tr.txt"),
        Language::Ru => include_str!("../data/stopwords/ru.txt"),
    }
}

/// Whether `lower` (a lower-case word) is one of `language`'s stop words, which say nothing about
/// what a text is about.
pub(crate) fn is_stop_word(language: Language, lower: &str) -> bool {
    STOP_WORDS.get(&language).is_some_and(|s| s.contains(lower))
}

/// What kind of token a word is; only plain words make key phrases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Digit,
    Punctuation,
    /// Letters and digits mixed ("B2C"), or several punctuation symbols.
    Unparsable,
    /// All capitals ("USA").
    Acronym,
    /// Capitalised inside a sentence ("Paris").
    Capitalised,
    Plain,
}

impl Tag {
    fn of(word: &str, first_in_sentence: bool) -> Tag {
        let punctuation = |c: char| PUNCTUATION.contains(c);
        let number = if word.contains(',') { word.replace(',', "").parse::<f64>() } else { word.parse::<f64>() };
        if number.is_ok() {
            Tag::Digit
        } else if word.chars().all(punctuation) {
            Tag::Punctuation
        } else if word
            .chars()
            .filter(|c| punctuation(*c))
            .try_fold(None, |first, c| match first {
                Some(p) if p != c => Err(()),
                _ => Ok(Some(c)),
            })
            .is_err()
            || word.chars().any(|c| c.is_ascii_digit()) == word.chars().any(char::is_alphabetic)
        {
            Tag::Unparsable
        } else if word.chars().all(char::is_uppercase) {
            Tag::Acronym
        } else if !first_in_sentence && {
            let mut chars = word.chars();
            chars.next().is_some_and(char::is_uppercase) && !chars.any(char::is_uppercase)
        } {
            Tag::Capitalised
        } else {
            Tag::Plain
        }
    }

    /// Digits and unparsable tokens take part in no context and no phrase.
    fn is_noise(self) -> bool {
        matches!(self, Tag::Digit | Tag::Unparsable)
    }
}

/// One token of the text.
struct Token<'t> {
    raw: &'t str,
    /// Lower case, typographic apostrophes made straight.
    lower: String,
    /// The term it counts as: [`Token::lower`] without a plural `s`.
    term: usize,
    tag: Tag,
    /// Whether it is a stop word (or too short to be a term), decided once per token.
    stop: bool,
}

/// Splits `text` into sentences of word and punctuation tokens, each with whether it opens its
/// sentence.
fn tokenise(text: &str) -> Vec<Vec<(&str, bool)>> {
    let mut sentences = vec![Vec::new()];
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut start: Option<usize> = None;
    for (i, &(at, c)) in chars.iter().enumerate() {
        let next = chars.get(i + 1).map(|(_, n)| *n);
        let inner = matches!(c, '\'' | '’' | '-') && start.is_some() && next.is_some_and(char::is_alphanumeric);
        if c.is_alphanumeric() || inner {
            start.get_or_insert(at);
            continue;
        }
        let current = sentences.last_mut().expect("there is always a sentence");
        if let Some(s) = start.take() {
            current.push((&text[s..at], current.is_empty()));
        }
        if !c.is_whitespace() {
            current.push((&text[at..at + c.len_utf8()], current.is_empty()));
        }
        let ends = matches!(c, '.' | '!' | '?' | '\n') && next.is_none_or(char::is_whitespace);
        if ends && !current.is_empty() {
            sentences.push(Vec::new());
        }
    }
    let current = sentences.last_mut().expect("there is always a sentence");
    if let Some(s) = start {
        current.push((&text[s..], current.is_empty()));
    }
    sentences.retain(|s| !s.is_empty());
    sentences
}

/// A term's plural `s` dropped, as YAKE does for words of four letters or more.
fn singular(lower: &str) -> &str {
    if lower.chars().nth(3).is_some() && lower.ends_with('s') { &lower[..lower.len() - 1] } else { lower }
}

/// What is known about one term over the whole text.
#[derive(Default)]
struct Term {
    /// Sentence of each occurrence, in order.
    sentences: Vec<usize>,
    acronyms: usize,
    capitalised: usize,
    /// Terms seen just before it, and just after it.
    left: Vec<usize>,
    right: Vec<usize>,
    score: f64,
}

/// Up to `max` key phrases of `text`, most important first, in their original spelling.
pub fn extract(text: &str, language: Language, max: usize) -> Vec<String> {
    let stop_words = STOP_WORDS.get(&language);
    let is_stop_word = |lower: &str| {
        let single = singular(lower);
        stop_words.is_some_and(|s| s.contains(lower) || s.contains(single))
            || single.chars().filter(|c| !PUNCTUATION.contains(*c)).count() < 3
    };
    let mut ids: HashMap<String, usize> = HashMap::default();
    let mut terms: Vec<Term> = Vec::new();
    let sentences: Vec<Vec<Token>> = tokenise(text)
        .into_iter()
        .map(|words| {
            words
                .into_iter()
                .map(|(raw, first)| {
                    let mut lower = raw.to_lowercase();
                    if lower.contains('’') {
                        lower = lower.replace('’', "'");
                    }
                    // Looked up before inserting: most tokens repeat a term or are stop words
                    // seen before, and need no key of their own.
                    let term = match ids.get(singular(&lower)) {
                        Some(&term) => term,
                        None => {
                            ids.insert(singular(&lower).to_string(), terms.len());
                            terms.push(Term::default());
                            terms.len() - 1
                        }
                    };
                    let stop = is_stop_word(&lower);
                    Token { raw, tag: Tag::of(raw, first), lower, term, stop }
                })
                .collect()
        })
        .collect();
    // Occurrences and neighbours (a window of one word, broken by punctuation).
    for (index, sentence) in sentences.iter().enumerate() {
        let mut previous: Option<&Token> = None;
        for token in sentence {
            if token.tag == Tag::Punctuation {
                previous = None;
                continue;
            }
            let term = &mut terms[token.term];
            term.sentences.push(index);
            term.acronyms += usize::from(token.tag == Tag::Acronym);
            term.capitalised += usize::from(token.tag == Tag::Capitalised);
            if let Some(left) = previous.filter(|l| !l.tag.is_noise() && !token.tag.is_noise()) {
                terms[token.term].left.push(left.term);
                terms[left.term].right.push(token.term);
            }
            previous = Some(token);
        }
    }
    score_terms(&mut terms, &sentences);
    let mut phrases = candidates(&sentences, &terms);
    phrases.sort_by(|a, b| a.score.total_cmp(&b.score));
    let mut kept: Vec<Candidate> = Vec::new();
    for phrase in phrases {
        if kept.len() >= max {
            break;
        }
        if kept.iter().all(|k| similarity(&k.key, &phrase.key) <= DUPLICATE_SIMILARITY) {
            kept.push(phrase);
        }
    }
    kept.into_iter().map(|k| k.raw).collect()
}

/// YAKE's term score (lower is more important): casing, position, frequency, relatedness to
/// its neighbours and spread over sentences.
fn score_terms(terms: &mut [Term], sentences: &[Vec<Token>]) {
    let content: HashSet<usize> =
        sentences.iter().flatten().filter(|t| t.tag != Tag::Punctuation && !t.stop).map(|t| t.term).collect();
    let frequencies: Vec<f64> = content.iter().map(|t| terms[*t].sentences.len() as f64).collect();
    let count = frequencies.len().max(1) as f64;
    let mean = frequencies.iter().sum::<f64>() / count;
    let deviation = (frequencies.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / count).sqrt();
    let max_tf = terms.iter().map(|t| t.sentences.len()).max().unwrap_or(0).max(1) as f64;
    let spread = |neighbours: &[usize]| {
        if neighbours.is_empty() {
            0.0
        } else {
            neighbours.iter().collect::<HashSet<_>>().len() as f64 / neighbours.len() as f64
        }
    };
    for term in terms.iter_mut().filter(|t| !t.sentences.is_empty()) {
        let tf = term.sentences.len() as f64;
        let casing = term.acronyms.max(term.capitalised) as f64 / (1.0 + tf.ln());
        let mut distinct = term.sentences.clone();
        distinct.dedup();
        let median = match distinct.len() {
            n if n % 2 == 1 => distinct[n / 2] as f64,
            n => (distinct[n / 2 - 1] + distinct[n / 2]) as f64 / 2.0,
        };
        let position = (3.0 + median).ln().ln();
        let frequency = tf / (mean + deviation);
        let relatedness = 1.0 + (spread(&term.left) + spread(&term.right)) * tf / max_tf;
        let spread_over = distinct.len() as f64 / sentences.len() as f64;
        term.score = relatedness * position / (casing + frequency / relatedness + spread_over / relatedness);
    }
}

/// A key-phrase candidate: 1 to [`MAX_WORDS`] words of one sentence.
struct Candidate {
    /// Lower case, words joined by a space.
    key: String,
    /// As first written.
    raw: String,
    score: f64,
}

/// Every phrase that neither starts nor ends with a stop word, holds no digit or punctuation and
/// has at least [`MIN_CHARS`] characters, scored by YAKE's formula, in order of appearance.
fn candidates(sentences: &[Vec<Token>], terms: &[Term]) -> Vec<Candidate> {
    let mut found: Vec<(String, Vec<&Token>, usize)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::default();
    for sentence in sentences {
        for start in 0..sentence.len() {
            if sentence[start].stop {
                continue;
            }
            for end in start + 1..=(start + MAX_WORDS).min(sentence.len()) {
                let words = &sentence[start..end];
                let bad = words.iter().any(|t| t.tag.is_noise() || t.tag == Tag::Punctuation)
                    || words[words.len() - 1].stop
                    || words.iter().map(|t| t.lower.chars().count()).sum::<usize>() < MIN_CHARS;
                if bad {
                    continue;
                }
                let key = words.iter().map(|t| t.lower.as_str()).collect::<Vec<_>>().join(" ");
                match index.get(&key) {
                    Some(&at) => found[at].2 += 1,
                    None => {
                        index.insert(key.clone(), found.len());
                        found.push((key, words.iter().collect(), 1));
                    }
                }
            }
        }
    }
    // How often `a` is directly followed by `b`.
    let followed = |a: usize, b: usize| terms[a].right.iter().filter(|t| **t == b).count() as f64;
    found
        .into_iter()
        .map(|(key, words, occurrences)| {
            let (mut product, mut sum) = (1.0, 0.0);
            for (j, token) in words.iter().enumerate() {
                if token.stop {
                    // A stop word inside a phrase weighs by how strongly it binds its neighbours.
                    let before = words[j - 1].term;
                    let after = words[j + 1].term;
                    let probability = followed(before, token.term) / terms[before].sentences.len() as f64
                        * (followed(token.term, after) / terms[after].sentences.len() as f64);
                    product *= 2.0 - probability;
                    sum -= 1.0 - probability;
                } else {
                    product *= terms[token.term].score;
                    sum += terms[token.term].score;
                }
            }
            if sum == -1.0 {
                sum = 0.999_999_999;
            }
            let raw = words.iter().map(|t| t.raw).collect::<Vec<_>>().join(" ");
            Candidate { key, raw, score: product / (occurrences as f64 * (1.0 + sum)) }
        })
        .collect()
}

/// 1 − Levenshtein distance / the longer length (in bytes, as YAKE measures it).
fn similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(x != y);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    1.0 - row[b.len()] as f64 / a.len().max(b.len()).max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_subject_of_a_message() {
        let k = extract(
            "The battery of my new phone drains in two hours. The battery was fine before the update.",
            Language::En,
            5,
        );
        assert!(k.iter().any(|p| p.to_lowercase().contains("battery")), "{k:?}");
        assert!(k.len() <= 5);
        let es = extract("La batería del teléfono se agota muy rápido, la batería es nueva.", Language::Es, 3);
        assert!(es.iter().any(|p| p.to_lowercase().contains("batería")), "{es:?}");
    }

    #[test]
    fn phrases_never_start_or_end_with_a_stop_word_nor_hold_digits() {
        let k = extract("I don't like the Pro plan. The Pro plan costs $49 a month, and 4G is slow.", Language::En, 10);
        assert!(k.iter().any(|p| p == "Pro plan"), "{k:?}");
        for phrase in &k {
            let words: Vec<&str> = phrase.split(' ').collect();
            let stop = |w: &str| STOP_WORDS[&Language::En].contains(w.to_lowercase().as_str());
            assert!(!stop(words[0]) && !stop(words[words.len() - 1]), "{phrase}");
            assert!(!phrase.chars().any(|c| c.is_ascii_digit()), "{phrase}");
        }
    }

    #[test]
    fn near_duplicates_are_dropped_and_sentences_split_at_their_end_only() {
        assert!(similarity("pro plan price", "pro plan prices") > DUPLICATE_SIMILARITY);
        assert!(similarity("pro plan", "pro plans") <= DUPLICATE_SIMILARITY, "short phrases differ by more");
        assert_eq!(similarity("kitten", "sitting"), 1.0 - 3.0 / 7.0);
        let split = tokenise("Version 4.5 is out. See example.com now!");
        assert_eq!(split.len(), 2, "{split:?}");
        assert_eq!(split[1][0], ("See", true));
    }
}
