//! lingua's rules before its n-gram models, for the languages Tidings ships: a text in an
//! alphabet only one of them uses (Cyrillic: Russian) or full of one language's own letters is
//! decided at once, and letters only some languages use narrow the candidates ("ñ": Spanish).
//! The tables are lingua 1.8's (`Language::unique_characters`, `CHARS_TO_LANGUAGES_MAPPING`),
//! restricted to these languages.

use std::sync::LazyLock;

use regex::Regex;

use super::Language;

/// Letters only one of the shipped languages writes.
const UNIQUE: &[(Language, &str)] = &[(Language::De, "ß"), (Language::Pl, "ŁłŃńŚśŹź"), (Language::Es, "¿¡")];

/// Letters some of the shipped languages write, and which.
const LETTERS_TO_LANGUAGES: &[(&str, &[Language])] = {
    use Language::*;
    &[
        ("Ãã", &[Pt]),
        ("ĄąĘę", &[Pl]),
        ("Żż", &[Pl]),
        ("Îî", &[Fr]),
        ("Ññ", &[Es]),
        ("İıĞğ", &[Tr]),
        ("ÐðÞþ", &[Tr]),
        ("Ûû", &[Fr]),
        ("Şş", &[Tr]),
        ("Ćć", &[Pl]),
        ("Ìì", &[It]),
        ("Ëë", &[Nl, Fr]),
        ("ÈèÙù", &[Fr, It]),
        ("Êê", &[Fr, Pt]),
        ("Õõ", &[Pt]),
        ("Ôô", &[Fr, Pt]),
        ("ЁёЫыЭэ", &[Ru]),
        ("ЩщЪъ", &[Ru]),
        ("Òò", &[It]),
        ("Ââ", &[Fr, Pt, Tr]),
        ("Åå", &[Sv]),
        ("Ýý", &[Tr]),
        ("Ää", &[De, Sv]),
        ("Àà", &[Fr, It, Pt]),
        ("Üü", &[De, Es, Tr]),
        ("Çç", &[Fr, Pt, Tr]),
        ("Öö", &[De, Sv, Tr]),
        ("Óó", &[Pl, Pt, Es]),
        ("ÁáÍíÚú", &[Pt, Es]),
        ("Éé", &[Fr, It, Pt, Es]),
    ]
};

/// The alphabets a word can be written in, as far as the shipped languages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alphabet {
    Latin,
    Cyrillic,
    /// Any other script: no shipped language is written in it.
    Other,
}

static LATIN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\p{Latin}+$").expect("Latin pattern"));
static CYRILLIC: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\p{Cyrillic}+$").expect("Cyrillic pattern"));

/// The alphabet all of `word`'s letters are in; `None` for a word that mixes Latin or Cyrillic
/// with another script (lingua counts such a word in no alphabet).
fn alphabet(word: &str) -> Option<Alphabet> {
    if word.bytes().all(|b| b.is_ascii_alphabetic()) || LATIN.is_match(word) {
        Some(Alphabet::Latin)
    } else if CYRILLIC.is_match(word) {
        Some(Alphabet::Cyrillic)
    } else if word
        .chars()
        .any(|c| is_cyrillic(c) || c.is_ascii_alphabetic() || LATIN.is_match(c.encode_utf8(&mut [0; 4])))
    {
        None
    } else {
        Some(Alphabet::Other)
    }
}

fn is_cyrillic(c: char) -> bool {
    matches!(c as u32, 0x0400..=0x052F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F)
}

/// Where [`decided`] counts the words that vote for no language.
const NO_VOTE: usize = Language::ALL.len();

/// The language the letters alone decide, as lingua's `detect_language_with_rules` does: each
/// word votes for the language whose own letters (or alphabet) it has most of; a language wins
/// with more votes than any other and than the half of the words that did not vote.
pub(super) fn decided(words: &[&str]) -> Option<Language> {
    let mut votes = [0usize; NO_VOTE + 1];
    for word in words {
        let mut counts = [0usize; Language::ALL.len()];
        for c in word.chars() {
            if is_cyrillic(c) {
                counts[Language::Ru as usize] += 1;
            } else if !c.is_ascii()
                && let Some((language, _)) = UNIQUE.iter().find(|(_, letters)| letters.contains(c))
            {
                counts[*language as usize] += 1;
            }
        }
        votes[clear_winner(&counts).unwrap_or(NO_VOTE)] += 1;
    }
    let half = words.len() as f64 * 0.5;
    if (votes[NO_VOTE] as f64) < half {
        votes[NO_VOTE] = 0;
    }
    let winner = clear_winner(&votes)?;
    Language::ALL.get(winner).copied()
}

/// The index of the count above all others; `None` for a tie, or when nothing was counted.
fn clear_winner(counts: &[usize]) -> Option<usize> {
    let mut ranked: Vec<(usize, usize)> = counts.iter().copied().enumerate().filter(|(_, n)| *n > 0).collect();
    ranked.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    match ranked.as_slice() {
        [(only, _)] => Some(*only),
        [(first, a), (_, b), ..] if a > b => Some(*first),
        _ => None,
    }
}

/// The candidates the letters leave, as lingua's `filter_languages_by_rules` does: the
/// languages of the alphabet most letters are in, narrowed to those whose special letters
/// appear in at least half the words.
pub(super) fn candidates(words: &[&str]) -> Vec<Language> {
    let mut letters = [0usize; 3];
    for word in words {
        let index = match alphabet(word) {
            Some(Alphabet::Latin) => 0,
            Some(Alphabet::Cyrillic) => 1,
            Some(Alphabet::Other) => 2,
            None => continue,
        };
        letters[index] += word.chars().count();
    }
    let used: Vec<usize> = letters.iter().copied().filter(|n| *n > 0).collect();
    if used.is_empty() || (used.len() > 1 && used.iter().all(|n| *n == used[0])) {
        return Language::ALL.to_vec();
    }
    let most = (0..3).max_by_key(|i| letters[*i]).unwrap_or(0);
    let in_alphabet: Vec<Language> = match most {
        0 => Language::ALL.into_iter().filter(|l| *l != Language::Ru).collect(),
        1 => vec![Language::Ru],
        _ => Vec::new(),
    };
    // Each special letter a word holds counts once for each of its languages. The special
    // letters are all outside ASCII, so most words are skipped at once, and a word is read once
    // rather than once per special letter (that search was an eighth of an item's cost).
    let mut counts = [0usize; Language::ALL.len()];
    for word in words.iter().filter(|w| !w.is_ascii()) {
        for (at, c) in word.char_indices() {
            if c.is_ascii() || word[..at].contains(c) {
                continue;
            }
            let Some((_, languages)) = LETTERS_TO_LANGUAGES.iter().find(|(special, _)| special.contains(c)) else {
                continue;
            };
            for language in languages.iter().filter(|l| in_alphabet.contains(l)) {
                counts[*language as usize] += 1;
            }
        }
    }
    let half = words.len() as f64 * 0.5;
    let narrowed: Vec<Language> =
        in_alphabet.iter().copied().filter(|l| counts[*l as usize] > 0 && counts[*l as usize] as f64 >= half).collect();
    if narrowed.is_empty() { in_alphabet } else { narrowed }
}
