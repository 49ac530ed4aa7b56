-- Undo 029: verification changes are no longer announced live.
-- squawk-ignore-file ban-drop-function -- the rollback drops the function 029 added
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TRIGGER IF EXISTS cc_auth_sessions_live_insert ON cc_auth_sessions;
DROP TRIGGER IF EXISTS cc_auth_sessions_live_update ON cc_auth_sessions;
DROP TRIGGER IF EXISTS cc_tool_calls_live_insert ON cc_tool_calls;
DROP FUNCTION IF EXISTS cc_private.live_verification();
