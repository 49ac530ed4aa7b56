-- A pre-006 schema caught half-way through someone's own renames: both provider_msg_id and
-- provider_message_id, both text and body_text, both actor and actor_type, and both
-- cc_preferences and cc_comm_preferences, each holding some of the rows.
CREATE TABLE cc_bank_customers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_ref text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_conversations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_customer_id uuid REFERENCES cc_bank_customers (id),
    channel text NOT NULL,
    status text NOT NULL DEFAULT 'active',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid NOT NULL REFERENCES cc_conversations (id),
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    provider_msg_id text,
    provider_message_id text,
    text text,
    body_text text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_cases (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_customer_id uuid REFERENCES cc_bank_customers (id),
    case_type text NOT NULL CHECK (case_type IN ('fraud', 'card', 'general')),
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    priority text NOT NULL DEFAULT 'normal',
    description text,
    resolved_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_auth_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bank_customer_id uuid REFERENCES cc_bank_customers (id),
    conversation_id uuid REFERENCES cc_conversations (id),
    status text NOT NULL DEFAULT 'pending',
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cc_audit_logs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid REFERENCES cc_conversations (id),
    actor text,
    actor_type text,
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
CREATE TABLE cc_comm_preferences (LIKE cc_preferences INCLUDING ALL);

INSERT INTO cc_bank_customers (id, customer_ref) VALUES
    ('00000000-0000-4000-8000-000000000001', 'C-1'), ('00000000-0000-4000-8000-000000000002', 'C-2');
INSERT INTO cc_conversations (id, bank_customer_id, channel, status) VALUES
    ('10000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000001', 'sms', 'closed');
-- Old rows under the old names, newer ones under the new names, some under both.
INSERT INTO cc_messages (conversation_id, direction, provider_msg_id, text) VALUES
    ('10000000-0000-4000-8000-000000000001', 'inbound', 'SMold', 'old row');
INSERT INTO cc_messages (conversation_id, direction, provider_message_id, body_text) VALUES
    ('10000000-0000-4000-8000-000000000001', 'outbound', 'SMnew', 'new row');
INSERT INTO cc_messages (conversation_id, direction, provider_msg_id, provider_message_id, text,
                         body_text) VALUES
    ('10000000-0000-4000-8000-000000000001', 'inbound', 'SMboth', 'SMboth', 'both', 'both');
INSERT INTO cc_cases (bank_customer_id, case_type, status) VALUES
    ('00000000-0000-4000-8000-000000000001', 'card', 'resolved');
INSERT INTO cc_auth_sessions (bank_customer_id, status, expires_at) VALUES
    ('00000000-0000-4000-8000-000000000001', 'failed', now());
INSERT INTO cc_audit_logs (actor, action) VALUES ('agent', 'old.event');
INSERT INTO cc_audit_logs (actor_type, action, payload_redacted) VALUES ('system', 'new.event', '{}');
INSERT INTO cc_preferences (bank_customer_id, do_not_contact) VALUES
    ('00000000-0000-4000-8000-000000000002', true);
INSERT INTO cc_comm_preferences SELECT * FROM cc_preferences;
