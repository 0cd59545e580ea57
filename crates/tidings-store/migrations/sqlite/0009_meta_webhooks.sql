-- Events of a webhook delivery that named an account no workspace has connected, as
-- space-separated `platform:account`: kept with the delivery and listed for the operator
-- (/status, GET /api/v1/admin/unmatched-deliveries) rather than silently dropped.
ALTER TABLE raw_events ADD COLUMN unmatched TEXT;
CREATE INDEX raw_events_unmatched ON raw_events (received_at) WHERE unmatched IS NOT NULL;

-- Whether the platform sends this connection's events to our webhook (Meta `subscribed_apps`):
-- NULL where the platform needs no subscription, else 'subscribed' or 'failed' with the reason.
ALTER TABLE channel_connections ADD COLUMN webhook_subscription TEXT
    CHECK (webhook_subscription IN ('subscribed', 'failed'));
ALTER TABLE channel_connections ADD COLUMN webhook_subscription_error TEXT;
