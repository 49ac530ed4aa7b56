-- Undo 023: agents' internal notes on conversations go (their audit records stay).
-- squawk-ignore-file ban-drop-table -- the rollback drops what 023 added
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DROP TABLE IF EXISTS cc_conversation_notes;
