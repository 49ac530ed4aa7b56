-- Undo 002: drops conversations and messages and every row in them.
-- squawk-ignore-file ban-drop-table -- undoing a baseline migration drops what it made
SET lock_timeout = '5s';
SET statement_timeout = '30s';

DROP TABLE IF EXISTS cc_messages;
DROP TABLE IF EXISTS cc_conversations;
