-- Products in the knowledge base (issue 14): an entry of kind `product` names something the
-- business sells (title) and describes it (body). The analysis recognises the names in messages.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt with its rows.
CREATE TABLE ai_knowledge_new (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('faq', 'document', 'product')),
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
INSERT INTO ai_knowledge_new (id, workspace_id, kind, title, body, created_at, updated_at)
    SELECT id, workspace_id, kind, title, body, created_at, updated_at FROM ai_knowledge;
DROP TABLE ai_knowledge;
ALTER TABLE ai_knowledge_new RENAME TO ai_knowledge;
CREATE INDEX ai_knowledge_workspace ON ai_knowledge (workspace_id, created_at);
