-- 004 (baseline): one-time-code sessions before Step 1, with the narrower status set.
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all
SET lock_timeout = '5s';
SET statement_timeout = '30s';

CREATE TABLE cc_auth_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_customer_id uuid REFERENCES cc_bank_customers (id),
    conversation_id uuid REFERENCES cc_conversations (id),
    status text NOT NULL DEFAULT 'pending'
        CONSTRAINT cc_auth_sessions_status_check
        CHECK (status IN ('pending', 'verified', 'failed', 'expired')),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
