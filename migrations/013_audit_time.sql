-- 013: the audit trail's time is the database's. Whatever a writer sends as created_at (a
-- clock that is wrong, or a time chosen to hide a record among older ones), the row gets the
-- database's clock at the moment it is inserted.
--
-- By hand:  psql -1 -v ON_ERROR_STOP=1 -f migrations/013_audit_time.sql
--
-- * clock_timestamp(), not now(): rows written in one transaction (the grouped inbound writer
--   writes hundreds in one statement) keep the order they were written in.
-- * ENABLE ALWAYS, as 007 does for the audit log's other triggers: an ordinary trigger is
--   skipped under session_replication_role = replica.
-- * EXECUTE on the function is revoked from PUBLIC: a trigger runs its function whatever the
--   inserting role's rights, and nobody needs to call it otherwise.
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction, and the trigger is created
-- in a DO block that checks for it first (squawk cannot see guards inside DO blocks)
SET lock_timeout = '5s';
SET statement_timeout = '30s';

CREATE OR REPLACE FUNCTION cc_audit_logs_set_created_at() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.created_at := clock_timestamp();
    RETURN NEW;
END
$fn$;

REVOKE ALL ON FUNCTION cc_audit_logs_set_created_at() FROM PUBLIC;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'cc_audit_logs'::regclass
                   AND tgname = 'cc_audit_logs_set_created_at') THEN
        CREATE TRIGGER cc_audit_logs_set_created_at
            BEFORE INSERT ON cc_audit_logs
            FOR EACH ROW EXECUTE FUNCTION cc_audit_logs_set_created_at();
    END IF;
END
$$;

ALTER TABLE cc_audit_logs ENABLE ALWAYS TRIGGER cc_audit_logs_set_created_at;
