-- 001 (baseline): the bank's customers as the contact center knew them before Step 1.
-- squawk-ignore-file prefer-robust-stmts -- runs in one transaction: a failure undoes it all
SET lock_timeout = '5s';
SET statement_timeout = '30s';

CREATE TABLE cc_bank_customers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_ref text NOT NULL UNIQUE,
    full_name text,
    email text,
    phone text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
