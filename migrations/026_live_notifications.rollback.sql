-- Undo 026: no more live notifications; the event streams then only beat and check sessions.
-- squawk-ignore-file ban-drop-function -- the rollback drops the functions 026 added
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TRIGGER IF EXISTS cc_assignments_live_insert ON cc_assignments;
DROP TRIGGER IF EXISTS cc_assignments_live_update ON cc_assignments;
DROP TRIGGER IF EXISTS cc_messages_live_insert ON cc_messages;
DROP TRIGGER IF EXISTS cc_messages_live_update ON cc_messages;
DROP TRIGGER IF EXISTS cc_sla_clock_events_live_insert ON cc_sla_clock_events;
DROP TRIGGER IF EXISTS cc_cases_live_insert ON cc_cases;
DROP TRIGGER IF EXISTS cc_cases_live_update ON cc_cases;
DROP TRIGGER IF EXISTS cc_conversation_notes_live_insert ON cc_conversation_notes;
DROP TRIGGER IF EXISTS cc_agents_live_update ON cc_agents;
DROP TRIGGER IF EXISTS cc_agent_sessions_live_update ON cc_agent_sessions;

DROP FUNCTION IF EXISTS cc_private.live_assignments();
DROP FUNCTION IF EXISTS cc_private.live_messages();
DROP FUNCTION IF EXISTS cc_private.live_message_statuses();
DROP FUNCTION IF EXISTS cc_private.live_sla_events();
DROP FUNCTION IF EXISTS cc_private.live_cases();
DROP FUNCTION IF EXISTS cc_private.live_notes();
DROP FUNCTION IF EXISTS cc_private.live_presence();
DROP FUNCTION IF EXISTS cc_private.live_sessions();
DROP FUNCTION IF EXISTS cc_private.may_see_agent(uuid);
