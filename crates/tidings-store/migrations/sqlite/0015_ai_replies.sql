-- Reply generation (issue 14, ADR 0022): each workspace's AI settings (model, budgets, brand
-- voice, holding message), its knowledge base (FAQ entries and documents), its reply templates,
-- auto-reply per channel connection, token usage per day and model, and the response cache.
CREATE TABLE ai_settings (
    workspace_id         TEXT PRIMARY KEY NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- The workspace's own OpenAI-compatible model; NULL: the server's [ai.model], if any.
    -- Its API key is in the vault under `ai.model_api_key`.
    model_base_url       TEXT,
    model_name           TEXT,
    model_timeout_secs   BIGINT NOT NULL DEFAULT 30,
    -- Token budgets; NULL: the server's default; 0: unlimited.
    daily_token_budget   BIGINT,
    monthly_token_budget BIGINT,
    -- Stop model calls when a budget is spent (the offline composer goes on).
    hard_stop            BOOLEAN NOT NULL DEFAULT TRUE,
    business_name        TEXT,
    tone                 TEXT NOT NULL DEFAULT 'professional',
    style                TEXT NOT NULL DEFAULT '',
    guidelines           TEXT NOT NULL DEFAULT '',
    emoji_allowed        BOOLEAN NOT NULL DEFAULT FALSE,
    max_length           BIGINT NOT NULL DEFAULT 600,
    -- Sent when a conversation is handed to a person; NULL: none.
    holding_message      TEXT,
    updated_at           BIGINT NOT NULL
);

-- FAQ entries (title = the question, body = the answer) and documents (text or Markdown).
CREATE TABLE ai_knowledge (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('faq', 'document')),
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX ai_knowledge_workspace ON ai_knowledge (workspace_id, created_at);

CREATE TABLE ai_response_templates (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    tone         TEXT,
    topic        TEXT,
    language     TEXT,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (workspace_id, name)
);

-- Auto-reply per channel connection: on or off, the confidence needed to send without review
-- (in percent), and business hours in the location's time zone (JSON, see pipeline/replies/hours.rs).
CREATE TABLE ai_auto_reply (
    connection_id     TEXT PRIMARY KEY NOT NULL REFERENCES channel_connections (id) ON DELETE CASCADE,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    enabled           BOOLEAN NOT NULL DEFAULT FALSE,
    threshold_percent BIGINT NOT NULL DEFAULT 80,
    business_hours    TEXT,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX ai_auto_reply_workspace ON ai_auto_reply (workspace_id);

-- Model usage per workspace, UTC day (YYYY-MM-DD) and model ('' for work done without a model).
CREATE TABLE ai_usage (
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    day               TEXT NOT NULL,
    model             TEXT NOT NULL,
    calls             BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    -- In billionths of a US dollar, so sums stay exact.
    cost_nano_usd     BIGINT NOT NULL DEFAULT 0,
    cache_hits        BIGINT NOT NULL DEFAULT 0,
    short_circuits    BIGINT NOT NULL DEFAULT 0,
    offline_drafts    BIGINT NOT NULL DEFAULT 0,
    failures          BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, day, model)
);

-- Answers generated for a question, reused for the same question in the same workspace.
CREATE TABLE ai_response_cache (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    cache_key    TEXT NOT NULL,
    model        TEXT NOT NULL,
    answer       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, cache_key)
);

-- What auto-reply did with each analysed message (one row per message: the claim that makes the
-- job run at most once): sent automatically, kept as a draft, handed to a person, or skipped,
-- with the reasons (JSON list of agent 7's triggers) and the reply it wrote.
CREATE TABLE ai_reply_log (
    message_id         TEXT PRIMARY KEY NOT NULL,
    workspace_id       TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    conversation_id    TEXT NOT NULL,
    connection_id      TEXT,
    action             TEXT NOT NULL CHECK (action IN ('pending', 'auto_sent', 'drafted', 'handed_off', 'skipped')),
    reasons            TEXT NOT NULL DEFAULT '[]',
    confidence_percent BIGINT,
    source             TEXT,
    response_id        TEXT,
    holding_response_id TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX ai_reply_log_conversation ON ai_reply_log (workspace_id, conversation_id, created_at);
CREATE INDEX ai_reply_log_workspace ON ai_reply_log (workspace_id, created_at);
