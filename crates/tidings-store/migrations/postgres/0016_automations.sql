-- Automations and notifications (issue 15, ADR 0023): CRM connections that send events in
-- (Pipedrive), the events as received and what the rules made of them, where notifications go,
-- the rules themselves, every delivery attempt's record, and the in-app notifications (the bell).

-- A CRM account sending its events to Tidings. Its API token and the password of the Basic auth
-- credentials its webhooks carry are vault secrets (`automations/crm/{id}/…`); the intake URL
-- carries the connection's unguessable id.
CREATE TABLE crm_connections (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider            TEXT NOT NULL CHECK (provider IN ('pipedrive')),
    name                TEXT NOT NULL,
    -- The account as the provider named it (Pipedrive: the token's user and company).
    account_name        TEXT NOT NULL,
    company_domain      TEXT,
    webhook_user        TEXT NOT NULL,
    -- The provider's ids of the webhooks registered for this connection, as a JSON array.
    webhook_ids         TEXT NOT NULL DEFAULT '[]',
    -- Pipeline, stage and user names as last fetched (JSON), so messages read well.
    names_json          TEXT,
    names_fetched_at    BIGINT,
    last_event_at       BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX crm_connections_workspace ON crm_connections (workspace_id, created_at);

-- Something a rule may react to: a CRM webhook delivery verbatim, or a Tidings domain event.
-- Stored with its processing job in one transaction; `dedup_key` makes a redelivery a no-op.
CREATE TABLE automation_events (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    source              TEXT NOT NULL CHECK (source IN ('pipedrive', 'tidings')),
    crm_connection_id   TEXT REFERENCES crm_connections (id) ON DELETE SET NULL,
    trigger_kind        TEXT NOT NULL,
    dedup_key           TEXT NOT NULL,
    payload             TEXT NOT NULL,
    -- What the rules read (names resolved), filled when the event is processed.
    facts               TEXT,
    -- For every rule: matched, or why not (JSON array).
    evaluation          TEXT,
    status              TEXT NOT NULL CHECK (status IN ('received', 'processed', 'failed')),
    error               TEXT,
    received_at         BIGINT NOT NULL,
    processed_at        BIGINT
);
CREATE UNIQUE INDEX automation_events_dedup ON automation_events (workspace_id, dedup_key);
CREATE INDEX automation_events_recent ON automation_events (workspace_id, received_at);

-- Where notifications go. Secrets (webhook URLs, tokens, signing secrets) are one vault secret
-- per destination (`automations/destination/{id}`); `config` holds only what may be shown.
CREATE TABLE automation_destinations (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind                TEXT NOT NULL CHECK (kind IN ('google_chat', 'slack', 'email', 'sms', 'whatsapp', 'webhook', 'in_app')),
    name                TEXT NOT NULL,
    config              TEXT NOT NULL DEFAULT '{}',
    -- Shown instead of the secret URL: `chat.googleapis.com/…/spaces/AAA`.
    target_hint         TEXT,
    enabled             BOOLEAN NOT NULL DEFAULT TRUE,
    -- Set while the circuit breaker pauses the destination after repeated failures.
    paused_until        BIGINT,
    last_error          TEXT,
    last_error_at       BIGINT,
    last_delivered_at   BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX automation_destinations_workspace ON automation_destinations (workspace_id, name);

-- A rule: a trigger, conditions (JSON, see automations/rules.rs) and actions (JSON).
CREATE TABLE automation_rules (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    trigger_kind        TEXT NOT NULL,
    match_mode          TEXT NOT NULL CHECK (match_mode IN ('all', 'any')),
    conditions          TEXT NOT NULL DEFAULT '[]',
    actions             TEXT NOT NULL DEFAULT '[]',
    enabled             BOOLEAN NOT NULL DEFAULT TRUE,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX automation_rules_workspace ON automation_rules (workspace_id, trigger_kind);

-- One message to one destination: the delivery log. Marked `sending` and committed before the
-- destination is called, and the answer recorded right after, so a retried job never posts twice.
CREATE TABLE automation_deliveries (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    event_id            TEXT REFERENCES automation_events (id) ON DELETE SET NULL,
    rule_id             TEXT REFERENCES automation_rules (id) ON DELETE SET NULL,
    destination_id      TEXT NOT NULL REFERENCES automation_destinations (id) ON DELETE CASCADE,
    status              TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'delivered', 'failed', 'unconfirmed')),
    test                BOOLEAN NOT NULL DEFAULT FALSE,
    payload             TEXT NOT NULL,
    attempts            BIGINT NOT NULL DEFAULT 0,
    response_code       BIGINT,
    remote_id           TEXT,
    error               TEXT,
    latency_ms          BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    delivered_at        BIGINT
);
CREATE INDEX automation_deliveries_log ON automation_deliveries (workspace_id, created_at);
CREATE INDEX automation_deliveries_destination ON automation_deliveries (destination_id, status);

-- The dashboard's bell: in-app notifications (rule actions, paused destinations).
CREATE TABLE notifications (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind                TEXT NOT NULL,
    title               TEXT NOT NULL,
    body                TEXT NOT NULL,
    link                TEXT,
    delivery_id         TEXT,
    read_at             BIGINT,
    created_at          BIGINT NOT NULL
);
CREATE INDEX notifications_workspace ON notifications (workspace_id, created_at);
CREATE UNIQUE INDEX notifications_delivery ON notifications (delivery_id);

-- Row-level security on every tenant table (see 0004).
DO $$
DECLARE
    tenant_table TEXT;
BEGIN
    FOREACH tenant_table IN ARRAY ARRAY['crm_connections', 'automation_events', 'automation_destinations',
                                        'automation_rules', 'automation_deliveries', 'notifications']
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
