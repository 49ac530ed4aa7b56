-- 021: what a signed-in agent may read, enforced by PostgreSQL: row-level security policies for
-- the `authenticated` role, the way Supabase's own API runs a user's requests.
--
-- By hand:  psql -1 -v ON_ERROR_STOP=1 -f migrations/021_agent_row_security.sql
--
-- * An agent's request runs in one transaction that sets, locally, `role` to authenticated and
--   `request.jwt.claims` to {"sub": <agent id>, "role": ..., "queues": [...]}. auth.uid() and
--   auth.jwt() read them; they are created here only where absent, so Supabase's own are kept.
-- * Who the agent is, their role and their queues are read from cc_agents and cc_agent_queues,
--   not believed from the claims: a disabled agent, or a `sub` that is not an agent (another
--   kind of Supabase user), sees nothing. The helpers that read them are SECURITY DEFINER in
--   the schema cc_private, which no API exposes, with an empty search_path, and are called as
--   `(select ...)` so that each runs once per statement, not once per row.
-- * An agent sees the conversations, cases and assignments of their queues and those assigned to
--   them; a supervisor those of their queues; an admin all. Messages, tool calls, preferences and
--   identity links (and its one-time codes' states, for its verification level) are read one
--   conversation at a time: the request names it in the local
--   setting `request.conversation_id`, and the policy admits that conversation's rows only if
--   the agent may see the conversation (checked once per statement, so a 1,000-message timeline
--   costs what it costs the service role). The audit log is readable by supervisors (for the
--   named conversation) and admins (all) only. No policy lets the role change anything: an
--   agent's writes are made by the service, in the same transaction, after these policies
--   have let the agent see what is changed.
-- * Contact details are not granted at all (column privileges): addresses in cc_messages and
--   cc_identity_links, the provider's raw payload, the customer table; nor a code's hash or
--   destination. Agents see them masked,
--   or revealed for a stated reason, through the service.
-- * switchboard_app, the service's login role, is made a member of authenticated, so that it
--   can take that role for an agent's transaction.
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all;
-- the policies are dropped and made again, so the file can run again (after 014, see runner).
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS cc_private;
REVOKE ALL ON SCHEMA cc_private FROM PUBLIC;
GRANT USAGE ON SCHEMA cc_private TO authenticated, service_role;

DO $$
BEGIN
    IF NOT pg_has_role('switchboard_app', 'authenticated', 'MEMBER') THEN
        GRANT authenticated TO switchboard_app;
    END IF;
    -- On Supabase the schema auth is its own, and already open to these roles.
    IF NOT has_schema_privilege('authenticated', 'auth', 'USAGE') THEN
        GRANT USAGE ON SCHEMA auth TO authenticated;
    END IF;
    IF NOT has_schema_privilege('service_role', 'auth', 'USAGE') THEN
        GRANT USAGE ON SCHEMA auth TO service_role;
    END IF;
    -- Supabase's definitions, where Supabase has not made them; marked as ours, so that the
    -- rollback drops only what this file made.
    IF to_regprocedure('auth.uid()') IS NULL THEN
        CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $fn$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claim.sub', true), ''),
                (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
            )::uuid
        $fn$;
        COMMENT ON FUNCTION auth.uid() IS 'switchboard 021: the sub of request.jwt.claims';
        REVOKE ALL ON FUNCTION auth.uid() FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION auth.uid() TO authenticated, service_role;
    END IF;
    IF to_regprocedure('auth.jwt()') IS NULL THEN
        CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $fn$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claim', true), ''),
                nullif(current_setting('request.jwt.claims', true), '')
            )::jsonb
        $fn$;
        COMMENT ON FUNCTION auth.jwt() IS 'switchboard 021: request.jwt.claims';
        REVOKE ALL ON FUNCTION auth.jwt() FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION auth.jwt() TO authenticated, service_role;
    END IF;
END
$$;

-- The agent acting: their id, role and queues, if `sub` names an active agent; else NULLs.
-- PL/pgSQL rather than SQL: a session keeps a PL/pgSQL function's plans, where a SQL function
-- that cannot be inlined (a SECURITY DEFINER one) is planned again on every call.
CREATE OR REPLACE FUNCTION cc_private.agent_id() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    RETURN (SELECT a.id FROM public.cc_agents AS a
            WHERE a.id = auth.uid() AND a.status = 'active');
END
$$;

CREATE OR REPLACE FUNCTION cc_private.agent_role() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    RETURN (SELECT a.role FROM public.cc_agents AS a
            WHERE a.id = auth.uid() AND a.status = 'active');
END
$$;

CREATE OR REPLACE FUNCTION cc_private.agent_queues() RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    RETURN (SELECT coalesce(array_agg(q.queue_name ORDER BY q.queue_name), '{}')
            FROM public.cc_agent_queues AS q
            JOIN public.cc_agents AS a ON a.id = q.agent_id
            WHERE a.id = auth.uid() AND a.status = 'active');
END
$$;

