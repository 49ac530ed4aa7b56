-- Undo 024: agents read no clocks and no reference data again.
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DO $$
DECLARE
    tbl text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['cc_sla_clocks', 'cc_sla_clock_events', 'cc_queues',
                               'cc_sla_policies', 'cc_sla_targets', 'cc_calendars',
                               'cc_calendar_hours', 'cc_calendar_exceptions']
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS %I ON %I', tbl || '_agent_read', tbl);
        EXECUTE format('REVOKE ALL ON TABLE %I FROM authenticated', tbl);
    END LOOP;
END
$$;
