-- A pre-006 schema that never had the optional columns: no updated_at (conversations,
-- cases, preferences), no customer on conversations or sessions, no expiry, no message text
-- or provider id, no audit payload, no description or resolved_at; ids made by the
-- application (no defaults), times without defaults.
CREATE TABLE cc_bank_customers (id uuid PRIMARY KEY, customer_ref text);
CREATE TABLE cc_conversations (
    id uuid PRIMARY KEY,
    channel text NOT NULL,
    status text NOT NULL
);
CREATE TABLE cc_messages (
    id uuid PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES cc_conversations (id),
    direction text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE cc_cases (
    id uuid PRIMARY KEY,
    bank_customer_id uuid REFERENCES cc_bank_customers (id),
    case_type text NOT NULL,
    status text NOT NULL,
    priority text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE cc_auth_sessions (
    id uuid PRIMARY KEY,
    conversation_id uuid REFERENCES cc_conversations (id),
    status text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE cc_audit_logs (
    id uuid PRIMARY KEY,
    conversation_id uuid,
    actor text NOT NULL,
    action text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE cc_preferences (
    id uuid PRIMARY KEY,
    bank_customer_id uuid NOT NULL UNIQUE REFERENCES cc_bank_customers (id),
    do_not_contact boolean NOT NULL
);

INSERT INTO cc_bank_customers VALUES
    ('00000000-0000-4000-8000-000000000001', 'C-1'), ('00000000-0000-4000-8000-000000000002', 'C-2');
INSERT INTO cc_conversations VALUES
    ('10000000-0000-4000-8000-000000000001', 'sms', 'closed'),
    ('10000000-0000-4000-8000-000000000002', 'voice', 'archived');
INSERT INTO cc_messages VALUES
    ('20000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', 'inbound', now());
INSERT INTO cc_cases VALUES
    ('30000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', 'general',
     'in_progress', 'high', now());
INSERT INTO cc_auth_sessions VALUES
    ('40000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', 'expired', now());
INSERT INTO cc_audit_logs VALUES
    ('50000000-0000-4000-8000-000000000001', NULL, 'system', 'imported', now());
INSERT INTO cc_preferences VALUES
    ('60000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', false);