-- Whether the acting agent may see a conversation: an admin any; anyone else one that was ever
-- in one of their queues or assigned to them.
CREATE OR REPLACE FUNCTION cc_private.may_see_conversation(conversation uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    RETURN EXISTS (
        SELECT FROM public.cc_agents AS a
        WHERE a.id = auth.uid() AND a.status = 'active'
          AND (a.role = 'admin'
               OR EXISTS (SELECT FROM public.cc_assignments AS w
                          WHERE w.conversation_id = conversation
                            AND (w.assigned_to = a.id::text
                                 OR EXISTS (SELECT FROM public.cc_agent_queues AS q
                                            WHERE q.agent_id = a.id
                                              AND q.queue_name = w.queue_name)))));
END
$$;

-- The conversation the request reads (request.conversation_id), if the agent may see it. The
-- answer is kept for the rest of the transaction (for that conversation and that agent), so
-- that a statement reading several of its tables checks it once, not once a table.
CREATE OR REPLACE FUNCTION cc_private.read_conversation() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    named uuid;
    seen_as text;
BEGIN
    named := nullif(current_setting('request.conversation_id', true), '')::uuid;
    IF named IS NULL THEN
        RETURN NULL;
    END IF;
    seen_as := named::text || ' ' || coalesce(auth.uid()::text, '');
    IF current_setting('cc_private.conversation_seen', true) = seen_as THEN
        RETURN named;
    END IF;
    IF cc_private.may_see_conversation(named) THEN
        PERFORM set_config('cc_private.conversation_seen', seen_as, true);
        RETURN named;
    END IF;
    RETURN NULL;
EXCEPTION
    WHEN invalid_text_representation THEN
        RETURN NULL;  -- not a uuid: names nothing
END
$$;

-- The customer of that conversation: the one whose preferences and links the agent may read.
CREATE OR REPLACE FUNCTION cc_private.read_customer() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    RETURN (SELECT c.bank_customer_id FROM public.cc_conversations AS c
            WHERE c.id = cc_private.read_conversation());
END
$$;

DO $$
DECLARE
    fn text;
BEGIN
    FOREACH fn IN ARRAY ARRAY['cc_private.agent_id()', 'cc_private.agent_role()',
                              'cc_private.agent_queues()',
                              'cc_private.may_see_conversation(uuid)',
                              'cc_private.read_conversation()', 'cc_private.read_customer()']
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC, anon', fn);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO authenticated, service_role', fn);
    END LOOP;
END
$$;

-- Reads only, and only of the columns that carry no contact details. Set afresh each time this
-- file runs: 014, run again after a job queue migration, takes back everything it lists.
DO $$
DECLARE
    -- table => the columns authenticated may read ('*': all)
    readable constant jsonb := jsonb_build_object(
        'cc_conversations', 'id, bank_customer_id, channel, status, created_at, updated_at, provider',
        'cc_messages', 'id, conversation_id, direction, provider_message_id, body_text, created_at, '
                       'provider, status, provider_status, error_code, status_updated_at',
        'cc_cases', '*',
        'cc_case_notes', '*',
        'cc_assignments', '*',
        'cc_comm_preferences', '*',
        'cc_identity_links', 'id, bank_customer_id, channel, created_at, updated_at',
        'cc_audit_logs', '*',
        'cc_tool_calls', '*',
        'cc_auth_sessions', 'id, bank_customer_id, conversation_id, status, expires_at, created_at, '
                            'channel, provider, updated_at, check_attempts, verified_at');
    tbl text;
    cols text;
BEGIN
    FOR tbl, cols IN SELECT key, value FROM jsonb_each_text(readable) LOOP
        EXECUTE format('REVOKE ALL ON TABLE %I FROM authenticated', tbl);
        IF cols = '*' THEN
            EXECUTE format('GRANT SELECT ON TABLE %I TO authenticated', tbl);
        ELSE
            EXECUTE format('GRANT SELECT (%s) ON TABLE %I TO authenticated', cols, tbl);
        END IF;
        EXECUTE format('DROP POLICY IF EXISTS %I ON %I', tbl || '_agent_read', tbl);
    END LOOP;
END
$$;

-- One call a row: a conversation is read by its id, or listed a page at a time.
CREATE POLICY cc_conversations_agent_read ON cc_conversations FOR SELECT TO authenticated
    USING (cc_private.may_see_conversation(id));

CREATE POLICY cc_assignments_agent_read ON cc_assignments FOR SELECT TO authenticated
    USING ((SELECT cc_private.agent_role()) = 'admin'
           OR queue_name = ANY ((SELECT cc_private.agent_queues())::text[])
           OR assigned_to = (SELECT cc_private.agent_id())::text);

CREATE POLICY cc_cases_agent_read ON cc_cases FOR SELECT TO authenticated
    USING ((SELECT cc_private.agent_role()) = 'admin'
           OR EXISTS (SELECT FROM cc_assignments AS w
                      WHERE w.case_id = cc_cases.id
                         OR w.conversation_id = cc_cases.conversation_id));

CREATE POLICY cc_case_notes_agent_read ON cc_case_notes FOR SELECT TO authenticated
    USING (EXISTS (SELECT FROM cc_cases AS c WHERE c.id = cc_case_notes.case_id));

CREATE POLICY cc_messages_agent_read ON cc_messages FOR SELECT TO authenticated
    USING (conversation_id = (SELECT cc_private.read_conversation()));

CREATE POLICY cc_tool_calls_agent_read ON cc_tool_calls FOR SELECT TO authenticated
    USING (conversation_id = (SELECT cc_private.read_conversation()));

-- The conversation's one-time codes, for its verification level: never a code's hash or where
-- it was sent.
CREATE POLICY cc_auth_sessions_agent_read ON cc_auth_sessions FOR SELECT TO authenticated
    USING (conversation_id = (SELECT cc_private.read_conversation()));

CREATE POLICY cc_comm_preferences_agent_read ON cc_comm_preferences FOR SELECT TO authenticated
    USING (bank_customer_id = (SELECT cc_private.read_customer()));

CREATE POLICY cc_identity_links_agent_read ON cc_identity_links FOR SELECT TO authenticated
    USING (bank_customer_id = (SELECT cc_private.read_customer()));

CREATE POLICY cc_audit_logs_agent_read ON cc_audit_logs FOR SELECT TO authenticated
    USING ((SELECT cc_private.agent_role()) = 'admin'
           OR ((SELECT cc_private.agent_role()) = 'supervisor'
               AND conversation_id = (SELECT cc_private.read_conversation())));
