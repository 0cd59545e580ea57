-- The threads a connection started in a time window (issue 16, ADR 0030): a sender-name look-up
-- job reads them every two seconds per connection while people write, so it must not scan the
-- workspace's conversations.
CREATE INDEX conversations_connection_created ON conversations (connection_id, created_at);
