//! Key phrases with YAKE (yake-rust, MIT): a statistical extractor that needs no model, with
//! the stop words of the message's language.

use std::collections::HashMap;
use std::sync::LazyLock;

use yake_rust::{Config, StopWords, get_n_best};

use crate::language::Language;

static STOP_WORDS: LazyLock<HashMap<Language, StopWords>> = LazyLock::new(|| {
    Language::ALL.into_iter().filter_map(|l| StopWords::predefined(l.code()).map(|s| (l, s))).collect()
});

static EMPTY: LazyLock<StopWords> = LazyLock::new(StopWords::default);

/// Up to `max` key phrases of `text`, most important first, in their original spelling.
pub fn extract(text: &str, language: Language, max: usize) -> Vec<String> {
    let config = Config { ngrams: 3, remove_duplicates: true, ..Config::default() };
    let stop_words = STOP_WORDS.get(&language).unwrap_or(&EMPTY);
    get_n_best(max, text, stop_words, &config).into_iter().map(|k| k.raw).collect()
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
}
