//! Small text helpers shared by the analysers: word tokens with their original spelling,
//! and case-insensitive phrase search on word boundaries.

/// A word of the input: letters, digits, apostrophes inside words, or a single emoji.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token<'a> {
    pub raw: &'a str,
    /// Index of the clause the token is in (clauses end at `.`, `;`, `!`, `?` or a newline).
    pub sentence: usize,
}

/// Whether `c` is a pictograph the sentiment and emotion lexicons may know.
pub(crate) fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F300..=0x1FAFF | 0x2600..=0x27BF | 0x2B50)
}

/// Splits `text` into word and emoji tokens, keeping the original case.
pub(crate) fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut sentence = 0;
    let mut start: Option<usize> = None;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(at, c)) in chars.iter().enumerate() {
        let inner_apostrophe =
            (c == '\'' || c == '’') && start.is_some() && chars.get(i + 1).is_some_and(|(_, n)| n.is_alphabetic());
        if c.is_alphanumeric() || inner_apostrophe {
            start.get_or_insert(at);
            continue;
        }
        if let Some(s) = start.take() {
            out.push(Token { raw: &text[s..at], sentence });
        }
        if is_emoji(c) {
            out.push(Token { raw: &text[at..at + c.len_utf8()], sentence });
        } else if matches!(c, '.' | '!' | '?' | ';' | '\n') {
            sentence += 1;
        }
    }
    if let Some(s) = start {
        out.push(Token { raw: &text[s..], sentence });
    }
    out
}

/// Lower-cases `text` and pads it with spaces, for [`contains_phrase`].
pub(crate) fn normalised(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    for c in text.chars() {
        // ASCII first: most text is, and `char::to_lowercase` costs a table search per letter.
        if c.is_ascii() {
            out.push(if c.is_ascii_alphanumeric() || c == '\'' || c == '$' { c.to_ascii_lowercase() } else { ' ' });
        } else if c.is_alphanumeric() || c == '€' || c == '£' {
            out.extend(c.to_lowercase());
        } else if c == '’' {
            out.push('\'');
        } else {
            out.push(' ');
        }
    }
    out.push(' ');
    out
}

/// Whether the normalised text contains `phrase` (lower case, words separated by one space)
/// as whole words.
pub(crate) fn contains_phrase(normalised: &str, phrase: &str) -> bool {
    let mut from = 0;
    while let Some(at) = normalised[from..].find(phrase) {
        let start = from + at;
        let end = start + phrase.len();
        let before = normalised[..start].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let after = normalised[end..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        if before && after {
            return true;
        }
        from = start + phrase.len().max(1);
        while !normalised.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}

/// A fixed list of phrases matched in one pass over a [`normalised`] text, each as whole words
/// (the automaton looks for " phrase ", and `normalised` separates words by spaces).
#[derive(Debug, Clone)]
pub(crate) struct PhraseSet {
    automaton: aho_corasick::AhoCorasick,
}

impl PhraseSet {
    /// Compiles `phrases` (lower case, words separated by one space).
    pub(crate) fn new<'p>(phrases: impl IntoIterator<Item = &'p str>) -> Self {
        let padded: Vec<String> = phrases.into_iter().map(|p| format!(" {p} ")).collect();
        let automaton = aho_corasick::AhoCorasick::new(padded).expect("phrase lists compile");
        Self { automaton }
    }

    /// Indices (into the list given to [`PhraseSet::new`]) of the phrases in the normalised
    /// text, each once, in list order.
    pub(crate) fn matches(&self, normalised: &str) -> Vec<usize> {
        let mut found: Vec<usize> =
            self.automaton.find_overlapping_iter(normalised).map(|m| m.pattern().as_usize()).collect();
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// A fixed list of phrases searched in a [`normalised`] text with [`contains_phrase`]'s word
/// boundaries (any character that is not a letter or digit, so "l'avocat" holds "avocat"), in
/// one pass over the text instead of one per phrase.
#[derive(Debug, Clone)]
pub(crate) struct PhraseList {
    phrases: &'static [&'static str],
    automaton: aho_corasick::AhoCorasick,
}

impl PhraseList {
    /// Compiles `phrases` (lower case, words separated by one space).
    pub(crate) fn new(phrases: &'static [&'static str]) -> Self {
        let automaton = aho_corasick::AhoCorasick::new(phrases).expect("phrase lists compile");
        Self { phrases, automaton }
    }

    /// The phrases found in the normalised text as whole words, each once, in list order.
    pub(crate) fn found(&self, normalised: &str) -> Vec<&'static str> {
        let bounded = |m: &aho_corasick::Match| {
            normalised[..m.start()].chars().next_back().is_none_or(|c| !c.is_alphanumeric())
                && normalised[m.end()..].chars().next().is_none_or(|c| !c.is_alphanumeric())
        };
        let mut found: Vec<usize> =
            self.automaton.find_overlapping_iter(normalised).filter(bounded).map(|m| m.pattern().as_usize()).collect();
        found.sort_unstable();
        found.dedup();
        found.into_iter().map(|i| self.phrases[i]).collect()
    }

    /// The earliest phrase of the list found in the normalised text as whole words.
    pub(crate) fn first(&self, normalised: &str) -> Option<&'static str> {
        self.found(normalised).first().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_apostrophes_inside_words_and_split_emoji() {
        let t: Vec<&str> = tokens("I don't like it😡. Really!").iter().map(|t| t.raw).collect();
        assert_eq!(t, ["I", "don't", "like", "it", "😡", "Really"]);
        assert_eq!(tokens("a. b")[1].sentence, 1);
    }

    #[test]
    fn phrase_sets_find_whole_words_in_one_pass() {
        let set = PhraseSet::new(["talk to a human", "human", "price", "a"]);
        let n = normalised("Can I talk to a HUMAN? A price, please");
        assert_eq!(set.matches(&n), [0, 1, 2, 3]);
        assert!(set.matches(&normalised("prices humane")).is_empty());
    }

    #[test]
    fn phrase_lists_find_whole_words_in_list_order() {
        static LIST: &[&str] = &["avocat", "talk to a human", "human", "price"];
        let list = PhraseList::new(LIST);
        let n = normalised("Price? Talk to a HUMAN, or l'avocat. Humane prices");
        assert_eq!(list.found(&n), ["avocat", "talk to a human", "human", "price"]);
        assert_eq!(list.first(&normalised("humane prices, human")), Some("human"));
        assert_eq!(list.first(&normalised("humane prices")), None);
    }

    #[test]
    fn phrases_match_whole_words_only() {
        let n = normalised("Can I talk to a HUMAN? Pricing, please");
        assert!(contains_phrase(&n, "talk to a human"));
        assert!(contains_phrase(&n, "pricing"));
        assert!(!contains_phrase(&n, "price"));
    }
}
