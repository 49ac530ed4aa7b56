-- 024: agents read the SLA clocks of what they may see, and the reference data the clocks are
-- measured with (queues, SLA policies, calendars), under row-level security as in 021.
--
-- * cc_sla_clocks: a conversation's clocks with its messages (the conversation the transaction
--   reads, if the agent may see it); a case's clocks wherever the agent may see the case.
--   cc_sla_clock_events: those of a clock the agent may see.
-- * Queues, SLA policies and targets, calendars, their hours and exceptions: every agent reads
--   them all; they say how the contact center works, nothing about a customer.
-- * Reads only, as in 021: the service changes clocks.
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all;
-- the policies are dropped and made again, so the file can run again.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DO $$
DECLARE
    tbl text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['cc_sla_clocks', 'cc_sla_clock_events', 'cc_queues',
                               'cc_sla_policies', 'cc_sla_targets', 'cc_calendars',
                               'cc_calendar_hours', 'cc_calendar_exceptions']
    LOOP
        EXECUTE format('REVOKE ALL ON TABLE %I FROM authenticated', tbl);
        EXECUTE format('GRANT SELECT ON TABLE %I TO authenticated', tbl);
        EXECUTE format('DROP POLICY IF EXISTS %I ON %I', tbl || '_agent_read', tbl);
    END LOOP;
    FOREACH tbl IN ARRAY ARRAY['cc_queues', 'cc_sla_policies', 'cc_sla_targets', 'cc_calendars',
                               'cc_calendar_hours', 'cc_calendar_exceptions']
    LOOP
        EXECUTE format('CREATE POLICY %I ON %I FOR SELECT TO authenticated USING (true)',
                       tbl || '_agent_read', tbl);
    END LOOP;
END
$$;

CREATE POLICY cc_sla_clocks_agent_read ON cc_sla_clocks FOR SELECT TO authenticated
    USING (conversation_id = (SELECT cc_private.read_conversation())
           OR (case_id IS NOT NULL
               AND EXISTS (SELECT FROM cc_cases AS c WHERE c.id = cc_sla_clocks.case_id)));

CREATE POLICY cc_sla_clock_events_agent_read ON cc_sla_clock_events FOR SELECT TO authenticated
    USING (EXISTS (SELECT FROM cc_sla_clocks AS k WHERE k.id = cc_sla_clock_events.clock_id));
