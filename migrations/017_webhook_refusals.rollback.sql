-- Undo 017: the refusal counters go; refusals still counted there and not yet summarised in
-- the audit log are lost with them (their first few of each minute are audited already).
-- squawk-ignore-file ban-drop-table -- the rollback drops what 017 added
SET lock_timeout = '5s';
SET statement_timeout = '5min';

DROP TABLE IF EXISTS cc_webhook_refusals;
