-- 026: live updates for the agents' console: what the console shows changing is announced on
-- the channel cc_live (LISTEN/NOTIFY), with ids only; each agent's event stream then reads
-- again, under that agent's row-level security, whether the agent may see it (docs/agents.md,
-- "Live updates").
--
-- By hand:  psql -1 -v ON_ERROR_STOP=1 -f migrations/026_live_notifications.sql
--
-- * A notification is JSON: {"kind": ..., "rows": [{...}, ...]}, each row ids and states only,
--   never a body, an address or a name (a notification is visible to every session that
--   listens, whatever its role):
--     assignment  id, conversation_id, case_id, queue, state        (insert, update)
--     message     id, conversation_id                               (insert; status update)
--     sla         id, clock_id, conversation_id, case_id, event     (clock event insert)
--     case        id, conversation_id                               (insert, update)
--     note        id, conversation_id                               (conversation note insert)
--     presence    agent_id, presence                                (presence update)
--     session     id, agent_id                                      (sign-out, revoke)
--   A session's idle or absolute expiry is a time passing, not a row changing: the streams
--   look at their session themselves.
-- * Cheap on the write path: every trigger is AFTER ... FOR EACH STATEMENT with a transition
--   table, so a statement that inserts a group of inbound texts sends one notification per 25
--   rows (a payload must stay under 8000 bytes), not one per row; an update that changes
--   nothing the console shows (an agent's heartbeat, a message's provider id) sends none.
-- * The trigger functions are in cc_private, callable by nobody (a trigger fires without
--   EXECUTE). cc_private.may_see_agent(uuid) says whose presence the acting agent may follow:
--   their own, an admin anyone's, a supervisor that of the agents sharing one of their queues;
--   for agents and the service, as 021's helpers.
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all;
-- every function and trigger is made with CREATE OR REPLACE, so the file can run again.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE SCHEMA IF NOT EXISTS cc_private;
REVOKE ALL ON SCHEMA cc_private FROM PUBLIC;

