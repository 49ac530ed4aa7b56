-- Undo 004: drops the auth sessions table and every row in it.
-- squawk-ignore-file ban-drop-table -- undoing a baseline migration drops what it made
SET lock_timeout = '5s';
SET statement_timeout = '30s';

DROP TABLE IF EXISTS cc_auth_sessions;
