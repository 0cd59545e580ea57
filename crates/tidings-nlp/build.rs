//! Writes the language model `src/language/ngrams.rs` reads: lingua's n-gram transducers (one
//! per shipped language, from the `lingua-*-language-model` crates, Apache-2.0) merged into one
//! transducer over every n-gram any of them knows, whose output points at a row of the n-gram's
//! log-probabilities in each language that knows it, each stored as a `u16` ([`quantise`])
//! instead of the bits of an `f64` (ADR 0032). One walk then scores every language; the merged
//! form is also smaller than the eleven (docs/EVALUATION.md). The crates themselves are build
//! dependencies only, so their original models do not reach the binary.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use fst::{Map, MapBuilder, Streamer};
use include_dir::Dir;

include!("src/language/quantisation.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/language/quantisation.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // In `Language::ALL`'s order: a row's bit i is that language.
    let directories: [&Dir<'static>; 11] = [
        &lingua_english_language_model::ENGLISH_MODELS_DIRECTORY,
        &lingua_spanish_language_model::SPANISH_MODELS_DIRECTORY,
        &lingua_french_language_model::FRENCH_MODELS_DIRECTORY,
        &lingua_german_language_model::GERMAN_MODELS_DIRECTORY,
        &lingua_italian_language_model::ITALIAN_MODELS_DIRECTORY,
        &lingua_portuguese_language_model::PORTUGUESE_MODELS_DIRECTORY,
        &lingua_dutch_language_model::DUTCH_MODELS_DIRECTORY,
        &lingua_polish_language_model::POLISH_MODELS_DIRECTORY,
        &lingua_swedish_language_model::SWEDISH_MODELS_DIRECTORY,
        &lingua_turkish_language_model::TURKISH_MODELS_DIRECTORY,
        &lingua_russian_language_model::RUSSIAN_MODELS_DIRECTORY,
    ];
    let models: Vec<Map<&'static [u8]>> = directories
        .iter()
        .map(|directory| {
            let file = directory.get_file("ngrams.fst").expect("lingua model crates ship ngrams.fst");
            Map::new(file.contents()).expect("lingua's model is a transducer")
        })
        .collect();
    let keys = File::create(out.join("ngrams.fst")).expect("OUT_DIR is writable");
    let mut builder = MapBuilder::new(BufWriter::new(keys)).expect("a transducer builder");
    let mut rows = BufWriter::new(File::create(out.join("ngram-rows.bin")).expect("OUT_DIR is writable"));
    // A row: the mask of the languages that know the n-gram, then their values in language
    // order, all little-endian `u16`; the transducer's output is the row's index in `u16`s.
    let mut at: u64 = 0;
    let mut union = models.iter().collect::<fst::map::OpBuilder>().union();
    while let Some((ngram, found)) = union.next() {
        let mut found = found.to_vec();
        found.sort_by_key(|f| f.index);
        let mask: u16 = found.iter().map(|f| 1 << f.index).sum();
        rows.write_all(&mask.to_le_bytes()).expect("row written");
        for f in &found {
            let value = u16::try_from(quantise(f64::from_bits(f.value))).expect("quantise clamps to u16");
            rows.write_all(&value.to_le_bytes()).expect("row written");
        }
        builder.insert(ngram, at).expect("keys arrive sorted");
        at += 1 + found.len() as u64;
    }
    builder.finish().expect("the transducer is written");
    rows.flush().expect("rows written");
}
