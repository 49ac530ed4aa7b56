-- 003 (baseline): cases, with the legacy description/resolved_at columns and the narrower
-- type and status sets that 006 widens.
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all
SET lock_timeout = '5s';
SET statement_timeout = '30s';

CREATE TABLE cc_cases (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_customer_id uuid REFERENCES cc_bank_customers (id),
    case_type text NOT NULL
        CONSTRAINT cc_cases_case_type_check
        CHECK (case_type IN ('fraud', 'card', 'payment', 'account', 'general')),
    status text NOT NULL DEFAULT 'open'
        CONSTRAINT cc_cases_status_check
        CHECK (status IN ('open', 'in_progress', 'resolved')),
    priority text NOT NULL DEFAULT 'normal'
        CONSTRAINT cc_cases_priority_check
        CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    description text,
    resolved_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
