//! A short profanity list per analysed language: the common insults customers write, not an
//! exhaustive dictionary. Matched as whole words on the normalised text.

use std::sync::LazyLock;

use crate::text::{PhraseSet, normalised};

const WORDS: &[&str] = &[
    // en
    "fuck",
    "fucking",
    "fucked",
    "shit",
    "bullshit",
    "asshole",
    "bitch",
    "bastard",
    "dickhead",
    "motherfucker",
    "crap",
    "idiots",
    "wanker",
    // es
    "mierda",
    "joder",
    "gilipollas",
    "cabrón",
    "cabron",
    "puta",
    "coño",
    "pendejo",
    "imbécil",
    // fr
    "merde",
    "putain",
    "connard",
    "connasse",
    "salaud",
    "enculé",
    "bordel",
    // de
    "scheiße",
    "scheisse",
    "arschloch",
    "verdammt",
    "wichser",
    "idioten",
    "mist",
    // it
    "cazzo",
    "merda",
    "stronzo",
    "vaffanculo",
    "porca",
    // pt
    "merda",
    "porra",
    "caralho",
    "foda",
    "idiota",
    // nl
    "kut",
    "klootzak",
    "shit",
    "godverdomme",
    "lul",
    "tyfus",
];

static SET: LazyLock<PhraseSet> = LazyLock::new(|| PhraseSet::new(WORDS.iter().copied()));

/// The profane words in `text`, as listed.
pub(crate) fn find(text: &str) -> Vec<&'static str> {
    let lower = normalised(text);
    let mut seen: Vec<&'static str> = SET.matches(&lower).into_iter().map(|i| WORDS[i]).collect();
    seen.dedup();
    seen
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_insults_in_several_languages_not_inside_words() {
        assert_eq!(super::find("This is bullshit"), ["bullshit"]);
        assert_eq!(super::find("Quel bordel, putain"), ["putain", "bordel"]);
        assert_eq!(super::find("So ein Mist"), ["mist"]);
        assert!(super::find("Scunthorpe is lovely, mistake aside").is_empty());
    }
}
