-- Saved replies: a workspace's reusable answers, inserted into the reply box by typing "/" and
-- their shortcut. Their text may hold variables ({{customer_name}}, {{location}}) filled in
-- for the conversation when inserted.
CREATE TABLE saved_replies (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    shortcut            TEXT NOT NULL,
    body                TEXT NOT NULL,
    created_by          TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (workspace_id, shortcut)
);
