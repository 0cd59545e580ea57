//! lingua's high-accuracy scoring, over lingua's own models, without lingua's per-look-up costs.
//!
//! lingua 1.8 (Apache-2.0, Peter M. Stahl) scores a text by summing, per language and per
//! n-gram order 1–5, the log-probability of each distinct n-gram of its words, backing off to the
//! n-gram's longest prefix the model knows; the unigram count normalises the sum, and a softmax
//! over the languages gives the confidence. Its models are finite-state transducers (one per
//! language, all orders in one), shipped in the `lingua-*-language-model` crates; build.rs
//! stores them here with two-byte log-probabilities ([`quantise`]), a third of their size.
//!
//! lingua itself spends about a millisecond per short text on 11 languages: every n-gram of
//! every order is looked up separately (a 5-gram and then its four prefixes when absent), each
//! look-up locks a `DashMap` twice, and the n-grams are allocated and hashed per order. Here the
//! same sums come from one walk of each language's transducer per starting character: walking
//! "order" passes through "o", "or", "ord" and "orde", so one walk yields the value of every
//! prefix, which is exactly the back-off chain of each order's n-gram at that position.
//! `tests::same_answers_as_lingua` (in the parent module) holds the results to lingua's own.

use std::sync::LazyLock;

use fst::raw::{Fst, Node, Output};

use super::Language;

/// lingua's longest n-gram.
const MAX_ORDER: usize = 5;
/// From this many letters lingua uses trigrams alone (long texts need no more evidence).
const LONG_TEXT_CHARS: usize = 120;

include!("quantisation.rs");

/// Each language's transducer: n-gram (UTF-8 bytes) → its log-probability, quantised
/// (build.rs).
static MODELS: LazyLock<Vec<Option<Fst<&'static [u8]>>>> =
    LazyLock::new(|| Language::ALL.iter().map(|l| Fst::new(model_bytes(*l)).ok()).collect());

/// A point of a walk through a transducer: the node reached and the output summed on the way.
type State = (Node<'static>, Output);

/// Where each language's transducer goes from its root on each first byte: every text starts
/// many walks at the root, and this spares decoding its widest node and the next one each time.
static FIRST_STEPS: LazyLock<Vec<Vec<Option<State>>>> = LazyLock::new(|| {
    MODELS
        .iter()
        .map(|model| {
            let Some(model) = model else { return Vec::new() };
            let root = model.root();
            (0..=u8::MAX)
                .map(|byte| {
                    let transition = root.transition(root.find_input(byte)?);
                    Some((model.node(transition.addr), Output::zero().cat(transition.out)))
                })
                .collect()
        })
        .collect()
});

fn model_bytes(language: Language) -> &'static [u8] {
    macro_rules! model {
        ($code:literal) => {
            include_bytes!(concat!(env!("OUT_DIR"), "/ngrams-", $code, ".fst"))
        };
    }
    match language {
        Language::En => model!("en"),
        Language::Es => model!("es"),
        Language::Fr => model!("fr"),
        Language::De => model!("de"),
        Language::It => model!("it"),
        Language::Pt => model!("pt"),
        Language::Nl => model!("nl"),
        Language::Pl => model!("pl"),
        Language::Sv => model!("sv"),
        Language::Tr => model!("tr"),
        Language::Ru => model!("ru"),
    }
}

/// Opens the transducers (no copy: they are read in place, from the executable).
pub(super) fn preload() {
    LazyLock::force(&FIRST_STEPS);
}

/// A distinct n-gram of the text: its order and the window it is a prefix of.
#[derive(Debug, Clone, Copy)]
struct Gram {
    order: usize,
    window: usize,
}

/// The text's n-grams, computed once for every language.
struct Grams<'t> {
    /// Distinct windows: up to the longest order's characters from each position of each word.
    windows: Vec<&'t str>,
    /// Byte length of each window's prefix of 1..=5 characters (0 where the window is shorter).
    prefix_ends: Vec<[usize; MAX_ORDER]>,
    /// Distinct n-grams of the orders scored, each once.
    grams: Vec<Gram>,
}

