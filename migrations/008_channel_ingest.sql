-- 008: what the channel webhooks need beyond the checklist.
-- switchboard: no-transaction
--
-- * cc_webhook_events: one row per provider delivery we acted on, keyed by the provider's own
--   id for it (MessageSid, MessageSid + status, sg_event_id, Vapi call id + event). Claiming
--   the key is the first write of every webhook's transaction, so a redelivery, even twenty at
--   once, stops there and writes nothing.
-- * One open (or pending) conversation per thread: a unique index on the thread key of the
--   conversations that are still open, so two first messages arriving at once meet in one.
-- * cc_messages keeps the provider's own status and error code beside the mapped status.
-- squawk-ignore-file prefer-robust-stmts -- every statement is guarded or re-runnable as it
-- stands; squawk cannot see the guards inside the DO blocks.
SET lock_timeout = '500ms';
SET statement_timeout = 0;

CREATE TABLE IF NOT EXISTS cc_webhook_events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    provider text NOT NULL
        CONSTRAINT cc_webhook_events_provider_check
        CHECK (provider IN ('twilio', 'sendgrid', 'vapi', 'other')),
    event_key text NOT NULL,
    event_type text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cc_webhook_events_provider_event_key_key UNIQUE (provider, event_key)
);

DO $$
BEGIN
    ALTER TABLE cc_webhook_events ENABLE ROW LEVEL SECURITY;
    IF NOT EXISTS (SELECT FROM pg_policy WHERE polrelid = 'cc_webhook_events'::regclass
                                           AND polname = 'cc_webhook_events_service_role_all') THEN
        CREATE POLICY cc_webhook_events_service_role_all ON cc_webhook_events
            AS PERMISSIVE FOR ALL TO service_role USING (true) WITH CHECK (true);
    END IF;
    REVOKE ALL ON cc_webhook_events FROM PUBLIC, anon, authenticated;
    GRANT SELECT, INSERT, UPDATE, DELETE ON cc_webhook_events TO service_role;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'cc_messages'::regclass
                   AND attname = 'provider_status' AND NOT attisdropped) THEN
        ALTER TABLE cc_messages
            ADD COLUMN IF NOT EXISTS provider_status text,
            ADD COLUMN IF NOT EXISTS error_code text,
            ADD COLUMN IF NOT EXISTS status_updated_at timestamptz;
    END IF;
END
$$;

DO $$
DECLARE
    leftover text;
BEGIN
    SELECT c.relname INTO leftover FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
    WHERE c.relname = 'cc_conversations_open_thread_key' AND NOT i.indisvalid;
    IF leftover IS NOT NULL THEN
        DROP INDEX cc_conversations_open_thread_key;
    END IF;
END
$$;

SET lock_timeout = 0;
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS cc_conversations_open_thread_key
    ON cc_conversations (channel, provider_conversation_id)
    WHERE status IN ('open', 'pending') AND provider_conversation_id IS NOT NULL;
