-- 019: an assignment's life as states (queued, offered, active, wrap_up, done, cancelled), and
-- claim-next: an agent asking for work gets the best item of their queues, atomically.
-- switchboard: no-transaction
--
-- By hand:  psql -v ON_ERROR_STOP=1 -f migrations/019_assignment_states.sql
-- (never with -1 / --single-transaction: the indexes are built CONCURRENTLY).
--
-- * cc_assignments may be big on a bank's database (one row per piece of work ever routed),
--   so, as 006 does, nothing here scans it under a lock that stops writers: columns come with
--   constant defaults or none (catalog changes), constraints are added NOT VALID and validated
--   apart, indexes are built CONCURRENTLY (and an invalid one a killed run left is rebuilt).
-- * Rows already there are finished work: they get state 'done' (the column is added with
--   that default, which only they keep; new rows default to 'queued').
-- * state: queued -> offered -> active -> wrap_up -> done, or cancelled before active. The
--   moves themselves are data in src/switchboard/assignments/models.py.
-- * priority orders a queue's items (higher first); enqueued_at is when the item joined the
--   queue and is kept when an offer is declined or expires, so it keeps its place.
-- * channel says which of the agent's capacities (cc_agents.capacity) the item uses.
-- * offer_count counts offers that came back; escalated_at is when it reached the queue's
--   max_offers and a supervisor was called (the item stays queued).
-- * source: what queued it (the assistant's handoff, an inbound message nobody held, a
--   reopened conversation, a transfer). reason (012's column) stays the handoff's reason;
--   assurance_level is the caller's level when the assistant handed over.
-- * last_agent_id: who held the conversation before this item (a reopen is offered to them
--   first); transferred_from: the assignment a transfer ended.
-- * version: counts moves, so that an agent acting on a stale view is refused.
-- * At most one live (queued, offered, active, wrap_up) assignment per conversation: a
--   partial unique index, so the database refuses a second whatever the code does.
-- * cc_private: functions the API never exposes, SECURITY DEFINER with an empty search_path
--   (tables named with their schema), EXECUTE for service_role only. 014 re-runs revoke the
--   public schema's cc_ functions; these are kept out of it.
-- squawk-ignore-file prefer-robust-stmts -- every statement is guarded or re-runnable as it
-- stands; squawk cannot see the guards inside the DO blocks.
-- squawk-ignore-file prefer-bigint-over-int -- small bounded counts (priority, offers,
-- version of one row, assurance level) that cannot approach 2^31.
SET lock_timeout = '500ms';
SET statement_timeout = 0;

-- Constant defaults and nullable columns: catalog changes, no rewrite, no scan.
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS state text NOT NULL DEFAULT 'done';
ALTER TABLE cc_assignments ALTER COLUMN state SET DEFAULT 'queued';
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS priority integer NOT NULL DEFAULT 0;
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS channel text;
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS enqueued_at timestamptz;
-- For new rows only: the rows already there are done and never queued again.
ALTER TABLE cc_assignments ALTER COLUMN enqueued_at SET DEFAULT now();
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS offered_at timestamptz;
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS offer_expires_at timestamptz;
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS offer_count integer NOT NULL DEFAULT 0;
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS accepted_at timestamptz;
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS wrap_started_at timestamptz;
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS done_at timestamptz;
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS end_reason text;
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS escalated_at timestamptz;
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS transferred_from uuid;
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS last_agent_id uuid;
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS source text;
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS assurance_level integer;
ALTER TABLE cc_assignments ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 0;

-- Constraints NOT VALID (a brief lock, no scan), each in its own statement; validated below.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'cc_assignments'::regclass
                   AND conname = 'cc_assignments_state_check') THEN
        ALTER TABLE cc_assignments ADD CONSTRAINT cc_assignments_state_check CHECK
            (state IN ('queued', 'offered', 'active', 'wrap_up', 'done', 'cancelled')) NOT VALID;
    END IF;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'cc_assignments'::regclass
                   AND conname = 'cc_assignments_channel_check') THEN
        ALTER TABLE cc_assignments ADD CONSTRAINT cc_assignments_channel_check CHECK
            (channel IN ('sms', 'whatsapp', 'email', 'voice')) NOT VALID;
    END IF;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'cc_assignments'::regclass
                   AND conname = 'cc_assignments_end_reason_check') THEN
        ALTER TABLE cc_assignments ADD CONSTRAINT cc_assignments_end_reason_check CHECK
            (end_reason IN ('resolved', 'transferred', 'cancelled', 'abandoned')) NOT VALID;
    END IF;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'cc_assignments'::regclass
                   AND conname = 'cc_assignments_source_check') THEN
        ALTER TABLE cc_assignments ADD CONSTRAINT cc_assignments_source_check CHECK
            (source IN ('ai_handoff', 'inbound', 'reopen', 'transfer')) NOT VALID;
    END IF;
END
$$;

