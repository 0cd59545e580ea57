//! Writes the language models `src/language/ngrams.rs` reads: lingua's n-gram transducers (one
//! per shipped language, from the `lingua-*-language-model` crates, Apache-2.0) with each
//! log-probability stored as a `u16` ([`quantise`]) instead of the bits of an `f64`. The
//! transducers shrink to about a third (docs/EVALUATION.md), and with them the binary and the
//! resident memory once the models are used; the crates themselves are build dependencies
//! only, so their original models do not reach the binary.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use fst::{IntoStreamer, Map, MapBuilder, Streamer};
use include_dir::Dir;

include!("src/language/quantisation.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/language/quantisation.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let models: [(&str, &Dir<'static>); 11] = [
        ("en", &lingua_english_language_model::ENGLISH_MODELS_DIRECTORY),
        ("es", &lingua_spanish_language_model::SPANISH_MODELS_DIRECTORY),
        ("fr", &lingua_french_language_model::FRENCH_MODELS_DIRECTORY),
        ("de", &lingua_german_language_model::GERMAN_MODELS_DIRECTORY),
        ("it", &lingua_italian_language_model::ITALIAN_MODELS_DIRECTORY),
        ("pt", &lingua_portuguese_language_model::PORTUGUESE_MODELS_DIRECTORY),
        ("nl", &lingua_dutch_language_model::DUTCH_MODELS_DIRECTORY),
        ("pl", &lingua_polish_language_model::POLISH_MODELS_DIRECTORY),
        ("sv", &lingua_swedish_language_model::SWEDISH_MODELS_DIRECTORY),
        ("tr", &lingua_turkish_language_model::TURKISH_MODELS_DIRECTORY),
        ("ru", &lingua_russian_language_model::RUSSIAN_MODELS_DIRECTORY),
    ];
    for (code, directory) in models {
        let file = directory.get_file("ngrams.fst").expect("lingua model crates ship ngrams.fst");
        let model = Map::new(file.contents()).expect("lingua's model is a transducer");
        let path = out.join(format!("ngrams-{code}.fst"));
        let writer = BufWriter::new(File::create(&path).expect("OUT_DIR is writable"));
        let mut builder = MapBuilder::new(writer).expect("a transducer builder");
        let mut ngrams = model.into_stream();
        while let Some((ngram, bits)) = ngrams.next() {
            builder.insert(ngram, quantise(f64::from_bits(bits))).expect("keys arrive sorted");
        }
        builder.finish().expect("the transducer is written");
    }
}
