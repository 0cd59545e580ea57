-- Row-level security: a second wall between tenants, behind the application's own
-- `WHERE workspace_id = …` on every query. Tenant-scoped transactions switch to the role
-- `tidings_tenant` and name their workspace in `tidings.workspace_id`; the policies then hide
-- every other workspace's rows, whatever the query says.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tidings_tenant') THEN
        CREATE ROLE tidings_tenant NOLOGIN;
    END IF;
EXCEPTION
    -- Another process created it first, or this user may not create roles: the policies below
    -- still apply to whoever owns the role, and Db::begin_for_tenant reports it if it is missing.
    WHEN duplicate_object OR unique_violation OR insufficient_privilege THEN NULL;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT tidings_tenant TO %I', current_user);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO tidings_tenant', current_schema());
EXCEPTION
    WHEN undefined_object OR insufficient_privilege OR invalid_grant_operation THEN NULL;
END
$$;

DO $$
DECLARE
    tenant_table TEXT;
BEGIN
    FOREACH tenant_table IN ARRAY ARRAY['memberships', 'invites', 'sessions', 'api_keys', 'audit_logs', 'workspace_keys', 'secrets']
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
    ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON workspaces USING (id = current_setting('tidings.workspace_id', true));
    BEGIN
        GRANT SELECT, UPDATE ON workspaces TO tidings_tenant;
        -- Members' names and addresses, never their password hashes or two-factor secrets.
        GRANT SELECT (id, email, name, email_verified_at, totp_enabled_at) ON users TO tidings_tenant;
        -- Tenant transactions enqueue their jobs (emails, processing) in the same commit; they may
        -- look up a duplicate's id but not read other jobs' payloads.
        GRANT INSERT ON jobs TO tidings_tenant;
        GRANT SELECT (id, queue, unique_key) ON jobs TO tidings_tenant;
    EXCEPTION WHEN undefined_object THEN NULL;
    END;
END
$$;
