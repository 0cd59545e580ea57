-- The unified inbox: locations, connected platform accounts, contacts, conversations (a review
-- with its replies, or a message thread), messages, the replies written in Tidings, webhook
-- deliveries as received, and the progress of long work people start (syncs, imports).
CREATE TABLE locations (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    address             TEXT,
    city                TEXT,
    country             TEXT,
    phone               TEXT,
    website             TEXT,
    timezone            TEXT NOT NULL DEFAULT 'UTC',
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX locations_workspace ON locations (workspace_id, name);

-- A platform account connected to a workspace. One platform account belongs to one workspace,
-- because webhooks name the account and are routed by it.
CREATE TABLE channel_connections (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    location_id         TEXT REFERENCES locations (id) ON DELETE SET NULL,
    platform            TEXT NOT NULL,
    external_account_id TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('active', 'error', 'needs_reauth', 'paused')),
    -- Name of the vault secret holding the credentials (encrypted with the workspace's data key).
    credentials_secret  TEXT,
    token_expires_at    BIGINT,
    sync_cursor         TEXT,
    sync_interval_secs  BIGINT NOT NULL DEFAULT 900,
    next_sync_at        BIGINT,
    last_synced_at      BIGINT,
    last_error          TEXT,
    last_error_at       BIGINT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    -- What the platform charged for syncing (DataForSEO), in hundredths of a US cent.
    cost_centi_cents    BIGINT NOT NULL DEFAULT 0,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (platform, external_account_id)
);
CREATE INDEX channel_connections_workspace ON channel_connections (workspace_id);
CREATE INDEX channel_connections_due ON channel_connections (next_sync_at);

CREATE TABLE contacts (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    display_name        TEXT NOT NULL,
    email               TEXT,
    phone               TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX contacts_email ON contacts (workspace_id, email);
CREATE INDEX contacts_phone ON contacts (workspace_id, phone);

-- A contact's identity on one platform; several identities merge into one contact.
CREATE TABLE contact_identities (
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    platform            TEXT NOT NULL,
    external_id         TEXT NOT NULL,
    contact_id          TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    display_name        TEXT,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, platform, external_id)
);
CREATE INDEX contact_identities_contact ON contact_identities (contact_id);

CREATE TABLE conversations (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    location_id         TEXT REFERENCES locations (id) ON DELETE SET NULL,
    connection_id       TEXT REFERENCES channel_connections (id) ON DELETE SET NULL,
    platform            TEXT NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('review', 'thread')),
    external_thread_id  TEXT NOT NULL,
    contact_id          TEXT REFERENCES contacts (id) ON DELETE SET NULL,
    subject             TEXT,
    preview             TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL CHECK (status IN ('open', 'snoozed', 'closed', 'needs_human')),
    snoozed_until       BIGINT,
    assignee_id         TEXT REFERENCES users (id) ON DELETE SET NULL,
    rating              BIGINT,
    sentiment           TEXT,
    sentiment_score     DOUBLE PRECISION,
    language            TEXT,
    responded           BOOLEAN NOT NULL DEFAULT FALSE,
    message_count       BIGINT NOT NULL DEFAULT 0,
    url                 TEXT,
    last_message_at     BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    -- Thread id before platform: the lookup uses all three, and the platform filter of the inbox
    -- then finds its own index (0006) instead of this one.
    UNIQUE (workspace_id, external_thread_id, platform)
);
-- The inbox lists newest first; each filter people use most has its own ordered index.
CREATE INDEX conversations_recent ON conversations (workspace_id, last_message_at DESC, id DESC);
CREATE INDEX conversations_status ON conversations (workspace_id, status, last_message_at DESC);
CREATE INDEX conversations_kind ON conversations (workspace_id, kind, last_message_at DESC);
CREATE INDEX conversations_location ON conversations (workspace_id, location_id, last_message_at DESC);
CREATE INDEX conversations_assignee ON conversations (workspace_id, assignee_id, last_message_at DESC);
CREATE INDEX conversations_rating ON conversations (workspace_id, rating, last_message_at DESC);

