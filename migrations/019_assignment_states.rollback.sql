-- Undo 019: the states, claim-next's functions and the cc_private schema (when nothing else
-- is in it) go. The rows stay; what they recorded of their states (who held them, when) is
-- lost with the columns.
-- squawk-ignore-file ban-drop-column, ban-drop-constraint, ban-drop-function, require-concurrent-index-deletion -- the rollback drops what 019 added, in one transaction
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DROP FUNCTION IF EXISTS cc_private.claim_next_assignment(uuid);
DROP FUNCTION IF EXISTS cc_private.offer_assignment(uuid, uuid);
DROP FUNCTION IF EXISTS cc_private.agent_channels_with_room(uuid);
-- RESTRICT: another migration's function in it keeps the schema.
DO $$
BEGIN
    IF to_regnamespace('cc_private') IS NOT NULL
       AND NOT EXISTS (SELECT FROM pg_depend WHERE refobjid = to_regnamespace('cc_private')
                                              AND refclassid = 'pg_namespace'::regclass) THEN
        DROP SCHEMA cc_private;
    END IF;
END
$$;

DROP INDEX IF EXISTS cc_assignments_one_live_per_conversation_key;
DROP INDEX IF EXISTS cc_assignments_claim_idx;
DROP INDEX IF EXISTS cc_assignments_live_holder_idx;
DROP INDEX IF EXISTS cc_assignments_offer_expires_at_idx;

ALTER TABLE cc_assignments
    DROP CONSTRAINT IF EXISTS cc_assignments_state_check,
    DROP CONSTRAINT IF EXISTS cc_assignments_channel_check,
    DROP CONSTRAINT IF EXISTS cc_assignments_end_reason_check,
    DROP CONSTRAINT IF EXISTS cc_assignments_source_check,
    DROP CONSTRAINT IF EXISTS cc_assignments_state_shape_check,
    DROP CONSTRAINT IF EXISTS cc_assignments_transferred_from_fkey,
    DROP CONSTRAINT IF EXISTS cc_assignments_last_agent_id_fkey,
    DROP COLUMN IF EXISTS state,
    DROP COLUMN IF EXISTS priority,
    DROP COLUMN IF EXISTS channel,
    DROP COLUMN IF EXISTS enqueued_at,
    DROP COLUMN IF EXISTS offered_at,
    DROP COLUMN IF EXISTS offer_expires_at,
    DROP COLUMN IF EXISTS offer_count,
    DROP COLUMN IF EXISTS accepted_at,
    DROP COLUMN IF EXISTS wrap_started_at,
    DROP COLUMN IF EXISTS done_at,
    DROP COLUMN IF EXISTS end_reason,
    DROP COLUMN IF EXISTS escalated_at,
    DROP COLUMN IF EXISTS transferred_from,
    DROP COLUMN IF EXISTS last_agent_id,
    DROP COLUMN IF EXISTS source,
    DROP COLUMN IF EXISTS assurance_level,
    DROP COLUMN IF EXISTS version;
