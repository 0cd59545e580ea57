-- The AI pipeline's analysis of each inbound review or message (issue 14, ADR 0021): written by
-- `pipeline/` (first analysis and `tidings pipeline replay`), shown by the inbox. The columns
-- are what lists filter and count on; `analysis` holds everything with its reasons (the
-- tidings-nlp `Analysis` as JSON) and `decision` the auto-send / draft / handoff decision.
CREATE TABLE message_analyses (
    message_id          TEXT PRIMARY KEY NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    conversation_id     TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    language            TEXT,
    sentiment           TEXT NOT NULL CHECK (sentiment IN ('positive', 'negative', 'neutral', 'mixed')),
    sentiment_score     DOUBLE PRECISION NOT NULL,
    urgency             TEXT NOT NULL CHECK (urgency IN ('low', 'medium', 'high', 'critical')),
    topic               TEXT NOT NULL,
    is_question         BOOLEAN NOT NULL,
    summary             TEXT NOT NULL,
    -- Messages only: reviews are not leads.
    lead_score          BIGINT,
    lead_tag            TEXT CHECK (lead_tag IN ('HOT', 'WARM', 'COLD')),
    -- `none`, `draft` or `handoff` (`none`: nothing to decide, e.g. an outbound message).
    action              TEXT NOT NULL,
    analysis            TEXT NOT NULL,
    decision            TEXT NOT NULL,
    -- Steps that fell back (JSON array of names), also inside `analysis`; here to count them.
    flags               TEXT NOT NULL DEFAULT '[]',
    analysed_at         BIGINT NOT NULL
);
CREATE INDEX message_analyses_conversation ON message_analyses (workspace_id, conversation_id);
CREATE INDEX message_analyses_sentiment ON message_analyses (workspace_id, sentiment, analysed_at);

-- The conversation carries its latest lead tag and score (a review conversation never has one).
-- `lead_tag_manual` is set when a member chose the tag by hand: re-analysis then keeps it.
ALTER TABLE conversations ADD COLUMN lead_tag TEXT CHECK (lead_tag IN ('HOT', 'WARM', 'COLD'));
ALTER TABLE conversations ADD COLUMN lead_score BIGINT;
ALTER TABLE conversations ADD COLUMN lead_tag_manual BOOLEAN NOT NULL DEFAULT FALSE;
-- Why the pipeline handed the conversation to a person (shown beside `needs_human`).
ALTER TABLE conversations ADD COLUMN handoff_reason TEXT;
-- The inbox's sentiment filter and the lead lists, in the list's order.
CREATE INDEX conversations_sentiment ON conversations (workspace_id, sentiment, last_message_at DESC);
CREATE INDEX conversations_lead ON conversations (workspace_id, lead_tag, last_message_at DESC);

-- Each workspace's lead-scoring rules (tidings-nlp `LeadRules` as JSON); none stored means the
-- seed's defaults.
CREATE TABLE lead_rules (
    workspace_id        TEXT PRIMARY KEY NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    rules               TEXT NOT NULL,
    updated_by          TEXT REFERENCES users (id) ON DELETE SET NULL,
    updated_at          BIGINT NOT NULL
);
