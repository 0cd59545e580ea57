-- Inbox filters the benchmark (crates/tidings-server/benches/inbox.rs, docs/BENCHMARKS.md) found
-- slow with 200,000 conversations in one workspace: both the page and its COUNT(*) had to read
-- every conversation of the leading column's range from the table to test the second filter.
-- Platform + rating range (the reviews view: "Google, 1–2 stars").
CREATE INDEX conversations_platform ON conversations (workspace_id, platform, rating, last_message_at DESC);
-- Location + responded (the "unanswered at this location" view).
CREATE INDEX conversations_location_responded ON conversations (workspace_id, location_id, responded, last_message_at DESC);
-- Superseded by conversations_location_responded, which serves location-only filters too.
DROP INDEX conversations_location;
