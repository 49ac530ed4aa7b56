-- Undo 015: the defaults it set go, and the columns it added, except the audit log's (dropping
-- them would delete what the audit trail recorded since, as 006's rollback keeps its own).
-- squawk-ignore-file ban-drop-column -- the rollback drops only what 015 added
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DO $$
DECLARE
    change record;
BEGIN
    IF to_regclass('switchboard_migration_changes') IS NULL THEN
        RETURN;
    END IF;
    FOR change IN
        SELECT kind, split_part(target, '.', 1) AS tbl, split_part(target, '.', 2) AS col
        FROM switchboard_migration_changes WHERE migration = '015'
        ORDER BY kind DESC  -- defaults first, then the columns they were on
    LOOP
        CONTINUE WHEN to_regclass(change.tbl) IS NULL;
        IF change.kind = 'default_set' THEN
            EXECUTE format('ALTER TABLE %I ALTER COLUMN %I DROP DEFAULT', change.tbl, change.col);
        ELSIF change.kind = 'column_added' AND change.tbl <> 'cc_audit_logs' THEN
            EXECUTE format('ALTER TABLE %I DROP COLUMN IF EXISTS %I', change.tbl, change.col);
        END IF;
    END LOOP;
    DELETE FROM switchboard_migration_changes WHERE migration = '015';
END
$$;
