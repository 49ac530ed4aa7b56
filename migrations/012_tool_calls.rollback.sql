-- Undo 012: the record of answered tool calls goes (a replayed tool call would then run
-- again), and so does the reason column of the assignments.
-- squawk-ignore-file ban-drop-table, ban-drop-column -- the rollback drops what 012 added
-- (the handover reasons go with their column)
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DROP TABLE IF EXISTS cc_tool_calls;
ALTER TABLE cc_assignments DROP COLUMN IF EXISTS reason;
