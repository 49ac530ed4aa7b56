-- A pre-006 schema made by another tool: the audit log and the preferences keyed by
-- bigserial, varchar where 001-005 have text, a customers table of its own shape, and no
-- updated_at on the preferences.
CREATE TABLE cc_bank_customers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ref varchar(40) NOT NULL UNIQUE,
    display_name text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_conversations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_customer_id uuid REFERENCES cc_bank_customers (id),
    channel varchar(20) NOT NULL,
    status varchar(20) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid NOT NULL REFERENCES cc_conversations (id),
    direction varchar(10) NOT NULL,
    provider_msg_id varchar,
    text text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_cases (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_customer_id uuid REFERENCES cc_bank_customers (id),
    case_type varchar(32) NOT NULL,
    status varchar(32) NOT NULL DEFAULT 'open',
    priority varchar(16) NOT NULL DEFAULT 'normal',
    description text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_auth_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_customer_id uuid REFERENCES cc_bank_customers (id),
    conversation_id uuid REFERENCES cc_conversations (id),
    status varchar(20) NOT NULL DEFAULT 'pending',
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_audit_logs (
    id bigserial PRIMARY KEY,
    conversation_id uuid REFERENCES cc_conversations (id),
    actor varchar(64) NOT NULL,
    action varchar(64) NOT NULL,
    payload_redacted jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_preferences (
    id bigserial PRIMARY KEY,
    bank_customer_id uuid NOT NULL UNIQUE REFERENCES cc_bank_customers (id),
    do_not_contact boolean NOT NULL DEFAULT false
);

INSERT INTO cc_bank_customers (id, ref, display_name) VALUES
    ('00000000-0000-4000-8000-000000000001', 'B-1', 'Ada'),
    ('00000000-0000-4000-8000-000000000002', 'B-2', 'Grace');
INSERT INTO cc_conversations (id, bank_customer_id, channel, status) VALUES
    ('10000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000001', 'sms', 'closed'),
    ('10000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000002', 'email', 'active');
INSERT INTO cc_messages (conversation_id, direction, provider_msg_id, text) VALUES
    ('10000000-0000-4000-8000-000000000001', 'inbound', 'SMold1', 'hello'),
    ('10000000-0000-4000-8000-000000000002', 'outbound', NULL, 'statement ready');
INSERT INTO cc_cases (bank_customer_id, case_type, status, description) VALUES
    ('00000000-0000-4000-8000-000000000001', 'card', 'open', 'card stuck in ATM');
INSERT INTO cc_auth_sessions (bank_customer_id, status, expires_at) VALUES
    ('00000000-0000-4000-8000-000000000001', 'verified', now() - interval '1 day');
INSERT INTO cc_audit_logs (conversation_id, actor, action, payload_redacted) VALUES
    ('10000000-0000-4000-8000-000000000001', 'agent', 'conversation.viewed', '{"n": 1}');
INSERT INTO cc_preferences (bank_customer_id, do_not_contact) VALUES
    ('00000000-0000-4000-8000-000000000002', true);
