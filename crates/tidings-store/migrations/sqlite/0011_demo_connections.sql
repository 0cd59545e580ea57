-- Whether a connection is one of the demo workspace's made-up accounts, which exist on no
-- platform: the outbound sender records replies to them as posted without calling a platform.
-- Set by the demo seeder; the connections it seeded before this column existed are marked here
-- (the demo workspace is the one with slug `harbour-vine-demo` and settings `{"demo":true}`,
-- its accounts' ids start with `demo-`).
ALTER TABLE channel_connections ADD COLUMN demo BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE channel_connections SET demo = TRUE
WHERE external_account_id LIKE 'demo-%'
  AND workspace_id IN (SELECT id FROM workspaces WHERE slug = 'harbour-vine-demo' AND settings = '{"demo":true}');
