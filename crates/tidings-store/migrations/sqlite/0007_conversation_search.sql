-- Search and list order per conversation (see docs/adr/0013-conversation-search.md).
--
-- The inbox lists conversations by recent activity and searches them, so the search index holds
-- one document per conversation (every message's title, text and author, appended as they
-- arrive) and its rowid is the conversation's `activity_key`: the time of its last message in
-- milliseconds times 2^20, plus a tie-breaker. The FTS index then yields matches already in list
-- order, and a page of a common word reads 20 of them instead of every match.
ALTER TABLE conversations ADD COLUMN activity_key INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN search_document TEXT NOT NULL DEFAULT '';

UPDATE conversations SET activity_key = ranked.activity_key FROM (
    SELECT id, last_message_at * 1048576 + ROW_NUMBER() OVER (PARTITION BY last_message_at ORDER BY id) - 1 AS activity_key
    FROM conversations
) ranked WHERE ranked.id = conversations.id;

UPDATE conversations SET search_document = COALESCE((
    SELECT string_agg(COALESCE(m.title, '') || ' ' || m.body || ' ' || COALESCE(m.author_name, ''), ' ' ORDER BY m.sent_at)
    FROM messages m WHERE m.conversation_id = conversations.id
), '');

-- Unique across workspaces: it is the FTS rowid, and new keys are the bucket's highest plus one.
CREATE UNIQUE INDEX conversations_activity ON conversations (activity_key);

-- The list indexes order by the activity key instead of (last_message_at, id).
DROP INDEX conversations_recent;
DROP INDEX conversations_status;
DROP INDEX conversations_kind;
DROP INDEX conversations_assignee;
DROP INDEX conversations_rating;
DROP INDEX conversations_platform;
DROP INDEX conversations_location_responded;
CREATE INDEX conversations_recent ON conversations (workspace_id, activity_key DESC);
CREATE INDEX conversations_status ON conversations (workspace_id, status, activity_key DESC);
CREATE INDEX conversations_kind ON conversations (workspace_id, kind, activity_key DESC);
CREATE INDEX conversations_assignee ON conversations (workspace_id, assignee_id, activity_key DESC);
CREATE INDEX conversations_rating ON conversations (workspace_id, rating, activity_key DESC);
CREATE INDEX conversations_platform ON conversations (workspace_id, platform, rating, activity_key DESC);
CREATE INDEX conversations_location_responded ON conversations (workspace_id, location_id, responded, activity_key DESC);

CREATE VIRTUAL TABLE conversations_fts USING fts5 (
    search_document, content = 'conversations', content_rowid = 'activity_key',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO conversations_fts (conversations_fts) VALUES ('rebuild');
CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO conversations_fts (rowid, search_document) VALUES (new.activity_key, new.search_document);
END;
CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
    INSERT INTO conversations_fts (conversations_fts, rowid, search_document)
    VALUES ('delete', old.activity_key, old.search_document);
END;
CREATE TRIGGER conversations_fts_update AFTER UPDATE OF activity_key, search_document ON conversations
WHEN old.activity_key IS NOT new.activity_key OR old.search_document IS NOT new.search_document BEGIN
    INSERT INTO conversations_fts (conversations_fts, rowid, search_document)
    VALUES ('delete', old.activity_key, old.search_document);
    INSERT INTO conversations_fts (rowid, search_document) VALUES (new.activity_key, new.search_document);
END;

-- The per-message index is superseded.
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TABLE messages_fts;
