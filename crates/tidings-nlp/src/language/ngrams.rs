//! lingua's high-accuracy scoring, over lingua's own models, without lingua's per-look-up costs.
//!
//! lingua 1.8 (Apache-2.0, Peter M. Stahl) scores a text by summing, per language and per
//! n-gram order 1–5, the log-probability of each distinct n-gram of its words, backing off to the
//! n-gram's longest prefix the model knows; the unigram count normalises the sum, and a softmax
//! over the languages gives the confidence. Its models are finite-state transducers (one per
//! language, all orders in one), shipped in the `lingua-*-language-model` crates; build.rs
//! merges them into one transducer over every n-gram any language knows, whose output points at
//! a row of that n-gram's two-byte log-probabilities ([`quantise`]) in the languages that know it
//! (ADR 0032).
//!
//! lingua itself spends about a millisecond per short text on 11 languages: every n-gram of
//! every order is looked up separately (a 5-gram and then its four prefixes when absent), each
//! look-up locks a `DashMap` twice, and the n-grams are allocated and hashed per order. Here the
//! same sums come from one walk of the merged transducer per starting character, for every
//! language at once: walking "order" passes through "o", "or", "ord" and "orde", so one walk
//! yields the row of every prefix, which is exactly the back-off chain of each order's n-gram at
//! that position. `tests::same_answers_as_lingua` (in the parent module) holds the results to
//! lingua's own.

use std::sync::LazyLock;

use fst::raw::{Fst, Node, Output};

use super::Language;

/// lingua's longest n-gram.
const MAX_ORDER: usize = 5;
/// From this many letters lingua uses trigrams alone (long texts need no more evidence).
const LONG_TEXT_CHARS: usize = 120;

include!("quantisation.rs");

/// The merged transducer: n-gram (UTF-8 bytes) → index of its row in [`ROWS`] (build.rs). Read
/// in place from the executable: no copy, no decoding at start.
static MODEL: LazyLock<Option<Fst<&'static [u8]>>> = LazyLock::new(|| Fst::new(MODEL_BYTES).ok());

static MODEL_BYTES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ngrams.fst"));

/// Each n-gram's row, little-endian `u16`s: the mask of the languages that know it (bit i:
/// `Language::ALL[i]`), then their quantised log-probabilities in that order.
static ROWS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ngram-rows.bin"));

/// A window prefix the model does not know.
const NO_ROW: u32 = u32::MAX;

/// A point of a walk through the transducer: the node reached and the output summed on the way.
type State = (Node<'static>, Output);

/// Where the transducer goes from its root on each first byte: every text starts many walks at
/// the root, and this spares decoding its widest node and the next one each time.
static FIRST_STEPS: LazyLock<Vec<Option<State>>> = LazyLock::new(|| {
    let Some(model) = MODEL.as_ref() else { return Vec::new() };
    let root = model.root();
    (0..=u8::MAX)
        .map(|byte| {
            let transition = root.transition(root.find_input(byte)?);
            Some((model.node(transition.addr), Output::zero().cat(transition.out)))
        })
        .collect()
});

/// Opens the transducer (no copy: it is read in place, from the executable).
pub(super) fn preload() {
    LazyLock::force(&FIRST_STEPS);
}

fn row_u16(at: usize) -> u16 {
    u16::from_le_bytes([ROWS[2 * at], ROWS[2 * at + 1]])
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

/// The row of every prefix of every window ([`NO_ROW`]: absent). Neighbouring windows share
/// prefixes (they are sorted), so the walk of each window resumes from the state its common
/// prefix with the previous one reached: the transducer's nodes are decoded once per distinct
/// prefix rather than once per window and step.
fn prefix_rows(model: &'static Fst<&'static [u8]>, grams: &Grams<'_>) -> Vec<[u32; MAX_ORDER]> {
    // The node and output reached after each byte of the previous window (as far as it went).
    let mut path: Vec<State> = Vec::with_capacity(MAX_ORDER * 4);
    let mut previous: &[u8] = &[];
    grams
        .windows
        .iter()
        .zip(&grams.prefix_ends)
        .map(|(window, ends)| {
            let bytes = window.as_bytes();
            let common = bytes.iter().zip(previous).take_while(|(a, b)| a == b).count();
            path.truncate(common);
            if path.is_empty()
                && let Some(Some(first)) = bytes.first().map(|b| FIRST_STEPS[usize::from(*b)])
            {
                path.push(first);
            }
            let Some(&(mut node, mut output)) = path.last() else {
                previous = bytes;
                return [NO_ROW; MAX_ORDER];
            };
            for &byte in &bytes[path.len()..] {
                let Some(t) = node.find_input(byte) else { break };
                let transition = node.transition(t);
                output = output.cat(transition.out);
                node = model.node(transition.addr);
                path.push((node, output));
            }
            previous = bytes;
            let mut rows = [NO_ROW; MAX_ORDER];
            for (row, &end) in rows.iter_mut().zip(ends) {
                let Some((node, output)) = end.checked_sub(1).and_then(|at| path.get(at)) else { break };
                if node.is_final() {
                    *row = u32::try_from(output.cat(node.final_output()).value()).unwrap_or(NO_ROW);
                }
            }
            rows
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
    let Some(model) = MODEL.as_ref() else { return Vec::new() };
    let rows = prefix_rows(model, &grams);
    // Per language: the sum of each order's log-probabilities, and how many unigrams it knows.
    // Each n-gram's rows are read from its longest prefix down, and a language is resolved at
    // the first row that knows it (lingua's back-off), for every candidate language at once.
    let wanted: u16 = candidates.iter().fold(0, |mask, l| mask | 1 << (*l as u16));
    let mut sums = [[0.0; MAX_ORDER]; Language::ALL.len()];
    let mut unigrams = [0u32; Language::ALL.len()];
    for gram in &grams.grams {
        let mut unresolved = wanted;
        for &row in rows[gram.window][..gram.order].iter().rev() {
            if row == NO_ROW {
                continue;
            }
            let row = row as usize;
            let mask = row_u16(row);
            let mut found = mask & unresolved;
            unresolved &= !found;
            while found != 0 {
                let language = found.trailing_zeros() as usize;
                let slot = (mask & ((1 << language) - 1)).count_ones() as usize;
                sums[language][gram.order - 1] += log_probability(u64::from(row_u16(row + 1 + slot)));
                if gram.order == 1 {
                    unigrams[language] += 1;
                }
                found &= found - 1;
            }
            if unresolved == 0 {
                break;
            }
        }
    }
    let scored: Vec<(Language, [f64; MAX_ORDER], u32)> =
        candidates.iter().map(|l| (*l, sums[*l as usize], unigrams[*l as usize])).collect();
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