CREATE TABLE messages (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    conversation_id     TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    platform            TEXT NOT NULL,
    external_id         TEXT,
    direction           TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    kind                TEXT NOT NULL CHECK (kind IN ('review', 'message', 'comment', 'reply')),
    author_name         TEXT,
    author_external_id  TEXT,
    rating              BIGINT,
    title               TEXT,
    body                TEXT NOT NULL,
    language            TEXT,
    sentiment           TEXT,
    sentiment_score     DOUBLE PRECISION,
    response_id         TEXT,
    raw                 TEXT,
    sent_at             BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    -- The same review or message is never stored twice in a workspace.
    UNIQUE (workspace_id, platform, external_id)
);
CREATE INDEX messages_conversation ON messages (conversation_id, sent_at);

-- Full-text search over messages (a generated tsvector; SQLite uses an FTS5 table instead).
ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    to_tsvector('simple', coalesce(title, '') || ' ' || body || ' ' || coalesce(author_name, ''))
) STORED;
CREATE INDEX messages_search ON messages USING GIN (search_vector);

-- A reply written in Tidings, from draft to posted. `sending` is written and committed before the
-- platform is called: a job finding it after a crash knows a send may have happened.
CREATE TABLE responses (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    conversation_id     TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    in_reply_to         TEXT REFERENCES messages (id) ON DELETE SET NULL,
    author_id           TEXT REFERENCES users (id) ON DELETE SET NULL,
    body                TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('draft', 'queued', 'sending', 'posted', 'failed',
                                                        'manual_required', 'posted_manually', 'unconfirmed', 'deleted')),
    post_to_platform    BOOLEAN NOT NULL,
    deep_link           TEXT,
    external_id         TEXT,
    error               TEXT,
    attempts            BIGINT NOT NULL DEFAULT 0,
    posted_at           BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX responses_conversation ON responses (conversation_id, created_at);

-- Webhook deliveries exactly as received. Not tenant data: one delivery may concern several
-- workspaces' accounts; the processing job routes each event by its account.
CREATE TABLE raw_events (
    id                  TEXT PRIMARY KEY NOT NULL,
    platform            TEXT NOT NULL,
    dedup_key           TEXT NOT NULL,
    body                TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('received', 'processed', 'failed')),
    events              BIGINT NOT NULL DEFAULT 0,
    error               TEXT,
    received_at         BIGINT NOT NULL,
    processed_at        BIGINT,
    UNIQUE (platform, dedup_key)
);
CREATE INDEX raw_events_received ON raw_events (received_at);

-- Long work a person started (a sync, a CSV import) and how far it has got.
CREATE TABLE tasks (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind                TEXT NOT NULL CHECK (kind IN ('sync', 'import')),
    status              TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    total               BIGINT NOT NULL DEFAULT 0,
    done                BIGINT NOT NULL DEFAULT 0,
    summary             TEXT NOT NULL DEFAULT '{}',
    error               TEXT,
    created_by          TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    finished_at         BIGINT
);
CREATE INDEX tasks_workspace ON tasks (workspace_id, created_at DESC);

-- OAuth connect flows in flight: the `state` sent to the platform, stored as its SHA-256.
CREATE TABLE oauth_states (
    state_hash          TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    platform            TEXT NOT NULL,
    location_id         TEXT,
    expires_at          BIGINT NOT NULL,
    used_at             BIGINT,
    created_at          BIGINT NOT NULL
);

-- Row-level security on every tenant table (see 0004).
DO $$
DECLARE
    tenant_table TEXT;
BEGIN
    FOREACH tenant_table IN ARRAY ARRAY['locations', 'channel_connections', 'contacts', 'contact_identities',
                                        'conversations', 'messages', 'responses', 'tasks', 'oauth_states']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tenant_table);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (workspace_id = current_setting(''tidings.workspace_id'', true)) '
            'WITH CHECK (workspace_id = current_setting(''tidings.workspace_id'', true))',
            tenant_table);
        BEGIN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO tidings_tenant', tenant_table);
        EXCEPTION WHEN undefined_object THEN NULL;
        END;
    END LOOP;
END
$$;
