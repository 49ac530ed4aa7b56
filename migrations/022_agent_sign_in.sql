-- 022: sign-in attempts refused during a back-off are counted, not audited one by one.
--
-- By hand:  psql -1 -v ON_ERROR_STOP=1 -f migrations/022_agent_sign_in.sql
--
-- * cc_sign_in_failures.refused_while_blocked: attempts answered 429 while the subject was
--   blocked, without their password being checked. A flood of them writes one audit record when
--   its block starts (with the count so far), not one per attempt.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- A constant default: PostgreSQL adds the column without rewriting the table.
ALTER TABLE cc_sign_in_failures
    ADD COLUMN IF NOT EXISTS refused_while_blocked bigint NOT NULL DEFAULT 0;
