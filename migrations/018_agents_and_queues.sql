-- 018: the human side's reference data: agents, their sign-in sessions, the queues they work,
-- the calendars business time is measured in, and the SLA policies of each queue.
--
-- By hand:  psql -1 -v ON_ERROR_STOP=1 -f migrations/018_agents_and_queues.sql
--
-- * cc_agents: a person who works the queues. Email unique whatever its case. The password is
--   an argon2id hash; the TOTP secret is sealed (AES-GCM under a key derived from
--   SWITCHBOARD_SECRET_KEY, bound to the agent's id) and the last accepted time step is kept, so
--   a code is accepted once. An enrolment secret is stored as its SHA-256 only. capacity says
--   how many live assignments of each channel the agent may hold at once.
-- * cc_agent_queues: which queues an agent works.
-- * cc_agent_sessions: server-side sign-in sessions; the cookie carries a random token, the row
--   its SHA-256. A session is 'password' (first factor passed) until its TOTP code is accepted,
--   then 'signed_in'. Idle and absolute expiry are times on the row; revoked_at ends it at once.
-- * cc_sign_in_failures: consecutive failures per account and per client address, with the time
--   before which the next attempt is refused without being checked (the back-off).
-- * cc_calendars, cc_calendar_hours, cc_calendar_exceptions: business time. A calendar has an
--   IANA time zone and any number of opening intervals per ISO weekday (1 = Monday). A dated
--   exception replaces that date's intervals: a row without times closes the day, rows with
--   times are the day's only intervals.
-- * cc_sla_policies, cc_sla_targets: per policy and priority, how long first response, next
--   response and resolution may take, in the queue's calendar's business time.
-- * cc_queues: the queues the assistant hands work to, each with its ordering priority, how long
--   an offer waits for an answer, how many offers before a supervisor is called, its SLA policy
--   and its calendar. Seeded with the seven queues of transfer_to_human; an existing row is
--   never overwritten, so a bank's own settings survive a re-run.
-- * Every table: RLS on, the service role's policy, and privileges set explicitly (nothing for
--   anon or authenticated here: the agents' own access comes with their policies).
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all
-- squawk-ignore-file prefer-bigint-over-int -- small bounded counts and weights (weekday, priority,
-- offers, failures) that cannot approach 2^31.
-- squawk-ignore-file require-concurrent-index-creation -- the indexes are built on tables
-- created in this migration, empty: there are no writes to block.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE IF NOT EXISTS cc_calendars (
    name text PRIMARY KEY CONSTRAINT cc_calendars_name_check CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    time_zone text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS cc_calendar_hours (
    calendar_name text NOT NULL REFERENCES cc_calendars (name) ON DELETE CASCADE,
    iso_weekday integer NOT NULL
        CONSTRAINT cc_calendar_hours_iso_weekday_check CHECK (iso_weekday BETWEEN 1 AND 7),
    opens time NOT NULL,
    -- '24:00' closes at midnight: a day open all day is 00:00-24:00.
    closes time NOT NULL,
    CONSTRAINT cc_calendar_hours_order_check CHECK (opens < closes),
    CONSTRAINT cc_calendar_hours_pkey PRIMARY KEY (calendar_name, iso_weekday, opens)
);

CREATE TABLE IF NOT EXISTS cc_calendar_exceptions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    calendar_name text NOT NULL REFERENCES cc_calendars (name) ON DELETE CASCADE,
    on_date date NOT NULL,
    opens time,
    closes time,
    label text NOT NULL DEFAULT '',
    CONSTRAINT cc_calendar_exceptions_times_check
        CHECK ((opens IS NULL AND closes IS NULL) OR (opens IS NOT NULL AND closes IS NOT NULL
                                                      AND opens < closes))
);
CREATE INDEX IF NOT EXISTS cc_calendar_exceptions_calendar_name_on_date_idx
    ON cc_calendar_exceptions (calendar_name, on_date);

CREATE TABLE IF NOT EXISTS cc_sla_policies (
    name text PRIMARY KEY CONSTRAINT cc_sla_policies_name_check
        CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS cc_sla_targets (
    policy_name text NOT NULL REFERENCES cc_sla_policies (name) ON DELETE CASCADE,
    priority text NOT NULL
        CONSTRAINT cc_sla_targets_priority_check
        CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    metric text NOT NULL
        CONSTRAINT cc_sla_targets_metric_check
        CHECK (metric IN ('first_response', 'next_response', 'resolution')),
    target interval NOT NULL CONSTRAINT cc_sla_targets_target_check CHECK (target > interval '0'),
    CONSTRAINT cc_sla_targets_pkey PRIMARY KEY (policy_name, priority, metric)
);

CREATE TABLE IF NOT EXISTS cc_queues (
    name text PRIMARY KEY CONSTRAINT cc_queues_name_check CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    display_name text NOT NULL,
    -- Higher first: an agent of several queues is given the highest queue's work first.
    priority integer NOT NULL DEFAULT 0,
    offer_timeout interval NOT NULL DEFAULT interval '45 seconds'
        CONSTRAINT cc_queues_offer_timeout_check CHECK (offer_timeout > interval '0'),
    max_offers integer NOT NULL DEFAULT 3
        CONSTRAINT cc_queues_max_offers_check CHECK (max_offers > 0),
    sla_policy_name text NOT NULL REFERENCES cc_sla_policies (name),
    calendar_name text NOT NULL REFERENCES cc_calendars (name),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS cc_agents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL CONSTRAINT cc_agents_email_check CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    display_name text NOT NULL,
    role text NOT NULL
        CONSTRAINT cc_agents_role_check CHECK (role IN ('agent', 'supervisor', 'admin')),
    status text NOT NULL DEFAULT 'active'
        CONSTRAINT cc_agents_status_check CHECK (status IN ('active', 'disabled')),
    password_hash text,
    totp_secret_sealed text,
    totp_last_step bigint,
    enrolment_secret_hash bytea,
    enrolment_expires_at timestamptz,
    time_zone text NOT NULL DEFAULT 'UTC',
    capacity jsonb NOT NULL DEFAULT '{"voice": 1, "sms": 3, "whatsapp": 3, "email": 5}'
        CONSTRAINT cc_agents_capacity_check CHECK (jsonb_typeof(capacity) = 'object'),
    presence text NOT NULL DEFAULT 'offline'
        CONSTRAINT cc_agents_presence_check CHECK (presence IN ('available', 'away', 'offline')),
    presence_changed_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS cc_agents_email_key ON cc_agents (lower(email));

CREATE TABLE IF NOT EXISTS cc_agent_queues (
    agent_id uuid NOT NULL REFERENCES cc_agents (id) ON DELETE CASCADE,
    queue_name text NOT NULL REFERENCES cc_queues (name),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cc_agent_queues_pkey PRIMARY KEY (agent_id, queue_name)
);
CREATE INDEX IF NOT EXISTS cc_agent_queues_queue_name_idx ON cc_agent_queues (queue_name);

CREATE TABLE IF NOT EXISTS cc_agent_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash bytea NOT NULL CONSTRAINT cc_agent_sessions_token_hash_key UNIQUE,
    agent_id uuid NOT NULL REFERENCES cc_agents (id),
    stage text NOT NULL DEFAULT 'password'
        CONSTRAINT cc_agent_sessions_stage_check CHECK (stage IN ('password', 'signed_in')),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    idle_expires_at timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text,
    client_address text,
    user_agent text
);
CREATE INDEX IF NOT EXISTS cc_agent_sessions_agent_id_idx
    ON cc_agent_sessions (agent_id) WHERE revoked_at IS NULL;

CREATE TABLE IF NOT EXISTS cc_sign_in_failures (
    subject_kind text NOT NULL
        CONSTRAINT cc_sign_in_failures_subject_kind_check
        CHECK (subject_kind IN ('account', 'client')),
    subject text NOT NULL,
    failures integer NOT NULL DEFAULT 1 CONSTRAINT cc_sign_in_failures_failures_check
        CHECK (failures > 0),
    last_failed_at timestamptz NOT NULL DEFAULT now(),
    blocked_until timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cc_sign_in_failures_pkey PRIMARY KEY (subject_kind, subject)
);

-- Reference data: the seven queues of transfer_to_human, a calendar open round the clock for
-- fraud and one of weekday business hours for the rest, and two SLA policies.
INSERT INTO cc_calendars (name, time_zone, description) VALUES
    ('round_the_clock', 'America/New_York', 'Open every hour of every day'),
    ('business_hours', 'America/New_York', 'Monday to Friday 08:00-20:00, Saturday 09:00-13:00')
ON CONFLICT (name) DO NOTHING;

INSERT INTO cc_calendar_hours (calendar_name, iso_weekday, opens, closes)
SELECT 'round_the_clock', day, time '00:00', time '24:00' FROM generate_series(1, 7) AS day
ON CONFLICT DO NOTHING;
INSERT INTO cc_calendar_hours (calendar_name, iso_weekday, opens, closes)
SELECT 'business_hours', day, time '08:00', time '20:00' FROM generate_series(1, 5) AS day
UNION ALL SELECT 'business_hours', 6, time '09:00', time '13:00'
ON CONFLICT DO NOTHING;

INSERT INTO cc_sla_policies (name, description) VALUES
    ('urgent_line', 'Fraud: a customer may be losing money while they wait'),
    ('standard', 'Every other queue')
ON CONFLICT (name) DO NOTHING;

INSERT INTO cc_sla_targets (policy_name, priority, metric, target)
SELECT policy, priority, metric, target FROM (VALUES
    ('urgent_line', 'urgent', 'first_response', interval '2 minutes'),
    ('urgent_line', 'high', 'first_response', interval '5 minutes'),
    ('urgent_line', 'normal', 'first_response', interval '5 minutes'),
    ('urgent_line', 'low', 'first_response', interval '10 minutes'),
    ('urgent_line', 'urgent', 'next_response', interval '5 minutes'),
    ('urgent_line', 'high', 'next_response', interval '10 minutes'),
    ('urgent_line', 'normal', 'next_response', interval '15 minutes'),
    ('urgent_line', 'low', 'next_response', interval '30 minutes'),
    ('urgent_line', 'urgent', 'resolution', interval '4 hours'),
    ('urgent_line', 'high', 'resolution', interval '8 hours'),
    ('urgent_line', 'normal', 'resolution', interval '24 hours'),
    ('urgent_line', 'low', 'resolution', interval '48 hours'),
    ('standard', 'urgent', 'first_response', interval '15 minutes'),
    ('standard', 'high', 'first_response', interval '30 minutes'),
    ('standard', 'normal', 'first_response', interval '1 hour'),
    ('standard', 'low', 'first_response', interval '4 hours'),
    ('standard', 'urgent', 'next_response', interval '30 minutes'),
    ('standard', 'high', 'next_response', interval '1 hour'),
    ('standard', 'normal', 'next_response', interval '2 hours'),
    ('standard', 'low', 'next_response', interval '8 hours'),
    ('standard', 'urgent', 'resolution', interval '8 hours'),
    ('standard', 'high', 'resolution', interval '16 hours'),
    ('standard', 'normal', 'resolution', interval '36 hours'),
    ('standard', 'low', 'resolution', interval '72 hours')
) AS t (policy, priority, metric, target)
ON CONFLICT DO NOTHING;

INSERT INTO cc_queues (name, display_name, priority, offer_timeout, max_offers, sla_policy_name,
                       calendar_name) VALUES
    ('fraud', 'Fraud', 100, interval '30 seconds', 3, 'urgent_line', 'round_the_clock'),
    ('disputes', 'Disputes', 60, interval '45 seconds', 3, 'standard', 'business_hours'),
    ('cards', 'Cards', 50, interval '45 seconds', 3, 'standard', 'business_hours'),
    ('payments', 'Payments', 50, interval '45 seconds', 3, 'standard', 'business_hours'),
    ('complaints', 'Complaints', 40, interval '45 seconds', 3, 'standard', 'business_hours'),
    ('loans', 'Loans', 30, interval '45 seconds', 3, 'standard', 'business_hours'),
    ('general', 'General', 10, interval '45 seconds', 3, 'standard', 'business_hours')
ON CONFLICT (name) DO NOTHING;

DO $$
DECLARE
    -- table => what service_role may do with it
    privileges constant jsonb := jsonb_build_object(
        'cc_calendars', 'SELECT, INSERT, UPDATE, DELETE',
        'cc_calendar_hours', 'SELECT, INSERT, UPDATE, DELETE',
        'cc_calendar_exceptions', 'SELECT, INSERT, UPDATE, DELETE',
        'cc_sla_policies', 'SELECT, INSERT, UPDATE, DELETE',
        'cc_sla_targets', 'SELECT, INSERT, UPDATE, DELETE',
        'cc_queues', 'SELECT, INSERT, UPDATE, DELETE',
        'cc_agents', 'SELECT, INSERT, UPDATE',
        'cc_agent_queues', 'SELECT, INSERT, DELETE',
        'cc_agent_sessions', 'SELECT, INSERT, UPDATE',
        -- counters: upserted, and deleted once a sign-in succeeds
        'cc_sign_in_failures', 'SELECT, INSERT, UPDATE, DELETE');
    tbl text;
    allowed text;
BEGIN
    FOR tbl, allowed IN SELECT key, value FROM jsonb_each_text(privileges) LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
        IF NOT EXISTS (SELECT FROM pg_policy WHERE polrelid = to_regclass(tbl)
                                               AND polname = tbl || '_service_role_all') THEN
            EXECUTE format('CREATE POLICY %I ON %I AS PERMISSIVE FOR ALL TO service_role '
                           'USING (true) WITH CHECK (true)', tbl || '_service_role_all', tbl);
        END IF;
        -- Supabase grants ALL on new tables to anon, authenticated and service_role by default.
        EXECUTE format('REVOKE ALL ON TABLE %I FROM PUBLIC, anon, authenticated, service_role, '
                       'switchboard_app', tbl);
        EXECUTE format('GRANT %s ON TABLE %I TO service_role', allowed, tbl);
    END LOOP;
END
$$;
