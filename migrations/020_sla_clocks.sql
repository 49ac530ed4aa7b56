-- 020: SLA clocks and their events, and the business-day calendar of Regulation E.
--
-- By hand:  psql -1 -v ON_ERROR_STOP=1 -f migrations/020_sla_clocks.sql
--
-- * cc_sla_clocks: one clock per conversation (or case) and metric while it is live. A clock
--   counts toward a target: business time of a calendar (the queue's SLA targets of 018), or
--   business or calendar days (the regulatory clocks of a dispute or complaint). running ->
--   paused -> running ..., and it ends fulfilled, breached or cancelled. business_used is the
--   business time spent before the last pause; due_at is computed when the clock starts or
--   resumes (NULL while paused). At most one live (running or paused) clock per conversation
--   and metric, and per case and metric.
-- * cc_sla_clock_events: append-only, one row per change of a clock (started, paused, resumed,
--   fulfilled, breached, cancelled, recomputed), with the due time it had then and who acted.
--   A clock breaches once: the sweep's UPDATE is guarded by state = 'running', and a unique
--   index allows one breached event per clock.
-- * us_federal_business_days: the days a bank is open, for Regulation E's "business day"
--   (12 CFR 1005.2(d)): Monday to Friday, closed on the federal holidays of 2026-2028 as the
--   Federal Reserve Banks observe them (one on a Sunday closes the Monday; one on a Saturday
--   closes no weekday). docs/sla.md says how to add the years after.
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all
-- squawk-ignore-file require-concurrent-index-creation -- the indexes are built on tables
-- created in this migration, empty: there are no writes to block.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE IF NOT EXISTS cc_sla_clocks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid REFERENCES cc_conversations (id),
    case_id uuid REFERENCES cc_cases (id),
    metric text NOT NULL CONSTRAINT cc_sla_clocks_metric_check CHECK (metric IN (
        'first_response', 'next_response', 'resolution',
        'reg_e_investigation', 'reg_e_resolution', 'cfpb_response', 'cfpb_final_response')),
    -- what target counts: business time of the calendar, its business days, or calendar days
    unit text NOT NULL CONSTRAINT cc_sla_clocks_unit_check
        CHECK (unit IN ('business_time', 'business_days', 'calendar_days')),
    -- business_time: the duration; business_days and calendar_days: that many days
    target interval NOT NULL CONSTRAINT cc_sla_clocks_target_check CHECK (target > interval '0'),
    calendar_name text NOT NULL REFERENCES cc_calendars (name),
    -- where the target came from: the queue, its policy and the priority, or the rule's citation
    queue_name text,
    policy_name text,
    priority text,
    basis text NOT NULL DEFAULT '',
    state text NOT NULL DEFAULT 'running' CONSTRAINT cc_sla_clocks_state_check
        CHECK (state IN ('running', 'paused', 'fulfilled', 'breached', 'cancelled')),
    started_at timestamptz NOT NULL,
    running_since timestamptz,
    due_at timestamptz,
    paused_at timestamptz,
    business_used interval NOT NULL DEFAULT interval '0',
    fulfilled_at timestamptz,
    breached_at timestamptz,
    cancelled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cc_sla_clocks_subject_check CHECK (num_nonnulls(conversation_id, case_id) = 1),
    CONSTRAINT cc_sla_clocks_running_check
        CHECK (state <> 'running' OR (due_at IS NOT NULL AND running_since IS NOT NULL)),
    CONSTRAINT cc_sla_clocks_paused_check CHECK (state <> 'paused' OR paused_at IS NOT NULL),
    CONSTRAINT cc_sla_clocks_breached_check CHECK (state <> 'breached' OR breached_at IS NOT NULL)
);
CREATE UNIQUE INDEX IF NOT EXISTS cc_sla_clocks_live_conversation_key
    ON cc_sla_clocks (conversation_id, metric)
    WHERE state IN ('running', 'paused') AND conversation_id IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS cc_sla_clocks_live_case_key
    ON cc_sla_clocks (case_id, metric) WHERE state IN ('running', 'paused') AND case_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS cc_sla_clocks_conversation_id_idx
    ON cc_sla_clocks (conversation_id) WHERE conversation_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS cc_sla_clocks_case_id_idx
    ON cc_sla_clocks (case_id) WHERE case_id IS NOT NULL;
-- the breach sweep's scan
CREATE INDEX IF NOT EXISTS cc_sla_clocks_due_at_idx ON cc_sla_clocks (due_at)
    WHERE state = 'running';

