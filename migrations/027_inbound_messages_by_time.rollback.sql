-- Undo 027: the SLA sweep's index on inbound messages by time goes.
-- squawk-ignore-file require-concurrent-index-deletion -- the rollback runs in one transaction
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DROP INDEX IF EXISTS cc_messages_inbound_created_at_idx;
