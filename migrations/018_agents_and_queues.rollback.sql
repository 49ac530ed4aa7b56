-- Undo 018: agents, their sessions and sign-in failures, queues, SLA policies and calendars go.
-- Every agent's account and session is lost with them; the audit rows that name an agent stay.
-- squawk-ignore-file ban-drop-table -- the rollback drops what 018 added
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DROP TABLE IF EXISTS cc_sign_in_failures;
DROP TABLE IF EXISTS cc_agent_sessions;
DROP TABLE IF EXISTS cc_agent_queues;
DROP TABLE IF EXISTS cc_agents;
DROP TABLE IF EXISTS cc_queues;
DROP TABLE IF EXISTS cc_sla_targets;
DROP TABLE IF EXISTS cc_sla_policies;
DROP TABLE IF EXISTS cc_calendar_exceptions;
DROP TABLE IF EXISTS cc_calendar_hours;
DROP TABLE IF EXISTS cc_calendars;