impl<'t> Grams<'t> {
    fn of(words: &[&'t str], orders: std::ops::RangeInclusive<usize>) -> Self {
        let longest = *orders.end();
        let mut windows: Vec<&str> = Vec::new();
        for word in words {
            let starts: Vec<usize> = word.char_indices().map(|(i, _)| i).collect();
            for (n, &start) in starts.iter().enumerate() {
                let end = starts.get(n + longest).copied().unwrap_or(word.len());
                windows.push(&word[start..end]);
            }
        }
        windows.sort_unstable();
        windows.dedup();
        let prefix_ends: Vec<[usize; MAX_ORDER]> = windows
            .iter()
            .map(|w| {
                let mut ends = [0; MAX_ORDER];
                for (k, (i, c)) in w.char_indices().enumerate() {
                    ends[k] = i + c.len_utf8();
                }
                ends
            })
            .collect();
        // The windows are sorted, so the windows that share an n-gram (their prefix of `order`
        // characters) are neighbours: each order's distinct n-grams are the prefixes that differ
        // from the last one kept, with no second sort.
        let mut grams = Vec::new();
        for order in orders {
            let mut last: Option<&str> = None;
            for (window, ends) in prefix_ends.iter().enumerate() {
                let end = ends[order - 1];
                if end == 0 {
                    continue;
                }
                let gram = &windows[window][..end];
                if last != Some(gram) {
                    grams.push(Gram { order, window });
                    last = Some(gram);
                }
            }
        }
        Self { windows, prefix_ends, grams }
    }
}

/// The log-probabilities of every prefix of every window in one language's model (`NaN`: absent).
/// Neighbouring windows share prefixes (they are sorted), so the walk of each window resumes
/// from the state its common prefix with the previous one reached: the transducer's nodes are
/// decoded once per distinct prefix rather than once per window and step.
fn prefix_values(language: Language, model: &'static Fst<&'static [u8]>, grams: &Grams<'_>) -> Vec<[f64; MAX_ORDER]> {
    // The node and output reached after each byte of the previous window (as far as it went).
    let mut path: Vec<State> = Vec::with_capacity(MAX_ORDER * 4);
    let mut previous: &[u8] = &[];
    let first_steps = &FIRST_STEPS[language as usize];
    grams
        .windows
        .iter()
        .zip(&grams.prefix_ends)
        .map(|(window, ends)| {
            let bytes = window.as_bytes();
            let common = bytes.iter().zip(previous).take_while(|(a, b)| a == b).count();
            path.truncate(common);
            if path.is_empty()
                && let Some(Some(first)) = bytes.first().map(|b| first_steps[usize::from(*b)])
            {
                path.push(first);
            }
            let Some(&(mut node, mut output)) = path.last() else {
                previous = bytes;
                return [f64::NAN; MAX_ORDER];
            };
            for &byte in &bytes[path.len()..] {
                let Some(t) = node.find_input(byte) else { break };
                let transition = node.transition(t);
                output = output.cat(transition.out);
                node = model.node(transition.addr);
                path.push((node, output));
            }
            previous = bytes;
            let mut values = [f64::NAN; MAX_ORDER];
            for (value, &end) in values.iter_mut().zip(ends) {
                let Some((node, output)) = end.checked_sub(1).and_then(|at| path.get(at)) else { break };
                if node.is_final() {
                    *value = log_probability(output.cat(node.final_output()).value());
                }
            }
            values
        })
        .collect()
}

/// lingua's confidence values for `words` (lower case letters) among `candidates`, highest
/// first; empty when no model knows any of the n-grams.
pub(super) fn confidences(words: &[&str], candidates: &[Language]) -> Vec<(Language, f64)> {
    let letters: usize = words.iter().map(|w| w.chars().count()).sum();
    let orders = if letters >= LONG_TEXT_CHARS { 3..=3 } else { 1..=MAX_ORDER.min(letters) };
    if orders.is_empty() {
        return Vec::new();
    }
    let first_order = *orders.start();
    let grams = Grams::of(words, orders);
    // Per language: the sum of each order's log-probabilities, and how many unigrams it knows.
    let mut scored: Vec<(Language, [f64; MAX_ORDER], u32)> = Vec::with_capacity(candidates.len());
    for &language in candidates {
        let Some(Some(model)) = MODELS.get(language as usize) else { continue };
        let values = prefix_values(language, model, &grams);
        let mut sums = [0.0; MAX_ORDER];
        let mut unigrams = 0;
        for gram in &grams.grams {
            let known = &values[gram.window][..gram.order];
            if let Some(value) = known.iter().rev().find(|v| !v.is_nan()) {
                sums[gram.order - 1] += value;
            }
            if gram.order == 1 && !known[0].is_nan() {
                unigrams += 1;
            }
        }
        scored.push((language, sums, unigrams));
    }
    // lingua keeps an order's sum only when it is below zero, divides by the unigram count when
    // there is one, and leaves out a language whose total is zero.
    let totals: Vec<(Language, f64)> = scored
        .iter()
        .filter_map(|(language, sums, unigrams)| {
            let mut total: f64 = sums.iter().filter(|s| **s < 0.0).sum();
            if *unigrams > 0 {
                total /= f64::from(*unigrams);
            }
            (total != 0.0).then_some((*language, total.exp()))
        })
        .collect();
    if totals.is_empty() {
        return Vec::new();
    }
    let denominator: f64 = totals.iter().map(|(_, p)| p).sum();
    let mut values: Vec<(Language, f64)> = if denominator == 0.0 {
        // Too long a text for `exp`: lingua gives the best trigram sum all the confidence.
        let best = scored
            .iter()
            .filter(|(_, sums, _)| sums[first_order - 1] < 0.0)
            .max_by(|a, b| a.1[first_order - 1].total_cmp(&b.1[first_order - 1]));
        best.map(|(l, _, _)| vec![(*l, 1.0)]).unwrap_or_default()
    } else {
        totals.into_iter().map(|(l, p)| (l, p / denominator)).collect()
    };
    values.sort_by(|a, b| b.1.total_cmp(&a.1));
    values
}
