-- Undo 006, following the specification's Rollback section: drop the new tables, new columns
-- and new indexes, rename back, disable RLS.
--
-- By hand:  psql -1 -v ON_ERROR_STOP=1 -f migrations/006_cc_step1_checklist.rollback.sql
--
-- It undoes what 006 noted it changed (switchboard_migration_changes), and only that: a
-- column, table, CHECK constraint or RLS setting the database had before 006 stays as it was.
-- Kept on purpose:
-- * The audit log's immutability trigger ("do not rollback ... it's a security requirement").
-- * The audit log's new columns and their foreign keys: dropping them would delete what the
--   audit trail recorded since 006. Its renamed columns do go back to their legacy names.
-- * Every legacy row and value. The CHECK constraints 006 replaced come back exactly as they
--   were, NOT VALID where rows written since 006 use values they do not allow.
-- squawk-ignore-file ban-drop-table, ban-drop-column, ban-drop-constraint, ban-drop-function, require-concurrent-index-deletion -- the specification's rollback drops what 006 added, in one transaction
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DO $$
BEGIN
    IF to_regclass('switchboard_migration_changes') IS NULL THEN
        RAISE EXCEPTION 'no record of what 006 changed (switchboard_migration_changes is missing)'
            USING HINT = 'this rollback undoes only what 006 noted; restore the pre-006 schema by hand';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pg_temp.cc_changes(change_kind text)
RETURNS TABLE (tbl text, col text, detail jsonb) LANGUAGE sql STABLE AS $fn$
    SELECT split_part(target, '.', 1), split_part(target, '.', 2), detail
    FROM switchboard_migration_changes WHERE migration = '006' AND kind = change_kind
$fn$;

-- RLS where 006 turned it on, and the placeholder policies.
DO $$
DECLARE
    tbl text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['cc_conversations', 'cc_messages', 'cc_cases', 'cc_auth_sessions',
                               'cc_audit_logs', 'cc_comm_preferences', 'cc_bank_customers']
    LOOP
        CONTINUE WHEN to_regclass(tbl) IS NULL;
        EXECUTE format('DROP POLICY IF EXISTS %I ON %I', tbl || '_service_role_all', tbl);
    END LOOP;
    FOR tbl IN SELECT c.tbl FROM pg_temp.cc_changes('rls_enabled') AS c LOOP
        CONTINUE WHEN to_regclass(tbl) IS NULL;
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', tbl);
    END LOOP;
END
$$;

-- New tables.
DO $$
DECLARE
    tbl text;
BEGIN
    FOR tbl IN SELECT c.tbl FROM pg_temp.cc_changes('table_created') AS c
               ORDER BY c.tbl = 'cc_comm_preferences' LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I', tbl);
    END LOOP;
END
$$;

-- New indexes (the unique constraint owns its index).
ALTER TABLE cc_messages DROP CONSTRAINT IF EXISTS cc_messages_provider_message_id_key;
DROP INDEX IF EXISTS cc_conversations_channel_provider_conversation_id_idx;
DROP INDEX IF EXISTS cc_messages_conversation_id_created_at_idx;
DROP INDEX IF EXISTS cc_messages_from_address_idx;
DROP INDEX IF EXISTS cc_cases_bank_customer_id_created_at_idx;
DROP INDEX IF EXISTS cc_cases_status_priority_idx;
DROP INDEX IF EXISTS cc_cases_case_type_created_at_idx;
DROP INDEX IF EXISTS cc_auth_sessions_provider_request_id_key;
DROP INDEX IF EXISTS cc_audit_logs_conversation_id_created_at_idx;
DROP INDEX IF EXISTS cc_audit_logs_case_id_idx;
DROP INDEX IF EXISTS cc_audit_logs_bank_customer_id_idx;
DROP INDEX IF EXISTS cc_comm_preferences_do_not_contact_idx;

-- The updated_at trigger (the audit log's trigger stays).
DROP TRIGGER IF EXISTS cc_auth_sessions_set_updated_at ON cc_auth_sessions;
DROP FUNCTION IF EXISTS cc_set_updated_at();

-- CHECK constraints: 006's go, the ones it replaced come back as they were.
DO $$
DECLARE
    change record;
    original jsonb;
BEGIN
    FOR change IN SELECT * FROM pg_temp.cc_changes('check_replaced') LOOP
        CONTINUE WHEN to_regclass(change.tbl) IS NULL;
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT IF EXISTS %I',
                       change.tbl, change.detail->>'constraint');
        FOR original IN SELECT * FROM jsonb_array_elements(change.detail->'replaced') LOOP
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s NOT VALID', change.tbl,
                           original->>'name', regexp_replace(original->>'def', ' NOT VALID$', ''));
            BEGIN
                EXECUTE format('ALTER TABLE %I VALIDATE CONSTRAINT %I', change.tbl,
                               original->>'name');
            EXCEPTION WHEN check_violation THEN
                RAISE NOTICE '%: rows written since 006 break %, which stays NOT VALID',
                    change.tbl, original->>'name';
            END;
        END LOOP;
    END LOOP;
END
$$;

-- New columns, except the audit log's (their CHECK constraints go with them).
DO $$
DECLARE
    change record;
BEGIN
    FOR change IN SELECT * FROM pg_temp.cc_changes('column_added')
                  WHERE tbl <> 'cc_audit_logs' LOOP
        CONTINUE WHEN to_regclass(change.tbl) IS NULL;
        EXECUTE format('ALTER TABLE %I DROP COLUMN IF EXISTS %I', change.tbl, change.col);
    END LOOP;
END
$$;

-- Renames back. (Where 006 merged two names into one, the merged column keeps the new name.)
DO $$
DECLARE
    change record;
BEGIN
    FOR change IN SELECT * FROM pg_temp.cc_changes('column_renamed') LOOP
        EXECUTE format('ALTER TABLE %I RENAME COLUMN %I TO %I',
                       change.tbl, change.col, change.detail->>'from');
    END LOOP;
    IF EXISTS (SELECT FROM pg_temp.cc_changes('table_renamed'))
       AND to_regclass('cc_comm_preferences') IS NOT NULL THEN
        ALTER TABLE cc_comm_preferences RENAME TO cc_preferences;
    END IF;
END
$$;

DELETE FROM switchboard_migration_changes WHERE migration = '006';
