-- Notifications for each member (issue 15, ADR 0024): the bell is per member, each member chooses
-- per kind whether a notification reaches them in the app and/or by email, keeps quiet hours in
-- a time zone of their choosing, and digests summarise a period's reviews on a schedule.

-- A notification now belongs to one member: deliveries fan out to every member who wants the
-- kind. Rows from before (no member) are shown to everyone. `quiet`: it arrived during the
-- member's quiet hours, so it was stored without a live announcement.
ALTER TABLE notifications ADD COLUMN member_id TEXT REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE notifications ADD COLUMN quiet BOOLEAN NOT NULL DEFAULT FALSE;
DROP INDEX notifications_delivery;
CREATE UNIQUE INDEX notifications_delivery ON notifications (delivery_id, member_id);
CREATE INDEX notifications_member ON notifications (workspace_id, member_id, read_at);

-- What reaches a member, per kind of notification; a kind without a row uses the defaults
-- (in the app, not by email).
CREATE TABLE notification_preferences (
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind                TEXT NOT NULL,
    in_app              BOOLEAN NOT NULL,
    email               BOOLEAN NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, member_id, kind)
);

-- A member's quiet hours: from `starts_minute` to `ends_minute` (minutes after local midnight,
-- wrapping past midnight when it starts later than it ends) in `time_zone`. Emails are held
-- until they end; in-app notifications are stored silently.
CREATE TABLE notification_quiet_hours (
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    starts_minute       BIGINT NOT NULL CHECK (starts_minute >= 0 AND starts_minute < 1440),
    ends_minute         BIGINT NOT NULL CHECK (ends_minute >= 0 AND ends_minute < 1440),
    time_zone           TEXT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, member_id)
);

-- A daily or weekly summary of one location (or the whole workspace) sent to destinations at a
-- local hour. `last_period` is the period last sent (`2026-12-04`, `2026-W49`): claiming the
-- next one is a conditional update, so two processes send it once.
CREATE TABLE automation_digests (
    id                  TEXT PRIMARY KEY NOT NULL,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    frequency           TEXT NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    -- Weekly digests: the day they are sent, 1 (Monday) to 7 (Sunday).
    weekday             BIGINT CHECK (weekday >= 1 AND weekday <= 7),
    hour                BIGINT NOT NULL CHECK (hour >= 0 AND hour < 24),
    time_zone           TEXT NOT NULL,
    location_id         TEXT REFERENCES locations (id) ON DELETE CASCADE,
    -- The destinations (`dst_…`) as a JSON array.
    destination_ids     TEXT NOT NULL DEFAULT '[]',
    enabled             BOOLEAN NOT NULL DEFAULT TRUE,
    last_period         TEXT,
    last_sent_at        BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX automation_digests_workspace ON automation_digests (workspace_id, created_at);

-- Row-level security on every new tenant table (see 0004).
DO $$
DECLARE
    tenant_table TEXT;
BEGIN
    FOREACH tenant_table IN ARRAY ARRAY['notification_preferences', 'notification_quiet_hours', 'automation_digests']
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
