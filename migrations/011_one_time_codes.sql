-- 011: what one-time codes need on cc_auth_sessions: the code's HMAC (never the code), a
-- keyed hash of the full destination to count sends by (the stored one is masked), the checks
-- made, when the code was verified, and indexes for the send limit and a conversation's latest
-- session. 006's columns and constraints are left exactly as they are.
-- switchboard: no-transaction
-- squawk-ignore-file prefer-robust-stmts -- every statement is guarded or re-runnable as it
-- stands; squawk cannot see the guards inside the DO blocks.
SET lock_timeout = '500ms';
SET statement_timeout = 0;

-- Nullable columns without defaults and one constant default: catalog changes, no rewrite.
ALTER TABLE cc_auth_sessions ADD COLUMN IF NOT EXISTS code_hmac bytea;
ALTER TABLE cc_auth_sessions ADD COLUMN IF NOT EXISTS destination_hmac bytea;
-- squawk-ignore prefer-bigint-over-int -- it counts to five
ALTER TABLE cc_auth_sessions ADD COLUMN IF NOT EXISTS check_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE cc_auth_sessions ADD COLUMN IF NOT EXISTS verified_at timestamptz;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'cc_auth_sessions'::regclass
                   AND conname = 'cc_auth_sessions_check_attempts_check') THEN
        ALTER TABLE cc_auth_sessions ADD CONSTRAINT cc_auth_sessions_check_attempts_check
            CHECK (check_attempts >= 0) NOT VALID;
    END IF;
END
$$;

SET lock_timeout = 0;
ALTER TABLE cc_auth_sessions VALIDATE CONSTRAINT cc_auth_sessions_check_attempts_check;
SET lock_timeout = '500ms';

-- The send limit counts a destination's sessions of the last hour.
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_auth_sessions_destination_hmac_created_at_idx
    ON cc_auth_sessions (destination_hmac, created_at);
-- A check takes the conversation's latest session; assurance looks for a recent verification.
CREATE INDEX CONCURRENTLY IF NOT EXISTS cc_auth_sessions_conversation_id_created_at_idx
    ON cc_auth_sessions (conversation_id, created_at DESC);
