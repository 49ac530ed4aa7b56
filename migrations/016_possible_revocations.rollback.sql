-- Undo 016: the flags of possible revocations go; the messages that raised them and their
-- audit records stay.
-- squawk-ignore-file ban-drop-table -- the rollback drops the table 016 added
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DROP TABLE IF EXISTS cc_possible_revocations;
