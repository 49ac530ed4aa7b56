-- 025: which agents may reveal a customer's contact details, per queue.
--
-- * cc_agent_queues.may_reveal: an agent may reveal the contact details of the customers of
--   this queue's conversations (for 5 minutes, with a stated reason, audited). Supervisors and
--   admins may always; nobody else unless given it here.
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE cc_agent_queues ADD COLUMN IF NOT EXISTS may_reveal boolean NOT NULL DEFAULT false;
-- The right is changed by an admin: the service updates it in place.
GRANT UPDATE ON cc_agent_queues TO service_role;
