//! How conversations are ordered and found by text (ADR 0013).
//!
//! Every conversation carries its `activity_key` — the time of its last message in milliseconds
//! times 2^20 plus a tie-breaker, so one integer orders the inbox — and its `search_document`,
//! the text of its messages appended as they arrive. SQLite indexes the documents in an FTS5
//! table whose rowid is the activity key, so matches come out already in list order; PostgreSQL
//! keeps a `tsvector` of the document beside the recency indexes and lets the planner choose.

use tidings_store::Engine;

/// Room for ties within one millisecond: the low bits of the activity key.
pub const TIE_BITS: u32 = 20;
const BUCKET: i64 = 1 << TIE_BITS;

/// A thread's searchable text stops growing here (PostgreSQL refuses a `tsvector` over 1 MB;
/// text beyond this is kept in its messages but not searchable).
pub const MAX_DOCUMENT_CHARS: i64 = 100_000;

/// The first activity key of millisecond `at`: keys at or above it are that late or later.
pub fn key_floor(at_ms: i64) -> i64 {
    at_ms.saturating_mul(BUCKET)
}

/// SQL for a fresh activity key at the time bound to placeholder `at`. On SQLite (one writer at
/// a time) it is the highest key of that millisecond plus one, unique across workspaces as the
/// FTS rowid must be; on PostgreSQL the tie-breaker comes from a sequence, so concurrent writers
/// never pick the same one.
pub fn new_key_sql(engine: Engine, at: &str) -> String {
    match engine {
        Engine::Sqlite => format!(
            "COALESCE((SELECT MAX(k.activity_key) + 1 FROM conversations k \
             WHERE k.activity_key >= {at} * {BUCKET} AND k.activity_key < ({at} + 1) * {BUCKET}), {at} * {BUCKET})"
        ),
        Engine::Postgres => format!("{at} * {BUCKET} + nextval('conversation_activity_seq') % {BUCKET}"),
    }
}

/// SQL appending the text bound to placeholder `text` to a conversation's search document.
pub fn append_sql(text: &str) -> String {
    format!(
        "search_document = CASE WHEN length(search_document) < {MAX_DOCUMENT_CHARS} \
         THEN search_document || ' ' || {text} ELSE search_document END"
    )
}

/// SQL rewriting a conversation's search document from its messages (after a message's text
/// changed); `workspace` is the workspace placeholder, the conversation row is `conversations`.
pub fn rebuild_sql(workspace: &str) -> String {
    format!(
        "search_document = COALESCE((SELECT substr(string_agg(COALESCE(m.title, '') || ' ' || m.body || ' ' || \
         COALESCE(m.author_name, ''), ' ' ORDER BY m.sent_at), 1, {MAX_DOCUMENT_CHARS}) FROM messages m \
         WHERE m.workspace_id = {workspace} AND m.conversation_id = conversations.id), '')"
    )
}

/// The searchable text of one message.
pub fn message_text(title: Option<&str>, body: &str, author_name: &str) -> String {
    [title.unwrap_or_default(), body, author_name]
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a list reads conversations when it searches, or not.
pub struct Source {
    /// The `FROM` clause, with the conversations as `c`.
    pub from: &'static str,
    /// The expression the list is ordered by, and cursors compare against.
    pub order_key: &'static str,
}

/// Where a list reads from: on SQLite a search drives the join from the FTS index (in its rowid
/// order, which is the list order), otherwise the conversations themselves.
pub fn source(engine: Engine, searching: bool) -> Source {
    match (engine, searching) {
        (Engine::Sqlite, true) => Source {
            from: "conversations_fts f CROSS JOIN conversations c ON c.activity_key = f.rowid",
            order_key: "f.rowid",
        },
        _ => Source { from: "conversations c", order_key: "c.activity_key" },
    }
}

/// The condition matching `placeholder`'s text (from [`query_text`]) for `engine`.
pub fn match_sql(engine: Engine, placeholder: &str) -> String {
    match engine {
        Engine::Sqlite => format!("conversations_fts MATCH {placeholder}"),
        Engine::Postgres => format!("c.search_vector @@ plainto_tsquery('simple', {placeholder})"),
    }
}

/// The longest full-text query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// Why `text` cannot be searched for, if it cannot: longer than [`MAX_QUERY_CHARS`], or holding
/// a control character other than white space (NUL ends an FTS5 query early on SQLite and is
/// refused by PostgreSQL; the others are never typed). Every list, export and page filter checks
/// its `q` here and reports the reason on `q`.
pub fn check_query(text: &str) -> Result<(), String> {
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(format!("must be at most {MAX_QUERY_CHARS} characters"));
    }
    if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(())
}

/// The text bound for a search: on SQLite an FTS5 query matching every word (each quoted, so
/// user input is never syntax); PostgreSQL's `plainto_tsquery` takes the words as they are.
pub fn query_text(engine: Engine, text: &str) -> String {
    match engine {
        Engine::Sqlite => text
            .split_whitespace()
            .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" "),
        Engine::Postgres => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_are_quoted_for_fts5() {
        assert_eq!(query_text(Engine::Sqlite, "cold  \"soup\" AND"), "\"cold\" \"\"\"soup\"\"\" \"AND\"");
    }

    #[test]
    fn control_characters_and_long_queries_are_refused() {
        assert!(check_query("cold soup \"*\" NEAR( -x\t").is_ok());
        assert!(check_query("a\0b").is_err());
        assert!(check_query("\u{7}").is_err());
        assert!(check_query(&"x".repeat(MAX_QUERY_CHARS + 1)).is_err());
    }

    #[test]
    fn keys_of_a_later_millisecond_sort_after_every_tie_of_an_earlier_one() {
        assert!(key_floor(1_700_000_000_001) > key_floor(1_700_000_000_000) + BUCKET - 1);
        // Millisecond times until the year 2200 (and a little past) fit.
        assert!(key_floor(7_258_118_400_000).checked_add(BUCKET).is_some());
    }

    #[test]
    fn message_text_skips_missing_parts() {
        assert_eq!(message_text(Some("Great"), "Lovely staff", "Ana"), "Great Lovely staff Ana");
        assert_eq!(message_text(None, "Hi", ""), "Hi");
    }
}