-- What each state implies of the other columns: a live item has its time in the queue; a
-- queued one no holder; an offered, active or wrapping one a holder; an offer its expiry.
-- (A live item without a channel is allowed, as rows written before 019's code were, but
-- never claimed: the service always gives one.)
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'cc_assignments'::regclass
                   AND conname = 'cc_assignments_state_shape_check') THEN
        ALTER TABLE cc_assignments ADD CONSTRAINT cc_assignments_state_shape_check CHECK (
            (state IN ('done', 'cancelled') OR enqueued_at IS NOT NULL)
            AND (state <> 'queued' OR assigned_to IS NULL)
            AND (state NOT IN ('offered', 'active', 'wrap_up') OR assigned_to IS NOT NULL)
            AND (state <> 'offered' OR offer_expires_at IS NOT NULL)
            AND offer_count >= 0 AND version >= 0
        ) NOT VALID;
    END IF;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'cc_assignments'::regclass
                   AND conname = 'cc_assignments_transferred_from_fkey') THEN
        ALTER TABLE cc_assignments ADD CONSTRAINT cc_assignments_transferred_from_fkey
            FOREIGN KEY (transferred_from) REFERENCES cc_assignments (id) NOT VALID;
    END IF;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'cc_assignments'::regclass
                   AND conname = 'cc_assignments_last_agent_id_fkey') THEN
        ALTER TABLE cc_assignments ADD CONSTRAINT cc_assignments_last_agent_id_fkey
            FOREIGN KEY (last_agent_id) REFERENCES cc_agents (id) NOT VALID;
    END IF;
END
$$;

-- Validating scans the table but takes only SHARE UPDATE EXCLUSIVE: writers go on.
SET lock_timeout = 0;
ALTER TABLE cc_assignments VALIDATE CONSTRAINT cc_assignments_state_check;
ALTER TABLE cc_assignments VALIDATE CONSTRAINT cc_assignments_channel_check;
ALTER TABLE cc_assignments VALIDATE CONSTRAINT cc_assignments_end_reason_check;
ALTER TABLE cc_assignments VALIDATE CONSTRAINT cc_assignments_source_check;
ALTER TABLE cc_assignments VALIDATE CONSTRAINT cc_assignments_state_shape_check;
ALTER TABLE cc_assignments VALIDATE CONSTRAINT cc_assignments_transferred_from_fkey;
ALTER TABLE cc_assignments VALIDATE CONSTRAINT cc_assignments_last_agent_id_fkey;

-- An index a killed CREATE INDEX CONCURRENTLY left invalid would be kept by IF NOT EXISTS.
DO $$
DECLARE
    leftover text;
BEGIN
    FOR leftover IN
        SELECT c.relname FROM pg_index AS i
        JOIN pg_class AS c ON c.oid = i.indexrelid
        WHERE i.indrelid = 'cc_assignments'::regclass AND NOT i.indisvalid
          AND c.relname IN ('cc_assignments_one_live_per_conversation_key',
                            'cc_assignments_claim_idx', 'cc_assignments_live_holder_idx',
                            'cc_assignments_offer_expires_at_idx')
    LOOP
        RAISE NOTICE 'dropping invalid index % left by an interrupted run; it is rebuilt below',
            leftover;
        EXECUTE format('DROP INDEX %I', leftover);
    END LOOP;
END
$$;

-- At most one live assignment per conversation, whatever the code does.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS cc_assignments_one_live_per_conversation_key
    ON cc_assignments (conversation_id) WHERE state IN ('queued', 'offered', 'active', 'wrap_up');
-- Claim-next: a queue's items in the order they are given out.
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_assignments_claim_idx
    ON cc_assignments (queue_name, priority DESC, enqueued_at, id) WHERE state = 'queued';
-- An agent's live items, counted against their capacity on every claim.
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_assignments_live_holder_idx
    ON cc_assignments (assigned_to, channel) WHERE state IN ('offered', 'active', 'wrap_up');
-- The sweep for offers nobody answered.
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_assignments_offer_expires_at_idx
    ON cc_assignments (offer_expires_at) WHERE state = 'offered';

SET lock_timeout = '500ms';

CREATE SCHEMA IF NOT EXISTS cc_private;
REVOKE ALL ON SCHEMA cc_private FROM PUBLIC;
GRANT USAGE ON SCHEMA cc_private TO service_role;

