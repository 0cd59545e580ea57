-- A CRM connection whose credentials stopped working (issue 15: a Salesforce session that
-- expired and whose refresh token was refused) is marked failing, with the CRM's answer, until
-- a sync through it succeeds again; the CRM page shows it so someone connects again.
ALTER TABLE crm_connections ADD COLUMN failing_since BIGINT;
ALTER TABLE crm_connections ADD COLUMN last_error TEXT;
