//! The one rule for text entering Tidings: NUL (U+0000) is removed (ADR 0015).
//!
//! PostgreSQL cannot store NUL in text, SQLite can; removing it where text comes in (JSON bodies,
//! dashboard forms, CSV imports, platform events) makes both engines keep the same thing, and no
//! later write can fail on it. NUL carries no meaning in a review, a message or a name.

use std::borrow::Cow;

/// The NUL character.
const NUL: char = '\0';

/// `text` without NUL characters (borrowed when it has none).
pub fn without_nul(text: &str) -> Cow<'_, str> {
    if text.contains(NUL) { Cow::Owned(text.replace(NUL, "")) } else { Cow::Borrowed(text) }
}

/// Removes NUL characters from `text` in place.
pub fn strip_nul(text: &mut String) {
    if text.contains(NUL) {
        text.retain(|c| c != NUL);
    }
}

/// Removes NUL characters from every string and object key of `value`.
pub fn strip_nul_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => strip_nul(text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nul_json),
        serde_json::Value::Object(fields) => {
            if fields.keys().any(|key| key.contains(NUL)) {
                *fields = std::mem::take(fields)
                    .into_iter()
                    .map(|(key, value)| (without_nul(&key).into_owned(), value))
                    .collect();
            }
            fields.values_mut().for_each(strip_nul_json);
        }
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
    }
}

/// `bytes` without NUL bytes: in UTF-8, a zero byte is only ever the NUL character.
pub fn without_nul_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    if bytes.contains(&0) {
        Cow::Owned(bytes.iter().copied().filter(|&b| b != 0).collect())
    } else {
        Cow::Borrowed(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_removed_from_text_json_and_bytes() {
        assert_eq!(without_nul("a\0b\0"), "ab");
        assert!(matches!(without_nul("plain"), Cow::Borrowed(_)));
        let mut value = serde_json::json!({"na\u{0}me": ["x\u{0}", 1, {"k": "\u{0}"}], "n": null});
        strip_nul_json(&mut value);
        assert_eq!(value, serde_json::json!({"name": ["x", 1, {"k": ""}], "n": null}));
        assert_eq!(&*without_nul_bytes(b"a\0,b"), b"a,b");
    }
}
