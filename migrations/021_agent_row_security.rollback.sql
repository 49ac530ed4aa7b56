-- Undo 021: agents' policies, grants and helpers go; authenticated can read nothing again.
-- auth.uid() and auth.jwt() are dropped only where 021 made them (Supabase's stay), and the
-- schemas only when nothing else is left in them.
-- squawk-ignore-file ban-drop-function -- the rollback drops the functions 021 made
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DO $$
DECLARE
    tbl text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['cc_conversations', 'cc_messages', 'cc_cases', 'cc_case_notes',
                               'cc_assignments', 'cc_comm_preferences', 'cc_identity_links',
                               'cc_audit_logs', 'cc_tool_calls', 'cc_auth_sessions']
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS %I ON %I', tbl || '_agent_read', tbl);
        EXECUTE format('REVOKE ALL ON TABLE %I FROM authenticated', tbl);
    END LOOP;
END
$$;

DROP FUNCTION IF EXISTS cc_private.read_customer();
DROP FUNCTION IF EXISTS cc_private.read_conversation();
DROP FUNCTION IF EXISTS cc_private.may_see_conversation(uuid);
DROP FUNCTION IF EXISTS cc_private.agent_queues();
DROP FUNCTION IF EXISTS cc_private.agent_role();
DROP FUNCTION IF EXISTS cc_private.agent_id();

DO $$
BEGIN
    IF obj_description(to_regprocedure('auth.uid()'), 'pg_proc') LIKE 'switchboard 021:%' THEN
        DROP FUNCTION auth.uid();
    END IF;
    IF obj_description(to_regprocedure('auth.jwt()'), 'pg_proc') LIKE 'switchboard 021:%' THEN
        DROP FUNCTION auth.jwt();
    END IF;
    IF NOT EXISTS (SELECT FROM pg_depend AS d JOIN pg_namespace AS n ON d.refobjid = n.oid
                   WHERE n.nspname = 'auth' AND d.refclassid = 'pg_namespace'::regclass) THEN
        DROP SCHEMA IF EXISTS auth;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_depend AS d JOIN pg_namespace AS n ON d.refobjid = n.oid
                   WHERE n.nspname = 'cc_private' AND d.refclassid = 'pg_namespace'::regclass) THEN
        DROP SCHEMA IF EXISTS cc_private;
    END IF;
END
$$;
