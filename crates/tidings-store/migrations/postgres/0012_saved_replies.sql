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

-- Row-level security, as on every tenant table (see 0004).
ALTER TABLE saved_replies ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON saved_replies USING (workspace_id = current_setting('tidings.workspace_id', true))
    WITH CHECK (workspace_id = current_setting('tidings.workspace_id', true));
DO $$
BEGIN
    GRANT SELECT, INSERT, UPDATE, DELETE ON saved_replies TO tidings_tenant;
EXCEPTION WHEN undefined_object THEN NULL;
END
$$;