CREATE TABLE IF NOT EXISTS cc_sla_clock_events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    clock_id uuid NOT NULL REFERENCES cc_sla_clocks (id),
    event text NOT NULL CONSTRAINT cc_sla_clock_events_event_check CHECK (event IN (
        'started', 'paused', 'resumed', 'fulfilled', 'breached', 'cancelled', 'recomputed')),
    -- when it happened (a breach: the due time passed), and the clock's due time then
    at timestamptz NOT NULL,
    due_at timestamptz,
    business_used interval NOT NULL,
    actor_type text NOT NULL,
    actor_id text NOT NULL,
    -- when it was written; clock_timestamp orders the events one transaction writes
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS cc_sla_clock_events_clock_id_recorded_at_idx
    ON cc_sla_clock_events (clock_id, recorded_at);
CREATE UNIQUE INDEX IF NOT EXISTS cc_sla_clock_events_one_breach_key
    ON cc_sla_clock_events (clock_id) WHERE event = 'breached';

INSERT INTO cc_calendars (name, time_zone, description) VALUES
    ('us_federal_business_days', 'America/New_York',
     'Regulation E business days: Monday to Friday except federal holidays (Federal Reserve)')
ON CONFLICT (name) DO NOTHING;
-- Whole days: the regulatory clocks count days, and a whole day reads as one in business time.
INSERT INTO cc_calendar_hours (calendar_name, iso_weekday, opens, closes)
SELECT 'us_federal_business_days', day, time '00:00', time '24:00' FROM generate_series(1, 5) AS day
ON CONFLICT DO NOTHING;
INSERT INTO cc_calendar_exceptions (calendar_name, on_date, label)
SELECT 'us_federal_business_days', holiday.on_date, holiday.label
FROM (VALUES
    (date '2026-01-01', 'New Year''s Day'),
    (date '2026-01-19', 'Birthday of Martin Luther King, Jr.'),
    (date '2026-02-16', 'Washington''s Birthday'),
    (date '2026-05-25', 'Memorial Day'),
    (date '2026-06-19', 'Juneteenth National Independence Day'),
    -- 2026-07-04, Independence Day, is a Saturday: no weekday closes
    (date '2026-09-07', 'Labor Day'),
    (date '2026-10-12', 'Columbus Day'),
    (date '2026-11-11', 'Veterans Day'),
    (date '2026-11-26', 'Thanksgiving Day'),
    (date '2026-12-25', 'Christmas Day'),
    (date '2027-01-01', 'New Year''s Day'),
    (date '2027-01-18', 'Birthday of Martin Luther King, Jr.'),
    (date '2027-02-15', 'Washington''s Birthday'),
    (date '2027-05-31', 'Memorial Day'),
    -- 2027-06-19, Juneteenth, is a Saturday: no weekday closes
    (date '2027-07-05', 'Independence Day (observed: the 4th is a Sunday)'),
    (date '2027-09-06', 'Labor Day'),
    (date '2027-10-11', 'Columbus Day'),
    (date '2027-11-11', 'Veterans Day'),
    (date '2027-11-25', 'Thanksgiving Day'),
    -- 2027-12-25 and 2028-01-01 are Saturdays: no weekday closes
    (date '2028-01-17', 'Birthday of Martin Luther King, Jr.'),
    (date '2028-02-21', 'Washington''s Birthday'),
    (date '2028-05-29', 'Memorial Day'),
    (date '2028-06-19', 'Juneteenth National Independence Day'),
    (date '2028-07-04', 'Independence Day'),
    (date '2028-09-04', 'Labor Day'),
    (date '2028-10-09', 'Columbus Day'),
    -- 2028-11-11, Veterans Day, is a Saturday: no weekday closes
    (date '2028-11-23', 'Thanksgiving Day'),
    (date '2028-12-25', 'Christmas Day')
) AS holiday (on_date, label)
WHERE NOT EXISTS (SELECT FROM cc_calendar_exceptions AS e
                  WHERE e.calendar_name = 'us_federal_business_days'
                    AND e.on_date = holiday.on_date);

DO $$
DECLARE
    -- table => what service_role may do with it
    privileges constant jsonb := jsonb_build_object(
        'cc_sla_clocks', 'SELECT, INSERT, UPDATE',
        'cc_sla_clock_events', 'SELECT, INSERT');
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
