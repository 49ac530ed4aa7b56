-- Undo 009: the case notes table (and its notes), the case's conversation link, and the
-- updated_at trigger go.
-- squawk-ignore-file ban-drop-table, ban-drop-column, ban-drop-function -- the rollback drops
-- what 009 added, in one transaction
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DO $$
BEGIN
    IF to_regclass('cc_case_notes') IS NOT NULL AND EXISTS (SELECT FROM cc_case_notes) THEN
        RAISE EXCEPTION 'refusing to drop cc_case_notes: it holds case notes'
            USING HINT = 'notes are part of the case record; keep the database at 009 or later';
    END IF;
END
$$;

DROP TABLE IF EXISTS cc_case_notes;
DROP FUNCTION IF EXISTS cc_forbid_change();
DROP TRIGGER IF EXISTS cc_cases_set_updated_at ON cc_cases;
ALTER TABLE cc_cases DROP COLUMN IF EXISTS conversation_id;
