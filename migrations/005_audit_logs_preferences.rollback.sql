-- Undo 005: drops the preferences table and the audit log. The audit trail only grows, so
-- this refuses while the log holds a single row: export and remove it by hand if you must.
-- squawk-ignore-file ban-drop-table, ban-drop-function -- undoing a baseline migration drops what it made
SET lock_timeout = '5s';
SET statement_timeout = '30s';

DO $$
BEGIN
    IF to_regclass('cc_audit_logs') IS NOT NULL AND EXISTS (SELECT FROM cc_audit_logs) THEN
        RAISE EXCEPTION 'refusing to drop cc_audit_logs: it holds audit records'
            USING HINT = 'the audit trail is never removed by a migration; keep the database at 005 or later';
    END IF;
END
$$;

DROP TABLE IF EXISTS cc_preferences;
DROP TABLE IF EXISTS cc_comm_preferences;
DROP TABLE IF EXISTS cc_audit_logs;
-- Left behind by 006, 007 and 013, whose rollbacks keep the audit log's protection in place.
DROP FUNCTION IF EXISTS cc_audit_logs_forbid_change();
DROP FUNCTION IF EXISTS cc_audit_logs_set_created_at();
