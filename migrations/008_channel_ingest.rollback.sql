-- Undo 008: the delivery keys, the open-thread index and the provider status columns go.
-- squawk-ignore-file ban-drop-table, ban-drop-column, require-concurrent-index-deletion -- the
-- rollback drops what 008 added, in one transaction
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DROP TABLE IF EXISTS cc_webhook_events;
DROP INDEX IF EXISTS cc_conversations_open_thread_key;
ALTER TABLE cc_messages
    DROP COLUMN IF EXISTS provider_status,
    DROP COLUMN IF EXISTS error_code,
    DROP COLUMN IF EXISTS status_updated_at;
