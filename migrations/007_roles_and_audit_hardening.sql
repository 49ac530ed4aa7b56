-- 007: the roles Supabase has, where a database lacks them, and an audit log that no role
-- the application uses can change, truncate or switch off.
--
-- By hand:  psql -1 -v ON_ERROR_STOP=1 -f migrations/007_roles_and_audit_hardening.sql
--
-- * Roles are created only when missing and never altered, so a real Supabase database
--   keeps its own. Roles belong to the whole server, so two databases migrating at once
--   may race to create one; the loser shrugs.
-- * switchboard_app is the login role the service connects as. It lands in service_role at
--   login (ALTER ROLE ... SET role), so everything it does runs with exactly service_role's
--   rights. Its password is set by the operator, never here.
-- * Row triggers do not fire on TRUNCATE, and ordinary triggers are skipped when
--   session_replication_role = replica; the statement trigger and ENABLE ALWAYS close both.
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all
SET lock_timeout = '5s';
SET statement_timeout = '30s';

CREATE OR REPLACE FUNCTION pg_temp.cc_ensure_role(name text, attributes text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
        RETURN;
    END IF;
    BEGIN
        EXECUTE format('CREATE ROLE %I %s', name, attributes);
    EXCEPTION
        WHEN duplicate_object OR unique_violation THEN
            NULL;  -- another database's migration created it a moment ago
        WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'cannot create role %: permission denied', name
                USING HINT = format('ask a superuser to run: CREATE ROLE %I %s', name, attributes);
    END;
END
$fn$;

DO $$
BEGIN
    PERFORM pg_temp.cc_ensure_role('anon', 'NOLOGIN NOINHERIT');
    PERFORM pg_temp.cc_ensure_role('authenticated', 'NOLOGIN NOINHERIT');
    PERFORM pg_temp.cc_ensure_role('service_role', 'NOLOGIN NOINHERIT BYPASSRLS');
    PERFORM pg_temp.cc_ensure_role('switchboard_app', 'LOGIN NOINHERIT');
    -- Also when an operator made the role first (to give it a password): without these it
    -- could not read a single table.
    IF NOT pg_has_role('switchboard_app', 'service_role', 'MEMBER') THEN
        GRANT service_role TO switchboard_app;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_db_role_setting AS s JOIN pg_roles AS r ON r.oid = s.setrole
                   WHERE r.rolname = 'switchboard_app' AND s.setdatabase = 0
                     AND 'role=service_role' = ANY (s.setconfig)) THEN
        ALTER ROLE switchboard_app SET role = 'service_role';
    END IF;
END
$$;

-- The service role reads and writes every table; the audit log only grows.
DO $$
DECLARE
    tbl text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['cc_conversations', 'cc_messages', 'cc_cases', 'cc_auth_sessions',
                               'cc_identity_links', 'cc_comm_preferences', 'cc_assignments',
                               'cc_bank_customers', 'cc_audit_logs']
    LOOP
        -- Supabase grants every public table to anon and authenticated by default; nothing
        -- here is for browser clients. service_role gets exactly what it needs below, and
        -- not TRIGGER or TRUNCATE, with which it could silence the audit log.
        EXECUTE format('REVOKE ALL ON %I FROM PUBLIC, anon, authenticated, service_role, '
                       'switchboard_app', tbl);
        EXECUTE format('GRANT SELECT, INSERT%s ON %I TO service_role',
                       CASE WHEN tbl = 'cc_audit_logs' THEN '' ELSE ', UPDATE, DELETE' END, tbl);
        IF NOT EXISTS (SELECT FROM pg_policy WHERE polrelid = to_regclass(tbl)
                                               AND polname = tbl || '_service_role_all') THEN
            EXECUTE format('CREATE POLICY %I ON %I AS PERMISSIVE FOR ALL TO service_role '
                           'USING (true) WITH CHECK (true)', tbl || '_service_role_all', tbl);
        END IF;
    END LOOP;
END
$$;

REVOKE UPDATE, DELETE, TRUNCATE ON cc_audit_logs
    FROM PUBLIC, anon, authenticated, service_role, switchboard_app;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'cc_audit_logs'::regclass
                   AND tgname = 'cc_audit_logs_no_truncate') THEN
        CREATE TRIGGER cc_audit_logs_no_truncate
            BEFORE TRUNCATE ON cc_audit_logs
            FOR EACH STATEMENT EXECUTE FUNCTION cc_audit_logs_forbid_change();
    END IF;
END
$$;

ALTER TABLE cc_audit_logs
    ENABLE ALWAYS TRIGGER cc_audit_logs_immutable,
    ENABLE ALWAYS TRIGGER cc_audit_logs_no_truncate;
