-- 005 (baseline): the audit log and contact preferences with their legacy names
-- (cc_audit_logs.actor, .action, .payload_redacted; the cc_preferences table).
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all
SET lock_timeout = '5s';
SET statement_timeout = '30s';

CREATE TABLE cc_audit_logs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid REFERENCES cc_conversations (id),
    actor text NOT NULL,
    action text NOT NULL,
    payload_redacted jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cc_preferences (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_customer_id uuid NOT NULL UNIQUE REFERENCES cc_bank_customers (id),
    do_not_contact boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
