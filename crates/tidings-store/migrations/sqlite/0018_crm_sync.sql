-- CRM sync (issue 15, ADR 0025): HubSpot and Salesforce join Pipedrive as CRM connections that
-- rules push leads to, deliveries go to a CRM connection as well as to a destination, field
-- mappings are kept per workspace and CRM, and every record created in a CRM is remembered so
-- that erasing the contact can delete it there too.
--
-- SQLite cannot change a CHECK or a NOT NULL in place, so `crm_connections` and
-- `automation_deliveries` are rebuilt (https://sqlite.org/lang_altertable.html#otheralter).
-- Dropping `crm_connections` sets `automation_events.crm_connection_id` to NULL (its foreign key
-- action), so those links are saved first and restored after the rename.

CREATE TABLE crm_connections_rebuilt (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider            TEXT NOT NULL CHECK (provider IN ('pipedrive', 'hubspot', 'salesforce')),
    name                TEXT NOT NULL,
    -- The account as the provider named it (Pipedrive: the token's user and company; HubSpot:
    -- the portal; Salesforce: the org's host).
    account_name        TEXT NOT NULL,
    company_domain      TEXT,
    -- Pipedrive only: the Basic auth user its webhooks send.
    webhook_user        TEXT,
    webhook_ids         TEXT NOT NULL DEFAULT '[]',
    names_json          TEXT,
    names_fetched_at    BIGINT,
    last_event_at       BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    -- Salesforce: the org's instance URL (`https://yourorg.my.salesforce.com`).
    instance_url        TEXT
);
INSERT INTO crm_connections_rebuilt (id, workspace_id, provider, name, account_name, company_domain, webhook_user,
    webhook_ids, names_json, names_fetched_at, last_event_at, created_at, updated_at)
SELECT id, workspace_id, provider, name, account_name, company_domain, webhook_user, webhook_ids, names_json,
    names_fetched_at, last_event_at, created_at, updated_at FROM crm_connections;
CREATE TABLE crm_event_links AS
    SELECT id, crm_connection_id FROM automation_events WHERE crm_connection_id IS NOT NULL;
DROP TABLE crm_connections;
ALTER TABLE crm_connections_rebuilt RENAME TO crm_connections;
UPDATE automation_events SET crm_connection_id =
    (SELECT l.crm_connection_id FROM crm_event_links l WHERE l.id = automation_events.id)
WHERE id IN (SELECT id FROM crm_event_links);
DROP TABLE crm_event_links;
CREATE INDEX crm_connections_workspace ON crm_connections (workspace_id, created_at);

-- A delivery goes to a destination (a notification) or to a CRM connection (a sync), never both.
-- `batch_id` is the delivery whose job pushes it, with others to the same CRM, in one batch call.
CREATE TABLE automation_deliveries_rebuilt (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    event_id            TEXT REFERENCES automation_events (id) ON DELETE SET NULL,
    rule_id             TEXT REFERENCES automation_rules (id) ON DELETE SET NULL,
    destination_id      TEXT REFERENCES automation_destinations (id) ON DELETE CASCADE,
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
    delivered_at        BIGINT,
    crm_connection_id   TEXT REFERENCES crm_connections (id) ON DELETE CASCADE,
    batch_id            TEXT,
    CHECK ((destination_id IS NULL) <> (crm_connection_id IS NULL))
);
INSERT INTO automation_deliveries_rebuilt (id, workspace_id, event_id, rule_id, destination_id, status, test, payload,
    attempts, response_code, remote_id, error, latency_ms, created_at, updated_at, delivered_at)
SELECT id, workspace_id, event_id, rule_id, destination_id, status, test, payload, attempts, response_code, remote_id,
    error, latency_ms, created_at, updated_at, delivered_at FROM automation_deliveries;
DROP TABLE automation_deliveries;
ALTER TABLE automation_deliveries_rebuilt RENAME TO automation_deliveries;
CREATE INDEX automation_deliveries_log ON automation_deliveries (workspace_id, created_at);
CREATE INDEX automation_deliveries_destination ON automation_deliveries (destination_id, status);
CREATE INDEX automation_deliveries_crm ON automation_deliveries (crm_connection_id, status, created_at);

-- Which CRM field gets which contact value, per workspace and CRM (JSON, validated against the
-- CRM's mapping type; no row means the defaults of `tidings-connectors` `crm/`).
CREATE TABLE crm_field_mappings (
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider            TEXT NOT NULL CHECK (provider IN ('pipedrive', 'hubspot', 'salesforce')),
    mapping             TEXT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, provider)
);

-- Every record a sync created in a CRM, one row per delivery and step: a retried job skips the
-- steps recorded here, and erasing a contact deletes their records from the CRM. `delivery_id`
-- has no foreign key because the log is purged after 90 days while the records must outlive it.
CREATE TABLE crm_remote_records (
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    delivery_id         TEXT NOT NULL,
    step                TEXT NOT NULL CHECK (step IN ('contact', 'deal', 'note')),
    crm_connection_id   TEXT REFERENCES crm_connections (id) ON DELETE SET NULL,
    provider            TEXT NOT NULL,
    object              TEXT NOT NULL,
    remote_id           TEXT NOT NULL,
    contact_id          TEXT,
    conversation_id     TEXT,
    created_at          BIGINT NOT NULL,
    deleted_at          BIGINT,
    PRIMARY KEY (delivery_id, step)
);
CREATE INDEX crm_remote_records_contact ON crm_remote_records (workspace_id, contact_id);