-- The functions name tables with the schema the migrations run in (search_path is empty
-- inside them): @schema@ is replaced with it.
DO $do$
BEGIN
    EXECUTE replace($sql$
CREATE OR REPLACE FUNCTION cc_private.live_assignments() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
    payload jsonb[];
BEGIN
    payload := ARRAY(
        SELECT pg_catalog.jsonb_build_object('id', n.id, 'conversation_id', n.conversation_id,
                                             'case_id', n.case_id, 'queue', n.queue_name,
                                             'state', n.state)
        FROM changed_rows AS n);
    PERFORM pg_catalog.pg_notify('cc_live', pg_catalog.jsonb_build_object(
                'kind', 'assignment', 'rows', pg_catalog.to_jsonb(payload[i:i + 24]))::text)
    FROM pg_catalog.generate_series(1, pg_catalog.cardinality(payload), 25) AS i;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION cc_private.live_messages() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
    payload jsonb[];
BEGIN
    payload := ARRAY(
        SELECT pg_catalog.jsonb_build_object('id', n.id, 'conversation_id', n.conversation_id)
        FROM changed_rows AS n);
    PERFORM pg_catalog.pg_notify('cc_live', pg_catalog.jsonb_build_object(
                'kind', 'message', 'rows', pg_catalog.to_jsonb(payload[i:i + 24]))::text)
    FROM pg_catalog.generate_series(1, pg_catalog.cardinality(payload), 25) AS i;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION cc_private.live_message_statuses() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
    payload jsonb[];
BEGIN
    payload := ARRAY(
        SELECT pg_catalog.jsonb_build_object('id', n.id, 'conversation_id', n.conversation_id)
        FROM changed_rows AS n JOIN old_rows AS o ON o.id = n.id
        WHERE (n.status, n.provider_status, n.error_code)
              IS DISTINCT FROM (o.status, o.provider_status, o.error_code));
    PERFORM pg_catalog.pg_notify('cc_live', pg_catalog.jsonb_build_object(
                'kind', 'message', 'rows', pg_catalog.to_jsonb(payload[i:i + 24]))::text)
    FROM pg_catalog.generate_series(1, pg_catalog.cardinality(payload), 25) AS i;
    RETURN NULL;
END
$fn$;

-- SECURITY DEFINER: it reads the clocks, whoever writes the event.
CREATE OR REPLACE FUNCTION cc_private.live_sla_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
    payload jsonb[];
BEGIN
    payload := ARRAY(
        SELECT pg_catalog.jsonb_build_object('id', n.id, 'clock_id', n.clock_id,
                                             'conversation_id', k.conversation_id,
                                             'case_id', k.case_id, 'event', n.event)
        FROM changed_rows AS n JOIN @schema@.cc_sla_clocks AS k ON k.id = n.clock_id);
    PERFORM pg_catalog.pg_notify('cc_live', pg_catalog.jsonb_build_object(
                'kind', 'sla', 'rows', pg_catalog.to_jsonb(payload[i:i + 24]))::text)
    FROM pg_catalog.generate_series(1, pg_catalog.cardinality(payload), 25) AS i;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION cc_private.live_cases() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
    payload jsonb[];
BEGIN
    payload := ARRAY(
        SELECT pg_catalog.jsonb_build_object('id', n.id, 'conversation_id', n.conversation_id)
        FROM changed_rows AS n);
    PERFORM pg_catalog.pg_notify('cc_live', pg_catalog.jsonb_build_object(
                'kind', 'case', 'rows', pg_catalog.to_jsonb(payload[i:i + 24]))::text)
    FROM pg_catalog.generate_series(1, pg_catalog.cardinality(payload), 25) AS i;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION cc_private.live_notes() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
    payload jsonb[];
BEGIN
    payload := ARRAY(
        SELECT pg_catalog.jsonb_build_object('id', n.id, 'conversation_id', n.conversation_id)
        FROM changed_rows AS n);
    PERFORM pg_catalog.pg_notify('cc_live', pg_catalog.jsonb_build_object(
                'kind', 'note', 'rows', pg_catalog.to_jsonb(payload[i:i + 24]))::text)
    FROM pg_catalog.generate_series(1, pg_catalog.cardinality(payload), 25) AS i;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION cc_private.live_presence() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
    payload jsonb[];
BEGIN
    payload := ARRAY(
        SELECT pg_catalog.jsonb_build_object('agent_id', n.id, 'presence', n.presence)
        FROM changed_rows AS n JOIN old_rows AS o ON o.id = n.id
        WHERE n.presence IS DISTINCT FROM o.presence);
    PERFORM pg_catalog.pg_notify('cc_live', pg_catalog.jsonb_build_object(
                'kind', 'presence', 'rows', pg_catalog.to_jsonb(payload[i:i + 24]))::text)
    FROM pg_catalog.generate_series(1, pg_catalog.cardinality(payload), 25) AS i;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION cc_private.live_sessions() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $fn$
DECLARE
    payload jsonb[];
BEGIN
    payload := ARRAY(
        SELECT pg_catalog.jsonb_build_object('id', n.id, 'agent_id', n.agent_id)
        FROM changed_rows AS n JOIN old_rows AS o ON o.id = n.id
        WHERE n.revoked_at IS NOT NULL AND o.revoked_at IS NULL);
    PERFORM pg_catalog.pg_notify('cc_live', pg_catalog.jsonb_build_object(
                'kind', 'session', 'rows', pg_catalog.to_jsonb(payload[i:i + 24]))::text)
    FROM pg_catalog.generate_series(1, pg_catalog.cardinality(payload), 25) AS i;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION cc_private.may_see_agent(agent uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $fn$
-- Whether the acting agent (auth.uid()) may follow `agent`'s presence.
BEGIN
    RETURN EXISTS (
        SELECT FROM @schema@.cc_agents AS a
        WHERE a.id = auth.uid() AND a.status = 'active'
          AND (a.id = agent OR a.role = 'admin'
               OR (a.role = 'supervisor'
                   AND EXISTS (SELECT FROM @schema@.cc_agent_queues AS mine
                               JOIN @schema@.cc_agent_queues AS theirs
                                 ON theirs.queue_name = mine.queue_name
                               WHERE mine.agent_id = a.id AND theirs.agent_id = agent))));
END
$fn$;
$sql$, '@schema@', quote_ident(current_schema()));
END
$do$;

-- Transition tables allow one event per trigger: inserts and updates are triggers apart.
CREATE OR REPLACE TRIGGER cc_assignments_live_insert AFTER INSERT ON cc_assignments
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cc_private.live_assignments();
CREATE OR REPLACE TRIGGER cc_assignments_live_update AFTER UPDATE ON cc_assignments
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cc_private.live_assignments();
CREATE OR REPLACE TRIGGER cc_messages_live_insert AFTER INSERT ON cc_messages
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cc_private.live_messages();
CREATE OR REPLACE TRIGGER cc_messages_live_update AFTER UPDATE ON cc_messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cc_private.live_message_statuses();
CREATE OR REPLACE TRIGGER cc_sla_clock_events_live_insert AFTER INSERT ON cc_sla_clock_events
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cc_private.live_sla_events();
CREATE OR REPLACE TRIGGER cc_cases_live_insert AFTER INSERT ON cc_cases
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cc_private.live_cases();
CREATE OR REPLACE TRIGGER cc_cases_live_update AFTER UPDATE ON cc_cases
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cc_private.live_cases();
CREATE OR REPLACE TRIGGER cc_conversation_notes_live_insert AFTER INSERT ON cc_conversation_notes
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cc_private.live_notes();
CREATE OR REPLACE TRIGGER cc_agents_live_update AFTER UPDATE ON cc_agents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cc_private.live_presence();
CREATE OR REPLACE TRIGGER cc_agent_sessions_live_update AFTER UPDATE ON cc_agent_sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cc_private.live_sessions();

-- PostgreSQL grants EXECUTE on a new function to PUBLIC, and Supabase to its roles: nobody
-- calls the notifiers; the helper is for agents and the service.
DO $$
DECLARE
    fn text;
BEGIN
    FOREACH fn IN ARRAY ARRAY['cc_private.live_assignments()', 'cc_private.live_messages()',
                              'cc_private.live_message_statuses()',
                              'cc_private.live_sla_events()', 'cc_private.live_cases()',
                              'cc_private.live_notes()', 'cc_private.live_presence()',
                              'cc_private.live_sessions()', 'cc_private.may_see_agent(uuid)']
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC, anon, authenticated, '
                       'service_role', fn);
    END LOOP;
    GRANT EXECUTE ON FUNCTION cc_private.may_see_agent(uuid) TO authenticated, service_role;
END
$$;
