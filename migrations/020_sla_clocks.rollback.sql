-- Undo 020: SLA clocks and their events go, and the Regulation E calendar with its holidays
-- (unless a queue uses it). The audit rows of clock changes and breaches stay.
-- squawk-ignore-file ban-drop-table -- the rollback drops what 020 added
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DROP TABLE IF EXISTS cc_sla_clock_events;
DROP TABLE IF EXISTS cc_sla_clocks;
DELETE FROM cc_calendars AS c WHERE c.name = 'us_federal_business_days'
    AND NOT EXISTS (SELECT FROM cc_queues AS q WHERE q.calendar_name = c.name);
