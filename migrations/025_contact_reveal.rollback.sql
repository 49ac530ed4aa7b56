-- Undo 025: the per-queue right to reveal goes; supervisors and admins keep theirs.
-- squawk-ignore-file ban-drop-column -- the rollback drops the column 025 added
SET lock_timeout = '5s';
SET statement_timeout = '5min';

REVOKE UPDATE ON cc_agent_queues FROM service_role;
ALTER TABLE cc_agent_queues DROP COLUMN IF EXISTS may_reveal;
