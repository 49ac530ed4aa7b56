-- 014: every table, sequence and function Switchboard made gets exactly the privileges listed
-- here, whatever default privileges were in force when it was made.
--
-- By hand:  psql -1 -v ON_ERROR_STOP=1 -f migrations/014_explicit_privileges.sql
--
-- * A Supabase project grants ALL on every new table, sequence and function of public to anon,
--   authenticated and service_role (ALTER DEFAULT PRIVILEGES). 008, 010 and 012 took it back
--   from anon and authenticated but left service_role whatever the defaults gave it (TRUNCATE
--   on the tool calls, say), and 006's change log kept them all. So each object starts again
--   from nothing, for PUBLIC and every role Switchboard knows, and gets its list.
-- * Nothing for anon or authenticated: no policy is written for them yet.
-- * service_role (switchboard_app acts as it): what the service does with each table; the
--   tables that only grow (audit log, case notes, tool calls, webhook deliveries, sandbox
--   outbox) SELECT and INSERT only; the migration ledger SELECT only, so that the app role can
--   tell whether the database is up to date; the change log nothing. Never TRUNCATE, TRIGGER
--   or REFERENCES: with TRIGGER it could silence an append-only table.
-- * The sequences behind these tables' columns (procrastinate's ids, the bigserial audit id of
--   a database made before 006): USAGE and SELECT for service_role where it may insert.
-- * Functions: EXECUTE for service_role on the procrastinate functions the library calls, and
--   for nobody else, PUBLIC included; a trigger function needs no EXECUTE to fire.
-- * The ledger may predate the roles (007 creates them on plain PostgreSQL), so its grants are
--   set here too; the runner sets them when it creates the ledger on a database that has them.
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DO $$
DECLARE
    -- table => what service_role may do with it
    privileges constant jsonb := jsonb_build_object(
        'cc_bank_customers', 'SELECT, INSERT, UPDATE, DELETE',
        'cc_conversations', 'SELECT, INSERT, UPDATE, DELETE',
        'cc_messages', 'SELECT, INSERT, UPDATE, DELETE',
        'cc_cases', 'SELECT, INSERT, UPDATE, DELETE',
        'cc_auth_sessions', 'SELECT, INSERT, UPDATE, DELETE',
        'cc_identity_links', 'SELECT, INSERT, UPDATE, DELETE',
        'cc_comm_preferences', 'SELECT, INSERT, UPDATE, DELETE',
        'cc_assignments', 'SELECT, INSERT, UPDATE, DELETE',
        'cc_audit_logs', 'SELECT, INSERT',
        'cc_case_notes', 'SELECT, INSERT',
        'cc_tool_calls', 'SELECT, INSERT',
        'cc_webhook_events', 'SELECT, INSERT',
        'cc_sandbox_outbox', 'SELECT, INSERT',
        'procrastinate_jobs', 'SELECT, INSERT, UPDATE, DELETE',
        'procrastinate_events', 'SELECT, INSERT, UPDATE, DELETE',
        'procrastinate_periodic_defers', 'SELECT, INSERT, UPDATE, DELETE',
        'procrastinate_workers', 'SELECT, INSERT, UPDATE, DELETE',
        'switchboard_migrations', 'SELECT',
        'switchboard_migration_changes', '');
    everyone constant text := 'PUBLIC, anon, authenticated, service_role, switchboard_app';
    tbl text;
    allowed text;
    seq regclass;
    fn regprocedure;
    returns_trigger boolean;
BEGIN
    FOR tbl, allowed IN SELECT key, value FROM jsonb_each_text(privileges) LOOP
        CONTINUE WHEN to_regclass(tbl) IS NULL;
        EXECUTE format('REVOKE ALL ON TABLE %I FROM %s', tbl, everyone);
        IF allowed <> '' THEN
            EXECUTE format('GRANT %s ON TABLE %I TO service_role', allowed, tbl);
        END IF;
        -- Sequences a column of the table owns (serial, identity) or takes its default from.
        FOR seq IN
            SELECT d.objid::regclass FROM pg_depend AS d
            JOIN pg_class AS s ON s.oid = d.objid AND s.relkind = 'S'
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
              AND d.refobjid = to_regclass(tbl) AND d.deptype IN ('a', 'i')
            UNION
            SELECT d.refobjid::regclass FROM pg_attrdef AS ad
            JOIN pg_depend AS d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
                               AND d.refclassid = 'pg_class'::regclass
            JOIN pg_class AS s ON s.oid = d.refobjid AND s.relkind = 'S'
            WHERE ad.adrelid = to_regclass(tbl)
        LOOP
            EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM %s', seq, everyone);
            IF allowed LIKE '%INSERT%' THEN
                EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO service_role', seq);
            END IF;
        END LOOP;
    END LOOP;

    FOR fn, returns_trigger IN
        SELECT p.oid::regprocedure, p.prorettype = 'trigger'::regtype FROM pg_proc AS p
        JOIN pg_namespace AS n ON n.oid = p.pronamespace AND n.nspname = current_schema()
        WHERE p.prokind IN ('f', 'p')
          AND (p.proname LIKE 'cc\_%' OR p.proname LIKE 'procrastinate\_%')
          AND NOT EXISTS (SELECT FROM pg_depend AS e WHERE e.classid = 'pg_proc'::regclass
                          AND e.objid = p.oid AND e.deptype = 'e')
    LOOP
        EXECUTE format('REVOKE ALL ON ROUTINE %s FROM %s', fn, everyone);
        IF fn::text LIKE 'procrastinate\_%' AND NOT returns_trigger THEN
            EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO service_role', fn);
        END IF;
    END LOOP;
END
$$;
