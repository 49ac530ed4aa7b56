-- 027: the SLA sweep finds the customers' recent messages by an index, not by every live clock.
-- switchboard: no-transaction
--
-- By hand:  psql -v ON_ERROR_STOP=1 -f migrations/027_inbound_messages_by_time.sql
--
-- * cc_messages_inbound_created_at_idx: inbound messages by their time. The routing sweep (every
--   5 seconds) asks which conversations' customers wrote since a moment (sla/repository.py,
--   customer_messages_unheeded): with this index it reads the messages of that window, where it
--   read every live resolution clock and each one's messages before.
-- * No new table: privileges are unchanged.
-- squawk-ignore-file prefer-robust-stmts -- the guard for a half-built index is the DO block,
-- which squawk cannot see into.
SET statement_timeout = 0;

-- A CONCURRENTLY build that failed leaves an invalid index behind: dropped, then built again.
DO $$
DECLARE
    leftover text;
BEGIN
    SELECT c.relname INTO leftover FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
    WHERE c.relname = 'cc_messages_inbound_created_at_idx' AND NOT i.indisvalid;
    IF leftover IS NOT NULL THEN
        DROP INDEX cc_messages_inbound_created_at_idx;
    END IF;
END
$$;

SET lock_timeout = 0;
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_messages_inbound_created_at_idx
    ON cc_messages (created_at, conversation_id) WHERE direction = 'inbound';
