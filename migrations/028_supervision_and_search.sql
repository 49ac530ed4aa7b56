-- 028: what a supervisor reads of their queues, and finding a customer by an exact key.
--
-- By hand:  psql -1 -v ON_ERROR_STOP=1 -f migrations/028_supervision_and_search.sql
--
-- * cc_sla_clocks: supervisors read the clocks measured by their queues' policies (queue_name)
--   and those of conversations whose live item they may see (a conversation transferred into
--   their queue keeps the clocks its first queue started); admins read every clock. Agents
--   keep 024's: the conversation they read, the cases they see. Their events follow (024's
--   policy on cc_sla_clock_events reads cc_sla_clocks under these policies).
-- * cc_private.supervised_agents(): for a supervisor, the active agents of their queues, one
--   row per queue and agent, with presence, capacity and the live items they hold per channel
--   (all their items, whatever the queue: capacity is the agent's, not the queue's); for an
--   admin every queue's; for anyone else nothing. cc_agents stays unreadable to
--   `authenticated`: this is the only window on it, and it shows no email nor secret.
-- * cc_private.find_customers(kind, key): the customers whose linked phone (SMS, voice or
--   WhatsApp) or email is exactly `key`; ids only, and only to an active agent. Contact columns
--   are never granted to `authenticated` (021), so an agent could not otherwise find a customer
--   by contact; the key must already be normalised (E.164, lower-cased) and is compared with
--   `=`, never LIKE: no prefix, no wildcard. What the agent then sees of the customer's
--   conversations and cases is decided by 021's policies.
-- * cc_agent_search_budget: each agent's allowance of searches (a token bucket: `tokens` left
--   at `refilled_at`), so that a scrape of customers by key is refused whichever process
--   serves it; `refused`, the searches refused since the last one allowed.
-- * Helpers as 021's: SECURITY DEFINER in cc_private with an empty search_path, the caller's
--   role and queues read through (select ...) once per statement.
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all;
-- the policy is dropped and made again, so the file can run again.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE IF NOT EXISTS cc_agent_search_budget (
    agent_id uuid PRIMARY KEY REFERENCES cc_agents (id) ON DELETE CASCADE,
    tokens double precision NOT NULL CONSTRAINT cc_agent_search_budget_tokens_check
        CHECK (tokens >= 0),
    refilled_at timestamptz NOT NULL DEFAULT now(),
    refused bigint NOT NULL DEFAULT 0 CONSTRAINT cc_agent_search_budget_refused_check
        CHECK (refused >= 0)
);

DO $$
BEGIN
    ALTER TABLE cc_agent_search_budget ENABLE ROW LEVEL SECURITY;
    IF NOT EXISTS (SELECT FROM pg_policy
                   WHERE polrelid = 'cc_agent_search_budget'::regclass
                     AND polname = 'cc_agent_search_budget_service_role_all') THEN
        CREATE POLICY cc_agent_search_budget_service_role_all ON cc_agent_search_budget
            AS PERMISSIVE FOR ALL TO service_role USING (true) WITH CHECK (true);
    END IF;
    -- Supabase grants ALL on new tables to anon, authenticated and service_role by default.
    REVOKE ALL ON cc_agent_search_budget
        FROM PUBLIC, anon, authenticated, service_role, switchboard_app;
    -- Upserted by the service; never deleted (the agent's row cascades).
    GRANT SELECT, INSERT, UPDATE ON cc_agent_search_budget TO service_role;
END
$$;

CREATE OR REPLACE FUNCTION cc_private.supervised_agents()
RETURNS TABLE (queue_name text, agent_id uuid, display_name text, role text, presence text,
               presence_changed_at timestamptz, capacity jsonb, load jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT m.queue_name, a.id, a.display_name, a.role, a.presence, a.presence_changed_at,
           a.capacity,
           coalesce((SELECT jsonb_object_agg(h.channel, h.items)
                     FROM (SELECT w.channel, count(*) AS items FROM public.cc_assignments AS w
                           WHERE w.assigned_to = a.id::text AND w.channel IS NOT NULL
                             AND w.state IN ('offered', 'active', 'wrap_up')
                           GROUP BY w.channel) AS h), '{}'::jsonb)
    FROM public.cc_agent_queues AS m
    JOIN public.cc_agents AS a ON a.id = m.agent_id AND a.status = 'active'
    WHERE (SELECT cc_private.agent_role()) = 'admin'
       OR ((SELECT cc_private.agent_role()) = 'supervisor'
           AND m.queue_name = ANY ((SELECT cc_private.agent_queues())::text[]));
END
$$;

CREATE OR REPLACE FUNCTION cc_private.find_customers(p_kind text, p_key text)
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF (SELECT cc_private.agent_id()) IS NULL THEN
        RETURN;
    END IF;
    -- The service normalises; these refuse what no normalised key looks like, whoever calls.
    IF p_kind = 'phone' AND p_key ~ '^\+[1-9][0-9]{6,14}$' THEN
        RETURN QUERY SELECT DISTINCT l.bank_customer_id FROM public.cc_identity_links AS l
                     WHERE l.channel IN ('phone', 'whatsapp') AND l.address = p_key;
    ELSIF p_kind = 'email' AND p_key ~ '^[^@%*\s]+@[^@%*\s]+\.[^@%*\s]+$'
          AND p_key = lower(p_key) THEN
        RETURN QUERY SELECT DISTINCT l.bank_customer_id FROM public.cc_identity_links AS l
                     WHERE l.channel = 'email' AND l.address = p_key;
    END IF;
END
$$;

DO $$
DECLARE
    fn text;
BEGIN
    FOREACH fn IN ARRAY ARRAY['cc_private.supervised_agents()',
                              'cc_private.find_customers(text, text)']
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC, anon', fn);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO authenticated, service_role', fn);
    END LOOP;
END
$$;

DROP POLICY IF EXISTS cc_sla_clocks_supervisor_read ON cc_sla_clocks;
CREATE POLICY cc_sla_clocks_supervisor_read ON cc_sla_clocks FOR SELECT TO authenticated
    USING ((SELECT cc_private.agent_role()) = 'admin'
           OR ((SELECT cc_private.agent_role()) = 'supervisor'
               AND (queue_name = ANY ((SELECT cc_private.agent_queues())::text[])
                    OR conversation_id IN (
                        SELECT w.conversation_id FROM cc_assignments AS w
                        WHERE w.state IN ('queued', 'offered', 'active', 'wrap_up')))));
