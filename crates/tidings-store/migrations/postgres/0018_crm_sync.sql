-- CRM sync (issue 15, ADR 0025): HubSpot and Salesforce join Pipedrive as CRM connections that
-- rules push leads to, deliveries go to a CRM connection as well as to a destination, field
-- mappings are kept per workspace and CRM, and every record created in a CRM is remembered so
-- that erasing the contact can delete it there too. (SQLite rebuilds two tables for the same.)

ALTER TABLE crm_connections DROP CONSTRAINT crm_connections_provider_check;
ALTER TABLE crm_connections ADD CONSTRAINT crm_connections_provider_check
    CHECK (provider IN ('pipedrive', 'hubspot', 'salesforce'));
-- Pipedrive only: the Basic auth user its webhooks send.
ALTER TABLE crm_connections ALTER COLUMN webhook_user DROP NOT NULL;
-- Salesforce: the org's instance URL (`https://yourorg.my.salesforce.com`).
ALTER TABLE crm_connections ADD COLUMN instance_url TEXT;

-- A delivery goes to a destination (a notification) or to a CRM connection (a sync), never both.
-- `batch_id` is the delivery whose job pushes it, with others to the same CRM, in one batch call.
ALTER TABLE automation_deliveries ALTER COLUMN destination_id DROP NOT NULL;
ALTER TABLE automation_deliveries ADD COLUMN crm_connection_id TEXT REFERENCES crm_connections (id) ON DELETE CASCADE;
ALTER TABLE automation_deliveries ADD COLUMN batch_id TEXT;
ALTER TABLE automation_deliveries ADD CONSTRAINT automation_deliveries_target
    CHECK ((destination_id IS NULL) <> (crm_connection_id IS NULL));
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

-- Row-level security on the new tenant tables (see 0004).
DO $$
DECLARE
    tenant_table TEXT;
BEGIN
    FOREACH tenant_table IN ARRAY ARRAY['crm_field_mappings', 'crm_remote_records']
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