-- The functions name tables with the schema the migrations run in (search_path is empty
-- inside them): @schema@ is replaced with it.
DO $do$
BEGIN
    EXECUTE replace($sql$
CREATE OR REPLACE FUNCTION cc_private.agent_channels_with_room(p_agent_id uuid)
RETURNS text[] LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
-- The channels in which the agent may take one more item, or NULL when the agent may take
-- none (unknown, disabled, not available). The agent's row stays locked until the caller's
-- transaction ends: two claims or offers of one agent (two tabs) are taken one after the
-- other, so both cannot count the same free place.
DECLARE
    agent record;
BEGIN
    SELECT a.capacity, a.presence, a.status INTO agent FROM @schema@.cc_agents AS a
    WHERE a.id = p_agent_id FOR NO KEY UPDATE;
    IF NOT FOUND OR agent.status <> 'active' OR agent.presence <> 'available' THEN
        RETURN NULL;
    END IF;
    RETURN ARRAY(
        SELECT c.key FROM jsonb_each_text(agent.capacity) AS c
        WHERE c.value ~ '^[0-9]+$' AND c.value::integer > (
            SELECT count(*) FROM @schema@.cc_assignments AS l
            WHERE l.assigned_to = p_agent_id::text AND l.channel = c.key
              AND l.state IN ('offered', 'active', 'wrap_up')));
END
$fn$;

CREATE OR REPLACE FUNCTION cc_private.claim_next_assignment(p_agent_id uuid)
RETURNS SETOF @schema@.cc_assignments LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $fn$
-- The best item of the agent's queues, made active for the agent (pull: taking it is
-- accepting it); nothing when the agent may take no more or no item waits. Best: the
-- queue's priority, then the item's, then the oldest, then the id. The heads of the queues
-- are compared first; the item is then taken from the chosen queue FOR UPDATE SKIP LOCKED,
-- so concurrent claims take different items instead of waiting for one another.
DECLARE
    room text[];
    queue record;
    picked uuid;
BEGIN
    room := cc_private.agent_channels_with_room(p_agent_id);
    IF room IS NULL OR cardinality(room) = 0 THEN
        RETURN;
    END IF;
    FOR queue IN
        SELECT m.queue_name FROM @schema@.cc_agent_queues AS m
        JOIN @schema@.cc_queues AS q ON q.name = m.queue_name
        CROSS JOIN LATERAL (
            SELECT h.priority, h.enqueued_at, h.id FROM @schema@.cc_assignments AS h
            WHERE h.queue_name = m.queue_name AND h.state = 'queued' AND h.channel = ANY (room)
            ORDER BY h.priority DESC, h.enqueued_at, h.id LIMIT 1) AS head
        WHERE m.agent_id = p_agent_id
        ORDER BY q.priority DESC, head.priority DESC, head.enqueued_at, head.id
    LOOP
        SELECT a.id INTO picked FROM @schema@.cc_assignments AS a
        WHERE a.queue_name = queue.queue_name AND a.state = 'queued' AND a.channel = ANY (room)
        ORDER BY a.priority DESC, a.enqueued_at, a.id
        LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF picked IS NOT NULL THEN
            RETURN QUERY
            UPDATE @schema@.cc_assignments AS a
            SET state = 'active', assigned_to = p_agent_id::text, accepted_at = now(),
                updated_at = now(), version = a.version + 1
            WHERE a.id = picked AND a.state = 'queued'
            RETURNING a.*;
            RETURN;
        END IF;
    END LOOP;
END
$fn$;

CREATE OR REPLACE FUNCTION cc_private.offer_assignment(p_assignment_id uuid, p_agent_id uuid)
RETURNS SETOF @schema@.cc_assignments LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $fn$
-- Push: the queued item offered to the agent until now() + the queue's offer_timeout, under
-- the same checks as a claim (available, a member of the item's queue, room in its
-- channel); nothing when one fails or the item is no longer queued.
DECLARE
    room text[];
BEGIN
    room := cc_private.agent_channels_with_room(p_agent_id);
    IF room IS NULL OR cardinality(room) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    UPDATE @schema@.cc_assignments AS a
    SET state = 'offered', assigned_to = p_agent_id::text, offered_at = now(),
        offer_expires_at = now() + q.offer_timeout, updated_at = now(), version = a.version + 1
    FROM @schema@.cc_queues AS q
    WHERE a.id = p_assignment_id AND a.state = 'queued' AND a.channel = ANY (room)
      AND q.name = a.queue_name
      AND EXISTS (SELECT FROM @schema@.cc_agent_queues AS m
                  WHERE m.agent_id = p_agent_id AND m.queue_name = a.queue_name)
    RETURNING a.*;
END
$fn$;
$sql$, '@schema@', quote_ident(current_schema()));
END
$do$;

-- Supabase grants EXECUTE on new functions to anon, authenticated and service_role by
-- default, and PostgreSQL to PUBLIC: each starts again from nothing and gets service_role.
DO $$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure FROM pg_proc AS p
        JOIN pg_namespace AS n ON n.oid = p.pronamespace AND n.nspname = 'cc_private'
        WHERE p.proname IN ('agent_channels_with_room', 'claim_next_assignment',
                            'offer_assignment')
    LOOP
        EXECUTE format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', fn);
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
            EXECUTE format('REVOKE ALL ON ROUTINE %s FROM anon', fn);
        END IF;
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
            EXECUTE format('REVOKE ALL ON ROUTINE %s FROM authenticated', fn);
        END IF;
        EXECUTE format('REVOKE ALL ON ROUTINE %s FROM switchboard_app', fn);
        EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO service_role', fn);
    END LOOP;
END
$$;
